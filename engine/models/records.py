"""Growing case records written by after-submission hooks (engine/records.py), one row per event.

Long-lived repetition (アウトリーチ contacts, monitoring cycles, 参加支援 follow-ups) must not grow the
workflow's task data (engine-notes §4.2), so each submission leaves a row here with the structured
fields that lists and statistics need; the full submission, free text included, stays in
``form_records`` (linked by ``form_record_id``). Codes, dates and ids only: no names, no narrative.
"""

from __future__ import annotations

from datetime import date, datetime

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base


class OutreachContact(Base):
    """F12 接触記録: one contact attempt of the outreach (アウトリーチ)."""

    __tablename__ = "outreach_contacts"
    __table_args__ = (Index("ix_outreach_contacts_case_at", "case_id", "contact_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    form_record_id: Mapped[int | None] = mapped_column(ForeignKey("form_records.id"))
    contact_at: Mapped[datetime]
    method: Mapped[str] = mapped_column(String(30))
    result: Mapped[str] = mapped_column(String(30))
    contact_made: Mapped[bool]
    safety_checked: Mapped[bool] = mapped_column(default=False)
    stage: Mapped[str] = mapped_column(String(30))
    next_date: Mapped[date | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class OutreachStageChange(Base):
    """F12 段階変更ログ: the outreach stage (①把握 … ⑦安定・終結) moved from one value to another."""

    __tablename__ = "outreach_stage_changes"
    __table_args__ = (Index("ix_outreach_stage_changes_case_id", "case_id", "id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    form_record_id: Mapped[int | None] = mapped_column(ForeignKey("form_records.id"))
    from_stage: Mapped[str] = mapped_column(String(30), default="")
    to_stage: Mapped[str] = mapped_column(String(30))
    changed_on: Mapped[date]
    changed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime]


class MonitoringRecord(Base):
    """F9 モニタリング記録: one monitoring cycle."""

    __tablename__ = "monitoring_records"
    __table_args__ = (Index("ix_monitoring_records_case_done", "case_id", "done_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    form_record_id: Mapped[int | None] = mapped_column(ForeignKey("form_records.id"))
    done_on: Mapped[date]
    method: Mapped[str] = mapped_column(String(30))
    judgement: Mapped[str] = mapped_column(String(30))
    new_issue: Mapped[bool] = mapped_column(default=False)
    next_date: Mapped[date | None]
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]


class ParticipationFollowup(Base):
    """F11 定着支援・受入先フォロー: one follow-up (1週間・1か月・3か月後) of 参加支援."""

    __tablename__ = "participation_followups"
    __table_args__ = (Index("ix_participation_followups_case_on", "case_id", "followed_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))
    form_record_id: Mapped[int | None] = mapped_column(ForeignKey("form_records.id"))
    element_id: Mapped[str] = mapped_column(String(200))
    followed_on: Mapped[date]
    targets: Mapped[list]
    status: Mapped[str] = mapped_column(String(30))
    judgement: Mapped[str] = mapped_column(String(30))
    recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    recorded_at: Mapped[datetime]
