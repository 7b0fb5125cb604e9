"""新規相談受付: the start form of a startable process; submitting it starts a case.

With several startable processes the page lists them; with one it shows its start form directly.
After the start the user goes to the case's first task if it is theirs (窓口での対応 is assigned to
whoever took the consultation in), else to the case page.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from engine import cases, definitions, policy
from engine.errors import EngineError, Invalid, NotFound
from engine.users import lookups

from . import forms
from .auth import current_actor
from .errors import message_for, status_for
from .request_db import session
from .state import state

bp = Blueprint("intake", __name__, url_prefix="/intake")


def _definition(process_id: str | None) -> tuple[list[Any], Any]:
    startable = definitions.startable_definitions(session())
    if not startable:
        raise NotFound("no startable process")
    chosen = next((d for d in startable if d.process_id == process_id), None) if process_id else None
    if process_id and chosen is None:
        raise NotFound(f"process {process_id!r} cannot be started")
    if chosen is None and len(startable) == 1:
        chosen = startable[0]
    return startable, chosen


def _render(startable: list[Any], chosen: Any, *, values: dict[str, Any] | None = None,
            errors: dict[str, list[str]] | None = None, problem: str | None = None, status: int = 200):  # type: ignore[no-untyped-def]
    form = state().engine.forms.get(chosen.start_form_key) if chosen is not None else None
    errors = errors or {}
    if form is not None and values is None:
        values = forms.initial_values(form, None)
    choices = forms.choices(form, lookups(session())) if forms.needs_lookups(form) else forms.ChoiceList()
    return render_template("intake/new.html", startable=startable, chosen=chosen, form=form,
                           values=values or {}, errors=errors, choices=choices, problem=problem,
                           summary=forms.error_paths(errors, form) if form and errors else []), status


def _check_may_start() -> None:
    if not policy.role_may(current_actor(), "case.start"):
        abort(403)


@bp.get("")
def new():  # type: ignore[no-untyped-def]
    _check_may_start()
    startable, chosen = _definition(request.args.get("process"))
    return _render(startable, chosen)


@bp.post("")
def create():  # type: ignore[no-untyped-def]
    _check_may_start()
    actor = current_actor()
    startable, chosen = _definition(request.form.get("process"))
    if chosen is None:
        abort(400)
    form = state().engine.forms.get(chosen.start_form_key)
    posted = forms.parse(form, request.form) if form is not None else forms.Posted({}, {})
    if posted.action in ("add_row", "remove_row") and form is not None:
        forms.change_rows(form, posted)
        return _render(startable, chosen, values=posted.values)
    db = session()
    try:
        with db.begin_nested():
            result = cases.start_case(state().engine, db, actor, posted.data, chosen.process_id)
    except Invalid as exc:
        return _render(startable, chosen, values=posted.values, errors=exc.errors, status=422)
    except EngineError as exc:
        if status_for(exc) in (403, 404):
            raise
        return _render(startable, chosen, values=posted.values, problem=message_for(exc),
                       status=status_for(exc))
    mine = [t for t in result.open_tasks if t.assignee_id == actor.user_id]
    flash(f"相談を受け付けました。ケース番号は {result.case_number} です。", "success")
    if mine:
        return redirect(url_for("tasks.show", task_id=mine[0].id))
    return redirect(url_for("cases.show", case_id=result.case_id))
