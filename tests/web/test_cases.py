"""The case page: status and step, person and household, timeline, records, open tasks, and the
diagram with completed, current and overdue steps marked; 404 for a case the user may not see."""

from __future__ import annotations

import re

from sqlalchemy import select, update

from engine.models import Case, HumanTask
from tests.web.conftest import csrf, start_case

HOUSEHOLD = [{"name": "山田 一郎", "relation": "夫", "age": 82}]


def _walk_to_consent(world, client):  # type: ignore[no-untyped-def]
    started = start_case(world, subject_name="山田 花子", household=HOUSEHOLD, narrative="介護と家計")
    url = f"/tasks/{started.open_tasks[0].id}"
    client.post(
        url,
        data={
            "csrf_token": csrf(client, url),
            "_action": "complete",
            "action": "refer",
            "note": "多機関で対応",
        },
    )
    return started


def test_the_case_page_shows_status_person_timeline_records_and_open_tasks(world, as_user):
    client = as_user("win")
    started = _walk_to_consent(world, client)
    html = client.get(f"/cases/{started.case_id}").get_data(as_text=True)
    assert f"<h1>ケース {started.case_number}</h1>" in html
    assert '<span class="status status-active">対応中</span>' in html
    assert "<dt>現在のステップ</dt><dd>同意確認</dd>" in html
    assert "<dt>本人</dt><dd>山田 花子</dd>" in html and "<td>山田 一郎</td><td>夫</td><td>82</td>" in html
    timeline = html.split('id="timeline-title"')[1].split("</ol>")[0]
    assert re.search(r'<span class="what">窓口での対応</span> <span class="who">テスト win</span>', timeline)
    records = html.split('id="records-title"')[1]
    assert "相談受付票（テスト）" in records and '<span class="record-title">窓口での対応</span>' in records
    assert "<dt>対応</dt><dd>多機関協働へつなぐ</dd>" in records  # the choice's label, not its value
    assert "<dt>相談内容</dt><dd>介護と家計</dd>" in records
    open_tasks = html.split('id="open-title"')[1].split("</table>")[0]
    assert "同意確認" in open_tasks and "未割当（テスト機関AG-WIN）" in open_tasks


def test_the_diagram_marks_completed_current_and_overdue_steps(world, as_user, frozen_clock):
    client = as_user("win")
    started = _walk_to_consent(world, client)
    html = client.get(f"/cases/{started.case_id}").get_data(as_text=True)
    svg = html.split("<svg")[1].split("</svg>")[0]
    assert 'class="shape bpmn-startEvent mark-completed" data-element-id="start"' in svg
    assert 'class="shape bpmn-userTask mark-completed" data-element-id="window_response"' in svg
    assert 'class="shape bpmn-userTask mark-current" data-element-id="consent_check"' in svg
    assert 'class="shape bpmn-userTask" data-element-id="acceptance"' in svg  # not reached yet
    assert "<title>同意確認（対応中）</title>" in svg
    frozen_clock.advance(days=10)
    late = client.get(f"/cases/{started.case_id}").get_data(as_text=True)
    assert 'class="shape bpmn-userTask mark-overdue" data-element-id="consent_check"' in late
    assert re.search(r'<span class="overdue">期限超過 \d+日</span>', late)


def test_case_pages_are_not_cached(world, as_user):
    started = start_case(world)
    assert as_user("win").get(f"/cases/{started.case_id}").headers["Cache-Control"] == "no-store"


def test_another_agency_gets_404_for_an_unshared_case(world, as_user):
    started = start_case(world)
    outsider = as_user("other")
    response = outsider.get(f"/cases/{started.case_id}")
    assert response.status_code == 404
    assert "お探しのケースまたはタスクは見つかりません" in response.get_data(as_text=True)
    assert started.case_number not in response.get_data(as_text=True)
    assert outsider.get("/cases/999999").status_code == 404  # the same answer as for a case that exists


def test_the_coordinating_office_sees_every_case(world, as_user):
    started = start_case(world, subject_name="山田 花子")
    html = as_user("coord").get(f"/cases/{started.case_id}").get_data(as_text=True)
    assert "<dt>本人</dt><dd>山田 花子</dd>" in html


def test_a_confidential_case_is_hidden_outside_the_compartment_and_bannered_inside(world, as_user, write):
    started = start_case(world, subject_name="山田 花子", household=HOUSEHOLD)
    with write() as s:
        s.execute(update(Case).where(Case.id == started.case_id).values(confidential=True))
    window = as_user("win")
    assert window.get(f"/cases/{started.case_id}").status_code == 404
    assert "山田 花子" not in window.get("/").get_data(as_text=True)
    html = as_user("coord").get(f"/cases/{started.case_id}").get_data(as_text=True)
    assert "取扱注意" in html and "守秘義務対象" in html


def test_a_finished_case_shows_its_end(world, as_user, read):
    client = as_user("win")
    started = start_case(world)
    url = f"/tasks/{started.open_tasks[0].id}"
    client.post(url, data={"csrf_token": csrf(client, url), "_action": "complete", "action": "resolved"})
    html = client.get(f"/cases/{started.case_id}").get_data(as_text=True)
    with read() as s:
        case = s.get(Case, started.case_id)
        assert s.scalar(select(HumanTask.id).where(HumanTask.status == "open")) is None
    assert f">{'終了' if case.status == 'completed' else case.status}</span>" in html
    assert "対応中のタスクはありません。" in html and "<dt>終了日時</dt>" in html
