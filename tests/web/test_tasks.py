"""The task page: every field type rendered, 一時保存, 完了 and where the user goes next, inline
validation keeping what was typed, conflicts naming who acted first, 引き受け / 引き受け解除, table
rows added and removed without JavaScript, and the 守秘義務対象 banner on the tasks of a 支援会議 case."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine import compartments
from engine.models import FormRecord, HumanTask, TaskDraft
from tests.web.conftest import csrf, login, start_case


@pytest.fixture
def typed(typed_world):  # type: ignore[no-untyped-def]
    started = start_case(typed_world, process_id="all_types")
    client = typed_world.app.test_client()
    login(client, "win")
    task_id = started.open_tasks[0].id
    return client, task_id, f"/tasks/{task_id}"


FULL = {
    "title": "訪問調整",
    "body": "本人と面談した。\n次回は自宅。",
    "visit_on": "2026-12-01",
    "visit_at": "2026-12-01T10:30",
    "count": "3",
    "urgent": "true",
    "channel": "phone",
    "district": "e",
    "issues": ["money", "care"],
    "lead": "AG-HOKEN",
    "partners": ["AG-WIN", "AG-HOKEN"],
    "csw": "csw",
    "roles.0.agency": "AG-HOKEN",
    "roles.0.role": "健康相談",
    "roles.0.main": "true",
    "roles.0.since": "2026-12-02",
    "roles.1.agency": "AG-WIN",
    "roles.1.role": "見守り",
}


def test_every_field_type_is_rendered_with_a_label(typed):
    client, _, url = typed
    html = client.get(url).get_data(as_text=True)
    assert '<label for="f-title" class="label">件名<span class="req">必須</span></label>' in html
    assert 'aria-describedby="f-title-help"' in html and "20文字以内" in html
    assert '<textarea id="f-body" name="body"' in html
    assert 'type="date"' in html and 'type="datetime-local"' in html and 'inputmode="numeric"' in html
    assert 'type="checkbox" value="true"' in html  # boolean
    assert 'type="radio" name="channel" value="phone"' in html  # ≤5 choices: radio buttons
    assert '<select id="f-district" name="district"' in html and ">一宮</option>" in html  # >5: a select
    assert 'type="checkbox" name="issues" value="care"' in html
    assert '<option value="AG-HOKEN">保健センター</option>' in html  # agency choices
    assert 'type="checkbox" name="partners" value="AG-WIN"' in html  # multiple agencies
    select_csw = html.split('id="f-csw"')[1].split("</select>")[0]
    assert 'value="csw"' in select_csw and 'value="win"' not in select_csw  # only the field's role
    assert 'name="roles.0.agency"' in html and 'name="roles.0.main"' in html
    assert "data-row-template" in html and 'name="roles.__INDEX__.role"' in html
    assert 'value="add_row:roles"' in html and 'value="remove_row:roles:0"' in html
    assert '<script src="/static/js/form-rows.js" defer></script>' in html


def test_complete_stores_typed_values_and_goes_to_my_next_task(typed, read):
    client, task_id, url = typed
    response = client.post(url, data={**FULL, "csrf_token": csrf(client, url), "_action": "complete"})
    assert response.status_code == 302
    with read() as s:
        record = s.scalar(select(FormRecord).where(FormRecord.human_task_id == task_id))
        next_task = s.scalar(select(HumanTask).where(HumanTask.status == "open"))
    assert (
        record.data["count"] == 3
        and record.data["urgent"] is True
        and record.data["issues"] == ["money", "care"]
    )
    assert record.data["visit_at"] == "2026-12-01T10:30+09:00" and record.data["partners"] == [
        "AG-WIN",
        "AG-HOKEN",
    ]
    assert record.data["roles"] == [
        {"agency": "AG-HOKEN", "role": "健康相談", "main": True, "since": "2026-12-02"},
        {"agency": "AG-WIN", "role": "見守り", "main": False},
    ]
    assert response.headers["Location"] == f"/tasks/{next_task.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "次のタスク「確認」です" in page


def test_validation_errors_are_inline_in_japanese_and_keep_what_was_typed(typed, read):
    client, task_id, url = typed
    data = {
        **FULL,
        "title": "",
        "count": "たくさん",
        "roles.1.role": "",
        "roles.1.main": "true",
        "csrf_token": csrf(client, url),
        "_action": "complete",
    }
    response = client.post(url, data=data)
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert 'role="alert"' in html and "入力内容を確認してください" in html
    assert '<p class="field-error" id="f-title-error"><span>必須項目です。</span></p>' in html
    assert 'id="f-count-error"><span>整数で入力してください。</span>' in html
    assert 'id="f-roles-1-role-error"><span>必須項目です。</span>' in html
    assert 'href="#f-roles-1-role">役割分担：役割（2行目）：必須項目です。' in html
    assert 'aria-invalid="true"' in html and 'aria-describedby="f-title-help f-title-error"' in html
    assert "本人と面談した。\n次回は自宅。</textarea>" in html  # what was typed is kept
    assert 'value="たくさん"' in html and 'value="健康相談"' in html
    assert 'value="phone" id="f-channel-2" checked' in html
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open"
        assert s.scalar(select(FormRecord).where(FormRecord.human_task_id == task_id)) is None


def test_draft_keeps_partial_input_without_completing(typed, read):
    client, task_id, url = typed
    response = client.post(
        url,
        data={
            "body": "途中まで",
            "count": "2",
            "roles.0.role": "調整中",
            "csrf_token": csrf(client, url),
            "_action": "draft",
        },
    )
    assert response.status_code == 302 and response.headers["Location"] == url
    with read() as s:
        draft = s.get(TaskDraft, task_id)
        assert draft.data == {
            "body": "途中まで",
            "count": 2,
            "roles": [{"role": "調整中", "main": False}],
            "urgent": False,
        }
        assert s.get(HumanTask, task_id).status == "open"
    html = client.get(url).get_data(as_text=True)
    assert "一時保存しました" in html and "途中まで</textarea>" in html and 'value="調整中"' in html


def test_draft_with_a_wrong_type_is_refused_inline(typed, read):
    client, task_id, url = typed
    response = client.post(url, data={"count": "x", "csrf_token": csrf(client, url), "_action": "draft"})
    assert response.status_code == 422 and "整数で入力してください" in response.get_data(as_text=True)
    with read() as s:
        assert s.get(TaskDraft, task_id) is None


def test_rows_are_added_and_removed_without_javascript(typed, read):
    client, task_id, url = typed
    token = csrf(client, url)
    added = client.post(url, data={"roles.0.role": "A", "csrf_token": token, "_action": "add_row:roles"})
    html = added.get_data(as_text=True)
    assert added.status_code == 200 and 'name="roles.1.role"' in html and 'value="A"' in html
    removed = client.post(
        url,
        data={"roles.0.role": "A", "roles.1.role": "B", "csrf_token": token, "_action": "remove_row:roles:0"},
    )
    html = removed.get_data(as_text=True)
    assert 'value="B"' in html and 'value="A"' not in html and 'name="roles.1.role"' not in html
    with read() as s:
        assert s.get(TaskDraft, task_id) is None and s.get(HumanTask, task_id).status == "open"


@pytest.fixture
def referral(world, as_user):  # type: ignore[no-untyped-def]
    started = start_case(world)
    return started, as_user("win")


def _complete(client, task_id, **data):  # type: ignore[no-untyped-def]
    url = f"/tasks/{task_id}"
    return client.post(url, data={**data, "csrf_token": csrf(client, url), "_action": "complete"})


def test_after_completion_the_inbox_says_where_the_case_went(referral, read):
    started, client = referral
    response = _complete(client, started.open_tasks[0].id, action="refer")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    page = client.get("/").get_data(as_text=True)
    assert (
        f"ケース {started.case_number} は 「同意確認」（テスト機関AG-WINの引き受け待ち） へ進みました" in page
    )
    with read() as s:
        assert s.scalar(select(HumanTask.title).where(HumanTask.status == "open")) == "同意確認"


def test_completing_the_last_step_says_the_case_ended(referral, read):
    started, client = referral
    response = _complete(client, started.open_tasks[0].id, action="resolved")
    assert "は終了しました" in client.get(response.headers["Location"]).get_data(as_text=True)
    with read() as s:
        assert s.scalar(select(HumanTask.id).where(HumanTask.status == "open")) is None


def test_a_completion_refused_after_the_writes_shows_the_open_task_again(referral, monkeypatch, read):
    """A check that fails late (an after-submission hook, after the task, the case and the next step
    were written) rolls the attempt back: the page shows the same open task with its form and the
    message, not a completed task, and nothing of the attempt stays in the database."""
    from engine import hooks
    from engine.errors import Invalid

    def refuse(_submission):  # type: ignore[no-untyped-def]
        raise Invalid({"note": ["後段の確認で受け付けられませんでした。"]})

    started, client = referral
    task_id = started.open_tasks[0].id
    monkeypatch.setattr(hooks, "after_submission", refuse)
    response = _complete(client, task_id, action="refer", note="確認待ち")
    html = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "後段の確認で受け付けられませんでした。" in html and 'class="task-form"' in html
    assert "に完了しました" not in html and "確認待ち" in html
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open"
        assert s.scalar(select(func.count()).select_from(HumanTask)) == 1  # no next step left behind
    monkeypatch.undo()
    assert _complete(client, task_id, action="refer").status_code == 302


def test_a_second_completion_is_a_conflict_naming_who_and_keeping_the_input(referral, world, read):
    started, client = referral
    task_id = started.open_tasks[0].id
    stale = world.app.test_client()
    login(stale, "win")
    token = csrf(stale, f"/tasks/{task_id}")  # the page was open in another tab
    _complete(client, task_id, action="refer")
    response = stale.post(
        f"/tasks/{task_id}",
        data={"csrf_token": token, "_action": "complete", "action": "resolved", "note": "別タブの入力"},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 409
    assert re.search(
        r"このタスクは既にテスト winさんが\d{4}年\d{2}月\d{2}日 \d{2}:\d{2}に完了しています。", html
    )
    with read() as s:
        assert s.scalar(select(HumanTask.title).where(HumanTask.status == "open")) == "同意確認"


def test_claim_and_unclaim(referral, world, as_user, read):
    started, client = referral
    _complete(client, started.open_tasks[0].id, action="refer")
    with read() as s:
        consent = s.scalar(select(HumanTask).where(HumanTask.status == "open"))
    colleague = as_user("win2")
    page = colleague.get(f"/tasks/{consent.id}").get_data(as_text=True)
    assert "引き受け</button>" in page
    url = f"/tasks/{consent.id}/claim"
    response = colleague.post(url, data={"csrf_token": csrf(colleague, f"/tasks/{consent.id}")})
    assert response.status_code == 302
    with read() as s:
        assert s.get(HumanTask, consent.id).assignee_id == world.people["win2"].user_id
    assert "引き受けました" in colleague.get(response.headers["Location"]).get_data(as_text=True)
    # the first user now sees who has it, and cannot complete it
    page = client.get(f"/tasks/{consent.id}").get_data(as_text=True)
    assert "このタスクはテスト win2さんが担当しています。" in page and 'value="complete"' not in page
    refused = _complete(client, consent.id)
    assert refused.status_code == 409 and "テスト win2さんが" in refused.get_data(as_text=True)
    released = colleague.post(
        f"/tasks/{consent.id}/unclaim", data={"csrf_token": csrf(colleague, f"/tasks/{consent.id}")}
    )
    assert released.headers["Location"] == "/?view=claimable"
    with read() as s:
        assert s.get(HumanTask, consent.id).assignee_id is None


def test_a_user_of_another_agency_gets_404_for_the_task(referral, as_user, read):
    started, _ = referral
    outsider = as_user("other")
    task_id = started.open_tasks[0].id
    page = outsider.get(f"/tasks/{task_id}")
    assert page.status_code == 404 and "見つかりません" in page.get_data(as_text=True)
    token = csrf(outsider, "/")
    for path in (f"/tasks/{task_id}", f"/tasks/{task_id}/claim", f"/tasks/{task_id}/unclaim"):
        assert outsider.post(path, data={"csrf_token": token, "action": "resolved"}).status_code == 404
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open"


def test_a_task_for_another_role_is_read_only(referral, as_user, read):
    started, client = referral
    _complete(client, started.open_tasks[0].id, action="refer")
    _complete(client, _open_id(read), note="同意あり")  # 同意確認 (window) → 受理判断 (coordinator)
    page = client.get(f"/tasks/{_open_id(read)}").get_data(as_text=True)
    assert "担当部署（調整担当）が担当します" in page and 'value="complete"' not in page


def _open_id(read) -> int:  # type: ignore[no-untyped-def]
    with read() as s:
        return s.scalar(select(HumanTask.id).where(HumanTask.status == "open"))


def test_the_tasks_of_a_support_meeting_case_carry_the_marking_at_the_top(world, as_user, write):
    secret, plain = start_case(world), start_case(world)
    with write() as s:
        meeting = compartments.open_meeting(s, world.people["coord"], "support")
        compartments.add_case(s, world.people["coord"], meeting.id, secret.case_id)
        compartments.add_member(s, world.people["coord"], meeting.id, "csw")
    html = as_user("csw").get(f"/tasks/{secret.open_tasks[0].id}").get_data(as_text=True)
    banner = html.split('<div class="confidential-banner" role="note"')[1].split("</div>")[0]
    assert "取扱注意：守秘義務対象" in banner and "社会福祉法第106条の6" in banner
    assert html.index("confidential-banner") < html.index("<h1>")
    assert "守秘義務対象" not in as_user("win").get(f"/tasks/{plain.open_tasks[0].id}").get_data(as_text=True)
    assert as_user("win").get(f"/tasks/{secret.open_tasks[0].id}").status_code == 404  # not a member
