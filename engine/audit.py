"""The audit trail: one append-only, hash-chained event per read or write of case data.

Each event carries who (user, agency, role), what (action, object), whether it was allowed, the
request id and the time with offset. ``detail`` holds ids, form keys and field *names* only, never
values, names or consultation text. Events are chained: each row's ``hash`` covers its content and
the previous row's hash, so :func:`verify` detects a changed, removed or inserted row. The chain head
is one row (``audit_head``) locked while appending, which also numbers the events.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from . import clock
from .actor import Actor
from .db import is_postgresql
from .models import AuditEvent, AuditHead

GENESIS = "0" * 64


def _canonical(event: AuditEvent) -> bytes:
    payload = [event.id, event.at.isoformat(), event.user_id, event.username, event.agency_id, event.role,
               event.action, event.object_type, event.object_id, event.case_id, event.task_id,
               bool(event.allowed), event.request_id, event.detail, event.prev_hash]
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def event_hash(event: AuditEvent) -> str:
    return hashlib.sha256(_canonical(event)).hexdigest()


_EVENTS = AuditEvent.__table__
_HEADS = AuditHead.__table__
_HEAD = select(_HEADS.c.last_id, _HEADS.c.last_hash).where(_HEADS.c.id == 1)
_HEAD_FOR_UPDATE = _HEAD.with_for_update()
_INSERT_EVENT = _EVENTS.insert()
_MOVE_HEAD = _HEADS.update().where(_HEADS.c.id == 1).values(last_id=bindparam("new_id"),
                                                             last_hash=bindparam("new_hash"))


def _lock_head(session: Session) -> tuple[int, str]:
    connection = session.connection()
    row = connection.execute(_HEAD_FOR_UPDATE if is_postgresql(session) else _HEAD).first()
    if row is None:
        connection.execute(_HEADS.insert(), {"id": 1, "last_id": 0, "last_hash": GENESIS})
        return 0, GENESIS
    return row.last_id, row.last_hash


def record(session: Session, actor: Actor, action: str, object_type: str, object_id: str = "", *,
           case_id: int | None = None, task_id: int | None = None, allowed: bool = True,
           detail: dict[str, Any] | None = None) -> AuditEvent:
    """Append one audit event to the chain (the caller's transaction commits it).

    Written with Core statements: this runs on every read and write, so it is kept to three short
    statements (read the head under lock, insert the event, move the head).
    """
    last_id, last_hash = _lock_head(session)
    event = AuditEvent(
        id=last_id + 1, at=clock.now(), user_id=actor.user_id, username=actor.username,
        agency_id=actor.agency_id, role=actor.primary_role, action=action, object_type=object_type,
        object_id=str(object_id), case_id=case_id, task_id=task_id, allowed=allowed,
        request_id=actor.request_id or "", detail=detail or {}, prev_hash=last_hash, hash="",
    )
    event.hash = event_hash(event)
    connection = session.connection()
    connection.execute(_INSERT_EVENT, {c.key: getattr(event, c.key) for c in _EVENTS.columns})
    connection.execute(_MOVE_HEAD, {"new_id": event.id, "new_hash": event.hash})
    return event


@dataclass
class VerifyResult:
    checked: int
    problems: list[str]

    @property
    def ok(self) -> bool:
        return not self.problems


def _rows(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id)
                                    .limit(batch)))
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def verify(session: Session) -> VerifyResult:
    """Recompute the chain; report every row whose content, order or link does not match."""
    problems: list[str] = []
    expected_prev, expected_id, checked = GENESIS, 1, 0
    for event in _rows(session):
        checked += 1
        if event.id != expected_id:
            problems.append(f"event {expected_id}: missing (next present is {event.id})")
        if event.prev_hash != expected_prev:
            problems.append(f"event {event.id}: does not follow the previous event (chain broken)")
        if event_hash(event) != event.hash:
            problems.append(f"event {event.id}: content does not match its hash (changed)")
        expected_prev, expected_id = event.hash, event.id + 1
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1))
    if head is not None and (head.last_id != expected_id - 1 or head.last_hash != expected_prev):
        problems.append(f"chain head says event {head.last_id} is the newest, the table ends at {expected_id - 1}")
    if head is None and checked:
        problems.append("chain head is missing")
    return VerifyResult(checked, problems)
