"""Delivering BPMN messages and signals to a case, and firing a case's due timers.

Whole-case interruptions are drawn as message boundary events in the diagrams: 同意撤回 (message
``consent_withdrawn``) on the consent-based support and 転出・死亡・連絡途絶 (``case_exit``) on the whole
case flow (see docs/processes.md; the name is the ``name`` of the ``bpmn:message``).

:func:`send_message` delivers such a message: it locks the case, loads its workflow, checks the
workflow is waiting for that message or signal right now (otherwise :class:`~engine.errors.Conflict`),
lets SpiffWorkflow catch it, runs the engine to the next wait state, re-projects tasks, saves and
records one audit event — one transaction, flushed only. Event definitions come from
``SpiffWorkflow.spiff``: the parser builds those classes and SpiffWorkflow compares event
definitions by class (engine-notes §1.2).

:func:`fire_due_timers` is the same cycle for timers (``refresh_timers`` and two engine passes);
the scheduler calls it for each case whose ``next_timer_at`` has passed.

A message payload is optional and must be a small flat mapping. SpiffWorkflow keeps it with the
event that caught it (``{"message": {"name": …, <fields>}}`` in that task's internal data, saved with
the case); it is not copied into task data, so it can never overwrite a form's namespace, and what
the process needs is recorded by the step the message opens (e.g. the 同意撤回届). The audit event
names the message and the payload's field names, never their values.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from SpiffWorkflow.bpmn import BpmnEvent
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.specs.event_definitions import MessageEventDefinition, SignalEventDefinition
from sqlalchemy.orm import Session

from . import audit, clock, policy, projection, runtime
from .actor import SYSTEM, Actor
from .cases import open_task_views
from .core import Engine
from .db import begin_write
from .errors import Conflict, Invalid, NotAllowed, NotFound, ProcessError
from .formschema import MAX_INTEGER, storable
from .views import TaskView

MESSAGE_ROLES = ("coordinator", "csw", "window", "supervisor")
FINISHED = ("completed", "closed")
PAYLOAD_KEY = "message"
MAX_PAYLOAD_FIELDS = 20
MAX_PAYLOAD_TEXT = 500
_KINDS = {"MessageEventDefinition": MessageEventDefinition, "SignalEventDefinition": SignalEventDefinition}


def _clean_payload(payload: Mapping[str, Any] | None) -> dict[str, Any]:
    if payload is None:
        return {}
    if not isinstance(payload, Mapping) or len(payload) > MAX_PAYLOAD_FIELDS:
        raise Invalid({"_form": ["メッセージの内容の形式が正しくありません。"]})
    cleaned: dict[str, Any] = {}
    for key, value in payload.items():
        if not isinstance(key, str) or not key.isidentifier() or key.startswith("_"):
            raise Invalid({"_form": ["メッセージの項目名が正しくありません。"]})
        if isinstance(value, str) and len(value) > MAX_PAYLOAD_TEXT:
            raise Invalid({key: [f"{MAX_PAYLOAD_TEXT}文字以内で入力してください。"]})
        if isinstance(value, str) and not storable(value):
            raise Invalid({key: ["使用できない文字が含まれています。"]})
        if isinstance(value, float) and not math.isfinite(value) or (
                isinstance(value, int) and abs(value) > MAX_INTEGER):
            raise Invalid({key: ["数値が正しくありません。"]})
        if value is not None and not isinstance(value, str | int | float | bool):
            raise Invalid({key: ["文字列・数値・真偽値で指定してください。"]})
        cleaned[key] = value
    return cleaned


def waiting_for(workflow: Any) -> dict[str, str]:
    """Message and signal names the workflow can catch right now → the event definition's kind."""
    found: dict[str, str] = {}
    for pending in workflow.waiting_events():
        if pending.event_type in _KINDS and pending.name:
            found.setdefault(pending.name, pending.event_type)
    return found


def _visible_locked_case(session: Session, actor: Actor, case_id: int) -> Any:
    if not actor.is_system:
        if not actor.has_role(*MESSAGE_ROLES):
            raise NotAllowed("only window, coordinating-office and CSW staff can report such an event")
        if not policy.may_see_case(session, actor, case_id):
            raise NotFound(f"case {case_id} not found")
    return runtime.lock_case(session, case_id)


@audit.guarded("case.message", "case", "case_id")
def send_message(  # noqa: PLR0917 - the signature the web layer and engine.consent call
    engine: Engine,
    session: Session,
    actor: Actor,
    case_id: int,
    message_name: str,
    payload: Mapping[str, Any] | None = None,
) -> list[TaskView]:
    """Deliver a BPMN message (or signal) named ``message_name`` to a case; return its open tasks.

    Raises NotFound (case not visible), NotAllowed (role), Invalid (payload) and Conflict with
    ``reason="finished"`` or ``reason="not_waiting"`` when the case cannot take the message now.
    """
    begin_write(session)
    fields = _clean_payload(payload)
    case = _visible_locked_case(session, actor, case_id)
    if case.status in FINISHED:
        raise Conflict("the case has already finished", reason="finished")
    live = runtime.load(engine, session, case)
    kind = waiting_for(live.workflow).get(message_name)
    if kind is None:
        raise Conflict(f"the case is not waiting for {message_name!r} now", reason="not_waiting")
    event = BpmnEvent(_KINDS[kind](message_name), {PAYLOAD_KEY: {"name": message_name, **fields}})
    try:
        live.workflow.catch(event)
    except SpiffWorkflowException as exc:
        raise ProcessError(f"the message could not be delivered: {str(exc).splitlines()[0]}") from None
    runtime.advance(live)
    rows = projection.sync(engine, session, live, projection.Names(session, case, actor))
    runtime.save(engine, session, live)
    audit.record(
        session,
        actor,
        "case.message",
        "case",
        str(case.id),
        case_id=case.id,
        detail={"message": message_name, "fields": sorted(fields)},
    )
    session.flush()
    return open_task_views(session, case, rows)


def waiting_messages(engine: Engine, session: Session, actor: Actor, case_id: int) -> list[str]:
    """Which messages the case would accept now (for offering 同意撤回 etc. on the case page).

    Reads no case data beyond the names of the events the workflow waits for, so it records no
    audit event of its own; the page that shows the case records the read.
    """
    case = policy.visible_case(session, actor, case_id)
    if case.status in FINISHED:
        return []
    live = runtime.load(engine, session, case)
    names = sorted(waiting_for(live.workflow))
    engine.workflows.put(case.id, case.version, live.workflow)  # unchanged: give it back to the cache
    return names


def listens_for(engine: Engine, session: Session, case: Any, message_name: str) -> bool:
    """Whether the (already locked or visible) case waits for ``message_name`` now.

    :mod:`engine.consent` asks this before sending ``consent_withdrawn`` after a withdrawal recorded
    outside the process, so a case that is not in consent-based support is simply left alone.
    """
    if case.status in FINISHED:
        return False
    live = runtime.load(engine, session, case)
    waiting = message_name in waiting_for(live.workflow)
    engine.workflows.put(case.id, case.version, live.workflow)  # unchanged: give it back to the cache
    return waiting


def fire_due_timers(engine: Engine, session: Session, case_id: int) -> list[TaskView]:
    """Fire every timer of the case that is due (engine clock), advance, re-project and save.

    Called by the scheduler inside its write transaction (after it locked the case) and by tests.
    Records one ``case.timer`` audit event by the system actor.
    """
    begin_write(session)
    case = runtime.lock_case(session, case_id)
    if case.status in FINISHED:
        return []
    due_at = case.next_timer_at
    live = runtime.load(engine, session, case)
    runtime.advance(live, refresh_timers=True)
    rows = projection.sync(engine, session, live, projection.Names(session, case, SYSTEM))
    runtime.save(engine, session, live)
    audit.record(
        session,
        SYSTEM,
        "case.timer",
        "case",
        str(case.id),
        case_id=case.id,
        detail={"due_at": due_at.isoformat() if due_at else None, "fired_at": clock.now().isoformat()},
    )
    session.flush()
    return open_task_views(session, case, rows)
