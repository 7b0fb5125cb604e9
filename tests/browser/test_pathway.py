"""End to end in a real browser on the real pathway (processes/ + forms/), each step checked on the
screen and in the database: an intake resolved at the window, and a consented case walked by window
staff, the coordinating office and the CSW from intake to 支援の実施. Screenshots of the inbox, a
task form with a validation error and the case page are written to docs/screenshots/."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from engine.models import Case, HumanTask
from tests.browser.conftest import fill_form
from tests.web.pathway import INTAKE, RESOLVE, STEPS, SUPPORT_STEP

pytestmark = pytest.mark.browser
COMPLETE = ".form-actions button[value=complete]"


def _task(read, element_id: str) -> HumanTask:  # type: ignore[no-untyped-def]
    with read() as s:
        return s.scalar(
            select(HumanTask).where(HumanTask.element_id == element_id, HumanTask.status == "open")
        )


def _take_intake(member) -> tuple[str, int]:  # type: ignore[no-untyped-def]
    page = member.page
    page.click("text=＋ 新規相談受付")
    page.wait_for_selector("h2:has-text('相談受付票')")
    fill_form(page, "intake", INTAKE)
    page.click(COMPLETE)
    page.wait_for_selector("h1:has-text('窓口での対応')")
    flash = page.locator(".flash-success").inner_text()
    number = re.search(r"ケース番号は (\d{4}-\d{5})", flash).group(1)
    task_id = int(page.url.rsplit("/", 1)[1])
    return number, task_id


def test_an_intake_resolved_at_the_window(staff, read):
    window = staff("window1")
    number, task_id = _take_intake(window)
    page = window.page
    assert page.locator("dd", has_text="山田 花子").count() >= 1  # the person on the task page
    with read() as s:
        case = s.scalar(select(Case).where(Case.case_number == number))
        assert case.subject_name == "山田 花子" and case.status == "active"
    fill_form(page, "window_response", RESOLVE)
    page.click(COMPLETE)
    page.wait_for_url(f"{window.base}/")
    assert f"ケース {number} は終了しました" in page.locator(".flash-success").inner_text()
    with read() as s:
        case = s.scalar(select(Case).where(Case.case_number == number))
        assert case.outcome == "窓口対応で完結" and case.finished_at is not None
        assert s.get(HumanTask, task_id).status == "completed"
    window.goto(f"/cases/{case.id}")
    assert "窓口対応で完結" in page.content() or "終了" in page.locator(".status").inner_text()


def _open_from_inbox(member, number: str, title: str) -> None:  # type: ignore[no-untyped-def]
    """Find the case's task in 自分の担当 or 引き受け待ち, open it and, if it is unassigned, 引き受け."""
    page = member.page
    for view in ("mine", "claimable"):
        member.goto(f"/?view={view}&case={number}")
        link = page.locator("table.inbox tbody a", has_text=title)
        if link.count():
            link.first.click()
            break
    else:
        raise AssertionError(f"{title} of {number} is in neither tab")
    page.wait_for_selector(f"h1:has-text('{title}')")
    claim = page.locator(".task-actions button", has_text="引き受け")
    if claim.count() and claim.inner_text().strip() == "引き受け":
        claim.click()
        assert "引き受けました" in page.locator(".flash-success").inner_text()


def _more_work_for(app, username: str, write) -> None:  # type: ignore[no-untyped-def]
    """Three more consultations in the window's inbox, one of them past its due date (for the screenshot)."""
    from sqlalchemy import update

    from tests.web.conftest import Api
    from tests.web.pathway import token_for

    api = Api(app, token_for(app, username))
    for name, problem in (("佐藤 次郎", "income"), ("鈴木 三恵", "childcare"), ("高橋 四郎", "housing")):
        body = {**INTAKE, "subject_name": name, "problems": [problem], "primary_problem": problem}
        task_id = api.post("/cases", body).json["open_tasks"][0]["id"]
    with write() as s:
        s.execute(update(HumanTask).where(HumanTask.id == task_id)
                  .values(due_at=datetime.now(UTC) - timedelta(days=3, hours=2)))


def test_a_consented_case_from_intake_to_support(staff, live_app, read, write):
    members = {u: staff(u) for u in ("window1", "coord1", "csw1", "staff1")}
    window = members["window1"]
    number, _ = _take_intake(window)
    with read() as s:
        case_id = s.scalar(select(Case.id).where(Case.case_number == number))
    for index, (element_id, user, data) in enumerate(STEPS):
        member = members[user]
        task = _task(read, element_id)
        assert task is not None, element_id
        if element_id == "meeting":  # the case page half-way: done steps, the current one, the diagram
            page = member.goto(f"/cases/{case_id}")
            current = page.locator("svg.bpmn-diagram .mark-current[data-element-id='meeting']")
            assert current.count() == 1 and "対応中" in current.text_content()
            assert page.locator("svg.bpmn-diagram .mark-completed[data-element-id='plan']").count() == 1
            assert page.locator(".facts dd", has_text="会議待ち").count() == 1
            member.shot("case", full_page=True)
        _open_from_inbox(member, number, task.title)
        page = member.page
        if element_id == "assessment":  # a validation error first, on screen and kept out of the database
            page.click(COMPLETE)
            page.wait_for_selector("#error-summary")
            assert "入力内容を確認してください" in page.locator("#error-summary").inner_text()
            assert page.locator("#f-assessed_on-error").inner_text().strip() == "必須項目です。"
            assert page.evaluate("document.activeElement.id") == "error-summary"  # focus moved to the summary
            member.shot("task-validation-error", full_page=True)
            assert _task(read, element_id).status == "open"
        if index == 0:
            _more_work_for(live_app, "window1", write)
            window.goto("/")
            assert window.page.locator("table.inbox tbody tr").count() == 4
            assert window.page.locator(".overdue", has_text="期限超過 4日").count() == 1
            window.shot("inbox")
            _open_from_inbox(member, number, task.title)
        form_key = task.form_key
        fill_form(page, form_key, data)
        page.click(COMPLETE)
        page.wait_for_selector(".flash-success")
        assert "完了しました" in page.locator(".flash-success").inner_text(), element_id
        with read() as s:
            done = s.get(HumanTask, task.id)
            assert done.status == "completed" and done.completed_by_id is not None, element_id
    support = _task(read, SUPPORT_STEP)
    assert support is not None and support.agency_id is not None
    lead = members["staff1"]
    _open_from_inbox(lead, number, support.title)
    fill_form(
        lead.page,
        "support_start",
        {"started_on": "2026-12-03", "roles_confirmed": "confirmed", "lead_worker": "保健 支援 里美"},
    )
    lead.page.click(COMPLETE)
    lead.page.wait_for_selector(".flash-success")
    with read() as s:
        case = s.get(Case, case_id)
        assert case.stage == "support" and case.status == "active" and case.next_timer_at is not None
    coord = members["coord1"]
    page = coord.goto(f"/cases/{case_id}")
    assert page.locator(".facts dd", has_text="支援中").count() == 1
    timeline = page.locator("ol.timeline li")
    assert timeline.count() == len(STEPS) + 1
    assert page.locator("svg.bpmn-diagram .mark-completed[data-element-id='plan_consent']").count() == 1
    assert page.locator("svg.bpmn-diagram .mark-completed[data-element-id='support_start']").count() == 1
