"""HTML forms ↔ form definitions: posted fields become a submission, and what was typed is kept.

Every task form and the intake form are rendered from a :class:`~engine.formdefs.FormDef` by the
macros in ``templates/forms/_fields.html``. Field names in the HTML are the dotted paths the engine
uses in its error messages (``narrative``, ``household.0.name``), so a message lands next to its
input. Only fields the definition declares are read from the post: anything else is ignored, so
nothing outside the form's allow-list reaches the engine. Validation itself is the engine's
(:func:`engine.formschema.validate_submission`); this module only reshapes strings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from werkzeug.datastructures import MultiDict

from engine import clock
from engine.formdefs import FieldDef, FormDef
from engine.formschema import Lookups

MAX_ROWS = 200
CHECKED = "true"


@dataclass
class Posted:
    """A parsed post: the submission for the engine and the raw values to show again."""

    data: dict[str, Any]
    values: dict[str, Any]
    action: str = "complete"
    rows_as_typed: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # blank rows included
    row_field: str | None = None
    row_index: int | None = None


@dataclass
class ChoiceList:
    """Choices of agency and user fields by field path (``csw`` or ``roles.agency``)."""

    by_path: dict[str, list[tuple[str, str]]] = field(default_factory=dict)

    def get(self, path: str) -> list[tuple[str, str]]:
        return self.by_path.get(path, [])


def _blank(value: Any) -> bool:
    return value is None or value is False or value in ("", [])


def _scalar(f: FieldDef, posted: MultiDict, name: str) -> tuple[Any, Any]:
    """(value for the engine, raw value to show again) of one non-table field."""
    if f.type == "boolean":
        on = posted.get(name) in (CHECKED, "on", "1")
        return on, on
    if f.type == "multichoice" or (f.type in ("agency", "user") and f.multiple):
        items = [v.strip() for v in posted.getlist(name) if v.strip()][:MAX_ROWS]
        return (items or None), items
    raw = posted.get(name, "")
    return (raw if raw.strip() else None), raw


def _row_indexes(posted: MultiDict, name: str) -> list[int]:
    pattern = re.compile(rf"^{re.escape(name)}\.(\d{{1,4}})\.[a-z][a-z0-9_]*$")
    found = {int(m.group(1)) for key in posted if (m := pattern.match(key))}
    return sorted(found)[:MAX_ROWS]


def _table(f: FieldDef, posted: MultiDict) -> tuple[list[dict[str, Any]], list[dict[str, Any]],
                                                    list[dict[str, Any]]]:
    """(rows for the engine, their raw values, every row as typed including blank ones)."""
    rows, raws, typed = [], [], []
    for index in _row_indexes(posted, f.name):
        row, raw = {}, {}
        for col in f.columns:
            value, shown = _scalar(col, posted, f"{f.name}.{index}.{col.name}")
            raw[col.name] = shown
            if value is not None:
                row[col.name] = value
        typed.append(raw)
        if all(_blank(v) for v in raw.values()):
            continue  # an untouched row (for example the spare row shown without JavaScript)
        rows.append(row)
        raws.append(raw)
    return rows, raws, typed


def parse(form: FormDef, posted: MultiDict) -> Posted:
    """Read ``form``'s fields from ``posted``; empty inputs are left out (the engine reports 必須)."""
    data: dict[str, Any] = {}
    values: dict[str, Any] = {}
    typed: dict[str, list[dict[str, Any]]] = {}
    for f in form.fields:
        if f.type == "table":
            rows, raws, typed[f.name] = _table(f, posted)
            values[f.name] = raws  # row numbers match the engine's error paths
            if rows:
                data[f.name] = rows
            continue
        value, shown = _scalar(f, posted, f.name)
        values[f.name] = shown
        if value is not None:
            data[f.name] = value
    result = Posted(data=data, values=values, rows_as_typed=typed)
    _read_action(form, posted.get("_action", "complete"), result)
    return result


def _read_action(form: FormDef, action: str, result: Posted) -> None:
    """``draft``, ``complete``, ``add_row:<table>`` or ``remove_row:<table>:<n>`` (used without JS)."""
    kind, _, rest = action.partition(":")
    tables = {f.name for f in form.fields if f.type == "table"}
    if kind in ("draft", "complete"):
        result.action = kind
    elif kind == "add_row" and rest in tables:
        result.action, result.row_field = kind, rest
    elif kind == "remove_row" and rest.rpartition(":")[0] in tables and rest.rpartition(":")[2].isdigit():
        result.action, result.row_field = kind, rest.rpartition(":")[0]
        result.row_index = int(rest.rpartition(":")[2])
    else:
        result.action = "complete"


def change_rows(form: FormDef, posted: Posted) -> None:
    """Apply an add/remove-row request to the values shown again (the no-JavaScript path).

    Every table is shown as typed, blank rows included, so the row numbers stay those on the screen.
    """
    table = form.field(posted.row_field or "")
    if table is None:
        return
    posted.values.update(posted.rows_as_typed)
    rows = posted.values.setdefault(table.name, [])
    if posted.action == "add_row" and len(rows) < table.max_rows:
        rows.append({c.name: _empty(c) for c in table.columns})
    elif posted.action == "remove_row" and posted.row_index is not None and posted.row_index < len(rows):
        rows.pop(posted.row_index)


def _empty(f: FieldDef) -> Any:
    if f.type == "boolean":
        return False
    if f.type == "multichoice" or f.multiple:
        return []
    return ""


def initial_values(form: FormDef, saved: dict[str, Any] | None) -> dict[str, Any]:
    """Values to show for a draft (or the definition's defaults when there is none)."""
    saved = saved or {}
    values: dict[str, Any] = {}
    for f in form.fields:
        if f.type == "table":
            rows = saved.get(f.name) or []
            values[f.name] = [{c.name: _shown(c, row.get(c.name)) for c in f.columns}
                              for row in rows if isinstance(row, dict)]
        else:
            values[f.name] = _shown(f, saved[f.name] if f.name in saved else f.default)
    return values


def _shown(f: FieldDef, value: Any) -> Any:
    if f.type == "boolean":
        return bool(value)
    if f.type == "multichoice" or (f.type in ("agency", "user") and f.multiple):
        return [str(v) for v in value] if isinstance(value, list) else []
    if value is None:
        return ""
    if f.type == "datetime" and isinstance(value, str):
        return local_datetime_input(value)
    return str(value)


def local_datetime_input(value: str) -> str:
    """ISO text (with offset) → the ``YYYY-MM-DDTHH:MM`` an ``<input type=datetime-local>`` shows."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(clock.TOKYO)
    return parsed.strftime("%Y-%m-%dT%H:%M")


def choices(form: FormDef, lookups: Lookups) -> ChoiceList:
    """The options of every agency and user field (a user field with ``role`` lists only that role)."""
    out = ChoiceList()

    def add(f: FieldDef, path: str) -> None:
        if f.type == "agency":
            out.by_path[path] = sorted(lookups.agencies.items(), key=lambda kv: kv[1])
        elif f.type == "user":
            out.by_path[path] = sorted(((u, name) for u, (name, roles) in lookups.users.items()
                                        if not f.role or f.role in roles), key=lambda kv: kv[1])

    for f in form.fields:
        if f.type == "table":
            for col in f.columns:
                add(col, f"{f.name}.{col.name}")
        else:
            add(f, f.name)
    return out


def needs_lookups(form: FormDef | None) -> bool:
    if form is None:
        return False
    return any(f.type in ("agency", "user") or any(c.type in ("agency", "user") for c in f.columns)
               for f in form.fields)


def display(f: FieldDef, value: Any, names: dict[str, str] | None = None) -> str:
    """A stored value as text for the case page (labels for choices, 「はい」/「いいえ」, local dates)."""
    names = names or {}
    if value is None or value in ("", []):
        return "—"
    if f.type == "boolean":
        return "はい" if value else "いいえ"
    if f.type in ("choice", "multichoice"):
        items = value if isinstance(value, list) else [value]
        return "、".join(f.choice_label(str(v)) for v in items)
    if f.type in ("agency", "user"):
        items = value if isinstance(value, list) else [value]
        return "、".join(names.get(str(v), str(v)) for v in items)
    if f.type == "datetime" and isinstance(value, str):
        return local_datetime_input(value).replace("T", " ")
    return str(value)


def error_paths(errors: dict[str, list[str]], form: FormDef) -> list[tuple[str, str, str]]:
    """(html id, label, message) for the error summary at the top of a form, in field order."""
    labels: dict[str, str] = {}
    for f in form.fields:
        labels[f.name] = f.label
        for col in f.columns:
            labels[f"{f.name}.*.{col.name}"] = f"{f.label}：{col.label}"
    out = []
    for path, messages in errors.items():
        parts = path.split(".")
        key = f"{parts[0]}.*.{parts[2]}" if len(parts) == 3 and parts[1].isdigit() else parts[0]
        label = labels.get(key, "入力全体")
        if len(parts) == 3 and parts[1].isdigit():
            label = f"{label}（{int(parts[1]) + 1}行目）"
        for message in messages:
            out.append((field_id(path), label, message))
    return out


def field_id(path: str) -> str:
    return "f-" + path.replace(".", "-")
