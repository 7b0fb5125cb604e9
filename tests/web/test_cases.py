"""The case page: status and step, person and household, timeline, records, open tasks, and the
diagram with completed, current and overdue steps marked; 404 for a case the user may not see; the
支援経過記録 (F8 case notes) added from it, 同意撤回 from it, and the 守秘義務対象 banner of 支援会議 cases
(also on their task pages)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

from engine import compartments, tasks
from engine.models import AuditEvent, Case, Consent, FormRecord, HumanTask
from tests.support import access_process, factories
from tests.web.conftest import World, csrf, login, make_app, start_case
from web.state import state

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


# ---- 支援経過記録 (F8), 同意撤回 and the 守秘義務対象 banner, on a world whose forms include case_note ----

CASE_NOTE_FORM = Path(__file__).resolve().parents[2] / "forms" / "case_note.yaml"
NOTE = {"noted_at": "2026-11-24T10:00", "kind": "phone", "counterpart": "person", "place": "自宅",
        "content": "電話で近況を確認した", "minutes": "15", "basis": "consent"}


@pytest.fixture
def nworld(db, write, tmp_path) -> World:
    """The consent pathway (tests/support/access_process.py) with the real case_note form."""
    directory = access_process.forms_dir(tmp_path)
    shutil.copy(CASE_NOTE_FORM, directory / "case_note.yaml")
    app = make_app(db, forms_dir=str(directory))
    with app.app_context():
        engine = state().engine
    with write() as s:
        people = {"win": factories.actor(s, "window", "AG-WIN", "win"),
                  "other": factories.actor(s, "window", "AG-OTHER", "other"),
                  "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
                  "p1": factories.actor(s, "agency_staff", "AG-P1", "p1", kind="partner"),
                  "member": factories.actor(s, "agency_staff", "AG-HOKEN", "member", kind="partner")}
        factories.deploy(engine, s, access_process.consent_files())
    return World(app, people)


def _client(world: World, username: str) -> Any:
    client = world.app.test_client()
    assert login(client, username).status_code == 302
    return client


def _consented_case(world: World, write) -> int:  # type: ignore[no-untyped-def]
    """A case whose person consented to share 基本情報 and 支援経過 with AG-P1."""
    started = start_case(world, process_id="consent_test", subject_name="山田 花子")
    with world.app.app_context(), write() as s:
        tasks.complete(state().engine, s, world.people["win"], started.open_tasks[0].id,
                       {"consent": "written", "recipients": ["AG-P1"], "categories": ["basic", "history"]})
    return started.case_id


def _events(read, response) -> list[tuple[str, bool]]:  # type: ignore[no-untyped-def]
    with read() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.request_id == response.headers["X-Request-Id"]))
        return [(e.action, e.allowed) for e in rows]


def _notes(read, case_id: int) -> list[FormRecord]:  # type: ignore[no-untyped-def]
    with read() as s:
        return list(s.scalars(select(FormRecord).where(FormRecord.case_id == case_id,
                                                       FormRecord.form_key == "case_note")))


def test_staff_add_a_case_note_and_it_appears_on_the_case_page(nworld, read, frozen_clock):
    case_id = start_case(nworld, process_id="consent_test").case_id
    client = _client(nworld, "win")
    url = f"/cases/{case_id}"
    page = client.get(url).get_data(as_text=True)
    assert "支援経過記録（0件）" in page and "<summary>経過記録を追加する</summary>" in page
    assert 'name="noted_at" type="datetime-local" value="2026-11-24T10:00"' in page  # now, prefilled
    response = client.post(f"{url}/notes", data={"csrf_token": csrf(client, url), **NOTE})
    assert response.status_code == 302 and response.headers["Location"].endswith(f"{url}#notes-title")
    assert _events(read, response) == [("note.write", True)]
    [row] = _notes(read, case_id)
    assert (row.human_task_id, row.data["content"], row.data["minutes"]) == (None, "電話で近況を確認した", 15)
    html = client.get(url).get_data(as_text=True)
    assert "支援経過記録を追加しました。" in html and "支援経過記録（1件）" in html
    notes = html.split('id="notes-title"')[1].split("</section>")[0]
    assert '<span class="when">2026/11/24(火) 10:00</span> <span class="record-title">電話</span>' in notes
    assert "相手：本人" in notes and '<p class="note-body">電話で近況を確認した</p>' in notes
    assert "<dt>場所</dt><dd>自宅</dd>" in notes and "<dt>情報の根拠</dt><dd>本人同意</dd>" in notes
    assert "記録者：テスト win" in notes
    assert "電話で近況を確認した" not in html.split('id="records-title"')[1]  # not repeated among the forms


def test_notes_are_listed_newest_first(nworld, frozen_clock):
    case_id = start_case(nworld, process_id="consent_test").case_id
    client = _client(nworld, "win")
    url = f"/cases/{case_id}"
    for when, text in (("2026-11-20T09:00", "古い記録"), ("2026-11-23T09:00", "新しい記録"),
                       ("2026-11-21T09:00", "中間の記録")):
        data = {"csrf_token": csrf(client, url), **NOTE, "noted_at": when, "content": text}
        response = client.post(f"{url}/notes", data=data)
        assert response.status_code == 302
    notes = client.get(url).get_data(as_text=True).split('id="notes-title"')[1].split("</section>")[0]
    assert re.findall(r'<p class="note-body">(.+?)</p>', notes) == ["新しい記録", "中間の記録", "古い記録"]


def test_bad_input_answers_422_naming_the_fields_and_keeping_what_was_typed(nworld, read):
    case_id = start_case(nworld, process_id="consent_test").case_id
    client = _client(nworld, "win")
    url = f"/cases/{case_id}"
    response = client.post(f"{url}/notes", data={"csrf_token": csrf(client, url), **NOTE, "content": "",
                                                 "minutes": "十五"})
    html = response.get_data(as_text=True)
    assert response.status_code == 422 and "<title>【入力エラー】" in html
    assert 'role="alert"' in html and '<a href="#f-content">内容：必須項目です。</a>' in html
    assert '<a href="#f-minutes">所要時間（分）：整数で入力してください。</a>' in html
    assert 'value="十五"' in html and 'name="place" type="text" value="自宅"' in html
    assert "<details class=\"note-form\" open>" in html
    assert _notes(read, case_id) == []
    assert _events(read, response) == [("case.read", True)]  # the page's read; the failed write rolled back
    assert client.post(f"{url}/notes", data={**NOTE}).status_code == 400  # no CSRF token


def test_who_may_not_write_gets_no_form_and_cannot_post(nworld, write, read, frozen_clock):
    case_id = _consented_case(nworld, write)
    recipient = _client(nworld, "p1")  # sees the case by the consent, does not work on it
    url = f"/cases/{case_id}"
    page = recipient.get(url).get_data(as_text=True)
    assert "支援経過記録（0件）" in page and "経過記録を追加する" not in page
    response = recipient.post(f"{url}/notes", data={"csrf_token": csrf(recipient, url), **NOTE})
    assert response.status_code == 403 and _events(read, response) == [("note.write", False)]
    outsider = _client(nworld, "other")
    response = outsider.post(f"{url}/notes", data={"csrf_token": csrf(outsider, "/"), **NOTE})
    assert response.status_code == 404 and _events(read, response) == [("note.write", False)]
    assert _notes(read, case_id) == []


def test_consent_withdrawal_from_the_case_page_takes_effect_on_the_next_request(nworld, write, read,
                                                                               frozen_clock):
    case_id = _consented_case(nworld, write)
    with write() as s:  # as case.bpmn records it on the consent step
        s.execute(update(Case).where(Case.id == case_id).values(consent_status="written"))
    url = f"/cases/{case_id}"
    recipient = _client(nworld, "p1")
    assert recipient.get(url).status_code == 200
    assert "同意撤回を受け付けた" not in recipient.get(url).get_data(as_text=True)  # not the recipient's call
    window = _client(nworld, "win")
    page = window.get(url).get_data(as_text=True)
    assert '<h2 id="withdraw-title">同意撤回</h2>' in page and "同意撤回を受け付けた" in page
    unconfirmed = window.post(f"{url}/consent/withdraw", data={"csrf_token": csrf(window, url)})
    assert unconfirmed.status_code == 422 and _events(read, unconfirmed) == [("case.read", True)]
    assert "申出を受けたことを確認し、チェックを入れてください。" in unconfirmed.get_data(as_text=True)
    with read() as s:
        assert s.scalar(select(Consent.status).where(Consent.case_id == case_id)) == "active"
    confirmed = {"csrf_token": csrf(window, url), "confirm": "true"}
    response = window.post(f"{url}/consent/withdraw", data=confirmed)
    assert response.status_code == 302 and response.headers["Location"].endswith(url)
    assert _events(read, response) == [("consent.withdraw", True)]
    with read() as s:
        row = s.scalar(select(Consent).where(Consent.case_id == case_id))
        assert row.status == "withdrawn" and row.withdrawn_at is not None
    html = window.get(url).get_data(as_text=True)
    assert "同意撤回を受け付けました。共有先 1 機関は、次の操作からこのケースを見られなくなります。" in html
    assert '<h2 id="withdraw-title">' not in html  # nothing left to withdraw
    assert "<dt>同意</dt><dd>同意あり（書面）（現在有効な同意はありません）</dd>" in html
    gone = recipient.get(url)
    assert gone.status_code == 404 and "山田 花子" not in gone.get_data(as_text=True)


def test_consent_withdrawal_can_name_some_of_the_agencies(nworld, write, read, frozen_clock):
    """The person withdraws the sharing with one agency only: that agency loses the case on its next
    request, the other keeps it and the consent stays active; a code that is not a current recipient
    (a stale page, a forged post) is refused and changes nothing."""
    started = start_case(nworld, process_id="consent_test", subject_name="山田 花子")
    with nworld.app.app_context(), write() as s:
        tasks.complete(state().engine, s, nworld.people["win"], started.open_tasks[0].id,
                       {"consent": "written", "recipients": ["AG-P1", "AG-HOKEN"],
                        "categories": ["basic", "history"]})
    url = f"/cases/{started.case_id}"
    p1, member, window = _client(nworld, "p1"), _client(nworld, "member"), _client(nworld, "win")
    assert p1.get(url).status_code == 200 and member.get(url).status_code == 200
    page = window.get(url).get_data(as_text=True)
    assert "撤回する共有先" in page and 'name="agencies" value="AG-P1"' in page
    assert 'name="agencies" value="AG-HOKEN"' in page
    confirmed = {"confirm": "true"}
    forged = window.post(f"{url}/consent/withdraw",
                         data={"csrf_token": csrf(window, url), **confirmed,
                               "agencies": ["AG-P1", "AG-OTHER"]})
    assert forged.status_code == 422 and "現在の共有先から選んでください。" in forged.get_data(as_text=True)
    assert _events(read, forged) == [("case.read", True)]
    response = window.post(f"{url}/consent/withdraw",
                           data={"csrf_token": csrf(window, url), **confirmed, "agencies": ["AG-P1"]})
    assert response.status_code == 302 and _events(read, response) == [("consent.withdraw", True)]
    flashed = window.get(url).get_data(as_text=True)
    assert "共有先を指定した同意撤回を受け付けました。共有先 1 機関は" in flashed
    assert p1.get(url).status_code == 404 and member.get(url).status_code == 200
    with read() as s:
        assert s.scalar(select(Consent.status).where(Consent.case_id == started.case_id)) == "active"
    assert 'name="agencies"' not in window.get(url).get_data(as_text=True)  # one recipient left: no choice


def _support_meeting_case(nworld, write) -> tuple[int, int]:  # type: ignore[no-untyped-def]
    started = start_case(nworld, process_id="consent_test", subject_name="山田 花子")
    with write() as s:
        meeting = compartments.open_meeting(s, nworld.people["coord"], "support")
        compartments.add_case(s, nworld.people["coord"], meeting.id, started.case_id)
        compartments.add_member(s, nworld.people["coord"], meeting.id, "member")
    return started.case_id, started.open_tasks[0].id


def test_a_support_meeting_case_carries_the_marking_at_the_top_of_its_page(nworld, write, read):
    case_id, _ = _support_meeting_case(nworld, write)
    plain = start_case(nworld, process_id="consent_test")
    html = _client(nworld, "member").get(f"/cases/{case_id}").get_data(as_text=True)
    banner = html.split('<div class="confidential-banner" role="note"')[1].split("</div>")[0]
    assert "取扱注意：守秘義務対象" in banner and "社会福祉法第106条の6" in banner
    assert "閲覧できるのは支援会議の構成員と担当部署だけです" in banner
    assert html.index("confidential-banner") < html.index("<h1>")  # at the top
    other = _client(nworld, "coord").get(f"/cases/{plain.case_id}")
    assert "守秘義務対象" not in other.get_data(as_text=True)
    assert _client(nworld, "win").get(f"/cases/{case_id}").status_code == 404  # outside the compartment


def test_notes_written_in_the_compartment_are_marked_and_kept_there(nworld, write, read):
    case_id, _ = _support_meeting_case(nworld, write)
    member = _client(nworld, "member")
    url = f"/cases/{case_id}"
    response = member.post(f"{url}/notes", data={"csrf_token": csrf(member, url), **NOTE,
                                                 "basis": "support_meeting", "content": "会議で共有した内容"})
    assert response.status_code == 302
    [row] = _notes(read, case_id)
    assert row.compartment
    notes = member.get(url).get_data(as_text=True).split('id="notes-title"')[1].split("</section>")[0]
    assert '<span class="badge-confidential">守秘義務対象</span>' in notes and "会議で共有した内容" in notes
    with write() as s:  # the person consents later and the process lifts the confidentiality
        s.execute(update(Case).where(Case.id == case_id).values(confidential=False))
    html = _client(nworld, "win").get(url).get_data(as_text=True)
    assert "支援経過記録（0件）" in html and "会議で共有した内容" not in html
