"""BPMN timer events on Tsunagu's clock and notation.

SpiffWorkflow evaluates timer text as Python and compares against the real wall clock. After
parsing, :func:`replace_timer_definitions` swaps every ``timeDate``/``timeDuration`` definition for a
:class:`DeadlineTimerEventDefinition` and every ``timeCycle`` for a :class:`CycleTimerEventDefinition`
that read the text in the notation of :mod:`engine.durations` (``P3D``, ``3BD``, dates; unquoted), or
evaluate it with the safe expression evaluator when it is not a literal, and that ask
:func:`engine.clock.now` for the time. The absolute due time is computed once, when the timer is
first reached, and stored in the task's internal data, so it survives restarts.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.specs.event_definitions.multiple import MultipleEventDefinition
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    CycleTimerEventDefinition as SpiffCycle,
)
from SpiffWorkflow.bpmn.specs.event_definitions.timer import (
    DurationTimerEventDefinition,
    TimeDateEventDefinition,
    TimerEventDefinition,
)
from SpiffWorkflow.bpmn.util import PendingBpmnEvent
from SpiffWorkflow.util.task import TaskState

from .. import clock
from ..durations import NotationError, deadline, is_literal, parse_cycle


def _fail(my_task: Any, exc: Exception) -> WorkflowTaskException:
    """Timer problems surface as SpiffWorkflow task errors naming the element (caught by the runtime)."""
    return WorkflowTaskException(f"timer {my_task.task_spec.bpmn_id or ''}: {exc}", task=my_task)


def _resolve_text(my_task: Any, expression: str, kind: str) -> str:
    text = expression.strip()
    if is_literal(text, kind) or (kind != "cycle" and is_literal(text, "date")):
        return text
    value = my_task.workflow.script_engine.evaluate(my_task, text)
    if isinstance(value, datetime):
        return value.isoformat()
    if not isinstance(value, str):
        raise NotationError(f"timer expression {text!r} gave {type(value).__name__}, "
                            "expected text such as P3D")
    return value


class DeadlineTimerEventDefinition(TimerEventDefinition):
    """A duration or date timer: fires when :func:`clock.now` passes the stored deadline."""

    def has_fired(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        if event_value is None:
            try:
                text = _resolve_text(my_task, self.expression, "duration")
                calendar = my_task.workflow.script_engine.calendar
                event_value = deadline(text, clock.now(), calendar).isoformat()
            except NotationError as exc:
                raise _fail(my_task, exc) from None
            my_task._set_internal_data(event_value=event_value)
        if datetime.fromisoformat(event_value) <= clock.now():
            my_task._set_internal_data(event_fired=True)
        return my_task._get_internal_data("event_fired", False)

    def details(self, my_task: Any) -> PendingBpmnEvent:
        return PendingBpmnEvent(self.name, self.__class__.__name__, my_task._get_internal_data("event_value"))


class CycleTimerEventDefinition(SpiffCycle):
    """``R3/PT1H``-style repetition counted on the engine clock."""

    def cycle_complete(self, my_task: Any) -> bool:
        try:
            return self._cycle_complete(my_task)
        except NotationError as exc:
            raise _fail(my_task, exc) from None

    def _cycle_complete(self, my_task: Any) -> bool:
        event_value = my_task._get_internal_data("event_value")
        now = clock.now()
        if event_value is None:
            cycles, period = parse_cycle(_resolve_text(my_task, self.expression, "cycle"))
            calendar = my_task.workflow.script_engine.calendar
            first = period.after(now, calendar)
            event_value = {"cycles": cycles, "next": first.isoformat(), "period": self.expression}
        ready = False
        if event_value["cycles"] != 0:
            next_event = datetime.fromisoformat(event_value["next"])
            if next_event <= now:
                _, period = parse_cycle(_resolve_text(my_task, self.expression, "cycle"))
                calendar = my_task.workflow.script_engine.calendar
                event_value["next"] = period.after(next_event, calendar).isoformat()
                event_value["cycles"] -= 1
                ready = True
        else:
            my_task.internal_data.pop("event_value", None)
            my_task.internal_data["event_fired"] = True
        my_task._set_internal_data(event_value=event_value)
        return ready

    def update_task(self, my_task: Any) -> None:
        if self.cycle_complete(my_task):
            for output in my_task.task_spec.outputs:
                child = my_task._add_child(output, TaskState.FUTURE)
                child.task_spec._predict(child, mask=TaskState.NOT_FINISHED_MASK)
                child.task_spec._update(child)


def _swap(definition: Any) -> Any:
    if isinstance(definition, MultipleEventDefinition):
        definition.event_definitions = [_swap(d) for d in definition.event_definitions]
        return definition
    if isinstance(definition, TimeDateEventDefinition | DurationTimerEventDefinition):
        return DeadlineTimerEventDefinition(definition.name, definition.expression,
                                            description=definition.description)
    if isinstance(definition, SpiffCycle) and not isinstance(definition, CycleTimerEventDefinition):
        return CycleTimerEventDefinition(definition.name, definition.expression,
                                         description=definition.description)
    return definition


def replace_timer_definitions(specs: list[Any]) -> None:
    """Swap SpiffWorkflow's timer definitions in every task spec of ``specs`` for ours."""
    for spec in specs:
        for task_spec in spec.task_specs.values():
            definition = getattr(task_spec, "event_definition", None)
            if definition is not None:
                task_spec.event_definition = _swap(definition)


def next_deadline(task: Any) -> datetime | None:
    """The absolute time a WAITING timer task will fire, if it is a timer with a stored deadline."""
    value = task.internal_data.get("event_value")
    if isinstance(value, dict):
        value = value.get("next") if value.get("cycles", 0) != 0 else None
    if isinstance(value, str):
        try:
            return clock.ensure_utc(datetime.fromisoformat(value))
        except ValueError:
            return None
    return None
