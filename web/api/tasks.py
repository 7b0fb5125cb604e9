"""Tasks over the API: the inbox lists, one task with its form and draft, and the four actions.

``POST /tasks/{id}/claim|unclaim|draft|complete`` answer 200 with the case's open tasks after the
action; a lost race is 409 naming who acted first, a bad submission 422 with messages per field,
and a task the caller may not see 404 — all as problem+json (see :mod:`web.errors`).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request

from engine import cases, inbox, tasks
from engine.errors import Invalid

from ..auth import current_actor
from ..request_db import session, writes
from ..state import state
from . import bp
from .body import json_object
from .catalog import form_json
from .schemas import ActionResultSchema, InboxTaskSchema, SubmissionSchema, TaskDetailSchema
from .spec import doc

VIEW_HELP = "mine | claimable | agency | due_soon | overdue (default mine)"
# built once: schema instances hold no per-call state when dumping
INBOX_TASKS, TASK_DETAIL = InboxTaskSchema(many=True), TaskDetailSchema()
ACTION_RESULT = ActionResultSchema()


def _int_arg(name: str, default: int, hi: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or not 1 <= int(raw) <= hi:
        raise Invalid({name: [f"1以上{hi}以下の整数で指定してください。"]})
    return int(raw)


@bp.get("/tasks")
@doc("Open tasks in an inbox view", responses={200: [InboxTaskSchema]}, errors=(401, 422),
     params={"view": VIEW_HELP, "page": "1-based page", "per_page": "rows per page (max 200)",
             "sort": "due | created | case | step"})
def task_list():  # type: ignore[no-untyped-def]
    view = request.args.get("view", "mine")
    if view not in inbox.VIEWS:
        raise Invalid({"view": [f"{VIEW_HELP} のいずれかを指定してください。"]})
    page = inbox.list_tasks(state().engine, session(), current_actor(), view,  # type: ignore[arg-type]
                            sort=request.args.get("sort", "due"), page=_int_arg("page", 1, 100_000),
                            per_page=_int_arg("per_page", 50, inbox.MAX_PER_PAGE))
    response = jsonify(INBOX_TASKS.dump(page.rows))
    response.headers["X-Total-Count"] = str(page.total)
    return response


@bp.get("/tasks/<int:task_id>")
@writes
@doc("A task with its form definition and saved draft", responses={200: TaskDetailSchema})
def task(task_id: int):  # type: ignore[no-untyped-def]
    detail = tasks.task_detail(state().engine, session(), current_actor(), task_id)
    body: dict[str, Any] = {k: getattr(detail.task, k) for k in detail.task.__dataclass_fields__}
    body.update(form=form_json(detail.form) if detail.form is not None else None, draft=detail.draft,
                can_work=detail.can_work, can_claim=detail.can_claim)
    return jsonify(TASK_DETAIL.dump(body))


def _case_result(case_id: int) -> Any:
    case = cases.get_case(session(), current_actor(), case_id)
    open_tasks = inbox.case_tasks(session(), case, status="open")
    return jsonify(ACTION_RESULT.dump({
        "case_id": case.id, "case_number": case.case_number, "open_tasks": open_tasks,
        "finished": case.finished_at is not None or case.status in ("completed", "closed")}))


ACTION_ERRORS = (401, 404, 409)


@bp.post("/tasks/<int:task_id>/claim")
@doc("引き受け: assign the task to the caller", responses={200: ActionResultSchema},
     errors=ACTION_ERRORS + (403,))
def claim(task_id: int):  # type: ignore[no-untyped-def]
    json_object(optional=True)
    row = tasks.claim(session(), current_actor(), task_id)
    return _case_result(row.case_id)


@bp.post("/tasks/<int:task_id>/unclaim")
@doc("引き受け解除: give the task back to the queue", responses={200: ActionResultSchema},
     errors=ACTION_ERRORS + (403,))
def unclaim(task_id: int):  # type: ignore[no-untyped-def]
    json_object(optional=True)
    row = tasks.unclaim(session(), current_actor(), task_id)
    return _case_result(row.case_id)


@bp.post("/tasks/<int:task_id>/draft")
@doc("一時保存: keep the fields typed so far (types checked, completeness not)", body=SubmissionSchema,
     responses={200: ActionResultSchema}, errors=ACTION_ERRORS + (403, 415, 422))
def draft(task_id: int):  # type: ignore[no-untyped-def]
    data = json_object()
    tasks.save_draft(state().engine, session(), current_actor(), task_id, data)
    return _case_result(tasks.task_ref(state().engine, session(), current_actor(), task_id).case_id)


@bp.post("/tasks/<int:task_id>/complete")
@doc("完了: submit the form and advance the case", body=SubmissionSchema, responses={200: ActionResultSchema},
     errors=ACTION_ERRORS + (403, 415, 422))
def complete(task_id: int):  # type: ignore[no-untyped-def]
    data = json_object()
    result = tasks.complete(state().engine, session(), current_actor(), task_id, data)
    return jsonify(ACTION_RESULT.dump({
        "case_id": result.case_id, "case_number": result.case_number, "finished": result.case_finished,
        "open_tasks": result.open_tasks}))
