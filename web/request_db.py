"""One database transaction per request: opened on first use, committed at the end, rolled back on error.

Handlers call :func:`session` and never commit themselves. State-changing requests (POST, PUT,
PATCH, DELETE) and views marked :func:`writes` (pages that record an audit event when they read a
case or task) open a write transaction (``BEGIN IMMEDIATE`` on SQLite) so concurrent writers queue
instead of failing half-way. If the commit fails the request fails, so a user is never told that
something was saved when it was not.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from flask import Flask, Response, current_app, g, request
from sqlalchemy.orm import Session

from engine.db import begin_write

from .state import state

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
F = TypeVar("F", bound=Callable[..., Any])


def writes(view: F) -> F:
    """Mark a GET view that writes (an audit event per read) so its transaction starts as a writer."""
    view.tsunagu_writes = True  # type: ignore[attr-defined]
    return view


def _is_write_request() -> bool:
    if request.method in WRITE_METHODS:
        return True
    view = current_app.view_functions.get(request.endpoint or "")
    return bool(getattr(view, "tsunagu_writes", False))


def session() -> Session:
    s = g.get("db_session")
    if s is None:
        s = state().sessions()
        if _is_write_request():
            begin_write(s)
        g.db_session = s
    return s


def _commit(response: Response) -> Response:
    s = g.pop("db_session", None)
    if s is None:
        return response
    try:
        if response.status_code < 400 or g.get("commit_on_error"):
            s.commit()
        else:
            s.rollback()
    finally:
        s.close()
    return response


def _teardown(exc: BaseException | None) -> None:
    s = g.pop("db_session", None)
    if s is not None:
        s.rollback()
        s.close()


def init_request_db(app: Flask) -> None:
    app.after_request(_commit)
    app.teardown_request(_teardown)
