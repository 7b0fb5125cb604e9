"""The due/timer notation: ISO 8601 durations, business days, date-times and cycles."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.businessdays import BusinessCalendar
from engine.clock import TOKYO
from engine.durations import (
    Duration,
    NotationError,
    deadline,
    is_literal,
    parse_cycle,
    parse_datetime,
    parse_duration,
)

CAL = BusinessCalendar(("12-29..01-03",))
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 火 10:00 JST


@pytest.mark.parametrize(("text", "expected"), [
    ("P3D", Duration(days=3)),
    ("PT2H", Duration(hours=2)),
    ("PT30M", Duration(minutes=30)),
    ("PT2S", Duration(seconds=2.0)),
    ("PT0.5S", Duration(seconds=0.5)),
    ("P1M", Duration(months=1)),
    ("P2W", Duration(weeks=2)),
    ("P1Y2M3DT4H5M6S", Duration(years=1, months=2, days=3, hours=4, minutes=5, seconds=6.0)),
    ("p3d", Duration(days=3)),
    (" P3D ", Duration(days=3)),
    ("3BD", Duration(business_days=3)),
    ("3bd", Duration(business_days=3)),
    ("3 BD", Duration(business_days=3)),
    ("3営業日", Duration(business_days=3)),
    ("0BD", Duration(business_days=0)),
])
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected
    assert is_literal(text)


@pytest.mark.parametrize("text", ["P", "PT", "P1DT", "3D", "PT1.5H", "1000BD", "P-1D", "BD", "3 days", "",
                                  "P21Y", "P300M", "P8000D", "PT200000H", "P99999999999999999999Y", "'P3D'"])
def test_not_a_duration(text):
    with pytest.raises(NotationError):
        parse_duration(text)
    assert not is_literal(text)


def test_calendar_durations_count_in_tokyo():
    assert parse_duration("P3D").after(START, CAL) == datetime(2026, 11, 27, 1, 0, tzinfo=UTC)
    assert parse_duration("PT2H").after(START, CAL) == datetime(2026, 11, 24, 3, 0, tzinfo=UTC)
    # P1M from 31 January is the end of February (no 31 February)
    jan31 = datetime(2027, 1, 31, 9, tzinfo=TOKYO)
    assert parse_duration("P1M").after(jan31, CAL) == datetime(2027, 2, 28, 9, tzinfo=TOKYO).astimezone(UTC)
    assert parse_duration("P1Y").after(datetime(2028, 2, 29, 9, tzinfo=TOKYO), CAL) == \
        datetime(2029, 2, 28, 9, tzinfo=TOKYO).astimezone(UTC)
    # calendar days do not skip holidays or 年末年始
    next_day = parse_duration("P1D").after(datetime(2026, 12, 28, 10, tzinfo=TOKYO), CAL)
    assert next_day.astimezone(TOKYO).date() == date(2026, 12, 29)


def test_business_days_skip_weekends_holidays_and_closures():
    friday = datetime(2026, 11, 27, 16, tzinfo=TOKYO)
    assert deadline("2BD", friday, CAL) == datetime(2026, 12, 1, 23, 59, 59, tzinfo=TOKYO).astimezone(UTC)
    assert deadline("1BD", datetime(2026, 12, 28, 10, tzinfo=TOKYO), CAL).astimezone(TOKYO).date() == \
        date(2027, 1, 4)


@pytest.mark.parametrize(("text", "expected"), [
    ("2027-04-01T09:00:00+09:00", datetime(2027, 4, 1, 0, 0, tzinfo=UTC)),
    ("2027-04-01T09:00:00Z", datetime(2027, 4, 1, 9, 0, tzinfo=UTC)),
    ("2027-04-01T09:00", datetime(2027, 4, 1, 0, 0, tzinfo=UTC)),      # naive means Asia/Tokyo
    ("2027-04-01 09:00", datetime(2027, 4, 1, 0, 0, tzinfo=UTC)),
    ("2027-04-01", datetime(2027, 3, 31, 15, 0, tzinfo=UTC)),          # midnight in Tokyo
    ("2027-04-01T09:00:00.5+0900", datetime(2027, 4, 1, 0, 0, 0, 500000, tzinfo=UTC)),
])
def test_parse_datetime(text, expected):
    assert parse_datetime(text) == expected
    assert is_literal(text, "date")
    assert deadline(text, START, CAL) == expected


@pytest.mark.parametrize("text", ["2027-02-30", "2027-13-01T00:00", "tomorrow", "2027/04/01", "27-04-01", ""])
def test_not_a_datetime(text):
    with pytest.raises(NotationError):
        parse_datetime(text)
    with pytest.raises(NotationError):
        deadline(text, START, CAL)


@pytest.mark.parametrize(("text", "count", "period"), [
    ("R3/PT1H", 3, Duration(hours=1)),
    ("R/P1M", -1, Duration(months=1)),
    ("r2/p1d", 2, Duration(days=1)),
    ("R5/2BD", 5, Duration(business_days=2)),
])
def test_parse_cycle(text, count, period):
    assert parse_cycle(text) == (count, period)
    assert is_literal(text, "cycle")


@pytest.mark.parametrize("text", ["R3", "PT1H", "R3/", "R3/2026-04-01T09:00:00Z/P1D", "RX/P1D"])
def test_not_a_cycle(text):
    with pytest.raises(NotationError):
        parse_cycle(text)
    assert not is_literal(text, "cycle")


def test_error_messages_say_what_is_expected():
    with pytest.raises(NotationError) as info:
        parse_duration("3 days")
    assert "'3 days'" in str(info.value) and "P3D" in str(info.value) and "3BD" in str(info.value)
    with pytest.raises(NotationError) as info:
        parse_duration("P30Y")
    assert "20 years" in str(info.value)


def test_approx_seconds_orders_durations():
    assert parse_duration("PT1H").approx_seconds < parse_duration("P1D").approx_seconds \
        < parse_duration("2BD").approx_seconds < parse_duration("P1M").approx_seconds
