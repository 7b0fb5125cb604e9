"""Business days (営業日) in Asia/Tokyo: weekends, national holidays and closure days are skipped.

National holidays come from ``jpholiday``; closure days (年末年始 by default) come from settings as
``"MM-DD"`` or ``"MM-DD..MM-DD"`` ranges that may wrap the year end. The notation ``3BD`` (or
``3営業日``) means "by the end of the third business day after the start": a task created on a
Friday afternoon with due ``2BD`` is due at the end of the following Tuesday.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache

import jpholiday

from .clock import TOKYO

END_OF_DAY = time(23, 59, 59)


def _parse_md(text: str) -> tuple[int, int]:
    month, day = text.strip().split("-")
    m, d = int(month), int(day)
    date(2024, m, d)  # raises ValueError for impossible days (2024 is a leap year)
    return m, d


class BusinessCalendar:
    """Answers "is this a business day" and adds or subtracts business days."""

    def __init__(self, closure_days: tuple[str, ...] | list[str] = ()) -> None:
        self._ranges: list[tuple[tuple[int, int], tuple[int, int]]] = []
        for item in closure_days:
            try:
                if ".." in item:
                    first, last = item.split("..", 1)
                    self._ranges.append((_parse_md(first), _parse_md(last)))
                else:
                    md = _parse_md(item)
                    self._ranges.append((md, md))
            except ValueError as exc:
                raise ValueError(f"closure day {item!r}: expected MM-DD or MM-DD..MM-DD") from exc
        self.is_business_day = lru_cache(maxsize=4096)(self._is_business_day)

    def _is_closure(self, day: date) -> bool:
        md = (day.month, day.day)
        for first, last in self._ranges:
            if first <= last:
                if first <= md <= last:
                    return True
            elif md >= first or md <= last:  # wraps the year end
                return True
        return False

    def _is_business_day(self, day: date) -> bool:
        return day.weekday() < 5 and not jpholiday.is_holiday(day) and not self._is_closure(day)

    def add_business_days(self, start: datetime, days: int) -> datetime:
        """End of the ``days``-th business day after ``start`` (Asia/Tokyo), returned in UTC.

        ``days == 0`` means the end of the current day if it is a business day, else of the next one.
        """
        local = start.astimezone(TOKYO).date()
        if days == 0:
            while not self.is_business_day(local):
                local += timedelta(days=1)
        remaining = days
        while remaining > 0:
            local += timedelta(days=1)
            if self.is_business_day(local):
                remaining -= 1
        return datetime.combine(local, END_OF_DAY, TOKYO).astimezone(UTC)

    def subtract_business_days(self, end: datetime, days: int) -> datetime:
        """The same local time ``days`` business days before ``end`` (used for reminder lead times)."""
        local_dt = end.astimezone(TOKYO)
        day = local_dt.date()
        remaining = days
        while remaining > 0:
            day -= timedelta(days=1)
            if self.is_business_day(day):
                remaining -= 1
        return datetime.combine(day, local_dt.timetz()).astimezone(UTC)

    def business_days_between(self, start: datetime, end: datetime) -> int:
        """Business days strictly after ``start``'s day up to and including ``end``'s day."""
        a, b = start.astimezone(TOKYO).date(), end.astimezone(TOKYO).date()
        count = 0
        while a < b:
            a += timedelta(days=1)
            if self.is_business_day(a):
                count += 1
        return count
