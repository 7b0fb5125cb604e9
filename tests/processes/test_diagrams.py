"""The committed diagrams follow the house rules: Japanese names, stable ASCII ids, a due time and a
form on every user task, and a complete, non-overlapping diagram layout (BPMN DI) for every element."""

from __future__ import annotations

import re
from itertools import combinations
from pathlib import Path

import pytest
from lxml import etree

from engine.bpmn.bundle import load_bundle, read_directory
from engine.formdefs import load_forms

ROOT = Path(__file__).resolve().parents[2]
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL", "bpmndi": "http://www.omg.org/spec/BPMN/20100524/DI",
      "dc": "http://www.omg.org/spec/DD/20100524/DC", "spiffworkflow": "http://spiffworkflow.org/bpmn/schema/1.0/core"}
FILES = sorted((ROOT / "processes").glob("*.bpmn"))
NODES = ("startEvent", "endEvent", "intermediateCatchEvent", "boundaryEvent", "userTask", "callActivity",
         "subProcess", "exclusiveGateway", "parallelGateway")
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")
ID = re.compile(r"^[a-z][a-z0-9_]*$")


def test_the_bundle_is_valid():
    forms, problems = load_forms(ROOT / "forms")
    assert not problems
    assert load_bundle(read_directory(ROOT / "processes"), forms).problems == []


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_names_ids_forms_and_due_times(path):
    root = etree.parse(str(path)).getroot()
    tags = (*NODES, "process", "lane", "participant")
    named = [e for tag in tags for e in root.iterfind(f".//bpmn:{tag}", NS)]
    assert named
    for element in named:
        name = element.get("name") or ""
        is_lane = etree.QName(element.tag).localname == "lane"  # lanes are named as in roles.yaml (CSW …)
        assert name if is_lane else JAPANESE.search(name), f"{element.get('id')} needs a Japanese name"
        assert ID.match(element.get("id")), element.get("id")
    for task in root.iterfind(".//bpmn:userTask", NS):
        props = {p.get("name"): p.get("value") for p in task.iterfind(".//spiffworkflow:property", NS)}
        assert props.get("formKey") and props.get("due"), task.get("id")
        assert (ROOT / "forms" / f"{props['formKey']}.yaml").is_file(), props["formKey"]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_element_is_drawn_and_shapes_do_not_overlap(path):
    root = etree.parse(str(path)).getroot()
    shapes = {s.get("bpmnElement"): s.find("dc:Bounds", NS) for s in root.iterfind(".//bpmndi:BPMNShape", NS)}
    edges = {e.get("bpmnElement") for e in root.iterfind(".//bpmndi:BPMNEdge", NS)}
    nodes = [e for tag in NODES for e in root.iterfind(f".//bpmn:{tag}", NS)]
    assert {n.get("id") for n in nodes} <= set(shapes)
    assert {f.get("id") for f in root.iterfind(".//bpmn:sequenceFlow", NS)} <= edges
    boxes = []
    for node in nodes:
        if etree.QName(node.tag).localname in ("subProcess", "boundaryEvent"):
            continue
        b = shapes[node.get("id")]
        boxes.append((node.get("id"), *(float(b.get(k)) for k in ("x", "y", "width", "height"))))
    for (a, ax, ay, aw, ah), (b, bx, by, bw, bh) in combinations(boxes, 2):
        assert ax + aw <= bx or bx + bw <= ax or ay + ah <= by or by + bh <= ay, f"{a} overlaps {b}"
