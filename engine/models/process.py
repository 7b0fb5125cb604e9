"""Deployed process definitions: one deployment per distinct bundle of files, one row per process."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from .base import Base


class Deployment(Base):
    """A bundle of BPMN files identified by the SHA-256 of their names and contents."""

    __tablename__ = "deployments"

    id: Mapped[int] = mapped_column(primary_key=True)
    version: Mapped[int] = mapped_column(unique=True)
    content_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    created_by: Mapped[str] = mapped_column(String(80))

    files: Mapped[list[DeploymentFile]] = relationship(lazy="selectin", cascade="all, delete-orphan")


class DeploymentFile(Base):
    __tablename__ = "deployment_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)


class ProcessDefinition(Base):
    """One executable process of a deployment, with its parsed spec stored once for all its cases."""

    __tablename__ = "process_definitions"
    __table_args__ = (
        UniqueConstraint("process_id", "version", name="uq_process_definitions_process_version"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    deployment_id: Mapped[int] = mapped_column(ForeignKey("deployments.id"), index=True)
    process_id: Mapped[str] = mapped_column(String(200), index=True)
    name: Mapped[str] = mapped_column(String(300))
    version: Mapped[int]
    file_name: Mapped[str] = mapped_column(String(255))
    # The serialized SpiffWorkflow spec and the specs of every process it calls.
    spec_json: Mapped[str] = mapped_column(Text, deferred=True)
    # Per-element metadata read from the XML: forms, due times, roles, assignees (engine.bpmn.conventions).
    task_meta: Mapped[dict] = mapped_column(deferred=True)
    start_form_key: Mapped[str | None] = mapped_column(String(100))
    startable: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]
