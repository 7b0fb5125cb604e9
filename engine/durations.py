"""The due-time and timer notation shared by BPMN timers, user-task due dates and configuration.

Accepted, unquoted, in ``timeDuration``/``timeDate``/``timeCycle``, in a task's ``due`` property,
in ``camunda:dueDate`` and in ``due_overrides``:

* ISO 8601 durations: ``P3D``, ``PT2H``, ``P1M``, ``P2W``, ``PT2S`` (calendar time);
* business days: ``3BD`` or ``3営業日`` (end of the third business day, see :mod:`engine.businessdays`);
* ISO 8601 date-times: ``2027-04-01T09:00:00+09:00`` (a naive value means Asia/Tokyo);
* for cycles only: ``R3/PT1H``, ``R/P1M``, ``R5/2BD`` (repeat; empty count repeats without end).

Anything else in a timer is treated as an expression (see :mod:`engine.expressions`) that must
evaluate to one of the above, e.g. ``plan.evaluation_date`` or ``"P" + str(plan.months) + "M"``.
"""

from __future__ import annotations

import re
from calendar import monthrange
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from .businessdays import BusinessCalendar
from .clock import TOKYO

_ISO_DURATION = re.compile(
    r"^P(?!$)(?:(?P<years>\d+)Y)?(?:(?P<months>\d+)M)?(?:(?P<weeks>\d+)W)?(?:(?P<days>\d+)D)?"
    r"(?:T(?=\d)(?:(?P<hours>\d+)H)?(?:(?P<minutes>\d+)M)?(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$"
)
_BUSINESS_DAYS = re.compile(r"^(?P<n>\d{1,3})\s*(?:BD|営業日)$", re.IGNORECASE)
_CYCLE = re.compile(r"^R(?P<count>\d*)/(?P<period>P[^/]+|\d{1,3}\s*(?:BD|営業日))$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?(Z|[+-]\d{2}:?\d{2})?$")

MAX_YEARS = 20


class NotationError(ValueError):
    """The text is not in the due/timer notation."""


@dataclass(frozen=True)
class Duration:
    years: int = 0
    months: int = 0
    weeks: int = 0
    days: int = 0
    hours: int = 0
    minutes: int = 0
    seconds: float = 0.0
    business_days: int | None = None

    def after(self, start: datetime, calendar: BusinessCalendar) -> datetime:
        if self.business_days is not None:
            return calendar.add_business_days(start, self.business_days)
        local = start.astimezone(TOKYO)
        months = self.years * 12 + self.months
        if months:
            year = local.year + (local.month - 1 + months) // 12
            month = (local.month - 1 + months) % 12 + 1
            day = min(local.day, monthrange(year, month)[1])
            local = local.replace(year=year, month=month, day=day)
        delta = timedelta(weeks=self.weeks, days=self.days, hours=self.hours, minutes=self.minutes,
                          seconds=self.seconds)
        return (local + delta).astimezone(UTC)

    @property
    def approx_seconds(self) -> float:
        if self.business_days is not None:
            return self.business_days * 86400.0
        return (((self.years * 365 + self.months * 30 + self.weeks * 7 + self.days) * 24 + self.hours) * 60
                + self.minutes) * 60 + self.seconds


def parse_duration(text: str) -> Duration:
    """Parse ``P3D``/``PT2H``/``3BD``/``3営業日``; raise :class:`NotationError` otherwise."""
    value = text.strip()
    m = _BUSINESS_DAYS.match(value)
    if m:
        return Duration(business_days=int(m["n"]))
    m = _ISO_DURATION.match(value.upper())
    if not m:
        raise NotationError(f"{text!r} is not an ISO 8601 duration (P3D, PT2H) or business days (3BD)")
    parts = {k: (float(v) if k == "seconds" else int(v)) for k, v in m.groupdict().items() if v is not None}
    duration = Duration(**parts)
    too_long = duration.approx_seconds > MAX_YEARS * 366 * 86400
    if duration.years * 12 + duration.months > MAX_YEARS * 12 or too_long:
        raise NotationError(f"{text!r} is longer than {MAX_YEARS} years")
    return duration


def parse_datetime(text: str) -> datetime:
    value = text.strip()
    if not _DATE_TIME.match(value):
        raise NotationError(f"{text!r} is not an ISO 8601 date-time")
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise NotationError(f"{text!r} is not an ISO 8601 date-time") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=TOKYO)
    return parsed.astimezone(UTC)


def parse_cycle(text: str) -> tuple[int, Duration]:
    """Parse ``R3/PT1H`` into (repetitions or -1 for unbounded, period)."""
    m = _CYCLE.match(text.strip().upper())
    if not m:
        raise NotationError(f"{text!r} is not a repeating interval such as R3/PT1H")
    count = int(m["count"]) if m["count"] else -1
    return count, parse_duration(m["period"])


def is_literal(text: str, kind: str = "duration") -> bool:
    """True when ``text`` is written in the notation itself rather than as an expression."""
    try:
        if kind == "cycle":
            parse_cycle(text)
        elif kind == "date":
            parse_datetime(text)
        else:
            parse_duration(text)
    except NotationError:
        return False
    return True


def deadline(text: str, start: datetime, calendar: BusinessCalendar) -> datetime:
    """The absolute time a duration or date-time in the notation designates, counted from ``start``."""
    try:
        return parse_duration(text).after(start, calendar)
    except NotationError:
        return parse_datetime(text)
