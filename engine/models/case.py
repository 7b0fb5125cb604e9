"""Cases and the human tasks projected from their workflow state.

Everything the inbox, the supervisor views and access checks filter on is a column here, written
in the same transaction as the serialized workflow. Nothing ever searches the workflow JSON.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, LargeBinary, String, false
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base
from .process import ProcessDefinition

CASE_STATUSES = ("active", "waiting_consent", "completed", "closed", "suspended", "error")
TASK_STATUSES = ("open", "completed", "cancelled")


class Case(Base):
    __tablename__ = "cases"
    __table_args__ = (
        Index("ix_cases_status_updated", "status", "updated_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_number: Mapped[str] = mapped_column(String(40), unique=True)
    process_definition_id: Mapped[int] = mapped_column(ForeignKey("process_definitions.id"), index=True)
    status: Mapped[str] = mapped_column(String(30), default="active", index=True)
    current_step: Mapped[str] = mapped_column(String(300), default="")
    stage: Mapped[str] = mapped_column(String(40), default="", index=True)
    subject_name: Mapped[str] = mapped_column(String(200), default="")
    subject_kana: Mapped[str] = mapped_column(String(200), default="")
    intake_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    started_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    csw_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    lead_agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    consent_status: Mapped[str] = mapped_column(String(30), default="unknown")
    confidential: Mapped[bool] = mapped_column(default=False)
    outcome: Mapped[str] = mapped_column(String(100), default="")
    # The workflow state, zlib-compressed JSON (engine.bpmn.serializer.encode_state). Loaded only when
    # the live workflow is not cached (deferred): it is the biggest column.
    state: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)
    serializer_version: Mapped[str] = mapped_column(String(20))
    version: Mapped[int] = mapped_column(default=1)
    next_timer_at: Mapped[datetime | None] = mapped_column(index=True)
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]
    finished_at: Mapped[datetime | None]

    definition: Mapped[ProcessDefinition] = relationship(lazy="select")

    # Optimistic version counter: every UPDATE checks and increments it (StaleDataError on a lost race).
    __mapper_args__ = {"version_id_col": version}


class HumanTask(Base):
    __tablename__ = "human_tasks"
    __table_args__ = (
        Index("ix_human_tasks_status_assignee", "status", "assignee_id"),
        Index("ix_human_tasks_status_role_agency", "status", "role", "agency_id"),
        Index("ix_human_tasks_status_due", "status", "due_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    spiff_task_id: Mapped[str] = mapped_column(String(36), unique=True)
    element_id: Mapped[str] = mapped_column(String(200))
    process_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    lane: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(40))
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(20), default="open")
    form_key: Mapped[str | None] = mapped_column(String(100))
    created_at: Mapped[datetime]
    due_at: Mapped[datetime | None]
    claimed_at: Mapped[datetime | None]
    completed_at: Mapped[datetime | None]
    completed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    cancelled_reason: Mapped[str] = mapped_column(String(100), default="")

    case: Mapped[Case] = relationship(lazy="raise")


class TaskDraft(Base):
    """一時保存: what a user typed into an open task, kept outside the engine's task data."""

    __tablename__ = "task_drafts"

    human_task_id: Mapped[int] = mapped_column(ForeignKey("human_tasks.id", ondelete="CASCADE"),
                                               primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    data: Mapped[dict]
    saved_at: Mapped[datetime]


class FormRecord(Base):
    """A completed form: the full submission, the authoritative record of what was entered."""

    __tablename__ = "form_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    human_task_id: Mapped[int | None] = mapped_column(ForeignKey("human_tasks.id"), index=True)
    form_key: Mapped[str] = mapped_column(String(100))
    element_id: Mapped[str] = mapped_column(String(200))
    title: Mapped[str] = mapped_column(String(300))
    data: Mapped[dict]
    submitted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    submitted_at: Mapped[datetime]
    # Written inside the 支援会議 compartment (a case note on a confidential case, or based on a 支援会議):
    # only the compartment reads it (policy.record_filter), even after the case leaves the compartment.
    compartment: Mapped[bool] = mapped_column(default=False, server_default=false())


class CaseCounter(Base):
    """Per-year sequence for case numbers (R8-00012 style), incremented under the write lock."""

    __tablename__ = "case_counters"

    year: Mapped[int] = mapped_column(primary_key=True)
    last: Mapped[int] = mapped_column(default=0)
