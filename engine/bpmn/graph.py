"""Sequence-flow graph analysis: cycles without a gateway, and loops that deepen the task tree.

SpiffWorkflow adds a level to the task tree for every node a token passes. A loop built from a
gateway back-edge therefore deepens the tree on every round, and at depth 1000 the engine silently
stops seeing tasks (engine-notes §6.1). Every such loop must declare a bound, the property
``maxIterations`` on one of its gateways, small enough that bound × depth-per-round stays under
:data:`DEPTH_BUDGET`. Long-lived repetition belongs in a standard loop or a call activity per
round, whose children do not deepen the tree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from lxml import etree

from ..errors import Problem
from .conventions import CONTAINER_TAGS, element_properties
from .xml import BPMN_NS, NSMAP, XmlDocument, local_name

DEPTH_LIMIT = 1000
DEPTH_BUDGET = 800
GATEWAYS = ("exclusiveGateway", "inclusiveGateway", "parallelGateway", "eventBasedGateway", "complexGateway")


@dataclass
class FlowGraph:
    nodes: dict[str, etree._Element] = field(default_factory=dict)
    edges: dict[str, list[str]] = field(default_factory=dict)
    boundary_hosts: set[str] = field(default_factory=set)


def build_graph(container: etree._Element) -> FlowGraph:
    graph = FlowGraph()
    for child in container:
        if not isinstance(child.tag, str) or etree.QName(child.tag).namespace != BPMN_NS:
            continue
        tag, element_id = local_name(child), child.get("id")
        if not element_id or tag in ("sequenceFlow", "laneSet", "extensionElements", "documentation",
                                     "dataObject", "dataObjectReference", "dataStoreReference",
                                     "textAnnotation", "association", "ioSpecification", "property"):
            continue
        graph.nodes[element_id] = child
        graph.edges.setdefault(element_id, [])
    for flow in container.iterfind("bpmn:sequenceFlow", NSMAP):
        src, dst = flow.get("sourceRef"), flow.get("targetRef")
        if src in graph.nodes and dst in graph.nodes:
            graph.edges[src].append(dst)
    for boundary in container.iterfind("bpmn:boundaryEvent", NSMAP):
        host = boundary.get("attachedToRef")
        if host in graph.nodes and boundary.get("id") in graph.nodes:
            graph.edges[host].append(boundary.get("id"))
            graph.boundary_hosts.add(host)
    return graph


def strongly_connected(graph: FlowGraph) -> list[list[str]]:  # noqa: C901 - Tarjan, kept in one piece
    """Tarjan's algorithm, iterative (diagrams can be large)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    result: list[list[str]] = []
    counter = 0
    for root in graph.nodes:
        if root in index:
            continue
        work = [(root, iter(graph.edges.get(root, [])))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.edges.get(child, []))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1 or node in graph.edges.get(node, []):
                    result.append(component)
    return result


def _names(graph: FlowGraph, ids: Iterable[str]) -> str:
    labels = [" ".join((graph.nodes[i].get("name") or i).split()) for i in ids]
    shown = " → ".join(labels[:6])
    return shown + (" …" if len(labels) > 6 else "")


def _max_iterations(graph: FlowGraph, component: list[str]) -> int | None:
    bounds = []
    for node_id in component:
        raw = element_properties(graph.nodes[node_id]).get("maxIterations")
        if raw and raw.isdigit():
            bounds.append(int(raw))
    return min(bounds) if bounds else None


def check_loops(doc: XmlDocument, container: etree._Element) -> list[Problem]:
    """Cycles that never end, and loops whose rounds would take the task tree past the depth limit."""
    problems: list[Problem] = []
    graph = build_graph(container)
    for component in strongly_connected(graph):
        members = set(component)
        ordered = [n for n in graph.nodes if n in members]
        gateways = [n for n in ordered if local_name(graph.nodes[n]) in GATEWAYS]
        first = gateways[0] if gateways else ordered[0]
        line = doc.line_of(first)
        if not any(dst not in members for n in component for dst in graph.edges.get(n, [])):
            names = _names(graph, ordered)
            reason = (f"cycle without a gateway: {names} loops back with no decision, so it can never end"
                      if not gateways else
                      f"cycle {names} has no way out: no flow leaves it, so it can never end")
            problems.append(Problem(doc.name, line, first, reason, code="cycle"))
            continue
        where = "on the gateway" if gateways else "on one of its elements"
        depth = len(component) + sum(1 for n in component if n in graph.boundary_hosts)
        rounds = DEPTH_LIMIT // max(depth, 1)
        bound = _max_iterations(graph, component)
        if bound is None:
            problems.append(Problem(
                doc.name, line, first,
                f"loop {_names(graph, ordered)} has no declared bound: each round deepens the task tree by "
                f"about {depth} levels and the engine stops seeing tasks after about {rounds} rounds. Model "
                f"long-lived repetition as a standard loop or a call activity per round, or set the property "
                f"maxIterations (at most {DEPTH_BUDGET // depth}) {where}", code="unbounded_loop"))
        elif bound * depth > DEPTH_BUDGET:
            problems.append(Problem(
                doc.name, line, first,
                f"maxIterations={bound} on loop {_names(graph, ordered)} would deepen the task tree to about "
                f"{bound * depth} levels; the limit for this loop is {DEPTH_BUDGET // depth}",
                code="deep_loop"))
    for child in container:
        if isinstance(child.tag, str) and local_name(child) in CONTAINER_TAGS:
            problems.extend(check_loops(doc, child))
    return problems
