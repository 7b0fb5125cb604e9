"""Named inbox queries (担当タスク): mine, claimable, my agency's, due soon, overdue, with counts.

Each query filters on indexed ``human_tasks`` columns joined to ``cases`` and is restricted by
:func:`engine.policy.case_filter`, so no list or count shows a case the actor may not see. Rows come
back as :class:`~engine.views.TaskView` with the person's name masked where the actor may not see it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.orm import Session, aliased

from . import audit, clock, policy
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


def _base(engine: Engine, actor: Actor, view: View, now: datetime, visible: ColumnElement[bool]) -> Select:
    return (select(HumanTask, Case.case_number, Case.subject_name, Case.confidential, Case.stage)
            .join(Case, Case.id == HumanTask.case_id)
            .where(HumanTask.status == "open", view_filter(engine, actor, view, now), visible))


def list_tasks(engine: Engine, session: Session, actor: Actor, view: View = "mine", *, sort: str = "due",
               descending: bool = False, step: str | None = None, case_number: str | None = None,
               page: int = 1, per_page: int = 50, visible: ColumnElement[bool] | None = None) -> Page:
    """One page of open tasks in ``view``; ``visible`` is :func:`engine.policy.case_filter` when the
    caller already built it for this actor (building it costs more than the queries)."""
    now = clock.now()
    per_page = max(1, min(per_page, MAX_PER_PAGE))
    page = max(1, page)
    stmt = _base(engine, actor, view, now, policy.case_filter(actor) if visible is None else visible)
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
    secret = {t.case_id for t, _, _, confidential, _ in results if confidential}
    shown = policy.names_shown(session, actor, secret) if secret else set()
    rows = [task_view(t, number, names, agencies, stage=stage,
                      subject_name=MASK if t.case_id in secret and t.case_id not in shown else subject)
            for t, number, subject, _, stage in results]
    audit.record(session, actor, "task.list", "task_list", view,
                 detail={"rows": len(rows), "cases": sorted({t.case_id for t in tasks})})
    return Page(rows=rows, total=total, page=page, per_page=per_page)


def step_choices(engine: Engine, session: Session, actor: Actor, view: View = "mine",
                 visible: ColumnElement[bool] | None = None) -> list[tuple[str, str]]:
    """The distinct steps (element id, title) of the open tasks in ``view``, for the inbox filter."""
    now = clock.now()
    visible = policy.case_filter(actor) if visible is None else visible
    stmt = (select(HumanTask.element_id, func.min(HumanTask.title))
            .join(Case, Case.id == HumanTask.case_id)
            .where(HumanTask.status == "open", view_filter(engine, actor, view, now), visible)
            .group_by(HumanTask.element_id).order_by(func.min(HumanTask.title)).limit(100))
    return [(element_id, title) for element_id, title in session.execute(stmt).tuples()]


def counts(engine: Engine, session: Session, actor: Actor,
           visible: ColumnElement[bool] | None = None) -> dict[str, int]:
    """The number of open tasks in every view, in one query (``count(*) FILTER (WHERE …)`` per view)."""
    now = clock.now()
    visible = policy.case_filter(actor) if visible is None else visible
    columns = [func.count().filter(view_filter(engine, actor, view, now)).label(view) for view in VIEWS]
    row = session.execute(select(*columns).select_from(HumanTask).join(Case, Case.id == HumanTask.case_id)
                          .where(HumanTask.status == "open", visible)).one()
    return {view: int(row[i] or 0) for i, view in enumerate(VIEWS)}


@dataclass
class Overview:
    """Everything the inbox page shows: one page of a view, the count of every view, the step filter."""

    page: Page
    counts: dict[str, int]
    steps: list[tuple[str, str]]


def overview(engine: Engine, session: Session, actor: Actor, view: View = "mine", **options: Any) -> Overview:
    """The inbox page in three queries, with the access predicate built once (``options``: see list_tasks)."""
    visible = policy.case_filter(actor)
    return Overview(page=list_tasks(engine, session, actor, view, visible=visible, **options),
                    counts=counts(engine, session, actor, visible),
                    steps=step_choices(engine, session, actor, view, visible))


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


__all__ = ["MASK", "VIEWS", "Overview", "Page", "aliased", "case_tasks", "counts", "list_tasks", "overview",
           "step_choices"]
