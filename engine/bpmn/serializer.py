"""Serialization of specs and case state, with the spec stored once per process version.

SpiffWorkflow's default JSON embeds the whole parsed spec in every instance. Tsunagu stores the spec
once per :class:`~engine.models.ProcessDefinition` (:func:`spec_to_json`) and each case's state
without it (:func:`state_to_json`); :func:`state_from_json` rebuilds the workflow against the cached
spec of the version the case is pinned to. JSON is written with ``ensure_ascii=False`` and compact
separators. ``SERIALIZER_VERSION`` is stored in ``cases.serializer_version``; a change to it needs a
migration function and a frozen fixture test (tests/engine/test_bpmn_serializer.py).

In the database a case's state is that JSON compressed with zlib (:func:`encode_state`,
:func:`decode_state`; ``cases.state`` is binary). A finished case of the pathway is about 35 KB of
JSON — mostly task ids and states, which compress about sixfold — and about 6 KB stored.
:func:`state_text` gives the JSON back for tools and tests. Uncompressed JSON (a state written before
migration 0006) is still read: JSON starts with ``{``, a zlib stream never does.
"""

from __future__ import annotations

import json
import zlib
from typing import Any
from uuid import UUID

import orjson
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
_NOT_YET = TaskState.PREDICTED_MASK | TaskState.FUTURE  # MAYBE, LIKELY, FUTURE


class MemoTaskConverter(TaskConverter):
    """Task conversion that reuses the dict of a task while nothing it is made of has changed.

    A completed or cancelled task keeps its data, parent and state; converting it again on every save
    (and diffing its data against its parent's) is most of the cost of serializing a long case. A
    predicted task without data (about half the tasks of a live case) changes only with its state,
    links or its parent's data keys. The memo is keyed on what can still change and stored on the task.
    """

    def to_dict(self, task: Any) -> dict[str, Any]:
        parent = task.parent
        settled = parent is None or parent.state & TaskState.FINISHED_MASK
        if task.state & TaskState.FINISHED_MASK and settled:
            # a finished task's delta is taken against its parent's data, which stays put only once the
            # parent has finished too (a loop or multi-instance task merges rounds into itself while
            # STARTED)
            key: tuple[Any, ...] = (task.state, task.last_state_change, tuple(task._children))
        elif task.state & _NOT_YET and not task.data and not task.internal_data:
            # A predicted task (FUTURE, LIKELY, MAYBE) with no data yet: its dict also names its parent,
            # its trigger flag and — as "deletions" of its delta — the keys of its parent's data.
            key = (task.state, task.last_state_change, tuple(task._children), task._parent, task.triggered,
                   tuple(parent.data) if parent is not None else None)
        else:
            return super().to_dict(task)
        memo = getattr(task, "_tsunagu_memo", None)
        if memo is not None and memo[0] == key:
            return memo[1]
        converted = super().to_dict(task)
        task._tsunagu_memo = (key, converted)
        return converted


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


def _make_registry(memo: bool = True) -> Any:
    config = dict(SPIFF_CONFIG)
    config[BpmnWorkflow] = InstanceOnlyConverter
    config[Task] = MemoTaskConverter if memo else TaskConverter
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


_ORJSON = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _dump_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON; orjson (about 8× faster than json on case states). What orjson would write
    differently from json — dates, dataclasses (passed through, so they fail as with json), integers
    beyond 64 bits — goes to json, which refuses the first two as before. Task data holds only plain
    JSON values: forms are made plain and expressions stay within ±10**18."""
    try:
        return orjson.dumps(value, option=_ORJSON)
    except (orjson.JSONEncodeError, TypeError):
        return _dumps(value).encode("utf-8")


def state_to_json(workflow: BpmnWorkflow) -> str:
    return _dump_bytes(REGISTRY.convert(workflow)).decode("utf-8")


def state_from_json(text: str | bytes, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    return REGISTRY.restore(orjson.loads(text), spec=spec, subprocess_specs=subprocess_specs)


# zlib level 1: 0.05 ms for a 39 KB state against 0.21 ms at level 6, for 6.3 KB instead of 5.6 KB.
COMPRESSION_LEVEL = 1


def encode_state(workflow: BpmnWorkflow) -> bytes:
    """The bytes stored in ``cases.state``: the state's JSON, zlib-compressed."""
    return zlib.compress(_dump_bytes(REGISTRY.convert(workflow)), COMPRESSION_LEVEL)


def state_text(stored: bytes | str) -> str:
    """The JSON of a stored state (compressed, or plain JSON written before migration 0006)."""
    if isinstance(stored, str):
        return stored
    raw = bytes(stored)
    return (raw if raw[:1] == b"{" else zlib.decompress(raw)).decode("utf-8")


def decode_state(stored: bytes | str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    if isinstance(stored, str):
        return state_from_json(stored, spec, subprocess_specs)
    raw = bytes(stored)
    return state_from_json(raw if raw[:1] == b"{" else zlib.decompress(raw), spec, subprocess_specs)
