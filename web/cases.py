"""The case page: status and step, the person and household, the timeline, every completed form's
record, the open tasks, the BPMN diagram with completed, current and overdue steps marked, the
支援経過記録 (F8 case notes) with their form, 同意撤回, and the 守秘義務対象 banner of 支援会議 cases.

One call to :func:`engine.cases.case_detail` loads everything the policy lets the actor see (and
records the read; the case notes are among its records); this module only arranges it for the
template. Adding a note calls :func:`engine.case_notes.add_note`, 同意撤回 calls
:func:`engine.consent.withdraw` (which also tells the case's process). A failed attempt is rolled back
in a savepoint and the page is shown again with what was typed and the messages (422 names the field).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine import case_notes, cases, clock, compartments, consent, definitions, policy
from engine.errors import Invalid
from engine.formdefs import FieldDef, FormDef
from engine.users import lookups

from . import diagram, forms
from .auth import current_actor
from .errors import message_for, status_for
from .request_db import session, writes
from .state import state
from .tasks import attempt, subject_of

bp = Blueprint("cases", __name__, url_prefix="/cases")

NOTE_HEADLINE = ("noted_at", "kind", "counterpart", "content")  # shown as the note's heading and body
CONFIRM = "confirm"
CONFIRM_MESSAGE = "本人（または代理人）から同意撤回の申出を受けたことを確認し、チェックを入れてください。"
AGENCIES = "agencies"  # 撤回する共有先 (agency codes); none chosen: the whole consent is withdrawn
AGENCIES_MESSAGE = "現在の共有先から選んでください。"


@dataclass
class Item:
    label: str
    text: str


@dataclass
class TableItem:
    label: str
    columns: list[str]
    rows: list[list[str]]


@dataclass
class RecordView:
    title: str
    submitted_by: str | None
    submitted_at: Any
    items: list[Item]
    tables: list[TableItem]


@dataclass
class NoteDisplay:
    id: int
    noted_at: Any
    kind: str
    counterpart: str
    content: str
    items: list[Item]
    recorded_by: str | None
    recorded_at: Any
    compartment: bool


def _names() -> dict[str, str]:
    found = lookups(session())
    return {**found.agencies, **{u: name for u, (name, _roles) in found.users.items()}}


def _fields(form: FormDef | None, data: dict[str, Any]) -> list[FieldDef]:
    if form is not None:
        return list(form.fields)
    return [FieldDef(name=k, label=k, type="text") for k in sorted(data)]


def _record(record: Any, names: dict[str, str]) -> RecordView:
    form = state().engine.forms.get(record.form_key)
    items, tables = [], []
    for f in _fields(form, record.data):
        value = record.data.get(f.name)
        if f.type == "table":
            rows = [r for r in (value or []) if isinstance(r, dict)]
            cells = [[forms.display(c, r.get(c.name), names) for c in f.columns] for r in rows]
            tables.append(TableItem(f.label, [c.label for c in f.columns], cells))
        else:
            items.append(Item(f.label, forms.display(f, value, names)))
    return RecordView(record.title, record.submitted_by, record.submitted_at, items, tables)


def _note(note: case_notes.NoteView, form: FormDef | None, names: dict[str, str]) -> NoteDisplay:
    fields = {f.name: f for f in _fields(form, note.data)}

    def shown(name: str) -> str:
        f = fields.get(name)
        return forms.display(f, note.data.get(name), names) if f is not None else "—"

    items = [Item(f.label, forms.display(f, note.data.get(f.name), names)) for f in fields.values()
             if f.name not in NOTE_HEADLINE and note.data.get(f.name) not in (None, "", [])]
    return NoteDisplay(note.id, note.noted_at, shown("kind"), shown("counterpart"), shown("content"), items,
                       note.recorded_by, note.recorded_at, note.compartment)


def _diagram(detail: Any) -> Any:
    definition = detail.case.definition
    files = definitions.definition_files(session(), definition)
    xml = files.get(definition.file_name or "")
    if xml is None:
        return None
    marks = diagram.marks_for(detail.history, detail.open_tasks, clock.now())
    return diagram.render(xml, definition.process_id, marks, f"{detail.process_name} の進行状況")


def _now_input() -> str:
    return clock.now().astimezone(clock.TOKYO).strftime("%Y-%m-%dT%H:%M")


def render_case(case_id: int, *, note_values: dict[str, Any] | None = None,
                note_errors: dict[str, list[str]] | None = None, problem: str | None = None,
                withdraw_error: str | None = None, status: int = 200) -> tuple[str, int]:
    actor, db = current_actor(), session()
    detail = cases.case_detail(db, actor, case_id)
    case = detail.case
    names = _names()
    others = [r for r in detail.records if not case_notes.is_note(r)]
    records = [_record(r, names) for r in others]
    start = next((view for view, r in zip(records, others, strict=True) if r.element_id == "start"), None)
    defined = case_notes.note_form(state().engine)
    notes = [_note(n, defined, names) for n in case_notes.newest_first(detail.records)]
    note_form = defined if defined is not None and case_notes.may_write(actor, case) else None
    note_errors = note_errors or {}
    if note_form is not None and note_values is None:
        note_values = forms.initial_values(note_form, {"noted_at": _now_input()})
    choices, summary = forms.ChoiceList(), []
    if note_form is not None and forms.needs_lookups(note_form):
        choices = forms.choices(note_form, lookups(db))
    if note_form is not None and note_errors:
        summary = forms.error_paths(note_errors, note_form)
    consent_active = consent.has_active_consent(db, case.id)
    can_withdraw = consent_active and policy.can(actor, "consent.withdraw", case)
    return render_template(
        "cases/show.html", detail=detail, case=case, records=records,
        household=start.tables if start is not None else [], subject=subject_of(actor, case),
        svg=_diagram(detail), marking=compartments.marking(db, case), notes=notes, note_form=note_form,
        note_values=note_values or {}, note_errors=note_errors, choices=choices,
        note_summary=summary, problem=problem, consent_active=consent_active,
        can_withdraw=can_withdraw, withdraw_error=withdraw_error,
        sharing=consent.sharing_agencies(db, case.id) if can_withdraw else [],
        withdraw_chosen=request.form.getlist(AGENCIES) if request.method == "POST" else [],
    ), status


@bp.get("/<int:case_id>")
@writes
def show(case_id: int):  # type: ignore[no-untyped-def]
    return render_case(case_id)


@bp.post("/<int:case_id>/notes")
def add_note(case_id: int):  # type: ignore[no-untyped-def]
    """支援経過記録を追加: the case_note form, validated by the engine; 422 keeps what was typed."""
    engine, db, actor = state().engine, session(), current_actor()
    form = case_notes.note_form(engine)
    posted = forms.parse(form, request.form) if form is not None else forms.Posted({}, {})
    _, error = attempt(lambda: case_notes.add_note(engine, db, actor, case_id, posted.data))
    if error is None:
        flash("支援経過記録を追加しました。", "success")
        return redirect(url_for("cases.show", case_id=case_id, _anchor="notes-title"))
    errors = error.errors if isinstance(error, Invalid) else {}
    return render_case(case_id, note_values=posted.values, note_errors=errors,
                       problem=None if errors else message_for(error), status=status_for(error))


@bp.post("/<int:case_id>/consent/withdraw")
def withdraw_consent(case_id: int):  # type: ignore[no-untyped-def]
    """同意撤回を受け付けた: the active consents of the case are withdrawn, or only the sharing with the
    chosen agencies (engine.consent.withdraw)."""
    engine, db, actor = state().engine, session(), current_actor()
    chosen = request.form.getlist(AGENCIES)
    problem = CONFIRM_MESSAGE if request.form.get(CONFIRM) != "true" else None
    sharing = {code for code, _name in consent.sharing_agencies(db, case_id)} if chosen else set()
    if problem is None and not set(chosen) <= sharing:
        problem = AGENCIES_MESSAGE  # a stale page, or a forged code: nothing is withdrawn
    if problem is not None:
        page = render_case(case_id, withdraw_error=problem, status=422)
        g.commit_on_error = True  # keep the page's read event; nothing was changed
        return page
    result, error = attempt(lambda: consent.withdraw(engine, db, actor, case_id, agency_codes=chosen or None))
    if error is not None:
        return render_case(case_id, problem=message_for(error), status=status_for(error))
    if not result.consent_ids:
        flash("撤回できる有効な同意はありませんでした。", "info")
    else:
        lost, moved = len(result.lost_agency_ids), len(result.tasks_reassigned)
        tasks_text = f"対応中のタスク {moved} 件は担当部署の引き受け待ちへ移りました。" if moved else ""
        scope = "共有先を指定した同意撤回" if chosen else "同意撤回"
        flash(f"{scope}を受け付けました。共有先 {lost} 機関は、次の操作からこのケースを見られなくなります。"
              f"{tasks_text}記録と操作履歴は残ります。", "success")
    if policy.may_see_case(db, actor, case_id):
        return redirect(url_for("cases.show", case_id=case_id))
    return redirect(url_for("inbox.index"))
