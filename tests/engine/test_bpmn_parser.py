"""Parsing with SpiffWorkflow: Camunda conditions translated, timers swapped, errors turned into Problems."""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.parser import PLAIN_REASONS, parse_documents, problem_from_exception
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.timers import CycleTimerEventDefinition, DeadlineTimerEventDefinition
from engine.bpmn.xml import read_document
from engine.businessdays import BusinessCalendar
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.validation import linear


def doc(xml: str, name: str = "t.bpmn"):
    document, problems = read_document(name, xml.encode(), 10**6)
    assert not problems
    return document


def camunda_decision() -> ProcessBuilder:
    b = ProcessBuilder("p", "判断")
    b.start("start")
    b.user("a", "判断")
    b.xor("g", default="no")
    b.end("yes_end")
    b.end("no_end")
    b.flow("start", "a")
    b.flow("a", "g")
    b.flow("g", "yes_end", "${note.done == true && !note.skip}", flow_id="yes")
    b.flow("g", "no_end", flow_id="no")
    return b


def test_parse_documents_builds_specs():
    result = parse_documents([doc(linear().xml())])
    assert result.problems == [] and set(result.processes) == {"p"}
    parsed = result.processes["p"]
    assert parsed.name == "テスト" and parsed.file_name == "t.bpmn"
    assert "a" in {t.bpmn_id for t in parsed.spec.task_specs.values()}


def test_camunda_conditions_run_through_the_safe_evaluator():
    result = parse_documents([doc(camunda_decision().xml())])
    parsed = result.processes["p"]
    engine = SafeScriptEngine(BusinessCalendar(()))
    cases = (({"note": {"done": True}}, "yes_end"), ({"note": {"done": True, "skip": True}}, "no_end"))
    for data, end in cases:
        wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=engine)
        wf.do_engine_steps()
        task = wf.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data.update(data)
        task.run()
        wf.do_engine_steps()
        assert wf.is_completed()
        assert end in {t.task_spec.bpmn_id for t in wf.get_tasks(state=TaskState.COMPLETED)}


def test_the_original_document_is_not_changed():
    document = doc(camunda_decision().xml())
    parse_documents([document])
    assert "${" in document.root.find(".//{*}conditionExpression").text


def test_timer_definitions_are_swapped_for_tsunagu_ones():
    b = linear()
    b.timer_boundary("t", "a", "3BD", interrupting=False)
    b.raw("c", '<bpmn:boundaryEvent id="c" attachedToRef="a" cancelActivity="false">'
               '<bpmn:timerEventDefinition>'
               '<bpmn:timeCycle>R3/P1D</bpmn:timeCycle></bpmn:timerEventDefinition></bpmn:boundaryEvent>')
    b.end("e1")
    b.end("e2")
    b.flow("t", "e1")
    b.flow("c", "e2")
    spec = parse_documents([doc(b.xml())]).processes["p"].spec
    kinds = {name: type(ts.event_definition) for name, ts in spec.task_specs.items()
             if hasattr(ts, "event_definition") and ts.bpmn_id in ("t", "c")}
    assert set(kinds.values()) == {DeadlineTimerEventDefinition, CycleTimerEventDefinition}


def test_spiffworkflow_errors_become_named_problems_not_exceptions():
    b = linear()
    b.elements[0] = '<bpmn:intermediateThrowEvent id="start"/>'   # no start event
    result = parse_documents([doc(b.xml())])
    assert result.processes == {}
    [problem] = result.problems
    assert problem.element_id == "p" and problem.line == 3 and problem.file == "t.bpmn"
    assert problem.reason == "the process has no start event: add one where a case begins (element 'テスト')"


def test_a_missing_called_process_names_the_call_activity():
    b = linear("main")
    b.elements[1] = '<bpmn:callActivity id="a" name="呼出" calledElement="elsewhere"/>'
    [problem] = parse_documents([doc(b.xml(), "main.bpmn")]).problems
    assert (problem.file, problem.element_id, problem.line) == ("main.bpmn", "a", 4)
    assert "'elsewhere', which is not in the bundle" in problem.reason


def test_problem_from_exception_translates_and_locates():
    document = doc(linear().xml())
    exc = ValidationException("Non-default exclusive outgoing sequence flow without condition",
                              file_name="t.bpmn")
    exc.id, exc.name = "a", "受付\n窓口"
    problem = problem_from_exception(exc, {"t.bpmn": document}, "t.bpmn")
    assert problem.line == document.line_of("a") and problem.element_id == "a"
    assert problem.reason.startswith("outgoing flow of a decision has no condition")
    assert problem.reason.endswith("(element '受付 窓口')")


def test_wrapped_python_errors_are_named_as_unreadable():
    exc = ValidationException("TypeError(\"'NoneType' object is not subscriptable\")")
    problem = problem_from_exception(exc, {}, "x.bpmn")
    assert problem.file == "x.bpmn" and problem.reason.startswith("SpiffWorkflow cannot read this element")
    plain = problem_from_exception(RuntimeError("something odd."), {}, "x.bpmn")
    assert plain.reason == "something odd" and plain.code == "bpmn_invalid"


def test_every_plain_reason_is_plain():
    for marker, reason in PLAIN_REASONS:
        assert marker not in reason or marker == "Data Store", (marker, reason)
        assert not reason.endswith(".")
