"""Browser fixtures: the app with the real processes/ and forms/ served on a free loopback port, and
Debian's chromium driven headless by Playwright at the 1366×768 of an office screen."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from engine.formdefs import load_forms
from engine.settings import ROOT
from tests.support.live_server import threaded
from tests.web.pathway import PASSWORD, make_real_app

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--lang=ja-JP",  # date inputs in Japanese order (年/月/日), as on the office PCs
]
SCREENSHOTS = ROOT / "docs" / "screenshots"
FORMS, _ = load_forms(ROOT / "forms")


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


@pytest.fixture
def live_app(db) -> Any:  # type: ignore[no-untyped-def]
    return make_real_app(db)


@pytest.fixture
def live(live_app) -> Iterator[str]:  # type: ignore[no-untyped-def]
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with threaded(live_app) as url:
        yield url


class Staff:
    """One logged-in member of staff in their own browser context."""

    def __init__(self, browser: Any, base: str, username: str) -> None:
        self.base = base
        self.context = browser.new_context(
            viewport={"width": 1366, "height": 768}, locale="ja-JP", timezone_id="Asia/Tokyo"
        )
        self.page = self.context.new_page()
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", self._console)
        self.page.goto(f"{base}/login")
        self.page.fill("#username", username)
        self.page.fill("#password", PASSWORD)
        self.page.click("form.stack button[type=submit]")
        self.page.wait_for_url(f"{base}/")

    def _console(self, message: Any) -> None:
        # A 422 (validation) or 409 (conflict) page is an answer the test asked for, not a failure.
        if message.type == "error" and not re.search(r"status of (422|409) ", message.text):
            self.errors.append(message.text)

    def goto(self, path: str) -> Any:
        self.page.goto(f"{self.base}{path}")
        return self.page

    def shot(self, name: str, full_page: bool = False) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=full_page)
        return path

    def close(self) -> None:
        self.context.close()


@pytest.fixture
def staff(browser, live):  # type: ignore[no-untyped-def]
    opened: list[Staff] = []

    def login(username: str) -> Staff:
        member = Staff(browser, live, username)
        opened.append(member)
        return member

    yield login
    for member in opened:
        assert not member.errors, member.errors  # no script errors, no failed loads, on any page
        member.close()


def fill_form(page: Any, form_key: str, data: dict[str, Any]) -> None:
    """Type ``data`` into the form rendered from ``forms/<form_key>.yaml`` as a person would."""
    form = FORMS.get(form_key)
    assert form is not None, form_key
    for name, value in data.items():
        field = form.field(name)
        assert field is not None, (form_key, name)
        if field.type == "table":
            for i, row in enumerate(value):
                rows = page.locator(f"[data-table='{name}'] tbody[data-rows] > tr")
                if rows.count() <= i:
                    page.click(f"[data-table='{name}'] [data-add-row]")
                for col_name, col_value in row.items():
                    column = next(c for c in field.columns if c.name == col_name)
                    _fill(page, column, f"{name}.{i}.{col_name}", col_value)
        else:
            _fill(page, field, name, value)


def _fill(page: Any, field: Any, name: str, value: Any) -> None:
    sel = f"[name='{name}']"
    if field.type == "boolean":
        page.locator(sel).set_checked(bool(value))
    elif field.type in ("multichoice",) or (field.type in ("agency", "user") and field.multiple):
        for v in value:
            page.check(f"input[name='{name}'][value='{v}']")
    elif field.type == "choice" and page.locator(f"input[type=radio]{sel}").count():
        page.check(f"input[name='{name}'][value='{value}']")
    elif field.type in ("choice", "agency", "user"):
        page.select_option(f"select{sel}", str(value))
    else:
        page.fill(sel, str(value))
