"""Scheduler benchmark: one overdue sweep over 100,000 open tasks, and due-timer cases advanced per second.

Method (docs/performance.md):

* ``overdue_sweep_s_100k`` — a fresh database with 100,000 open tasks inserted directly (5 % overdue by
  more than the second-level delay, 5 % due within the reminder lead, 90 % due later), one agency with
  a supervisor. Timed: the first run of the escalation job over them — 15,000 new escalations (5,000
  reminders, 5,000 level 1, 5,000 level 2) with their outbox rows, each batch a committed transaction.
  ``dispatch_s_15k`` is the dispatcher's run that follows (15,000 outbox rows → 20,000 notifications).
  ``overdue_sweep_s_100k_steady`` is the next tick of both jobs when nothing new is due (the cost paid
  every interval).
* ``timer_cases_per_s`` — 300 cases waiting on a 1-hour boundary timer; the clock is moved two hours
  on and one timer sweep advances them all (lock, load the stored state, refresh timers, run, re-project,
  save, audit, commit per case) with a cold workflow cache, as in a separate scheduler process.

SQLite figures carry no suffix; PostgreSQL ones (when reachable) end in ``_postgresql``.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from engine import clock, users
from engine.core import build_engine
from engine.db import make_engine, make_session_factory, transaction
from engine.formdefs import load_forms
from engine.migrate import upgrade
from engine.scheduling import dispatch, escalation, timers
from engine.settings import load_settings
from tests.bench.engine import new_postgresql_database
from tests.support import factories
from tests.support.referral10 import FORMS_DIR, referral_files
from tests.support.scheduling import bulk_tasks

N_TASKS = 100_000
N_TIMER_CASES = 300
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 火 10:00 JST


def _setup(url: str):  # type: ignore[no-untyped-def]
    db = make_engine(url)
    upgrade(db)
    settings = load_settings({}, database_url=url, forms_dir=str(FORMS_DIR))
    forms, _ = load_forms(settings.forms_dir)
    return db, settings, forms, make_session_factory(db)


def overdue_sweep(url: str) -> tuple[float, float, float]:
    db, settings, forms, sessions = _setup(url)
    engine = build_engine(settings, forms)
    now = clock.now()
    with transaction(sessions, write=True) as s:
        sup = factories.actor(s, "supervisor", "AG-BENCH", "bench_sup", roles=["supervisor", "window"])
        factories.deploy(engine, s, referral_files())
    dues = []
    for i in range(N_TASKS):
        bucket = i % 20
        if bucket == 0:
            dues.append(now - timedelta(days=10))  # overdue, second level too
        elif bucket == 1:
            dues.append(now + timedelta(hours=20))  # within the reminder lead
        else:
            dues.append(now + timedelta(days=30 + i % 60))
    with transaction(sessions, write=True) as s:
        bulk_tasks(s, N_TASKS, dues, agency_id=sup.agency_id, assignee_id=sup.user_id)
    if db.dialect.name == "postgresql":
        with db.begin() as conn:
            conn.execute(text("ANALYZE"))
    t0 = time.perf_counter()
    counts = escalation.sweep(engine, sessions)
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    delivered = dispatch.sweep(engine, sessions)
    delivery = time.perf_counter() - t0
    t0 = time.perf_counter()
    escalation.sweep(engine, sessions)
    dispatch.sweep(engine, sessions)
    steady = time.perf_counter() - t0
    db.dispose()
    assert sum(counts.values()) == delivered == 3 * N_TASKS // 20, (counts, delivered)
    return first, delivery, steady


def timer_rate(url: str) -> float:
    from tests.engine.test_scheduling_timers import timer_files

    db, settings, forms, sessions = _setup(url)
    engine = build_engine(settings, forms)
    frozen = clock.FrozenClock(START)
    previous = clock.use(frozen)
    try:
        with transaction(sessions, write=True) as s:
            who = factories.actor(s, "window", "AG-BENCH", "bench_win")
            factories.deploy(engine, s, timer_files("PT1H"))
        for _ in range(N_TIMER_CASES):
            with transaction(sessions, write=True) as s:
                factories.start(engine, s, who)
        frozen.advance(hours=2)
        cold = build_engine(settings, forms)  # a scheduler process: empty workflow cache
        t0 = time.perf_counter()
        fired = timers.sweep(cold, sessions)
        elapsed = time.perf_counter() - t0
    finally:
        clock.use(previous)
        db.dispose()
    assert fired == N_TIMER_CASES, fired
    return fired / elapsed


def _backend(results: dict[str, tuple[float, str]], suffix: str, make_url_: Callable[[], str]) -> None:
    first, delivery, steady = overdue_sweep(make_url_())
    results[f"overdue_sweep_s_100k{suffix}"] = (first, "s")
    results[f"dispatch_s_15k{suffix}"] = (delivery, "s")
    results[f"overdue_sweep_s_100k_steady{suffix}"] = (steady, "s")
    results[f"timer_cases_per_s{suffix}"] = (timer_rate(make_url_()), "cases/s")


def run() -> dict[str, tuple[float, str]]:
    users.use_hasher(users.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    results: dict[str, tuple[float, str]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        counter = iter(range(100))
        _backend(results, "", lambda: f"sqlite:///{tmp}/bench{next(counter)}.db")
    drops: list[Callable[[], None]] = []
    try:

        def pg() -> str:
            url, drop = new_postgresql_database()
            drops.append(drop)
            return url

        _backend(results, "_postgresql", pg)
    except Exception as exc:  # noqa: BLE001 - PostgreSQL is optional for a bench run
        print(f"# PostgreSQL not reachable or failed ({type(exc).__name__}); skipped the _postgresql figures")
    finally:
        for drop in drops:
            drop()
    return results


if __name__ == "__main__":
    for key, (value, unit) in run().items():
        print(f"bench {key} {value:.3f} {unit}")
