"""新規相談受付: the start form starts a case; errors re-render in Japanese; only intake roles may start."""

from __future__ import annotations

from sqlalchemy import func, select

from engine.models import Case, FormRecord, HumanTask
from tests.web.conftest import csrf

INTAKE = {
    "process": "referral_test",
    "subject_name": "山田 花子",
    "subject_kana": "やまだ はなこ",
    "urgency": "high",
    "narrative": "介護と家計の相談",
    "household.0.name": "山田 一郎",
    "household.0.relation": "夫",
    "household.0.age": "82",
    "household.1.name": "",
    "household.1.relation": "",
    "household.1.age": "",
}


def test_the_start_form_is_rendered_from_its_definition(as_user):
    html = as_user("win").get("/intake").get_data(as_text=True)
    assert (
        "相談受付票（テスト）" in html and 'name="subject_name"' in html and 'name="household.0.name"' in html
    )
    assert 'name="process" value="referral_test"' in html


def test_submitting_starts_a_case_and_opens_my_first_task(as_user, world, read):
    client = as_user("win")
    response = client.post("/intake", data={**INTAKE, "csrf_token": csrf(client, "/intake")})
    assert response.status_code == 302
    with read() as s:
        case = s.scalar(select(Case))
        task = s.scalar(select(HumanTask).where(HumanTask.status == "open"))
        record = s.scalar(select(FormRecord))
    assert case.subject_name == "山田 花子" and task.assignee_id == world.people["win"].user_id
    assert record.data["household"] == [
        {"name": "山田 一郎", "relation": "夫", "age": 82}
    ]  # the blank row dropped
    assert response.headers["Location"] == f"/tasks/{task.id}"
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"相談を受け付けました。ケース番号は {case.case_number} です。" in page and "窓口での対応" in page


def test_missing_fields_are_shown_inline_and_nothing_is_started(as_user, read):
    client = as_user("win")
    response = client.post(
        "/intake",
        data={**INTAKE, "subject_name": "", "household.0.name": "", "csrf_token": csrf(client, "/intake")},
    )
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "【入力エラー】" in html
    assert 'id="f-subject_name-error"><span>必須項目です。</span>' in html
    assert 'id="f-household-0-name-error"><span>必須項目です。</span>' in html  # the row still has 夫, 82
    assert "介護と家計の相談</textarea>" in html and 'value="82"' in html
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_roles_that_do_not_take_consultations_in_cannot_start(as_user, read):
    client = as_user("auditor")
    assert client.get("/intake").status_code in (403, 404)
    assert "新規相談受付" not in client.get("/").get_data(as_text=True)
    response = client.post("/intake", data={**INTAKE, "csrf_token": csrf(client, "/")})
    assert (
        response.status_code in (403, 404)
        and "見つかりません" in response.get_data(as_text=True)
        or "権限がありません" in response.get_data(as_text=True)
    )
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0


def test_an_unknown_process_is_404_and_starts_nothing(as_user, read):
    client = as_user("win")
    assert client.get("/intake?process=nope").status_code == 404
    response = client.post(
        "/intake", data={**INTAKE, "process": "nope", "csrf_token": csrf(client, "/intake")}
    )
    assert response.status_code == 404 and "見つかりません" in response.get_data(as_text=True)
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 0
