"""Structural checks of a process: what SpiffWorkflow needs to be able to build and run it at all.

SpiffWorkflow stops at the first structural error in a file and often says it in its own terms
("Time Specification Error", "Cannot resolve dataOutputAssociation <Element …>", a wrapped
``TypeError``), or not at all (a data reference it cannot resolve inside a sub-process makes its
parser loop for ever). These checks find every such problem in one pass, name the element and say
in plain words what to change. Problems with :data:`BLOCKING` codes mean the file must not be
handed to SpiffWorkflow's parser.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from ..errors import Problem
from .xml import BPMN_NS, NSMAP, XmlDocument, local_name

SPLITTING = frozenset({"exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway",
                       "complexGateway", "startEvent"})
FLOW_NODES = frozenset({
    "task", "userTask", "manualTask", "scriptTask", "serviceTask", "sendTask", "receiveTask",
    "businessRuleTask", "callActivity", "subProcess", "transaction", "adHocSubProcess", "startEvent",
    "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent", *SPLITTING,
})
SUBPROCESS_TAGS = ("subProcess", "transaction")
EVENT_REFS = {"messageEventDefinition": ("messageRef", "message"),
              "signalEventDefinition": ("signalRef", "signal"),
              "errorEventDefinition": ("errorRef", "error"),
              "escalationEventDefinition": ("escalationRef", "escalation")}
TIMER_PARTS = ("timeDuration", "timeDate", "timeCycle")
BLOCKING = frozenset({"structure", "data_ref", "call", "duplicate_id", "unsupported"})


def _where(doc: XmlDocument, element: etree._Element) -> tuple[int | None, str | None]:
    owner = element
    while owner is not None and not owner.get("id"):
        owner = owner.getparent()
    element_id = owner.get("id") if owner is not None else None
    return doc.line_of(element_id) or element.sourceline, element_id


def _problem(doc: XmlDocument, element: etree._Element, reason: str, code: str = "structure") -> Problem:
    line, element_id = _where(doc, element)
    return Problem(doc.name, line, element_id, reason, code=code)


def _label(element: etree._Element) -> str:
    name = " ".join((element.get("name") or "").split())
    return f"{local_name(element)} {name!r}" if name else local_name(element)


def _children(container: etree._Element, *tags: str) -> list[etree._Element]:
    wanted = {f"{{{BPMN_NS}}}{t}" for t in tags}
    return [c for c in container if c.tag in wanted]


def check_start_events(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    """A process needs a start event; an embedded sub-process exactly one, and an end event."""
    if not _children(process, "startEvent"):
        yield _problem(doc, process, f"process {process.get('id')!r} has no start event: add one where "
                       "a case begins", code="no_start")
    for sub in process.iter(*[f"{{{BPMN_NS}}}{t}" for t in SUBPROCESS_TAGS]):
        starts = _children(sub, "startEvent")
        if not any(local_name(c) in FLOW_NODES for c in sub):
            yield _problem(doc, sub, f"{_label(sub)} is empty: an embedded sub-process holds its own "
                           "steps, from one start event to an end event (for a separate diagram use a "
                           "call activity)", code="no_start")
            continue
        if len(starts) != 1:
            yield _problem(doc, sub, f"{_label(sub)} has {len(starts)} start events; an embedded "
                           "sub-process needs exactly one", code="no_start")
        if not _children(sub, "endEvent"):
            yield _problem(doc, sub, f"{_label(sub)} has no end event; add one where it finishes",
                           code="no_start")


def _containers(process: etree._Element) -> list[etree._Element]:
    tags = [f"{{{BPMN_NS}}}{t}" for t in (*SUBPROCESS_TAGS, "adHocSubProcess")]
    return [process, *process.iter(*tags)]


def check_flows(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    """Sequence flows connect existing elements; only gateways and start events split the flow."""
    for container in _containers(process):
        nodes = {c.get("id"): c for c in container if local_name(c) in FLOW_NODES and c.get("id")}
        flows = _children(container, "sequenceFlow")
        outgoing: dict[str, list[str]] = {}
        for flow in flows:
            for end in ("sourceRef", "targetRef"):
                ref = (flow.get(end) or "").strip()
                if ref not in nodes:
                    where = "not in the same process or sub-process" if ref else "missing"
                    yield _problem(doc, flow, f"sequence flow {end} {ref!r} is {where}; connect both "
                                   "ends to elements of the same (sub-)process")
            outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow.get("id", "?"))
        yield from _splits(doc, nodes, flows, outgoing)


def _splits(doc: XmlDocument, nodes: dict, flows: list, outgoing: dict[str, list[str]]) -> Iterator[Problem]:
    for node_id, ids in outgoing.items():
        node = nodes.get(node_id)
        if node is not None and len(ids) > 1 and local_name(node) not in SPLITTING:
            yield _problem(doc, node, f"{_label(node)} has {len(ids)} outgoing flows "
                           f"({', '.join(ids[:4])}); SpiffWorkflow only splits at gateways: add an "
                           "exclusive or parallel gateway after it")
    for flow in flows:
        source, target = nodes.get(flow.get("sourceRef")), nodes.get(flow.get("targetRef"))
        if source is not None and local_name(source) == "eventBasedGateway" and target is not None and \
                local_name(target) not in ("intermediateCatchEvent", "receiveTask"):
            yield _problem(doc, flow, "an event-based gateway may only lead to catch events or receive "
                           f"tasks, not to {_label(target)}")
    for node in nodes.values():
        default = node.get("default")
        if default and default not in outgoing.get(node.get("id", ""), []):
            yield _problem(doc, node, f"default flow {default!r} is not an outgoing flow of this element")


def check_events(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    """Catch events wait for something, timers have a time, conditions exist, cancels sit in transactions."""
    for element in process.iter(f"{{{BPMN_NS}}}intermediateCatchEvent", f"{{{BPMN_NS}}}boundaryEvent"):
        if not any(local_name(c).endswith("EventDefinition") or local_name(c) == "eventDefinitionRef"
                   for c in element if isinstance(c.tag, str)):
            yield _problem(doc, element, f"{_label(element)} waits for nothing: give it a timer, message, "
                           "signal or error definition, or remove it")
        elif element.get("attachedToRef") is not None and element.get("attachedToRef") not in doc.lines:
            yield _problem(doc, element, f"boundary event is attached to {element.get('attachedToRef')!r}, "
                           "which does not exist")
    for timer in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        if not any(timer.find(f"bpmn:{part}", NSMAP) is not None for part in TIMER_PARTS):
            yield _problem(doc, timer.getparent(), "timer has no time: add a duration (timeDuration, e.g. "
                           "P3D or 3BD), a date (timeDate) or a cycle (timeCycle)", code="timer")
    for conditional in process.iter(f"{{{BPMN_NS}}}conditionalEventDefinition"):
        if conditional.find("bpmn:condition", NSMAP) is None:
            yield _problem(doc, conditional.getparent(), "conditional event has no condition; add one, "
                           "e.g. consent.status == 'agreed'", code="expression")
    for cancel in process.iter(f"{{{BPMN_NS}}}cancelEventDefinition"):
        owner = cancel.getparent()
        host = owner.getparent()
        if owner.get("attachedToRef"):
            host = next((e for e in process.iter() if e.get("id") == owner.get("attachedToRef")), host)
        if host is None or local_name(host) != "transaction":
            yield _problem(doc, owner, "cancel events belong to transactions (on or inside a <transaction>)")


def check_event_references(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    """messageRef, signalRef, errorRef and escalationRef name elements defined in the file."""
    defined = {e.get("id") for e in doc.root if isinstance(e.tag, str) and e.get("id")}
    for tag, (attr, what) in EVENT_REFS.items():
        for definition in process.iter(f"{{{BPMN_NS}}}{tag}"):
            ref = definition.get(attr)
            if ref and ref.split(":")[-1] not in defined:
                yield _problem(doc, definition.getparent(), f"{what} {ref!r} is not defined in this file; "
                               f"add a <bpmn:{what} id={ref!r}> element or pick an existing one")


def check_loop_characteristics(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    """Standard loops need a condition or maximum; multi-instance exactly one of count or input list."""
    for loop in process.iter(f"{{{BPMN_NS}}}standardLoopCharacteristics"):
        if loop.find("bpmn:loopCondition", NSMAP) is None and loop.find("bpmn:loopMaximum", NSMAP) is None \
                and loop.get("loopMaximum") is None:
            yield _problem(doc, loop.getparent(), "loop activity needs a loopCondition (repeat while true) "
                           "or a loopMaximum")
    for multi in process.iter(f"{{{BPMN_NS}}}multiInstanceLoopCharacteristics"):
        has_count = multi.find("bpmn:loopCardinality", NSMAP) is not None
        has_input = multi.find("bpmn:loopDataInputRef", NSMAP) is not None
        if has_count == has_input:
            camunda = any(k.endswith("}collection") for k in multi.attrib)
            extra = ", not both" if has_count else "; camunda:collection is not read" if camunda else ""
            yield _problem(doc, multi.getparent(), "multi-instance activity needs exactly one of "
                           "loopCardinality (how many times) or loopDataInputRef (the list to go through)"
                           + extra)


def check_data_references(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    """Data associations must point at a data object reference whose object SpiffWorkflow can find.

    SpiffWorkflow looks in the element's own (sub-)process and its parent only; an object found in
    neither makes its parser loop for ever, so this check must pass before parsing.
    """
    refs = {e.get("id"): e for e in doc.root.iter(f"{{{BPMN_NS}}}dataObjectReference")}
    stores = {e.get("id") for e in doc.root.iter(f"{{{BPMN_NS}}}dataStoreReference")}
    for assoc_tag, end in (("dataInputAssociation", "sourceRef"), ("dataOutputAssociation", "targetRef")):
        for assoc in process.iter(f"{{{BPMN_NS}}}{assoc_tag}"):
            owner = assoc.getparent()
            for node in assoc.iterfind(f"bpmn:{end}", NSMAP):
                ref = (node.text or "").strip()
                if ref in stores:
                    continue  # reported as unsupported
                reference = refs.get(ref)
                if reference is None:
                    actual = next((local_name(e) for e in doc.root.iter() if isinstance(e.tag, str)
                                   and e.get("id") == ref), None)
                    what = f"a {actual}" if actual else "not defined in this file"
                    yield _problem(doc, owner, f"data association {end} {ref!r} is {what}; "
                                   "SpiffWorkflow reads and writes data objects only: connect it to a data "
                                   "object reference", code="data_ref")
                elif not _object_in_scope(owner, reference.get("dataObjectRef")):
                    yield _problem(doc, owner, f"data object reference {ref!r} points to data object "
                                   f"{reference.get('dataObjectRef')!r}, which is not defined in this "
                                   "sub-process or the one around it", code="data_ref")


def _object_in_scope(owner: etree._Element, object_id: str | None) -> bool:
    container = owner.getparent()
    for _ in range(2):
        if container is None:
            return False
        if any(local_name(c) == "dataObject" and c.get("id") == object_id for c in container):
            return True
        container = container.getparent()
        if container is not None and local_name(container) == "definitions":
            return False
    return False


def check_structure(doc: XmlDocument, process: etree._Element) -> list[Problem]:
    """Every structural problem of one executable process."""
    found: list[Problem] = []
    for check in (check_start_events, check_flows, check_events, check_event_references,
                  check_loop_characteristics, check_data_references):
        found.extend(check(doc, process))
    return found


def no_executable_process(doc: XmlDocument) -> Problem:
    """The reason a file has nothing to run, as precisely as the file allows."""
    processes = doc.root.findall("bpmn:process", NSMAP)
    if processes:
        ids = ", ".join(repr(p.get("id")) for p in processes[:5])
        return Problem(doc.name, processes[0].sourceline, processes[0].get("id"),
                       f"no executable process: {ids} {'is' if len(processes) == 1 else 'are'} marked "
                       "isExecutable=\"false\"; set isExecutable=\"true\" on the process to run",
                       code="no_executable_process")
    kinds = sorted({local_name(c) for c in doc.root if isinstance(c.tag, str)} - {"BPMNDiagram"})
    has = f" (it holds only: {', '.join(kinds[:6])})" if kinds else " (it is empty)"
    return Problem(doc.name, doc.root.sourceline, None, f"no executable process: the file has no "
                   f"<bpmn:process>{has}", code="no_executable_process")
