"""Case columns a diagram sets from submissions: ``case.<column>`` properties on a task or start event.

A designer writes, on the step whose form decides it, a property such as ``case.csw`` =
``acceptance.csw`` or ``case.consent_status`` = ``consent.status``. After the step completes the
expression is evaluated over the task data and the case column is updated, in the same transaction,
so the inbox, access rules and statistics can filter on it. Allowed columns: :data:`COLUMNS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from .errors import ExpressionError, ProcessError
from .expressions import evaluate
from .models import Case, User
from .users import agency_ids

COLUMNS = ("consent_status", "csw", "lead_agency", "confidential", "status", "stage", "outcome")
STATUSES = ("active", "waiting_consent", "suspended")


def apply(
    session: Session, case: Case, meta: Mapping[str, Any], data: Mapping[str, Any], budget_s: float
) -> None:
    for column, expression in (meta.get("case_updates") or {}).items():
        if column not in COLUMNS:
            raise ProcessError(
                f"case.{column} is not a case field a diagram may set", element_id=meta.get("element_id")
            )
        try:
            value = evaluate(expression, data, budget_s)
        except ExpressionError as exc:
            raise ProcessError(f"case.{column}: {exc.message}", element_id=meta.get("element_id")) from None
        _set(session, case, column, value)


def _set(session: Session, case: Case, column: str, value: Any) -> None:
    with session.no_autoflush:  # the lookups below need no pending write; runtime.save flushes once
        _assign(session, case, column, value)


_USER_ID = select(User.id).where(User.username == bindparam("username"))


def _assign(session: Session, case: Case, column: str, value: Any) -> None:
    if column == "csw":
        case.csw_user_id = (session.connection().execute(_USER_ID, {"username": value}).scalar()
                            if value else None)
    elif column == "lead_agency":
        case.lead_agency_id = agency_ids(session, [value]).get(value) if value else None
    elif column == "confidential":
        case.confidential = bool(value)
    elif column == "status":
        if value in STATUSES:
            case.status = value
    elif value is not None:
        setattr(case, column, str(value)[: column_width(column)])


def column_width(column: str) -> int:
    """The width of a text column of ``cases`` (values are cut to it, never refused by the database)."""
    return Case.__table__.c[column].type.length or 100
