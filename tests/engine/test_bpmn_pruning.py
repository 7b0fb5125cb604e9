"""engine.bpmn.pruning: finished loop rounds go, so long-lived repetition keeps the state flat; and the
validation rule that keeps boundary events off looped sub-processes (SpiffWorkflow cannot cancel them)."""

from __future__ import annotations

from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.bundle import load_bundle
from engine.bpmn.parser import parse_documents
from engine.bpmn.pruning import prune
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.serializer import state_to_json
from engine.bpmn.xml import read_document
from engine.businessdays import BusinessCalendar

HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?><bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/'
    '20100524/MODEL" xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" id="d" '
    'targetNamespace="x"><bpmn:process id="p" name="周期" isExecutable="true">'
    '<bpmn:laneSet id="ls"><bpmn:lane id="l" name="CSW"><bpmn:flowNodeRef>t</bpmn:flowNodeRef>'
    '</bpmn:lane></bpmn:laneSet><bpmn:startEvent id="s" name="開始"/>'
)
ROUND = (
    '<bpmn:subProcess id="cycle" name="周期">{marker}<bpmn:startEvent id="cs" name="開始"/>'
    '<bpmn:userTask id="t" name="記録"><bpmn:extensionElements><spiffworkflow:properties>'
    '<spiffworkflow:property name="formKey" value="note"/></spiffworkflow:properties>'
    '</bpmn:extensionElements></bpmn:userTask><bpmn:endEvent id="ce" name="終了"/>'
    '<bpmn:sequenceFlow id="c1" sourceRef="cs" targetRef="t"/><bpmn:sequenceFlow id="c2" sourceRef="t" '
    'targetRef="ce"/></bpmn:subProcess>'
)
LOOP = (
    "<bpmn:standardLoopCharacteristics><bpmn:loopCondition>note.more == True</bpmn:loopCondition>"
    "</bpmn:standardLoopCharacteristics>"
)
TAIL = (
    '<bpmn:endEvent id="e" name="終了"/><bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="cycle"/>'
    '<bpmn:sequenceFlow id="f2" sourceRef="cycle" targetRef="e"/>{extra}</bpmn:process></bpmn:definitions>'
)
ROLES = b"lanes:\n  CSW: csw\n"


def _workflow() -> BpmnWorkflow:
    doc, problems = read_document(
        "p.bpmn", (HEAD + ROUND.format(marker=LOOP) + TAIL.format(extra="")).encode(), 10**6
    )
    assert not problems
    parsed = parse_documents([doc]).processes["p"]
    workflow = BpmnWorkflow(
        parsed.spec, parsed.subprocess_specs, script_engine=SafeScriptEngine(BusinessCalendar())
    )
    workflow.do_engine_steps()
    return workflow


def _complete_round(workflow: BpmnWorkflow, more: bool) -> None:
    task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
    task.data["note"] = {"more": more}
    task.run()
    workflow.do_engine_steps()
    prune(workflow)


def test_rounds_are_pruned_and_the_state_stops_growing():
    workflow = _workflow()
    sizes = []
    for n in range(40):
        _complete_round(workflow, more=True)
        sizes.append(len(state_to_json(workflow)))
        assert len(workflow.subprocesses) <= 2, n  # the running round and the one that just ended
    assert sizes[-1] - sizes[5] < 40 * 4  # the loop's list of merged rounds keeps a blank per round
    [loop] = [t for t in workflow.get_tasks() if t.task_spec.name == "cycle"]
    merged = loop.internal_data["merged"]
    assert len(merged) == 40 and merged[:-1] == [""] * 39 and merged[-1]  # the count and the last id stay
    _complete_round(workflow, more=False)
    assert workflow.is_completed()


def test_a_loop_maximum_still_counts_pruned_rounds():
    marker = LOOP.replace("<bpmn:standardLoopCharacteristics>",
                          '<bpmn:standardLoopCharacteristics loopMaximum="5">')
    doc, problems = read_document(
        "p.bpmn", (HEAD + ROUND.format(marker=marker) + TAIL.format(extra="")).encode(), 10**6
    )
    assert not problems
    parsed = parse_documents([doc]).processes["p"]
    workflow = BpmnWorkflow(
        parsed.spec, parsed.subprocess_specs, script_engine=SafeScriptEngine(BusinessCalendar())
    )
    workflow.do_engine_steps()
    for _ in range(5):
        _complete_round(workflow, more=True)  # the condition asks for more; the maximum stops at 5
    assert workflow.is_completed()


def test_without_pruning_every_round_stays():
    workflow = _workflow()
    for _ in range(5):
        task = workflow.get_tasks(state=TaskState.READY, manual=True)[0]
        task.data["note"] = {"more": True}
        task.run()
        workflow.do_engine_steps()
    assert len(workflow.subprocesses) == 6
    assert prune(workflow) == 4 and len(workflow.subprocesses) == 2


def test_boundary_event_on_a_looped_sub_process_is_refused():
    boundary = (
        '<bpmn:boundaryEvent id="b" name="期限" attachedToRef="cycle"><bpmn:timerEventDefinition>'
        "<bpmn:timeDuration>P3M</bpmn:timeDuration></bpmn:timerEventDefinition></bpmn:boundaryEvent>"
        '<bpmn:endEvent id="be" name="期限切れ"/><bpmn:sequenceFlow id="f3" sourceRef="b" targetRef="be"/>'
    )
    looped = HEAD + ROUND.format(marker=LOOP) + TAIL.format(extra=boundary)
    plain = HEAD + ROUND.format(marker="") + TAIL.format(extra=boundary)
    problems = load_bundle({"p.bpmn": looped.encode(), "roles.yaml": ROLES}, None).problems
    assert [(p.element_id, p.code) for p in problems] == [("b", "unsupported")]
    assert load_bundle({"p.bpmn": plain.encode(), "roles.yaml": ROLES}, None).problems == []
