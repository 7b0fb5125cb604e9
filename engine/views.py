"""Plain read models (DTOs) handed to the web layer: no ORM objects leave the engine's queries."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .models import HumanTask


@dataclass(frozen=True)
class TaskView:
    id: int
    case_id: int
    case_number: str
    element_id: str
    process_id: str
    title: str
    lane: str
    role: str
    agency_id: int | None
    agency_name: str | None
    assignee_id: int | None
    assignee_name: str | None
    status: str
    form_key: str | None
    created_at: datetime
    due_at: datetime | None
    completed_at: datetime | None
    completed_by_name: str | None
    subject_name: str | None = None
    stage: str = ""


def task_view(row: HumanTask, case_number: str, names: dict[int, str], agencies: dict[int, str],
              subject_name: str | None = None, stage: str = "") -> TaskView:
    return TaskView(
        id=row.id, case_id=row.case_id, case_number=case_number, element_id=row.element_id,
        process_id=row.process_id, title=row.title, lane=row.lane, role=row.role, agency_id=row.agency_id,
        agency_name=agencies.get(row.agency_id) if row.agency_id else None, assignee_id=row.assignee_id,
        assignee_name=names.get(row.assignee_id) if row.assignee_id else None, status=row.status,
        form_key=row.form_key, created_at=row.created_at, due_at=row.due_at, completed_at=row.completed_at,
        completed_by_name=names.get(row.completed_by_id) if row.completed_by_id else None,
        subject_name=subject_name, stage=stage,
    )
