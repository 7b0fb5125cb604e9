"""engine.clock: one replaceable process-wide clock, FrozenClock for tests, UTC everywhere and Asia/Tokyo
for business days and display."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from engine import clock

TUESDAY_10_JST = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)


@pytest.fixture
def restore_clock():
    previous = clock.use(clock.SystemClock())
    yield
    clock.use(previous)


def test_system_clock_is_aware_utc(restore_clock):
    before = datetime.now(UTC)
    now = clock.now()
    assert now.tzinfo is not None and now.utcoffset() == timedelta(0)
    assert now >= before


def test_frozen_clock_refuses_a_naive_start():
    with pytest.raises(ValueError, match="aware"):
        clock.FrozenClock(datetime(2026, 11, 24, 10, 0))


def test_frozen_clock_keeps_the_instant_in_utc():
    frozen = clock.FrozenClock(datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO))
    assert frozen.now() == TUESDAY_10_JST
    assert frozen.now().tzinfo == UTC and frozen.now().utcoffset() == timedelta(0)
    assert frozen.now() == frozen.now()  # it does not move by itself


def test_set_and_advance_move_the_frozen_clock():
    frozen = clock.FrozenClock(TUESDAY_10_JST)
    assert frozen.advance(timedelta(hours=2)) == TUESDAY_10_JST + timedelta(hours=2)
    assert frozen.advance(days=1, minutes=30) == TUESDAY_10_JST + timedelta(days=1, hours=2, minutes=30)
    assert frozen.now() == TUESDAY_10_JST + timedelta(days=1, hours=2, minutes=30)
    frozen.set(datetime(2027, 1, 4, 9, 0, tzinfo=clock.TOKYO))
    assert frozen.now() == datetime(2027, 1, 4, 0, 0, tzinfo=UTC)
    assert frozen.now().tzinfo == UTC
    frozen.advance(timedelta(days=-1))
    assert frozen.now() == datetime(2027, 1, 3, 0, 0, tzinfo=UTC)


def test_advance_from_many_threads_loses_no_step():
    frozen = clock.FrozenClock(TUESDAY_10_JST)

    def step():
        for _ in range(500):
            frozen.advance(seconds=1)

    threads = [threading.Thread(target=step) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert frozen.now() == TUESDAY_10_JST + timedelta(seconds=8 * 500)


def test_use_installs_the_clock_process_wide_and_returns_the_previous_one(restore_clock):
    frozen = clock.FrozenClock(TUESDAY_10_JST)
    previous = clock.use(frozen)
    try:
        assert isinstance(previous, clock.SystemClock)
        assert clock.now() == TUESDAY_10_JST
        frozen.advance(days=3)
        assert clock.now() == TUESDAY_10_JST + timedelta(days=3)
        seen: list[datetime] = []
        worker = threading.Thread(target=lambda: seen.append(clock.now()))
        worker.start()
        worker.join()
        assert seen == [TUESDAY_10_JST + timedelta(days=3)]  # not a thread-local clock
    finally:
        assert clock.use(previous) is frozen


def test_tokyo_is_nine_hours_ahead_without_daylight_saving():
    assert clock.TOKYO == ZoneInfo("Asia/Tokyo")
    assert TUESDAY_10_JST.astimezone(clock.TOKYO).hour == 10
    late_evening_utc = datetime(2026, 11, 24, 15, 30, tzinfo=UTC)
    assert late_evening_utc.astimezone(clock.TOKYO).date().isoformat() == "2026-11-25"  # already tomorrow
    for month in (1, 4, 7, 10):
        assert datetime(2026, month, 1, tzinfo=UTC).astimezone(clock.TOKYO).utcoffset() == timedelta(hours=9)


def test_ensure_utc_reads_naive_values_as_utc_and_converts_aware_ones():
    assert clock.ensure_utc(None) is None
    naive = datetime(2026, 11, 24, 1, 0)  # as SQLite gives it back
    assert clock.ensure_utc(naive) == TUESDAY_10_JST and clock.ensure_utc(naive).tzinfo == UTC
    tokyo = datetime(2026, 11, 24, 10, 0, tzinfo=clock.TOKYO)
    converted = clock.ensure_utc(tokyo)
    assert converted == TUESDAY_10_JST and converted.tzinfo == UTC and converted.hour == 1
    assert clock.ensure_utc(TUESDAY_10_JST) == TUESDAY_10_JST
