"""``GET /api/v1/openapi.json``: the OpenAPI 3.1 document generated from the schemas and routes."""

from __future__ import annotations

from flask import current_app, jsonify

from . import bp, spec


@bp.get("/openapi.json")
@spec.doc("This document (OpenAPI 3.1)", responses={200: None}, errors=(401,))
def openapi():  # type: ignore[no-untyped-def]
    document = current_app.extensions.get("tsunagu_openapi")
    if document is None:
        document = current_app.extensions["tsunagu_openapi"] = spec.build(current_app)
    return jsonify(document)
