"""The task API: inbox views, one task with its form and draft, claim/unclaim/draft/complete with
200 + the case's open tasks, 409 naming who acted first, 422 per field, 404 for what is hidden."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import HumanTask, TaskDraft
from tests.web.conftest import csrf, start_case


def test_views_list_my_and_claimable_tasks(world, api):
    started = start_case(world, subject_name="山田 花子")
    win = api("win")
    mine = win.get("/tasks?view=mine")
    assert mine.status_code == 200 and mine.headers["X-Total-Count"] == "1"
    task = mine.json[0]
    assert {
        k: task[k]
        for k in (
            "id",
            "case_id",
            "case_number",
            "element_id",
            "title",
            "lane",
            "assignee",
            "status",
            "form_key",
        )
    } == {
        "id": started.open_tasks[0].id,
        "case_id": started.case_id,
        "case_number": started.case_number,
        "element_id": "window_response",
        "title": "窓口での対応",
        "lane": "窓口",
        "assignee": "テスト win",
        "status": "open",
        "form_key": "window_response",
    }
    assert task["due_at"].endswith("+00:00") and task["subject_name"] == "山田 花子"
    assert win.get("/tasks?view=claimable").json == []
    assert api("other").get("/tasks?view=agency").json == []


def test_an_unknown_view_is_422_in_japanese(world, api):
    response = api("win").get("/tasks?view=everything")
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert "view" in response.json["errors"]


def test_a_task_comes_with_its_form_and_draft(world, api):
    started = start_case(world)
    win = api("win")
    task_id = started.open_tasks[0].id
    assert win.post(f"/tasks/{task_id}/draft", {"note": "下書き"}).status_code == 200
    body = win.get(f"/tasks/{task_id}").json
    assert body["form"]["key"] == "window_response" and body["draft"] == {"note": "下書き"}
    action = next(f for f in body["form"]["fields"] if f["name"] == "action")
    assert action["choices"] == [
        {"value": "resolved", "label": "窓口で完結"},
        {"value": "refer", "label": "多機関協働へつなぐ"},
    ]
    assert body["can_work"] is True and body["can_claim"] is False


def test_complete_answers_the_next_open_tasks(world, api, read):
    started = start_case(world)
    response = api("win").post(f"/tasks/{started.open_tasks[0].id}/complete", {"action": "refer"})
    assert response.status_code == 200
    body = response.json
    assert body["case_id"] == started.case_id and body["finished"] is False
    assert [t["title"] for t in body["open_tasks"]] == ["同意確認"] and body["open_tasks"][0][
        "assignee"
    ] is None
    with read() as s:
        assert s.get(HumanTask, started.open_tasks[0].id).status == "completed"


def test_422_lists_messages_per_field(world, api, read):
    started = start_case(world)
    response = api("win").post(f"/tasks/{started.open_tasks[0].id}/complete", {"action": "maybe", "x": 1})
    assert response.status_code == 422 and response.mimetype == "application/problem+json"
    assert response.json["errors"] == {
        "action": ["選択肢から選んでください。"],
        "x": ["この項目は受け付けられません。"],
    }
    with read() as s:
        assert s.get(HumanTask, started.open_tasks[0].id).status == "open"


def test_a_body_that_is_not_a_json_object_is_refused(world, api):
    started = start_case(world)
    win = api("win")
    url = f"/tasks/{started.open_tasks[0].id}/complete"
    assert win.post(url, ["action", "refer"]).status_code == 422
    assert (
        win.client.post(
            f"/api/v1{url}",
            data="action=refer",
            headers=win.headers,
            content_type="application/x-www-form-urlencoded",
        ).status_code
        == 415
    )


def test_409_names_who_completed_first(world, api):
    started = start_case(world)
    win = api("win")
    url = f"/tasks/{started.open_tasks[0].id}/complete"
    win.post(url, {"action": "refer"})
    again = win.post(url, {"action": "resolved"})
    assert again.status_code == 409 and again.json["conflict"]["by"] == "テスト win"
    assert again.json["conflict"]["reason"] == "completed" and "既にテスト winさんが" in again.json["detail"]


def test_claim_and_unclaim(world, api, read):
    started = start_case(world)
    api("win").post(f"/tasks/{started.open_tasks[0].id}/complete", {"action": "refer"})
    with read() as s:
        consent_id = s.scalar(select(HumanTask.id).where(HumanTask.status == "open"))
    colleague = api("win2")
    claimed = colleague.post(f"/tasks/{consent_id}/claim")
    assert claimed.status_code == 200 and claimed.json["open_tasks"][0]["assignee"] == "テスト win2"
    taken = api("win").post(f"/tasks/{consent_id}/claim")
    assert taken.status_code == 409 and taken.json["conflict"]["by"] == "テスト win2"
    released = colleague.post(f"/tasks/{consent_id}/unclaim")
    assert released.status_code == 200 and released.json["open_tasks"][0]["assignee"] is None
    with read() as s:
        assert s.get(HumanTask, consent_id).assignee_id is None


def test_404_for_a_task_of_an_unshared_case(world, api, read):
    started = start_case(world)
    outsider = api("other")
    task_id = started.open_tasks[0].id
    assert outsider.get(f"/tasks/{task_id}").status_code == 404
    for action in ("claim", "unclaim", "draft", "complete"):
        response = outsider.post(f"/tasks/{task_id}/{action}", {"action": "resolved"})
        assert response.status_code == 404 and response.json["title"] == "見つかりません", action
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open" and s.get(TaskDraft, task_id) is None


def test_the_session_works_too_but_needs_the_csrf_header(world, as_user, read):
    started = start_case(world)
    client = as_user("win")
    url = f"/api/v1/tasks/{started.open_tasks[0].id}/draft"
    refused = client.post(url, json={"note": "x"})
    assert refused.status_code == 400 and refused.mimetype == "application/problem+json"
    token = csrf(client, "/")
    accepted = client.post(url, json={"note": "x"}, headers={"X-CSRFToken": token})
    assert accepted.status_code == 200
    with read() as s:
        assert s.get(TaskDraft, started.open_tasks[0].id).data == {"note": "x"}


def test_a_revoked_or_wrong_token_is_401(world):
    response = world.app.test_client().get("/api/v1/tasks", headers={"Authorization": "Bearer tsg_nope"})
    assert response.status_code == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
