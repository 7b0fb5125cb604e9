"""engine.events: delivering BPMN messages to a case, and firing its due timers, on the real processes."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import consent, events
from engine.errors import Conflict, Invalid, NotAllowed, NotFound
from engine.models import AuditEvent, Case
from tests.processes.conftest import frozen_clock, make_driver, people, proc_engine, proc_settings  # noqa: F401
from tests.processes.paths import to_plan, to_support
from tests.support import factories


def _events(read, action):
    with read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_message_interrupts_the_consent_based_support_and_records_one_audit_event(make_driver, write, read):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    to_plan(d)
    with read() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    with write() as s:
        opened = events.send_message(
            d.engine, s, d.people["csw"], d.case_id, "consent_withdrawn", {"reason": "本人の申出"}
        )
    assert [t.element_id for t in opened] == ["withdrawal"]
    assert d.open() == ["withdrawal"]
    with read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
    event = _events(read, "case.message")[-1]
    assert event.case_id == d.case_id and event.detail == {
        "message": "consent_withdrawn",
        "fields": ["reason"],
    }
    caught = next(t for t in d.workflow().get_tasks() if t.task_spec.bpmn_id == "ev_withdraw")
    assert caught.internal_data["consent_withdrawn"] == {
        "message": {"name": "consent_withdrawn", "reason": "本人の申出"}
    }
    assert "message" not in caught.data


def test_message_the_case_is_not_waiting_for_is_a_conflict_and_changes_nothing(make_driver, write):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    d.start()
    version = d.case().version
    with pytest.raises(Conflict) as info, write() as s:
        events.send_message(d.engine, s, d.people["coordinator"], d.case_id, "consent_withdrawn")
    assert info.value.reason == "not_waiting"
    with pytest.raises(Conflict), write() as s:
        events.send_message(d.engine, s, d.people["coordinator"], d.case_id, "no_such_message")
    assert d.case().version == version and d.open() == ["window_response"]


def test_case_exit_is_accepted_at_any_step_and_a_finished_case_takes_no_message(make_driver, write):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    d.start()
    d.send("case_exit")
    d.complete("exit_record", reason="lost_contact")
    assert d.case().outcome == "中断（連絡途絶）"
    with pytest.raises(Conflict) as info, write() as s:
        events.send_message(d.engine, s, d.people["coordinator"], d.case_id, "case_exit")
    assert info.value.reason == "finished"


def test_who_may_send(make_driver, write, read):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    d.start()
    with pytest.raises(NotAllowed), write() as s:
        events.send_message(d.engine, s, d.people["agency_staff"], d.case_id, "case_exit")
    with write() as s:
        stranger = factories.actor(s, "window", "AG-ELSEWHERE", "stranger")
    with pytest.raises(NotFound), write() as s:
        events.send_message(d.engine, s, stranger, d.case_id, "case_exit")
    with pytest.raises(NotFound), write() as s:
        events.send_message(d.engine, s, d.people["coordinator"], 999_999, "case_exit")
    denied = [e.detail.get("reason") for e in _events(read, "case.message") if not e.allowed]
    assert denied == ["not_allowed", "not_found", "not_found"]


def test_payload_must_be_small_and_flat(make_driver, write):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    to_plan(d)
    # … and storable: no lone surrogate (a JSON body can carry "\ud800"), no NaN or infinity, which the
    # case state could not be written or read back with
    for bad in ({"nested": {"a": 1}}, {"_private": 1}, {"x": "長" * 501}, ["not", "a", "mapping"],
                {"x": "a\ud800"}, {"x": "\x00"}, {"x": float("nan")}, {"x": float("inf")}, {"x": 10**30}):
        with pytest.raises(Invalid), write() as s:
            events.send_message(d.engine, s, d.people["csw"], d.case_id, "consent_withdrawn", bad)
    assert d.open() == ["plan"]


def test_waiting_messages_and_listens_for(make_driver, read, write):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    d.start()
    with read() as s:
        assert events.waiting_messages(d.engine, s, d.people["coordinator"], d.case_id) == ["case_exit"]
    d.complete("window_response")
    d.complete("consent_check")
    d.complete("referral")
    d.complete("acceptance")
    d.complete("first_contact")
    with read() as s:
        assert events.waiting_messages(d.engine, s, d.people["csw"], d.case_id) == [
            "case_exit",
            "consent_withdrawn",
        ]
        case = s.get(Case, d.case_id)
        assert events.listens_for(d.engine, s, case, "consent_withdrawn")
        assert not events.listens_for(d.engine, s, case, "同意撤回")


def test_withdrawal_recorded_outside_the_process_interrupts_it(make_driver, write):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    """consent.withdraw (the 同意撤回 button) tells the process through events.send_message."""
    d = make_driver(False)
    to_plan(d)
    with write() as s:
        result = consent.withdraw(d.engine, s, d.people["coordinator"], d.case_id)
    assert result.message_sent
    assert d.open() == ["withdrawal"]
    assert d.case().consent_status == "written"  # the column follows when the withdrawal step is recorded
    d.complete("withdrawal", risk_remains=False)
    assert (d.case().status, d.case().consent_status) == ("completed", "withdrawn")


def test_fire_due_timers_fires_only_what_is_due_and_audits_as_the_system(make_driver, write, read):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    to_support(d)
    due = d.case().next_timer_at
    d.fire(days=29)
    assert d.open() == []
    d.fire(days=2)
    assert d.open() == ["monitoring"]
    timers = _events(read, "case.timer")
    assert [e.username for e in timers] == ["system", "system"]
    assert timers[-1].detail["due_at"] == due.isoformat()
    with write() as s:
        assert [t.element_id for t in events.fire_due_timers(d.engine, s, d.case_id)] == ["monitoring"]
