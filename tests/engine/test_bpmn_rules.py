"""Validation rules: every problem names the file, the line (from the element id), the element and why."""

from __future__ import annotations

import pytest

from tests.support.bpmn_builder import HEADER, ProcessBuilder
from tests.support.validation import check, codes, linear, problem


def test_the_linear_process_is_valid():
    bundle = check(linear().xml())
    assert bundle.problems == [] and set(bundle.processes) == {"p"}


def test_malformed_xml_names_the_line():
    p = problem(check(linear().xml().replace("</bpmn:userTask>", "", 1)), "not_xml")
    assert p.line and "malformed XML" in p.reason and p.file == "t.bpmn"


def test_not_bpmn():
    p = problem(check('<?xml version="1.0"?>\n<html><body/></html>'), "not_bpmn")
    assert "<html>" in p.reason


def test_a_dmn_file_is_unsupported():
    bundle = check({"d.dmn": b'<definitions xmlns="https://www.omg.org/spec/DMN/20191111/MODEL/" id="d"/>'})
    assert "DMN" in problem(bundle, "unsupported").reason


def test_no_executable_process():
    b = linear()
    b.executable = False
    p = problem(check(b.xml()), "no_executable_process", "p")
    assert 'isExecutable="false"' in p.reason
    empty = HEADER.format(pid="x") + "<bpmn:collaboration id='c'/></bpmn:definitions>"
    assert "holds only: collaboration" in problem(check(empty), "no_executable_process").reason


UNSUPPORTED = [
    ('<bpmn:complexGateway id="x"/>', "x", "complex gateways"),
    ('<bpmn:scriptTask id="x"><bpmn:script>import os</bpmn:script></bpmn:scriptTask>', "x", "script tasks"),
    ('<bpmn:serviceTask id="x"/>', "x", "service tasks"),
    ('<bpmn:businessRuleTask id="x"/>', "x", "business rule tasks"),
    ('<bpmn:intermediateThrowEvent id="x"><bpmn:linkEventDefinition id="l" name="L"/>'
     '</bpmn:intermediateThrowEvent>', "l", "link events"),
    ('<bpmn:intermediateThrowEvent id="x"><bpmn:compensateEventDefinition id="c"/>'
     '</bpmn:intermediateThrowEvent>', "c", "compensation"),
    ('<bpmn:dataStoreReference id="x"/>', "x", "data stores"),
]


@pytest.mark.parametrize(("xml", "element", "reason"), UNSUPPORTED, ids=[u[2] for u in UNSUPPORTED])
def test_unsupported_elements(xml, element, reason):
    b = linear()
    b.raw("x", xml)
    assert reason in problem(check(b.xml()), "unsupported", element).reason


def test_scripts_and_listeners_in_extensions_are_refused():
    b = linear()
    b.elements[1] = b.elements[1].replace(
        "</bpmn:userTask>",
        '<bpmn:extensionElements><spiffworkflow:preScript>x = 1</spiffworkflow:preScript>'
        '<camunda:taskListener event="create"><camunda:script scriptFormat="js">x</camunda:script>'
        '</camunda:taskListener></bpmn:extensionElements></bpmn:userTask>')
    bundle = check(b.xml())
    assert "preScript" in problem(bundle, "unsupported", "a", "spiffworkflow:preScript").reason
    problem(bundle, "unsupported", "a", "camunda:taskListener")


def test_user_task_without_lane_or_form():
    bundle = check(linear(form=None, lane=None).xml())
    assert "not in a lane" in problem(bundle, "no_lane", "a").reason
    assert "names no form" in problem(bundle, "no_form", "a").reason


def test_plain_task_is_a_human_step_and_says_so():
    b = linear()
    b.elements[1] = '<bpmn:task id="a" name="作業"/>'
    assert "a plain task waits for a person" in problem(check(b.xml()), "no_form", "a").reason


def test_form_key_missing_in_forms():
    assert "'nonexistent' is not defined in forms/" in \
        problem(check(linear(form="nonexistent").xml()), "unknown_form", "a").reason


def test_lane_with_no_role():
    bundle = check(linear(lane="経理").xml())
    assert "'経理' has no role in processes/roles.yaml" in problem(bundle, "no_role", "lane_p_0").reason
    problem(bundle, "no_role", "a")
    b = linear()
    b.lanes = {"": ["start", "a", "end"]}
    problem(check(b.xml()), "no_role", "lane_p_0", "lane has no name")


def test_camunda_dialect_is_read():
    b = ProcessBuilder("p", "カムンダ")
    b.start("start")
    b.raw("a", '<bpmn:userTask id="a" name="受付" camunda:formKey="embedded:app:forms/note.html" '
               'camunda:candidateGroups="window" camunda:dueDate="P3D" camunda:assignee="${starter}"/>')
    b.xor("g", default="f_end")
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "g")
    b.flow("g", "end", flow_id="f_end")
    b.flow("g", "a", "${decision.result == 'revise' && !flag}")
    bundle = check(b.xml())
    assert codes(bundle) == {"unbounded_loop"}, bundle.problems
    problem(bundle, "unbounded_loop", "g")
    b.elements[2] = b.elements[2].replace("></bpmn:exclusiveGateway>", '><bpmn:extensionElements>'
                                          '<camunda:properties><camunda:property name="x" value="y"/>'
                                          '</camunda:properties></bpmn:extensionElements></bpmn:exclusiveGateway>')
    bad = b.xml().replace('camunda:candidateGroups="window"', 'camunda:candidateGroups="accounting"')
    assert "names no known role" in problem(check(bad), "no_role", "a").reason


@pytest.mark.parametrize(("condition", "reason"), [
    ("x ==== 1", "syntax error"),
    ("__import__('os').system('id')", "not allowed"),
    ("().__class__.__base__.__subclasses__()", "not allowed"),
    ("'a' * 10**10", "too long"),
    ("= approved", "FEEL"),
    ("", "empty"),
])
def test_invalid_or_unsafe_conditions(condition, reason):
    b = linear()
    b.flows.clear()
    b.xor("g", default="f2", maxIterations="1")
    b.flow("start", "a")
    b.flow("a", "g")
    b.flow("g", "end", condition or " ", flow_id="f1")
    b.flow("g", "end", flow_id="f2")
    b.lane("窓口", "g")
    p = problem(check(b.xml()), "expression", "f1")
    assert reason in p.reason and "condition" in p.reason


@pytest.mark.parametrize(("props", "code", "reason"), [
    ({"due": "3 days"}, "timer", "due"),
    ({"due": "__import__('os')"}, "timer", "not allowed"),
    ({"assignee": "open('x')"}, "expression", "assignee"),
    ({"agency": "a.__class__"}, "expression", "agency"),
    ({"case.status": "decision..x"}, "expression", "case.status"),
    ({"case.secret": "1"}, "invalid", "a diagram may set only"),
])
def test_bad_task_properties(props, code, reason):
    b = ProcessBuilder("p", "テスト")
    b.lane("窓口", "start", "a", "end")
    b.start("start")
    b.user("a", "受付", **props)
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "end")
    assert reason in problem(check(b.xml()), code, "a").reason


def test_due_notation_is_accepted_unquoted():
    for due in ("P3D", "PT2H", "3BD", "3営業日", "2027-04-01T09:00:00+09:00", "business_days(2)",
                "'P' + str(plan.months) + 'M'"):
        b = ProcessBuilder("p", "テスト")
        b.lane("窓口", "start", "a", "end")
        b.start("start")
        b.user("a", "受付", due=due)
        b.end("end")
        b.flow("start", "a")
        b.flow("a", "end")
        assert check(b.xml()).problems == [], due


@pytest.mark.parametrize(("text", "ok"), [
    ("PT2H", True), ("3BD", True), ('"P3D"', True), ("2027-04-01T09:00", True), ("plan.due", True),
    ("'next week'", False), ("0/5 * * * ?", False), ("DateTime.AddDays(x, 1)", False), ("", False),
])
def test_timer_texts(text, ok):
    b = linear()
    b.timer_boundary("t", "a", text, interrupting=False)
    b.end("late_end")
    b.flow("t", "late_end")
    b.lane("窓口", "t", "late_end")
    bundle = check(b.xml())
    if ok:
        assert bundle.problems == [], bundle.problems
    else:
        problem(bundle, "timer", "t")


def test_exclusive_gateway_without_default_and_flow_without_condition():
    b = linear()
    b.flows.clear()
    b.xor("g")
    b.lane("窓口", "g")
    b.flow("start", "a")
    b.flow("a", "g")
    b.flow("g", "end", "x == 1", flow_id="f1")
    b.flow("g", "end", flow_id="f2")
    bundle = check(b.xml())
    assert "no default flow" in problem(bundle, "no_default", "g").reason
    assert "has no condition" in problem(bundle, "no_condition", "f2").reason


def test_call_activities():
    main = linear("main")
    main.elements[1] = '<bpmn:callActivity id="a" name="呼出" calledElement="missing"/>'
    assert "'missing', which is not in the bundle" in problem(check(main.xml()), "call", "a").reason
    main.elements[1] = '<bpmn:callActivity id="a" name="呼出"/>'
    assert "names no process" in problem(check(main.xml()), "call", "a").reason
    main.elements[1] = '<bpmn:callActivity id="a" name="呼出" calledElement="main"/>'
    assert "recursive" in problem(check(main.xml()), "call", "a").reason


def test_mutual_recursion_across_files():
    one, two = linear("one"), linear("two")
    one.elements[1] = '<bpmn:callActivity id="a" name="呼出" calledElement="two"/>'
    two.elements[1] = '<bpmn:callActivity id="a" name="呼出" calledElement="one"/>'
    bundle = check({"one.bpmn": one.xml().encode(), "two.bpmn": two.xml().encode()})
    assert {(p.file, p.element_id) for p in bundle.problems if p.code == "call"} == \
        {("one.bpmn", "a"), ("two.bpmn", "a")}


def test_a_call_to_another_file_of_the_bundle_is_fine():
    main, sub = linear("main"), linear("sub")
    main.elements[1] = '<bpmn:callActivity id="a" name="呼出" calledElement="sub"/>'
    bundle = check({"main.bpmn": main.xml().encode(), "sub.bpmn": sub.xml().encode()})
    assert bundle.problems == [] and bundle.called == {"sub"}


def test_the_same_process_id_in_two_files():
    bundle = check({"a.bpmn": linear("p").xml().encode(), "b.bpmn": linear("p").xml().encode()})
    assert "also defined in a.bpmn" in problem(bundle, "duplicate_id", "p").reason


def test_duplicate_ids_count_bpmn_and_bpmndi_only():
    b = linear()
    b.raw("dup", '<bpmn:endEvent id="a"/>')
    p = problem(check(b.xml()), "duplicate_id", "a")
    assert "used twice (first on line" in p.reason
    ok = linear()
    ok.elements[1] = ok.elements[1].replace(
        "</bpmn:userTask>", '<bpmn:extensionElements><camunda:formData><camunda:formField id="a"/>'
        '<camunda:formField id="a"/></camunda:formData></bpmn:extensionElements></bpmn:userTask>')
    assert "duplicate_id" not in codes(check(ok.xml()))
