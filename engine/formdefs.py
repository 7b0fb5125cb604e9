"""Form definitions: one YAML file per form key in ``forms/``, loaded and checked here.

A definition lists fields with ``name``, a Japanese ``label``, a ``type`` (see :data:`FIELD_TYPES`),
``required``, ``choices`` (``value``/``label``), ``help`` and, for tables, ``columns``. Extra rules:
``required_if`` (an expression over the submission, e.g. ``consent_method == 'written'``),
``max_length``, ``min``/``max``, ``min_rows``/``max_rows``, ``exactly_one`` (a boolean column that
must be true in exactly one row, e.g. 主担当), ``role`` on a user field (who may be chosen),
``multiple`` on agency and user fields. See docs/designing-processes.md for the full format.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .actor import ROLE_IDS
from .errors import ExpressionError, Problem
from .expressions import compile_expression

FIELD_TYPES = ("text", "textarea", "date", "datetime", "integer", "boolean", "choice", "multichoice",
               "table", "agency", "user")
COLUMN_TYPES = tuple(t for t in FIELD_TYPES if t != "table")
RESERVED_KEYS = frozenset({"case", "system", "forms", "data_objects", "True", "False", "None"})
FIELD_KEYS = frozenset({"name", "label", "type", "required", "help", "choices", "columns", "required_if",
                        "max_length", "min", "max", "min_rows", "max_rows", "exactly_one", "role", "multiple",
                        "default"})
FORM_KEYS = frozenset({"key", "title", "description", "fields"})
INT_KEYS = ("max_length", "min", "max", "min_rows", "max_rows")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


@dataclass(frozen=True)
class FieldDef:
    name: str
    label: str
    type: str
    required: bool = False
    help: str = ""
    choices: tuple[Choice, ...] = ()
    columns: tuple[FieldDef, ...] = ()
    required_if: str | None = None
    max_length: int | None = None
    min: int | None = None
    max: int | None = None
    min_rows: int = 0
    max_rows: int = 100
    exactly_one: str | None = None
    role: str | None = None
    multiple: bool = False
    default: Any = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"name": self.name, "label": self.label, "type": self.type,
                               "required": self.required, "help": self.help,
                               "choices": [{"value": c.value, "label": c.label} for c in self.choices],
                               "columns": [c.to_json() for c in self.columns]}
        for extra in ("required_if", "max_length", "min", "max", "exactly_one", "role", "default"):
            if getattr(self, extra) is not None:
                out[extra] = getattr(self, extra)
        if self.type == "table":
            out["min_rows"], out["max_rows"] = self.min_rows, self.max_rows
        if self.type in ("agency", "user"):
            out["multiple"] = self.multiple
        return out

    def choice_label(self, value: Any) -> str:
        for c in self.choices:
            if c.value == value:
                return c.label
        return "" if value is None else str(value)


@dataclass(frozen=True)
class FormDef:
    key: str
    title: str
    fields: tuple[FieldDef, ...]
    description: str = ""
    file: str = ""

    def field(self, name: str) -> FieldDef | None:
        return next((f for f in self.fields if f.name == name), None)

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "title": self.title, "description": self.description,
                "fields": [f.to_json() for f in self.fields]}


@dataclass
class FormRegistry:
    forms: dict[str, FormDef] = field(default_factory=dict)

    def get(self, key: str | None) -> FormDef | None:
        return self.forms.get(key or "")

    def __contains__(self, key: object) -> bool:
        return key in self.forms


def _attribute_errors(raw: dict, ftype: Any, column: bool) -> list[str]:
    """What is wrong with a field's attributes, in plain words (empty when nothing is)."""
    errors = []
    allowed = COLUMN_TYPES if column else FIELD_TYPES
    if not _NAME.match(str(raw.get("name", ""))):
        errors.append("field name must be lower-case ASCII: letters, digits, _")
    if ftype not in allowed:
        errors.append(f"unknown type {ftype!r}; expected one of {', '.join(allowed)}")
    if not raw.get("label"):
        errors.append("field needs a Japanese label")
    if unknown := sorted(str(k) for k in raw if k not in FIELD_KEYS):
        errors.append(f"unknown attribute(s) {', '.join(unknown)}; a field may have "
                      f"{', '.join(sorted(FIELD_KEYS))}")
    errors.extend(f"{key} must be a whole number, not {raw[key]!r}" for key in INT_KEYS
                  if raw.get(key) is not None and (type(raw[key]) is not int))
    choices = raw.get("choices") or []
    if not isinstance(choices, list) or not all(isinstance(c, dict) and "value" in c for c in choices):
        errors.append("choices must be a list of {value, label} mappings")
    elif len({str(c["value"]) for c in choices}) != len(choices):
        errors.append("choice values must be unique")
    elif ftype in ("choice", "multichoice") and not choices:
        errors.append(f"{ftype} field needs choices (value, label)")
    if raw.get("role") is not None and raw.get("role") not in ROLE_IDS:
        errors.append(f"role {raw.get('role')!r} is not a role; roles: {', '.join(ROLE_IDS)}")
    if raw.get("required_if"):
        try:
            compile_expression(str(raw["required_if"]))
        except ExpressionError as exc:
            errors.append(f"required_if: {exc.message}")
    return errors


def _field(raw: Any, file: str, where: str, problems: list[Problem], column: bool = False) -> FieldDef | None:
    if not isinstance(raw, dict):
        problems.append(Problem(file, None, where, "each field must be a mapping"))
        return None
    name, ftype = str(raw.get("name", "")), raw.get("type", "text")
    where = f"{where}.{name or '?'}"
    errors = _attribute_errors(raw, ftype, column)
    columns: list[FieldDef] = []
    if ftype == "table":
        raw_columns = raw.get("columns") if isinstance(raw.get("columns"), list) else []
        for col in raw_columns:
            parsed = _field(col, file, where, problems, column=True)
            if parsed:
                columns.append(parsed)
        if not raw_columns:
            errors.append("table field needs columns")
    exactly_one = raw.get("exactly_one")
    if exactly_one and not any(c.name == exactly_one and c.type == "boolean" for c in columns):
        errors.append(f"exactly_one names {exactly_one!r}, not a boolean column")
    problems.extend(Problem(file, None, where, reason) for reason in errors)
    if errors or (ftype == "table" and len(columns) != len(raw.get("columns") or [])):
        return None
    return FieldDef(
        name=name, label=str(raw["label"]), type=ftype, required=bool(raw.get("required", False)),
        help=str(raw.get("help", "")),
        choices=tuple(Choice(str(c["value"]), str(c.get("label", c["value"])))
                      for c in raw.get("choices") or []),
        columns=tuple(columns), required_if=str(raw["required_if"]) if raw.get("required_if") else None,
        max_length=raw.get("max_length"), min=raw.get("min"), max=raw.get("max"),
        min_rows=int(raw.get("min_rows") or 0), max_rows=int(raw.get("max_rows") or 100),
        exactly_one=exactly_one, role=raw.get("role"), multiple=bool(raw.get("multiple", False)),
        default=raw.get("default"),
    )


def parse_form(text: str, file: str) -> tuple[FormDef | None, list[Problem]]:
    problems: list[Problem] = []
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        return None, [Problem(file, (mark.line + 1) if mark else None, None, f"not valid YAML: {exc}")]
    if not isinstance(raw, dict):
        return None, [Problem(file, None, None, "a form file must be a mapping with key, title and fields")]
    key = str(raw.get("key") or Path(file).stem)
    unknown = sorted(str(k) for k in raw if k not in FORM_KEYS)
    if unknown:
        problems.append(Problem(file, None, key, f"unknown key(s) {', '.join(unknown)}; a form has "
                                "key, title, description and fields"))
    if not isinstance(raw.get("fields"), list) or not raw.get("fields"):
        problems.append(Problem(file, None, key, "a form needs a list of fields"))
    if not _NAME.match(key) or key in RESERVED_KEYS:
        problems.append(Problem(file, None, key, "form key must be lower-case ASCII and not a reserved name"))
    if not raw.get("title"):
        problems.append(Problem(file, None, key, "form needs a Japanese title"))
    fields: list[FieldDef] = []
    for item in raw.get("fields") if isinstance(raw.get("fields"), list) else []:
        parsed = _field(item, file, key, problems)
        if parsed:
            fields.append(parsed)
    names = [f.name for f in fields]
    for dup in {n for n in names if names.count(n) > 1}:
        problems.append(Problem(file, None, f"{key}.{dup}", "field name used twice"))
    if problems:
        return None, problems
    return FormDef(key=key, title=str(raw["title"]), fields=tuple(fields),
                   description=str(raw.get("description", "")), file=file), []


def load_forms(forms_dir: str | Path) -> tuple[FormRegistry, list[Problem]]:
    """Load every ``*.yaml`` form under ``forms_dir``; problems name the file and field."""
    registry, problems = FormRegistry(), []
    directory = Path(forms_dir)
    if not directory.is_dir():
        return registry, [Problem(str(directory), None, None, "forms directory not found")]
    for path in sorted(directory.glob("*.yaml")):
        form, found = parse_form(path.read_text(encoding="utf-8"), path.name)
        problems.extend(found)
        if form is None:
            continue
        if form.key in registry.forms:
            problems.append(Problem(path.name, None, form.key,
                                    f"form key also defined in {registry.forms[form.key].file}"))
            continue
        registry.forms[form.key] = form
    return registry, problems
