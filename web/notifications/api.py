"""Notifications API.

``GET /api/v1/notifications`` → ``[{id, kind, level, task_id, case_id, created_at, read}]``
(``?unread=1`` for unread only, ``kind=reminder|overdue``), and ``POST /api/v1/notifications/read``
with ``{"ids": [...]}`` (or ``{}`` for all) → ``{"changed": n}``."""

from __future__ import annotations

from flask import Blueprint, jsonify, request

from engine import notifications
from engine.errors import Invalid

from ..api.spec import doc
from ..auth import current_actor
from ..request_db import session

bp = Blueprint("notifications_api", __name__, url_prefix="/api/v1/notifications")


@bp.get("")
@doc(
    "The caller's notifications (通知), newest first",
    errors=(401,),
    params={"unread": "1 for unread only", "kind": "reminder | overdue", "limit": "max 200"},
)
def index():  # type: ignore[no-untyped-def]
    limit = request.args.get("limit", "50")
    rows = notifications.list_notifications(
        session(),
        current_actor(),
        unread_only=request.args.get("unread") == "1",
        kind=request.args.get("kind"),
        limit=int(limit) if limit.isdigit() else 50,
    )
    return jsonify([r.as_json() for r in rows])


@bp.post("/read")
@doc("Mark notifications read", errors=(401, 422))
def read():  # type: ignore[no-untyped-def]
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise Invalid({"_body": ["JSON オブジェクトを送ってください。"]})
    ids = body.get("ids")
    if ids is not None and (not isinstance(ids, list) or not all(isinstance(i, int) for i in ids)):
        raise Invalid({"ids": ["整数の配列で指定してください。"]})
    return jsonify(changed=notifications.mark_read(session(), current_actor(), ids))
