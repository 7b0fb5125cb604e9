"""The case page: status and step, the person and household, the timeline, every completed form's
record, the open tasks, and the BPMN diagram with completed, current and overdue steps marked.

One call to :func:`engine.cases.case_detail` loads everything the policy lets the actor see (and
records the read); this module only arranges it for the template.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, render_template

from engine import cases, clock, definitions
from engine.formdefs import FieldDef
from engine.users import lookups

from . import diagram, forms
from .auth import current_actor
from .request_db import session, writes
from .state import state
from .tasks import subject_of

bp = Blueprint("cases", __name__, url_prefix="/cases")


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


def _names() -> dict[str, str]:
    found = lookups(session())
    return {**found.agencies, **{u: name for u, (name, _roles) in found.users.items()}}


def _record(record: Any, names: dict[str, str]) -> RecordView:
    form = state().engine.forms.get(record.form_key)
    fields: list[FieldDef] = list(form.fields) if form is not None else [
        FieldDef(name=k, label=k, type="text") for k in sorted(record.data)]
    items, tables = [], []
    for f in fields:
        value = record.data.get(f.name)
        if f.type == "table":
            rows = [r for r in (value or []) if isinstance(r, dict)]
            cells = [[forms.display(c, r.get(c.name), names) for c in f.columns] for r in rows]
            tables.append(TableItem(f.label, [c.label for c in f.columns], cells))
        else:
            items.append(Item(f.label, forms.display(f, value, names)))
    return RecordView(record.title, record.submitted_by, record.submitted_at, items, tables)


def _diagram(detail: Any) -> Any:
    definition = detail.case.definition
    files = definitions.definition_files(session(), definition)
    xml = files.get(definition.file_name or "")
    if xml is None:
        return None
    marks = diagram.marks_for(detail.history, detail.open_tasks, clock.now())
    return diagram.render(xml, definition.process_id, marks, f"{detail.process_name} の進行状況")


@bp.get("/<int:case_id>")
@writes
def show(case_id: int):  # type: ignore[no-untyped-def]
    actor = current_actor()
    detail = cases.case_detail(session(), actor, case_id)
    names = _names()
    records = [_record(r, names) for r in detail.records]
    start = next((view for view, r in zip(records, detail.records, strict=True)
                  if r.element_id == "start"), None)
    return render_template("cases/show.html", detail=detail, case=detail.case, records=records,
                           household=start.tables if start is not None else [],
                           subject=subject_of(actor, detail.case), svg=_diagram(detail))
