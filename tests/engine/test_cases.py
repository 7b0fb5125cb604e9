"""engine.cases: starting a case from its intake form (validated, numbered per fiscal year, run to its
first human step in the caller's transaction), reading a case with its history (NotFound for whoever may
not see it, one audit event), the form records and what goes into task data."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, text

from engine import cases, tasks
from engine.bpmn.serializer import state_text
from engine.db import begin_write, transaction
from engine.errors import Invalid, NotAllowed, NotFound
from engine.models import AuditEvent, Case, CaseCounter, FormRecord, HumanTask
from tests.support import factories
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.referral10 import ROLES, referral_files

INTAKE = {"subject_name": "試験 太郎", "subject_kana": "しけん たろう", "urgency": "high",
          "narrative": "テストの相談内容"}


@pytest.fixture
def people(engine, write, frozen_clock):
    with write() as s:
        p = {"win": factories.actor(s, "window", "AG-WIN", "win"),
             "win2": factories.actor(s, "window", "AG-WIN", "win2"),
             "other": factories.actor(s, "window", "AG-OTHER", "other"),
             "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord", kind="coordinating_office"),
             "csw": factories.actor(s, "csw", "AG-CSW", "csw"),
             "staff": factories.actor(s, "agency_staff", "AG-P1", "staff", kind="partner"),
             "designer": factories.actor(s, "designer", "AG-JUSO", "designer")}
        factories.deploy(engine, s, referral_files())
    return p


def rows(read, model) -> int:
    with read() as s:
        return s.scalar(select(func.count()).select_from(model))


def last_event(read) -> AuditEvent:
    with read() as s:
        return s.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))


def test_start_creates_the_case_and_its_first_step(people, engine, write, read, frozen_clock):
    with write() as s:
        started = cases.start_case(engine, s, people["win"], dict(INTAKE))
    assert started.case_number == "2026-00001"
    [task] = started.open_tasks
    assert (task.element_id, task.assignee_id, task.case_number) == ("window_response",
                                                                     people["win"].user_id, "2026-00001")
    with read() as s:
        case = s.get(Case, started.case_id)
        assert (case.status, case.stage, case.current_step) == ("active", "intake", "窓口での対応")
        assert (case.subject_name, case.subject_kana) == ("試験 太郎", "しけん たろう")
        assert case.intake_agency_id == people["win"].agency_id
        assert case.started_by_id == people["win"].user_id
        assert case.created_at == frozen_clock.now() and case.finished_at is None
        assert case.definition.process_id == "referral_test" and case.serializer_version
    event = last_event(read)
    assert (event.action, event.case_id, event.allowed) == ("case.start", started.case_id, True)
    assert event.detail == {"process": "referral_test", "version": 1, "form": "intake"}


def test_the_intake_form_is_a_record_and_stays_out_of_the_workflow_state(people, engine, write, read):
    with write() as s:
        started = cases.start_case(engine, s, people["win"], dict(INTAKE))
    with read() as s:
        [record] = s.scalars(select(FormRecord))
        state = state_text(s.get(Case, started.case_id).state)
    assert (record.form_key, record.element_id, record.title) == ("intake", "start", "相談受付票（テスト）")
    assert record.human_task_id is None and record.submitted_by_id == people["win"].user_id
    assert record.data == INTAKE
    assert "テストの相談内容" not in state and "試験 太郎" not in state  # nothing the diagram reads


@pytest.mark.parametrize(("data", "fields"), [
    ({}, {"subject_name", "urgency", "narrative"}),
    ({"subject_name": "試験 太郎", "urgency": "soon", "narrative": "相談"}, {"urgency"}),
    (dict(INTAKE, surprise="x"), {"surprise"}),
    (dict(INTAKE, household=[{"relation": "母"}]), {"household.0.name"}),
])
def test_an_invalid_intake_names_the_fields_and_starts_nothing(data, fields, people, engine, write, read):
    with pytest.raises(Invalid) as info, write() as s:
        cases.start_case(engine, s, people["win"], data)
    assert set(info.value.errors) == fields
    assert all(isinstance(m, str) and m for msgs in info.value.errors.values() for m in msgs)
    assert rows(read, Case) == rows(read, HumanTask) == rows(read, FormRecord) == rows(read, CaseCounter) == 0


@pytest.mark.parametrize("who", ["staff", "designer"])
def test_only_window_coordinator_and_csw_staff_take_consultations_in(who, people, engine, write, read):
    with pytest.raises(NotAllowed), write() as s:
        factories.start(engine, s, people[who])
    assert rows(read, Case) == 0
    event = last_event(read)
    assert (event.action, event.allowed, event.username) == ("case.start", False, people[who].username)
    for role in ("coord", "csw"):
        with write() as s:
            assert factories.start(engine, s, people[role]).open_tasks


def test_case_numbers_are_sequential_and_unique(people, engine, write, read):
    numbers = []
    for who in ("win", "coord", "csw", "win2"):
        with write() as s:
            numbers.append(factories.start(engine, s, people[who]).case_number)
    assert numbers == ["2026-00001", "2026-00002", "2026-00003", "2026-00004"]
    with read() as s:
        assert sorted(s.scalars(select(Case.case_number))) == numbers
        assert s.get(CaseCounter, 2026).last == 4


def test_a_start_that_rolls_back_does_not_use_up_a_number(people, engine, write):
    with pytest.raises(RuntimeError), write() as s:
        factories.start(engine, s, people["win"])
        raise RuntimeError("the request failed after the start")
    with write() as s:
        assert factories.start(engine, s, people["win"]).case_number == "2026-00001"


def test_numbers_start_again_in_each_fiscal_year(people, engine, write, frozen_clock):
    frozen_clock.set(datetime(2027, 3, 31, 14, 59, tzinfo=UTC))  # 3月31日 23:59 JST: still 2026年度
    with write() as s:
        assert factories.start(engine, s, people["win"]).case_number == "2026-00001"
    frozen_clock.set(datetime(2027, 3, 31, 15, 0, tzinfo=UTC))  # 4月1日 0:00 JST
    with write() as s:
        assert factories.start(engine, s, people["win"]).case_number == "2027-00001"
    with write() as s:
        assert factories.start(engine, s, people["win"]).case_number == "2027-00002"


@pytest.mark.parametrize(("when", "year"), [
    (datetime(2026, 4, 1, 0, 0, tzinfo=UTC), 2026),
    (datetime(2026, 3, 31, 14, 59, tzinfo=UTC), 2025),
    (datetime(2026, 3, 31, 15, 0, tzinfo=UTC), 2026),
    (datetime(2027, 1, 5, 0, 0, tzinfo=UTC), 2026),
    (datetime(2026, 12, 31, 15, 0, tzinfo=UTC), 2026),
])
def test_fiscal_year_starts_on_the_first_of_april_in_tokyo(when, year):
    assert cases.fiscal_year(when) == year


def test_starting_needs_a_deployed_startable_process(engine, write, people):
    with pytest.raises(NotFound), write() as s:
        factories.start(engine, s, people["win"], process_id="no_such_process")


def test_without_a_process_there_is_nothing_to_start(engine, write, read, frozen_clock):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
    with pytest.raises(NotFound), write() as s:
        factories.start(engine, s, win)
    assert rows(read, Case) == 0


def test_a_called_process_cannot_be_started_directly(people, engine, write):
    main = ProcessBuilder("main", "呼出元")
    main.start("start", form="intake")
    main.call("c", "sub")
    main.end("end")
    main.lane("窓口", "start", "c", "end")
    main.flow("start", "c")
    main.flow("c", "end")
    sub = ProcessBuilder("sub", "呼出先")
    sub.start("s2")
    sub.user("w", "作業", form="note")
    sub.end("e2")
    sub.lane("窓口", "s2", "w", "e2")
    sub.flow("s2", "w", flow_id="sub_1")
    sub.flow("w", "e2", flow_id="sub_2")
    with write() as s:
        factories.deploy(engine, s, {"main.bpmn": main.xml(sub).encode(), "roles.yaml": ROLES.encode()})
    with pytest.raises(NotFound, match="cannot be started directly"), write() as s:
        factories.start(engine, s, people["win"], process_id="sub")
    with write() as s:
        started = factories.start(engine, s, people["win"], process_id="main")
    assert [(t.element_id, t.process_id) for t in started.open_tasks] == [("w", "sub")]


def test_a_process_without_a_start_form_takes_no_input(people, engine, write, read):
    b = ProcessBuilder("bare", "入力なし")
    b.start("start")
    b.user("a", "受付", form="note")
    b.end("end")
    b.lane("窓口", "start", "a", "end")
    b.flow("start", "a")
    b.flow("a", "end")
    with write() as s:
        factories.deploy(engine, s, {"bare.bpmn": b.xml().encode(), "roles.yaml": ROLES.encode()})
    with pytest.raises(Invalid) as info, write() as s:
        cases.start_case(engine, s, people["win"], {"subject_name": "x"}, "bare")
    assert list(info.value.errors) == ["_form"]
    with write() as s:
        started = cases.start_case(engine, s, people["win"], {}, "bare")
    with read() as s:
        case = s.get(Case, started.case_id)
        assert case.subject_name == "" and s.scalar(select(func.count()).select_from(FormRecord)) == 0


def test_default_process_is_the_first_startable_one(people, engine, write):
    b = ProcessBuilder("aaa_first", "先頭")
    b.start("start", form="intake")
    b.user("a", "先頭の受付", form="note")
    b.end("end")
    b.lane("窓口", "start", "a", "end")
    b.flow("start", "a")
    b.flow("a", "end")
    with write() as s:
        factories.deploy(engine, s, {"aaa_first.bpmn": b.xml().encode(), "roles.yaml": ROLES.encode()})
    with write() as s:
        assert cases.default_process_id(s) == "aaa_first"
        assert [t.title for t in factories.start(engine, s, people["win"]).open_tasks] == ["先頭の受付"]


def test_case_detail_shows_tasks_history_and_records_with_one_audit_event(people, engine, write, read):
    with write() as s:
        started = factories.start(engine, s, people["win"])
    with write() as s:
        tasks.complete(engine, s, people["win"], started.open_tasks[0].id, {"action": "refer", "note": "済"})
    before = rows(read, AuditEvent)
    with read() as s:
        detail = cases.case_detail(s, people["win2"], started.case_id)
    assert detail.case.id == started.case_id
    assert (detail.process_name, detail.process_version) == ("つなぎテスト", 1)
    assert [t.element_id for t in detail.open_tasks] == ["consent_check"]
    assert [(t.element_id, t.status, t.completed_by_name) for t in detail.history] == [
        ("window_response", "completed", "テスト win")]
    assert [(r.form_key, r.element_id, r.submitted_by) for r in detail.records] == [
        ("intake", "start", "テスト win"), ("window_response", "window_response", "テスト win")]
    assert detail.records[1].data == {"action": "refer", "note": "済"}
    assert rows(read, AuditEvent) == before + 1
    event = last_event(read)
    assert (event.action, event.case_id, event.username, event.allowed) == (
        "case.read", started.case_id, "win2", True)


@pytest.mark.parametrize("who", ["other", "staff", "designer"])
def test_case_detail_is_not_found_for_whoever_may_not_see_the_case(who, people, engine, write, read):
    with write() as s:
        started = factories.start(engine, s, people["win"])
    with pytest.raises(NotFound), read() as s:
        cases.case_detail(s, people[who], started.case_id)
    event = last_event(read)
    assert (event.action, event.allowed, event.case_id, event.detail) == (
        "case.read", False, started.case_id, {"reason": "not_found"})
    with pytest.raises(NotFound), read() as s:
        cases.get_case(s, people[who], started.case_id)


def test_case_detail_of_a_missing_case_looks_the_same_as_a_hidden_one(people, read):
    with pytest.raises(NotFound) as missing, read() as s:
        cases.case_detail(s, people["coord"], 999_999)
    assert missing.value.code == "not_found"
    event = last_event(read)
    assert (event.action, event.allowed, event.object_id) == ("case.read", False, "999999")


def test_the_coordinating_office_sees_every_case(people, engine, write, read):
    with write() as s:
        started = factories.start(engine, s, people["other"])
    with read() as s:
        assert cases.get_case(s, people["coord"], started.case_id).case_number == started.case_number


def test_store_form_record_keeps_the_whole_submission(people, engine, write, read, frozen_clock):
    with write() as s:
        started = factories.start(engine, s, people["win"])
    data = {"note": "記録の本文", "done_on": "2026-11-24", "nested": {"rows": [1, 2]}}
    with write() as s:
        record_id = cases.store_form_record(s, started.case_id, started.open_tasks[0].id, "note", "memo",
                                            "記録", data, people["win"].user_id, frozen_clock.now())
    with read() as s:
        record = s.get(FormRecord, record_id)
    assert (record.case_id, record.human_task_id, record.form_key, record.element_id, record.title) == (
        started.case_id, started.open_tasks[0].id, "note", "memo", "記録")
    assert record.data == data and record.submitted_at == frozen_clock.now()
    assert record.submitted_by_id == people["win"].user_id and record.compartment is False


def test_routed_keeps_only_what_the_diagram_reads():
    cleaned = {"action": "refer", "note": "長い相談内容"}
    reads = {"window_response": ["action"], "decision": None, "empty": []}
    assert cases.routed("window_response", cleaned, reads) == {"action": "refer"}
    assert cases.routed("decision", cleaned, reads) == cleaned  # an expression reads the whole record
    assert cases.routed("note", cleaned, reads) is None  # never read: nothing goes into task data
    assert cases.routed("empty", cleaned, reads) == {}
    assert cases.routed("window_response", {}, reads) == {"action": None}


def test_only_the_fields_read_reach_the_task_data(people, engine, write, read):
    with write() as s:
        started = factories.start(engine, s, people["win"])
    with write() as s:
        tasks.complete(engine, s, people["win"], started.open_tasks[0].id,
                       {"action": "refer", "note": "窓口での詳しい記録"})
    with read() as s:
        state = state_text(s.get(Case, started.case_id).state)
    assert '"action": "refer"' in state or '"action":"refer"' in state
    assert "窓口での詳しい記録" not in state


def _wait_for_lock_wait(session_factory) -> None:
    """Until another PostgreSQL backend of this database waits for a lock (state, polled; no timing)."""
    with session_factory() as s:
        for _ in range(2000):
            waiting = s.scalar(text("select count(*) from pg_stat_activity "
                                    "where datname = current_database() and wait_event_type = 'Lock'"))
            s.rollback()
            if waiting:
                return
            threading.Event().wait(0.01)
    raise AssertionError("the second transaction never waited for the first")


def test_two_first_starts_of_a_year_at_once_get_consecutive_numbers(db, session_factory, frozen_clock):
    outcome: dict[str, object] = {}
    first = session_factory()
    begin_write(first)
    try:
        assert cases.next_case_number(first) == "2026-00001"

        def second() -> None:
            try:
                with transaction(session_factory, write=True) as s:
                    outcome["number"] = cases.next_case_number(s)
            except Exception as exc:  # noqa: BLE001 - reported below
                outcome["error"] = exc

        worker = threading.Thread(target=second)
        worker.start()
        if db.backend == "postgresql":
            _wait_for_lock_wait(session_factory)  # the second start is past its SELECT … FOR UPDATE
        first.commit()
    finally:
        first.close()
    worker.join(timeout=120)
    assert outcome == {"number": "2026-00002"}
