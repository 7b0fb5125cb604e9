"""A small BPMN writer with diagram layout (DI), used once to bootstrap the files in processes/.

The committed ``processes/*.bpmn`` files are the source of truth and are edited in Camunda Modeler or
bpmn.io from then on; this helper only saved hand-placing about two hundred shapes. Elements are put
on a grid: a lane, a column and a row inside the lane. Expanded sub-processes get a box around their
children; boundary events sit on an edge of their host; sequence flows are routed orthogonally.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

COL_W = 150
ROW_H = 110
LANE_PAD = 45
POOL_LABEL = 30
X0 = 230
SIZES = {"task": (100, 80), "event": (36, 36), "gateway": (50, 50), "call": (100, 80)}
TASK_TAGS = {"user": "userTask", "call": "callActivity", "sub": "subProcess"}


@dataclass
class Node:
    id: str
    name: str
    kind: str            # start, end, user, call, sub, xor, and, timer, boundary
    lane: str
    col: float
    row: float = 0
    props: dict[str, str] = field(default_factory=dict)
    parent: str | None = None
    extra: str = ""      # inner XML (event definitions, loop characteristics)
    attrs: str = ""      # extra attributes
    host: str | None = None
    edge: str = "bottom"
    offset: float = 0.5
    align: tuple[str, float] | None = None   # right-edge boundary: (lane, row) to align with
    label: str = "below"  # events and gateways: name under the shape, or "right" (above its right side)
    box: tuple[float, float, float, float] = (0, 0, 0, 0)

    @property
    def shape(self) -> str:
        if self.kind in ("start", "end", "timer", "boundary", "catch"):
            return "event"
        if self.kind in ("xor", "and"):
            return "gateway"
        return "task"


@dataclass
class Flow:
    id: str
    source: str
    target: str
    name: str = ""
    condition: str | None = None
    route: str = "auto"   # auto, below, above
    channel: float | None = None
    points: list[tuple[float, float]] = field(default_factory=list)


def props_xml(props: dict[str, str]) -> str:
    if not props:
        return ""
    items = "".join(f'<spiffworkflow:property name="{k}" value={quoteattr(v)} />' for k, v in props.items())
    return f"<bpmn:extensionElements><spiffworkflow:properties>{items}</spiffworkflow:properties>" \
           "</bpmn:extensionElements>"


class Diagram:
    """One pool (participant) with lanes around one executable process."""

    def __init__(self, pid: str, name: str, lanes: list[str], lane_rows: dict[str, tuple[int, int]],
                 doc_note: str = "") -> None:
        self.pid, self.name, self.lanes, self.lane_rows = pid, name, lanes, lane_rows
        self.doc_note = doc_note
        self.nodes: dict[str, Node] = {}
        self.flows: list[Flow] = []
        self.defaults: dict[str, str] = {}
        self.head: list[str] = []   # bpmn:message / bpmn:error definitions
        self.lane_top: dict[str, float] = {}
        self.lane_h: dict[str, float] = {}
        y = 60
        for lane in lanes:
            lo, hi = lane_rows.get(lane, (0, 0))
            self.lane_top[lane] = y
            self.lane_h[lane] = (hi - lo + 1) * ROW_H + 2 * LANE_PAD
            y += self.lane_h[lane]

    # -- elements -------------------------------------------------------------------------------------
    def add(self, node: Node) -> Node:
        if node.id in self.nodes:
            raise ValueError(f"duplicate id {node.id}")
        self.nodes[node.id] = node
        return node

    def flow(self, source: str, target: str, name: str = "", condition: str | None = None,
             fid: str | None = None, default: bool = False, route: str = "auto",
             channel: float | None = None) -> str:
        fid = fid or f"flow_{source}_to_{target}"
        self.flows.append(Flow(fid, source, target, name, condition, route, channel))
        if default:
            self.defaults[source] = fid
        return fid

    # -- layout ---------------------------------------------------------------------------------------
    def _center_y(self, node: Node) -> float:
        lo, _ = self.lane_rows.get(node.lane, (0, 0))
        return self.lane_top[node.lane] + LANE_PAD + (node.row - lo) * ROW_H + ROW_H / 2

    def layout(self) -> None:
        for node in self.nodes.values():
            if node.kind in ("sub",) or node.kind == "boundary":
                continue
            w, h = SIZES[node.shape]
            cx = X0 + node.col * COL_W
            cy = self._center_y(node)
            node.box = (cx - w / 2, cy - h / 2, w, h)
        # containers, innermost first
        subs = [n for n in self.nodes.values() if n.kind == "sub"]
        for sub in sorted(subs, key=self._nesting, reverse=True):
            kids = [n for n in self.nodes.values() if n.parent == sub.id and n.kind != "boundary"]
            pad = 28
            x0 = min(k.box[0] for k in kids) - pad
            y0 = min(k.box[1] for k in kids) - pad - 10
            x1 = max(k.box[0] + k.box[2] for k in kids) + pad
            y1 = max(k.box[1] + k.box[3] for k in kids) + pad
            sub.box = (x0, y0, x1 - x0, y1 - y0)
        for node in self.nodes.values():
            if node.kind == "boundary":
                hx, hy, hw, hh = self.nodes[node.host].box
                if node.edge == "right":
                    lane, row = node.align or (node.lane, 0)
                    lo, _ = self.lane_rows.get(lane, (0, 0))
                    cy = self.lane_top[lane] + LANE_PAD + (row - lo) * ROW_H + ROW_H / 2
                    node.box = (hx + hw - 18, cy - 18, 36, 36)
                    continue
                x = hx + hw * node.offset - 18
                y = (hy + hh - 18) if node.edge == "bottom" else (hy - 18)
                node.box = (x, y, 36, 36)
        for flow in self.flows:
            flow.points = self._route(flow)

    def _nesting(self, node: Node) -> int:
        depth = 0
        while node.parent:
            node = self.nodes[node.parent]
            depth += 1
        return depth

    def _route(self, flow: Flow) -> list[tuple[float, float]]:
        s, t = self.nodes[flow.source], self.nodes[flow.target]
        sx, sy, sw, sh = s.box
        tx, ty, tw, th = t.box
        scx, scy, tcx, tcy = sx + sw / 2, sy + sh / 2, tx + tw / 2, ty + th / 2
        if s.kind == "boundary" and s.edge == "right":
            if abs(scy - tcy) < 2:
                return [(sx + sw, scy), (tx, tcy)]
            midx = (sx + sw + tx) / 2
            end = (tcx, ty if tcy > scy else ty + th) if t.shape == "gateway" else (tx, tcy)
            return [(sx + sw, scy), (midx if t.shape != "gateway" else tcx, scy)] + \
                ([(midx, tcy)] if t.shape != "gateway" else []) + [end]
        if s.kind == "boundary":
            start = (scx, sy + sh) if s.edge == "bottom" else (scx, sy)
            if flow.route in ("above", "below") and flow.channel is not None:
                # back to an element before the host: out along a channel, into the target from above/below
                end_y = ty if flow.channel < ty else ty + th
                return [start, (scx, flow.channel), (tcx, flow.channel), (tcx, end_y)]
            if abs(start[0] - tcx) < 2:
                return [start, (tcx, ty if s.edge == "bottom" else ty + th)]
            return [start, (scx, tcy), (tx if tx > scx else tx + tw, tcy)]
        if flow.route == "auto" and tx > sx + sw and (s.kind == "sub" or t.kind == "sub"):
            # into or out of a tall sub-process box: stay on the row of the other element
            y = scy if t.kind == "sub" and ty <= scy <= ty + th else tcy if s.kind == "sub" and sy <= tcy <= sy + sh \
                else None
            if y is not None:
                return [(sx + sw, y), (tx, y)]
        backward = tx + tw / 2 < scx - 2 and flow.route == "auto" or flow.route in ("below", "above")
        if backward:
            if flow.route == "above":
                yc = flow.channel if flow.channel is not None else min(sy, ty) - 25
                return [(scx, sy), (scx, yc), (tcx, yc), (tcx, ty)]
            yc = flow.channel if flow.channel is not None else max(sy + sh, ty + th) + 25
            return [(scx, sy + sh), (scx, yc), (tcx, yc), (tcx, ty + th)]
        if abs(scy - tcy) < 2:
            return [(sx + sw, scy), (tx, tcy)]
        if s.shape == "gateway":
            start = (scx, sy + sh) if tcy > scy else (scx, sy)
            if abs(scx - tcx) < 2:
                return [start, (tcx, ty if tcy > scy else ty + th)]
            return [start, (scx, tcy), (tx, tcy)]
        if t.shape == "gateway":
            return [(sx + sw, scy), (tcx, scy), (tcx, ty if scy < tcy else ty + th)]
        midx = (sx + sw + tx) / 2
        return [(sx + sw, scy), (midx, scy), (midx, tcy), (tx, tcy)]

    # -- XML ------------------------------------------------------------------------------------------
    def _node_xml(self, node: Node) -> str:
        name = quoteattr(node.name)
        ext = props_xml(node.props)
        if node.kind == "start":
            return f'<bpmn:startEvent id="{node.id}" name={name}>{ext}{node.extra}</bpmn:startEvent>'
        if node.kind == "end":
            return f'<bpmn:endEvent id="{node.id}" name={name}>{ext}{node.extra}</bpmn:endEvent>'
        if node.kind in ("timer", "catch"):
            return f'<bpmn:intermediateCatchEvent id="{node.id}" name={name}>{node.extra}' \
                   '</bpmn:intermediateCatchEvent>'
        if node.kind == "boundary":
            return f'<bpmn:boundaryEvent id="{node.id}" name={name} attachedToRef="{node.host}" ' \
                   f'{node.attrs}>{node.extra}</bpmn:boundaryEvent>'
        if node.kind in ("xor", "and"):
            tag = "exclusiveGateway" if node.kind == "xor" else "parallelGateway"
            default = f' default="{self.defaults[node.id]}"' if node.id in self.defaults else ""
            return f'<bpmn:{tag} id="{node.id}" name={name}{default}>{ext}</bpmn:{tag}>'
        tag = TASK_TAGS[node.kind]
        if node.kind == "sub":
            inner = "\n".join(self._node_xml(n) for n in self.nodes.values() if n.parent == node.id)
            inner += "\n" + "\n".join(self._flow_xml(f) for f in self.flows
                                      if self.nodes[f.source].parent == node.id)
            return f'<bpmn:subProcess id="{node.id}" name={name} {node.attrs}>{ext}{node.extra}\n{inner}\n' \
                   '</bpmn:subProcess>'
        return f'<bpmn:{tag} id="{node.id}" name={name} {node.attrs}>{ext}{node.extra}</bpmn:{tag}>'

    def _flow_xml(self, flow: Flow) -> str:
        cond = f"<bpmn:conditionExpression>{escape(flow.condition)}</bpmn:conditionExpression>" \
            if flow.condition else ""
        name = f" name={quoteattr(flow.name)}" if flow.name else ""
        return f'<bpmn:sequenceFlow id="{flow.id}"{name} sourceRef="{flow.source}" ' \
               f'targetRef="{flow.target}">{cond}</bpmn:sequenceFlow>'

    def _shape_xml(self, node: Node) -> str:
        x, y, w, h = node.box
        extra = ' isExpanded="true"' if node.kind == "sub" else ""
        marker = ' isMarkerVisible="true"' if node.kind == "xor" else ""
        label = ""
        if node.shape in ("event", "gateway") and node.name:
            lw = 110
            lx, ly = (x + w + 4, y - 22) if node.label == "right" else (x + w / 2 - lw / 2, y + h + 4)
            label = f'<bpmndi:BPMNLabel><dc:Bounds x="{lx:.0f}" y="{ly:.0f}" ' \
                    f'width="{lw}" height="27" /></bpmndi:BPMNLabel>'
        return f'<bpmndi:BPMNShape id="{node.id}_di" bpmnElement="{node.id}"{extra}{marker}>' \
               f'<dc:Bounds x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" />{label}' \
               '</bpmndi:BPMNShape>'

    def _edge_xml(self, flow: Flow) -> str:
        pts = "".join(f'<di:waypoint x="{x:.0f}" y="{y:.0f}" />' for x, y in flow.points)
        label = ""
        if flow.name:
            (x1, y1), (x2, y2) = flow.points[0], flow.points[1]
            lx, ly = (x1 + x2) / 2 + 4, min(y1, y2) + (abs(y2 - y1) / 2 if abs(y2 - y1) > 30 else -20)
            label = f'<bpmndi:BPMNLabel><dc:Bounds x="{lx:.0f}" y="{ly:.0f}" width="90" height="14" />' \
                    '</bpmndi:BPMNLabel>'
        return f'<bpmndi:BPMNEdge id="{flow.id}_di" bpmnElement="{flow.id}">{pts}{label}</bpmndi:BPMNEdge>'

    def xml(self) -> str:
        self.layout()
        right = max(n.box[0] + n.box[2] for n in self.nodes.values()) + 60
        left = X0 - COL_W / 2 - 60 - POOL_LABEL
        bottom = self.lane_top[self.lanes[-1]] + self.lane_h[self.lanes[-1]]
        lanes = "".join(
            f'<bpmn:lane id="lane_{self.pid}_{i}" name={quoteattr(lane)}>'
            + "".join(f"<bpmn:flowNodeRef>{n.id}</bpmn:flowNodeRef>" for n in self.nodes.values()
                      if n.lane == lane)
            + "</bpmn:lane>" for i, lane in enumerate(self.lanes))
        top_nodes = "\n".join(self._node_xml(n) for n in self.nodes.values() if n.parent is None)
        top_flows = "\n".join(self._flow_xml(f) for f in self.flows if self.nodes[f.source].parent is None)
        doc = f"<bpmn:documentation>{escape(self.doc_note)}</bpmn:documentation>" if self.doc_note else ""
        process = (f'<bpmn:process id="{self.pid}" name={quoteattr(self.name)} isExecutable="true">{doc}\n'
                   f'<bpmn:laneSet id="laneset_{self.pid}">{lanes}</bpmn:laneSet>\n{top_nodes}\n{top_flows}\n'
                   "</bpmn:process>")
        collab = (f'<bpmn:collaboration id="collab_{self.pid}"><bpmn:participant id="pool_{self.pid}" '
                  f'name={quoteattr(self.name)} processRef="{self.pid}" /></bpmn:collaboration>')
        shapes = [f'<bpmndi:BPMNShape id="pool_{self.pid}_di" bpmnElement="pool_{self.pid}" isHorizontal="true">'
                  f'<dc:Bounds x="{left:.0f}" y="60" width="{right - left:.0f}" height="{bottom - 60:.0f}" />'
                  "</bpmndi:BPMNShape>"]
        for i, lane in enumerate(self.lanes):
            shapes.append(f'<bpmndi:BPMNShape id="lane_{self.pid}_{i}_di" bpmnElement="lane_{self.pid}_{i}" '
                          f'isHorizontal="true"><dc:Bounds x="{left + POOL_LABEL:.0f}" y="{self.lane_top[lane]:.0f}" '
                          f'width="{right - left - POOL_LABEL:.0f}" height="{self.lane_h[lane]:.0f}" />'
                          "</bpmndi:BPMNShape>")
        ordered = sorted(self.nodes.values(), key=lambda n: (self._nesting(n), n.kind == "boundary"))
        shapes += [self._shape_xml(n) for n in ordered]
        shapes += [self._edge_xml(f) for f in self.flows]
        diagram = (f'<bpmndi:BPMNDiagram id="diagram_{self.pid}"><bpmndi:BPMNPlane id="plane_{self.pid}" '
                   f'bpmnElement="collab_{self.pid}">\n' + "\n".join(shapes) + "\n</bpmndi:BPMNPlane>"
                   "</bpmndi:BPMNDiagram>")
        head = "\n".join(self.head)
        return ('<?xml version="1.0" encoding="UTF-8"?>\n'
                '<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL" '
                'xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" '
                'xmlns:dc="http://www.omg.org/spec/DD/20100524/DC" '
                'xmlns:di="http://www.omg.org/spec/DD/20100524/DI" '
                'xmlns:spiffworkflow="http://spiffworkflow.org/bpmn/schema/1.0/core" '
                f'id="defs_{self.pid}" targetNamespace="https://tsunagu.example/bpmn/{self.pid}" '
                'exporter="tsunagu-bootstrap" exporterVersion="1">\n'
                f"{collab}\n{head}\n{process}\n{diagram}\n</bpmn:definitions>\n")


def timer(expression: str, kind: str = "timeDuration", eid: str = "") -> str:
    return f'<bpmn:timerEventDefinition id="{eid}"><bpmn:{kind}>{escape(expression)}</bpmn:{kind}>' \
           "</bpmn:timerEventDefinition>"


def message(ref: str, eid: str) -> str:
    return f'<bpmn:messageEventDefinition id="{eid}" messageRef="{ref}" />'


def error(ref: str, eid: str) -> str:
    return f'<bpmn:errorEventDefinition id="{eid}" errorRef="{ref}" />'


def terminate(eid: str) -> str:
    return f'<bpmn:terminateEventDefinition id="{eid}" />'


def loop(condition: str) -> str:
    return f"<bpmn:standardLoopCharacteristics><bpmn:loopCondition>{escape(condition)}</bpmn:loopCondition>" \
           "</bpmn:standardLoopCharacteristics>"
