"""Operations on human tasks: claim, unclaim, reassign, save a draft, complete.

Each operation takes the engine, the caller's session and an explicit actor, locks the case, checks
what it must, changes state, writes exactly one audit event and flushes; the caller commits.
Completion follows engine-notes §8.3: lock, reload, check READY and the actor, validate, store the
submission under its form's namespace, run to the next wait state, re-project, audit — one
transaction. Whoever loses a race gets :class:`~engine.errors.Conflict` naming who acted first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from . import audit, case_updates, clock, hooks, policy, projection, runtime
from .actor import Actor
from .cases import open_task_views, routed, store_form_record
from .core import Engine
from .db import begin_write
from .errors import Conflict, Invalid, NotAllowed, NotFound
from .formschema import validate_submission
from .models import Case, HumanTask, TaskDraft, User
from .row_writes import update_task
from .users import submission_lookups
from .views import TaskView

_DELETE_DRAFT = TaskDraft.__table__.delete().where(
    TaskDraft.__table__.c.human_task_id == bindparam("task_id")
)


@dataclass
class CompletionResult:
    case_id: int
    case_number: str
    case_finished: bool
    open_tasks: list[TaskView]


def _display_name(session: Session, user_id: int | None) -> str | None:
    if user_id is None:
        return None
    return session.scalar(select(User.display_name).where(User.id == user_id))


def _locked_task(session: Session, actor: Actor, task_id: int) -> tuple[HumanTask, Case, bool]:
    """Lock the task's case, re-read the task, and hide what the actor may not see (NotFound).

    Returns the task, its case and whether the task has a draft."""
    begin_write(session)
    found = runtime.lock_visible_task_case(session, task_id, policy.case_filter(actor))
    if found is None:
        raise NotFound(f"task {task_id} not found")
    case, task, has_draft = found
    return task, case, has_draft


def _ensure_open(session: Session, task: HumanTask) -> None:
    if task.status == "completed":
        raise Conflict(
            "the task was already completed",
            by=_display_name(session, task.completed_by_id),
            at=task.completed_at,
            reason="completed",
        )
    if task.status != "open":
        raise Conflict("the task is no longer open (the case moved on)", reason="cancelled")


def _ensure_may_work(session: Session, actor: Actor, task: HumanTask) -> None:
    if not policy.eligible_for_task(actor, task):
        raise NotAllowed("this task is for another role or agency")
    if task.assignee_id not in (None, actor.user_id):
        raise Conflict(
            "the task is assigned to someone else",
            by=_display_name(session, task.assignee_id),
            at=task.claimed_at,
            reason="claimed",
        )


@audit.guarded("task.claim", "task", "task_id")
def claim(session: Session, actor: Actor, task_id: int) -> HumanTask:
    """引き受け: assign an open, unassigned task to the actor."""
    task, case, _draft = _locked_task(session, actor, task_id)
    _ensure_open(session, task)
    _ensure_may_work(session, actor, task)
    if task.assignee_id != actor.user_id:
        task.assignee_id, task.claimed_at = actor.user_id, clock.now()
    audit.record(session, actor, "task.claim", "task", str(task.id), case_id=case.id, task_id=task.id)
    return task


@audit.guarded("task.unclaim", "task", "task_id")
def unclaim(session: Session, actor: Actor, task_id: int) -> HumanTask:
    """引き受け解除: give the task back to the queue (the assignee, or a supervisor)."""
    task, case, _draft = _locked_task(session, actor, task_id)
    _ensure_open(session, task)
    if task.assignee_id != actor.user_id and not policy.may_supervise(actor, task):
        raise NotAllowed("only the assignee or a supervisor can release the task")
    task.assignee_id, task.claimed_at = None, None
    audit.record(session, actor, "task.unclaim", "task", str(task.id), case_id=case.id, task_id=task.id)
    return task


@audit.guarded("task.reassign", "task", "task_id")
def reassign(session: Session, actor: Actor, task_id: int, username: str | None) -> HumanTask:
    """担当者変更 (supervisor): assign to another eligible user, or to nobody."""
    task, case, _draft = _locked_task(session, actor, task_id)
    _ensure_open(session, task)
    if not policy.may_supervise(actor, task):
        raise NotAllowed("only a supervisor of the task's agency can reassign it")
    if username:
        user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
        from .users import actor_for

        if user is None or not policy.eligible_for_task(actor_for(user), task):
            raise Invalid({"assignee": ["このタスクを担当できない職員です。"]})
        task.assignee_id, task.claimed_at = user.id, clock.now()
    else:
        task.assignee_id, task.claimed_at = None, None
    audit.record(
        session,
        actor,
        "task.reassign",
        "task",
        str(task.id),
        case_id=case.id,
        task_id=task.id,
        detail={"assignee_id": task.assignee_id},
    )
    return task


@audit.guarded("task.draft", "task", "task_id")
def save_draft(
    engine: Engine, session: Session, actor: Actor, task_id: int, data: dict[str, Any]
) -> TaskDraft:
    """一時保存: keep what was typed, outside the engine's task data; types are checked, not completeness."""
    task, case, _draft = _locked_task(session, actor, task_id)
    _ensure_open(session, task)
    _ensure_may_work(session, actor, task)
    form = engine.forms.get(task.form_key)
    cleaned = validate_submission(form, data, partial=True) if form is not None else {}
    draft = session.get(TaskDraft, task.id)
    if draft is None:
        draft = TaskDraft(human_task_id=task.id, user_id=actor.user_id, data=cleaned, saved_at=clock.now())
        session.add(draft)
    else:
        draft.user_id, draft.data, draft.saved_at = actor.user_id, cleaned, clock.now()
    audit.record(
        session,
        actor,
        "task.draft",
        "task",
        str(task.id),
        case_id=case.id,
        task_id=task.id,
        detail={"fields": sorted(cleaned)},
    )
    session.flush()
    return draft


@audit.guarded("task.complete", "task", "task_id")
def complete(
    engine: Engine, session: Session, actor: Actor, task_id: int, data: dict[str, Any]
) -> CompletionResult:
    """完了: validate the submission, advance the case, and project its next tasks."""
    task, case, has_draft = _locked_task(session, actor, task_id)
    _ensure_open(session, task)
    _ensure_may_work(session, actor, task)
    form = engine.forms.get(task.form_key)
    cleaned = (
        validate_submission(form, data, submission_lookups(session) if _needs_lookups(form) else None)
        if form is not None
        else {}
    )
    live = runtime.load(engine, session, case)
    spiff_task = runtime.ready_task(live, task.spiff_task_id)
    if form is not None:
        value = routed(form.key, cleaned, live.spec.reads)
        if value is not None:
            spiff_task.data[form.key] = value
    now = clock.now()
    update_task(session, task, status="completed", completed_at=now, completed_by_id=actor.user_id,
                assignee_id=task.assignee_id or actor.user_id)
    # Written inside the 支援会議 compartment if the case was confidential when the step was worked on,
    # even when this very step ends the confidentiality (consent obtained).
    in_compartment = case.confidential
    rows_open = runtime.other_steps_ready(live, spiff_task)  # else the projection need not read the rows
    runtime.run_task(live, spiff_task)
    case_updates.apply(
        session, case, projection.task_meta(live, spiff_task), spiff_task.data, engine.script_engine.budget_s
    )
    rows = projection.sync(engine, session, live, projection.Names(session, case, actor), rows_open)
    runtime.save(engine, session, live)
    if form is not None:
        record_id = store_form_record(
            session, case.id, task.id, form.key, task.element_id, task.title, cleaned, actor.user_id, now,
            compartment=in_compartment or case.confidential,
        )
        hooks.after_submission(
            hooks.Submission(engine, session, actor, case, task, form.key, cleaned, record_id)
        )
    if has_draft:
        session.execute(_DELETE_DRAFT, {"task_id": task.id})
    audit.record(
        session,
        actor,
        "task.complete",
        "task",
        str(task.id),
        case_id=case.id,
        task_id=task.id,
        detail={"form": task.form_key, "element": task.element_id},
    )
    session.flush()
    return CompletionResult(
        case.id, case.case_number, case.status == "completed", open_task_views(session, case, rows)
    )


def _needs_lookups(form: Any) -> bool:
    def walk(fields: Any) -> bool:
        return any(f.type in ("agency", "user") or (f.type == "table" and walk(f.columns)) for f in fields)

    return walk(form.fields)


@dataclass
class TaskRef:
    case_id: int
    form: Any


def task_ref(engine: Engine, session: Session, actor: Actor, task_id: int) -> TaskRef:
    """The case id and form definition of a task the actor may see (NotFound otherwise); no audit event.

    The web layer needs the form to read a posted form before :func:`complete` or :func:`save_draft`.
    """
    row = session.execute(
        select(HumanTask.case_id, HumanTask.form_key).where(HumanTask.id == task_id)
    ).first()
    if row is None or not policy.may_see_case(session, actor, row.case_id):
        raise NotFound(f"task {task_id} not found")
    return TaskRef(case_id=row.case_id, form=engine.forms.get(row.form_key))


@dataclass
class TaskDetail:
    task: TaskView
    case: Case
    form: Any
    draft: dict[str, Any] | None
    can_work: bool
    can_claim: bool


@audit.guarded("task.read", "task", "task_id")
def task_detail(engine: Engine, session: Session, actor: Actor, task_id: int) -> TaskDetail:
    """The task page: the task, its form definition and draft; records one ``task.read`` audit event."""
    from .inbox import case_tasks

    case_id = session.scalar(select(HumanTask.case_id).where(HumanTask.id == task_id))
    if case_id is None:
        raise NotFound(f"task {task_id} not found")
    case = policy.visible_case(session, actor, case_id)
    row = session.get(HumanTask, task_id)
    view = next(t for t in case_tasks(session, case) if t.id == task_id)
    draft = session.get(TaskDraft, task_id)
    eligible = row.status == "open" and policy.eligible_for_task(actor, row)
    audit.record(session, actor, "task.read", "task", str(task_id), case_id=case.id, task_id=task_id)
    return TaskDetail(
        task=view,
        case=case,
        form=engine.forms.get(row.form_key),
        draft=draft.data if draft is not None else None,
        can_work=eligible and row.assignee_id in (None, actor.user_id),
        can_claim=eligible and row.assignee_id is None,
    )
