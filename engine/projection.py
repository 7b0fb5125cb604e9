"""Projecting a workflow's state into indexed rows: human tasks, due times, timers, case status.

After every engine run, in the same transaction, the READY human steps become ``human_tasks`` rows
(new ones get their role, agency, assignee and due time), rows whose step went away are cancelled,
and the case row gets its current step, stage, status and the time of its next BPMN timer. The inbox,
the supervisor views and the scheduler read only these columns.
"""

from __future__ import annotations

from collections import ChainMap
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.events.event_types import CatchingEvent
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from . import clock, row_writes, runtime
from .bpmn.timers import next_deadline
from .core import Engine
from .durations import NotationError, deadline, is_literal
from .errors import ExpressionError
from .expressions import evaluate
from .models import Case, HumanTask, User, UserRole
from .runtime import LiveCase
from .users import agency_ids

MAX_STEP_TEXT = 300
# The case's open task rows: ids first (Core; usually only the step just completed was open, and it
# is not any more), whole rows only for the steps that stay open.
_OPEN_TASK_IDS = select(HumanTask.spiff_task_id, HumanTask.id).where(
    HumanTask.case_id == bindparam("case_id"), HumanTask.status == "open")
_TASKS_BY_ID = (select(HumanTask).where(HumanTask.id.in_(bindparam("ids", expanding=True)))
                .order_by(HumanTask.id))


def task_meta(live: LiveCase, spiff_task: Any) -> dict[str, Any]:
    spec_name = spiff_task.workflow.spec.name
    element_id = spiff_task.task_spec.bpmn_id or spiff_task.task_spec.name
    meta = live.spec.tasks.get(spec_name, {}).get(element_id)
    if meta is None:
        name = spiff_task.task_spec.bpmn_name or element_id
        meta = {
            "element_id": element_id,
            "name": name,
            "lane": spiff_task.task_spec.lane,
            "role": None,
            "form_key": None,
            "due": None,
            "assignee": None,
            "agency": None,
            "stage": None,
        }
    return meta


class Names(Mapping[str, Any]):
    """The extra names an assignee expression may use: ``starter`` and ``previous`` (usernames).

    ``starter`` is looked up only when an expression asks for it.
    """

    def __init__(self, session: Session, case: Case, actor: Any) -> None:
        self._session, self._case, self._actor = session, case, actor
        self._values: dict[str, Any] = {"previous": actor.username}

    def __getitem__(self, key: str) -> Any:
        if key == "starter" and key not in self._values:
            started_by = self._case.started_by_id
            self._values[key] = (
                self._actor.username
                if started_by == self._actor.user_id
                else self._session.scalar(select(User.username).where(User.id == started_by))
                if started_by
                else None
            )
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(("starter", "previous"))

    def __len__(self) -> int:
        return 2


def _context(live: LiveCase, spiff_task: Any, extra: Mapping[str, Any]) -> ChainMap:
    return ChainMap(extra, spiff_task.data)


def due_at(engine: Engine, meta: dict[str, Any], context: Any, start: datetime) -> datetime | None:
    """Due time of a step from configuration overrides, else its ``due`` property; None if neither."""
    overrides = engine.settings.due_overrides
    text = overrides.get(meta["element_id"]) or overrides.get("*") or meta.get("due")
    if not text:
        return None
    try:
        if not (is_literal(text) or is_literal(text, "date")):
            text = evaluate(text, context, engine.script_engine.budget_s)
            if not text:
                return None
        return deadline(str(text), start, engine.calendar)
    except (NotationError, ExpressionError):
        return None  # validated at deploy; a bad runtime value leaves the step without a due time


_ACTIVE_USER = select(User.id).where(User.username == bindparam("username"), User.active.is_(True))
_ACTIVE_USER_IN_ROLE = (_ACTIVE_USER.join(UserRole, UserRole.user_id == User.id)
                        .where(UserRole.role == bindparam("role")))


def _user_id(session: Session, username: Any, role: str | None) -> int | None:
    if not isinstance(username, str) or not username:
        return None
    stmt, params = (_ACTIVE_USER_IN_ROLE, {"username": username, "role": role}) if role else (
        _ACTIVE_USER, {"username": username})
    return session.connection().execute(stmt, params).scalar()


def _agency_id(
    session: Session, engine: Engine, meta: dict[str, Any], live: LiveCase, context: Any, role: str | None
) -> int | None:
    if meta.get("agency"):
        try:
            code = evaluate(meta["agency"], context, engine.script_engine.budget_s)
        except ExpressionError:
            code = None
        if isinstance(code, str) and code:
            return agency_ids(session, [code]).get(code)
    rule = live.spec.agency_rules.get(role or "", "any")
    if rule == "intake":
        return live.case.intake_agency_id
    if rule == "lead":
        return live.case.lead_agency_id
    return None


def _new_task(
    engine: Engine, session: Session, live: LiveCase, spiff_task: Any, extra: Mapping[str, Any], now: datetime
) -> dict[str, Any]:
    meta = task_meta(live, spiff_task)
    context = _context(live, spiff_task, extra)
    role = meta.get("role") or ""
    assignee_id = None
    if meta.get("assignee"):
        try:
            assignee_id = _user_id(
                session, evaluate(meta["assignee"], context, engine.script_engine.budget_s), role or None
            )
        except ExpressionError:
            assignee_id = None
    return dict(
        case_id=live.case.id,
        spiff_task_id=str(spiff_task.id),
        element_id=meta["element_id"],
        process_id=spiff_task.workflow.spec.name,
        title=meta["name"][:300],
        lane=(meta.get("lane") or "")[:200],
        role=role,
        agency_id=_agency_id(session, engine, meta, live, context, role),
        assignee_id=assignee_id,
        status="open",
        form_key=meta.get("form_key"),
        created_at=now,
        due_at=due_at(engine, meta, context, now),
        claimed_at=now if assignee_id else None,
        completed_at=None,
        completed_by_id=None,
        cancelled_reason="",
    )


STAGE_WIDTH = Case.__table__.c.stage.type.length or 40


def next_timer(live: LiveCase, waiting: list[Any] | None = None) -> datetime | None:
    """The soonest deadline of the case's waiting timer events (``waiting``: its WAITING tasks, if known)."""
    soonest = None
    for task in live.workflow.get_tasks(state=TaskState.WAITING) if waiting is None else waiting:
        if isinstance(task.task_spec, CatchingEvent):
            when = next_deadline(task)
            if when is not None and (soonest is None or when < soonest):
                soonest = when
    return soonest


def sync(
    engine: Engine, session: Session, live: LiveCase, extra: Mapping[str, Any] | None = None,
    rows_open: bool = True,
) -> list[HumanTask]:
    """Bring ``human_tasks`` and the case's projected columns in line with the workflow; return open tasks.

    ``rows_open=False``: the caller knows the case has no open task row (it just completed the only
    READY step; open rows are always exactly the READY steps), so the rows are not read.
    """
    now = clock.now()
    ready: dict[str, Any] = {}
    waiting: list[Any] = []
    for t in runtime.frontier(live):  # the walk advance() already made
        if t.state == TaskState.WAITING:
            waiting.append(t)
        elif t.task_spec.manual:
            ready[str(t.id)] = t
    # Task rows are written at once, as Core statements (engine.row_writes); no autoflush: the case row
    # is written by runtime.save.
    with session.no_autoflush:
        connection = session.connection()
        rows = (dict(connection.execute(_OPEN_TASK_IDS, {"case_id": live.case.id}).tuples().all())
                if rows_open else {})
        staying = [task_id for spiff_id, task_id in rows.items() if spiff_id in ready]
        gone = [task_id for spiff_id, task_id in rows.items() if spiff_id not in ready]
        row_writes.cancel_tasks(session, gone, "process_moved")
        open_rows: list[HumanTask] = list(session.scalars(_TASKS_BY_ID, {"ids": staying})) if staying else []
        for spiff_id, spiff_task in ready.items():
            if spiff_id not in rows:
                values = _new_task(engine, session, live, spiff_task, extra or {}, now)
                open_rows.append(row_writes.insert_task(session, values))
    case = live.case
    case.current_step = "、".join(dict.fromkeys(r.title for r in open_rows))[:MAX_STEP_TEXT]
    stages = [
        task_meta(live, ready[r.spiff_task_id]).get("stage") for r in open_rows if r.spiff_task_id in ready
    ]
    stage = next((s for s in reversed(stages) if s), None)
    if stage:
        case.stage = stage[:STAGE_WIDTH]
    case.next_timer_at = next_timer(live, waiting)
    case.updated_at = now
    if live.workflow.is_completed():
        case.status = "completed"
        case.finished_at = case.finished_at or now
        # a step that decided the outcome (case.outcome property) wins over the end event's name
        case.outcome = case.outcome or _outcome(live)[:100]
        case.stage = "finished"
    return open_rows


def _outcome(live: LiveCase) -> str:
    """The name of the end event the case finished at (e.g. 「窓口対応で完結」「終結」)."""
    ends = [
        t
        for t in live.workflow.get_tasks(state=TaskState.COMPLETED)
        if type(t.task_spec).__name__ == "EndEvent" and t.workflow is live.workflow
    ]
    if not ends:
        return ""
    last = max(ends, key=lambda t: t.last_state_change)
    return (last.task_spec.bpmn_name or last.task_spec.bpmn_id or "").strip()
