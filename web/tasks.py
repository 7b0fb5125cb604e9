"""The task page: its form from ``forms/``, 一時保存 and 完了, 引き受け / 引き受け解除.

Handlers load the task through the engine (which applies the access policy), read the posted form
with :mod:`web.forms`, call the engine and render. A failed attempt (validation, conflict, a case
that cannot advance) runs inside a savepoint: it is rolled back, the page is shown again with what
the user typed and the Japanese messages, and the read of the page is still recorded.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, url_for

from engine import compartments, policy, tasks
from engine.errors import EngineError, Invalid
from engine.inbox import MASK
from engine.users import lookups
from engine.views import TaskView

from . import forms
from .auth import current_actor
from .errors import message_for, status_for
from .request_db import session, writes
from .state import state

bp = Blueprint("tasks", __name__, url_prefix="/tasks")


def subject_of(actor: Any, case: Any) -> str:
    """The person's name, or the mask where the policy hides it."""
    if not case.subject_name:
        return "—"
    return case.subject_name if policy.may_see_name(actor, case) else MASK


def render_task(task_id: int, values: dict[str, Any] | None = None,
                errors: dict[str, list[str]] | None = None, problem: str | None = None,
                status: int = 200) -> tuple[str, int]:
    actor = current_actor()
    detail = tasks.task_detail(state().engine, session(), actor, task_id)
    form = detail.form
    if values is None:
        values = forms.initial_values(form, detail.draft) if form is not None else {}
    errors = errors or {}
    choices = forms.choices(form, lookups(session())) if forms.needs_lookups(form) else forms.ChoiceList()
    return render_template(
        "tasks/show.html", detail=detail, task=detail.task, case=detail.case, form=form, values=values,
        errors=errors, choices=choices, summary=forms.error_paths(errors, form) if form and errors else [],
        problem=problem, subject=subject_of(actor, detail.case), has_draft=detail.draft is not None,
        marking=compartments.marking(session(), detail.case),
    ), status


@bp.get("/<int:task_id>")
@writes
def show(task_id: int):  # type: ignore[no-untyped-def]
    return render_task(task_id)


def attempt(call: Any) -> tuple[Any, EngineError | None]:
    """Run an engine call in a savepoint; on a user-facing failure roll it back and return the error."""
    db = session()
    try:
        with db.begin_nested():
            return call(), None
    except EngineError as exc:  # 422 invalid, 409 conflict or a case that cannot advance
        if status_for(exc) in (404, 403):
            raise  # the error page: nothing of the task is shown
        g.commit_on_error = True  # keep the page's read event; the failed attempt itself was rolled back
        return None, exc


@bp.post("/<int:task_id>")
def submit(task_id: int):  # type: ignore[no-untyped-def]
    actor = current_actor()
    engine, db = state().engine, session()
    form = tasks.task_ref(engine, db, actor, task_id).form
    if form is None:
        posted = forms.Posted(data={}, values={}, action=request.form.get("_action", "complete"))
    else:
        posted = forms.parse(form, request.form)
    if posted.action in ("add_row", "remove_row") and form is not None:
        forms.change_rows(form, posted)
        return render_task(task_id, values=posted.values)
    if posted.action == "draft":
        _, error = attempt(lambda: tasks.save_draft(engine, db, actor, task_id, posted.data))
        if error is None:
            flash("一時保存しました。完了するまでケースは次へ進みません。", "success")
            return redirect(url_for("tasks.show", task_id=task_id))
    else:
        result, error = attempt(lambda: tasks.complete(engine, db, actor, task_id, posted.data))
        if error is None:
            return _after_completion(actor, result)
    errors = error.errors if isinstance(error, Invalid) else {}
    return render_task(task_id, values=posted.values, errors=errors,
                       problem=None if errors else message_for(error), status=status_for(error))


def where_it_went(tasks_: list[TaskView]) -> str:
    parts = []
    for t in tasks_:
        who = (f"{t.assignee_name}さん" if t.assignee_name else
               f"{t.agency_name}の引き受け待ち" if t.agency_name else "引き受け待ち")
        parts.append(f"「{t.title}」（{who}）")
    return "、".join(parts)


def _after_completion(actor: Any, result: Any):  # type: ignore[no-untyped-def]
    mine = [t for t in result.open_tasks if t.assignee_id == actor.user_id]
    if mine:
        flash(f"完了しました。ケース {result.case_number} の次のタスク「{mine[0].title}」です。", "success")
        return redirect(url_for("tasks.show", task_id=mine[0].id))
    if result.case_finished:
        flash(f"完了しました。ケース {result.case_number} は終了しました。", "success")
    elif result.open_tasks:
        went = where_it_went(result.open_tasks)
        flash(f"完了しました。ケース {result.case_number} は {went} へ進みました。", "success")
    else:
        flash(f"完了しました。ケース {result.case_number} は次の予定（期日・会議など）を待っています。",
              "success")
    return redirect(url_for("inbox.index"))


@bp.post("/<int:task_id>/claim")
def claim(task_id: int):  # type: ignore[no-untyped-def]
    _, error = attempt(lambda: tasks.claim(session(), current_actor(), task_id))
    if error is not None:
        return render_task(task_id, problem=message_for(error), status=status_for(error))
    flash("引き受けました。このタスクはあなたの担当です。", "success")
    return redirect(url_for("tasks.show", task_id=task_id))


@bp.post("/<int:task_id>/unclaim")
def unclaim(task_id: int):  # type: ignore[no-untyped-def]
    _, error = attempt(lambda: tasks.unclaim(session(), current_actor(), task_id))
    if error is not None:
        return render_task(task_id, problem=message_for(error), status=status_for(error))
    flash("引き受けを解除しました。タスクは引き受け待ちに戻りました。", "info")
    return redirect(url_for("inbox.index", view="claimable"))
