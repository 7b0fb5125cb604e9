"""engine.case_updates: ``case.<column>`` properties on a step (or the start event) set case columns from
the submission in the same transaction; only the listed columns, bad expressions are a ProcessError."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import case_updates, tasks
from engine.errors import DefinitionError, ProcessError
from engine.models import Case, HumanTask
from tests.support import factories
from tests.support.bpmn_builder import ProcessBuilder, props
from tests.support.referral10 import ROLES, referral_files

BUDGET = 1.0


@pytest.fixture
def people(engine, write, frozen_clock):
    with write() as s:
        p = {"win": factories.actor(s, "window", "AG-WIN", "win"),
             "csw": factories.actor(s, "csw", "AG-CSW", "csw1"),
             "lead": factories.actor(s, "agency_staff", "AG-LEAD", "staff", kind="partner")}
        factories.deploy(engine, s, referral_files())
    return p


@pytest.fixture
def case_id(people, engine, write):
    with write() as s:
        return factories.start(engine, s, people["win"]).case_id


def apply(write, case_id: int, updates: dict[str, str], data: dict) -> Case:
    with write() as s:
        case = s.get(Case, case_id)
        case_updates.apply(s, case, {"element_id": "step", "case_updates": updates}, data, BUDGET)
        s.flush()
    return case


def fresh(read, case_id: int) -> Case:
    with read() as s:
        return s.get(Case, case_id)


def test_csw_and_lead_agency_are_looked_up_by_username_and_agency_code(people, case_id, write, read):
    apply(write, case_id, {"csw": "acceptance.csw", "lead_agency": "plan.lead"},
          {"acceptance": {"csw": "csw1"}, "plan": {"lead": "AG-LEAD"}})
    case = fresh(read, case_id)
    assert case.csw_user_id == people["csw"].user_id and case.lead_agency_id == people["lead"].agency_id
    apply(write, case_id, {"csw": "acceptance.csw", "lead_agency": "plan.lead"},
          {"acceptance": {"csw": "nobody"}, "plan": {"lead": None}})
    case = fresh(read, case_id)
    assert case.csw_user_id is None and case.lead_agency_id is None  # unknown or empty clears the column


def test_confidential_is_a_flag(case_id, write, read):
    apply(write, case_id, {"confidential": "decision.result == 'support_meeting'"},
          {"decision": {"result": "support_meeting"}})
    assert fresh(read, case_id).confidential is True
    apply(write, case_id, {"confidential": "decision.result"}, {"decision": {"result": ""}})
    assert fresh(read, case_id).confidential is False


@pytest.mark.parametrize(("value", "expected"), [
    ("waiting_consent", "waiting_consent"), ("suspended", "suspended"), ("active", "active"),
    ("completed", "waiting_consent"), ("error", "waiting_consent"), (None, "waiting_consent"),
])
def test_status_takes_only_the_statuses_a_diagram_may_set(value, expected, case_id, write, read):
    apply(write, case_id, {"status": "'waiting_consent'"}, {})
    apply(write, case_id, {"status": "x.status"}, {"x": {"status": value}})
    assert fresh(read, case_id).status == expected


def test_text_columns_take_the_value_as_text_and_none_leaves_them(case_id, write, read):
    apply(write, case_id, {"stage": "'support'", "outcome": "closing.reason", "consent_status": "c.status"},
          {"closing": {"reason": "目標達成"}, "c": {"status": "agreed"}})
    case = fresh(read, case_id)
    assert (case.stage, case.outcome, case.consent_status) == ("support", "目標達成", "agreed")
    apply(write, case_id, {"stage": "x.missing", "outcome": "closing.reason"}, {"closing": {"reason": 3}})
    case = fresh(read, case_id)
    assert (case.stage, case.outcome) == ("support", "3")  # None leaves the column as it was


def test_outcome_is_cut_to_its_column(case_id, write, read):
    apply(write, case_id, {"outcome": "'終' * 150"}, {})
    assert fresh(read, case_id).outcome == "終" * 100


@pytest.mark.parametrize(("column", "width"), [("stage", 40), ("consent_status", 30)])
def test_stage_and_consent_status_fit_their_columns(column, width, case_id, write, read):
    apply(write, case_id, {column: "'あ' * 60"}, {})
    assert len(getattr(fresh(read, case_id), column)) <= width


def test_no_case_updates_changes_nothing(case_id, write, read):
    before = fresh(read, case_id)
    with write() as s:
        case = s.get(Case, case_id)
        case_updates.apply(s, case, {"element_id": "step"}, {"x": 1}, BUDGET)
        case_updates.apply(s, case, {"element_id": "step", "case_updates": None}, {"x": 1}, BUDGET)
    after = fresh(read, case_id)
    assert (after.version, after.stage, after.status) == (before.version, before.stage, before.status)


@pytest.mark.parametrize("column", ["subject_name", "state", "version", "intake_agency", "id"])
def test_columns_outside_the_list_are_refused(column, case_id, write):
    with pytest.raises(ProcessError) as info, write() as s:
        case = s.get(Case, case_id)
        case_updates.apply(s, case, {"element_id": "step", "case_updates": {column: "'x'"}}, {}, BUDGET)
    assert info.value.element_id == "step" and f"case.{column}" in info.value.message
    assert column not in case_updates.COLUMNS


@pytest.mark.parametrize("expression", ["1 / 0", "int(x.text)", "__import__('os')", "x..y", "open('f')"])
def test_a_bad_expression_is_a_process_error_naming_the_column_and_step(expression, case_id, write, read):
    with pytest.raises(ProcessError) as info, write() as s:
        case = s.get(Case, case_id)
        case_updates.apply(s, case, {"element_id": "step", "case_updates": {"stage": expression}},
                           {"x": {"text": "abc"}}, BUDGET)
    assert info.value.element_id == "step" and info.value.message.startswith("case.stage: ")
    assert fresh(read, case_id).stage == "intake"


def updating_process(step_updates: dict[str, str], start_updates: dict[str, str] | None = None) -> dict:
    b = ProcessBuilder("upd", "更新テスト")
    b.raw("start", '<bpmn:startEvent id="start" name="相談受付">'
                   f'{props(formKey="intake", **(start_updates or {}))}</bpmn:startEvent>')
    b.user("a", "窓口での対応", form="window_response", **step_updates)
    b.user("b", "次の手順", form="note", stage="follow")
    b.end("end", "完了")
    b.lane("窓口", "start", "a", "b", "end")
    b.flow("start", "a")
    b.flow("a", "b")
    b.flow("b", "end")
    return {"upd.bpmn": b.xml().encode("utf-8"), "roles.yaml": ROLES.encode("utf-8")}


def test_a_completed_step_sets_the_case_columns_in_its_transaction(people, engine, write, read):
    with write() as s:
        factories.deploy(engine, s, updating_process({"case.consent_status": "window_response.action",
                                                      "case.csw": "'csw1'"}))
    with write() as s:
        started = factories.start(engine, s, people["win"], process_id="upd")
    with write() as s:
        tasks.complete(engine, s, people["win"], started.open_tasks[0].id, {"action": "refer"})
    case = fresh(read, started.case_id)
    assert (case.consent_status, case.csw_user_id) == ("refer", people["csw"].user_id)
    assert case.stage == "follow"  # the next step's stage property still wins for the stage


def test_the_start_event_can_set_case_columns(people, engine, write, read):
    with write() as s:
        factories.deploy(engine, s, updating_process({}, {"case.confidential": "intake.urgency == 'high'"}))
    with write() as s:
        urgent = factories.start(engine, s, people["win"], {"urgency": "high"}, process_id="upd").case_id
        calm = factories.start(engine, s, people["win"], {"urgency": "low"}, process_id="upd").case_id
    assert fresh(read, urgent).confidential is True and fresh(read, calm).confidential is False


def test_a_failing_update_rolls_the_completion_back(people, engine, write, read):
    with write() as s:
        factories.deploy(engine, s, updating_process({"case.outcome": "str(int(window_response.note))"}))
    with write() as s:
        started = factories.start(engine, s, people["win"], process_id="upd")
    task_id = started.open_tasks[0].id
    with pytest.raises(ProcessError) as info, write() as s:
        tasks.complete(engine, s, people["win"], task_id, {"action": "refer", "note": "数字ではない"})
    assert info.value.element_id == "a"
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open"
        steps = s.scalars(select(HumanTask.element_id).where(HumanTask.case_id == started.case_id))
        assert list(steps) == ["a"]
    with write() as s:
        tasks.complete(engine, s, people["win"], task_id, {"action": "refer", "note": "42"})
    assert fresh(read, started.case_id).outcome == "42"


def test_a_diagram_naming_another_column_is_refused_at_deploy(engine, write):
    with pytest.raises(DefinitionError) as info, write() as s:
        factories.deploy(engine, s, updating_process({"case.subject_name": "'x'"}))
    assert any("case.subject_name" in p.reason for p in info.value.problems)
