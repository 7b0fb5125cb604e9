"""Append-only audit events, hash-chained so that a changed, removed or inserted row is detectable."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class AuditEvent(Base):
    __tablename__ = "audit_events"
    __table_args__ = (
        Index("ix_audit_events_case", "case_id", "id"),
        Index("ix_audit_events_user", "user_id", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime]
    user_id: Mapped[int | None]
    username: Mapped[str] = mapped_column(String(80))
    agency_id: Mapped[int | None]
    role: Mapped[str] = mapped_column(String(40), default="")
    action: Mapped[str] = mapped_column(String(60), index=True)
    object_type: Mapped[str] = mapped_column(String(40))
    object_id: Mapped[str] = mapped_column(String(80), default="")
    case_id: Mapped[int | None]
    task_id: Mapped[int | None]
    allowed: Mapped[bool] = mapped_column(default=True)
    request_id: Mapped[str] = mapped_column(String(64), default="")
    # the request's client address (IPv6 at most 45 characters); None outside web requests (0007)
    client_ip: Mapped[str | None] = mapped_column(String(45))
    detail: Mapped[dict]
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class AuditHead(Base):
    """The single row holding the hash of the newest audit event; locking it orders the chain."""

    __tablename__ = "audit_head"

    id: Mapped[int] = mapped_column(primary_key=True)
    last_id: Mapped[int] = mapped_column(default=0)
    last_hash: Mapped[str] = mapped_column(String(64))
