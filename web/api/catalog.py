"""``GET /api/v1/processes`` (what the caller may start) and ``GET /api/v1/forms/{key}``.

A form's agency and user fields carry their choices (active agencies; active users, limited to the
field's ``role``), so a client can build the form without another call.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from engine import definitions
from engine.errors import NotFound
from engine.formdefs import FormDef
from engine.users import lookups

from .. import forms
from ..request_db import session
from ..state import state
from . import bp
from .schemas import FormSchema, ProcessSchema
from .spec import doc


def form_json(form: FormDef) -> dict[str, Any]:
    """The form definition with the choices of its agency and user fields filled in."""
    data = form.to_json()
    if not forms.needs_lookups(form):
        return data
    options = forms.choices(form, lookups(session()))

    def fill(fields_: list[dict[str, Any]], prefix: str) -> None:
        for f in fields_:
            path = f"{prefix}{f['name']}"
            if f["type"] in ("agency", "user"):
                f["choices"] = [{"value": v, "label": label} for v, label in options.get(path)]
            if f["type"] == "table":
                fill(f["columns"], f"{path}.")

    fill(data["fields"], "")
    return data


@bp.get("/processes")
@doc("Startable processes (newest version of each)", responses={200: [ProcessSchema]}, errors=(401,))
def processes():  # type: ignore[no-untyped-def]
    return jsonify(ProcessSchema(many=True).dump(definitions.startable_definitions(session())))


@bp.get("/forms/<key>")
@doc("A form definition (fields, labels, types, choices)", responses={200: FormSchema})
def form(key: str):  # type: ignore[no-untyped-def]
    found = state().engine.forms.get(key)
    if found is None:
        raise NotFound(f"form {key!r} not found")
    return jsonify(FormSchema().dump(form_json(found)))
