"""Named inbox queries (担当タスク): mine, claimable, my agency's, due soon, overdue, with counts.

Each query filters on indexed ``human_tasks`` columns joined to ``cases`` and is restricted by
:func:`engine.policy.case_filter`, so no list or count shows a case the actor may not see. Rows come
back as :class:`~engine.views.TaskView` with the person's name masked where the actor may not see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from . import clock, policy
from .actor import Actor
from .core import Engine
from .durations import deadline
from .models import Agency, Case, HumanTask, User
from .views import TaskView, task_view

View = Literal["mine", "claimable", "agency", "due_soon", "overdue"]
VIEWS: tuple[View, ...] = ("mine", "claimable", "due_soon", "overdue", "agency")
SORTS = {"due": "due_at", "created": "created_at", "case": "case_number", "step": "title"}
MASK = "＊＊＊"
MAX_PER_PAGE = 200


@dataclass
class Page:
    rows: list[TaskView]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _mine(actor: Actor) -> ColumnElement[bool]:
    return HumanTask.assignee_id == actor.user_id


def _claimable(actor: Actor) -> ColumnElement[bool]:
    roles = sorted(actor.roles)
    return and_(HumanTask.assignee_id.is_(None), HumanTask.role.in_(roles),
                or_(HumanTask.agency_id.is_(None), HumanTask.agency_id == actor.agency_id))


def due_soon_threshold(engine: Engine, now: datetime) -> datetime:
    return deadline(engine.settings.reminder_lead, now, engine.calendar)


def view_filter(engine: Engine, actor: Actor, view: View, now: datetime) -> ColumnElement[bool]:
    actionable = or_(_mine(actor), _claimable(actor))
    if view == "mine":
        return _mine(actor)
    if view == "claimable":
        return _claimable(actor)
    if view == "agency":
        return HumanTask.agency_id == actor.agency_id if actor.agency_id is not None else HumanTask.id < 0
    if view == "overdue":
        return and_(actionable, HumanTask.due_at < now)
    if view == "due_soon":
        return and_(actionable, HumanTask.due_at >= now, HumanTask.due_at <= due_soon_threshold(engine, now))
    raise ValueError(f"unknown inbox view {view!r}")


def _base(engine: Engine, actor: Actor, view: View, now: datetime) -> Select:
    return (select(HumanTask, Case.case_number, Case.subject_name, Case.confidential, Case.stage)
            .join(Case, Case.id == HumanTask.case_id)
            .where(HumanTask.status == "open", view_filter(engine, actor, view, now), policy.case_filter(actor)))


def list_tasks(engine: Engine, session: Session, actor: Actor, view: View = "mine", *, sort: str = "due",
               descending: bool = False, step: str | None = None, case_number: str | None = None,
               page: int = 1, per_page: int = 50) -> Page:
    now = clock.now()
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    stmt = _base(engine, actor, view, now)
    if step:
        stmt = stmt.where(HumanTask.element_id == step)
    if case_number:
        stmt = stmt.where(Case.case_number.contains(case_number.strip()[:40], autoescape=True))
    total = session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery())) or 0
    column = Case.case_number if sort == "case" else getattr(HumanTask, SORTS.get(sort, "due_at"))
    order = column.desc() if descending else column.asc()
    stmt = stmt.order_by(column.is_(None), order, HumanTask.id).limit(per_page).offset((page - 1) * per_page)
    results = session.execute(stmt).all()
    tasks = [r[0] for r in results]
    names = _names(session, {t.assignee_id for t in tasks} | {t.completed_by_id for t in tasks})
    agencies = _agencies(session, {t.agency_id for t in tasks})
    rows = [task_view(t, number, names, agencies, subject_name=(MASK if confidential and not
                                                               actor.has_role("coordinator") else subject),
                      stage=stage)
            for t, number, subject, confidential, stage in results]
    return Page(rows=rows, total=total, page=page, per_page=per_page)


def counts(engine: Engine, session: Session, actor: Actor) -> dict[str, int]:
    now = clock.now()
    out = {}
    for view in VIEWS:
        stmt = (select(func.count()).select_from(HumanTask).join(Case, Case.id == HumanTask.case_id)
                .where(HumanTask.status == "open", view_filter(engine, actor, view, now), policy.case_filter(actor)))
        out[view] = session.scalar(stmt) or 0
    return out


def case_tasks(session: Session, case: Case, status: str | None = None) -> list[TaskView]:
    stmt = select(HumanTask).where(HumanTask.case_id == case.id)
    if status:
        stmt = stmt.where(HumanTask.status == status)
    tasks = list(session.scalars(stmt.order_by(HumanTask.created_at, HumanTask.id)))
    names = _names(session, {t.assignee_id for t in tasks} | {t.completed_by_id for t in tasks})
    agencies = _agencies(session, {t.agency_id for t in tasks})
    return [task_view(t, case.case_number, names, agencies, stage=case.stage) for t in tasks]


def _names(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(User.id, User.display_name).where(User.id.in_(ids))).tuples().all())


def _agencies(session: Session, ids: set[int | None]) -> dict[int, str]:
    ids = {i for i in ids if i}
    if not ids:
        return {}
    return dict(session.execute(select(Agency.id, Agency.name).where(Agency.id.in_(ids))).tuples().all())


__all__ = ["MASK", "VIEWS", "Page", "aliased", "case_tasks", "counts", "list_tasks"]
