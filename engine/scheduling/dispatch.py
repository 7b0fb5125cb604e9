"""The dispatcher: outbox → in-app notifications, and e-mail over SMTP when it is configured.

Each pending outbox row (one per escalation) becomes one ``notifications`` row per recipient, in one
transaction with marking the outbox row sent; ``UNIQUE(message_id, user_id)`` makes a repeated
delivery (after a crash between insert and commit, or a second dispatcher) a no-op. The message id
is ``esc-<escalation id>``.

Recipients (see :mod:`.escalation`): a reminder goes to the assignee, or to the agency's supervisors
while nobody has claimed the task; level 1 to the assignee and the agency's supervisors; level 2 to
the agency's supervisors and the supervisors of the coordinating office.

E-mail (only when ``smtp_host`` is set and the user gave an address on the notifications page) is
sent after the commit. It carries a link to the notice and no personal data: no name, no case
content, not even the step title. Its ``Message-ID`` is derived from the message id and the user, so
a receiver can drop the duplicate that a crash between sending and recording could cause. A failed
send is retried after 1, 5 and 15 minutes, then marked ``failed``.
"""

from __future__ import annotations

import logging
import smtplib
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import formatdate
from typing import Any

from sqlalchemy import String, and_, case, cast, exists, literal, null, or_, select, true, union, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from .. import clock
from ..core import Engine
from ..db import is_postgresql, transaction
from ..models import (
    Agency,
    Escalation,
    Notification,
    NotificationContact,
    OutboxMessage,
    User,
    UserRole,
    UTCDateTime,
)

log = logging.getLogger("tsunagu.scheduler")

DEFAULT_BATCH = 5000
EMAIL_BATCH = 100
EMAIL_BACKOFF_MINUTES = (1, 5, 15)
SUBJECTS = {
    0: "【つなぐ】期限間近のタスクがあります",
    1: "【つなぐ】期限を過ぎたタスクがあります",
    2: "【つなぐ】期限を大きく過ぎたタスクがあります（上長への通知）",
}


def message_id(escalation_id: int) -> str:
    return f"esc-{escalation_id}"


def recipients_query(escalation_ids: list[int]) -> Any:
    """``(escalation_id, user_id)`` of everyone told about these escalations, without duplicates.

    Level 0: the assignee, or the agency's supervisors while nobody has claimed the task; level 1:
    the assignee and the agency's supervisors; level 2: the agency's supervisors and the supervisors
    of the coordinating office (担当部署). Only active users.
    """
    mine = Escalation.id.in_(escalation_ids)
    assignee = (
        select(Escalation.id.label("escalation_id"), Escalation.assignee_id.label("user_id"))
        .join(User, User.id == Escalation.assignee_id)
        .where(mine, Escalation.level.in_((0, 1)), User.active.is_(True))
    )
    supervisor = (
        select(User.id)
        .join(UserRole, UserRole.user_id == User.id)
        .where(UserRole.role == "supervisor", User.active.is_(True))
    )
    agency = (
        select(Escalation.id, User.id)
        .join(User, User.agency_id == Escalation.agency_id)
        .where(
            mine, User.id.in_(supervisor), or_(Escalation.level.in_((1, 2)), Escalation.assignee_id.is_(None))
        )
    )
    office = (
        select(Escalation.id, User.id)
        .join(User, true())
        .join(Agency, Agency.id == User.agency_id)
        .where(mine, Escalation.level == 2, Agency.kind == "coordinating_office", User.id.in_(supervisor))
    )
    return union(assignee, agency, office).subquery("recipients")


def _insert_notifications(session: Session):  # type: ignore[no-untyped-def]
    return (postgresql.insert if is_postgresql(session) else sqlite.insert)(Notification)


def deliver_batch(engine: Engine, session: Session, now: datetime, batch: int) -> int:
    """Turn up to ``batch`` pending outbox rows into notifications (flushes); returns rows handled."""
    stmt = (
        select(OutboxMessage.id, OutboxMessage.escalation_id)
        .where(OutboxMessage.status == "pending", OutboxMessage.next_attempt_at <= now)
        .order_by(OutboxMessage.id)
        .limit(batch)
    )
    if is_postgresql(session):
        stmt = stmt.with_for_update(skip_locked=True)
    rows = session.execute(stmt).all()
    if not rows:
        return 0
    rec = recipients_query([r.escalation_id for r in rows])
    at = literal(now, UTCDateTime)
    contact = exists().where(
        NotificationContact.user_id == rec.c.user_id, NotificationContact.enabled.is_(True)
    )
    email = and_(literal(bool(engine.settings.smtp_host)), contact)
    source = (
        select(
            literal("esc-") + cast(Escalation.id, String),
            rec.c.user_id,
            Escalation.kind,
            Escalation.level,
            Escalation.task_id,
            Escalation.case_id,
            at,
            case((email, "pending"), else_="none"),
            literal(0),
            case((email, at), else_=null()),
        )
        .join(Escalation, Escalation.id == rec.c.escalation_id)
        .where(Escalation.id.in_([r.escalation_id for r in rows]))
    )
    columns = [
        "message_id",
        "user_id",
        "kind",
        "level",
        "task_id",
        "case_id",
        "created_at",
        "email_status",
        "email_attempts",
        "email_next_at",
    ]
    session.execute(_insert_notifications(session).from_select(columns, source).on_conflict_do_nothing())
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id.in_([r.id for r in rows]))
        .values(status="sent", sent_at=now, attempts=OutboxMessage.attempts + 1)
    )
    session.flush()
    return len(rows)


def sweep(
    engine: Engine,
    sessions: sessionmaker[Session],
    batch: int = DEFAULT_BATCH,
    should_continue: object = None,
) -> int:
    """Deliver every pending outbox row (one transaction per batch), then send due e-mails."""
    keep_going = should_continue if callable(should_continue) else (lambda: True)
    delivered = 0
    while keep_going():
        with transaction(sessions, write=True) as session:
            n = deliver_batch(engine, session, clock.now(), batch)
        if not n:
            break
        delivered += n
    if engine.settings.smtp_host and keep_going():
        send_emails(engine, sessions)
    return delivered


def compose(engine: Engine, notification: Notification, address: str) -> EmailMessage:
    """The e-mail for one notification: a link and nothing personal."""
    settings = engine.settings
    msg = EmailMessage()
    msg["From"] = settings.smtp_sender
    msg["To"] = address
    msg["Subject"] = SUBJECTS.get(notification.level, SUBJECTS[1])
    msg["Date"] = formatdate(localtime=False)
    domain = settings.smtp_sender.rpartition("@")[2] or "tsunagu.invalid"
    msg["Message-ID"] = f"<tsunagu-{notification.message_id}-u{notification.user_id}@{domain}>"
    link = f"{settings.base_url.rstrip('/')}/notifications/{notification.id}"
    msg.set_content(
        "つなぐに新しいお知らせがあります。内容はログインして確認してください。\n\n"
        f"{link}\n\nこのメールは送信専用です。個人情報は記載していません。\n"
    )
    return msg


def _send(engine: Engine, messages: list[EmailMessage]) -> list[bool]:
    settings = engine.settings
    results = []
    try:
        with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=30) as smtp:
            for msg in messages:
                try:
                    smtp.send_message(msg)
                    results.append(True)
                except smtplib.SMTPException:
                    results.append(False)
    except (OSError, smtplib.SMTPException) as exc:
        log.warning("SMTP unavailable: %s", type(exc).__name__)
    return results + [False] * (len(messages) - len(results))


def send_emails(engine: Engine, sessions: sessionmaker[Session], batch: int = EMAIL_BATCH) -> int:
    """Send the e-mails that are due; record sent / retry / failed. Returns how many were sent."""
    now = clock.now()
    with transaction(sessions) as session:
        rows = session.execute(
            select(Notification, NotificationContact.email)
            .join(NotificationContact, NotificationContact.user_id == Notification.user_id)
            .where(Notification.email_status == "pending", Notification.email_next_at <= now)
            .order_by(Notification.id)
            .limit(batch)
        ).all()
    if not rows:
        return 0
    outcome = _send(engine, [compose(engine, n, address) for n, address in rows])
    with transaction(sessions, write=True) as session:
        for (n, _), ok in zip(rows, outcome, strict=True):
            _record_email(session, n, ok, now)
    return sum(outcome)


def _record_email(session: Session, n: Notification, ok: bool, now: datetime) -> None:
    if ok:
        values: dict[str, object] = {"email_status": "sent", "email_next_at": None}
    elif n.email_attempts + 1 > len(EMAIL_BACKOFF_MINUTES):
        values = {"email_status": "failed", "email_next_at": None}
    else:
        values = {"email_next_at": now + timedelta(minutes=EMAIL_BACKOFF_MINUTES[n.email_attempts])}
    session.execute(
        update(Notification)
        .where(Notification.id == n.id, Notification.email_status == "pending")
        .values(email_attempts=Notification.email_attempts + 1, **values)
    )
