"""engine.expression_helpers: the functions an expression may call, each a plain function over JSON-like
values; round() limited to 15 digits either way, sum() of numbers only, dates in Asia/Tokyo."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from engine import clock
from engine.errors import ExpressionError
from engine.expression_helpers import HELPERS, MAX_ROUND_DIGITS, number
from engine.expressions import compile_expression, evaluate


@pytest.fixture
def at():
    """The clock, frozen at Tuesday 2026-11-24 10:00 JST; ``at.set(when)`` moves it."""
    frozen = clock.FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    previous = clock.use(frozen)
    yield frozen
    clock.use(previous)


def test_the_helper_names_are_exactly_the_documented_ones():
    assert set(HELPERS) == {"len", "min", "max", "abs", "round", "int", "float", "str", "bool", "any",
                            "all", "sum", "today", "days_since", "business_days"}
    assert MAX_ROUND_DIGITS == 15


def test_every_helper_can_be_called_from_an_expression():
    for name in HELPERS:
        compile_expression(f"{name}(x)")


@pytest.mark.parametrize("value", [0, -3, 2.5, 10**18])
def test_number_accepts_ints_and_floats(value):
    number(value, "abs()")


@pytest.mark.parametrize(("value", "kind"), [(True, "bool"), (False, "bool"), (None, "nothing (None)"),
                                             ("3", "str"), ([1], "list"), ({"a": 1}, "dict")])
def test_number_refuses_everything_else_and_names_what_it_got(value, kind):
    with pytest.raises(ExpressionError) as info:
        number(value, "sum()")
    assert info.value.message == f"sum() needs a number, got {kind}"


def test_today_is_the_date_in_tokyo(at):
    at.set(datetime(2026, 11, 24, 14, 59, tzinfo=UTC))  # 23:59 JST
    assert HELPERS["today"]() == "2026-11-24"
    at.set(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # 00:00 JST the next day
    assert HELPERS["today"]() == "2026-11-25"
    assert evaluate("today()", {}) == "2026-11-25"


@pytest.mark.parametrize(("value", "days"), [
    ("2026-11-20", 4),
    ("2026-11-24", 0),
    ("2026-12-01", -7),  # a date in the future counts down
    (date(2026, 11, 1), 23),
    ("2026-11-20T23:00:00", 4),  # naive date-time: its own date
    ("2026-11-20T15:30:00+00:00", 3),  # aware: 2026-11-21 00:30 in Tokyo
    (datetime(2026, 11, 23, 16, 0, tzinfo=UTC), 0),  # 2026-11-24 01:00 in Tokyo
    (datetime(2026, 11, 23, 10, 0), 1),
])
def test_days_since_counts_calendar_days_in_tokyo(at, value, days):
    assert HELPERS["days_since"](value) == days


@pytest.mark.parametrize("empty", [None, "", 0])
def test_days_since_nothing_is_none(at, empty):
    assert HELPERS["days_since"](empty) is None


def test_days_since_follows_the_tokyo_date_not_the_utc_date(at):
    at.set(datetime(2026, 11, 24, 15, 30, tzinfo=UTC))  # 2026-11-25 00:30 JST, still the 24th in UTC
    assert HELPERS["days_since"]("2026-11-24") == 1


@pytest.mark.parametrize(("n", "notation"), [(0, "0BD"), (3, "3BD"), (999, "999BD")])
def test_business_days_builds_the_notation(n, notation):
    assert HELPERS["business_days"](n) == notation


@pytest.mark.parametrize("n", [-1, 1000, True, 2.0, "3", None])
def test_business_days_refuses_anything_but_a_whole_number_up_to_999(n):
    with pytest.raises(ExpressionError, match="0 to 999"):
        HELPERS["business_days"](n)


def test_round_without_digits_gives_a_whole_number():
    assert HELPERS["round"](2.5) == 2 and HELPERS["round"](3.7) == 4
    assert isinstance(HELPERS["round"](3.7), int)


@pytest.mark.parametrize(("digits", "expected"), [(2, 2.57), (0, 3.0), (-1, 0.0), (15, 2.567), (-15, 0.0)])
def test_round_takes_up_to_fifteen_digits_either_way(digits, expected):
    assert HELPERS["round"](2.567, digits) == expected


@pytest.mark.parametrize("digits", [16, -16, 10**18, -(10**18), True, 1.5, "2"])
def test_round_refuses_more_digits_or_non_whole_digits(digits):
    with pytest.raises(ExpressionError, match="from -15 to 15"):
        HELPERS["round"](5, digits)


def test_sum_adds_numbers():
    assert HELPERS["sum"]([1, 2, 3.5]) == 6.5
    assert HELPERS["sum"]([]) == 0
    assert HELPERS["sum"](n for n in (1, 2)) == 3  # any iterable, consumed once


@pytest.mark.parametrize("items", [[[1], [2]], [1, "2"], [1, None], [True, 1], ["a", "b"]])
def test_sum_refuses_anything_but_numbers(items):
    with pytest.raises(ExpressionError, match="sum\\(\\) needs a number"):
        HELPERS["sum"](items)


def test_len_min_max_and_the_conversions_behave_like_python():
    assert HELPERS["len"]([1, 2, 3]) == 3 and HELPERS["len"]("あいう") == 3
    assert HELPERS["min"]([3, 1, 2]) == 1 and HELPERS["max"](1, 9) == 9
    assert HELPERS["abs"](-4) == 4 and HELPERS["int"]("42") == 42 and HELPERS["float"]("1.5") == 1.5
    assert HELPERS["str"](3) == "3" and HELPERS["bool"]("") is False
    assert HELPERS["any"]([False, 1]) is True and HELPERS["all"]([True, 0]) is False


def test_helpers_used_in_a_due_expression(at):
    data = {"plan": {"weeks": 2, "start": "2026-11-20"}}
    assert evaluate("business_days(plan.weeks * 5)", data) == "10BD"
    assert evaluate("days_since(plan.start) >= 4", data) is True
    with pytest.raises(ExpressionError):
        evaluate("business_days(plan.weeks * 1000)", data)
