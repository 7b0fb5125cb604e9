"""Engine benchmark on the 10-step test process (tests/support/referral10): median ms per task
completion through the engine API with a committed transaction (SQLite and PostgreSQL), the bare
in-memory SpiffWorkflow floor on the same process, their ratio, and a finished case's stored state.
The headline figures are measured on the real pathway (:mod:`tests.bench.pathway`); these, suffixed
``_referral10``, isolate the engine's own cost on a process with almost no form data.

Method (docs/performance.md): N cases walk the same path; each completion is timed from the start
of its write transaction to its commit. The floor runs the same spec in memory: complete the READY
user task with the same routing data, then ``do_engine_steps()`` — no database, no serialization.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from engine import cases, clock, definitions, tasks, users
from engine.actor import SYSTEM
from engine.core import build_engine
from engine.db import make_engine, make_session_factory, transaction
from engine.formdefs import load_forms
from engine.migrate import upgrade
from engine.runtime import new_workflow
from engine.settings import load_settings
from tests.support import factories
from tests.support.referral10 import FORMS_DIR, referral_files

N_CASES = int(os.environ.get("BENCH_CASES", "40"))
DATA = {"window_response": {"action": "refer"}, "note": {"note": "記録"}, "decision": {"result": "approve"}}
ROUTING = {"window_response": {"action": "refer"}, "decision": {"result": "approve", "csw": None}}


def _walk(eng: Any, sessions: Any, who: dict[str, Any], timings: list[float]) -> int:
    with transaction(sessions, write=True) as s:
        started = factories.start(eng, s, who["window"])
    open_tasks = started.open_tasks
    while open_tasks:
        task = open_tasks[0]
        t0 = time.perf_counter()
        with transaction(sessions, write=True) as s:
            result = tasks.complete(eng, s, who[task.role], task.id, DATA[task.form_key])
        timings.append((time.perf_counter() - t0) * 1000)
        open_tasks = result.open_tasks
    return started.case_id


def _setup(url: str) -> tuple[Any, Any, dict[str, Any]]:
    settings = load_settings({}, database_url=url, forms_dir=str(FORMS_DIR))
    forms, _ = load_forms(FORMS_DIR)
    eng = build_engine(settings, forms)
    db = make_engine(url)
    upgrade(db)
    sessions = make_session_factory(db)
    with transaction(sessions, write=True) as s:
        who = {role: factories.actor(s, role, "AG-" + role.upper(), f"bench_{role}") for role in
               ("window", "coordinator", "csw")}
        definitions.deploy_bundle(eng, s, SYSTEM, referral_files())
    return eng, sessions, who


def completion_ms(url: str) -> tuple[float, int]:
    eng, sessions, who = _setup(url)
    timings: list[float] = []
    case_id = 0
    for _ in range(N_CASES):
        case_id = _walk(eng, sessions, who, timings)
    with transaction(sessions) as s:
        state_bytes = len(cases.get_case(s, SYSTEM, case_id).state)  # as stored (compressed)
    return statistics.median(timings[len(timings) // 10:]), state_bytes


def floor_ms() -> float:
    from engine.bpmn.bundle import load_bundle
    from engine.runtime_cache import LoadedSpec
    forms, _ = load_forms(FORMS_DIR)
    bundle = load_bundle(referral_files(), forms)
    parsed = bundle.processes["referral_test"]
    loaded = LoadedSpec(parsed.spec, parsed.subprocess_specs, {}, {}, None, {})
    eng = build_engine(load_settings({}, forms_dir=str(FORMS_DIR)), forms)
    timings = []
    from SpiffWorkflow.util.task import TaskState
    for _ in range(N_CASES * 5):
        wf = new_workflow(eng, loaded)
        wf.do_engine_steps()
        while True:
            ready = wf.get_tasks(state=TaskState.READY, manual=True)
            if not ready:
                break
            task = ready[0]
            t0 = time.perf_counter()
            key = {"window_response": "window_response", "meeting": "decision"}.get(task.task_spec.bpmn_id)
            if key:
                task.data[key] = ROUTING[key]
            task.run()
            wf.do_engine_steps()
            timings.append((time.perf_counter() - t0) * 1000)
    return statistics.median(timings)


def fresh_postgresql() -> tuple[str, Callable[[], None]] | None:
    """A new empty PostgreSQL database (its URL and a function that drops it), or None if unreachable."""
    try:
        return new_postgresql_database()
    except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional for a bench run
        print(f"# PostgreSQL not reachable ({type(exc).__name__}); skipped its figures")
        return None


def new_postgresql_database() -> tuple[str, Callable[[], None]]:
    """Create an empty database next to ``TSUNAGU_TEST_DATABASE_URL``; return its URL and a dropper."""
    admin_url = make_url(os.environ.get("TSUNAGU_TEST_DATABASE_URL")
                         or "postgresql://postgres@127.0.0.1:5432/postgres").set(drivername="postgresql+psycopg")
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"tsunagu_bench_{uuid.uuid4().hex[:8]}"
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
    return admin_url.set(database=name).render_as_string(hide_password=False), drop


def run() -> dict[str, tuple[float, str]]:
    users.use_hasher(users.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    clock.use(clock.SystemClock())
    results: dict[str, tuple[float, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite_ms, state_bytes = completion_ms(f"sqlite:///{tmp}/bench.db")
    results["completion_ms_sqlite_referral10"] = (sqlite_ms, "ms")
    pg = fresh_postgresql()
    if pg is not None:
        url, drop = pg
        try:
            results["completion_ms_postgresql_referral10"] = (completion_ms(url)[0], "ms")
        finally:
            drop()
    floor = floor_ms()
    results["floor_ms_referral10"] = (floor, "ms")
    results["floor_ratio_referral10"] = (sqlite_ms / floor, "x")
    results["case_state_bytes_referral10"] = (float(state_bytes), "bytes")
    return results
