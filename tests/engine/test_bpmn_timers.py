"""BPMN timers on Tsunagu's clock: unquoted ISO values, business days, expressions, restarts."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.serializer import state_from_json, state_to_json
from engine.bpmn.timers import next_deadline
from engine.businessdays import BusinessCalendar
from engine.clock import TOKYO
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.validation import check

ENGINE = SafeScriptEngine(BusinessCalendar(("12-29..01-03",)))
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 火 10:00 JST


@pytest.fixture
def frozen():
    frozen = clock.FrozenClock(START)
    previous = clock.use(frozen)
    yield frozen
    clock.use(previous)


def boundary_process(text: str, kind: str = "timeDuration", interrupting: bool = False) -> ProcessBuilder:
    b = ProcessBuilder("p", "期限")
    b.lane("窓口", "start", "a", "end", "t", "alert", "alert_end")
    b.start("start")
    b.user("a", "対応", form="note")
    b.end("end")
    cancel = "true" if interrupting else "false"
    b.raw("t", f'<bpmn:boundaryEvent id="t" attachedToRef="a" cancelActivity="{cancel}">'
               '<bpmn:timerEventDefinition>'
               f'<bpmn:{kind}>{text}</bpmn:{kind}></bpmn:timerEventDefinition></bpmn:boundaryEvent>')
    b.user("alert", "期限超過の確認", form="note")
    b.end("alert_end")
    b.flow("start", "a")
    b.flow("a", "end")
    b.flow("t", "alert")
    b.flow("alert", "alert_end")
    return b


def start(b: ProcessBuilder, data: dict | None = None) -> BpmnWorkflow:
    bundle = check(b.xml())
    assert bundle.ok, bundle.problems
    parsed = bundle.processes["p"]
    wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=ENGINE)
    wf.data.update(data or {})
    wf.task_tree.data.update(data or {})
    wf.do_engine_steps()
    return wf


def tick(wf: BpmnWorkflow) -> set[str]:
    """What the scheduler does: refresh, run, refresh, run; returns the READY human steps."""
    wf.refresh_timers()
    wf.do_engine_steps()
    wf.refresh_timers()
    wf.do_engine_steps()
    return {t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.READY, manual=True)}


def waiting_deadline(wf: BpmnWorkflow) -> datetime | None:
    deadlines = [next_deadline(t) for t in wf.get_tasks(state=TaskState.WAITING)]
    return min((d for d in deadlines if d), default=None)


@pytest.mark.parametrize(("text", "due"), [
    ("PT2H", START + timedelta(hours=2)),
    ("P3D", START + timedelta(days=3)),
    ('"P3D"', START + timedelta(days=3)),                                          # quoted works too
    ("3BD", datetime(2026, 11, 27, 23, 59, 59, tzinfo=TOKYO).astimezone(UTC)),
    ("3営業日", datetime(2026, 11, 27, 23, 59, 59, tzinfo=TOKYO).astimezone(UTC)),
])
def test_unquoted_durations_and_business_days(frozen, text, due):
    wf = start(boundary_process(text))
    assert waiting_deadline(wf) == due
    frozen.set(due - timedelta(seconds=1))
    assert tick(wf) == {"a"}
    frozen.set(due)
    assert tick(wf) == {"a", "alert"}  # non-interrupting: the step stays open


def test_time_date_literal(frozen):
    wf = start(boundary_process("2026-12-01T09:00:00+09:00", "timeDate"))
    assert waiting_deadline(wf) == datetime(2026, 12, 1, 0, 0, tzinfo=UTC)
    frozen.set(datetime(2026, 12, 1, 0, 0, tzinfo=UTC))
    assert "alert" in tick(wf)


def test_timer_fires_on_the_engine_clock_not_the_wall_clock(frozen):
    wf = start(boundary_process("PT1S"))
    assert tick(wf) == {"a"}          # a real second may pass; the engine clock has not moved
    frozen.advance(seconds=1)
    assert tick(wf) == {"a", "alert"}


def test_interrupting_timer_cancels_the_step(frozen):
    wf = start(boundary_process("P1D", interrupting=True))
    frozen.advance(days=1)
    assert tick(wf) == {"alert"}


def test_business_days_cross_year_end_closure(frozen):
    frozen.set(datetime(2026, 12, 28, 1, 0, tzinfo=UTC))
    wf = start(boundary_process("1BD"))
    assert waiting_deadline(wf) == datetime(2027, 1, 4, 23, 59, 59, tzinfo=TOKYO).astimezone(UTC)


def test_timer_expression_over_case_data(frozen):
    wf = start(boundary_process("'P' + str(plan.days) + 'D'"), {"plan": {"days": 5}})
    assert waiting_deadline(wf) == START + timedelta(days=5)
    wf2 = start(boundary_process("business_days(plan.days)"), {"plan": {"days": 1}})
    assert waiting_deadline(wf2) == datetime(2026, 11, 25, 23, 59, 59, tzinfo=TOKYO).astimezone(UTC)


def test_timer_expression_with_a_bad_value_fails_named(frozen):
    with pytest.raises(WorkflowTaskException) as info:
        start(boundary_process("plan.days"), {"plan": {"days": 5}})
    assert "expected text such as P3D" in str(info.value)


def test_timer_survives_serialize_and_restore(frozen):
    wf = start(boundary_process("P2D"))
    due = waiting_deadline(wf)
    spec, subs = wf.spec, wf.subprocess_specs
    state = state_to_json(wf)
    frozen.advance(days=3)                               # the server was down past the due time
    restored = state_from_json(state, spec, subs)
    restored.script_engine = ENGINE
    assert waiting_deadline(restored) == due             # the absolute due time was stored, not recomputed
    assert tick(restored) == {"a", "alert"}


def test_cycle_timer_repeats_then_stops(frozen):
    wf = start(boundary_process("R2/P1D", "timeCycle"))
    fired = 0
    for _ in range(4):
        frozen.advance(days=1)
        ready = tick(wf)
        fired = len([t for t in wf.get_tasks(state=TaskState.READY, manual=True)
                     if t.task_spec.bpmn_id == "alert"])
        assert "a" in ready
    assert fired == 2
    assert waiting_deadline(wf) is None


def test_intermediate_timer_waits_then_continues(frozen):
    b = ProcessBuilder("p", "待機")
    b.lane("窓口", "start", "wait", "a", "end")
    b.start("start")
    b.timer_catch("wait", "2BD")
    b.user("a", "再確認")
    b.end("end")
    b.flow("start", "wait")
    b.flow("wait", "a")
    b.flow("a", "end")
    wf = start(b)
    assert tick(wf) == set()
    frozen.advance(days=7)
    assert tick(wf) == {"a"}


def test_next_deadline_ignores_other_tasks(frozen):
    wf = start(boundary_process("P1D"))
    ready = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    assert next_deadline(ready) is None
