"""web.diagram: the BPMN diagram as SVG from its DI, with completed/current/overdue marks."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

from lxml import etree

from web import diagram

XML = """<?xml version="1.0" encoding="UTF-8"?>
<bpmn:definitions xmlns:bpmn="http://www.omg.org/spec/BPMN/20100524/MODEL"
  xmlns:bpmndi="http://www.omg.org/spec/BPMN/20100524/DI" xmlns:dc="http://www.omg.org/spec/DD/20100524/DC"
  xmlns:di="http://www.omg.org/spec/DD/20100524/DI" id="d" targetNamespace="x">
  <bpmn:collaboration id="c">
    <bpmn:participant id="pool" name="多機関協働" processRef="p"/>
  </bpmn:collaboration>
  <bpmn:process id="p" isExecutable="true">
    <bpmn:laneSet><bpmn:lane id="lane_w" name="窓口"/></bpmn:laneSet>
    <bpmn:startEvent id="s" name="相談受付"/>
    <bpmn:userTask id="a" name="窓口での対応&lt;script&gt;"/>
    <bpmn:exclusiveGateway id="g" name="完結？"/>
    <bpmn:userTask id="b" name="同意確認"/>
    <bpmn:endEvent id="e" name="終了"/>
    <bpmn:sequenceFlow id="f1" sourceRef="s" targetRef="a"/>
    <bpmn:sequenceFlow id="f2" sourceRef="a" targetRef="g"/>
    <bpmn:sequenceFlow id="f3" name="つなぐ" sourceRef="g" targetRef="b"/>
    <bpmn:sequenceFlow id="f4" sourceRef="b" targetRef="e"/>
  </bpmn:process>
  <bpmndi:BPMNDiagram id="dia"><bpmndi:BPMNPlane id="plane" bpmnElement="c">
    <bpmndi:BPMNShape id="pool_di" bpmnElement="pool">
      <dc:Bounds x="0" y="0" width="800" height="200"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="lane_di" bpmnElement="lane_w">
      <dc:Bounds x="30" y="0" width="770" height="200"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="s_di" bpmnElement="s">
      <dc:Bounds x="60" y="82" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="a_di" bpmnElement="a">
      <dc:Bounds x="150" y="60" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="g_di" bpmnElement="g">
      <dc:Bounds x="300" y="75" width="50" height="50"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="b_di" bpmnElement="b">
      <dc:Bounds x="400" y="60" width="100" height="80"/></bpmndi:BPMNShape>
    <bpmndi:BPMNShape id="e_di" bpmnElement="e">
      <dc:Bounds x="560" y="82" width="36" height="36"/></bpmndi:BPMNShape>
    <bpmndi:BPMNEdge id="f1_di" bpmnElement="f1">
      <di:waypoint x="96" y="100"/><di:waypoint x="150" y="100"/></bpmndi:BPMNEdge>
    <bpmndi:BPMNEdge id="f3_di" bpmnElement="f3"><di:waypoint x="350" y="100"/><di:waypoint x="375" y="100"/>
      <di:waypoint x="400" y="100"/></bpmndi:BPMNEdge>
  </bpmndi:BPMNPlane></bpmndi:BPMNDiagram>
</bpmn:definitions>"""


def _svg(marks=None):  # type: ignore[no-untyped-def]
    out = diagram.render(XML, "p", marks or {}, "テストの進行状況")
    assert out is not None
    return str(out), etree.fromstring(str(out).encode())


def test_shapes_edges_and_labels_from_the_di():
    text, root = _svg()
    ns = {"s": "http://www.w3.org/2000/svg"}
    kinds = {g.get("data-element-id"): g.get("class") for g in root.iterfind(".//s:g", ns)}
    assert kinds["a"] == "shape bpmn-userTask" and kinds["g"] == "shape bpmn-exclusiveGateway"
    assert (
        kinds["pool"] == "shape bpmn-participant container" and kinds["lane_w"] == "shape bpmn-lane container"
    )
    assert (
        kinds["f1"] == "edge bpmn-sequenceFlow" and kinds["f2"] == "edge bpmn-sequenceFlow"
    )  # f2: no DI → drawn
    f3 = root.find(".//s:g[@data-element-id='f3']/s:polyline", ns)
    assert f3.get("points") == "350.0,100.0 375.0,100.0 400.0,100.0" and f3.get("marker-end") == "url(#arrow)"
    assert "つなぐ" in text and "多機関協働" in text and root.get("viewBox") == "-20 -20 840 270"
    assert root.get("role") == "img" and root.get("aria-label") == "テストの進行状況"


def test_names_are_escaped():
    text, _ = _svg()
    assert "<script>" not in text and "&lt;script&gt;" in text


def test_marks_and_the_start_event():
    text, root = _svg({"a": "completed", "b": "overdue"})
    ns = {"s": "http://www.w3.org/2000/svg"}
    cls = {g.get("data-element-id"): g.get("class") for g in root.iterfind(".//s:g", ns)}
    assert cls["s"].endswith("mark-completed") and cls["a"].endswith("mark-completed")
    assert cls["b"].endswith("mark-overdue") and cls["g"] == "shape bpmn-exclusiveGateway"
    assert "<title>同意確認（期限超過）</title>" in text


def test_marks_for_history_and_open_tasks():
    now = datetime(2026, 12, 1, tzinfo=UTC)
    history = [SimpleNamespace(element_id="a", due_at=None)]
    open_tasks = [
        SimpleNamespace(element_id="b", due_at=now - timedelta(hours=1)),
        SimpleNamespace(element_id="c", due_at=(now + timedelta(days=1)).replace(tzinfo=None)),
        SimpleNamespace(element_id="d", due_at=None),
    ]
    assert diagram.marks_for(history, open_tasks, now) == {
        "a": "completed",
        "b": "overdue",
        "c": "current",
        "d": "current",
    }


def test_no_diagram_without_di_and_none_for_unsafe_xml():
    plain = XML.split("<bpmndi:BPMNDiagram")[0] + "</bpmn:definitions>"
    assert diagram.render(plain, "p", {}, "t") is None
    evil = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><x>&e;</x>'
    assert diagram.render(evil, "p", {}, "t") is None


def test_the_real_case_diagram_draws_every_flow_above_its_sub_processes():
    from engine.settings import ROOT

    xml = (ROOT / "processes" / "case.bpmn").read_text(encoding="utf-8")
    root = etree.fromstring(str(diagram.render(xml, "case_main", {"assessment": "current"}, "t")).encode())
    ns = {"s": "http://www.w3.org/2000/svg"}
    groups = list(root.iterfind("s:g", ns))
    order = [g.get("class").split()[0] for g in groups]
    flows = [g for g in groups if g.get("class") == "edge bpmn-sequenceFlow"]
    source = etree.fromstring(xml.encode())
    assert len(flows) == len(source.findall(".//{http://www.omg.org/spec/BPMN/20100524/MODEL}sequenceFlow"))
    last_container = max(i for i, g in enumerate(groups) if "container" in g.get("class"))
    assert last_container < order.index("edge")  # containers first, so no flow is hidden under a fill
    assert root.find(".//s:g[@data-element-id='assessment']", ns).get("class").endswith("mark-current")
