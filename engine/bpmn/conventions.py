"""The designer-facing conventions of a diagram, read straight from the XML.

For every human step (``userTask``, ``manualTask`` and a plain ``task``, which SpiffWorkflow also
treats as waiting for a person) this module records its lane, role, form, due time, assignee and
agency expression. Both dialects are read:

* SpiffWorkflow / bpmn.io: ``<spiffworkflow:properties><spiffworkflow:property name="formKey"
  value="intake"/>…`` with the names ``formKey``, ``due``, ``assignee``, ``agency``, ``role``;
* Camunda Modeler: the attributes ``camunda:formKey``, ``camunda:dueDate``, ``camunda:assignee``,
  ``camunda:candidateGroups`` (``${…}`` expressions are translated).

The result is plain JSON stored with the process definition, keyed by the spec name that
SpiffWorkflow gives a task's workflow (the process id, or the id of an embedded sub-process).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from lxml import etree

from ..expressions import from_camunda
from ..roles import RoleConfig
from .xml import BPMN_NS, CAMUNDA_NS, NSMAP, SPIFF_NS, XmlDocument, local_name

HUMAN_TAGS = ("userTask", "manualTask", "task")
CONTAINER_TAGS = ("subProcess", "transaction", "adHocSubProcess")
PROPERTY_NAMES = ("formKey", "due", "assignee", "agency", "role", "stage", "maxIterations")


@dataclass
class TaskMeta:
    element_id: str
    name: str
    tag: str
    lane: str | None
    role: str | None
    form_key: str | None
    due: str | None
    assignee: str | None
    agency: str | None
    candidate_groups: str | None
    stage: str | None
    case_updates: dict[str, str]
    line: int | None

    def to_json(self) -> dict:
        return asdict(self)


def _spiff_properties(element: etree._Element) -> dict[str, str]:
    props = {}
    path = "bpmn:extensionElements/spiffworkflow:properties/spiffworkflow:property"
    for prop in element.iterfind(path, NSMAP):
        name = prop.get("name")
        if name:
            props[name] = prop.get("value") or (prop.text or "")
    return props


def camunda_attr(element: etree._Element, name: str) -> str | None:
    value = element.get(f"{{{CAMUNDA_NS}}}{name}")
    return value.strip() if value and value.strip() else None


def element_properties(element: etree._Element) -> dict[str, str]:
    """Designer properties of an element: Spiff properties win over Camunda attributes."""
    props = {}
    camunda_names = {"formKey": "formKey", "dueDate": "due", "assignee": "assignee"}
    for attr, key in camunda_names.items():
        value = camunda_attr(element, attr)
        if value:
            props[key] = from_camunda(value) if key != "formKey" else _strip_form_prefix(value)
    for key, value in _spiff_properties(element).items():
        props[key] = value.strip()
    return props


def _strip_form_prefix(value: str) -> str:
    # Camunda forms are often written "embedded:app:forms/x.html" or "camunda-forms:deployment:x.form".
    for prefix in ("embedded:app:forms/", "embedded:deployment:", "camunda-forms:deployment:", "app:"):
        if value.startswith(prefix):
            value = value[len(prefix):]
    for suffix in (".html", ".form", ".json", ".yaml"):
        if value.endswith(suffix):
            value = value[: -len(suffix)]
    return value


def lane_map(process: etree._Element) -> dict[str, str]:
    """Flow node id → innermost lane name, for one process element."""
    lanes: dict[str, str] = {}

    def walk(lane: etree._Element) -> None:
        name = (lane.get("name") or lane.get("id") or "").strip()
        for ref in lane.iterfind("bpmn:flowNodeRef", NSMAP):
            if ref.text:
                lanes[ref.text.strip()] = name
        for child in lane.iterfind("bpmn:childLaneSet/bpmn:lane", NSMAP):
            walk(child)

    for lane in process.iterfind("bpmn:laneSet/bpmn:lane", NSMAP):
        walk(lane)
    return lanes


def _task_meta(element: etree._Element, lane: str | None, roles: RoleConfig, doc: XmlDocument) -> TaskMeta:
    props = element_properties(element)
    groups = camunda_attr(element, "candidateGroups")
    role = props.get("role") or roles.role_for_groups(groups) or roles.role_for_lane(lane)
    return TaskMeta(
        element_id=element.get("id", ""), name=(element.get("name") or element.get("id") or "").strip(),
        tag=local_name(element), lane=lane, role=role, form_key=props.get("formKey"), due=props.get("due"),
        assignee=props.get("assignee"), agency=props.get("agency"), candidate_groups=groups,
        stage=props.get("stage"), line=doc.line_of(element.get("id")),
        case_updates={k[len("case."):]: v for k, v in props.items() if k.startswith("case.")},
    )


def collect_task_meta(doc: XmlDocument, roles: RoleConfig) -> dict[str, dict[str, dict]]:
    """Spec name → element id → TaskMeta (as JSON) for every human step of every process in ``doc``."""
    result: dict[str, dict[str, dict]] = {}

    def walk(container: etree._Element, spec_name: str, lanes: dict[str, str], inherited: str | None) -> None:
        bucket = result.setdefault(spec_name, {})
        for child in container:
            if not isinstance(child.tag, str) or etree.QName(child.tag).namespace != BPMN_NS:
                continue
            tag = local_name(child)
            element_id = child.get("id")
            lane = lanes.get(element_id or "", inherited)
            if tag in HUMAN_TAGS and element_id:
                bucket[element_id] = _task_meta(child, lane, roles, doc).to_json()
            elif tag == "startEvent" and element_id:
                props = element_properties(child)
                if props.get("formKey"):
                    bucket[element_id] = _task_meta(child, lane, roles, doc).to_json()
            elif tag in CONTAINER_TAGS and element_id:
                walk(child, element_id, lanes, lane)

    for process in doc.root.iterfind("bpmn:process", NSMAP):
        walk(process, process.get("id", ""), lane_map(process), None)
    return result


def spiff_namespace_used(doc: XmlDocument) -> bool:
    return any(isinstance(e.tag, str) and etree.QName(e.tag).namespace == SPIFF_NS for e in doc.root.iter())
