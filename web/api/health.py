"""``GET /api/v1/health``: 200 when the database answers, 503 otherwise. No login needed."""

from __future__ import annotations

from flask import jsonify
from sqlalchemy import text

from .. import request_db
from . import bp
from .schemas import HealthSchema
from .spec import doc


@bp.get("/health")
@doc("Health check (no login)", responses={200: HealthSchema}, public=True)
def health():  # type: ignore[no-untyped-def]
    request_db.session().execute(text("SELECT 1"))
    return jsonify(HealthSchema().dump({"status": "ok"}))
