"""``GET /api/v1/health``: 200 when the database answers, 503 otherwise. No login needed."""

from __future__ import annotations

from flask import Blueprint, jsonify
from sqlalchemy import text

from .. import request_db

bp = Blueprint("api", __name__, url_prefix="/api/v1")


@bp.get("/health")
def health():  # type: ignore[no-untyped-def]
    request_db.session().execute(text("SELECT 1"))
    return jsonify(status="ok")
