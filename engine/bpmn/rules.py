"""Element-level checks of Tsunagu's BPMN conventions (see docs/designing-processes.md).

Each check yields :class:`~engine.errors.Problem` values naming the file, the line, the element and
a plain reason. The checks read the XML, not SpiffWorkflow's specs, so they also work on files
SpiffWorkflow cannot parse.
"""

from __future__ import annotations

from collections.abc import Iterator

from lxml import etree

from ..case_updates import COLUMNS as CASE_COLUMNS
from ..durations import is_literal
from ..errors import ExpressionError, Problem
from ..expressions import Expression, compile_expression, from_camunda
from ..formdefs import FormRegistry
from ..roles import RoleConfig
from .conventions import HUMAN_TAGS, camunda_attr, element_properties, lane_map
from .xml import BPMN_NS, BPMNDI_NS, CAMUNDA_NS, NSMAP, SPIFF_NS, XmlDocument, local_name

UNSUPPORTED = {
    "complexGateway": "complex gateways are not supported by SpiffWorkflow; use exclusive or inclusive "
                      "gateways",
    "scriptTask": "script tasks are not allowed: BPMN text must not run as code (decide with gateway "
                  "conditions, record with user tasks)",
    "serviceTask": "service tasks are not supported: a diagram cannot call code or services; model the step "
                   "as a user task",
    "businessRuleTask": "business rule tasks (DMN) are not supported; use gateway conditions",
    "callChoreography": "choreographies are not executable",
    "choreographyTask": "choreographies are not executable",
    "linkEventDefinition": "link events are not supported (SpiffWorkflow silently ignores them); "
                           "draw the sequence flow instead",
    "compensateEventDefinition": "compensation is not supported by SpiffWorkflow",
    "dataStoreReference": "data stores are not supported (each needs programmed storage); keep data in "
                          "forms and data objects",
}
SPIFF_SCRIPTS = ("preScript", "postScript")
CAMUNDA_CODE = ("executionListener", "taskListener", "script", "inputOutput", "connector")
ID_NAMESPACES = (BPMN_NS, BPMNDI_NS)
MULTI_GATEWAYS = ("exclusiveGateway", "inclusiveGateway")
_KIND = {"userTask": "user task", "manualTask": "manual task",
         "task": "task (a plain task waits for a person in SpiffWorkflow)"}


def _problem(doc: XmlDocument, element: etree._Element, reason: str, code: str = "invalid") -> Problem:
    element_id = element.get("id")
    line = doc.line_of(element_id) or element.sourceline
    return Problem(doc.name, line, element_id, reason, code=code)


def check_expression(text: str | None, what: str) -> tuple[Expression | None, str | None]:
    if text is None or not text.strip():
        return None, f"{what} is empty: write one (e.g. consent.status == 'agreed') or remove it"
    try:
        return compile_expression(from_camunda(text.strip())), None
    except ExpressionError as exc:
        return None, f"{what} {text.strip()[:80]!r} is not allowed: {exc.message}"


def _check_timer_text(text: str | None, kind: str) -> str | None:
    if text is None or not text.strip():
        return ("timer has no time: add a duration (timeDuration, e.g. P3D or 3BD), a date (timeDate) or "
                "a cycle")
    value = text.strip()
    if is_literal(value, kind) or is_literal(value, "date"):
        return None
    expr, error = check_expression(value, "timer expression")
    if error:
        return f"{error}; write an ISO 8601 duration (P3D, PT2H), business days (3BD) or a date"
    node = expr.tree.body if expr else None
    if node is not None and hasattr(node, "value") and isinstance(getattr(node, "value", None), str):
        if not (is_literal(node.value, kind) or is_literal(node.value, "date")):
            return f"timer {value!r} is not an ISO 8601 duration (P3D), business days (3BD) or a date"
    return None


def iter_processes(doc: XmlDocument) -> Iterator[etree._Element]:
    for process in doc.root.iterfind("bpmn:process", NSMAP):
        if process.get("isExecutable", "true") != "false":
            yield process


def check_unsupported(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    for element in process.iter():
        if not isinstance(element.tag, str):
            continue
        qname = etree.QName(element.tag)
        if qname.namespace == BPMN_NS and qname.localname in UNSUPPORTED:
            target = element if element.get("id") else element.getparent()
            yield _problem(doc, target, UNSUPPORTED[qname.localname], code="unsupported")
        elif qname.namespace == SPIFF_NS and qname.localname in SPIFF_SCRIPTS:
            owner = element.getparent().getparent()
            yield _problem(doc, owner, f"spiffworkflow:{qname.localname} is not allowed: BPMN text must not "
                           "run as code", code="unsupported")
        elif qname.namespace == CAMUNDA_NS and qname.localname in CAMUNDA_CODE:
            owner = element
            while owner is not None and not owner.get("id"):
                owner = owner.getparent()
            yield _problem(doc, owner if owner is not None else process,
                           f"camunda:{qname.localname} runs code and is not supported", code="unsupported")


def check_human_tasks(doc: XmlDocument, process: etree._Element, roles: RoleConfig,
                      forms: FormRegistry | None) -> Iterator[Problem]:
    lanes = lane_map(process)
    for element in process.iter(*[f"{{{BPMN_NS}}}{t}" for t in HUMAN_TAGS]):
        props = element_properties(element)
        element_id = element.get("id", "")
        lane = lanes.get(element_id) or _inherited_lane(element, lanes)
        groups = camunda_attr(element, "candidateGroups")
        role = props.get("role") or roles.role_for_groups(groups) or roles.role_for_lane(lane)
        kind = _KIND.get(local_name(element), "user task")
        if not lane and not groups and not props.get("role"):
            yield _problem(doc, element, f"{kind} is not in a lane (a lane names the role that does it)",
                           code="no_lane")
        elif not role:
            yield _problem(doc, element, f"lane {lane!r} has no role in processes/roles.yaml" if lane else
                           f"candidateGroups {groups!r} names no known role", code="no_role")
        form_key = props.get("formKey")
        if not form_key:
            yield _problem(doc, element, f"{kind} names no form (property formKey or camunda:formKey)",
                           code="no_form")
        elif forms is not None and form_key not in forms:
            yield _problem(doc, element, f"form {form_key!r} is not defined in forms/", code="unknown_form")
        due = props.get("due")
        if due and not (is_literal(due) or is_literal(due, "date")):
            _, error = check_expression(due, "due")
            if error:
                yield _problem(doc, element, f"{error}; write P3D, PT2H, 3BD or an expression", code="timer")
        for key in ("assignee", "agency"):
            if props.get(key):
                _, error = check_expression(props[key], key)
                if error:
                    yield _problem(doc, element, error, code="expression")
        yield from check_case_updates(doc, element, props)


def check_case_updates(doc: XmlDocument, element: etree._Element, props: dict[str, str]) -> Iterator[Problem]:
    for key, value in props.items():
        if not key.startswith("case."):
            continue
        column = key[len("case."):]
        if column not in CASE_COLUMNS:
            yield _problem(doc, element, f"property {key!r}: a diagram may set only "
                           f"{', '.join('case.' + c for c in CASE_COLUMNS)}")
            continue
        _, error = check_expression(value, key)
        if error:
            yield _problem(doc, element, error, code="expression")


def _inherited_lane(element: etree._Element, lanes: dict[str, str]) -> str | None:
    parent = element.getparent()
    while parent is not None:
        if parent.get("id") in lanes:
            return lanes[parent.get("id")]
        parent = parent.getparent()
    return None


def check_lanes(doc: XmlDocument, process: etree._Element, roles: RoleConfig) -> Iterator[Problem]:
    for lane in process.iter(f"{{{BPMN_NS}}}lane"):
        refs = [r.text.strip() for r in lane.iterfind("bpmn:flowNodeRef", NSMAP) if r.text]
        if not refs or lane.find("bpmn:childLaneSet", NSMAP) is not None:
            continue
        name = (lane.get("name") or "").strip()
        if not name:
            yield _problem(doc, lane, "lane has no name; a lane's name says which role does its tasks",
                           code="no_role")
        elif roles.role_for_lane(name) is None:
            yield _problem(doc, lane, f"lane {name!r} has no role in processes/roles.yaml", code="no_role")


def check_gateways_and_flows(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    outgoing: dict[str, list[etree._Element]] = {}
    for flow in process.iter(f"{{{BPMN_NS}}}sequenceFlow"):
        outgoing.setdefault(flow.get("sourceRef", ""), []).append(flow)
        cond = flow.find("bpmn:conditionExpression", NSMAP)
        if cond is not None:
            _, error = check_expression(cond.text, "condition")
            if error:
                yield _problem(doc, flow, error, code="expression")
    for tag in MULTI_GATEWAYS:
        for gateway in process.iter(f"{{{BPMN_NS}}}{tag}"):
            flows = outgoing.get(gateway.get("id", ""), [])
            if len(flows) < 2:
                continue
            default = gateway.get("default")
            if not default:
                yield _problem(doc, gateway, "gateway with several outgoing flows has no default flow; add "
                               "one so a case never gets stuck when no condition matches", code="no_default")
            for flow in flows:
                if flow.get("id") != default and flow.find("bpmn:conditionExpression", NSMAP) is None:
                    yield _problem(doc, flow, "outgoing flow of a decision has no condition",
                                   code="no_condition")


def check_expressions(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    for timer in process.iter(f"{{{BPMN_NS}}}timerEventDefinition"):
        owner = timer.getparent()
        for kind_tag, kind in (("timeDuration", "duration"), ("timeDate", "date"), ("timeCycle", "cycle")):
            node = timer.find(f"bpmn:{kind_tag}", NSMAP)
            if node is not None:
                error = _check_timer_text(from_camunda(node.text or ""), kind)
                if error:
                    yield _problem(doc, owner, error, code="timer")
    for tag, what in (("loopCondition", "loop condition"), ("completionCondition", "completion condition"),
                      ("loopCardinality", "loop cardinality"), ("condition", "condition")):
        for node in process.iter(f"{{{BPMN_NS}}}{tag}"):
            owner = node.getparent()
            while owner is not None and not owner.get("id"):
                owner = owner.getparent()
            _, error = check_expression(node.text, what)
            if error:
                yield _problem(doc, owner if owner is not None else process, error, code="expression")


def check_call_activities(doc: XmlDocument, process: etree._Element, known: set[str],
                          calls: dict[str, set[str]]) -> Iterator[Problem]:
    for call in process.iter(f"{{{BPMN_NS}}}callActivity"):
        target = (call.get("calledElement") or "").strip()
        if not target:
            yield _problem(doc, call, "call activity names no process (calledElement)", code="call")
        elif target not in known:
            yield _problem(doc, call, f"call activity calls process {target!r}, which is not in the bundle",
                           code="call")
        elif _reaches(target, process.get("id", ""), calls):
            yield _problem(doc, call, f"call activity calls {target!r}, which leads back to this process; "
                           "recursive calls never end", code="call")


def _reaches(start: str, goal: str, calls: dict[str, set[str]]) -> bool:
    seen, todo = set(), [start]
    while todo:
        current = todo.pop()
        if current == goal:
            return True
        if current in seen:
            continue
        seen.add(current)
        todo.extend(calls.get(current, ()))
    return False


def call_graph(docs: list[XmlDocument]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for doc in docs:
        for process in doc.root.iterfind("bpmn:process", NSMAP):
            graph[process.get("id", "")] = {
                (c.get("calledElement") or "").strip() for c in process.iter(f"{{{BPMN_NS}}}callActivity")}
    return graph


LOOP_MARKERS = ("standardLoopCharacteristics", "multiInstanceLoopCharacteristics")
ROUND_HOSTS = ("subProcess", "callActivity", "transaction")


def check_boundary_on_loops(doc: XmlDocument, process: etree._Element) -> Iterator[Problem]:
    """A boundary event on a looped sub-process/call activity: SpiffWorkflow drops the running round
    without cancelling its sub-workflow, and the engine then fails when the event fires."""
    hosts = {e.get("id"): e for tag in ROUND_HOSTS for e in process.iter(f"{{{BPMN_NS}}}{tag}")}
    for boundary in process.iter(f"{{{BPMN_NS}}}boundaryEvent"):
        host = hosts.get(boundary.get("attachedToRef"))
        if host is not None and any(host.find(f"bpmn:{m}", NSMAP) is not None for m in LOOP_MARKERS):
            yield _problem(doc, boundary, "a boundary event on a looped sub-process or call activity is not "
                           "supported (SpiffWorkflow cannot cancel the running round); put the loop inside a "
                           "plain sub-process and attach the event to that", code="unsupported")


def check_duplicate_ids(doc: XmlDocument) -> Iterator[Problem]:
    seen: dict[str, int] = {}
    for element in doc.root.iter():
        if not isinstance(element.tag, str) or etree.QName(element.tag).namespace not in ID_NAMESPACES:
            continue
        element_id = element.get("id")
        if not element_id:
            continue
        if element_id in seen:
            yield Problem(doc.name, element.sourceline, element_id,
                          f"id {element_id!r} is used twice (first on line {seen[element_id]})",
                          code="duplicate_id")
        else:
            seen[element_id] = element.sourceline
