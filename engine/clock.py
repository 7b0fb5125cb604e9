"""Time for the engine: one replaceable clock, timezone-aware UTC everywhere.

Everything that asks "what time is it" (due dates, BPMN timers, reminders, audit stamps) calls
:func:`now`. Tests and benchmarks swap in a :class:`FrozenClock` to cross weekends, national holidays
and 年末年始 without sleeping. Times are stored as UTC; ``Asia/Tokyo`` is used for business-day
arithmetic and for display.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

TOKYO = ZoneInfo("Asia/Tokyo")


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FrozenClock:
    """A clock that only moves when told to. Thread-safe."""

    def __init__(self, start: datetime) -> None:
        if start.tzinfo is None:
            raise ValueError("FrozenClock needs an aware datetime")
        self._now = start.astimezone(UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when.astimezone(UTC)

    def advance(self, delta: timedelta | None = None, **kwargs: float) -> datetime:
        with self._lock:
            self._now += delta or timedelta(**kwargs)
            return self._now


_clock: SystemClock | FrozenClock = SystemClock()


def now() -> datetime:
    """The current time, timezone-aware UTC."""
    return _clock.now()


def use(clock: SystemClock | FrozenClock) -> SystemClock | FrozenClock:
    """Install ``clock`` process-wide and return the previous one."""
    global _clock  # noqa: PLW0603 - the clock is deliberately one process-wide object
    previous, _clock = _clock, clock
    return previous


def ensure_utc(value: datetime | None) -> datetime | None:
    """Treat naive datetimes read back from SQLite as UTC; convert aware ones to UTC."""
    if value is None:
        return None
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)
