"""Starting cases from an intake form, and reading a case with its history.

A case is one process instance pinned to the definition version it started on. Starting validates
the start form, creates the workflow, runs it to its first wait state and projects its tasks, all
in the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, literal_column, select, union_all
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.orm import Session

from . import audit, case_updates, clock, hooks, policy, projection, runtime
from .actor import Actor
from .core import Engine
from .db import begin_write, is_postgresql
from .definitions import latest_definition, load_spec, startable_definitions
from .errors import Invalid, NotAllowed, NotFound
from .formschema import validate_submission
from .models import Agency, Case, CaseCounter, FormRecord, HumanTask, User
from .users import submission_lookups
from .views import TaskView, task_view

START_ROLES = ("window", "coordinator", "csw")
SUBJECT_FIELDS = {"subject_name": "subject_name", "subject_kana": "subject_kana"}


@dataclass
class StartResult:
    case_id: int
    case_number: str
    open_tasks: list[TaskView]


def routed(
    form_key: str, cleaned: dict[str, Any], reads: dict[str, list[str] | None]
) -> dict[str, Any] | None:
    """The part of a submission the diagram's expressions read; only this goes into task data.

    The full submission is kept in ``form_records``. Keeping task data small keeps case state small,
    keeps consultation text out of the workflow JSON, and means a form can never overwrite anything
    but its own namespace.
    """
    if form_key not in reads:
        return None
    fields = reads[form_key]
    if fields is None:
        return dict(cleaned)
    return {f: cleaned.get(f) for f in fields}


def fiscal_year(now: Any = None) -> int:
    local = (now or clock.now()).astimezone(clock.TOKYO)
    return local.year if local.month >= 4 else local.year - 1


def next_case_number(session: Session) -> str:
    """The next number of this fiscal year, in one atomic upsert: the first two starts of a year at once
    cannot both insert the year's counter (``INSERT … ON CONFLICT DO UPDATE … RETURNING``)."""
    year = fiscal_year()
    table = CaseCounter.__table__
    insert = pg_insert if is_postgresql(session) else sqlite_insert
    stmt = (insert(table).values(year=year, last=1)
            .on_conflict_do_update(index_elements=[table.c.year], set_={"last": table.c.last + 1})
            .returning(table.c.last))
    last = session.execute(stmt).scalar_one()
    return f"{year}-{last:05d}"


def default_process_id(session: Session) -> str:
    definitions = startable_definitions(session)
    if not definitions:
        raise NotFound("no startable process is deployed")
    return definitions[0].process_id


@audit.guarded("case.start", "case")
def start_case(
    engine: Engine, session: Session, actor: Actor, data: dict[str, Any], process_id: str | None = None
) -> StartResult:
    """Validate the start form, create the case and run it to its first human step."""
    begin_write(session)
    if not actor.has_role(*START_ROLES):
        raise NotAllowed("only window staff, the coordinating office and CSWs take consultations in")
    definition = latest_definition(session, process_id or default_process_id(session))
    if not definition.startable:
        raise NotFound(f"process {definition.process_id!r} cannot be started directly")
    loaded = load_spec(engine, definition)
    form = engine.forms.get(loaded.start_form_key)
    cleaned: dict[str, Any] = {}
    if form is not None:
        cleaned = validate_submission(form, data, submission_lookups(session))
    elif data:
        raise Invalid({"_form": ["この手続きは入力を受け付けません。"]})
    now = clock.now()
    workflow = runtime.new_workflow(engine, loaded)
    start = workflow.get_tasks(state=runtime.TaskState.READY)[0]
    if form is not None:
        value = routed(form.key, cleaned, loaded.reads)
        if value is not None:
            start.data[form.key] = value
    case = Case(
        case_number=next_case_number(session),
        definition=definition,
        status="active",
        intake_agency_id=actor.agency_id,
        started_by_id=actor.user_id,
        state=b"",
        serializer_version="",
        created_at=now,
        updated_at=now,
        **{col: str(cleaned.get(f) or "")[:200] for f, col in SUBJECT_FIELDS.items()},
    )
    session.add(case)
    session.flush()
    live = runtime.LiveCase(case=case, workflow=workflow, spec=loaded)
    start_meta = next(
        (m for m in loaded.tasks.get(definition.process_id, {}).values() if m["tag"] == "startEvent"), None
    )
    if start_meta:
        case_updates.apply(session, case, start_meta, start.data, engine.script_engine.budget_s)
    runtime.advance(live)
    rows = projection.sync(engine, session, live, projection.Names(session, case, actor))
    runtime.save(engine, session, live)
    if form is not None:
        record_id = store_form_record(
            session, case.id, None, form.key, "start", form.title, cleaned, actor.user_id, now
        )
        hooks.after_submission(
            hooks.Submission(engine, session, actor, case, None, form.key, cleaned, record_id)
        )
    audit.record(
        session,
        actor,
        "case.start",
        "case",
        str(case.id),
        case_id=case.id,
        detail={
            "process": definition.process_id,
            "version": definition.version,
            "form": form.key if form else None,
        },
    )
    session.flush()
    return StartResult(case.id, case.case_number, open_task_views(session, case, rows))


_INSERT_RECORD = FormRecord.__table__.insert().returning(FormRecord.__table__.c.id)


def store_form_record(
    session: Session,
    case_id: int,
    task_id: int | None,
    form_key: str,
    element_id: str,
    title: str,
    data: dict[str, Any],
    user_id: int | None,
    at: Any,
    compartment: bool = False,
) -> int:
    """Insert the full submission (the authoritative record of what was entered); return its id.

    ``compartment``: written inside the 支援会議 compartment (the case was confidential), so the record
    stays readable only by the meeting's members and the coordinating office (policy.record_filter)."""
    return (
        session.connection()
        .execute(
            _INSERT_RECORD,
            {
                "case_id": case_id,
                "human_task_id": task_id,
                "form_key": form_key,
                "element_id": element_id,
                "title": title,
                "data": data,
                "submitted_by_id": user_id,
                "submitted_at": at,
                "compartment": compartment,
            },
        )
        .scalar_one()
    )


# The names the task views show, in one round trip (assignees and agencies of the open tasks).
_NAMES = union_all(
    select(literal_column("'user'").label("kind"), User.id, User.display_name)
    .where(User.id.in_(bindparam("user_ids", expanding=True))),
    select(literal_column("'agency'"), Agency.id, Agency.name)
    .where(Agency.id.in_(bindparam("agency_ids", expanding=True))),
)


def open_task_views(session: Session, case: Case, rows: list[HumanTask]) -> list[TaskView]:
    user_ids = sorted({r.assignee_id for r in rows if r.assignee_id})
    agency_ids = sorted({r.agency_id for r in rows if r.agency_id})
    names: dict[str, dict[int, str]] = {"user": {}, "agency": {}}
    if user_ids or agency_ids:
        params = {"user_ids": user_ids, "agency_ids": agency_ids}
        for kind, row_id, name in session.connection().execute(_NAMES, params):
            names[kind][row_id] = name
    users, agencies = names["user"], names["agency"]
    return [
        task_view(r, case.case_number, users, agencies, stage=case.stage)
        for r in sorted(rows, key=lambda r: (r.created_at, r.id))
    ]


def get_case(session: Session, actor: Actor, case_id: int) -> Case:
    return policy.visible_case(session, actor, case_id)


@dataclass
class FormRecordView:
    id: int
    form_key: str
    title: str
    element_id: str
    data: dict[str, Any]
    submitted_by: str | None
    submitted_at: Any
    compartment: bool = False


@dataclass
class CaseDetail:
    case: Case
    open_tasks: list[TaskView]
    history: list[TaskView]
    records: list[FormRecordView]
    process_name: str
    process_version: int


@audit.guarded("case.read", "case", "case_id")
def case_detail(session: Session, actor: Actor, case_id: int) -> CaseDetail:
    """Everything the case page shows; records one ``case.read`` audit event."""
    from .inbox import case_tasks  # local import: inbox imports views that import cases' DTOs

    case = policy.visible_case(session, actor, case_id)
    all_tasks = case_tasks(session, case)
    names = dict(session.execute(select(User.id, User.display_name)).tuples().all())
    records = [
        FormRecordView(
            r.id, r.form_key, r.title, r.element_id, r.data, names.get(r.submitted_by_id), r.submitted_at,
            r.compartment,
        )
        for r in session.scalars(
            select(FormRecord)
            .where(policy.record_filter(session, actor, case))
            .order_by(FormRecord.submitted_at, FormRecord.id)
        )
    ]
    audit.record(session, actor, "case.read", "case", str(case.id), case_id=case.id)
    return CaseDetail(
        case=case,
        open_tasks=[t for t in all_tasks if t.status == "open"],
        history=[t for t in all_tasks if t.status == "completed"],
        records=records,
        process_name=case.definition.name,
        process_version=case.definition.version,
    )
