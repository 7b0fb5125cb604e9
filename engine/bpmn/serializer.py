"""Serialization of specs and case state, with the spec stored once per process version.

SpiffWorkflow's default JSON embeds the whole parsed spec in every instance. Tsunagu stores the spec
once per :class:`~engine.models.ProcessDefinition` (:func:`spec_to_json`) and each case's state
without it (:func:`state_to_json`); :func:`state_from_json` rebuilds the workflow against the cached
spec of the version the case is pinned to. JSON is written with ``ensure_ascii=False`` and compact
separators. ``SERIALIZER_VERSION`` is stored in ``cases.serializer_version``; a change to it needs a
migration function and a frozen fixture test (tests/engine/test_bpmn_serializer.py).

In the database a case's state is that JSON compressed with Zstandard (:func:`encode_state`,
:func:`decode_state`; ``cases.state`` is binary). A finished case of the pathway is about 35 KB of
JSON — mostly task ids and states, which compress about sixfold — and about 6 KB stored.
:func:`state_text` gives the JSON back for tools and tests. Uncompressed JSON (a state written before
migration 0006) is still read: JSON starts with ``{``, a zlib stream never does. States written
between migration 0006 and the switch to Zstandard are zlib streams and are still read; the format
is told by its first bytes (``{``, the Zstandard frame magic, else zlib), so no migration was needed.
"""

from __future__ import annotations

import json
import threading
import zlib
from typing import Any
from uuid import UUID

import orjson
import zstandard
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
from SpiffWorkflow.bpmn.serializer.default.event_definition import TimerConditionalEventDefinitionConverter
from SpiffWorkflow.bpmn.serializer.default.workflow import (
    BpmnWorkflowConverter,
    TaskConverter,
    WorkflowConverter,
)
from SpiffWorkflow.bpmn.serializer.workflow import VERSION as SPIFF_FORMAT
from SpiffWorkflow.bpmn.util.subworkflow import BpmnSubWorkflow
from SpiffWorkflow.spiff.serializer.config import SPIFF_CONFIG
from SpiffWorkflow.task import Task
from SpiffWorkflow.util.deep_merge import DeepMerge
from SpiffWorkflow.util.task import TaskState

from .timers import CycleTimerEventDefinition, DeadlineTimerEventDefinition

SERIALIZER_VERSION = f"tsunagu-1/spiff-{SPIFF_FORMAT}"
_NOT_YET = TaskState.PREDICTED_MASK | TaskState.FUTURE  # MAYBE, LIKELY, FUTURE


def _memo_key(task: Any, parent: Any) -> tuple[Any, ...] | None:
    """What a task's dict is made of that can still change, or None when it must be converted afresh.

    A completed or cancelled task keeps its data, parent and state; converting it again on every save
    (and diffing its data against its parent's) is most of the cost of serializing a long case. A
    predicted task without data (about half the tasks of a live case) changes only with its state,
    links or its parent's data keys. ``parent``: the task's parent task (None for a root).
    """
    state = task._state
    if state & TaskState.FINISHED_MASK and (parent is None or parent._state & TaskState.FINISHED_MASK):
        # a finished task's delta is taken against its parent's data, which stays put only once the
        # parent has finished too (a loop or multi-instance task merges rounds into itself while STARTED)
        return (state, task.last_state_change, tuple(task._children))
    if state & _NOT_YET and not task.data and not task.internal_data:
        # A predicted task (FUTURE, LIKELY, MAYBE) with no data yet: its dict also names its parent,
        # its trigger flag and — as "deletions" of its delta — the keys of its parent's data.
        return (state, task.last_state_change, tuple(task._children), task._parent, task.triggered,
                tuple(parent.data) if parent is not None else None)
    return None


def _fresh_task_dict(task: Any, parent: Any) -> dict[str, Any]:
    """SpiffWorkflow's TaskConverter.to_dict (data stored as a delta against the parent), with typename."""
    if parent is None:
        data, delta = task.data, {}
    else:
        data = {}
        delta = {"updates": DeepMerge.get_updated_keys(parent.data, task.data),
                 "deletions": DeepMerge.get_deleted_keys(parent.data, task.data)}
    return {
        "id": str(task.id),
        "parent": str(task._parent) if parent is not None else None,
        "children": [str(child) for child in task._children],
        "last_state_change": task.last_state_change,
        "state": task._state,
        "task_spec": task.task_spec.name,
        "triggered": task.triggered,
        "internal_data": REGISTRY.convert(task.internal_data),
        "data": data,
        "delta": delta,
        "typename": "Task",
    }


def _task_entries(tasks: dict[Any, Any]) -> dict[str, Any]:
    """``{task id: task dict}`` of a workflow's tasks; memoised tasks also keep their id's text."""
    out = {}
    parent_of = tasks.get  # a task's parent is in the same workflow's table (Task.parent looks there too)
    for task in tasks.values():
        parent = parent_of(task._parent)
        converted = _memoised(task, _memo_key(task, parent), lambda t, p=parent: _fresh_task_dict(t, p))
        out[converted["id"]] = converted
    return out


def _memoised(task: Any, key: tuple[Any, ...] | None, convert: Any) -> dict[str, Any]:
    """The task's dict from its memo while ``key`` is unchanged, else ``convert(task)`` (memoised when
    there is a key)."""
    if key is None:
        return convert(task)
    memo = getattr(task, "_tsunagu_memo", None)
    if memo is None or memo[0] != key:
        memo = task._tsunagu_memo = (key, convert(task))
    return memo[1]


class MemoTaskConverter(TaskConverter):
    """Task conversion through the registry, reusing a task's dict while nothing it is made of changed."""

    def to_dict(self, task: Any) -> dict[str, Any]:
        return _memoised(task, _memo_key(task, task.parent),
                         lambda t: {**TaskConverter.to_dict(self, t), "typename": "Task"})


def _workflow_dict(workflow: Any) -> dict[str, Any]:
    """WorkflowConverter.to_dict without the registry's per-object dispatch (the save path is hot)."""
    return {
        "data": REGISTRY.convert(REGISTRY.clean(workflow.data)),
        "correlations": workflow.correlations,
        "last_task": str(workflow.last_task.id) if workflow.last_task is not None else None,
        "success": workflow.success,
        "completed": workflow.completed,
        "tasks": _task_entries(workflow.tasks),
        "root": str(workflow.task_tree.id),
    }


def instance_dict(workflow: BpmnWorkflow) -> dict[str, Any]:
    """The state of a workflow without its spec, exactly as :class:`InstanceOnlyConverter` writes it."""
    dct = _workflow_dict(workflow)
    subprocesses = {}
    for sub_id, sub in workflow.subprocesses.items():
        if type(sub) is not BpmnSubWorkflow:
            return REGISTRY.convert(workflow)  # a subclass the fast path does not know: the registry's way
        sub_dct = _workflow_dict(sub)
        sub_dct["parent_task_id"] = str(sub.parent_task_id)
        sub_dct["spec"] = sub.spec.name
        sub_dct["typename"] = "BpmnSubWorkflow"
        subprocesses[str(sub_id)] = sub_dct
    dct["subprocesses"] = subprocesses
    dct["bpmn_events"] = REGISTRY.convert(workflow.bpmn_events)
    dct["typename"] = "BpmnWorkflow"
    return dct


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
    return _dump_bytes(instance_dict(workflow)).decode("utf-8")


def state_from_json(text: str | bytes, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    return REGISTRY.restore(orjson.loads(text), spec=spec, subprocess_specs=subprocess_specs)


# Zstandard level 1: 0.03 ms for a 26 KB state, about 15 % smaller than zlib level 1 (0.06 ms), and
# it decompresses about ten times faster (a cold load by the scheduler). One compressor per thread:
# a ZstdCompressor must not be used by two threads at once.
COMPRESSION_LEVEL = 1
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"
_codecs = threading.local()


def _zstd() -> tuple[Any, Any]:
    pair = getattr(_codecs, "pair", None)
    if pair is None:
        pair = (zstandard.ZstdCompressor(level=COMPRESSION_LEVEL), zstandard.ZstdDecompressor())
        _codecs.pair = pair
    return pair


def encode_state(workflow: BpmnWorkflow) -> bytes:
    """The bytes stored in ``cases.state``: the state's JSON, Zstandard-compressed."""
    return _zstd()[0].compress(_dump_bytes(instance_dict(workflow)))


def _json_bytes(stored: bytes | str) -> bytes:
    """The JSON of a stored state: plain JSON (before 0006), a zlib stream (0006) or a Zstandard frame."""
    raw = stored.encode("utf-8") if isinstance(stored, str) else bytes(stored)
    if raw[:1] == b"{":
        return raw
    if raw[:4] == ZSTD_MAGIC:
        return _zstd()[1].decompress(raw)
    return zlib.decompress(raw)


def state_text(stored: bytes | str) -> str:
    """The JSON of a stored state, as text (for tools and tests)."""
    return stored if isinstance(stored, str) else _json_bytes(stored).decode("utf-8")


def decode_state(stored: bytes | str, spec: Any, subprocess_specs: dict[str, Any]) -> BpmnWorkflow:
    if isinstance(stored, str):
        return state_from_json(stored, spec, subprocess_specs)
    return state_from_json(_json_bytes(stored), spec, subprocess_specs)
