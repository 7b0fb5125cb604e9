"""Bulk data for scheduler tests and benchmarks: many open tasks inserted directly (no engine runs)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session

from engine import clock
from engine.models import Case, HumanTask, ProcessDefinition

TASKS_PER_CASE = 100


def bulk_tasks(
    session: Session,
    count: int,
    due_at: datetime | list[datetime],
    *,
    agency_id: int | None = None,
    assignee_id: int | None = None,
    prefix: str = "B",
) -> list[int]:
    """Insert ``count`` open tasks (in cases of up to 100 tasks each) due at ``due_at``; return task ids.

    Needs one deployed process definition (any). The cases have no workflow state: only the
    projected columns the scheduler and the supervisor views read.
    """
    definition_id = session.scalar(select(func.min(ProcessDefinition.id)))
    assert definition_id is not None, "deploy a process first"
    now = clock.now()
    dues = due_at if isinstance(due_at, list) else [due_at] * count
    n_cases = -(-count // TASKS_PER_CASE)
    run = uuid.uuid4().hex[:6]
    case_rows = [
        {
            "case_number": f"{prefix}{run}-{i:05d}",
            "process_definition_id": definition_id,
            "status": "active",
            "current_step": "窓口での対応",
            "stage": "intake",
            "intake_agency_id": agency_id,
            "state": b"",
            "serializer_version": "",
            "created_at": now,
            "updated_at": now,
        }
        for i in range(n_cases)
    ]
    case_ids = list(session.scalars(insert(Case).returning(Case.id), case_rows))
    task_rows = [
        {
            "case_id": case_ids[i // TASKS_PER_CASE],
            "spiff_task_id": str(uuid.uuid4()),
            "element_id": "window_response",
            "process_id": "referral_test",
            "title": "窓口での対応",
            "lane": "窓口",
            "role": "window",
            "agency_id": agency_id,
            "assignee_id": assignee_id,
            "status": "open",
            "created_at": now,
            "due_at": dues[i],
            "claimed_at": now if assignee_id else None,
        }
        for i in range(count)
    ]
    ids: list[int] = []
    for start in range(0, len(task_rows), 5000):
        ids.extend(
            session.scalars(insert(HumanTask).returning(HumanTask.id), task_rows[start : start + 5000])
        )
    return ids
