"""通知 for staff: own notices only, unread count, mark read, open, the e-mail contact."""

from __future__ import annotations

from datetime import datetime

import pytest

from engine import notifications
from engine.clock import TOKYO
from engine.errors import Invalid, NotFound
from engine.scheduling import dispatch, escalation
from tests.support import factories
from tests.support.referral10 import referral_files


@pytest.fixture
def world(engine, write, session_factory, frozen_clock):
    frozen_clock.set(datetime(2026, 11, 18, 10, tzinfo=TOKYO))
    with write() as s:
        people = {
            "win": factories.actor(s, "window", "AG-WIN", "win"),
            "sup": factories.actor(s, "supervisor", "AG-WIN", "sup", roles=["supervisor"]),
            "other": factories.actor(s, "window", "AG-OTHER", "other"),
        }
        factories.deploy(engine, s, referral_files(due="4BD"))
    with write() as s:
        task_id = factories.start(engine, s, people["win"]).open_tasks[0].id
    frozen_clock.set(datetime(2026, 11, 26, 9, tzinfo=TOKYO))  # reminder is skipped: already overdue
    escalation.sweep(engine, session_factory)
    dispatch.sweep(engine, session_factory)
    return people, task_id


def test_each_user_sees_only_their_own(world, read):
    people, task_id = world
    with read() as s:
        mine = notifications.list_notifications(s, people["sup"])
        assert [(n.kind, n.level, n.task_id, n.read) for n in mine] == [("overdue", 1, task_id, False)]
        assert mine[0].task_title == "窓口での対応" and mine[0].case_number and mine[0].task_open
        assert notifications.list_notifications(s, people["other"]) == []
        assert set(mine[0].as_json()) == {"id", "kind", "level", "task_id", "case_id", "created_at", "read"}


def test_unread_count_and_mark_read(world, write, read):
    people, _ = world
    with read() as s:
        assert notifications.unread_count(s, people["win"]) == 1
    with write() as s:
        assert notifications.mark_read(s, people["win"]) == 1
        assert notifications.mark_read(s, people["win"]) == 0
    with read() as s:
        assert notifications.unread_count(s, people["win"]) == 0
        assert notifications.unread_count(s, people["sup"]) == 1
        assert notifications.list_notifications(s, people["win"], unread_only=True) == []


def test_open_marks_read_and_someone_elses_is_not_found(world, write, read):
    people, task_id = world
    with read() as s:
        note_id = notifications.list_notifications(s, people["sup"])[0].id
    with pytest.raises(NotFound), write() as s:
        notifications.open_notification(s, people["win"], note_id)
    with write() as s:
        view = notifications.open_notification(s, people["sup"], note_id)
    assert view.read and view.task_id == task_id
    with read() as s:
        assert notifications.unread_count(s, people["sup"]) == 0


def test_contact_is_validated_set_and_removed(world, write, read):
    people, _ = world
    with pytest.raises(Invalid), write() as s:
        notifications.set_contact(s, people["win"], "not an address")
    with write() as s:
        notifications.set_contact(s, people["win"], "win@example.jp")
    with read() as s:
        assert notifications.get_contact(s, people["win"]).email == "win@example.jp"
    with write() as s:
        notifications.set_contact(s, people["win"], "")
    with read() as s:
        assert notifications.get_contact(s, people["win"]) is None
