"""Running one case's workflow inside the caller's transaction: lock, load, advance, save.

The order is fixed (engine-notes §8.3): lock the case row, load its workflow (from the in-process
cache when its version still matches, else by deserializing against the pinned spec), check the
SpiffWorkflow task is READY, run it, advance the engine to the next wait state, check the tree depth,
serialize, and re-project tasks and timers (:mod:`engine.projection`). Any failure raises and the
caller rolls back, so a case is never half-written.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.exceptions import SpiffWorkflowException, TaskNotFoundException, WorkflowException
from SpiffWorkflow.util.task import TaskState
from sqlalchemy import bindparam, exists, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from .bpmn.pruning import prune
from .bpmn.serializer import SERIALIZER_VERSION, decode_state, encode_state
from .core import Engine
from .db import is_postgresql
from .definitions import spec_for_case
from .errors import Conflict, NotFound, ProcessError
from .models import Case, HumanTask, TaskDraft
from .row_writes import flush_case
from .runtime_cache import LoadedSpec

DEPTH_ALARM = 800


@dataclass
class LiveCase:
    """A locked case row with its workflow and the spec it is pinned to."""

    case: Case
    workflow: BpmnWorkflow
    spec: LoadedSpec
    # The READY and WAITING tasks as the last advance() left them (None: not known). Walking the tree
    # costs as much as a small step, so the depth check and the projection share one walk.
    frontier: list[Any] | None = None


def _lock_statement(session: Session, *where: Any) -> Any:
    stmt = select(Case).where(*where).execution_options(populate_existing=True)
    if is_postgresql(session):
        # FOR NO KEY UPDATE: excludes every other writer of the case, but not the KEY SHARE locks that
        # foreign-key checks take (an escalation or a note inserted for the case need not wait)
        stmt = stmt.with_for_update(of=Case, key_share=True)
    return stmt


@lru_cache(maxsize=2048)
def _task_case_lock_statement(visible: Any, postgresql: bool) -> Any:
    # One statement object per visibility filter (policy.case_filter keeps those per actor and minute):
    # SQLAlchemy memoizes a statement's cache key on the object, so a reused statement is not walked
    # again on every completion (a fresh one cost about 0.3 ms with the policy's EXISTS clauses).
    # The task row comes in the same round trip (re-read: populate_existing), and on SQLite whether it has
    # a draft (completing deletes it; most tasks have none). On PostgreSQL the draft is always deleted: a
    # subquery is evaluated in the statement's snapshot, which may predate the wait for the lock, so a
    # draft saved meanwhile would be missed.
    # PostgreSQL: the task row is locked too, so that a caller who waited for the lock reads the row as
    # the winner committed it (a row of a table not locked would come from the statement's snapshot);
    # FOR NO KEY UPDATE, as in _lock_statement.
    draft = literal(True) if postgresql else exists().where(TaskDraft.human_task_id == HumanTask.id)
    stmt = (select(Case, HumanTask, draft).join(HumanTask, HumanTask.case_id == Case.id)
            .where(HumanTask.id == bindparam("task_id"), visible).execution_options(populate_existing=True))
    return stmt.with_for_update(of=(Case, HumanTask), key_share=True) if postgresql else stmt


def lock_visible_task_case(session: Session, task_id: int,
                           visible: Any) -> tuple[Case, HumanTask, bool] | None:
    """Lock the case of task ``task_id`` if it matches ``visible``: (case, task, whether it has a draft)."""
    stmt = _task_case_lock_statement(visible, is_postgresql(session))
    row = session.execute(stmt, {"task_id": task_id}).first()
    return None if row is None else (row[0], row[1], bool(row[2]))


def lock_case(session: Session, case_id: int) -> Case:
    """Load the case row for writing (``FOR UPDATE`` on PostgreSQL; SQLite holds the write lock)."""
    case = session.scalar(_lock_statement(session, Case.id == case_id))
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def load(engine: Engine, session: Session, case: Case) -> LiveCase:
    spec = spec_for_case(engine, session, case.process_definition_id)
    workflow = engine.workflows.take(case.id, case.version)
    if workflow is None:
        workflow = decode_state(case.state, spec.spec, spec.subprocess_specs)
    workflow.script_engine = engine.script_engine
    return LiveCase(case=case, workflow=workflow, spec=spec)


def new_workflow(engine: Engine, spec: LoadedSpec) -> BpmnWorkflow:
    return BpmnWorkflow(spec.spec, spec.subprocess_specs, script_engine=engine.script_engine)


def ready_task(live: LiveCase, spiff_task_id: str) -> Any:
    try:
        task = live.workflow.get_task_from_id(UUID(spiff_task_id))
    except (TaskNotFoundException, ValueError):
        raise Conflict("the step no longer exists in the case", reason="gone") from None
    if task.state != TaskState.READY:
        raise Conflict("the step is not waiting for input", reason="not_ready")
    return task


def _process_error(exc: Exception, what: str) -> ProcessError:
    element = None
    task_spec = getattr(exc, "task_spec", None)
    if task_spec is not None:
        element = getattr(task_spec, "bpmn_id", None) or getattr(task_spec, "name", None)
    message = getattr(exc, "message", None) or str(exc).splitlines()[0]
    return ProcessError(f"{what}: {message}", element_id=element)


def advance(live: LiveCase, refresh_timers: bool = False) -> None:
    """Run the engine until only people and timers are waiting; check the tree depth invariant."""
    live.frontier = None
    try:
        if refresh_timers:
            live.workflow.refresh_timers()
        live.workflow.do_engine_steps()
        if refresh_timers:
            # a timer made READY by the refresh runs on the second pass (engine-notes §3.2)
            live.workflow.refresh_timers()
            live.workflow.do_engine_steps()
    except (WorkflowTaskException, WorkflowException, SpiffWorkflowException) as exc:
        raise _process_error(exc, "the process could not continue") from None
    prune(live.workflow)  # finished loop rounds: long-lived repetition keeps the state flat (bpmn/pruning.py)
    check_depth(live)


def run_task(live: LiveCase, task: Any) -> None:
    try:
        task.run()
    except (WorkflowTaskException, WorkflowException, SpiffWorkflowException) as exc:
        raise _process_error(exc, "the step could not be completed") from None
    advance(live)


_OPEN = TaskState.READY | TaskState.WAITING


def frontier(live: LiveCase) -> list[Any]:
    """The case's READY and WAITING tasks (people's steps, timers, messages), found once per advance.

    A scan of the task tables of the workflow and its running subprocesses, in creation order: the
    library's tree walk (``get_tasks``) visits every finished task through parent and child links and
    cost as much as a small step. Finished subprocesses hold no READY or WAITING task.
    """
    if live.frontier is None:
        workflow = live.workflow
        found = [t for t in workflow.tasks.values() if t._state & _OPEN]
        for sub in workflow.subprocesses.values():
            found.extend(t for t in sub.tasks.values() if t._state & _OPEN)
        live.frontier = found
    return live.frontier


def other_steps_ready(live: LiveCase, task: Any) -> bool:
    """Whether a people's step other than ``task`` is READY (so other task rows of the case are open)."""
    return any(t is not task and t._state & TaskState.READY and t.task_spec.manual for t in frontier(live))


def check_depth(live: LiveCase) -> None:
    deepest = 0
    for task in frontier(live):
        deepest = max(deepest, task.depth)
    if deepest > DEPTH_ALARM:
        raise ProcessError(
            f"the case's task tree is {deepest} levels deep; SpiffWorkflow stops seeing tasks at "
            f"1000. The diagram repeats a loop too often (see maxIterations)"
        )


def save(engine: Engine, session: Session, live: LiveCase) -> None:
    """Serialize the workflow into the case row; the version counter moves on at flush."""
    live.case.state = encode_state(live.workflow)
    live.case.serializer_version = SERIALIZER_VERSION  # written only when it changes (row_writes)
    try:
        flush_case(session, live.case)
    except StaleDataError:
        raise Conflict("the case was changed by another request", reason="stale") from None
    engine.workflows.keep_after_commit(session, live.case, live.workflow)
