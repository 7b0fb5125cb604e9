"""Pathway benchmark: the issue-2 figures on the real pathway in ``processes/`` (with ``forms/``).

Method (docs/performance.md): ``BENCH_CASES`` cases (default 40) walk the consented path from 相談受付 to
支援の開始 — window_response, consent_check, referral, acceptance, first_contact, assessment, plan,
meeting, plan_consent, support_start: ten completions each — through :func:`engine.tasks.complete`,
one committed write transaction per completion, timed from the start of the transaction to its commit
(validation, lock, load, run, projection, form record, audit, serialization and the commit's fsync
included). The first case is a warm-up and is not timed; it also records, for every step, the data the
engine put into the SpiffWorkflow task. The floor replays exactly that data on the same spec in memory
with the bare library — set the task data, ``task.run()``, ``do_engine_steps()`` — no database, no
validation, no serialization. ``case_state_bytes`` is a case of this path carried on to 終結 (one
monitoring round, 評価, 終結) on SQLite.
"""

from __future__ import annotations

import copy
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from SpiffWorkflow.util.task import TaskState

from engine import cases, clock, runtime, tasks, users
from engine import tasks as task_ops
from engine.actor import SYSTEM
from engine.core import build_engine
from engine.db import make_engine, make_session_factory, transaction
from engine.definitions import deploy_directory, spec_for_case
from engine.formdefs import load_forms
from engine.migrate import upgrade
from engine.models import Case
from engine.settings import load_settings
from tests.bench.engine import N_CASES, fresh_postgresql
from tests.processes.conftest import STAFF
from tests.processes.driver import Driver
from tests.processes.paths import to_support
from tests.processes.payloads import payload
from tests.support import factories

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@dataclass
class TimedDriver(Driver):
    """A driver that times each completion's write transaction (and nothing else)."""

    timings: list[float] = field(default_factory=list)

    def complete(self, element_id: str, form_key: str | None = None, **overrides: Any) -> Any:
        row = self.task(element_id)
        data = payload(form_key or row.form_key, **overrides)
        t0 = time.perf_counter()
        with self.write() as s:
            result = tasks.complete(self.engine, s, self.actor_for(row), row.id, data)
        self.timings.append((time.perf_counter() - t0) * 1000)
        self._after(element_id)
        return result


def setup(url: str) -> tuple[Any, Any, dict[str, Any]]:
    """A migrated database at ``url`` with the pathway deployed and one member of staff per role."""
    settings = load_settings(
        {}, database_url=url, forms_dir=str(ROOT / "forms"), processes_dir=str(ROOT / "processes")
    )
    forms, problems = load_forms(settings.forms_dir)
    assert not problems, problems
    eng = build_engine(settings, forms)
    db = make_engine(url)
    upgrade(db)
    sessions = make_session_factory(db)
    people: dict[str, Any] = {}
    with transaction(sessions, write=True) as s:
        for role, username, agency, kind in STAFF:
            factories.agency(s, agency, kind)
            people[role] = users.actor_for(
                users.create_user(s, username, f"ベンチ {username}", factories.PASSWORD, [role], agency)
            )
        deploy_directory(eng, s, SYSTEM)
    return eng, sessions, people


def driver(eng: Any, sessions: Any, people: dict[str, Any]) -> TimedDriver:
    frozen = clock.FrozenClock(START)
    clock.use(frozen)
    return TimedDriver(eng, lambda: transaction(sessions, write=True), lambda: transaction(sessions), people,
                       frozen, track_coverage=False)


@contextmanager
def recording() -> Iterator[list[tuple[str, dict[str, Any]]]]:
    """Record (element id, data put into the task) for the start event and every completed step."""
    steps: list[tuple[str, dict[str, Any]]] = []
    pending: dict[str, Any] = {}
    originals = (cases.routed, task_ops.routed, runtime.run_task)

    def routed(key: str, cleaned: dict[str, Any], reads: Any) -> Any:
        value = originals[0](key, cleaned, reads)
        if value is not None:
            pending[key] = copy.deepcopy(value)
        if not steps and key == "intake":
            steps.append(("start", dict(pending)))
            pending.clear()
        return value

    def run_task(live: Any, task: Any) -> None:
        steps.append((task.task_spec.bpmn_id, dict(pending)))
        pending.clear()
        originals[2](live, task)

    cases.routed, task_ops.routed, runtime.run_task = routed, routed, run_task
    try:
        yield steps
    finally:
        cases.routed, task_ops.routed, runtime.run_task = originals


def completion_ms(url: str, n_cases: int = N_CASES) -> tuple[float, list[tuple[str, dict[str, Any]]], Any]:
    """Median ms per completion on the path; the warm-up case's recorded steps; its loaded spec."""
    previous = clock.use(clock.FrozenClock(START))
    try:
        eng, sessions, people = setup(url)
        with recording() as steps:
            warm = driver(eng, sessions, people)
            to_support(warm)
        with transaction(sessions) as s:
            case = s.get(Case, warm.case_id)
            loaded = spec_for_case(eng, s, case.process_definition_id)
        timings: list[float] = []
        for _ in range(n_cases - 1):
            d = driver(eng, sessions, people)
            to_support(d)
            timings.extend(d.timings)
        sessions.kw["bind"].dispose()
    finally:
        clock.use(previous)
    return statistics.median(timings), steps, loaded


def finished_state_bytes(url: str) -> int:
    """Stored state of a case of this path carried on to 終結."""
    previous = clock.use(clock.FrozenClock(START))
    try:
        eng, sessions, people = setup(url)
        d = driver(eng, sessions, people)
        to_support(d, evaluation_date="2045-01-01")
        d.fire(days=31)
        d.complete("monitoring", judgement="evaluation", next_date=None)
        d.complete("evaluation")
        d.complete("closing")
        assert d.case().status == "completed", d.open()
        size = d.state_bytes()
        sessions.kw["bind"].dispose()
    finally:
        clock.use(previous)
    return size


def floor_ms(eng: Any, loaded: Any, steps: list[tuple[str, dict[str, Any]]], rounds: int) -> float:
    """The bare library on the same spec and data, in memory."""
    timings: list[float] = []
    for _ in range(rounds):
        wf = runtime.new_workflow(eng, loaded)
        start = wf.get_tasks(state=TaskState.READY)[0]
        start.data.update(copy.deepcopy(steps[0][1]))
        wf.do_engine_steps()
        for element_id, data in steps[1:]:
            ready = [t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                     if t.task_spec.bpmn_id == element_id]
            assert len(ready) == 1, f"floor: {element_id} is not the one ready step"
            task = ready[0]
            values = copy.deepcopy(data)
            t0 = time.perf_counter()
            task.data.update(values)
            task.run()
            wf.do_engine_steps()
            timings.append((time.perf_counter() - t0) * 1000)
    return statistics.median(timings)


def run() -> dict[str, tuple[float, str]]:
    users.use_hasher(users.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    results: dict[str, tuple[float, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_ms, steps, loaded = completion_ms(f"sqlite:///{tmp}/pathway.db")
        state_bytes = finished_state_bytes(f"sqlite:///{tmp}/finished.db")
    results["completion_ms_sqlite"] = (sqlite_ms, "ms")
    pg = fresh_postgresql()
    if pg is not None:
        url, drop = pg
        try:
            results["completion_ms_postgresql"] = (completion_ms(url)[0], "ms")
        finally:
            drop()
    eng = build_engine(load_settings({}, forms_dir=str(ROOT / "forms")), load_forms(ROOT / "forms")[0])
    floor = floor_ms(eng, loaded, steps, N_CASES * 5)
    results["floor_ms"] = (floor, "ms")
    results["floor_ratio"] = (sqlite_ms / floor, "x")
    results["case_state_bytes"] = (float(state_bytes), "bytes")
    return results
