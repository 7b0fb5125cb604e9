"""Who may see a case beyond its intake agency: consents, plan roles and 支援会議 membership.

* ``consents`` / ``consent_recipients``: an F3 本人同意書 as data — the agencies it shares the case
  with, the information categories and the period. Withdrawal sets ``withdrawn_at`` on the consent (all
  recipients) or on single recipients (a partial withdrawal); rows are never deleted, so history stays.
* ``case_roles``: the agencies the approved plan (F5 役割分担) gives a role in the case.
* ``meetings`` / ``meeting_cases`` / ``meeting_members``: 重層的支援会議 and 支援会議 (社会福祉法第106条の6)
  with their agenda items and members. A 支援会議 is a compartment: its cases and records are visible
  only to its current members and the coordinating office (see :mod:`engine.compartments`).

No personal data lives here: ids, codes, category codes and timestamps only.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base

CONSENT_STATUSES = ("active", "withdrawn", "refused")
MEETING_KINDS = ("support", "plenary")  # 支援会議 (§106-6) | 重層的支援会議
AGENDA_STATUSES = ("planned", "discussed", "pulled")


class Consent(Base):
    __tablename__ = "consents"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    form_record_id: Mapped[int | None] = mapped_column(ForeignKey("form_records.id"))
    subject_ref: Mapped[str] = mapped_column(String(40), default="本人")
    consenter: Mapped[str] = mapped_column(String(40), default="")
    method: Mapped[str] = mapped_column(String(40), default="")
    categories: Mapped[list] = mapped_column(default=list)
    status: Mapped[str] = mapped_column(String(20), default="active")
    valid_from: Mapped[datetime]
    valid_until: Mapped[datetime | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
    withdrawn_at: Mapped[datetime | None]
    withdrawn_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    withdrawal_record_id: Mapped[int | None] = mapped_column(ForeignKey("form_records.id"))


class ConsentRecipient(Base):
    """One 共有先 of a consent: an agency, or the members of the 重層的支援会議 (``agency_id`` None)."""

    __tablename__ = "consent_recipients"
    __table_args__ = (Index("ix_consent_recipients_agency_consent", "agency_id", "consent_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    consent_id: Mapped[int] = mapped_column(ForeignKey("consents.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    kind: Mapped[str] = mapped_column(String(30), default="agency")
    withdrawn_at: Mapped[datetime | None]


class CaseRole(Base):
    """A role the plan gives an agency (``proposed`` until the plan is approved, then ``active``)."""

    __tablename__ = "case_roles"
    __table_args__ = (Index("ix_case_roles_case_agency", "case_id", "agency_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"), index=True)
    basis: Mapped[str] = mapped_column(String(30), default="plan")
    lead: Mapped[bool] = mapped_column(default=False)
    status: Mapped[str] = mapped_column(String(20), default="proposed")
    source_record_id: Mapped[int | None] = mapped_column(ForeignKey("form_records.id"))
    granted_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    revoked_reason: Mapped[str] = mapped_column(String(60), default="")


class Meeting(Base):
    """A 支援会議 (``support``, §106-6, a compartment) or a 重層的支援会議 (``plenary``)."""

    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    title: Mapped[str] = mapped_column(String(200), default="")
    legal_basis: Mapped[str] = mapped_column(String(60), default="")
    scheduled_at: Mapped[datetime | None]
    status: Mapped[str] = mapped_column(String(20), default="planned")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime]


class MeetingCase(Base):
    """An agenda item: a case discussed at a meeting. ``pulled`` items stay as history."""

    __tablename__ = "meeting_cases"
    __table_args__ = (UniqueConstraint("meeting_id", "case_id", name="uq_meeting_cases_meeting_case"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"))
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(20), default="planned")
    added_at: Mapped[datetime]
    pulled_at: Mapped[datetime | None]
    pulled_reason: Mapped[str] = mapped_column(String(60), default="")


class MeetingMember(Base):
    """A member of a meeting, for all its cases (``case_id`` None) or for one case. Removal keeps the row."""

    __tablename__ = "meeting_members"
    __table_args__ = (Index("ix_meeting_members_user_meeting", "user_id", "meeting_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    case_id: Mapped[int | None] = mapped_column(ForeignKey("cases.id"))
    added_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime]
    acknowledged_at: Mapped[datetime | None]
    removed_at: Mapped[datetime | None]
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
