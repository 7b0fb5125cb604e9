"""Serialization of specs and case state, with the spec stored once per process version.

SpiffWorkflow's default JSON embeds the whole parsed spec in every instance. Tsunagu stores the spec
once per :class:`~engine.models.ProcessDefinition` (:func:`spec_to_json`) and each case's state
without it (:func:`state_to_json`); :func:`state_from_json` rebuilds the workflow against the cached
spec of the version the case is pinned to. JSON is written with ``ensure_ascii=False`` and compact
separators. ``SERIALIZER_VERSION`` is stored in ``cases.serializer_version``; a change to it needs a
migration function and a frozen fixture test (tests/engine/test_bpmn_serializer.py).
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.task import TaskState

from .timers import CycleTimerEventDefinition, DeadlineTimerEventDefinition

SERIALIZER_VERSION = f"tsunagu-1/spiff-{SPIFF_FORMAT}"


class MemoTaskConverter(TaskConverter):
    """Task conversion that reuses the dict of a finished task while nothing about it has changed.

    A completed or cancelled task keeps its data, parent and state; converting it again on every save
    (and diffing its data against its parent's) is most of the cost of serializing a long case. The
    memo is keyed on what can still change (state, last change, children) and stored on the task.
    """

    def to_dict(self, task: Any) -> dict[str, Any]:
        if task.state & TaskState.FINISHED_MASK:
            key = (task.state, task.last_state_change, tuple(task._children))
            memo = getattr(task, "_tsunagu_memo", None)
            if memo is not None and memo[0] == key:
                return memo[1]
            converted = super().to_dict(task)
            task._tsunagu_memo = (key, converted)
            return converted
        return super().to_dict(task)


class InstanceOnlyConverter(BpmnWorkflowConverter):
    """Converts a workflow without its spec; the spec is supplied when restoring."""

    def to_dict(self, workflow: BpmnWorkflow) -> dict[str, Any]:
        dct = WorkflowConverter.to_dict(self, workflow)
        dct["subprocesses"] = self.mapping_to_dict(workflow.subprocesses)
        dct["bpmn_events"] = self.registry.convert(workflow.bpmn_events)
        return dct

    def from_dict(self, dct: dict[str, Any], spec: Any = None, subprocess_specs: Any = None) -> BpmnWorkflow:
        workflow = self.target_class(spec, subprocess_specs, deserializing=True)
        workflow.tasks = self.mapping_from_dict(dct["tasks"], UUID, workflow=workflow)
        workflow.task_tree = workflow.tasks.get(UUID(dct["root"]))
        self.set_default_attributes(workflow, dct)
        self.subprocesses_from_dict(dct["subprocesses"], workflow)
        workflow.bpmn_events = self.registry.restore(dct.pop("bpmn_events", []))
        return workflow


def _make_registry() -> Any:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = InstanceOnlyConverter
    config[Task] = MemoTaskConverter
    config[DeadlineTimerEventDefinition] = TimerConditionalEventDefinitionConverter
    config[CycleTimerEventDefinition] = TimerConditionalEventDefinitionConverter
    return BpmnWorkflowSerializer.configure(config)


REGISTRY = _make_registry()


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def spec_to_json(spec: Any, subprocess_specs: dict[str, Any]) -> str:
    return _dumps({
        "format": SERIALIZER_VERSION,
        "spec": REGISTRY.convert(spec),
        "subprocess_specs": {name: REGISTRY.convert(s) for name, s in subprocess_specs.items()},
    })


def spec_from_json(text: str) -> tuple[Any, dict[str, Any]]:
    dct = json.loads(text)
    spec = REGISTRY.restore(dct["spec"])
    subs = {name: REGISTRY.restore(s) for name, s in dct["subprocess_specs"].items()}
    return spec, subs


def state_to_json(workflow: BpmnWorkflow) -> str:
    return _dumps(REGISTRY.convert(workflow))


def state_from_json(text: str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    return REGISTRY.restore(json.loads(text), spec=spec, subprocess_specs=subprocess_specs)
