"""通知 page, unread badge and API: counts, opening marks read, mark all read, e-mail contact."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import select

from engine.clock import TOKYO
from engine.models import NotificationContact
from engine.scheduling import dispatch, escalation
from tests.support import factories
from tests.web.conftest import csrf, start_case


@pytest.fixture
def notified(world, write, db, frozen_clock):
    with write() as s:
        world.people["sup"] = factories.actor(
            s, "supervisor", "AG-WIN", "sup", roles=["supervisor", "window"]
        )
    frozen_clock.set(datetime(2026, 11, 18, 10, tzinfo=TOKYO))
    started = start_case(world)
    frozen_clock.set(datetime(2026, 12, 1, 9, tzinfo=TOKYO))
    from engine.db import make_session_factory

    sessions = make_session_factory(db.engine)
    engine = world.engine()
    escalation.sweep(engine, sessions)
    dispatch.sweep(engine, sessions)
    return started


def test_badge_shows_unread_and_opening_goes_to_the_task(as_user, notified):
    client = as_user("sup")
    page = client.get("/notifications/").get_data(as_text=True)
    assert 'id="unread-badge">2<' in page  # levels 1 and 2 (7 days over)
    assert "期限超過（上長へ通知）" in page and notified.case_number in page
    note_id = client.get("/api/v1/notifications").get_json()[0]["id"]
    response = client.get(f"/notifications/{note_id}")
    assert response.status_code == 302 and response.location.endswith(f"/tasks/{notified.open_tasks[0].id}")
    assert 'id="unread-badge">1<' in client.get("/notifications/").get_data(as_text=True)


def test_api_lists_own_notifications_in_the_documented_shape(as_user, notified):
    rows = as_user("win").get("/api/v1/notifications").get_json()
    assert [(r["kind"], r["level"], r["read"]) for r in rows] == [("overdue", 1, False)]
    assert set(rows[0]) == {"id", "kind", "level", "task_id", "case_id", "created_at", "read"}
    assert as_user("other").get("/api/v1/notifications").get_json() == []


def test_api_mark_read(as_user, notified):
    client = as_user("win")
    token = csrf(client, "/notifications/")
    response = client.post("/api/v1/notifications/read", json={}, headers={"X-CSRFToken": token})
    assert response.get_json() == {"changed": 1}
    assert client.get("/api/v1/notifications?unread=1").get_json() == []
    bad = client.post("/api/v1/notifications/read", json={"ids": "all"}, headers={"X-CSRFToken": token})
    assert bad.status_code == 422


def test_mark_all_read_from_the_page_removes_the_badge(as_user, notified):
    client = as_user("sup")
    token = csrf(client, "/notifications/")
    client.post("/notifications/read", data={"csrf_token": token})
    assert "unread-badge" not in client.get("/notifications/").get_data(as_text=True)


def test_contact_address_is_saved_or_refused(world, as_user, notified, read):
    client = as_user("sup")
    token = csrf(client, "/notifications/")
    refused = client.post("/notifications/contact", data={"csrf_token": token, "email": "nope"})
    assert refused.status_code == 422 and "メールアドレスの形式が正しくありません" in refused.get_data(
        as_text=True
    )
    client.post("/notifications/contact", data={"csrf_token": token, "email": "sup@example.jp"})
    with read() as s:
        assert (
            s.scalar(
                select(NotificationContact.email).where(
                    NotificationContact.user_id == world.people["sup"].user_id
                )
            )
            == "sup@example.jp"
        )
