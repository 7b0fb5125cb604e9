"""Scheduler tables: the lease, escalations (exactly once per task and level), the outbox, notifications.

* ``scheduler_lease``: one row per lease name; whoever holds an unexpired row runs the sweeps.
* ``escalations``: one row per (task, level) — ``UNIQUE(task_id, level)`` is what makes a reminder
  (level 0) and the overdue escalations (levels 1 and 2) happen exactly once, whatever crashes.
* ``outbox``: one row per escalation, written in the same transaction; the dispatcher turns it into
  notifications (and e-mails) after the commit.
* ``notifications``: what a member of staff sees; ``UNIQUE(message_id, user_id)`` makes delivery
  idempotent. ``notification_contacts`` holds the e-mail address a user wants notices sent to.
* ``scheduler_incidents``: a timer or delivery that keeps failing, with its back-off (R12).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

ESCALATION_KINDS = {0: "reminder", 1: "overdue", 2: "overdue"}


class SchedulerLease(Base):
    __tablename__ = "scheduler_lease"

    name: Mapped[str] = mapped_column(String(40), primary_key=True)
    holder: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime]
    renewed_at: Mapped[datetime]
    expires_at: Mapped[datetime]


class Escalation(Base):
    """A reminder (level 0, 期限間近) or an overdue escalation (level 1, 2; 期限超過) of one task."""

    __tablename__ = "escalations"
    __table_args__ = (UniqueConstraint("task_id", "level", name="uq_escalations_task_level"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"))
    level: Mapped[int]
    kind: Mapped[str] = mapped_column(String(20))
    case_id: Mapped[int] = mapped_column(index=True)
    agency_id: Mapped[int | None]
    assignee_id: Mapped[int | None]
    due_at: Mapped[datetime]
    created_at: Mapped[datetime]


class OutboxMessage(Base):
    """A message to deliver after the commit that created it; ``escalation_id`` is its message id."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    escalation_id: Mapped[int] = mapped_column(ForeignKey("escalations.id", ondelete="CASCADE"), unique=True)
    status: Mapped[str] = mapped_column(String(20), default="pending")  # pending, sent
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime]
    created_at: Mapped[datetime]
    sent_at: Mapped[datetime | None]


class Notification(Base):
    """通知: one notice to one member of staff. E-mail state is tracked per notification."""

    __tablename__ = "notifications"
    __table_args__ = (
        UniqueConstraint("message_id", "user_id", name="uq_notifications_message_user"),
        Index("ix_notifications_user_read", "user_id", "read_at"),
        Index("ix_notifications_email", "email_status", "email_next_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[str] = mapped_column(String(80))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    kind: Mapped[str] = mapped_column(String(20))
    level: Mapped[int]
    task_id: Mapped[int | None]
    case_id: Mapped[int | None]
    created_at: Mapped[datetime]
    read_at: Mapped[datetime | None]
    # none (no address or no SMTP), pending, sent, failed
    email_status: Mapped[str] = mapped_column(String(20), default="none")
    email_attempts: Mapped[int] = mapped_column(default=0)
    email_next_at: Mapped[datetime | None]


class NotificationContact(Base):
    """Where a user wants notices e-mailed (optional; staff set it on the notifications page)."""

    __tablename__ = "notification_contacts"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    email: Mapped[str] = mapped_column(String(254))
    enabled: Mapped[bool] = mapped_column(default=True)


class SchedulerIncident(Base):
    """A case whose timers keep failing (kind ``timer``), shown to supervisors; back-off in ``retry_at``."""

    __tablename__ = "scheduler_incidents"
    __table_args__ = (UniqueConstraint("kind", "object_id", name="uq_scheduler_incidents_kind_object"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20))
    object_id: Mapped[int]
    attempts: Mapped[int] = mapped_column(default=0)
    error: Mapped[str] = mapped_column(String(200), default="")
    first_at: Mapped[datetime]
    last_at: Mapped[datetime]
    retry_at: Mapped[datetime]
    resolved_at: Mapped[datetime | None]
