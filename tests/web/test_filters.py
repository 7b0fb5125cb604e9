"""web.filters: Asia/Tokyo dates with the weekday, 超過日数, and Japanese labels."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from web import filters


def test_dates_are_shown_in_tokyo_with_the_weekday():
    value = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)  # 11/25 00:30 JST (水)
    assert filters.jp_datetime(value) == "2026/11/25(水) 00:30"
    assert filters.jp_date(value.replace(tzinfo=None)) == "2026/11/25(水)"  # naive = UTC (SQLite)
    assert filters.jp_datetime(None) == "—"


def test_overdue_days(frozen_clock):
    now = frozen_clock.now()
    assert filters.overdue_days(now + timedelta(hours=1)) == 0
    assert filters.overdue_days(now - timedelta(hours=1)) == 1
    assert filters.overdue_days(now - timedelta(days=3, hours=1)) == 4
    assert filters.overdue_days(None) == 0


def test_labels(app):
    env = app.jinja_env
    assert env.filters["status_label"]("waiting_consent") == "同意待ち"
    assert env.filters["stage_label"]("assessment") == "アセスメント中"
    assert env.filters["stage_label"]("brand_new_stage") == "brand_new_stage"
    assert env.filters["role_label"]("csw") == "CSW"
    assert env.filters["consent_label"]("withdrawn") == "同意撤回"
