"""Designer conventions read from the XML: lane → role, form, due, assignee, agency, stage, case.* —
in both the SpiffWorkflow/bpmn.io dialect and the Camunda Modeler dialect."""

from __future__ import annotations

from engine.bpmn.conventions import collect_task_meta, element_properties, lane_map, spiff_namespace_used
from engine.bpmn.xml import read_document
from engine.roles import parse_roles
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.referral10 import ROLES

CONFIG, _ = parse_roles(ROLES)


def read(xml: str):
    doc, problems = read_document("t.bpmn", xml.encode(), 10**6)
    assert not problems
    return doc


def spiff_dialect() -> str:
    b = ProcessBuilder("p", "テスト")
    b.lane("窓口", "start", "a")
    b.lane("CSW", "b", "end")
    b.start("start", form="intake")
    b.user("a", " 受付 ", form="window_response", due="3BD", assignee="starter", stage="intake",
           agency="intake.agency", **{"case.consent_status": "consent.status", "role": "window"})
    b.user("b", "訪問", form="note")
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "b")
    b.flow("b", "end")
    return b.xml()


def camunda_dialect() -> str:
    b = ProcessBuilder("c", "カムンダ")
    b.start("start")
    b.raw("a", '<bpmn:userTask id="a" name="受付" '
               'camunda:formKey="camunda-forms:deployment:window_response.form" '
               'camunda:candidateGroups="accounting, 窓口" camunda:dueDate="${dueDate}" '
               'camunda:assignee="${starter}"/>')
    b.raw("b", '<bpmn:userTask id="b" name="訪問" camunda:formKey="embedded:app:forms/note.html" '
               'camunda:candidateGroups="csw"/>')
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "b")
    b.flow("b", "end")
    return b.xml()


def test_spiff_properties_are_read():
    meta = collect_task_meta(read(spiff_dialect()), CONFIG)["p"]
    a = meta["a"]
    assert a["name"] == "受付" and a["tag"] == "userTask" and a["lane"] == "窓口" and a["role"] == "window"
    assert (a["form_key"], a["due"], a["assignee"], a["agency"], a["stage"]) == \
        ("window_response", "3BD", "starter", "intake.agency", "intake")
    assert a["case_updates"] == {"consent_status": "consent.status"}
    assert a["line"] == 4
    assert meta["b"]["role"] == "csw" and meta["b"]["due"] is None
    assert meta["start"]["form_key"] == "intake" and meta["start"]["tag"] == "startEvent"
    assert "end" not in meta


def test_camunda_attributes_are_read():
    meta = collect_task_meta(read(camunda_dialect()), CONFIG)["c"]
    a, b = meta["a"], meta["b"]
    assert a["form_key"] == "window_response" and b["form_key"] == "note"   # prefixes and suffixes dropped
    assert a["role"] == "window" and a["candidate_groups"] == "accounting, 窓口"
    assert b["role"] == "csw" and a["lane"] is None
    assert a["due"] == "dueDate" and a["assignee"] == "starter"            # ${...} translated


def test_spiff_properties_win_over_camunda_attributes():
    b = ProcessBuilder("p", "両方")
    b.raw("a", '<bpmn:userTask id="a" camunda:formKey="note"><bpmn:extensionElements>'
               '<spiffworkflow:properties><spiffworkflow:property name="formKey" value=" decision "/>'
               '<spiffworkflow:property name="due">'
               'P2D</spiffworkflow:property></spiffworkflow:properties></bpmn:extensionElements></bpmn:userTask>')
    element = read(b.xml()).root.find(".//{*}userTask")
    assert element_properties(element) == {"formKey": "decision", "due": "P2D"}


def test_nested_lanes_name_the_innermost_lane():
    xml = spiff_dialect().replace(
        '<bpmn:lane id="lane_p_1" name="CSW">',
        '<bpmn:lane id="outer" name="多機関協働"><bpmn:childLaneSet id="cls">'
        '<bpmn:lane id="lane_p_1" name="CSW">'
    ).replace("</bpmn:lane></bpmn:laneSet>", "</bpmn:lane></bpmn:childLaneSet></bpmn:lane></bpmn:laneSet>")
    process = read(xml).root.find("{*}process")
    assert lane_map(process)["b"] == "CSW" and lane_map(process)["a"] == "窓口"


def test_tasks_in_sub_processes_are_keyed_by_the_sub_process():
    b = ProcessBuilder("p", "外")
    b.lane("窓口", "s", "sub", "e")
    b.start("s")
    b.raw("sub", '<bpmn:subProcess id="sub"><bpmn:startEvent id="i"/><bpmn:manualTask id="m" name="確認"/>'
                 '<bpmn:endEvent id="ie"/></bpmn:subProcess>')
    b.end("e")
    meta = collect_task_meta(read(b.xml()), CONFIG)
    assert meta["sub"]["m"]["lane"] == "窓口" and meta["sub"]["m"]["tag"] == "manualTask"


def test_spiff_namespace_detection():
    assert spiff_namespace_used(read(spiff_dialect()))
    assert not spiff_namespace_used(read(camunda_dialect()))
