"""F8 支援経過記録 (case notes): what staff record about a case at any time, outside the BPMN steps.

A note is a submission of the ``case_note`` form stored as a ``form_records`` row without a task
(element ``case_note``), so it is read with the case's other records through the same policy
(:func:`engine.policy.record_filter`: consent categories, 支援会議 compartment) and shows up in
:func:`engine.cases.case_detail` without a second read. Writing needs ``note.write`` on the case
(those who work on it: the coordinating office, the intake agency, plan roles, the case's CSW, whoever
holds an open task, 支援会議 members; never on a closed case).

The 支援会議 compartment (社会福祉法第106条の6): a note written while the case is confidential, or whose
情報の根拠 is the 支援会議, is marked ``compartment`` and stays readable only by the meeting's members
and the coordinating office, even after the case leaves the compartment. Only they may give the
支援会議 as the basis, and only on a case that has one. Each operation records exactly one audit event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, clock, compartments, hooks, policy, runtime
from .actor import Actor
from .core import Engine
from .db import begin_write
from .errors import Invalid, NotAllowed, NotFound
from .formdefs import FormDef
from .formschema import validate_submission
from .models import FormRecord, User
from .policy_matrix import matrix
from .users import lookups

FORM_KEY = "case_note"
ELEMENT_ID = "case_note"
ACTION = "note.write"
BASIS_FIELD = "basis"
SUPPORT_MEETING = "support_meeting"
NO_MEETING = "このケースは支援会議で検討されていません。情報の根拠を確認してください。"
NOT_MEMBER = "支援会議を根拠とする記録は、支援会議の構成員と担当部署だけが書けます。"


@dataclass
class NoteView:
    """One note as the case page and the API show it (``data`` holds the form's fields)."""

    id: int
    noted_at: datetime | None
    data: dict[str, Any]
    recorded_by: str | None
    recorded_at: datetime
    compartment: bool


def note_form(engine: Engine) -> FormDef | None:
    """The ``case_note`` form definition, or None when the deployment has none."""
    return engine.forms.get(FORM_KEY)


def is_note(record: Any) -> bool:
    """Whether a form record (a row or :class:`engine.cases.FormRecordView`) is a case note."""
    return record.form_key == FORM_KEY and record.element_id == ELEMENT_ID


def _noted_at(data: dict[str, Any]) -> datetime | None:
    value = data.get("noted_at")
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return clock.ensure_utc(parsed if parsed.tzinfo else parsed.replace(tzinfo=clock.TOKYO))


def _sorted(notes: list[NoteView]) -> list[NoteView]:
    return sorted(notes, key=lambda n: (n.noted_at or n.recorded_at, n.recorded_at, n.id), reverse=True)


def newest_first(records: list[Any]) -> list[NoteView]:
    """The case notes among already-read records (:class:`engine.cases.FormRecordView`), newest 日時
    first; no query and no audit event (the read that produced the records has one)."""
    return _sorted([NoteView(r.id, _noted_at(r.data), r.data, r.submitted_by, r.submitted_at, r.compartment)
                    for r in records if is_note(r)])


def may_write(actor: Actor, case: Any) -> bool:
    """Whether the case page offers the note form (the decision :func:`add_note` makes)."""
    return policy.can(actor, ACTION, case)


def _in_compartment(session: Session, actor: Actor, case_id: int) -> bool:
    have, _ = policy.relationships(session, actor, case_id)
    return bool(have & matrix().compartment_grants)


@audit.guarded(ACTION, "case", "case_id")
def add_note(engine: Engine, session: Session, actor: Actor, case_id: int, data: dict[str, Any]) -> NoteView:
    """Validate and store one 支援経過記録 on the case; one ``note.write`` audit event.

    NotFound when the actor may not see the case, NotAllowed when they may see but not write on it
    (or it is closed), Invalid with Japanese messages per field.
    """
    begin_write(session)
    policy.visible_case(session, actor, case_id)
    if not policy.decide(session, actor, ACTION, case_id):
        raise NotAllowed(f"{ACTION} is not allowed on case {case_id}")
    form = note_form(engine)
    if form is None:
        raise NotFound(f"form {FORM_KEY!r} is not defined")
    case = runtime.lock_case(session, case_id)
    cleaned = validate_submission(form, data, lookups(session))
    from_meeting = cleaned.get(BASIS_FIELD) == SUPPORT_MEETING
    if from_meeting and compartments.marking(session, case) is None:
        raise Invalid({BASIS_FIELD: [NO_MEETING]})
    if from_meeting and not _in_compartment(session, actor, case.id):
        raise Invalid({BASIS_FIELD: [NOT_MEMBER]})
    now = clock.now()
    record = FormRecord(case_id=case.id, human_task_id=None, form_key=FORM_KEY, element_id=ELEMENT_ID,
                        title=form.title, data=cleaned, submitted_by_id=actor.user_id, submitted_at=now,
                        compartment=bool(case.confidential) or from_meeting)
    session.add(record)
    session.flush()
    hooks.after_submission(hooks.Submission(engine, session, actor, case, None, FORM_KEY, cleaned, record.id))
    audit.record(session, actor, ACTION, "record", str(record.id), case_id=case.id,
                 detail={"form": FORM_KEY, "compartment": record.compartment})
    name = session.scalar(select(User.display_name).where(User.id == actor.user_id))
    return NoteView(record.id, _noted_at(cleaned), cleaned, name, now, record.compartment)


@audit.guarded("record.read", "case", "case_id")
def list_notes(session: Session, actor: Actor, case_id: int) -> list[NoteView]:
    """The case's notes the actor may read, newest first; one ``record.read`` audit event."""
    case = policy.visible_case(session, actor, case_id, "record.read")
    rows = list(session.scalars(select(FormRecord).where(
        policy.record_filter(session, actor, case), FormRecord.form_key == FORM_KEY,
        FormRecord.element_id == ELEMENT_ID, FormRecord.human_task_id.is_(None))))
    user_ids = {r.submitted_by_id for r in rows if r.submitted_by_id}
    names = dict(session.execute(select(User.id, User.display_name).where(User.id.in_(user_ids))).tuples()
                 .all()) if user_ids else {}
    notes = _sorted([NoteView(r.id, _noted_at(r.data), r.data, names.get(r.submitted_by_id), r.submitted_at,
                              r.compartment) for r in rows])
    audit.record(session, actor, "record.read", "case", str(case.id), case_id=case.id,
                 detail={"form": FORM_KEY, "records": len(notes)})
    return notes
