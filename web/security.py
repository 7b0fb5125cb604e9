"""Security plumbing for every response: CSRF, cookies, headers, request ids.

* CSRF tokens (Flask-WTF) on every state-changing request made with the session cookie; API calls
  authenticated by a bearer token carry no cookie and are exempt.
* Session cookie: ``__Host-`` prefix, Secure, HttpOnly, SameSite=Lax (Secure can be switched off
  only for plain-HTTP development with ``TSUNAGU_SECURE_COOKIES=false``).
* NUL characters in a query string or form post are refused (400) before anything reads them.
* Headers: a Content-Security-Policy without inline script or style, nosniff, frame-ancestors 'none',
  Referrer-Policy, and ``Cache-Control: no-store`` on everything except static files.
"""

from __future__ import annotations

import secrets

from flask import Flask, Response, abort, g, request
from flask_wtf.csrf import CSRFProtect

CSP = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self'; "
       "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

csrf = CSRFProtect()


def uses_bearer_token() -> bool:
    header = request.headers.get("Authorization", "")
    return header.lower().startswith("bearer ") and "Cookie" not in request.headers


def _request_id() -> None:
    g.request_id = secrets.token_hex(8)
    g.client_ip = (request.remote_addr or "")[:45] or None  # behind trusted proxies: what they forwarded


def _refuse_nul() -> None:
    """NUL characters have no place in a query or a form post, and PostgreSQL refuses them in text:
    answer 400 up front rather than let one reach a query."""
    values = [*request.args.keys(), *request.args.values()]
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        values += [*request.form.keys(), *request.form.values()]
    if any("\x00" in v for v in values):
        abort(400)


def _csrf_check() -> None:
    if request.method in STATE_CHANGING and not uses_bearer_token():
        csrf.protect()


def _headers(response: Response) -> Response:
    h = response.headers
    h.setdefault("Content-Security-Policy", CSP)
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    if request.is_secure:
        h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if not request.path.startswith("/static/"):
        h["Cache-Control"] = "no-store"
        h["Pragma"] = "no-cache"
    h["X-Request-Id"] = g.get("request_id", "")
    return response


def init_security(app: Flask, secure_cookies: bool) -> None:
    app.config.update(
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=None,
        WTF_CSRF_SSL_STRICT=False,
        SESSION_COOKIE_NAME="__Host-tsunagu" if secure_cookies else "tsunagu",
        SESSION_COOKIE_SECURE=secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        MAX_CONTENT_LENGTH=2 * 1024 * 1024,
    )
    csrf.init_app(app)
    app.before_request(_request_id)
    app.before_request(_refuse_nul)
    app.before_request(_csrf_check)
    app.after_request(_headers)
