"""Supervisor API: ``GET /api/v1/supervisor/overdue`` and ``GET /api/v1/supervisor/summary``.

``overdue`` answers ``[{task_id, case_id, case_number, element_id, title, agency, assignee, due_at,
overdue_days}]`` (filters ``step``, ``agency``, ``assignee``, ``unassigned=1``), most overdue first;
``summary`` the counts by step, agency and worker, idle cases and timer incidents. Callers without
the supervisor or coordinator role get 403.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from engine import supervision

from ..api.spec import doc
from ..auth import current_actor
from ..request_db import session
from ..state import state
from . import filters

bp = Blueprint("supervisor_api", __name__, url_prefix="/api/v1/supervisor")

OVERDUE_KEYS = (
    "task_id",
    "case_id",
    "case_number",
    "element_id",
    "title",
    "agency",
    "assignee",
    "due_at",
    "overdue_days",
)


@bp.get("/overdue")
@doc(
    "Overdue open tasks (期限超過) in the supervisor's scope",
    errors=(401, 403),
    params={"step": "BPMN element id", "agency": "agency id", "assignee": "user id", "unassigned": "1"},
)
def overdue():  # type: ignore[no-untyped-def]
    rows = supervision.task_list(state().engine, session(), current_actor(), "overdue", **filters())
    return jsonify([{k: v for k, v in r.as_json().items() if k in OVERDUE_KEYS} for r in rows])


@bp.get("/summary")
@doc("Counts of waiting, due-soon and overdue tasks by step, agency and worker", errors=(401, 403))
def summary():  # type: ignore[no-untyped-def]
    return jsonify(supervision.summary(state().engine, session(), current_actor()))
