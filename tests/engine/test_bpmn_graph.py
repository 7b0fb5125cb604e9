"""Loop analysis: cycles that never end, and back-edge loops that would outgrow the task tree (§6.1)."""

from __future__ import annotations

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.graph import DEPTH_BUDGET, DEPTH_LIMIT, build_graph, check_loops, strongly_connected
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.xml import read_document
from engine.businessdays import BusinessCalendar
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.validation import check, codes, problem


def review_loop(max_iterations: str | None = None, boundary: bool = False) -> ProcessBuilder:
    """start → plan → review → g (revise → plan | approve → end)."""
    b = ProcessBuilder("p", "ループ")
    b.lane("窓口", "start", "plan", "review", "g", "end")
    b.start("start")
    b.user("plan", "計画")
    b.user("review", "確認", form="decision")
    extra = {"maxIterations": max_iterations} if max_iterations else {}
    b.xor("g", "修正？", default="approve", **extra)
    b.end("end")
    if boundary:
        b.timer_boundary("late", "review", "P30D", interrupting=False)
        b.end("late_end")
        b.lane("窓口", "late", "late_end")
        b.flow("late", "late_end")
    b.flow("start", "plan")
    b.flow("plan", "review")
    b.flow("review", "g")
    b.flow("g", "plan", "decision.result == 'revise'", flow_id="revise")
    b.flow("g", "end", flow_id="approve")
    return b


def doc_of(b: ProcessBuilder):
    doc, _ = read_document("t.bpmn", b.xml().encode(), 10**6)
    return doc


def test_strongly_connected_finds_the_loop_only():
    graph = build_graph(doc_of(review_loop()).root.find("{*}process"))
    assert [sorted(c) for c in strongly_connected(graph)] == [["g", "plan", "review"]]


def test_strongly_connected_handles_self_loops_and_large_graphs():
    b = ProcessBuilder("p", "長い")
    b.start("n0")
    for i in range(1, 3000):
        b.raw(f"n{i}", f'<bpmn:manualTask id="n{i}"/>')
        b.flow(f"n{i - 1}", f"n{i}")
    b.flow("n2999", "n2999")
    graph = build_graph(doc_of(b).root.find("{*}process"))
    assert strongly_connected(graph) == [["n2999"]]


def test_unbounded_loop_names_the_gateway_and_the_limit():
    p = problem(check(review_loop().xml()), "unbounded_loop", "g")
    assert "計画 → 確認 → 修正？" in p.reason
    assert "about 3 levels" in p.reason and f"about {DEPTH_LIMIT // 3} rounds" in p.reason
    assert f"maxIterations (at most {DEPTH_BUDGET // 3}) on the gateway" in p.reason


def test_declared_bound_within_the_budget_is_valid():
    assert check(review_loop("20").xml()).problems == []
    assert check(review_loop(str(DEPTH_BUDGET // 3)).xml()).problems == []


def test_boundary_events_on_loop_tasks_count_against_the_budget():
    assert check(review_loop("250").xml()).problems == []
    p = problem(check(review_loop("250", boundary=True).xml()), "deep_loop", "g")
    assert "maxIterations=250" in p.reason and f"the limit for this loop is {DEPTH_BUDGET // 4}" in p.reason


def test_bound_too_large_for_the_depth_limit():
    p = problem(check(review_loop("400").xml()), "deep_loop", "g")
    assert "about 1200 levels" in p.reason


def test_cycle_without_a_gateway_never_ends():
    b = ProcessBuilder("p", "無限")
    b.lane("窓口", "start", "a", "b", "end")
    b.start("start")
    b.user("a", "一")
    b.user("b", "二")
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "b")
    b.flow("b", "a")
    p = problem(check(b.xml()), "cycle", "a")
    assert "cycle without a gateway: 一 → 二 loops back with no decision" in p.reason


def test_cycle_whose_gateway_never_leaves_it():
    b = ProcessBuilder("p", "出口なし")
    b.lane("窓口", "start", "a", "g", "end")
    b.start("start")
    b.user("a", "一")
    b.xor("g", default="back")
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "g")
    b.flow("g", "a", flow_id="back")
    assert "has no way out" in problem(check(b.xml()), "cycle", "g").reason


def test_loop_through_a_boundary_event_needs_a_bound_too():
    b = ProcessBuilder("p", "境界")
    b.lane("窓口", "start", "a", "reset", "end")
    b.start("start")
    b.user("a", "一")
    b.raw("reset", '<bpmn:boundaryEvent id="reset" attachedToRef="a"><bpmn:timerEventDefinition>'
                   '<bpmn:timeDuration>P1D</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>')
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "end")
    b.flow("reset", "a")
    p = problem(check(b.xml()), "unbounded_loop", "a")
    assert "on one of its elements" in p.reason
    bounded = ProcessBuilder("p", "境界")
    bounded.lane("窓口", "start", "a", "reset", "end")
    bounded.start("start")
    bounded.user("a", "一", maxIterations="12")
    bounded.elements.append(b.elements[2])
    bounded.order.append("reset")
    bounded.end("end")
    bounded.flow("start", "a")
    bounded.flow("a", "end")
    bounded.flow("reset", "a")
    assert check(bounded.xml()).problems == []


def test_loops_inside_sub_processes_are_found():
    inner = review_loop().process_xml()
    body = inner[inner.index(">", inner.index("<bpmn:process")) + 1: inner.rindex("</bpmn:process>")]
    body = body[body.index("</bpmn:laneSet>") + len("</bpmn:laneSet>"):]
    b = ProcessBuilder("outer", "外")
    b.lane("窓口", "s0", "sub", "e0")
    b.start("s0")
    b.raw("sub", f'<bpmn:subProcess id="sub" name="内">{body}</bpmn:subProcess>')
    b.end("e0")
    b.flow("s0", "sub")
    b.flow("sub", "e0")
    problem(check(b.xml()), "unbounded_loop", "g")


def test_standard_loops_do_not_deepen_the_tree():
    b = ProcessBuilder("p", "標準ループ")
    b.lane("窓口", "start", "m", "end")
    b.start("start")
    b.user("m", "モニタリング", loop="not note.done")
    b.end("end")
    b.flow("start", "m")
    b.flow("m", "end")
    assert check(b.xml()).problems == []


def test_the_depth_budget_keeps_a_bounded_loop_visible_to_the_engine():
    """A loop run to its declared bound stays under SpiffWorkflow's depth limit and completes."""
    bundle = check(review_loop(str(DEPTH_BUDGET // 3)).xml())
    parsed = bundle.processes["p"]
    wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs,
                      script_engine=SafeScriptEngine(BusinessCalendar(())))
    wf.do_engine_steps()
    rounds = 0
    while not wf.is_completed():
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        if task.task_spec.bpmn_id == "review":
            rounds += 1
            task.data["decision"] = {"result": "revise" if rounds < DEPTH_BUDGET // 3 else "approve"}
        task.run()
        wf.do_engine_steps()
    assert rounds == DEPTH_BUDGET // 3
    assert max(t.depth for t in wf.tasks.values()) < DEPTH_LIMIT


@pytest.mark.parametrize("text", ["abc", "-1", "", "1.5"])
def test_max_iterations_must_be_a_whole_number(text):
    assert "unbounded_loop" in codes(check(review_loop(text).xml()))


def test_check_loops_directly():
    doc = doc_of(review_loop())
    problems = check_loops(doc, doc.root.find("{*}process"))
    assert [p.code for p in problems] == ["unbounded_loop"] and problems[0].line == doc.line_of("g")
