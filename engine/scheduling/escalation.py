"""Reminders and escalations, recorded exactly once per (task, level) through the outbox.

Levels of an open task with a due time (``human_tasks.due_at``):

* **0 — reminder (期限間近)**: the task is not yet overdue and falls due within ``reminder_lead``
  (default ``2BD``: by the end of the second business day from now) — the same boundary as the
  inbox's 期限間近 view. Goes to the assignee (or, while nobody has claimed it, to the supervisors
  of the task's agency).
* **1 — overdue (期限超過)**: ``due_at`` has passed. Goes to the assignee and the agency's supervisors.
* **2 — overdue, second level**: overdue for ``escalation_second_level_days`` business days. Goes to
  the agency's supervisors and the supervisors of the coordinating office (担当部署).

Each sweep is set-based SQL: for one level, pick up to ``batch`` task ids that meet the condition
and have no escalation of that level yet, ``INSERT … SELECT … ON CONFLICT DO NOTHING`` them into
``escalations`` (``UNIQUE(task_id, level)``) and insert one ``outbox`` row per new escalation, and
commit. A crash rolls the batch back and the next sweep redoes it; the unique constraint makes a
second escalation impossible. The "agency" of a task without one is the case's lead agency, else its
intake agency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, and_, exists, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from .. import clock
from ..core import Engine
from ..db import is_postgresql, transaction
from ..durations import deadline
from ..models import Case, Escalation, HumanTask, OutboxMessage, UTCDateTime
from ..models.schedule import ESCALATION_KINDS

DEFAULT_BATCH = 5000
LEVELS = (1, 2, 0)  # overdue first: a task found overdue gets no late reminder


@dataclass(frozen=True)
class Thresholds:
    """The due-time boundaries of each level at one instant."""

    now: datetime
    reminder_until: datetime
    second_level_before: datetime | None


def thresholds(engine: Engine, now: datetime) -> Thresholds:
    settings = engine.settings
    second = None
    if settings.escalation_second_level_days > 0:
        second = engine.calendar.subtract_business_days(now, settings.escalation_second_level_days)
    return Thresholds(
        now=now,
        reminder_until=deadline(settings.reminder_lead, now, engine.calendar),
        second_level_before=second,
    )


def level_condition(level: int, t: Thresholds) -> ColumnElement[bool]:
    """SQL condition on ``HumanTask`` for "this task has reached ``level``" at ``t.now``."""
    base = and_(HumanTask.status == "open", HumanTask.due_at.is_not(None))
    if level == 0:
        return and_(base, HumanTask.due_at >= t.now, HumanTask.due_at <= t.reminder_until)
    if level == 1:
        return and_(base, HumanTask.due_at < t.now)
    if level == 2 and t.second_level_before is not None:
        return and_(base, HumanTask.due_at < t.now, HumanTask.due_at < t.second_level_before)
    return HumanTask.id < 0


def _not_escalated(level: int) -> ColumnElement[bool]:
    return ~exists().where(Escalation.task_id == HumanTask.id, Escalation.level == level)


def pending_task_ids(session: Session, level: int, t: Thresholds, limit: int) -> list[int]:
    """Tasks that have reached ``level`` and have no escalation of that level yet (for inspection)."""
    stmt = (
        select(HumanTask.id)
        .where(level_condition(level, t), _not_escalated(level))
        .order_by(HumanTask.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _insert(session: Session, table: type) -> Any:
    return (postgresql.insert if is_postgresql(session) else sqlite.insert)(table)


def record_batch(session: Session, level: int, t: Thresholds, limit: int) -> int:
    """Escalate up to ``limit`` tasks at ``level`` with their outbox rows (flushes; the caller commits).

    One ``INSERT … SELECT … ON CONFLICT DO NOTHING RETURNING`` picks and records the tasks, and the
    outbox rows of exactly the escalations it created are added in the same statement (PostgreSQL,
    a data-modifying CTE) or the next one (SQLite).
    """
    now = literal(t.now, UTCDateTime)
    agency = func.coalesce(HumanTask.agency_id, Case.lead_agency_id, Case.intake_agency_id)
    source = (
        select(
            HumanTask.id,
            literal(level),
            literal(ESCALATION_KINDS[level]),
            HumanTask.case_id,
            agency,
            HumanTask.assignee_id,
            HumanTask.due_at,
            now,
        )
        .join(Case, Case.id == HumanTask.case_id)
        .where(level_condition(level, t), _not_escalated(level))
        .order_by(HumanTask.id)
        .limit(limit)
    )
    columns = ["task_id", "level", "kind", "case_id", "agency_id", "assignee_id", "due_at", "created_at"]
    stmt = _insert(session, Escalation).from_select(columns, source).on_conflict_do_nothing()
    outbox_columns = ["escalation_id", "status", "attempts", "next_attempt_at", "created_at"]
    if is_postgresql(session):  # one statement: WITH new AS (INSERT … RETURNING id) INSERT INTO outbox …
        new = stmt.returning(Escalation.id).cte("new_escalations")
        both = _insert(session, OutboxMessage).from_select(
            outbox_columns, select(new.c.id, literal("pending"), literal(0), now, now)
        )
        added = len(list(session.scalars(both.returning(OutboxMessage.id))))
        session.flush()
        return added
    new_ids = list(session.scalars(stmt.returning(Escalation.id)))
    if new_ids:
        outbox = select(Escalation.id, literal("pending"), literal(0), now, now).where(
            Escalation.id.between(min(new_ids), max(new_ids)),
            Escalation.level == level,
            ~exists().where(OutboxMessage.escalation_id == Escalation.id),
        )
        session.execute(
            _insert(session, OutboxMessage).from_select(outbox_columns, outbox).on_conflict_do_nothing()
        )
    session.flush()
    return len(new_ids)


def sweep(
    engine: Engine,
    sessions: sessionmaker[Session],
    batch: int = DEFAULT_BATCH,
    should_continue: object = None,
) -> dict[int, int]:
    """Record every reminder and escalation that is due now; one transaction per batch.

    Returns the number of new escalations per level.
    """
    t = thresholds(engine, clock.now())
    keep_going = should_continue if callable(should_continue) else (lambda: True)
    counts = {level: 0 for level in LEVELS}
    for level in LEVELS:
        while keep_going():
            with transaction(sessions, write=True) as session:
                added = record_batch(session, level, t, batch)
            counts[level] += added
            if added < batch:
                break
    return counts
