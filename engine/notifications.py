"""通知 for staff: list, count unread, mark read, open; and the e-mail address notices go to.

Notifications are written by the scheduler's dispatcher (:mod:`engine.scheduling.dispatch`). A user
only ever sees their own. The step title and case number shown next to a notice come from the task
and case, and only when the policy lets the user see that case; the notice itself holds ids only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import audit, clock, policy
from .actor import Actor
from .errors import Invalid, NotFound
from .models import Case, HumanTask, Notification, NotificationContact

KINDS = ("reminder", "overdue")
MAX_LIMIT = 200
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]{1,190}\.[^@\s]{2,60}$")


@dataclass
class NotificationView:
    id: int
    kind: str
    level: int
    task_id: int | None
    case_id: int | None
    created_at: datetime
    read: bool
    task_title: str | None = None
    case_number: str | None = None
    due_at: datetime | None = None
    task_open: bool = False

    def as_json(self) -> dict[str, object]:
        """The API shape: ``{id, kind, level, task_id, case_id, created_at, read}``."""
        return {
            "id": self.id,
            "kind": self.kind,
            "level": self.level,
            "task_id": self.task_id,
            "case_id": self.case_id,
            "created_at": self.created_at.isoformat(),
            "read": self.read,
        }


def _own(actor: Actor):  # type: ignore[no-untyped-def]
    return Notification.user_id == (actor.user_id if actor.user_id is not None else -1)


def list_notifications(
    session: Session,
    actor: Actor,
    *,
    unread_only: bool = False,
    kind: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> list[NotificationView]:
    """The actor's notifications, newest first, with the task and case shown where the actor may see them."""
    stmt = select(Notification).where(_own(actor))
    if unread_only:
        stmt = stmt.where(Notification.read_at.is_(None))
    if kind in KINDS:
        stmt = stmt.where(Notification.kind == kind)
    rows = list(
        session.scalars(
            stmt.order_by(Notification.created_at.desc(), Notification.id.desc())
            .limit(max(1, min(limit, MAX_LIMIT)))
            .offset(max(0, offset))
        )
    )
    case_ids = {r.case_id for r in rows if r.case_id}
    visible = (
        set(session.scalars(select(Case.id).where(Case.id.in_(case_ids), policy.case_filter(actor))))
        if case_ids
        else set()
    )
    task_ids = {r.task_id for r in rows if r.task_id and r.case_id in visible}
    details = (
        {
            t.id: t
            for t in session.execute(
                select(HumanTask.id, HumanTask.title, HumanTask.due_at, HumanTask.status, Case.case_number)
                .join(Case, Case.id == HumanTask.case_id)
                .where(HumanTask.id.in_(task_ids))
            )
        }
        if task_ids
        else {}
    )
    out = []
    for r in rows:
        view = NotificationView(
            r.id, r.kind, r.level, r.task_id, r.case_id, r.created_at, r.read_at is not None
        )
        d = details.get(r.task_id or -1)
        if d is not None:
            view.task_title, view.case_number, view.due_at = d.title, d.case_number, d.due_at
            view.task_open = d.status == "open"
        out.append(view)
    return out


def unread_count(session: Session, actor: Actor) -> int:
    if actor.user_id is None:
        return 0
    return (
        session.scalar(
            select(func.count()).select_from(Notification).where(_own(actor), Notification.read_at.is_(None))
        )
        or 0
    )


def mark_read(session: Session, actor: Actor, ids: list[int] | None = None) -> int:
    """Mark the given notifications (or with ``ids=None`` all) of the actor read; return the count."""
    stmt = update(Notification).where(_own(actor), Notification.read_at.is_(None))
    if ids is not None:
        if not ids:
            return 0
        stmt = stmt.where(Notification.id.in_(ids))
    changed = session.execute(stmt.values(read_at=clock.now())).rowcount or 0
    if changed:
        audit.record(
            session,
            actor,
            "notification.read",
            "notification",
            "" if ids is None else str(ids[0]),
            detail={"count": changed},
        )
    session.flush()
    return changed


def open_notification(session: Session, actor: Actor, notification_id: int) -> NotificationView:
    """The actor's notification (marked read); NotFound if it is someone else's."""
    row = session.scalar(select(Notification).where(Notification.id == notification_id, _own(actor)))
    if row is None:
        raise NotFound(f"notification {notification_id} not found")
    if row.read_at is None:
        mark_read(session, actor, [row.id])
    view = next((v for v in list_notifications(session, actor, limit=MAX_LIMIT) if v.id == row.id), None)
    return view or NotificationView(
        row.id, row.kind, row.level, row.task_id, row.case_id, row.created_at, True
    )


def get_contact(session: Session, actor: Actor) -> NotificationContact | None:
    return session.get(NotificationContact, actor.user_id) if actor.user_id is not None else None


def set_contact(
    session: Session, actor: Actor, email: str, enabled: bool = True
) -> NotificationContact | None:
    """Set (or, with an empty address, remove) where the actor's notices are e-mailed."""
    if actor.user_id is None:
        raise Invalid({"email": ["システム利用者には設定できません。"]})
    email = (email or "").strip()
    row = session.get(NotificationContact, actor.user_id)
    if not email:
        if row is not None:
            session.delete(row)
        audit.record(
            session, actor, "notification.contact", "user", str(actor.user_id), detail={"email": False}
        )
        session.flush()
        return None
    if len(email) > 254 or not EMAIL.match(email):
        raise Invalid({"email": ["メールアドレスの形式が正しくありません。"]})
    if row is None:
        row = NotificationContact(user_id=actor.user_id, email=email, enabled=enabled)
        session.add(row)
    else:
        row.email, row.enabled = email, enabled
    audit.record(
        session,
        actor,
        "notification.contact",
        "user",
        str(actor.user_id),
        detail={"email": True, "enabled": enabled},
    )
    session.flush()
    return row
