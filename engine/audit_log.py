"""The auditor's view of the audit trail: filtered lists, CSV export and the chain check.

Only the auditor role (監査責任者) may read or export the log (``audit.read`` / ``audit.export`` in the
policy matrix); anyone else gets NotFound. Reading the log is itself an audited action. Exports are
UTF-8 with a BOM for Excel, times in Asia/Tokyo with their offset, and every cell that a spreadsheet
could run as a formula is neutralised.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, and_, func, select, true
from sqlalchemy.orm import Session

from . import audit, clock, policy
from .actor import Actor
from .errors import NotFound
from .models import AuditEvent

MAX_PER_PAGE = 500
MAX_EXPORT = 100_000
FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\0")
COLUMNS = ("id", "at", "user_id", "username", "agency_id", "role", "action", "object_type", "object_id",
           "case_id", "task_id", "allowed", "request_id", "client_ip", "detail")


@dataclass(frozen=True)
class Filters:
    username: str | None = None
    action: str | None = None
    case_id: int | None = None
    allowed: bool | None = None
    request_id: str | None = None
    since: date | None = None
    until: date | None = None

    def used(self) -> list[str]:
        return [k for k, v in self.__dict__.items() if v not in (None, "")]


@dataclass(frozen=True)
class AuditRow:
    id: int
    at: datetime
    user_id: int | None
    username: str
    agency_id: int | None
    role: str
    action: str
    object_type: str
    object_id: str
    case_id: int | None
    task_id: int | None
    allowed: bool
    request_id: str
    detail: dict[str, Any]
    client_ip: str | None = None

    @property
    def at_local(self) -> str:
        """ISO 8601 in Asia/Tokyo with the offset (+09:00)."""
        return clock.ensure_utc(self.at).astimezone(clock.TOKYO).isoformat(timespec="seconds")


@dataclass
class Page:
    rows: list[AuditRow]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def _require(actor: Actor, action: str) -> None:
    if not policy.can(actor, action):
        raise NotFound("no audit log here")


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0, 0), tzinfo=clock.TOKYO).astimezone(clock.UTC)


def _where(f: Filters) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = [true()]
    if f.username:
        parts.append(AuditEvent.username == f.username[:80])
    if f.action:
        parts.append(AuditEvent.action.startswith(f.action[:60], autoescape=True))
    if f.case_id is not None:
        parts.append(AuditEvent.case_id == f.case_id)
    if f.allowed is not None:
        parts.append(AuditEvent.allowed.is_(f.allowed))
    if f.request_id:
        parts.append(AuditEvent.request_id == f.request_id[:64])
    if f.since:
        parts.append(AuditEvent.at >= _day_start(f.since))
    if f.until:
        parts.append(AuditEvent.at < _day_start(f.until + timedelta(days=1)))
    return and_(*parts)


def _row(e: AuditEvent) -> AuditRow:
    return AuditRow(e.id, e.at, e.user_id, e.username, e.agency_id, e.role, e.action, e.object_type,
                    e.object_id, e.case_id, e.task_id, bool(e.allowed), e.request_id, dict(e.detail or {}),
                    e.client_ip)


@audit.guarded("audit.read", "audit_log")
def search(session: Session, actor: Actor, filters: Filters | None = None, page: int = 1,
           per_page: int = 100) -> Page:
    """Events matching ``filters``, newest first; one ``audit.read`` event."""
    _require(actor, "audit.read")
    f = filters or Filters()
    per_page, page = max(1, min(per_page, MAX_PER_PAGE)), max(1, page)
    total = session.scalar(select(func.count()).select_from(AuditEvent).where(_where(f))) or 0
    stmt = select(AuditEvent).where(_where(f)).order_by(AuditEvent.id.desc())
    rows = [_row(e) for e in session.scalars(stmt.limit(per_page).offset((page - 1) * per_page))]
    audit.record(session, actor, "audit.read", "audit_log", detail={"filters": f.used(), "rows": len(rows)})
    return Page(rows, total, page, per_page)


def neutralise(value: Any) -> str:
    """A CSV cell that no spreadsheet runs as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    text = text.replace("\0", "")
    if text.startswith(FORMULA_START):
        return "'" + text
    return text


@audit.guarded("audit.export", "audit_log")
def export_csv(session: Session, actor: Actor, filters: Filters | None = None) -> bytes:
    """The matching events as CSV (UTF-8 with BOM, oldest first); one ``audit.export`` event."""
    _require(actor, "audit.export")
    f = filters or Filters()
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    count = 0
    for e in session.scalars(select(AuditEvent).where(_where(f)).order_by(AuditEvent.id).limit(MAX_EXPORT)):
        row = _row(e)
        values = [row.id, row.at_local, row.user_id, row.username, row.agency_id, row.role, row.action,
                  row.object_type, row.object_id, row.case_id, row.task_id,
                  "allow" if row.allowed else "deny", row.request_id, row.client_ip, _detail_text(row.detail)]
        writer.writerow([neutralise(v) for v in values])
        count += 1
    audit.record(session, actor, "audit.export", "audit_log", detail={"filters": f.used(), "rows": count})
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def _detail_text(detail: dict[str, Any]) -> str:
    import json
    return json.dumps(detail, ensure_ascii=False, sort_keys=True, separators=(",", ":"))


@audit.guarded("audit.read", "audit_log")
def check_chain(session: Session, actor: Actor) -> audit.VerifyResult:
    """The chain check for the auditor page; one ``audit.read`` event."""
    _require(actor, "audit.read")
    result = audit.verify(session, max_problems=50)
    audit.record(session, actor, "audit.verify", "audit_log",
                 detail={"ok": result.ok, "checked": result.checked})
    return result
