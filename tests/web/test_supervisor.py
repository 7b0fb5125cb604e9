"""進捗管理 pages and API: overdue list with 超過日数, scope, bulk 担当者変更, CSV, diagram counts, and the
scheduler end to end on a real ``tsunagu serve`` with ``TSUNAGU_DUE_OVERRIDES='{"*": "PT2S"}'``."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import datetime

import pytest
from sqlalchemy import func, select

from engine import users
from engine.clock import TOKYO
from engine.models import AuditEvent, HumanTask, Notification
from tests.support import factories
from tests.support.live_server import gunicorn
from tests.support.referral10 import FORMS_DIR
from tests.web.conftest import csrf, start_case

CREATED = datetime(2026, 11, 18, 10, tzinfo=TOKYO)
LATE = datetime(2026, 12, 1, 9, tzinfo=TOKYO)  # 3BD due 11/24 → 7 days over


@pytest.fixture
def sup(world, write):
    with write() as s:
        world.people["sup"] = factories.actor(
            s, "supervisor", "AG-WIN", "sup", roles=["supervisor", "window"]
        )
    return world.people["sup"]


@pytest.fixture
def late_case(world, sup, frozen_clock):
    frozen_clock.set(CREATED)
    started = start_case(world)
    frozen_clock.set(LATE)
    return started


def test_overdue_page_lists_the_task_with_overdue_days(as_user, late_case):
    page = as_user("sup").get("/supervisor/").get_data(as_text=True)
    assert late_case.case_number in page and "窓口での対応" in page
    assert f'data-task-id="{late_case.open_tasks[0].id}"' in page and "7日" in page
    assert 'id="count-overdue" class="overdue">1件' in page


def test_supervisor_link_only_for_supervisors(as_user, late_case):
    assert "進捗管理</a>" in as_user("sup").get("/").get_data(as_text=True)
    assert "進捗管理</a>" not in as_user("win").get("/").get_data(as_text=True)
    assert as_user("win").get("/supervisor/").status_code == 403


def test_overdue_api_has_exactly_the_documented_fields(as_user, late_case):
    response = as_user("sup").get("/api/v1/supervisor/overdue")
    assert response.status_code == 200
    [row] = response.get_json()
    assert set(row) == {
        "task_id",
        "case_id",
        "case_number",
        "element_id",
        "title",
        "agency",
        "assignee",
        "due_at",
        "overdue_days",
    }
    assert (row["task_id"], row["case_number"], row["overdue_days"], row["assignee"]) == (
        late_case.open_tasks[0].id,
        late_case.case_number,
        7,
        "テスト win",
    )
    assert as_user("win").get("/api/v1/supervisor/overdue").status_code == 403
    assert as_user("other").get("/api/v1/supervisor/summary").status_code == 403


def test_summary_api_counts(as_user, late_case):
    body = as_user("sup").get("/api/v1/supervisor/summary").get_json()
    assert (body["waiting"], body["overdue"]) == (1, 1)
    assert body["by_step"][0]["element_id"] == "window_response"


def test_bulk_reassign_changes_the_assignee(world, as_user, late_case, read):
    client = as_user("sup")
    token = csrf(client, "/supervisor/")
    task_id = late_case.open_tasks[0].id
    response = client.post(
        "/supervisor/reassign",
        data={"csrf_token": token, "task_id": [str(task_id)], "assignee": "win2", "view": "overdue"},
    )
    assert response.status_code == 302
    with read() as s:
        assert s.get(HumanTask, task_id).assignee_id == world.people["win2"].user_id
        events = s.scalars(select(AuditEvent).where(AuditEvent.action == "task.reassign")).all()
        assert [e.task_id for e in events] == [task_id]  # one audit event per task reassigned
    assert "1件のタスクを新しい担当者に変更しました" in client.get(response.location).get_data(as_text=True)


def test_csv_export_is_excel_ready_and_audited(as_user, late_case, read):
    response = as_user("sup").get("/supervisor/export.csv?view=overdue")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    assert response.data.startswith(b"\xef\xbb\xbf") and late_case.case_number.encode() in response.data
    with read() as s:
        assert (
            s.scalar(
                select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "supervisor.export")
            )
            == 1
        )


def test_steps_view_shows_counts_on_the_diagram(as_user, late_case):
    page = as_user("sup").get("/supervisor/?view=steps").get_data(as_text=True)
    assert "<svg" in page and "待 1 / 超 1" in page
    assert 'data-element-id="window_response"' in page


def _get(url: str, token: str) -> tuple[int, object]:
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"})  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
        return response.status, json.loads(response.read())


@pytest.mark.slow
def test_serve_with_pt2s_due_overrides_shows_overdue_and_notifies_once(world, sup, db, write, read):
    with write() as s:
        sup_token = users.create_api_token(s, "sup")
        win_token = users.create_api_token(s, "win")
    env = dict(
        TSUNAGU_DATABASE_URL=db.url,
        TSUNAGU_FORMS_DIR=str(FORMS_DIR),
        TSUNAGU_SECRET_KEY="serve-test",
        TSUNAGU_DUE_OVERRIDES='{"*": "PT2S"}',
        TSUNAGU_SCHEDULER_INTERVAL_SECONDS="3",
    )
    with gunicorn(env, scheduler=True) as url:
        body = json.dumps({"subject_name": "試験 花子", "urgency": "low", "narrative": "相談"}).encode()
        request = urllib.request.Request(
            f"{url}/api/v1/cases",
            data=body,
            method="POST",  # noqa: S310
            headers={"Authorization": f"Bearer {win_token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - loopback
            started = json.loads(response.read())
        task_id = started["open_tasks"][0]["id"]
        deadline, seen, notes = time.monotonic() + 45, False, []
        while time.monotonic() < deadline:
            _, overdue = _get(f"{url}/api/v1/supervisor/overdue", sup_token)
            seen = seen or any(r["task_id"] == task_id for r in overdue)
            _, notes = _get(f"{url}/api/v1/notifications", sup_token)
            if seen and notes:
                break
            time.sleep(0.5)
        assert seen, "task not in /api/v1/supervisor/overdue within 45 s"
        mine = [n for n in notes if n["task_id"] == task_id and n["kind"] == "overdue" and n["level"] == 1]
        assert len(mine) == 1, notes
        time.sleep(7)  # two more sweeps
        _, notes = _get(f"{url}/api/v1/notifications", sup_token)
        assert (
            len([n for n in notes if n["task_id"] == task_id and n["kind"] == "overdue" and n["level"] == 1])
            == 1
        )
    with read() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(Notification)
                .where(
                    Notification.user_id == sup.user_id,
                    Notification.task_id == task_id,
                    Notification.level == 1,
                )
            )
            == 1
        )
