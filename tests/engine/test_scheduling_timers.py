"""The timer job: due BPMN timers fire once per due time, per case transaction; failures back off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select, text

from engine.models import AuditEvent, Case, HumanTask, SchedulerIncident
from engine.scheduling import timers
from tests.support import factories
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.referral10 import ROLES

START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


def timer_files(duration: str = "PT1H") -> dict[str, bytes]:
    b = ProcessBuilder("timer_test", "期限タイマーのテスト")
    b.start("start", "相談受付", form="intake")
    b.user("window_response", "窓口での対応", form="window_response", assignee="starter")
    b.timer_boundary("deadline", "window_response", duration, interrupting=False, name="対応期限")
    b.user("follow_up", "期限超過の確認", form="note")
    b.end("end", "終了")
    b.end("end_alert", "確認済み")
    b.lane("窓口", "start", "window_response", "deadline", "follow_up", "end", "end_alert")
    b.flow("start", "window_response")
    b.flow("window_response", "end")
    b.flow("deadline", "follow_up")
    b.flow("follow_up", "end_alert")
    return {"timer_test.bpmn": b.xml().encode("utf-8"), "roles.yaml": ROLES.encode("utf-8")}


@pytest.fixture
def started(engine, write, frozen_clock):
    frozen_clock.set(START)
    with write() as s:
        who = factories.actor(s, "window", "AG-WIN", "win")
        factories.deploy(engine, s, timer_files())
    with write() as s:
        result = factories.start(engine, s, who)
    return result.case_id


def follow_ups(read, case_id: int) -> int:
    with read() as s:
        return (
            s.scalar(
                select(func.count())
                .select_from(HumanTask)
                .where(HumanTask.case_id == case_id, HumanTask.element_id == "follow_up")
            )
            or 0
        )


def timer_events(read, case_id: int) -> list[dict]:
    with read() as s:
        return list(
            s.scalars(
                select(AuditEvent.detail).where(
                    AuditEvent.case_id == case_id, AuditEvent.action == "case.timer"
                )
            )
        )


def test_next_timer_is_projected_when_the_case_starts(started, read):
    with read() as s:
        assert s.get(Case, started).next_timer_at == START + timedelta(hours=1)


def test_timer_not_due_does_nothing(started, engine, session_factory, read, frozen_clock):
    frozen_clock.advance(minutes=59)
    assert timers.sweep(engine, session_factory) == 0
    assert follow_ups(read, started) == 0


def test_due_timer_fires_once_and_records_due_and_fired_times(
    started, engine, session_factory, read, frozen_clock
):
    frozen_clock.advance(hours=3)  # the timer came due while nothing was running
    assert timers.sweep(engine, session_factory) == 1
    assert timers.sweep(engine, session_factory) == 0
    frozen_clock.advance(hours=1)
    assert timers.sweep(engine, session_factory) == 0
    assert follow_ups(read, started) == 1
    events = timer_events(read, started)
    assert len(events) == 1
    assert events[0]["due_at"] == (START + timedelta(hours=1)).isoformat()
    assert events[0]["fired_at"] == (START + timedelta(hours=3)).isoformat()
    with read() as s:
        case = s.get(Case, started)
        assert case.next_timer_at is None
        assert (
            s.scalar(
                select(HumanTask.status).where(
                    HumanTask.case_id == started, HumanTask.element_id == "window_response"
                )
            )
            == "open"
        )


def test_failing_case_backs_off_and_does_not_block_others(
    started, engine, session_factory, write, read, frozen_clock
):
    with write() as s:
        who = factories.actor(s, "window", "AG-WIN", "win2")
    with write() as s:
        healthy = factories.start(engine, s, who).case_id
    with write() as s:
        s.execute(
            text("UPDATE cases SET state = 'not json', version = version + 1 WHERE id = :id"), {"id": started}
        )
    frozen_clock.advance(hours=2)
    assert timers.sweep(engine, session_factory) == 1
    assert follow_ups(read, healthy) == 1
    with read() as s:
        incident = s.scalar(select(SchedulerIncident).where(SchedulerIncident.object_id == started))
        assert (incident.kind, incident.attempts, incident.resolved_at) == ("timer", 1, None)
        assert incident.retry_at == frozen_clock.now() + timedelta(minutes=1)
    assert timers.sweep(engine, session_factory) == 0  # backing off: not even tried
    with read() as s:
        assert s.scalar(select(SchedulerIncident.attempts)) == 1
    frozen_clock.advance(minutes=2)
    timers.sweep(engine, session_factory)
    with read() as s:
        assert s.scalar(select(SchedulerIncident.attempts)) == 2


def test_due_case_ids_skip_finished_cases(started, engine, session_factory, write, read, frozen_clock):
    with write() as s:
        s.execute(text("UPDATE cases SET status = 'completed' WHERE id = :id"), {"id": started})
    frozen_clock.advance(hours=2)
    with read() as s:
        assert timers.due_case_ids(s, frozen_clock.now(), 10) == []
