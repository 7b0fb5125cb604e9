"""Structural checks: what SpiffWorkflow needs to build a process, found in one pass and named plainly."""

from __future__ import annotations

import time

import pytest

from engine.bpmn.structure import BLOCKING
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.validation import check, codes, linear, problem


def test_process_without_a_start_event():
    b = linear()
    b.elements[0] = '<bpmn:intermediateThrowEvent id="start"/>'
    assert "has no start event" in problem(check(b.xml()), "no_start", "p").reason


def sub_process(inner: str) -> ProcessBuilder:
    b = ProcessBuilder("p", "外")
    b.lane("窓口", "s0", "sub", "e0")
    b.start("s0")
    b.raw("sub", f'<bpmn:subProcess id="sub" name="内">{inner}</bpmn:subProcess>')
    b.end("e0")
    b.flow("s0", "sub")
    b.flow("sub", "e0")
    return b


def test_embedded_sub_process_needs_one_start_and_an_end():
    assert "is empty" in problem(check(sub_process("").xml()), "no_start", "sub").reason
    two = ('<bpmn:startEvent id="i1"/><bpmn:startEvent id="i2"/><bpmn:endEvent id="ie"/>'
           '<bpmn:sequenceFlow id="x1" sourceRef="i1" targetRef="ie"/>'
           '<bpmn:sequenceFlow id="x2" sourceRef="i2" targetRef="ie"/>')
    assert "has 2 start events" in problem(check(sub_process(two).xml()), "no_start", "sub").reason
    no_end = '<bpmn:startEvent id="i1"/><bpmn:manualTask id="m"/><bpmn:sequenceFlow id="x" sourceRef="i1" ' \
             'targetRef="m"/>'
    assert "has no end event" in problem(check(sub_process(no_end).xml()), "no_start", "sub").reason
    good = '<bpmn:startEvent id="i1"/><bpmn:endEvent id="ie"/><bpmn:sequenceFlow id="x" sourceRef="i1" ' \
           'targetRef="ie"/>'
    assert check(sub_process(good).xml()).problems == []


def test_only_gateways_split_the_flow():
    b = linear()
    b.end("end2")
    b.lane("窓口", "end2")
    b.flow("a", "end2")
    p = problem(check(b.xml()), "structure", "a")
    assert "has 2 outgoing flows (flow_2, flow_3)" in p.reason
    assert "add an exclusive or parallel gateway" in p.reason


def test_sequence_flows_must_connect_existing_elements():
    b = linear()
    b.flow("a", "nowhere", flow_id="dangling")
    problem(check(b.xml()), "structure", "dangling", "targetRef 'nowhere'")
    b = linear()
    b.flows.append('<bpmn:sequenceFlow id="half" targetRef="end"/>')
    problem(check(b.xml()), "structure", "half", "sourceRef ''")


def test_default_flow_must_leave_its_gateway():
    b = linear()
    b.flows.clear()
    b.xor("g", default="elsewhere", maxIterations="1")
    b.lane("窓口", "g")
    b.flow("start", "a")
    b.flow("a", "g")
    b.flow("g", "end", "x == 1")
    b.flow("g", "end", "x == 2")
    problem(check(b.xml()), "structure", "g", "default flow 'elsewhere'")


@pytest.mark.parametrize(("event", "reason"), [
    ('<bpmn:intermediateCatchEvent id="e"/>', "waits for nothing"),
    ('<bpmn:intermediateCatchEvent id="e"><bpmn:timerEventDefinition/></bpmn:intermediateCatchEvent>',
     "timer has no time"),
    ('<bpmn:intermediateCatchEvent id="e"><bpmn:messageEventDefinition messageRef="m9"/>'
     '</bpmn:intermediateCatchEvent>', "message 'm9' is not defined"),
    ('<bpmn:intermediateCatchEvent id="e"><bpmn:signalEventDefinition signalRef="s9"/>'
     '</bpmn:intermediateCatchEvent>', "signal 's9' is not defined"),
    ('<bpmn:intermediateThrowEvent id="e"><bpmn:escalationEventDefinition escalationRef="esc"/>'
     '</bpmn:intermediateThrowEvent>', "escalation 'esc' is not defined"),
])
def test_events(event, reason):
    b = linear()
    b.flows.clear()
    b.raw("e", event)
    b.lane("窓口", "e")
    b.flow("start", "e")
    b.flow("e", "a")
    b.flow("a", "end")
    bundle = check(b.xml())
    found = [p for p in bundle.problems if p.element_id == "e" and reason in p.reason]
    assert found and found[0].line, bundle.problems


def test_defined_references_are_fine():
    b = linear()
    b.flows.clear()
    b.raw("e", '<bpmn:intermediateCatchEvent id="e"><bpmn:messageEventDefinition messageRef="m1"/>'
               '</bpmn:intermediateCatchEvent>')
    b.lane("窓口", "e")
    b.flow("start", "e")
    b.flow("e", "a")
    b.flow("a", "end")
    xml = b.xml().replace("</bpmn:definitions>", '<bpmn:message id="m1" name="返信"/></bpmn:definitions>')
    assert check(xml).problems == []


def test_boundary_event_attached_to_nothing():
    b = linear()
    b.timer_boundary("t", "ghost", "P1D")
    b.end("e2")
    b.lane("窓口", "t", "e2")
    b.flow("t", "e2")
    problem(check(b.xml()), "structure", "t", "attached to 'ghost'")


def test_cancel_events_belong_to_transactions():
    b = linear()
    b.elements[2] = '<bpmn:endEvent id="end"><bpmn:cancelEventDefinition/></bpmn:endEvent>'
    problem(check(b.xml()), "structure", "end", "transactions")


@pytest.mark.parametrize(("loop", "reason"), [
    ("<bpmn:standardLoopCharacteristics/>", "loopCondition"),
    ("<bpmn:multiInstanceLoopCharacteristics/>", "exactly one of loopCardinality"),
    ('<bpmn:multiInstanceLoopCharacteristics camunda:collection="items"/>', "camunda:collection is not read"),
    ("<bpmn:multiInstanceLoopCharacteristics><bpmn:loopCardinality>3</bpmn:loopCardinality>"
     "<bpmn:loopDataInputRef>items</bpmn:loopDataInputRef></bpmn:multiInstanceLoopCharacteristics>",
     "not both"),
])
def test_loop_characteristics(loop, reason):
    b = linear()
    b.elements[1] = b.elements[1].replace("</bpmn:userTask>", loop + "</bpmn:userTask>")
    problem(check(b.xml()), "structure", "a", reason)


def test_multi_instance_with_cardinality_is_fine():
    b = linear()
    b.elements[1] = b.elements[1].replace("</bpmn:userTask>", "<bpmn:multiInstanceLoopCharacteristics>"
                                          "<bpmn:loopCardinality>3</bpmn:loopCardinality>"
                                          "</bpmn:multiInstanceLoopCharacteristics></bpmn:userTask>")
    assert check(b.xml()).problems == []


def data_process(inner_object: bool, ref_target: str = "obj") -> str:
    """A sub-process task writing to a data object reference whose object lives in/out of reach."""
    obj = '<bpmn:dataObject id="obj"/>'
    inner = ('<bpmn:startEvent id="i1"/><bpmn:userTask id="w" name="書く"><bpmn:extensionElements>'
             '<spiffworkflow:properties><spiffworkflow:property name="formKey" value="note"/>'
             '</spiffworkflow:properties></bpmn:extensionElements><bpmn:dataOutputAssociation id="da">'
             f'<bpmn:targetRef>{ref_target}_ref</bpmn:targetRef></bpmn:dataOutputAssociation></bpmn:userTask>'
             f'<bpmn:dataObjectReference id="obj_ref" dataObjectRef="obj"/>{obj if inner_object else ""}'
             '<bpmn:endEvent id="ie"/><bpmn:sequenceFlow id="x1" sourceRef="i1" targetRef="w"/>'
             '<bpmn:sequenceFlow id="x2" sourceRef="w" targetRef="ie"/>')
    return sub_process(inner).xml()


def test_data_references_resolve_in_scope():
    assert "data_ref" not in codes(check(data_process(True)))
    p = problem(check(data_process(False)), "data_ref", "w")
    assert "data object 'obj', which is not defined in this sub-process or the one around it" in p.reason
    problem(check(data_process(True, "nothing")), "data_ref", "w", "not defined in this file")


def test_an_unresolvable_data_reference_does_not_hang_validation():
    """SpiffWorkflow's parser loops for ever on this; the structural check must stop it first."""
    started = time.perf_counter()
    bundle = check(data_process(False))
    assert "data_ref" in codes(bundle) and time.perf_counter() - started < 2
    assert "data_ref" in BLOCKING


def test_event_based_gateway_leads_to_events_only():
    b = linear()
    b.flows.clear()
    b.raw("eg", '<bpmn:eventBasedGateway id="eg"/>')
    b.lane("窓口", "eg")
    b.flow("start", "eg")
    b.flow("eg", "a", flow_id="to_task")
    b.flow("a", "end")
    problem(check(b.xml()), "structure", "to_task", "event-based gateway may only lead to catch events")


def test_conditional_event_needs_a_condition():
    b = linear()
    b.raw("ev", '<bpmn:boundaryEvent id="ev" attachedToRef="a" cancelActivity="false">'
                '<bpmn:conditionalEventDefinition/></bpmn:boundaryEvent>')
    b.end("e2")
    b.lane("窓口", "ev", "e2")
    b.flow("ev", "e2")
    problem(check(b.xml()), "expression", "ev", "conditional event has no condition")
