"""通知 pages: the list with unread marks, opening one (marks it read, goes to the task), mark all read,
and the e-mail address notices go to. The unread badge in the header comes from the context processor
registered here (``unread_notifications``)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from sqlalchemy.exc import SQLAlchemyError

from engine import notifications
from engine.errors import Invalid

from ..auth import current_actor
from ..request_db import session, writes

bp = Blueprint("notifications", __name__, url_prefix="/notifications")


@bp.app_context_processor
def _badge() -> dict[str, Any]:
    actor = g.get("actor")
    if actor is None:
        return {"unread_notifications": None}
    try:
        return {"unread_notifications": notifications.unread_count(session(), actor)}
    except SQLAlchemyError:  # the error page must render even when the database does not answer
        return {"unread_notifications": None}


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    actor = current_actor()
    unread_only = request.args.get("unread") == "1"
    rows = notifications.list_notifications(session(), actor, unread_only=unread_only, limit=200)
    return render_template(
        "notifications/index.html",
        rows=rows,
        unread_only=unread_only,
        contact=notifications.get_contact(session(), actor),
    )


@bp.get("/<int:notification_id>")
@writes
def open_one(notification_id: int):  # type: ignore[no-untyped-def]
    view = notifications.open_notification(session(), current_actor(), notification_id)
    if view.task_id and view.task_open:
        return redirect(url_for("tasks.show", task_id=view.task_id))
    flash("このお知らせのタスクは既に終了しているか、表示できません。", "info")
    return redirect(url_for("notifications.index"))


@bp.post("/read")
def mark_read():  # type: ignore[no-untyped-def]
    ids = [int(v) for v in request.form.getlist("id") if v.isdigit()]
    changed = notifications.mark_read(session(), current_actor(), ids or None)
    flash(f"{changed}件を既読にしました。", "success")
    return redirect(url_for("notifications.index"))


@bp.post("/contact")
def contact():  # type: ignore[no-untyped-def]
    actor = current_actor()
    try:
        notifications.set_contact(session(), actor, request.form.get("email", ""))
    except Invalid as exc:
        g.commit_on_error = False
        for message in exc.errors.get("email", []):
            flash(message, "error")
        return render_template(
            "notifications/index.html",
            rows=notifications.list_notifications(session(), actor),
            unread_only=False,
            contact=None,
            email=request.form.get("email", ""),
        ), 422
    flash("通知の送信先を保存しました。", "success")
    return redirect(url_for("notifications.index"))
