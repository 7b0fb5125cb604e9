"""The case API: start a case from the start form's fields (201), read it, and drive it to its end; the
case's 支援経過記録 (F8 case notes) listed and added."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.models import AuditEvent, Case, FormRecord, HumanTask
from tests.web.conftest import start_case
from tests.web.pathway import INTAKE as REAL_INTAKE
from tests.web.pathway import RESOLVE, STEPS, SUPPORT_STEP, token_for

INTAKE = {
    "subject_name": "山田 花子",
    "urgency": "medium",
    "narrative": "家計と介護",
    "household": [{"name": "山田 一郎", "relation": "夫", "age": 82}],
}
FORMS = {"window_response": {"action": "refer"}, "note": {"note": "記録"}, "decision": {"result": "approve"}}


def test_start_a_case(world, api, read):
    response = api("win").post("/cases?process=referral_test", INTAKE)
    assert response.status_code == 201
    body = response.json
    assert body["case_number"].startswith("20") and [t["title"] for t in body["open_tasks"]] == [
        "窓口での対応"
    ]
    assert response.headers["Location"] == f"/api/v1/cases/{body['id']}"
    with read() as s:
        assert s.get(Case, body["id"]).subject_name == "山田 花子"


def test_start_with_missing_fields_is_422_and_creates_nothing(world, api, read):
    response = api("win").post("/cases", {"urgency": "urgent"})
    assert response.status_code == 422
    assert response.json["errors"] == {
        "subject_name": ["必須項目です。"],
        "narrative": ["必須項目です。"],
        "urgency": ["選択肢から選んでください。"],
    }
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_roles_that_do_not_take_consultations_in_are_refused(world, api, read):
    response = api("auditor").post("/cases", INTAKE)
    assert response.status_code in (403, 404) and response.mimetype == "application/problem+json"
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_read_a_case(world, api):
    started = start_case(world)
    body = api("win").get(f"/cases/{started.case_id}").json
    assert body["id"] == started.case_id and body["status"] == "active" and body["finished"] is False
    assert [t["title"] for t in body["open_tasks"]] == ["窓口での対応"] and body["history"] == []
    assert "next_timer_at" in body


def test_404_for_an_unshared_or_missing_case(world, api):
    started = start_case(world)
    outsider = api("other")
    hidden, missing = outsider.get(f"/cases/{started.case_id}"), outsider.get("/cases/424242")
    assert hidden.status_code == missing.status_code == 404
    assert hidden.json["detail"] == missing.json["detail"]  # nothing tells them apart


def test_drive_a_case_from_intake_to_its_end_through_the_api(world, api, read):
    who = {"window": api("win"), "coordinator": api("coord"), "csw": api("csw")}
    started = who["window"].post("/cases", INTAKE).json
    open_tasks, steps = started["open_tasks"], []
    while open_tasks:
        task = open_tasks[0]
        role = next(
            r
            for r in ("window", "coordinator", "csw")
            if who[r].get(f"/tasks/{task['id']}").json.get("can_work")
        )
        body = dict(FORMS[task["form_key"]])
        if task["form_key"] == "decision":
            body["csw"] = "csw"
        result = who[role].post(f"/tasks/{task['id']}/complete", body)
        assert result.status_code == 200, result.json
        steps.append(task["title"])
        open_tasks = result.json["open_tasks"]
    assert steps == [
        "窓口での対応",
        "同意確認",
        "受理判断",
        "初回接触",
        "アセスメント",
        "プラン作成",
        "重層的支援会議",
        "本人説明",
        "モニタリング",
        "評価",
    ]
    case = who["coordinator"].get(f"/cases/{started['id']}").json
    assert case["finished"] is True and [h["title"] for h in case["history"]] == steps
    with read() as s:
        assert s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "open")) == 0


def test_drive_a_consented_case_on_the_real_pathway_from_intake_to_support(real_app, read):
    """processes/ + forms/: 相談受付 → … → 本人の署名 → 支援の実施.

    Walked by window staff, the coordinating office, the CSW and the lead agency."""
    from tests.web.conftest import Api

    who = {u: Api(real_app, token_for(real_app, u)) for u in ("window1", "coord1", "csw1", "staff1")}
    started = who["window1"].post("/cases", REAL_INTAKE)
    assert started.status_code == 201, started.json
    case_id, open_tasks = started.json["id"], started.json["open_tasks"]
    for element_id, user, body in STEPS:
        task = next((t for t in open_tasks if t["element_id"] == element_id), None)
        assert task is not None, (element_id, [t["element_id"] for t in open_tasks])
        detail = who[user].get(f"/tasks/{task['id']}").json
        assert detail["can_work"] is True and detail["form"]["key"] == task["form_key"], element_id
        result = who[user].post(f"/tasks/{task['id']}/complete", body)
        assert result.status_code == 200, (element_id, result.json)
        open_tasks = result.json["open_tasks"]
        with read() as s:
            assert s.get(HumanTask, task["id"]).status == "completed", element_id
    support = next(t for t in open_tasks if t["element_id"] == SUPPORT_STEP)
    assert support["agency"] == "保健センター" and support["assignee"] is None  # the plan's 主担当機関
    case = who["csw1"].get(f"/cases/{case_id}").json
    assert case["stage"] == "support" and case["status"] == "active" and len(case["history"]) == len(STEPS)
    done = who["staff1"].post(
        f"/tasks/{support['id']}/complete",
        {"started_on": "2026-12-03", "roles_confirmed": "confirmed", "lead_worker": "保健 支援 里美"},
    )
    assert done.status_code == 200 and done.json["finished"] is False
    with read() as s:
        row = s.get(Case, case_id)
        assert (
            row.stage == "support" and row.next_timer_at is not None
        )  # 支援の実施: waiting for モニタリング
        assert row.consent_status == "written" and row.csw_user_id is not None


def test_an_intake_resolved_at_the_window_through_the_api(real_app, read):
    from tests.web.conftest import Api

    window = Api(real_app, token_for(real_app, "window1"))
    started = window.post("/cases", REAL_INTAKE).json
    task = started["open_tasks"][0]
    result = window.post(f"/tasks/{task['id']}/complete", RESOLVE)
    assert result.status_code == 200 and result.json["finished"] is True and result.json["open_tasks"] == []
    with read() as s:
        assert s.get(Case, started["id"]).outcome == "窓口対応で完結"


NOTE = {"noted_at": "2026-11-25T14:00", "kind": "visit", "counterpart": "family",
        "content": "自宅を訪問し妻と面談", "minutes": 30, "basis": "consent"}


def test_case_notes_through_the_api(real_app, read):
    from tests.web.conftest import Api

    window = Api(real_app, token_for(real_app, "window1"))
    case_id = window.post("/cases", REAL_INTAKE).json["id"]
    assert window.get(f"/cases/{case_id}/notes").json == []
    bad = window.post(f"/cases/{case_id}/notes", {"kind": "phone", "minutes": "abc"})
    assert bad.status_code == 422 and bad.mimetype == "application/problem+json"
    assert bad.json["errors"]["content"] == ["必須項目です。"] and "minutes" in bad.json["errors"]
    created = window.post(f"/cases/{case_id}/notes", NOTE)
    assert created.status_code == 201
    body = created.json
    assert (body["data"]["content"], body["data"]["minutes"]) == ("自宅を訪問し妻と面談", 30)
    assert body["compartment"] is False
    assert body["noted_at"] == "2026-11-25T05:00:00+00:00" and body["recorded_by"]
    listed = window.get(f"/cases/{case_id}/notes")
    assert [n["id"] for n in listed.json] == [body["id"]]
    with read() as s:
        assert s.get(FormRecord, body["id"]).case_id == case_id
        rid = listed.headers["X-Request-Id"]
        assert [e.action for e in s.scalars(select(AuditEvent).where(AuditEvent.request_id == rid))] == [
            "record.read"]
    outsider = Api(real_app, token_for(real_app, "staff1"))  # 保健センター: not shared
    assert outsider.get(f"/cases/{case_id}/notes").status_code == 404
    assert outsider.post(f"/cases/{case_id}/notes", NOTE).status_code == 404
    with read() as s:
        notes = select(func.count()).select_from(FormRecord).where(FormRecord.form_key == "case_note")
        assert s.scalar(notes) == 1
