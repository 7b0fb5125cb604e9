"""Serialization: the spec stored once, instance-only state that round-trips, and a frozen v1 fixture.

``tests/fixtures/state_v1.json`` was written by :func:`make_fixture` with serializer
``tsunagu-1/spiff-1.5`` and must never be regenerated: it stands for the states already stored in
``cases.state``. If :data:`SERIALIZER_VERSION` changes, add a migration for stored states and a new
frozen fixture next to this one (``python -m tests.engine.test_bpmn_serializer state_v2.json``).
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.serializer import (
    REGISTRY,
    SERIALIZER_VERSION,
    _make_registry,
    instance_dict,
    spec_from_json,
    spec_to_json,
    state_from_json,
    state_to_json,
)
from engine.bpmn.timers import next_deadline
from engine.businessdays import BusinessCalendar
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.validation import check

FIXTURE = Path(__file__).resolve().parent.parent / "fixtures" / "state_v1.json"
ENGINE = SafeScriptEngine(BusinessCalendar(("12-29..01-03",)))
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    frozen = clock.FrozenClock(START)
    previous = clock.use(frozen)
    yield frozen
    clock.use(previous)


def fixture_files() -> dict[str, bytes]:
    """main: start → 受付 (3BD timer) → 判断 → [call 訪問] → 終了; sub: 訪問記録."""
    main = ProcessBuilder("main", "保存テスト")
    main.lane("窓口", "start", "intake", "late", "late_task", "late_end", "decide", "g", "visit", "end")
    main.start("start", form="intake")
    main.user("intake", "受付", due="3BD")
    main.timer_boundary("late", "intake", "3BD", interrupting=False)
    main.user("late_task", "期限超過の確認")
    main.end("late_end")
    main.user("decide", "判断", form="decision")
    main.xor("g", "訪問？", default="no_visit")
    main.call("visit", "sub", "訪問")
    main.end("end")
    main.flow("start", "intake")
    main.flow("intake", "decide")
    main.flow("late", "late_task")
    main.flow("late_task", "late_end")
    main.flow("decide", "g")
    main.flow("g", "visit", "decision.result == 'revise'")
    main.flow("g", "end", flow_id="no_visit")
    main.flow("visit", "end")
    sub = ProcessBuilder("sub", "訪問")
    sub.lane("CSW", "s", "record", "e")
    sub.start("s")
    sub.user("record", "訪問記録")
    sub.end("e")
    sub.flow("s", "record")
    sub.flow("record", "e")
    roles = "lanes:\n  窓口: window\n  CSW: csw\n"
    return {"main.bpmn": main.xml().encode(), "sub.bpmn": sub.xml().encode(), "roles.yaml": roles.encode()}


def parsed(files: dict[str, bytes] | None = None):  # noqa: ANN201
    bundle = check(files or fixture_files(), roles=None)
    assert bundle.ok, bundle.problems
    return bundle.processes["main"]


def ready(wf: BpmnWorkflow) -> list:
    return wf.get_tasks(state=TaskState.READY, manual=True)


def complete(wf: BpmnWorkflow, element_id: str, data: dict | None = None) -> None:
    [task] = [t for t in ready(wf) if t.task_spec.bpmn_id == element_id]
    task.data.update(data or {})
    task.run()
    wf.do_engine_steps()


def started_case() -> BpmnWorkflow:
    p = parsed()
    wf = BpmnWorkflow(p.spec, p.subprocess_specs, script_engine=ENGINE)
    wf.get_tasks(state=TaskState.READY)[0].data["intake"] = {"subject_name": "試験 太郎", "urgency": "low"}
    wf.do_engine_steps()
    return wf


def restore(text: str, spec, subs) -> BpmnWorkflow:  # noqa: ANN001
    wf = state_from_json(text, spec, subs)
    wf.script_engine = ENGINE
    return wf


def run_to_end(wf: BpmnWorkflow, frozen) -> list[str]:  # noqa: ANN001
    """Complete intake, let the timer fire, decide 'revise', record the visit; returns the steps done."""
    done = []
    frozen.advance(days=10)
    wf.refresh_timers()
    wf.do_engine_steps()
    wf.refresh_timers()
    wf.do_engine_steps()
    steps = (("intake", {"note": {"note": "初回"}}), ("late_task", {}),
             ("decide", {"decision": {"result": "revise"}}), ("record", {"note": {"note": "訪問"}}))
    for element, data in steps:
        complete(wf, element, data)
        done.append(element)
    assert wf.is_completed()
    return done


def test_spec_json_round_trips_and_is_stored_without_ascii_escapes():
    p = parsed()
    text = spec_to_json(p.spec, p.subprocess_specs)
    assert "保存テスト" in text and "\\u" not in text and json.loads(text)["format"] == SERIALIZER_VERSION
    spec, subs = spec_from_json(text)
    assert spec.name == "main" and set(subs) == {"sub"}


def test_state_holds_the_instance_only():
    wf = started_case()
    text = state_to_json(wf)
    state = json.loads(text)
    assert "spec" not in state and "subprocess_specs" not in state
    assert "試験 太郎" in text and "\\u" not in text
    assert len(text) < 10_000


def test_state_round_trips_and_ends_like_an_uninterrupted_run(frozen):
    p = parsed()
    uninterrupted = started_case()
    restored = restore(state_to_json(started_case()), p.spec, p.subprocess_specs)
    assert [t.task_spec.bpmn_id for t in ready(restored)] == ["intake"]
    assert run_to_end(restored, frozen) == ["intake", "late_task", "decide", "record"]
    frozen.set(START)
    run_to_end(uninterrupted, frozen)
    assert restored.data == uninterrupted.data
    assert restored.last_task.data == uninterrupted.last_task.data


def test_restore_between_every_step_changes_nothing(frozen):
    p = parsed()
    wf = started_case()
    frozen.advance(days=10)
    for element, data in (("intake", {}), ("decide", {"decision": {"result": "revise"}}), ("record", {})):
        wf = restore(state_to_json(wf), p.spec, p.subprocess_specs)
        wf.refresh_timers()
        wf.do_engine_steps()
        complete(wf, element, data)
    wf = restore(state_to_json(wf), p.spec, p.subprocess_specs)
    complete(wf, "late_task")
    assert wf.is_completed()


def test_the_memoized_conversion_equals_a_fresh_one_at_every_step(frozen):
    """The memo (finished and not-yet-reached tasks) never serves a stale dict: at every step of a run
    with a boundary timer, a call activity and data changes, the memoized conversion of the *same*
    live workflow equals the plain library's conversion."""
    plain = _make_registry(memo=False)
    wf = started_case()

    def same() -> None:
        expected = plain.convert(wf)
        assert REGISTRY.convert(wf) == expected
        assert instance_dict(wf) == expected  # the save path's own walk writes the same dict

    same()
    same()  # second conversion: served from the memo
    frozen.advance(days=10)
    wf.refresh_timers()
    wf.do_engine_steps()
    same()
    steps = (("intake", {"note": {"note": "初回"}}), ("late_task", {}),
             ("decide", {"decision": {"result": "revise"}}), ("record", {"note": {"note": "訪問"}}))
    for element, data in steps:
        [task] = [t for t in ready(wf) if t.task_spec.bpmn_id == element]
        task.data.update(data)  # the form's data lands on the READY task: its children's deltas change
        same()
        task.run()
        wf.do_engine_steps()
        same()
    assert wf.is_completed()


def make_fixture(path: Path = FIXTURE) -> None:
    """Write the frozen fixture (run once per serializer version; never overwrite an existing one)."""
    assert not path.exists(), f"{path} exists: frozen fixtures are never regenerated"
    previous = clock.use(clock.FrozenClock(START))
    try:
        wf = started_case()
        p = parsed()
        path.write_text(json.dumps({
            "serializer_version": SERIALIZER_VERSION,
            "written_at": START.isoformat(),
            "files": {name: content.decode() for name, content in fixture_files().items()},
            "spec": spec_to_json(p.spec, p.subprocess_specs),
            "state": state_to_json(wf),
        }, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    finally:
        clock.use(previous)


def test_frozen_v1_state_still_loads_and_finishes(frozen):
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    assert fixture["serializer_version"] == SERIALIZER_VERSION, (
        f"SERIALIZER_VERSION changed from {fixture['serializer_version']} to {SERIALIZER_VERSION}: stored "
        "case states need a migration, and a new frozen fixture must be added (see this module's docstring)")
    spec, subs = spec_from_json(fixture["spec"])
    wf = restore(fixture["state"], spec, subs)
    assert [t.task_spec.bpmn_id for t in ready(wf)] == ["intake"]
    [timer] = [t for t in wf.get_tasks(state=TaskState.WAITING) if next_deadline(t)]
    assert next_deadline(timer) == datetime(2026, 11, 27, 14, 59, 59, tzinfo=UTC)   # 3BD from 11-24 in Tokyo
    assert wf.data == {} and ready(wf)[0].data["intake"]["subject_name"] == "試験 太郎"
    assert run_to_end(wf, frozen) == ["intake", "late_task", "decide", "record"]


def test_frozen_state_also_loads_against_a_freshly_parsed_spec(frozen):
    fixture = json.loads(FIXTURE.read_text(encoding="utf-8"))
    p = parsed({name: text.encode() for name, text in fixture["files"].items()})
    wf = restore(fixture["state"], p.spec, p.subprocess_specs)
    assert run_to_end(wf, frozen)[-1] == "record"


if __name__ == "__main__":
    make_fixture(FIXTURE.parent / sys.argv[1] if len(sys.argv) > 1 else FIXTURE)


def test_rounds_merged_into_a_running_loop_are_not_served_stale():
    """A finished round's delta is taken against the loop task, which merges each new round into its
    own data while it runs: rounds of an unpruned loop must convert like the plain library at every save."""
    from tests.engine.test_bpmn_pruning import _workflow

    plain = _make_registry(memo=False)
    wf = _workflow()
    for n in range(4):
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data["note"] = {"more": True, "round": n}
        task.run()
        wf.do_engine_steps()  # no pruning: every round stays
        assert REGISTRY.convert(wf) == plain.convert(wf), n
        assert instance_dict(wf) == plain.convert(wf), n


def test_values_json_would_refuse_are_refused_not_written_as_strings():
    from engine.bpmn.serializer import _dump_bytes

    assert _dump_bytes({"a": [1, "あ", None]}) == '{"a":[1,"あ",null]}'.encode()
    with pytest.raises(TypeError):
        _dump_bytes({"when": datetime(2026, 11, 27, tzinfo=UTC)})  # orjson alone would write a string


def test_states_are_stored_as_zstandard_and_every_stored_format_still_reads(frozen):
    """``encode_state`` writes a Zstandard frame; a state stored as a zlib stream (migration 0006 until
    the switch) or as plain JSON (before 0006, text or bytes) reads back to the same state."""
    import zlib

    from engine.bpmn.serializer import ZSTD_MAGIC, decode_state, encode_state, state_text

    wf = started_case()
    stored = encode_state(wf)
    assert stored[:4] == ZSTD_MAGIC == b"\x28\xb5\x2f\xfd"
    text = state_text(stored)
    assert text == state_to_json(wf) and "試験 太郎" in text
    assert json.loads(text)["root"] == str(wf.task_tree.id)
    raw = text.encode("utf-8")
    formats = {"zstd": stored, "zlib": zlib.compress(raw), "zlib level 1": zlib.compress(raw, 1),
               "json text": text, "json bytes": raw, "json bytearray": bytearray(raw),
               "memoryview of zstd": memoryview(stored)}
    assert {name: state_text(value) for name, value in formats.items()} == dict.fromkeys(formats, text)
    p = parsed()
    expected = {t.id: t.state for t in wf.get_tasks()}
    for name, value in formats.items():
        restored = decode_state(value, p.spec, p.subprocess_specs)
        restored.script_engine = ENGINE
        assert {t.id: t.state for t in restored.get_tasks()} == expected, name
        assert [t.task_spec.bpmn_id for t in ready(restored)] == ["intake"], name
        assert ready(restored)[0].data["intake"]["subject_name"] == "試験 太郎", name
    older = decode_state(formats["zlib"], p.spec, p.subprocess_specs)
    older.script_engine = ENGINE
    assert run_to_end(older, frozen) == ["intake", "late_task", "decide", "record"]
