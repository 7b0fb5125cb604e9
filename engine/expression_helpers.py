"""The helper functions an expression may call (see :mod:`engine.expressions`).

Each helper is a plain function over JSON-like values; arguments and results are size-checked by the
evaluator. ``round`` takes at most 15 digits either way (``round(5, -10**18)`` would otherwise run
for ever) and ``sum`` adds numbers only (``sum(lists, [])`` would concatenate quadratically).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, datetime
from typing import Any

from . import clock
from .errors import ExpressionError

MAX_ROUND_DIGITS = 15
__all__ = ["HELPERS", "MAX_ROUND_DIGITS", "number"]


def number(value: Any, what: str) -> None:
    """Raise ExpressionError unless ``value`` is an int or float (bool is not a number here)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        kind = "nothing (None)" if value is None else type(value).__name__
        raise ExpressionError(f"{what} needs a number, got {kind}")


def _today() -> str:
    return clock.now().astimezone(clock.TOKYO).date().isoformat()


def _days_since(value: Any) -> int | None:
    if not value:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        value = value.astimezone(clock.TOKYO).date() if value.tzinfo else value.date()
    return (clock.now().astimezone(clock.TOKYO).date() - value).days


def _business_days(n: Any) -> str:
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= 999:
        raise ExpressionError("business_days() takes a whole number from 0 to 999")
    return f"{n}BD"


def _bounded_len(value: Any) -> int:
    return len(value)


def _round(value: Any, digits: Any = None) -> Any:
    if digits is None:
        return round(value)
    if not isinstance(digits, int) or isinstance(digits, bool) or abs(digits) > MAX_ROUND_DIGITS:
        raise ExpressionError(f"round() takes a whole number of digits from -{MAX_ROUND_DIGITS} "
                              f"to {MAX_ROUND_DIGITS}")
    return round(value, digits)


def _sum(values: Any) -> Any:
    items = list(values)
    for item in items:
        number(item, "sum()")
    return sum(items)


HELPERS: dict[str, Callable[..., Any]] = {
    "len": _bounded_len,
    "min": min,
    "max": max,
    "abs": abs,
    "round": _round,
    "int": int,
    "float": float,
    "str": str,
    "bool": bool,
    "any": any,
    "all": all,
    "sum": _sum,
    "today": _today,
    "days_since": _days_since,
    "business_days": _business_days,
}
