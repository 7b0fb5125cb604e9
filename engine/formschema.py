"""Validation of form submissions: a marshmallow schema built from each form definition.

The web pages, the API and the tests all call :func:`validate_submission`, so a submission is
checked the same way everywhere: unknown fields are rejected, values are coerced to their types,
messages are Japanese, and agency/user values must name existing, active agencies and users. The
result is JSON-native (dates as ISO text) so it can go into task data and JSON columns unchanged.
Errors are flattened to dotted field paths, e.g. ``{"household.0.name": ["必須項目です。"]}``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from marshmallow import EXCLUDE, RAISE, Schema, ValidationError, fields, pre_load, validate

from .clock import TOKYO
from .errors import ExpressionError, Invalid
from .expressions import evaluate
from .formdefs import FieldDef, FormDef

REQUIRED = "必須項目です。"
MESSAGES = {
    "required": REQUIRED, "null": REQUIRED,
    "text": "文字列で入力してください。",
    "integer": "整数で入力してください。",
    "date": "日付の形式が正しくありません（例: 2026-04-01）。",
    "datetime": "日時の形式が正しくありません（例: 2026-04-01T09:00）。",
    "boolean": "「はい」か「いいえ」で指定してください。",
    "choice": "選択肢から選んでください。",
    "list": "一覧の形式が正しくありません。",
    "unknown": "この項目は受け付けられません。",
    "nul": "使用できない文字が含まれています。",
    "agency": "登録されている機関を選んでください。",
    "user": "選べない担当者です。",
    "too_large": "数値が大きすぎます。",
    "check": "チェックしてください。",
}
MAX_INTEGER = 10**15
TEXT_MAX = 200
MAX_KEY = 100
TEXTAREA_MAX = 10_000


@dataclass
class Lookups:
    """What agency and user fields may name: agency codes, and usernames with their roles."""

    agencies: dict[str, str] = field(default_factory=dict)
    users: dict[str, tuple[str, frozenset[str]]] = field(default_factory=dict)
    # Optional: told every agency code and username a submission names before they are checked, so
    # that lookups filled on demand can fetch them in one query each (engine.users.submission_lookups).
    prefetch: Callable[[set[str], set[str]], None] | None = None


# NUL, and lone surrogates (half of a UTF-16 pair, which a JSON body can carry as "\ud800"): neither can be
# stored as UTF-8 text, so they are refused with the field named instead of failing at the database.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: str) -> bool:
    """Whether text can be stored (no NUL, no lone surrogate)."""
    return _UNSTORABLE.search(value) is None


def _no_nul(value: Any) -> bool:
    if isinstance(value, str) and not storable(value):
        raise ValidationError(MESSAGES["nul"])
    return True


def _errors(kind: str) -> dict[str, str]:
    return {"required": REQUIRED, "null": REQUIRED, "invalid": MESSAGES[kind],
            "too_large": MESSAGES["too_large"]}


class _Integer(fields.Integer):
    """Whole numbers only: 12, "12", "１２" (全角) — never 12.5 or "12.5" silently cut to 12."""

    def _deserialize(self, value: Any, attr: Any, data: Any, **kwargs: Any) -> Any:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise self.make_error("invalid")
        if isinstance(value, str) and not value.strip().lstrip("+-").isdigit():
            raise self.make_error("invalid")
        result = super()._deserialize(value, attr, data, **kwargs)
        if result is not None and abs(result) > MAX_INTEGER:
            raise self.make_error("too_large")
        return result


def _scalar(f: FieldDef) -> fields.Field:  # noqa: PLR0911 - one return per field type
    allow_none = not f.required
    common: dict[str, Any] = {"required": f.required, "allow_none": allow_none}
    if f.type in ("text", "textarea"):
        limit = f.max_length or (TEXTAREA_MAX if f.type == "textarea" else TEXT_MAX)
        checks = [validate.Length(max=limit, error=f"{limit}文字以内で入力してください。"), _no_nul]
        if f.required:
            checks.append(validate.Length(min=1, error=REQUIRED))
        return fields.String(validate=checks, error_messages=_errors("text"), **common)
    if f.type == "integer":
        lo, hi = f.min, f.max
        checks = []
        if lo is not None or hi is not None:
            msg = (f"{lo}以上{hi}以下で入力してください。" if lo is not None and hi is not None
                   else f"{lo}以上で入力してください。" if lo is not None
                   else f"{hi}以下で入力してください。")
            checks.append(validate.Range(min=lo, max=hi, error=msg))
        return _Integer(validate=checks, strict=False, error_messages=_errors("integer"), **common)
    if f.type == "date":
        return fields.Date(error_messages=_errors("date"), **common)
    if f.type == "datetime":
        return fields.DateTime(error_messages=_errors("datetime"), **common)
    if f.type == "boolean":
        # a checkbox: absent or empty means unchecked (False); "required" means it must be ticked (see _rules)
        return fields.Boolean(error_messages=_errors("boolean"), load_default=False, allow_none=False)
    if f.type == "choice":
        return fields.String(validate=validate.OneOf([c.value for c in f.choices], error=MESSAGES["choice"]),
                             error_messages=_errors("choice"), **common)
    if f.type == "multichoice":
        inner = fields.String(validate=validate.OneOf([c.value for c in f.choices], error=MESSAGES["choice"]),
                              error_messages=_errors("choice"))
        checks = [validate.Length(min=1, error=REQUIRED)] if f.required else []
        return fields.List(inner, validate=checks, error_messages=_errors("list"), **common)
    if f.type in ("agency", "user"):
        inner = fields.String(validate=[validate.Length(max=80), _no_nul], error_messages=_errors(f.type))
        if f.multiple:
            checks = [validate.Length(min=1, error=REQUIRED)] if f.required else []
            return fields.List(inner, validate=checks, error_messages=_errors("list"), **common)
        return fields.String(validate=[validate.Length(max=80), _no_nul], error_messages=_errors(f.type),
                             **common)
    raise ValueError(f"no schema for field type {f.type}")


class _FormSchema(Schema):
    error_messages = {"unknown": MESSAGES["unknown"], "type": "入力の形式が正しくありません。"}

    class Meta:
        unknown = RAISE

    @pre_load
    def _blank_to_none(self, data: Any, **_: Any) -> Any:
        """HTML forms send "" for empty inputs: treat them as not given; trim surrounding blanks."""
        if not isinstance(data, Mapping):
            return data
        out = {}
        for key, value in data.items():
            spec = self.fields.get(key) if isinstance(key, str) else None
            if isinstance(spec, fields.Boolean) and value in ("", None):
                value = False
            elif isinstance(value, str):
                value = value.strip()
                if value == "" and not isinstance(spec, fields.String):
                    value = None
                elif value == "" and spec is not None and not spec.required:
                    value = None
            out[key] = value
        return out


def _schema_for(fields_: tuple[FieldDef, ...], name: str) -> type[Schema]:
    declared: dict[str, fields.Field] = {}
    for f in fields_:
        if f.type == "table":
            row_schema = _schema_for(f.columns, f"{name}_{f.name}")
            checks = [validate.Length(max=f.max_rows, error=f"{f.max_rows}行以内にしてください。")]
            if f.required or f.min_rows:
                need = max(1, f.min_rows)
                checks.append(validate.Length(min=need, error=f"{need}行以上入力してください。"))
            declared[f.name] = fields.List(fields.Nested(row_schema), validate=checks, required=f.required,
                                           allow_none=not f.required, error_messages=_errors("list"))
        else:
            declared[f.name] = _scalar(f)
    return type(f"{name}Schema", (_FormSchema,), declared)


# Keyed by the form's identity; the entry keeps the form itself so that its id() cannot be reused by
# another definition of the same key (ids of freed objects are recycled). The entry holds one schema
# instance: a marshmallow schema keeps no state between loads (``partial`` and ``unknown`` are passed
# to each load), and building one deep-copies every declared field.
_SCHEMAS: dict[tuple[str, int], tuple[FormDef, Schema]] = {}


def schema_for(form: FormDef) -> Schema:
    key = (form.key, id(form))
    entry = _SCHEMAS.get(key)
    if entry is None or entry[0] is not form:
        entry = _SCHEMAS[key] = (form, _schema_for(form.fields, form.key)())
    return entry[1]


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=TOKYO)
        return value.isoformat(timespec="minutes")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def flatten_errors(messages: Any, prefix: str = "") -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            key = str(key)[:MAX_KEY] + ("…" if len(str(key)) > MAX_KEY else "")
            path = f"{prefix}.{key}" if prefix else key
            if key == "_schema":
                path = prefix or "_form"
            out.update(flatten_errors(value, path))
    elif isinstance(messages, list) and all(isinstance(m, str) for m in messages):
        out[prefix or "_form"] = list(messages)
    elif isinstance(messages, list):
        for i, m in enumerate(messages):
            out.update(flatten_errors(m, f"{prefix}.{i}"))
    else:
        out[prefix or "_form"] = [str(messages)]
    return out


def _check_references(f: FieldDef, value: Any, lookups: Lookups, path: str,
                      errors: dict[str, list[str]]) -> None:
    values = value if isinstance(value, list) else [value]
    for v in values:
        if v is None:
            continue
        if f.type == "agency" and v not in lookups.agencies:
            errors.setdefault(path, []).append(MESSAGES["agency"])
        elif f.type == "user":
            user = lookups.users.get(v)
            if user is None or (f.role and f.role not in user[1]):
                errors.setdefault(path, []).append(MESSAGES["user"])


def _references(fields_: tuple[FieldDef, ...], data: dict[str, Any], agencies: set[str],
                users: set[str]) -> None:
    """Collect the agency codes and usernames a (cleaned) submission names, table rows included."""
    for f in fields_:
        value = data.get(f.name)
        if f.type in ("agency", "user"):
            target = agencies if f.type == "agency" else users
            target.update(v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str))
        elif f.type == "table" and isinstance(value, list):
            for row in value:
                if isinstance(row, dict):
                    _references(f.columns, row, agencies, users)


def _rules(fields_: tuple[FieldDef, ...], data: dict[str, Any], lookups: Lookups, prefix: str,
           errors: dict[str, list[str]]) -> None:
    for f in fields_:
        path = f"{prefix}{f.name}"
        value = data.get(f.name)
        if f.required_if and value in (None, "", []):
            try:
                needed = bool(evaluate(f.required_if, data))
            except ExpressionError:
                needed = False
            if needed:
                errors.setdefault(path, []).append(REQUIRED)
        if f.type == "boolean" and f.required and value is not True:
            errors.setdefault(path, []).append(MESSAGES["check"])
        if f.type in ("agency", "user"):
            _check_references(f, value, lookups, path, errors)
        if f.type == "table" and isinstance(value, list):
            for i, row in enumerate(value):
                _rules(f.columns, row, lookups, f"{path}.{i}.", errors)
            if f.exactly_one and value:
                chosen = sum(1 for row in value if row.get(f.exactly_one))
                if chosen != 1:
                    col = next(c for c in f.columns if c.name == f.exactly_one)
                    errors.setdefault(path, []).append(f"「{col.label}」は1行だけ選んでください。")


def validate_submission(form: FormDef, data: Any, lookups: Lookups | None = None,
                        partial: bool = False) -> dict[str, Any]:
    """Return the cleaned submission or raise :class:`Invalid` with Japanese messages per field.

    ``partial=True`` (drafts) skips required checks but still rejects unknown fields and bad types.
    """
    if not isinstance(data, Mapping):
        raise Invalid({"_form": ["入力の形式が正しくありません。"]})
    schema = schema_for(form)
    try:
        loaded = schema.load(dict(data), partial=partial, unknown=RAISE)
    except ValidationError as exc:
        raise Invalid(flatten_errors(exc.messages)) from None
    cleaned = _plain(loaded)
    errors: dict[str, list[str]] = {}
    if not partial:
        if lookups is not None and lookups.prefetch is not None:
            agencies: set[str] = set()
            users: set[str] = set()
            _references(form.fields, cleaned, agencies, users)
            lookups.prefetch(agencies, users)
        _rules(form.fields, cleaned, lookups or Lookups(), "", errors)
    if errors:
        raise Invalid(errors)
    return cleaned


__all__ = ["EXCLUDE", "Lookups", "flatten_errors", "schema_for", "validate_submission"]
