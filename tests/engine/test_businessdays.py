"""Business days (営業日) in Asia/Tokyo: weekends, national holidays, 年末年始 and other closure days."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine.businessdays import BusinessCalendar
from engine.clock import TOKYO

CAL = BusinessCalendar(("12-29..01-03",))


def jst(*args: int) -> datetime:
    return datetime(*args, tzinfo=TOKYO)


def end_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, 23, 59, 59, tzinfo=TOKYO).astimezone(UTC)


@pytest.mark.parametrize(("day", "business"), [
    (date(2026, 11, 24), True),    # 火
    (date(2026, 11, 28), False),   # 土
    (date(2026, 11, 29), False),   # 日
    (date(2026, 11, 23), False),   # 勤労感謝の日 (月)
    (date(2026, 11, 3), False),    # 文化の日
    (date(2026, 5, 6), False),     # 振替休日
    (date(2026, 9, 22), False),    # 国民の休日
    (date(2026, 12, 28), True),    # 仕事納め
    (date(2026, 12, 29), False),   # 年末年始 closure
    (date(2026, 12, 31), False),
    (date(2027, 1, 1), False),     # 元日 and closure
    (date(2027, 1, 3), False),
    (date(2027, 1, 4), True),      # 仕事始め
    (date(2027, 1, 11), False),    # 成人の日
])
def test_is_business_day(day, business):
    assert CAL.is_business_day(day) is business


@pytest.mark.parametrize(("start", "days", "due"), [
    (jst(2026, 11, 24, 10), 1, date(2026, 11, 25)),
    (jst(2026, 11, 24, 10), 3, date(2026, 11, 27)),
    (jst(2026, 11, 27, 16), 2, date(2026, 12, 1)),    # Friday afternoon + 2BD = Tuesday
    (jst(2026, 11, 20, 9), 1, date(2026, 11, 24)),    # over the weekend and 勤労感謝の日
    (jst(2026, 4, 30, 9), 1, date(2026, 5, 1)),
    (jst(2026, 4, 30, 9), 2, date(2026, 5, 7)),       # Golden Week
    (jst(2026, 12, 28, 10), 1, date(2027, 1, 4)),     # over 年末年始
    (jst(2026, 12, 28, 10), 3, date(2027, 1, 6)),
    (jst(2026, 12, 30, 10), 1, date(2027, 1, 4)),     # starting inside the closure: the first business day
    (jst(2026, 12, 30, 10), 2, date(2027, 1, 5)),
    (jst(2026, 11, 24, 10), 0, date(2026, 11, 24)),   # 0BD: end of today
    (jst(2026, 11, 28, 10), 0, date(2026, 11, 30)),   # 0BD on a Saturday: end of Monday
])
def test_add_business_days_is_the_end_of_the_nth_business_day(start, days, due):
    assert CAL.add_business_days(start, days) == end_of(due)


def test_asia_tokyo_decides_the_day_not_utc():
    # Friday 15:30 UTC is already Saturday 00:30 in Tokyo: 0BD is Monday (Friday would be the UTC answer).
    friday_utc = datetime(2026, 11, 27, 15, 30, tzinfo=UTC)
    assert CAL.add_business_days(friday_utc, 0) == end_of(date(2026, 11, 30))
    assert CAL.add_business_days(datetime(2026, 11, 27, 14, 30, tzinfo=UTC), 0) == end_of(date(2026, 11, 27))
    assert CAL.add_business_days(friday_utc, 1) == end_of(date(2026, 11, 30))
    # Thursday 14:59 UTC is Thursday 23:59 in Tokyo: +1 is Friday.
    assert CAL.add_business_days(datetime(2026, 11, 26, 14, 59, tzinfo=UTC), 1) == end_of(date(2026, 11, 27))
    assert CAL.add_business_days(friday_utc, 1).tzinfo == UTC


def test_subtract_business_days_keeps_the_local_time():
    due = jst(2026, 12, 1, 17)
    assert CAL.subtract_business_days(due, 2) == jst(2026, 11, 27, 17).astimezone(UTC)
    assert CAL.subtract_business_days(jst(2027, 1, 5, 9), 2) == jst(2026, 12, 28, 9).astimezone(UTC)
    assert CAL.subtract_business_days(due, 0) == due.astimezone(UTC)


def test_business_days_between():
    assert CAL.business_days_between(jst(2026, 11, 24, 9), jst(2026, 11, 27, 18)) == 3
    assert CAL.business_days_between(jst(2026, 12, 25, 9), jst(2027, 1, 5, 9)) == 3   # 28, 4, 5
    assert CAL.business_days_between(jst(2026, 11, 27, 9), jst(2026, 11, 24, 9)) == 0


@pytest.mark.parametrize(("closures", "day", "business"), [
    ((), date(2026, 12, 30), True),                    # no closure configured
    (("12-29..01-03",), date(2026, 12, 30), False),
    (("08-13..08-15",), date(2026, 8, 14), False),     # お盆, not wrapping
    (("08-13..08-15",), date(2026, 8, 17), True),
    (("06-01",), date(2026, 6, 1), False),             # a single day (創立記念日)
    (("12-31..01-01", "05-01"), date(2027, 5, 1), False),
    (("02-29",), date(2028, 2, 29), False),
])
def test_closure_days_are_configurable(closures, day, business):
    assert BusinessCalendar(closures).is_business_day(day) is business


@pytest.mark.parametrize("bad", ["12/29", "13-01", "02-30", "12-29..", "x", "12-29...01-03"])
def test_bad_closure_days_are_named(bad):
    with pytest.raises(ValueError) as info:
        BusinessCalendar((bad,))
    assert repr(bad) in str(info.value) and "MM-DD" in str(info.value)
