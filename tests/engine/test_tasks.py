"""Task operations: claim, unclaim, reassign, drafts and completion, with their conflicts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine import cases, inbox, tasks
from engine.bpmn.serializer import state_text
from engine.errors import Conflict, Invalid, NotAllowed, NotFound
from engine.models import AuditEvent, Case, FormRecord, HumanTask, TaskDraft
from tests.support import factories
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.referral10 import referral_files
from tests.support.sql_capture import captured


@pytest.fixture
def world(engine, write):
    with write() as s:
        people = {
            "win": factories.actor(s, "window", "AG-WIN", "win"),
            "win2": factories.actor(s, "window", "AG-WIN", "win2"),
            "other": factories.actor(s, "window", "AG-OTHER", "other"),
            "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
            "csw": factories.actor(s, "csw", "AG-CSW", "csw"),
            "sup": factories.actor(s, "supervisor", "AG-WIN", "sup", roles=["supervisor", "window"]),
        }
        factories.deploy(engine, s, referral_files())
    with write() as s:
        started = factories.start(engine, s, people["win"])
    return people, started


def test_start_assigns_first_step_to_the_starter(world, read):
    people, started = world
    assert [t.title for t in started.open_tasks] == ["窓口での対応"]
    assert started.open_tasks[0].assignee_id == people["win"].user_id
    assert started.open_tasks[0].due_at is not None
    with read() as s:
        assert s.scalar(select(func.count()).select_from(FormRecord)) == 1


def test_complete_moves_case_and_records_one_audit_event(world, engine, write, read):
    people, started = world
    task_id = started.open_tasks[0].id
    with read() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    with write() as s:
        result = tasks.complete(engine, s, people["win"], task_id, {"action": "refer"})
    assert [t.title for t in result.open_tasks] == ["同意確認"]
    with read() as s:
        row = s.get(HumanTask, task_id)
        assert row.status == "completed" and row.completed_by_id == people["win"].user_id
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before + 1


def test_completing_the_only_open_step_reads_no_task_rows_and_deletes_no_draft(world, engine, db, write,
                                                                               read):
    """Open task rows are exactly the READY steps: with no other step READY the projection has no row to
    read (the driver of the path tests checks the invariant after every step). On SQLite the lock query
    also said whether a draft exists; PostgreSQL always deletes it (the lock query's snapshot may predate
    a draft saved while it waited for the lock)."""
    people, started = world
    task_id = started.open_tasks[0].id
    with write() as s, captured(s) as sent:
        result = tasks.complete(engine, s, people["win"], task_id, {"action": "refer"})
    statements = [x.statement.lstrip() for x in sent]
    assert not [st for st in statements if st.startswith("SELECT human_tasks.spiff_task_id")]
    deletes = [st for st in statements if st.startswith("DELETE FROM task_drafts")]
    assert len(deletes) == (1 if db.backend == "postgresql" else 0)
    assert [t.title for t in result.open_tasks] == ["同意確認"]
    with read() as s:
        open_rows = s.scalars(select(HumanTask).where(HumanTask.case_id == started.case_id,
                                                      HumanTask.status == "open")).all()
        assert [r.title for r in open_rows] == ["同意確認"]


def test_second_completion_is_a_conflict_naming_who_acted_first(world, engine, write):
    people, started = world
    task_id = started.open_tasks[0].id
    with write() as s:
        tasks.complete(engine, s, people["win"], task_id, {"action": "refer"})
    with pytest.raises(Conflict) as info, write() as s:
        tasks.complete(engine, s, people["win"], task_id, {"action": "refer"})
    assert info.value.by == "テスト win" and info.value.at is not None and info.value.reason == "completed"


def test_invalid_submission_names_the_field_and_changes_nothing(world, engine, write, read):
    people, started = world
    task_id = started.open_tasks[0].id
    with pytest.raises(Invalid) as info, write() as s:
        tasks.complete(engine, s, people["win"], task_id, {"action": "maybe", "surprise": 1})
    assert info.value.errors == {
        "action": ["選択肢から選んでください。"],
        "surprise": ["この項目は受け付けられません。"],
    }
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open"


def test_user_of_another_agency_cannot_see_the_task(world, engine, write):
    people, started = world
    with pytest.raises(NotFound), write() as s:
        tasks.complete(engine, s, people["other"], started.open_tasks[0].id, {"action": "refer"})


def test_task_assigned_to_colleague_is_a_conflict_then_claimable_after_unclaim(world, engine, write):
    people, started = world
    task_id = started.open_tasks[0].id
    with pytest.raises(Conflict) as info, write() as s:
        tasks.claim(s, people["win2"], task_id)
    assert info.value.reason == "claimed" and info.value.by == "テスト win"
    with write() as s:
        tasks.unclaim(s, people["win"], task_id)
    with write() as s:
        assert tasks.claim(s, people["win2"], task_id).assignee_id == people["win2"].user_id


def test_wrong_role_may_not_claim(world, engine, write):
    people, started = world
    with write() as s:
        tasks.complete(engine, s, people["win"], started.open_tasks[0].id, {"action": "refer"})
        consent = tasks.complete  # noqa: F841
    with read_tasks(engine, write, people["coord"]) as rows:
        assert rows == []


class read_tasks:  # noqa: N801 - tiny context helper
    def __init__(self, engine, write, actor):
        self.engine, self.write, self.actor = engine, write, actor

    def __enter__(self):
        with self.write() as s:
            return [t.title for t in inbox.list_tasks(self.engine, s, self.actor, "claimable").rows]

    def __exit__(self, *exc):
        return False


def test_draft_is_kept_outside_the_workflow_and_removed_on_completion(world, engine, write, read):
    people, started = world
    task_id = started.open_tasks[0].id
    with write() as s:
        tasks.save_draft(engine, s, people["win"], task_id, {"note": "途中まで"})
    with read() as s:
        assert s.get(TaskDraft, task_id).data == {"note": "途中まで"}
        assert "途中まで" not in state_text(cases.get_case(s, people["win"], started.case_id).state)
    with write() as s:
        tasks.complete(engine, s, people["win"], task_id, {"action": "refer", "note": "完了"})
    with read() as s:
        assert s.get(TaskDraft, task_id) is None


def test_supervisor_reassigns_within_agency_only(world, engine, write):
    people, started = world
    task_id = started.open_tasks[0].id
    with write() as s:
        assert tasks.reassign(s, people["sup"], task_id, "win2").assignee_id == people["win2"].user_id
    with pytest.raises(NotAllowed), write() as s:
        tasks.reassign(s, people["win"], task_id, "win")
    with pytest.raises(Invalid), write() as s:
        tasks.reassign(s, people["sup"], task_id, "csw")


LIFT_ROLES = ("lanes:\n  窓口: window\n  担当部署: coordinator\n"
              "roles:\n  window: {agency: intake}\n  coordinator: {agency: any}\n")


def _lift_files() -> dict[str, bytes]:
    b = ProcessBuilder("lift", "守秘の解除")
    b.start("start", "相談受付", form="intake")
    b.user("a", "窓口", form="note", assignee="starter")
    b.user("b", "同意を得て多機関協働へ", form="note", **{"case.confidential": "False"})
    b.user("c", "次", form="note")
    b.end("end")
    b.lane("窓口", "start", "a")
    b.lane("担当部署", "b", "c", "end")
    for source, target in (("start", "a"), ("a", "b"), ("b", "c"), ("c", "end")):
        b.flow(source, target)
    return {"lift.bpmn": b.xml().encode(), "roles.yaml": LIFT_ROLES.encode()}


def test_the_step_that_ends_confidentiality_keeps_its_own_record_in_the_compartment(engine, write, read):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win2")
        coord = factories.actor(s, "coordinator", "AG-JUSO", "coord2")
        factories.deploy(engine, s, _lift_files())
    with write() as s:
        case_id = factories.start(engine, s, win, process_id="lift").case_id
    with write() as s:
        first = s.scalar(select(HumanTask.id).where(HumanTask.case_id == case_id,
                                                    HumanTask.element_id == "a"))
        tasks.complete(engine, s, win, first, {"note": "窓口の記録"})
        s.get(Case, case_id).confidential = True  # the case went to a 支援会議
    with write() as s:
        step = s.scalar(select(HumanTask.id).where(HumanTask.case_id == case_id,
                                                   HumanTask.element_id == "b"))
        tasks.complete(engine, s, coord, step, {"note": "支援会議で知り得たこと"})
    with read() as s:
        assert not s.get(Case, case_id).confidential  # the step ended the confidentiality ...
        records = {r.element_id: r.compartment for r in s.scalars(select(FormRecord))}
        assert records == {"start": False, "a": False, "b": True}  # ... but its record stays inside
        assert [r.element_id for r in cases.case_detail(s, win, case_id).records] == ["start", "a"]
