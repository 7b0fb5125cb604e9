"""Forms in a real browser: table rows added and removed by web/static/js/form-rows.js (names
renumbered, focus moved, values posted in order), and a whole step done with JavaScript switched off."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine.models import FormRecord, HumanTask
from tests.browser.conftest import fill_form
from tests.web.pathway import INTAKE, PASSWORD, RESOLVE

pytestmark = pytest.mark.browser


def test_rows_are_added_and_removed_in_the_page(staff, read):
    window = staff("window1")
    page = window.goto("/intake")
    rows = page.locator("[data-table='household'] tbody[data-rows] > tr")
    assert rows.count() == 1
    page.click("[data-table='household'] [data-add-row]")
    page.click("[data-table='household'] [data-add-row]")
    assert rows.count() == 3
    assert page.evaluate("document.activeElement.name") == "household.2.name"  # focus on the new row
    page.fill("[name='household.0.name']", "一人目")
    page.fill("[name='household.1.name']", "二人目")
    page.fill("[name='household.1.relation']", "長男")
    page.fill("[name='household.2.name']", "三人目")
    page.fill("[name='household.2.relation']", "次男")
    rows.nth(0).locator("[data-remove-row]").click()
    assert rows.count() == 2
    assert page.input_value("[name='household.0.name']") == "二人目"  # renumbered
    assert page.locator("#f-household-1-relation").count() == 1
    assert "残り2行です" in page.locator("[data-live]").inner_text()
    intake = {k: v for k, v in INTAKE.items() if k != "household"}
    fill_form(page, "intake", intake)
    page.click(".form-actions button[value=complete]")
    page.wait_for_selector("h1:has-text('窓口での対応')")
    with read() as s:
        record = s.scalar(select(FormRecord).where(FormRecord.form_key == "intake"))
    assert [r["name"] for r in record.data["household"]] == ["二人目", "三人目"]
    assert [r["relation"] for r in record.data["household"]] == ["長男", "次男"]


def test_a_step_works_without_javascript(browser, live, read):
    context = browser.new_context(viewport={"width": 1366, "height": 768}, java_script_enabled=False,
                                  locale="ja-JP", timezone_id="Asia/Tokyo")
    page = context.new_page()
    try:
        page.goto(f"{live}/login")
        page.fill("#username", "window1")
        page.fill("#password", PASSWORD)
        page.click("form.stack button[type=submit]")
        page.goto(f"{live}/intake")
        page.click("[data-table='household'] [data-add-row]")  # a round trip to the server instead
        assert page.locator("[data-table='household'] tbody[data-rows] > tr").count() == 2
        fill_form(page, "intake", INTAKE)
        page.click(".form-actions button[value=complete]")
        page.wait_for_selector("h1:has-text('窓口での対応')")
        fill_form(page, "window_response", RESOLVE)
        page.click(".form-actions button[value=complete]")
        page.wait_for_selector(".flash-success")
        assert "終了しました" in page.locator(".flash-success").inner_text()
    finally:
        context.close()
    with read() as s:
        status = s.scalar(select(HumanTask.status).where(HumanTask.element_id == "window_response"))
        assert status == "completed"
        record = s.scalar(select(FormRecord).where(FormRecord.form_key == "intake"))
    assert record.data["household"] == [{"name": "山田 一郎", "relation": "夫", "age": 82}]
