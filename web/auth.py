"""Login, logout and who is asking: the session user or an API bearer token becomes an Actor.

Every route needs a logged-in user except ``/login``, static files and ``/api/v1/health``. Sessions
expire after the idle timeout and the absolute lifetime, and die server-side when the user's
``session_epoch`` changes (logout everywhere, password change, deactivation).
"""

from __future__ import annotations

import time
from urllib.parse import urlsplit

from flask import Blueprint, Flask, abort, flash, g, redirect, render_template, request, session, url_for

from engine import audit, policy, users
from engine.actor import Actor
from engine.errors import NotAllowed
from engine.models import User

from . import request_db
from .security import uses_bearer_token

bp = Blueprint("auth", __name__)
PUBLIC_ENDPOINTS = frozenset({"auth.login", "static", "api.health"})


def current_actor() -> Actor:
    actor = g.get("actor")
    if actor is None:
        abort(401)
    return actor


def _safe_next(target: str | None) -> str:
    if not target:
        return url_for("inbox.index") if "inbox.index" in _endpoints() else "/"
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return "/"
    return target


def _endpoints() -> set[str]:
    from flask import current_app
    return {r.endpoint for r in current_app.url_map.iter_rules()}


def _load_session_user(idle_s: int, absolute_s: int) -> User | None:
    user_id = session.get("uid")
    if user_id is None:
        return None
    now = time.time()
    if now - session.get("seen", 0) > idle_s or now - session.get("login", 0) > absolute_s:
        session.clear()
        g.session_expired = True
        return None
    user = request_db.session().get(User, user_id)
    if user is None or not user.active or user.session_epoch != session.get("epoch"):
        session.clear()
        return None
    session["seen"] = now
    return user


def _load_actor() -> None:
    from .state import state
    settings = state().engine.settings
    user = None
    if uses_bearer_token():
        token = request.headers["Authorization"].split(" ", 1)[1].strip()
        user = users.user_for_token(request_db.session(), token)
    elif "uid" in session:
        user = _load_session_user(settings.session_idle_minutes * 60, settings.session_absolute_hours * 3600)
    g.user = user
    g.actor = users.actor_for(user, g.get("request_id"), g.get("client_ip")) if user is not None else None
    if g.actor is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.path.startswith("/api/"):
            abort(401)
        if g.get("session_expired"):
            flash("一定時間操作がなかったため、ログアウトしました。再度ログインしてください。", "info")
        return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))  # type: ignore[return-value]
    return None


@bp.route("/login", methods=["GET", "POST"])
def login():  # type: ignore[no-untyped-def]
    if request.method == "GET":
        return render_template("auth/login.html", next=request.args.get("next", ""))
    username = (request.form.get("username") or "").strip()
    password = request.form.get("password") or ""
    db = request_db.session()
    try:
        user = users.authenticate(db, username, password)
    except NotAllowed as exc:
        g.commit_on_error = True
        attempt = users.login_attempt_actor(db, username, g.get("request_id"), g.get("client_ip"))
        audit.deny(db, attempt, "auth.login", "user", reason=str(exc.context.get("reason") or "invalid"))
        message = ("ログインの失敗が続いたため、しばらくログインできません。"
                   "5分ほど待ってから再度お試しください。"
                   if exc.context.get("reason") == "throttled" else
                   "ユーザー名またはパスワードが正しくありません。")
        return render_template("auth/login.html", error=message, username=username,
                               next=request.form.get("next", "")), 401
    session.clear()  # a new session at login
    now = time.time()
    session.update(uid=user.id, epoch=user.session_epoch, login=now, seen=now)
    session.permanent = False
    audit.record(db, users.actor_for(user, g.get("request_id"), g.get("client_ip")), "auth.login", "user",
                 str(user.id))
    return redirect(_safe_next(request.form.get("next")))


@bp.route("/logout", methods=["POST"])
def logout():  # type: ignore[no-untyped-def]
    actor = g.get("actor")
    if actor is not None:
        audit.record(request_db.session(), actor, "auth.logout", "user", str(actor.user_id))
    session.clear()
    flash("ログアウトしました。", "info")
    return redirect(url_for("auth.login"))


def init_auth(app: Flask) -> None:
    app.before_request(_load_actor)
    app.register_blueprint(bp)

    @app.context_processor
    def _inject_actor() -> dict:
        actor = g.get("actor")
        return {"actor": actor, "may_start": actor is not None and policy.role_may(actor, "case.start")}
