"""``POST /api/v1/cases`` (start a case from the start form's fields), ``GET /api/v1/cases/{id}``, and the
case's 支援経過記録 (F8 case notes): ``GET`` / ``POST /api/v1/cases/{id}/notes``."""

from __future__ import annotations

from flask import jsonify, request, url_for

from engine import case_notes, cases

from ..auth import current_actor
from ..request_db import session, writes
from ..state import state
from . import bp
from .body import json_object
from .schemas import CaseSchema, NoteSchema, StartedSchema, SubmissionSchema
from .spec import doc

STARTED, CASE, NOTE, NOTES = StartedSchema(), CaseSchema(), NoteSchema(), NoteSchema(many=True)


@bp.post("/cases")
@doc("Start a case (body: the start form's fields)", body=SubmissionSchema, responses={201: StartedSchema},
     params={"process": "process id (default: the only or first startable process)"},
     errors=(401, 403, 404, 415, 422))
def start():  # type: ignore[no-untyped-def]
    data = json_object()
    result = cases.start_case(state().engine, session(), current_actor(), data, request.args.get("process"))
    body = STARTED.dump({"id": result.case_id, "case_number": result.case_number,
                                 "open_tasks": result.open_tasks})
    response = jsonify(body)
    response.status_code = 201
    response.headers["Location"] = url_for("api.case", case_id=result.case_id)
    return response


@bp.get("/cases/<int:case_id>")
@writes
@doc("A case: status, open tasks, next timer, completed steps", responses={200: CaseSchema})
def case(case_id: int):  # type: ignore[no-untyped-def]
    detail = cases.case_detail(session(), current_actor(), case_id)
    c = detail.case
    return jsonify(CASE.dump({
        "id": c.id, "case_number": c.case_number, "status": c.status, "stage": c.stage,
        "current_step": c.current_step,
        "finished": c.finished_at is not None or c.status in ("completed", "closed"),
        "open_tasks": detail.open_tasks, "next_timer_at": c.next_timer_at, "history": detail.history}))


@bp.get("/cases/<int:case_id>/notes")
@writes
@doc("The case's 支援経過記録 the caller may read, newest first", responses={200: [NoteSchema]})
def case_notes_list(case_id: int):  # type: ignore[no-untyped-def]
    return jsonify(NOTES.dump(case_notes.list_notes(session(), current_actor(), case_id)))


@bp.post("/cases/<int:case_id>/notes")
@doc("Add a 支援経過記録 (body: the case_note form's fields)", body=SubmissionSchema,
     responses={201: NoteSchema}, errors=(401, 403, 404, 415, 422))
def case_notes_add(case_id: int):  # type: ignore[no-untyped-def]
    note = case_notes.add_note(state().engine, session(), current_actor(), case_id, json_object())
    response = jsonify(NOTE.dump(note))
    response.status_code = 201
    return response
