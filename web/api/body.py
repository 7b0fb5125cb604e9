"""Reading a JSON request body: an object of form fields, or nothing (claim/unclaim)."""

from __future__ import annotations

from typing import Any

from flask import abort, request

from engine.errors import Invalid


def json_object(optional: bool = False) -> dict[str, Any]:
    """The body as a dict; 415 for a body that is not JSON, 422 for JSON that is not an object."""
    if request.mimetype and not request.is_json:
        abort(415)
    if not request.get_data(cache=True):
        if optional:
            return {}
        raise Invalid({"_form": ["JSON オブジェクトでフォームの項目を送ってください。"]})
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise Invalid({"_form": ["JSON オブジェクトでフォームの項目を送ってください。"]})
    return data
