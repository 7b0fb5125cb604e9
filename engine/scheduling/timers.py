"""The timer job: advance every case whose next BPMN timer is due, one case per transaction.

``cases.next_timer_at`` (projected after every engine run, see :mod:`engine.projection`) is the
truth; there is never one in-memory job per timer. Each sweep selects the cases with
``next_timer_at <= now``, and for each one: locks the row (``FOR UPDATE SKIP LOCKED`` on
PostgreSQL, so a case a user is completing right now is simply picked up by the next sweep; on
SQLite the write transaction serialises), re-checks that a timer is still due, and calls
:func:`engine.events.fire_due_timers` (``refresh_timers()`` and two engine passes, engine-notes
§3.2; re-project tasks and the next timer; serialise; one ``case.timer`` audit event), and commits.
A timer that passed while everything was stopped is due at the first sweep after the restart and
fires once: the case's stored state and ``next_timer_at`` move on in the same commit.

A case whose timers keep failing gets a ``scheduler_incidents`` row with a back-off (1, 5, 15, 60
minutes) instead of being retried every interval; supervisors see the count.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from .. import clock, events
from ..core import Engine
from ..db import begin_write, is_postgresql, transaction
from ..models import Case, SchedulerIncident

log = logging.getLogger("tsunagu.scheduler")

INACTIVE_STATUSES = ("completed", "closed", "suspended")
BACKOFF_MINUTES = (1, 5, 15, 60)
DEFAULT_BATCH = 200


def due_case_ids(session: Session, now: datetime, limit: int, exclude: set[int] | None = None) -> list[int]:
    """Cases with a due timer, oldest first, leaving out those backing off after failures."""
    backing_off = exists().where(
        SchedulerIncident.kind == "timer",
        SchedulerIncident.object_id == Case.id,
        SchedulerIncident.resolved_at.is_(None),
        SchedulerIncident.retry_at > now,
    )
    stmt = (
        select(Case.id)
        .where(Case.next_timer_at <= now, Case.status.not_in(INACTIVE_STATUSES), ~backing_off)
        .order_by(Case.next_timer_at, Case.id)
        .limit(limit + len(exclude or ()))
    )
    return [i for i in session.scalars(stmt) if i not in (exclude or set())][:limit]


def _lock_if_due(session: Session, case_id: int, now: datetime) -> Case | None:
    stmt = (
        select(Case)
        .where(Case.id == case_id, Case.next_timer_at <= now, Case.status.not_in(INACTIVE_STATUSES))
        .execution_options(populate_existing=True)
    )
    if is_postgresql(session):
        stmt = stmt.with_for_update(of=Case, skip_locked=True)
    return session.scalar(stmt)


def fire_case_timers(engine: Engine, session: Session, case_id: int, now: datetime | None = None) -> bool:
    """Fire the due timers of one case inside the caller's write transaction (flushes only).

    Locks the case first (skipping it on PostgreSQL when a request holds it), then runs
    :func:`engine.events.fire_due_timers` (load, refresh timers, two engine passes, re-project, save,
    one ``case.timer`` audit event with the due and fired times). Returns False when the case is locked
    by someone else or no timer is due any more.
    """
    begin_write(session)
    if _lock_if_due(session, case_id, now or clock.now()) is None:
        return False
    events.fire_due_timers(engine, session, case_id)
    return True


def _insert_incident(session: Session):  # type: ignore[no-untyped-def]
    return (postgresql.insert if is_postgresql(session) else sqlite.insert)(SchedulerIncident)


def record_failure(session: Session, case_id: int, error: str, now: datetime) -> None:
    """Count one failed attempt for the case and set its back-off (one incident row per case)."""
    begin_write(session)
    session.execute(
        _insert_incident(session)
        .values(
            kind="timer",
            object_id=case_id,
            attempts=0,
            error=error[:200],
            first_at=now,
            last_at=now,
            retry_at=now,
            resolved_at=None,
        )
        .on_conflict_do_nothing()
    )
    row = session.scalar(
        select(SchedulerIncident)
        .where(SchedulerIncident.kind == "timer", SchedulerIncident.object_id == case_id)
        .execution_options(populate_existing=True)
    )
    if row.resolved_at is not None:
        row.attempts, row.first_at, row.resolved_at = 0, now, None
    row.attempts += 1
    row.error, row.last_at = error[:200], now
    row.retry_at = now + timedelta(minutes=BACKOFF_MINUTES[min(row.attempts, len(BACKOFF_MINUTES)) - 1])
    session.flush()


def _resolve(session: Session, case_id: int, now: datetime) -> None:
    session.execute(
        update(SchedulerIncident)
        .where(
            and_(
                SchedulerIncident.kind == "timer",
                SchedulerIncident.object_id == case_id,
                SchedulerIncident.resolved_at.is_(None),
            )
        )
        .values(resolved_at=now)
    )


def sweep(
    engine: Engine,
    sessions: sessionmaker[Session],
    batch: int = DEFAULT_BATCH,
    should_continue: Callable[[], bool] = lambda: True,
) -> int:
    """One pass over the cases with due timers; returns how many cases were advanced.

    Each case is its own transaction, so a crash loses at most the case in progress (rolled back,
    picked up again next time). Each case is tried at most once per sweep.
    """
    fired = 0
    seen: set[int] = set()
    while should_continue():
        now = clock.now()
        with transaction(sessions) as session:
            ids = due_case_ids(session, now, batch, seen)
        if not ids:
            break
        for case_id in ids:
            if not should_continue():
                break
            seen.add(case_id)
            try:
                with transaction(sessions, write=True) as session:
                    if fire_case_timers(engine, session, case_id, now):
                        fired += 1
                        _resolve(session, case_id, now)
            except Exception as exc:  # noqa: BLE001 - one failing case must not stop the others
                log.warning("timer of case %s failed: %s", case_id, type(exc).__name__)
                with transaction(sessions, write=True) as session:
                    record_failure(session, case_id, type(exc).__name__, now)
    return fired
