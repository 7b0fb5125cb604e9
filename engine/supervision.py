"""進捗管理: what supervisors see — overdue and due-soon steps, idle cases, counts per element, 担当者変更.

Every query is restricted twice: by :func:`engine.policy.case_filter` (no row of a case the actor may
not see) and by the supervisor's scope — the coordinating office sees every agency, a supervisor sees
the tasks of their own agency and the agency-less steps of cases their agency took in. Only people
with the ``supervisor`` or ``coordinator`` role may use these views.

超過日数 (``overdue_days``) counts started calendar days past the due time, as the inbox shows it.
"Unassigned" time runs from the task's creation to its claim (or now); "assigned" time from the
claim (or the last reassignment) to now.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, case, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from . import audit, clock, policy, tasks
from .actor import Actor
from .core import Engine
from .errors import EngineError, Invalid, NotAllowed
from .inbox import due_soon_threshold
from .models import Agency, Case, FormRecord, HumanTask, SchedulerIncident, User

Which = Literal["overdue", "due_soon"]
SUPERVISOR_ROLES = ("supervisor", "coordinator")
ACTIVE_CASE = ("active", "waiting_consent")
MAX_ROWS = 5000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
CSV_HEADER = [
    "タスクID",
    "ケース番号",
    "ステップ",
    "ステップID",
    "機関",
    "担当者",
    "期限",
    "超過日数",
    "未割当時間(時間)",
    "担当後時間(時間)",
]


@dataclass
class SupervisedTask:
    task_id: int
    case_id: int
    case_number: str
    element_id: str
    title: str
    agency: str | None
    assignee: str | None
    due_at: datetime | None
    overdue_days: int
    process_id: str
    unassigned_hours: float
    assigned_hours: float | None

    def as_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["due_at"] = self.due_at.isoformat() if self.due_at else None
        return data


@dataclass
class IdleCase:
    case_id: int
    case_number: str
    current_step: str
    stage: str
    last_activity_at: datetime
    idle_days: int


def ensure_supervisor(actor: Actor) -> None:
    if not actor.has_role(*SUPERVISOR_ROLES):
        raise NotAllowed("進捗管理 is for supervisors and the coordinating office")


def scope(actor: Actor) -> ColumnElement[bool]:
    """Tasks a supervisor oversees (on top of the case visibility policy)."""
    if actor.is_system or actor.has_role("coordinator"):
        return true()
    if actor.agency_id is None:
        return false()
    return or_(
        HumanTask.agency_id == actor.agency_id,
        and_(HumanTask.agency_id.is_(None), Case.intake_agency_id == actor.agency_id),
    )


def overdue_days(due: datetime | None, now: datetime) -> int:
    if due is None:
        return 0
    seconds = (now - clock.ensure_utc(due)).total_seconds()
    return max(0, -(-int(seconds) // 86400)) if seconds > 0 else 0


def _condition(engine: Engine, which: Which, now: datetime) -> ColumnElement[bool]:
    if which == "overdue":
        return HumanTask.due_at < now
    return and_(HumanTask.due_at >= now, HumanTask.due_at <= due_soon_threshold(engine, now))


def _base(actor: Actor) -> Select:
    return (
        select(HumanTask, Case.case_number, Agency.name, User.display_name)
        .join(Case, Case.id == HumanTask.case_id)
        .outerjoin(Agency, Agency.id == HumanTask.agency_id)
        .outerjoin(User, User.id == HumanTask.assignee_id)
        .where(HumanTask.status == "open", policy.case_filter(actor), scope(actor))
    )


def task_list(
    engine: Engine,
    session: Session,
    actor: Actor,
    which: Which = "overdue",
    *,
    element_id: str | None = None,
    agency_id: int | None = None,
    assignee_id: int | None = None,
    unassigned: bool = False,
    limit: int = MAX_ROWS,
) -> list[SupervisedTask]:
    """Overdue (most overdue first) or due-soon (soonest first) open tasks, filtered by step/agency/worker."""
    ensure_supervisor(actor)
    now = clock.now()
    stmt = _base(actor).where(_condition(engine, which, now))
    if element_id:
        stmt = stmt.where(HumanTask.element_id == element_id)
    if agency_id is not None:
        stmt = stmt.where(HumanTask.agency_id == agency_id)
    if assignee_id is not None:
        stmt = stmt.where(HumanTask.assignee_id == assignee_id)
    if unassigned:
        stmt = stmt.where(HumanTask.assignee_id.is_(None))
    stmt = stmt.order_by(HumanTask.due_at, HumanTask.id).limit(max(1, min(limit, MAX_ROWS)))
    return [_row(t, number, agency, assignee, now) for t, number, agency, assignee in session.execute(stmt)]


def _row(
    t: HumanTask, number: str, agency: str | None, assignee: str | None, now: datetime
) -> SupervisedTask:
    claimed = clock.ensure_utc(t.claimed_at) if t.assignee_id and t.claimed_at else None
    created = clock.ensure_utc(t.created_at)
    unassigned = ((claimed or now) - created).total_seconds() / 3600
    assigned = (now - claimed).total_seconds() / 3600 if claimed else None
    return SupervisedTask(
        t.id,
        t.case_id,
        number,
        t.element_id,
        t.title,
        agency,
        assignee,
        t.due_at,
        overdue_days(t.due_at, now),
        t.process_id,
        round(max(0.0, unassigned), 1),
        round(max(0.0, assigned), 1) if assigned is not None else None,
    )


def _counts(engine: Engine, session: Session, actor: Actor, now: datetime, *group: Any) -> list[Any]:
    soon = due_soon_threshold(engine, now)
    overdue = func.sum(case((HumanTask.due_at < now, 1), else_=0))
    due_soon = func.sum(case((and_(HumanTask.due_at >= now, HumanTask.due_at <= soon), 1), else_=0))
    stmt = (
        select(*group, func.count(HumanTask.id), overdue, due_soon)
        .select_from(HumanTask)
        .join(Case, Case.id == HumanTask.case_id)
        .where(HumanTask.status == "open", policy.case_filter(actor), scope(actor))
        .group_by(*group)
    )
    return list(session.execute(stmt))


def element_counts(engine: Engine, session: Session, actor: Actor) -> dict[str, dict[str, dict[str, int]]]:
    """Waiting / overdue / due-soon counts per BPMN element, per process: ``{process: {element: {...}}}``."""
    ensure_supervisor(actor)
    out: dict[str, dict[str, dict[str, int]]] = {}
    for process_id, element_id, waiting, overdue, soon in _counts(
        engine, session, actor, clock.now(), HumanTask.process_id, HumanTask.element_id
    ):
        out.setdefault(process_id, {})[element_id] = {
            "waiting": waiting,
            "overdue": int(overdue or 0),
            "due_soon": int(soon or 0),
        }
    return out


def summary(engine: Engine, session: Session, actor: Actor) -> dict[str, Any]:
    """Counts by step, agency and worker, idle cases, timer incidents (``/api/v1/supervisor/summary``)."""
    ensure_supervisor(actor)
    now = clock.now()
    steps = _counts(engine, session, actor, now, HumanTask.process_id, HumanTask.element_id, HumanTask.title)
    agencies = _counts(engine, session, actor, now, HumanTask.agency_id)
    workers = _counts(engine, session, actor, now, HumanTask.assignee_id)
    names = dict(session.execute(select(Agency.id, Agency.name)).tuples().all())
    people = dict(
        session.execute(
            select(User.id, User.display_name).where(User.id.in_({w[0] for w in workers if w[0]}))
        )
        .tuples()
        .all()
    )

    def entry(waiting: int, overdue: Any, soon: Any) -> dict[str, int]:
        return {"waiting": waiting, "overdue": int(overdue or 0), "due_soon": int(soon or 0)}

    return {
        "generated_at": now.isoformat(),
        "overdue": sum(int(r[-2] or 0) for r in agencies),
        "due_soon": sum(int(r[-1] or 0) for r in agencies),
        "waiting": sum(r[-3] for r in agencies),
        "by_step": sorted(
            (
                {"process_id": p, "element_id": e, "title": title, **entry(w, o, s)}
                for p, e, title, w, o, s in steps
            ),
            key=lambda d: (-d["overdue"], d["element_id"]),
        ),
        "by_agency": [
            {"agency_id": a, "agency": names.get(a) if a else None, **entry(w, o, s)}
            for a, w, o, s in agencies
        ],
        "by_worker": [
            {"user_id": u, "assignee": people.get(u) if u else None, **entry(w, o, s)}
            for u, w, o, s in workers
        ],
        "inactive_cases": len(idle_cases(engine, session, actor)),
        "timer_incidents": session.scalar(
            select(func.count()).select_from(SchedulerIncident).where(SchedulerIncident.resolved_at.is_(None))
        )
        or 0,
    }


def idle_cases(engine: Engine, session: Session, actor: Actor, limit: int = MAX_ROWS) -> list[IdleCase]:
    """動きのないケース: open cases with no update, claim, completion or record for ``inactivity_days``."""
    ensure_supervisor(actor)
    now = clock.now()
    cutoff = now - timedelta(days=engine.settings.inactivity_days)
    recent_task = exists().where(
        HumanTask.case_id == Case.id,
        or_(HumanTask.created_at >= cutoff, HumanTask.claimed_at >= cutoff, HumanTask.completed_at >= cutoff),
    )
    recent_record = exists().where(FormRecord.case_id == Case.id, FormRecord.submitted_at >= cutoff)
    overseen = (
        exists().where(HumanTask.case_id == Case.id, HumanTask.status == "open", scope(actor))
        if not actor.has_role("coordinator")
        else true()
    )
    stmt = (
        select(Case)
        .where(
            Case.status.in_(ACTIVE_CASE),
            Case.updated_at < cutoff,
            ~recent_task,
            ~recent_record,
            policy.case_filter(actor),
            overseen,
        )
        .order_by(Case.updated_at, Case.id)
        .limit(limit)
    )
    out = []
    for c in session.scalars(stmt):
        last = clock.ensure_utc(c.updated_at)
        out.append(IdleCase(c.id, c.case_number, c.current_step, c.stage, last, (now - last).days))
    return out


def bulk_reassign(
    session: Session, actor: Actor, task_ids: Iterable[int], username: str | None
) -> dict[str, Any]:
    """担当者変更 for many tasks: each through :func:`engine.tasks.reassign` (its own audit event).

    A task that cannot be reassigned (gone, not supervised, ineligible assignee) is reported in
    ``failed`` with its error code and leaves the others untouched.
    """
    ensure_supervisor(actor)
    ids = list(dict.fromkeys(int(i) for i in task_ids))
    if not ids:
        raise Invalid({"task_ids": ["タスクを選んでください。"]})
    done: list[int] = []
    failed: dict[int, str] = {}
    for task_id in ids:
        savepoint = session.begin_nested()
        try:
            tasks.reassign(session, actor, task_id, username or None)
            savepoint.commit()
            done.append(task_id)
        except EngineError as exc:
            savepoint.rollback()
            failed[task_id] = exc.code
    return {"done": done, "failed": failed}


def reassign_candidates(session: Session, actor: Actor) -> list[tuple[str, str]]:
    """Active staff a supervisor may pick as the new assignee: ``(username, display name)``."""
    ensure_supervisor(actor)
    stmt = select(User.username, User.display_name).where(User.active.is_(True)).order_by(User.username)
    if not actor.has_role("coordinator"):
        stmt = stmt.where(User.agency_id == actor.agency_id)
    return [(u, n) for u, n in session.execute(stmt)]


def neutralise(value: Any) -> str:
    """A CSV cell Excel will not run as a formula: text starting with = + - @ tab or CR gets a ``'``."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int | float):
        return str(value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def _local(value: datetime | None) -> str:
    return clock.ensure_utc(value).astimezone(clock.TOKYO).strftime("%Y-%m-%d %H:%M") if value else ""


def csv_export(session: Session, actor: Actor, rows: list[SupervisedTask], which: str = "overdue") -> bytes:
    """UTF-8 with BOM for Excel; records one ``supervisor.export`` audit event (ids only)."""
    ensure_supervisor(actor)
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    for r in rows:
        writer.writerow(
            [
                neutralise(v)
                for v in (
                    r.task_id,
                    r.case_number,
                    r.title,
                    r.element_id,
                    r.agency,
                    r.assignee,
                    _local(r.due_at),
                    r.overdue_days,
                    r.unassigned_hours,
                    r.assigned_hours,
                )
            ]
        )
    audit.record(session, actor, "supervisor.export", "task_list", which, detail={"rows": len(rows)})
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
