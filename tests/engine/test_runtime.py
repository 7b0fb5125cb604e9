"""Running cases: save/restore equivalence, version pinning, atomicity under injected faults, depth guard."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select, text

from engine import cases, runtime, tasks
from engine.actor import SYSTEM
from engine.bpmn.serializer import decode_state, state_text
from engine.core import build_engine
from engine.definitions import spec_for_case
from engine.errors import ProcessError
from engine.models import Base, Case, HumanTask
from tests.support import factories
from tests.support.referral10 import referral_files

DATA = {"window_response": {"action": "refer"}, "note": {"note": "記録"}, "decision": {"result": "approve"}}


@pytest.fixture
def people(engine, write):
    with write() as s:
        who = {
            role: factories.actor(s, role, "AG-" + role.upper(), role)
            for role in ("window", "coordinator", "csw")
        }
        factories.deploy(engine, s, referral_files())
    return who


def walk(engine, write, who, case_id: int, decisions: list[str], window_action: str = "refer") -> list[str]:
    """Complete open tasks until the case ends; return the element ids completed, in order."""
    done, decisions = [], list(decisions)
    while True:
        with write() as s:
            open_tasks = [t for t in cases.case_detail(s, SYSTEM, case_id).open_tasks]
        if not open_tasks:
            return done
        task = open_tasks[0]
        data = dict(DATA[task.form_key])
        if task.form_key == "decision":
            data["result"] = decisions.pop(0) if decisions else "approve"
        if task.form_key == "window_response":
            data["action"] = window_action
        with write() as s:
            tasks.complete(engine, s, who[task.role], task.id, data)
        done.append(task.element_id)


def final_state(read, case_id: int) -> tuple[dict, str, str]:
    with read() as s:
        case = s.get(Case, case_id)
        return json.loads(state_text(case.state))["data"], case.status, case.outcome


PATHS = {
    "resolved at the window": ([], "resolved"),
    "approved first time": (["approve"], "refer"),
    "revised once then approved": (["revise", "approve"], "refer"),
}


@pytest.mark.parametrize("path", PATHS)
def test_save_restore_between_steps_equals_uninterrupted_run(path, people, engine, settings, write, read):
    decisions, action = PATHS[path]
    with write() as s:
        first = factories.start(engine, s, people["window"]).case_id
    steps_cached = walk(engine, write, people, first, decisions, action)
    restoring = build_engine(settings.replace(case_cache_size=0), engine.forms)  # every step deserializes
    with write() as s:
        second = factories.start(restoring, s, people["window"]).case_id
    steps_restored = walk(restoring, write, people, second, decisions, action)
    assert steps_restored == steps_cached
    data_cached, status_cached, outcome_cached = final_state(read, first)
    assert final_state(read, second) == (data_cached, status_cached, outcome_cached)
    assert status_cached == "completed"
    assert outcome_cached == ("窓口対応で完結" if action == "resolved" else "終結")


def test_all_sequence_flows_of_the_test_process_are_covered(people, engine, write, read):
    """The three paths above take every outgoing flow of both gateways."""
    taken: set[tuple[str, str]] = set()
    for decisions, action in PATHS.values():
        with write() as s:
            case_id = factories.start(engine, s, people["window"]).case_id
        steps = ["start", *walk(engine, write, people, case_id, decisions, action)]
        taken |= set(zip(steps, steps[1:], strict=False))
    assert ("window_response", "consent_check") in taken and ("meeting", "plan") in taken
    assert ("meeting", "explanation") in taken


def test_case_started_on_version_1_finishes_on_version_1(people, engine, settings, write, read):
    with write() as s:
        old_case = factories.start(engine, s, people["window"]).case_id
    with write() as s:
        v2 = factories.deploy(engine, s, referral_files(extra_step=True, version_note=" v2"))
    assert v2.version == 2 and v2.created
    with write() as s:
        new_case = factories.start(engine, s, people["window"]).case_id
    fresh = build_engine(settings, engine.forms)  # a restarted process: no caches
    old_steps = walk(fresh, write, people, old_case, ["approve"])
    new_steps = walk(fresh, write, people, new_case, ["approve"])
    assert "checkin" not in old_steps and "checkin" in new_steps
    with read() as s:
        assert s.get(Case, old_case).definition.version == 1
        assert s.get(Case, new_case).definition.version == 2
        assert s.get(Case, old_case).status == "completed"


def test_redeploying_unchanged_files_is_a_no_op(people, engine, write):
    with write() as s:
        again = factories.deploy(engine, s, referral_files())
    assert (again.version, again.created) == (1, False)


def _snapshot(db_engine) -> dict[str, list[tuple]]:
    with db_engine.connect() as conn:
        out = {}
        for table in Base.metadata.sorted_tables:
            rows = conn.execute(select(table).order_by(*table.primary_key.columns)).all()
            out[table.name] = [tuple(r) for r in rows]
        return out


FAULT_POINTS = [
    ("engine.runtime", "load"),
    ("engine.runtime", "ready_task"),
    ("engine.runtime", "run_task"),
    ("engine.runtime", "check_depth"),
    ("engine.case_updates", "apply"),
    ("engine.projection", "sync"),
    ("engine.runtime", "save"),
    ("engine.cases", "store_form_record"),
    ("engine.hooks", "after_submission"),
    ("engine.audit", "record"),
]


class InjectedFault(Exception):
    pass


@pytest.mark.parametrize("module,name", FAULT_POINTS)
def test_fault_at_each_point_of_completion_leaves_database_unchanged(
    module, name, people, engine, db, write, monkeypatch
):
    import importlib

    with write() as s:
        task_id = factories.start(engine, s, people["window"]).open_tasks[0].id
    before = _snapshot(db.engine)
    target = importlib.import_module(module)
    original = getattr(target, name)

    def fail_after(*args, **kwargs):
        original(*args, **kwargs)
        raise InjectedFault(f"{module}.{name}")

    for holder in {target, importlib.import_module("engine.tasks")}:
        if getattr(holder, name, None) is original:
            monkeypatch.setattr(holder, name, fail_after)
    with pytest.raises(InjectedFault), write() as s:
        tasks.complete(engine, s, people["window"], task_id, {"action": "refer"})
    assert _snapshot(db.engine) == before
    monkeypatch.undo()
    with write() as s:  # the case still works, from the stored state (the live workflow was not reused)
        result = tasks.complete(engine, s, people["window"], task_id, {"action": "refer"})
    assert [t.element_id for t in result.open_tasks] == ["consent_check"]


def test_fault_before_commit_leaves_database_unchanged(people, engine, db, session_factory):
    from engine.db import begin_write

    with session_factory() as s:
        begin_write(s)
        task_id = factories.start(engine, s, people["window"]).open_tasks[0].id
        s.commit()
    before = _snapshot(db.engine)
    s = session_factory()
    begin_write(s)
    tasks.complete(engine, s, people["window"], task_id, {"action": "refer"})
    s.rollback()  # the request failed after the engine returned, before its commit
    s.close()
    assert _snapshot(db.engine) == before


def test_depth_guard_refuses_to_save_a_tree_near_the_engine_limit(people, engine, write, read, monkeypatch):
    with write() as s:
        started = factories.start(engine, s, people["window"])
    monkeypatch.setattr(runtime, "DEPTH_ALARM", 2)
    with pytest.raises(ProcessError) as info, write() as s:
        tasks.complete(engine, s, people["window"], started.open_tasks[0].id, {"action": "refer"})
    assert "1000" in info.value.message
    with read() as s:
        assert s.get(HumanTask, started.open_tasks[0].id).status == "open"


def test_stored_state_does_not_embed_the_spec(people, engine, write, read):
    with write() as s:
        case_id = factories.start(engine, s, people["window"]).case_id
    with read() as s:
        case = s.get(Case, case_id)
        assert isinstance(case.state, bytes) and case.state[:1] != b"{"  # stored compressed
        stored = json.loads(state_text(case.state))
        assert "spec" not in stored and "subprocess_specs" not in stored
        spec = spec_for_case(engine, s, case.process_definition_id)
        workflow = decode_state(case.state, spec.spec, spec.subprocess_specs)
        assert not workflow.is_completed()
        assert s.execute(text("select count(*) from process_definitions")).scalar_one() == 1
