"""Reminders and escalations at business-day boundaries (weekend, holiday, 年末年始), exactly once."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import func, select

from engine import tasks
from engine.clock import TOKYO
from engine.models import Escalation, OutboxMessage
from engine.scheduling import escalation
from tests.support import factories
from tests.support.referral10 import referral_files


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


@pytest.fixture
def people(write):
    with write() as s:
        return {
            "win": factories.actor(s, "window", "AG-WIN", "win"),
            "sup": factories.actor(s, "supervisor", "AG-WIN", "sup", roles=["supervisor"]),
        }


def start_case(engine, write, people, due: str) -> int:
    with write() as s:
        factories.deploy(engine, s, referral_files(due=due))
    with write() as s:
        return factories.start(engine, s, people["win"]).open_tasks[0].id


def levels(read, task_id: int) -> set[int]:
    with read() as s:
        return set(s.scalars(select(Escalation.level).where(Escalation.task_id == task_id)))


def sweep_at(engine, session_factory, frozen_clock, when: datetime) -> dict[int, int]:
    frozen_clock.set(when)
    return escalation.sweep(engine, session_factory)


# (created, due notation, [(instant, levels recorded by then)])
CALENDARS = {
    # 水 11/18 + 4BD: 木19 金20 (土日, 月23 勤労感謝の日) 火24 水25 → due 11/25 23:59:59
    "weekend_and_holiday": (
        jst(2026, 11, 18, 10),
        "4BD",
        [
            (jst(2026, 11, 19, 23, 59, 59), set()),
            (jst(2026, 11, 20, 0, 0, 0), {0}),  # 期限間近: due within 2 business days (金, 火)
            (jst(2026, 11, 25, 23, 59, 59), {0}),  # due this very second: not overdue yet
            (jst(2026, 11, 26, 0, 0, 0), {0, 1}),  # 期限超過
            (
                jst(2026, 11, 30, 23, 59, 59),
                {0, 1},
            ),  # overdue 木 金 (土日) 月: three business days not yet over
            (jst(2026, 12, 1, 0, 0, 0), {0, 1, 2}),  # second level
        ],
    ),
    # 火 12/22 + 5BD: 23 24 25 28 (12/29–1/3 年末年始) 1/4 → due 2027-01-04 23:59:59
    "year_end": (
        jst(2026, 12, 22, 10),
        "5BD",
        [
            (jst(2026, 12, 24, 23, 59, 59), set()),
            (jst(2026, 12, 25, 0, 0, 0), {0}),
            (jst(2027, 1, 2, 12, 0, 0), {0}),
            (jst(2027, 1, 4, 23, 59, 59), {0}),
            (jst(2027, 1, 5, 0, 0, 1), {0, 1}),
            (jst(2027, 1, 7, 23, 59, 59), {0, 1}),
            (jst(2027, 1, 8, 0, 0, 0), {0, 1, 2}),
        ],
    ),
}


@pytest.mark.parametrize("name", sorted(CALENDARS))
def test_levels_appear_at_business_day_boundaries(
    name, engine, write, read, session_factory, people, frozen_clock
):
    created, due, steps = CALENDARS[name]
    frozen_clock.set(created)
    task_id = start_case(engine, write, people, due)
    for instant, expected in steps:
        sweep_at(engine, session_factory, frozen_clock, instant)
        assert levels(read, task_id) == expected, instant.isoformat()


def test_each_level_is_recorded_once_with_one_outbox_row(
    engine, write, read, session_factory, people, frozen_clock
):
    frozen_clock.set(jst(2026, 11, 18, 10))
    task_id = start_case(engine, write, people, "4BD")
    first = sweep_at(engine, session_factory, frozen_clock, jst(2026, 12, 10, 9))
    again = sweep_at(engine, session_factory, frozen_clock, jst(2026, 12, 11, 9))
    assert first == {0: 0, 1: 1, 2: 1} and again == {0: 0, 1: 0, 2: 0}
    with read() as s:
        assert levels(read, task_id) == {1, 2}  # found overdue: no late reminder
        assert s.scalar(select(func.count()).select_from(OutboxMessage)) == 2


def test_completed_task_is_not_escalated(engine, write, read, session_factory, people, frozen_clock):
    frozen_clock.set(jst(2026, 11, 18, 10))
    task_id = start_case(engine, write, people, "4BD")
    with write() as s:
        tasks.complete(engine, s, people["win"], task_id, {"action": "resolved"})
    sweep_at(engine, session_factory, frozen_clock, jst(2026, 12, 10, 9))
    assert levels(read, task_id) == set()


def test_second_level_can_be_switched_off(engine, write, read, session_factory, people, frozen_clock):
    engine.settings = engine.settings.replace(escalation_second_level_days=0)
    frozen_clock.set(jst(2026, 11, 18, 10))
    task_id = start_case(engine, write, people, "4BD")
    sweep_at(engine, session_factory, frozen_clock, jst(2027, 2, 1, 9))
    assert levels(read, task_id) == {1}


def test_thresholds_follow_the_reminder_lead_setting(engine):
    now = jst(2026, 11, 20, 9)
    engine.settings = engine.settings.replace(reminder_lead="PT1H")
    t = escalation.thresholds(engine, now)
    assert (t.reminder_until - now).total_seconds() == 3600
