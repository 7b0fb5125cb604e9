"""進捗管理 queries: overdue / due-soon by step, agency and worker; idle cases; counts; bulk reassign; CSV."""

from __future__ import annotations

import csv
import io
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine import supervision, tasks
from engine.clock import TOKYO
from engine.errors import NotAllowed
from engine.models import AuditEvent, HumanTask
from tests.support import factories
from tests.support.referral10 import referral_files

CREATED = datetime(2026, 11, 18, 10, tzinfo=TOKYO)  # 水; 4BD → due 11/25 (水) 23:59:59 (11/23 is a holiday)


@pytest.fixture
def world(engine, write, frozen_clock):
    frozen_clock.set(CREATED)
    with write() as s:
        people = {
            "win": factories.actor(s, "window", "AG-WIN", "win"),
            "win2": factories.actor(s, "window", "AG-WIN", "win2"),
            "other": factories.actor(s, "window", "AG-OTHER", "other"),
            "sup": factories.actor(s, "supervisor", "AG-WIN", "sup", roles=["supervisor"]),
            "osup": factories.actor(s, "supervisor", "AG-OTHER", "osup", roles=["supervisor"]),
            "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
        }
        factories.deploy(engine, s, referral_files(due="4BD"))
    with write() as s:
        mine = factories.start(engine, s, people["win"]).open_tasks[0].id
    with write() as s:
        theirs = factories.start(engine, s, people["other"]).open_tasks[0].id
    return people, mine, theirs


def test_overdue_flag_appears_at_the_business_day_boundary(world, engine, read, frozen_clock):
    people, mine, _ = world
    frozen_clock.set(datetime(2026, 11, 25, 23, 59, 59, tzinfo=TOKYO))
    with read() as s:
        assert supervision.task_list(engine, s, people["sup"], "overdue") == []
        assert [r.task_id for r in supervision.task_list(engine, s, people["sup"], "due_soon")] == [mine]
    frozen_clock.set(datetime(2026, 11, 26, 0, 0, 0, tzinfo=TOKYO))
    with read() as s:
        rows = supervision.task_list(engine, s, people["sup"], "overdue")
    assert [(r.task_id, r.overdue_days, r.assignee, r.title) for r in rows] == [
        (mine, 1, "テスト win", "窓口での対応")
    ]


def test_due_soon_starts_two_business_days_ahead_across_the_weekend_and_holiday(
    world, engine, read, frozen_clock
):
    people, mine, _ = world
    frozen_clock.set(datetime(2026, 11, 19, 23, 59, 59, tzinfo=TOKYO))  # 木: 金 + 火 → not yet
    with read() as s:
        assert supervision.task_list(engine, s, people["sup"], "due_soon") == []
    frozen_clock.set(datetime(2026, 11, 20, 0, 0, tzinfo=TOKYO))  # 金: 火 + 水 → due soon
    with read() as s:
        assert [r.task_id for r in supervision.task_list(engine, s, people["sup"], "due_soon")] == [mine]


def test_scope_supervisor_sees_own_agency_coordinator_sees_all(world, engine, read, frozen_clock):
    people, mine, theirs = world
    frozen_clock.set(datetime(2026, 12, 1, 9, tzinfo=TOKYO))
    with read() as s:
        assert {r.task_id for r in supervision.task_list(engine, s, people["sup"])} == {mine}
        assert {r.task_id for r in supervision.task_list(engine, s, people["osup"])} == {theirs}
        assert {r.task_id for r in supervision.task_list(engine, s, people["coord"])} == {mine, theirs}


def test_staff_without_the_role_are_refused(world, engine, read):
    people, _, _ = world
    with pytest.raises(NotAllowed), read() as s:
        supervision.summary(engine, s, people["win"])


def test_filters_and_assigned_versus_unassigned_time(world, engine, read, write, frozen_clock):
    people, mine, _ = world
    frozen_clock.set(CREATED + timedelta(hours=5))
    with write() as s:
        tasks.unclaim(s, people["win"], mine)
    frozen_clock.set(CREATED + timedelta(hours=8))
    with write() as s:
        tasks.claim(s, people["win2"], mine)
    frozen_clock.set(datetime(2026, 11, 26, 10, tzinfo=TOKYO))
    with read() as s:
        row = supervision.task_list(engine, s, people["sup"], assignee_id=people["win2"].user_id)[0]
        assert row.unassigned_hours == 8.0 and row.assigned_hours == round(
            (frozen_clock.now() - CREATED).total_seconds() / 3600 - 8, 1
        )
        assert supervision.task_list(engine, s, people["sup"], unassigned=True) == []
        assert supervision.task_list(engine, s, people["sup"], element_id="consent_check") == []


def test_summary_counts_by_step_agency_and_worker(world, engine, read, frozen_clock):
    people, _, _ = world
    frozen_clock.set(datetime(2026, 12, 1, 9, tzinfo=TOKYO))
    with read() as s:
        summary = supervision.summary(engine, s, people["coord"])
        counts = supervision.element_counts(engine, s, people["coord"])
    assert (summary["waiting"], summary["overdue"], summary["due_soon"]) == (2, 2, 0)
    assert summary["by_step"] == [
        {
            "process_id": "referral_test",
            "element_id": "window_response",
            "title": "窓口での対応",
            "waiting": 2,
            "overdue": 2,
            "due_soon": 0,
        }
    ]
    assert sorted(w["assignee"] for w in summary["by_worker"]) == ["テスト other", "テスト win"]
    assert counts == {"referral_test": {"window_response": {"waiting": 2, "overdue": 2, "due_soon": 0}}}


def test_idle_cases_after_inactivity_days(world, engine, read, frozen_clock):
    people, _, _ = world
    frozen_clock.set(CREATED + timedelta(days=29))
    with read() as s:
        assert supervision.idle_cases(engine, s, people["sup"]) == []
    frozen_clock.set(CREATED + timedelta(days=31))
    with read() as s:
        idle = supervision.idle_cases(engine, s, people["sup"])
        assert [c.idle_days for c in idle] == [31]
        assert len(supervision.idle_cases(engine, s, people["coord"])) == 2


def test_bulk_reassign_reports_failures_and_keeps_the_rest(world, engine, write, read):
    people, mine, theirs = world
    with write() as s:
        result = supervision.bulk_reassign(s, people["sup"], [mine, theirs], "win2")
    assert result == {"done": [mine], "failed": {theirs: "not_found"}}
    with read() as s:
        assert s.get(HumanTask, mine).assignee_id == people["win2"].user_id
        assert s.get(HumanTask, theirs).assignee_id == people["other"].user_id
        allowed = (
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "task.reassign", AuditEvent.allowed.is_(True))
        )
        assert s.scalar(allowed) == 1


def test_csv_has_bom_and_neutralises_formulas(world, engine, write, frozen_clock):
    people, mine, _ = world
    frozen_clock.set(datetime(2026, 12, 1, 9, tzinfo=TOKYO))
    with write() as s:
        s.get(HumanTask, mine).title = '=HYPERLINK("http://evil")'
    with write() as s:
        rows = supervision.task_list(engine, s, people["sup"])
        body = supervision.csv_export(s, people["sup"], rows)
    assert body.startswith(b"\xef\xbb\xbf")
    table = list(csv.reader(io.StringIO(body.decode("utf-8-sig"))))
    assert table[0] == supervision.CSV_HEADER
    assert table[1][2] == '\'=HYPERLINK("http://evil")' and table[1][7] == "6"


@pytest.mark.parametrize(
    "value, expected",
    [
        ("=1+1", "'=1+1"),
        ("+81", "'+81"),
        ("-x", "'-x"),
        ("@SUM", "'@SUM"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("普通", "普通"),
        (-3, "-3"),
        (None, ""),
    ],
)
def test_neutralise(value, expected):
    assert supervision.neutralise(value) == expected
