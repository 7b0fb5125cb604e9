"""The BPMN diagram of a case as inline SVG, drawn on the server from the diagram's DI.

Why server-side SVG rather than the bpmn-js viewer (see docs/web.md): the page then needs no
JavaScript and no third-party bundle, it keeps the Content-Security-Policy strict (no inline
styles injected by a library), the marks for completed, current and overdue steps are plain CSS
classes that tests can check in the HTML, and the file is parsed with the same hardened XML reader
that deployment uses. Shapes are drawn from ``BPMNShape``/``dc:Bounds`` and flows from
``BPMNEdge``/``di:waypoint`` (a straight line between shapes when a flow has no waypoints).
Every name comes from the designer's file and is escaped by lxml when the SVG is serialised.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from lxml import etree
from markupsafe import Markup

from engine import clock
from engine.bpmn.xml import NSMAP, local_name, read_document

SVG_NS = "http://www.w3.org/2000/svg"
MAX_BYTES = 4 * 1024 * 1024
PAD = 20
EVENTS = {"startEvent", "endEvent", "intermediateCatchEvent", "intermediateThrowEvent", "boundaryEvent"}
GATEWAY_SIGNS = {"exclusiveGateway": "×", "parallelGateway": "+", "inclusiveGateway": "○",
                 "eventBasedGateway": "◇", "complexGateway": "＊"}
ACTIVITIES = {"task", "userTask", "manualTask", "serviceTask", "scriptTask", "sendTask", "receiveTask",
              "businessRuleTask", "callActivity", "subProcess", "transaction"}
CONTAINERS = ("participant", "lane")
MARK_TEXT = {"completed": "完了", "current": "対応中", "overdue": "期限超過"}


@dataclass
class Box:
    x: float
    y: float
    w: float
    h: float

    @property
    def cx(self) -> float:
        return self.x + self.w / 2

    @property
    def cy(self) -> float:
        return self.y + self.h / 2


def _num(value: str | None) -> float:
    try:
        return float(value or 0)
    except ValueError:
        return 0.0


def _label_box(element: Any) -> Box | None:
    label = element.find("bpmndi:BPMNLabel", NSMAP)
    return _box(label) if label is not None else None


def _box(element: Any) -> Box | None:
    bounds = element.find("dc:Bounds", NSMAP)
    if bounds is None:
        return None
    return Box(_num(bounds.get("x")), _num(bounds.get("y")), _num(bounds.get("width")),
               _num(bounds.get("height")))


def _el(parent: Any, tag: str, text: str | None = None, **attrs: Any) -> Any:
    node = etree.SubElement(parent, f"{{{SVG_NS}}}{tag}")
    for key, value in attrs.items():
        node.set(key.rstrip("_").replace("_", "-"), str(value))
    if text is not None:
        node.text = text
    return node


def _wrap(text: str, width: float, height: float, size: float = 12.0) -> list[str]:
    per_line = max(1, int((width - 8) // size))
    max_lines = max(1, int((height - 6) // (size + 3)))
    lines = [text[i:i + per_line] for i in range(0, len(text), per_line)] or [""]
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][:-1] + "…"
    return lines


def _label(group: Any, text: str, box: Box, inside: bool, at: Box | None = None) -> None:
    """Text inside an activity, or under an event/gateway (in its DI label box when the file has one)."""
    if not text:
        return
    if inside:
        lines = _wrap(text, box.w, box.h)
        top = box.cy - (len(lines) - 1) * 7.5
        for i, line in enumerate(lines):
            _el(group, "text", line, x=f"{box.cx:.1f}", y=f"{top + i * 15 + 4:.1f}", class_="label")
        return
    spot = at or Box(box.cx - max(box.w * 1.2, 45), box.y + box.h + 2, max(box.w * 2.4, 90), 60)
    lines = _wrap(text, spot.w + 8, max(spot.h, 28) + 6, size=11.0)
    for i, line in enumerate(lines):
        _el(group, "text", line, x=f"{spot.cx:.1f}", y=f"{spot.y + 11 + i * 13:.1f}", class_="label small")


@dataclass
class _Doc:
    kinds: dict[str, str]
    names: dict[str, str]
    flows: dict[str, tuple[str, str]]
    plane: Any
    starts: list[str]


def _read(xml: str, process_id: str) -> _Doc | None:
    doc, problems = read_document("diagram", xml.encode("utf-8"), MAX_BYTES)
    if doc is None or problems:
        return None
    kinds, names, flows, starts = {}, {}, {}, []
    for node in doc.root.iter():
        if not isinstance(node.tag, str) or node.get("id") is None:
            continue
        kind = local_name(node)
        kinds[node.get("id")] = kind
        names[node.get("id")] = (node.get("name") or "").strip()
        if kind == "sequenceFlow":
            flows[node.get("id")] = (node.get("sourceRef") or "", node.get("targetRef") or "")
        elif kind == "startEvent" and local_name(node.getparent()) == "process":
            starts.append(node.get("id"))
    planes = doc.root.findall(".//bpmndi:BPMNPlane", NSMAP)
    if not planes:
        return None
    participants = {p.get("id") for p in doc.root.iter(f"{{{NSMAP['bpmn']}}}participant")
                    if p.get("processRef") == process_id}
    plane = next((p for p in planes if p.get("bpmnElement") == process_id), None)
    if plane is None:
        plane = next((p for p in planes if any(s.get("bpmnElement") in participants
                                               for s in p.findall("bpmndi:BPMNShape", NSMAP))), planes[0])
    return _Doc(kinds, names, flows, plane, starts)


def _extent(shapes: dict[str, Box], edges: list[list[tuple[float, float]]]) -> Box:
    xs = [b.x for b in shapes.values()] + [p[0] for e in edges for p in e]
    ys = [b.y for b in shapes.values()] + [p[1] for e in edges for p in e]
    xe = [b.x + b.w for b in shapes.values()] + [p[0] for e in edges for p in e]
    ye = [b.y + b.h + 30 for b in shapes.values()] + [p[1] for e in edges for p in e]
    x0, y0 = min(xs) - PAD, min(ys) - PAD
    return Box(x0, y0, max(xe) + PAD - x0, max(ye) + PAD - y0)


def _clip(a: Box, b: Box) -> tuple[tuple[float, float], tuple[float, float]]:
    """A straight connector from the border of ``a`` to the border of ``b`` (for flows without DI)."""
    def border(box: Box, tx: float, ty: float) -> tuple[float, float]:
        dx, dy = tx - box.cx, ty - box.cy
        if dx == 0 and dy == 0:
            return box.cx, box.cy
        scale = min((box.w / 2) / abs(dx) if dx else float("inf"),
                    (box.h / 2) / abs(dy) if dy else float("inf"))
        return box.cx + dx * scale, box.cy + dy * scale
    return border(a, b.cx, b.cy), border(b, a.cx, a.cy)


def _shape(root: Any, kind: str, element_id: str, name: str, box: Box, *, mark: str | None = None,
           container: bool = False, label: Box | None = None) -> None:
    classes = ["shape", f"bpmn-{kind}", *(["container"] if container else []),
               *([f"mark-{mark}"] if mark else [])]
    group = _el(root, "g", class_=" ".join(classes), data_element_id=element_id)
    status = f"（{MARK_TEXT[mark]}）" if mark else ""
    _el(group, "title", f"{name or element_id}{status}")
    if container and kind not in CONTAINERS:
        _el(group, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=10, class_="outline")
        if name:
            _el(group, "text", name[:40], x=f"{box.x + 10:.1f}", y=f"{box.y + 18:.1f}",
                class_="label container-label")
    elif kind in CONTAINERS:
        _el(group, "rect", x=box.x, y=box.y, width=box.w, height=box.h, class_="outline")
        if name:
            x, y = box.x + 14, box.cy
            _el(group, "text", name[:30], x=f"{x:.1f}", y=f"{y:.1f}", class_="label pool-label",
                transform=f"rotate(-90 {x:.1f} {y:.1f})")
    elif kind in EVENTS:
        _el(group, "circle", cx=f"{box.cx:.1f}", cy=f"{box.cy:.1f}", r=f"{min(box.w, box.h) / 2:.1f}",
            class_="outline")
        _label(group, name, box, inside=False, at=label)
    elif kind in GATEWAY_SIGNS:
        points = f"{box.cx},{box.y} {box.x + box.w},{box.cy} {box.cx},{box.y + box.h} {box.x},{box.cy}"
        _el(group, "polygon", points=points, class_="outline")
        _el(group, "text", GATEWAY_SIGNS[kind], x=f"{box.cx:.1f}", y=f"{box.cy + 6:.1f}", class_="sign")
        _label(group, name, box, inside=False, at=label)
    elif kind in ACTIVITIES:
        _el(group, "rect", x=box.x, y=box.y, width=box.w, height=box.h, rx=10, class_="outline")
        _label(group, name, box, inside=True)
        if mark:
            _el(group, "text", MARK_TEXT[mark], x=f"{box.x + box.w - 4:.1f}", y=f"{box.y - 4:.1f}",
                class_="mark-label")
    else:
        _el(group, "rect", x=box.x, y=box.y, width=box.w, height=box.h, class_="outline other")
        _label(group, name, box, inside=True)


def _edges(root: Any, doc: _Doc, shapes: dict[str, Box]) -> list[list[tuple[float, float]]]:
    drawn: dict[str, list[tuple[float, float]]] = {}
    label_at: dict[str, Box] = {}
    for edge in doc.plane.findall("bpmndi:BPMNEdge", NSMAP):
        points = [(_num(w.get("x")), _num(w.get("y"))) for w in edge.findall("di:waypoint", NSMAP)]
        if len(points) >= 2 and edge.get("bpmnElement"):
            drawn[edge.get("bpmnElement")] = points
            spot = _label_box(edge)
            if spot is not None:
                label_at[edge.get("bpmnElement")] = spot
    for flow_id, (source, target) in doc.flows.items():
        if flow_id not in drawn and source in shapes and target in shapes:
            drawn[flow_id] = list(_clip(shapes[source], shapes[target]))
    for flow_id, points in drawn.items():
        kind = doc.kinds.get(flow_id, "sequenceFlow")
        group = _el(root, "g", class_=f"edge bpmn-{kind}", data_element_id=flow_id)
        _el(group, "polyline", points=" ".join(f"{x:.1f},{y:.1f}" for x, y in points),
            marker_end="url(#arrow)" if kind == "sequenceFlow" else "none")
        name = doc.names.get(flow_id)
        if name and flow_id in label_at:
            spot = label_at[flow_id]
            _el(group, "text", name[:20], x=f"{spot.x:.1f}", y=f"{spot.y + 11:.1f}",
                class_="label small flow-label")
        elif name:
            (x1, y1), (x2, y2) = points[0], points[1]
            _el(group, "text", name[:20], x=f"{(x1 + x2) / 2 + 4:.1f}", y=f"{(y1 + y2) / 2 - 4:.1f}",
                class_="label small flow-label")
    return list(drawn.values())


def render(xml: str, process_id: str, marks: dict[str, str], title: str) -> Markup | None:
    """The diagram as an ``<svg>`` element; ``marks`` maps element ids to completed/current/overdue."""
    doc = _read(xml, process_id)
    if doc is None:
        return None
    shapes, labels = {}, {}
    for shape in doc.plane.findall("bpmndi:BPMNShape", NSMAP):
        box = _box(shape)
        if box is not None and shape.get("bpmnElement"):
            shapes[shape.get("bpmnElement")] = box
            spot = _label_box(shape)
            if spot is not None:
                labels[shape.get("bpmnElement")] = spot
    if not shapes:
        return None
    marks = {**{s: "completed" for s in doc.starts}, **marks}
    root = etree.Element(f"{{{SVG_NS}}}svg", nsmap={None: SVG_NS})
    _el(root, "title", title)
    defs = _el(root, "defs")
    marker = _el(defs, "marker", id="arrow", viewBox="0 0 10 10", refX="10", refY="5", markerWidth="7",
                 markerHeight="7", orient="auto-start-reverse")
    _el(marker, "path", d="M 0 0 L 10 5 L 0 10 z", class_="arrow-head")
    # pools, lanes and expanded sub-processes first, so the flows inside them stay visible on top
    containers = [i for i, b in shapes.items() if doc.kinds.get(i) in CONTAINERS or (
        doc.kinds.get(i) in ("subProcess", "transaction") and b.w * b.h > 60_000)]
    for element_id in containers:
        _shape(root, doc.kinds.get(element_id, ""), element_id, doc.names.get(element_id, ""),
               shapes[element_id], mark=marks.get(element_id), container=True)
    edges = _edges(root, doc, shapes)
    for element_id, box in shapes.items():
        if element_id not in containers:
            _shape(root, doc.kinds.get(element_id, ""), element_id, doc.names.get(element_id, ""), box,
                   mark=marks.get(element_id), label=labels.get(element_id))
    extent = _extent(shapes, edges)
    root.set("viewBox", f"{extent.x:.0f} {extent.y:.0f} {extent.w:.0f} {extent.h:.0f}")
    root.set("width", f"{extent.w:.0f}")
    root.set("height", f"{extent.h:.0f}")
    root.set("role", "img")
    root.set("class", "bpmn-diagram")
    root.set("aria-label", title)
    return Markup(etree.tostring(root, encoding="unicode"))  # noqa: S704 - built with lxml, every text escaped


def marks_for(history: list[Any], open_tasks: list[Any], now: Any) -> dict[str, str]:
    """completed for done steps, current for open steps, overdue for open steps past their due time."""
    marks = {t.element_id: "completed" for t in history}
    for t in open_tasks:
        late = t.due_at is not None and clock.ensure_utc(t.due_at) < now
        marks[t.element_id] = "overdue" if late else "current"
    return marks
