"""engine.runtime_cache: parsed specs cached per definition id; live workflows cached per case under the
case's version counter, taken out by a request, put back only after the saving transaction commits and
dropped on rollback, so no two requests share a workflow and a stale one is never used."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from sqlalchemy import select

from engine import definitions, runtime, tasks
from engine.core import build_engine
from engine.models import Case, ProcessDefinition
from engine.runtime_cache import PENDING_KEY, LoadedSpec, SpecCache, WorkflowCache
from tests.support import factories
from tests.support.referral10 import referral_files


def _spec(name: str) -> LoadedSpec:
    return LoadedSpec(spec=name, subprocess_specs={}, tasks={}, reads={}, start_form_key=None,
                      agency_rules={})


def test_spec_cache_returns_what_was_put_per_definition():
    cache = SpecCache()
    assert cache.get(1) is None
    one, two = _spec("one"), _spec("two")
    cache.put(1, one)
    cache.put(2, two)
    assert cache.get(1) is one and cache.get(2) is two
    assert cache.get(1) is one  # reading does not remove a spec


def test_a_workflow_is_taken_only_under_its_version_and_only_once():
    cache = WorkflowCache(size=4)
    workflow = object()
    cache.put(7, 3, workflow)
    assert cache.take(7, 3) is workflow
    assert cache.take(7, 3) is None  # taken out: no second request gets the same object
    cache.put(7, 3, workflow)
    assert cache.take(7, 4) is None  # another process saved version 4: the entry is stale
    assert cache.take(7, 3) is None  # and it is gone


def test_the_least_recently_put_case_is_evicted_first():
    cache = WorkflowCache(size=2)
    cache.put(1, 1, "w1")
    cache.put(2, 1, "w2")
    cache.put(1, 2, "w1v2")  # case 1 again: now the newest
    cache.put(3, 1, "w3")  # evicts case 2
    assert cache.take(2, 1) is None
    assert cache.take(1, 2) == "w1v2" and cache.take(3, 1) == "w3"


def test_a_cache_of_size_zero_keeps_nothing():
    cache = WorkflowCache(size=0)
    cache.put(1, 1, "w")
    assert cache.take(1, 1) is None


def test_discard_drops_a_case():
    cache = WorkflowCache(size=2)
    cache.put(1, 1, "w")
    cache.discard(1)
    cache.discard(99)  # unknown: nothing happens
    assert cache.take(1, 1) is None


def test_keep_after_commit_publishes_under_the_version_at_commit(session_factory):
    cache = WorkflowCache(size=4)
    case = SimpleNamespace(id=5, version=1)
    with session_factory() as s:
        s.execute(select(Case.id))
        cache.keep_after_commit(s, case, "live")
        assert cache.take(5, 1) is None  # nothing before the commit
        case.version = 2  # the flush of the save moves the counter on
        s.commit()
        assert PENDING_KEY not in s.info
    assert cache.take(5, 2) == "live"


def test_keep_after_commit_is_dropped_on_rollback(session_factory):
    cache = WorkflowCache(size=4)
    case = SimpleNamespace(id=5, version=1)
    with session_factory() as s:
        s.execute(select(Case.id))  # as in a request: the transaction has begun when the case is saved
        cache.keep_after_commit(s, case, "live")
        s.rollback()
        assert PENDING_KEY not in s.info
        s.commit()  # a later commit of the same session does not publish it either
    assert cache.take(5, 1) is None


@pytest.fixture
def people(engine, write):
    with write() as s:
        who = {role: factories.actor(s, role, "AG-" + role.upper(), role)
               for role in ("window", "coordinator", "csw")}
        factories.deploy(engine, s, referral_files())
    return who


def _version(read, case_id: int) -> int:
    with read() as s:
        return s.get(Case, case_id).version


def test_a_started_case_is_cached_under_its_committed_version(people, engine, write, read):
    with write() as s:
        started = factories.start(engine, s, people["window"])
    version = _version(read, started.case_id)
    workflow = engine.workflows.take(started.case_id, version)
    assert workflow is not None and not workflow.is_completed()
    assert engine.workflows.take(started.case_id, version) is None


def test_loading_a_case_reuses_the_cached_workflow_and_takes_it_out(people, engine, write, read):
    with write() as s:
        started = factories.start(engine, s, people["window"])
    with write() as s:
        cached = runtime.load(engine, s, runtime.lock_case(s, started.case_id)).workflow
    with write() as s:  # that request did not save: the object did not go back
        second = runtime.load(engine, s, runtime.lock_case(s, started.case_id)).workflow
    assert second is not cached
    assert [t.task_spec.name for t in second.get_tasks(state=runtime.TaskState.READY)] == ["window_response"]


def test_a_completion_caches_the_new_version_after_commit(people, engine, write, read):
    with write() as s:
        started = factories.start(engine, s, people["window"])
    before = _version(read, started.case_id)
    with write() as s:
        tasks.complete(engine, s, people["window"], started.open_tasks[0].id, {"action": "refer"})
    after = _version(read, started.case_id)
    assert after > before
    workflow = engine.workflows.take(started.case_id, after)
    assert workflow is not None
    ready = [t.task_spec.name for t in workflow.get_tasks(state=runtime.TaskState.READY)]
    assert ready == ["consent_check"]


class Boom(Exception):
    pass


def test_a_rolled_back_completion_leaves_nothing_in_the_cache(people, engine, write, read):
    with write() as s:
        started = factories.start(engine, s, people["window"])
    version = _version(read, started.case_id)
    with pytest.raises(Boom), write() as s:
        tasks.complete(engine, s, people["window"], started.open_tasks[0].id, {"action": "refer"})
        raise Boom
    assert _version(read, started.case_id) == version
    for v in (version, version + 1):
        assert engine.workflows.take(started.case_id, v) is None
    with write() as s:  # the case goes on from its stored state
        result = tasks.complete(engine, s, people["window"], started.open_tasks[0].id, {"action": "refer"})
    assert [t.element_id for t in result.open_tasks] == ["consent_check"]


def test_a_rolled_back_start_caches_nothing(people, engine, write):
    with pytest.raises(Boom), write() as s:
        case_id = factories.start(engine, s, people["window"]).case_id
        raise Boom
    for v in range(1, 4):
        assert engine.workflows.take(case_id, v) is None


def test_a_workflow_cached_by_another_engine_is_not_seen(people, engine, settings, write, read):
    with write() as s:
        started = factories.start(engine, s, people["window"])
    other = build_engine(settings, engine.forms)  # another worker process: its own caches
    assert other.workflows.take(started.case_id, _version(read, started.case_id)) is None


def test_specs_are_cached_once_per_definition(people, engine, settings, write):
    with write() as s:
        definition = s.scalar(select(ProcessDefinition))
        first = definitions.load_spec(engine, definition)
        assert definitions.load_spec(engine, definition) is first
        assert engine.specs.get(definition.id) is first
        fresh = build_engine(settings, engine.forms)
        assert fresh.specs.get(definition.id) is None
        restored = definitions.spec_for_case(fresh, s, definition.id)
    assert restored is not first and fresh.specs.get(definition.id) is restored
    assert restored.reads == first.reads and restored.start_form_key == "intake"
