"""The audit trail: one append-only, hash-chained event per read or write of case data, and per refusal.

Each event carries who (user, agency, role), what (action, object), whether it was allowed, the
request id and the time (UTC, shown with its offset). ``detail`` holds ids, form keys and field
*names* only, never values, names or consultation text.

**Chain.** Each row's ``hash`` is an HMAC-SHA-256, under a key kept outside the database
(:func:`configure_key`, ``TSUNAGU_AUDIT_KEY`` or ``instance/audit_key``), of its content and the
previous row's hash. The single ``audit_head`` row, locked while appending, numbers the events and
holds a seal over the newest event, so :func:`verify` detects a changed, removed (also at the end) or
inserted row even when the attacker could bypass the append-only triggers and recompute plain hashes.

**When events are written.** :func:`record` queues the event on the session; it is appended right
before the transaction commits (so the chain head is locked only for the commit) and is rolled back
with the data it describes. :func:`deny` queues a refusal that is kept even when the request fails:
after a rollback it is written in a short transaction of its own. On SQLite a read-only transaction
cannot safely upgrade to a writer, so its events are appended in a short write transaction right
after it commits; if that fails, the commit raises and no data is handed out.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import inspect
import json
import logging
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar

from sqlalchemy import bindparam, event, insert, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.orm import Session

from . import clock
from .actor import Actor
from .db import WRITE_OPTION, begin_write, is_postgresql, savepoint_journal
from .errors import NotAllowed, NotFound
from .models import AuditEvent, AuditHead

log = logging.getLogger("tsunagu.audit")
GENESIS = "0" * 64
PENDING = "tsunagu_audit_pending"
COUNT = "tsunagu_audit_count"
DENIED = "tsunagu_audit_denied"
FOLDED = "tsunagu_audit_folded"
_COMMITTED = "tsunagu_audit_committed"
_DEFERRED = "tsunagu_audit_deferred"
KEY_ENV = "TSUNAGU_AUDIT_KEY"
_key: bytes | None = None
F = TypeVar("F", bound=Callable[..., Any])


def key_file() -> Path:
    from .settings import ROOT
    return ROOT / "instance" / "audit_key"


def configure_key(key: bytes | str | None) -> None:
    """Use ``key`` for the chain (None: read it again from the environment or the key file)."""
    global _key  # noqa: PLW0603
    _key = key.encode("utf-8") if isinstance(key, str) else key


def chain_key() -> bytes:
    """The HMAC key: ``TSUNAGU_AUDIT_KEY``, else ``instance/audit_key`` (created once, mode 0600)."""
    global _key  # noqa: PLW0603
    if _key is None:
        if os.environ.get(KEY_ENV):
            _key = os.environ[KEY_ENV].encode("utf-8")
        else:
            path = key_file()
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                with os.fdopen(fd, "w") as handle:
                    handle.write(os.urandom(32).hex())
            except FileExistsError:
                pass
            _key = path.read_text().strip().encode("utf-8")
    return _key


def _canonical(event: Any) -> bytes:
    payload = [event.id, clock.ensure_utc(event.at).isoformat(), event.user_id, event.username,
               event.agency_id, event.role, event.action, event.object_type, event.object_id, event.case_id,
               event.task_id, bool(event.allowed), event.request_id, event.detail, event.prev_hash]
    if event.client_ip is not None:  # events before migration 0007 had none: their hashes stay valid
        payload.append(event.client_ip)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")


def event_hash(event: Any) -> str:
    return hmac.new(chain_key(), _canonical(event), hashlib.sha256).hexdigest()


def head_seal(last_id: int, last_event_hash: str) -> str:
    """What ``audit_head.last_hash`` holds: a seal over the newest event that only the key holder can make."""
    if last_id == 0:
        return GENESIS
    message = f"head:{last_id}:{last_event_hash}".encode()
    return hmac.new(chain_key(), message, hashlib.sha256).hexdigest()


_EVENTS, _HEAD = AuditEvent.__table__, AuditHead.__table__
# Built once: the append runs in every write transaction, and a statement object built anew is walked
# again for its cache key each time.
_HEAD_READ = (select(_HEAD.c.last_id, _EVENTS.c.hash)
              .select_from(_HEAD.outerjoin(_EVENTS, _EVENTS.c.id == _HEAD.c.last_id)).where(_HEAD.c.id == 1))
_HEAD_LOCK = _HEAD_READ.with_for_update(of=_HEAD)
_INSERT_EVENT = insert(_EVENTS)
_MOVE_HEAD = (update(_HEAD).where(_HEAD.c.id == 1)
              .values(last_id=bindparam("new_last_id"), last_hash=bindparam("new_last_hash")))


def _lock_head(session: Session) -> tuple[int, str]:
    """Lock the chain head; return the newest event's id and hash (one round trip, Core: this is hot)."""
    connection = session.connection()
    stmt = _HEAD_LOCK if is_postgresql(session) else _HEAD_READ
    row = connection.execute(stmt).first()
    if row is None:
        insert_head = (pg_insert(_HEAD).on_conflict_do_nothing() if is_postgresql(session)
                       else insert(_HEAD).prefix_with("OR IGNORE"))
        connection.execute(insert_head.values(id=1, last_id=0, last_hash=GENESIS))
        row = connection.execute(stmt).first()
    return row.last_id, row.hash or GENESIS


def _append(session: Session, items: list[dict[str, Any]]) -> None:
    last_id, prev = _lock_head(session)
    rows = []
    for item in items:
        last_id += 1
        row = {**item, "id": last_id, "prev_hash": prev}
        row["hash"] = prev = event_hash(SimpleNamespace(**row))
        rows.append(row)
    connection = session.connection()
    connection.execute(_INSERT_EVENT, rows if len(rows) > 1 else rows[0])
    connection.execute(_MOVE_HEAD, {"new_last_id": last_id, "new_last_hash": head_seal(last_id, prev)})


def _db_int(value: Any) -> int | None:
    """An id column value, or None for what no row can have (the raw id stays in ``object_id``)."""
    return value if isinstance(value, int) and 0 < value < 2**31 else None


def _item(actor: Actor, action: str, object_type: str, object_id: Any, *, case_id: int | None,
          task_id: int | None, allowed: bool, detail: dict[str, Any] | None) -> dict[str, Any]:
    return {"at": clock.now(), "user_id": actor.user_id, "username": actor.username[:80],
            "agency_id": actor.agency_id, "role": actor.primary_role or ("system" if actor.is_system else ""),
            "action": action[:60], "object_type": object_type[:40], "object_id": str(object_id or "")[:80],
            "case_id": _db_int(case_id), "task_id": _db_int(task_id), "allowed": allowed,
            "request_id": (actor.request_id or "")[:64], "client_ip": (actor.client_ip or "")[:45] or None,
            "detail": detail or {}}


def record(session: Session, actor: Actor, action: str, object_type: str, object_id: str = "", *,
           case_id: int | None = None, task_id: int | None = None, allowed: bool = True,
           detail: dict[str, Any] | None = None) -> None:
    """Queue one audit event; it is appended to the chain when the caller's transaction commits."""
    folded = session.info.pop(FOLDED, None)
    if folded:
        detail = {**(detail or {}), "includes": folded}
    session.info.setdefault(PENDING, []).append(
        (False, _item(actor, action, object_type, object_id, case_id=case_id, task_id=task_id,
                      allowed=allowed, detail=detail)))
    session.info[COUNT] = session.info.get(COUNT, 0) + 1


@contextmanager
def folded(session: Session) -> Iterator[None]:
    """Events recorded inside become part of the next event of this transaction (``includes`` in detail).

    For operations that cause another audited operation (同意撤回 sending the case's BPMN message):
    the request still records exactly one event. Refusals are never folded.
    """
    pending = session.info.setdefault(PENDING, [])
    mark = len(pending)
    try:
        yield
    finally:
        inner = pending[mark:]
        del pending[mark:]
        pending.extend(p for p in inner if p[0])
        actions = [item["action"] for denied, item in inner if not denied]
        if actions:
            session.info[FOLDED] = session.info.get(FOLDED, []) + actions
            session.info[COUNT] = session.info.get(COUNT, 0) - len(actions)


def deny(session: Session, actor: Actor, action: str, object_type: str, object_id: Any = "", *,
         case_id: int | None = None, task_id: int | None = None, reason: str = "not_found") -> None:
    """Queue a refused attempt; it is written whether the caller commits or rolls back."""
    item = _item(actor, action, object_type, object_id, case_id=case_id, task_id=task_id, allowed=False,
                 detail={"reason": reason})
    session.info[COUNT] = session.info.get(COUNT, 0) + 1
    session.info[DENIED] = True
    if not session.in_transaction():  # no transaction will end to carry it: write it now
        _write_separately(session, [item], must_succeed=False)
        return
    session.info.setdefault(PENDING, []).append((True, item))


def recorded_count(session: Session) -> int:
    """How many events (allowed or denied) this session queued so far (for per-request checks)."""
    return session.info.get(COUNT, 0)


def denied_recorded(session: Session) -> bool:
    return bool(session.info.get(DENIED))


def _is_sqlite_reader(session: Session) -> bool:
    bind = session.get_bind()
    if bind.dialect.name != "sqlite":
        return False
    return not session.connection().get_execution_options().get(WRITE_OPTION)


@event.listens_for(Session, "before_commit")
def _before_commit(session: Session) -> None:
    if session.in_nested_transaction():
        return
    pending = session.info.pop(PENDING, None)
    if not pending:
        return
    items = [item for _denied, item in pending]
    if _is_sqlite_reader(session):
        session.info[_DEFERRED] = items
    else:
        _append(session, items)


def _savepoint_rolled_back(session: Session, inner: list[Any]) -> list[Any]:
    """A rolled-back savepoint takes the events recorded inside it along (refusals stay)."""
    kept = [p for p in inner if p[0]]
    session.info[COUNT] = session.info.get(COUNT, 0) - (len(inner) - len(kept))
    return kept


savepoint_journal(PENDING, _savepoint_rolled_back)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    session.info[_COMMITTED] = True


@event.listens_for(Session, "after_transaction_end")
def _after_transaction_end(session: Session, transaction: Any) -> None:
    if transaction.parent is not None:
        return
    committed = session.info.pop(_COMMITTED, False)
    deferred = session.info.pop(_DEFERRED, None) or []
    pending = session.info.pop(PENDING, None) or []
    for key in (COUNT, DENIED, FOLDED):
        session.info.pop(key, None)
    items = list(deferred) if committed else []
    items += [item for denied, item in pending if denied]
    if items:
        _write_separately(session, items, must_succeed=bool(deferred and committed))


def _write_separately(session: Session, items: list[dict[str, Any]], must_succeed: bool) -> None:
    bind = session.get_bind()
    engine = getattr(bind, "engine", bind)
    try:
        with Session(engine) as other:
            begin_write(other)
            _append(other, items)
            other.commit()
    except Exception as exc:
        log.error("audit events could not be written (%d event(s)): %s", len(items), type(exc).__name__)
        if must_succeed:
            raise


def guarded(action: str, object_type: str, id_arg: str | None = None) -> Callable[[F], F]:
    """Decorate an engine operation so that a refusal (NotFound/NotAllowed) records one denied event.

    The operation must take ``session`` and ``actor`` arguments; ``id_arg`` names the argument holding
    the object id (``case_id``, ``task_id`` …). A refusal is recorded once, however deeply it was raised.
    """
    def wrap(fn: F) -> F:
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def inner(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except (NotFound, NotAllowed) as exc:
                if not getattr(exc, "audited", False):
                    bound = signature.bind_partial(*args, **kwargs).arguments
                    object_id = bound.get(id_arg) if id_arg else ""
                    ids = {"case_id": object_id if object_type == "case" else None,
                           "task_id": object_id if object_type == "task" else None}
                    ids = {k: v if isinstance(v, int) else None for k, v in ids.items()}
                    deny(bound["session"], bound["actor"], action, object_type, object_id,
                         reason=exc.code, **ids)
                    exc.audited = True  # type: ignore[attr-defined]
                raise
        return inner  # type: ignore[return-value]
    return wrap


@dataclass
class VerifyResult:
    checked: int
    problems: list[str]
    last_id: int = 0
    last_hash: str = GENESIS

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def anchor(self) -> str:
        """``<id>:<hash>`` of the newest event; keep it elsewhere and pass it to ``verify --expect``."""
        return f"{self.last_id}:{self.last_hash}"


def _rows(session: Session, batch: int = 5000) -> Iterator[AuditEvent]:
    last = 0
    while True:
        rows = list(session.scalars(select(AuditEvent).where(AuditEvent.id > last).order_by(AuditEvent.id)
                                    .limit(batch).execution_options(populate_existing=True)))
        if not rows:
            return
        yield from rows
        last = rows[-1].id
        session.expunge_all()


def _row_problems(row: AuditEvent, expected_id: int, expected_prev: str,
                  anchors: dict[str, str]) -> list[str]:
    problems = []
    if row.id != expected_id:
        problems.append(f"event {expected_id}: missing or renumbered (next present is {row.id})")
    if row.prev_hash != expected_prev:
        problems.append(f"event {row.id}: does not follow the previous event (chain broken)")
    if event_hash(row) != row.hash:
        problems.append(f"event {row.id}: content does not match its hash (changed or forged)")
    if anchors.get(str(row.id), row.hash) != row.hash:
        problems.append(f"event {row.id}: differs from the anchor kept outside the database")
    return problems


def _head_problems(session: Session, checked: int, last_id: int, last_hash: str) -> list[str]:
    head = session.scalar(select(AuditHead).where(AuditHead.id == 1)
                          .execution_options(populate_existing=True))
    if head is None:
        return ["chain head is missing"] if checked else []
    if head.last_id != last_id:
        return [f"chain head says event {head.last_id} is the newest, the table ends at {last_id}"]
    if head.last_hash != head_seal(last_id, last_hash):
        return [f"chain head seal does not match event {last_id} (events removed or added, or head forged)"]
    return []


def verify(session: Session, expect: list[str] | None = None, max_problems: int = 1000) -> VerifyResult:
    """Recompute the chain; report every row whose content, order or link does not match.

    ``expect`` holds anchors (``id:hash``) recorded earlier outside the database: each must still be in
    the chain, which also catches a log cut back to an older, once-valid head.
    """
    problems: list[str] = []
    anchors = dict(a.split(":", 1) for a in (expect or []) if ":" in a)
    seen: set[str] = set()
    expected_prev, expected_id, checked = GENESIS, 1, 0
    for row in _rows(session):
        checked += 1
        problems += _row_problems(row, expected_id, expected_prev, anchors)
        seen.add(str(row.id))
        expected_prev, expected_id = row.hash, row.id + 1
        if len(problems) >= max_problems:
            break
    last_id = expected_id - 1
    problems += _head_problems(session, checked, last_id, expected_prev)
    for anchor_id in sorted(set(anchors) - seen, key=lambda v: int(v) if v.isdigit() else 0):
        problems.append(f"event {anchor_id}: anchored earlier but no longer in the chain")
    return VerifyResult(checked, problems, last_id, expected_prev)
