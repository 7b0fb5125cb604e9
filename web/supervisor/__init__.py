"""進捗管理 (supervisor pages): overdue and due-soon steps, idle cases, diagram counts, 担当者変更, CSV.

Handlers read the query string, call :mod:`engine.supervision` (which applies the access policy and
the supervisor's scope) and render. The diagram reuses :mod:`web.diagram` (server-side SVG) with
the waiting / overdue counts written next to each step; the same counts are in a table below it.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, flash, g, redirect, render_template, request, url_for
from lxml import etree
from markupsafe import Markup

from engine import definitions, supervision
from engine.errors import NotFound

from .. import diagram
from ..auth import current_actor
from ..request_db import session, writes
from ..state import state

bp = Blueprint("supervisor", __name__, url_prefix="/supervisor")

VIEWS = {"overdue": "期限超過", "due_soon": "期限間近", "idle": "動きのないケース", "steps": "ステップ別"}
FAILURES = {
    "not_found": "見つからないか終了済み",
    "not_allowed": "権限なし",
    "invalid": "担当できない職員",
    "conflict": "既に終了",
}


def _int(name: str) -> int | None:
    raw = request.args.get(name, "")
    return int(raw) if raw.isdigit() else None


def filters() -> dict[str, Any]:
    args = request.args
    return {
        "element_id": (args.get("step") or "")[:200] or None,
        "agency_id": _int("agency"),
        "assignee_id": _int("assignee"),
        "unassigned": args.get("unassigned") == "1",
    }


@bp.app_context_processor
def _nav() -> dict[str, Any]:
    actor = g.get("actor")
    return {"nav_supervisor": bool(actor and actor.has_role(*supervision.SUPERVISOR_ROLES))}


def _with_counts(svg: Markup, counts: dict[str, dict[str, int]]) -> Markup:
    """Write 「待 n / 超 m」 above each step of the rendered diagram."""
    root = etree.fromstring(str(svg).encode("utf-8"))
    ns = {"s": diagram.SVG_NS}
    for group in root.iterfind(".//s:g[@data-element-id]", ns):
        c = counts.get(group.get("data-element-id", ""))
        rect = group.find("s:rect", ns)
        if not c or rect is None:
            continue
        label = etree.SubElement(group, f"{{{diagram.SVG_NS}}}text")
        label.set("x", f"{float(rect.get('x', 0)) + 4:.1f}")
        label.set("y", f"{float(rect.get('y', 0)) + float(rect.get('height', 0)) + 14:.1f}")
        label.set("class", "count-label" + (" count-overdue" if c["overdue"] else ""))
        label.text = f"待 {c['waiting']} / 超 {c['overdue']}"
    return Markup(etree.tostring(root, encoding="unicode"))  # noqa: S704 - our own SVG, texts escaped by lxml


def _diagrams(counts: dict[str, dict[str, dict[str, int]]]) -> list[dict[str, Any]]:
    out = []
    db = session()
    for process_id, per_element in sorted(counts.items()):
        svg = None
        try:
            definition = definitions.latest_definition(db, process_id)
            xml = definitions.definition_files(db, definition).get(definition.file_name or "")
            marks = {e: ("overdue" if c["overdue"] else "current") for e, c in per_element.items()}
            rendered = (
                diagram.render(xml, process_id, marks, f"{definition.name}：待ち件数と期限超過")
                if xml
                else None
            )
            svg = _with_counts(rendered, per_element) if rendered is not None else None
            name = definition.name
        except NotFound:
            name = process_id
        out.append({"process_id": process_id, "name": name, "svg": svg, "counts": per_element})
    return out


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    actor = current_actor()
    engine, db = state().engine, session()
    view = request.args.get("view", "overdue")
    view = view if view in VIEWS else "overdue"
    f = filters()
    summary = supervision.summary(engine, db, actor)
    rows = supervision.task_list(engine, db, actor, view, **f) if view in ("overdue", "due_soon") else []
    idle = supervision.idle_cases(engine, db, actor) if view == "idle" else []
    charts = _diagrams(supervision.element_counts(engine, db, actor)) if view == "steps" else []
    return render_template(
        "supervisor/index.html",
        view=view,
        views=VIEWS,
        f=f,
        summary=summary,
        rows=rows,
        idle=idle,
        charts=charts,
        candidates=supervision.reassign_candidates(db, actor),
        query=request.args.to_dict(),
    )


@bp.get("/export.csv")
@writes
def export():  # type: ignore[no-untyped-def]
    actor = current_actor()
    engine, db = state().engine, session()
    which = "due_soon" if request.args.get("view") == "due_soon" else "overdue"
    rows = supervision.task_list(engine, db, actor, which, **filters())
    body = supervision.csv_export(db, actor, rows, which)
    name = "kigen_chouka.csv" if which == "overdue" else "kigen_majika.csv"
    return Response(
        body,
        mimetype="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


@bp.post("/reassign")
def reassign():  # type: ignore[no-untyped-def]
    actor = current_actor()
    ids = [int(v) for v in request.form.getlist("task_id") if v.isdigit()]
    username = (request.form.get("assignee") or "").strip()[:80]
    back = url_for(
        "supervisor.index",
        **{k: v for k, v in request.form.items() if k in ("view", "step", "agency", "assignee_filter") and v},
    )
    if not ids:
        flash("担当者を変更するタスクを選んでください。", "warning")
        return redirect(back)
    result = supervision.bulk_reassign(session(), actor, ids, username or None)
    g.commit_on_error = True
    if result["done"]:
        who = "未割当" if not username else "新しい担当者"
        flash(f"{len(result['done'])}件のタスクを{who}に変更しました。", "success")
    for task_id, code in result["failed"].items():
        flash(f"タスク {task_id} は変更できませんでした（{FAILURES.get(code, code)}）。", "error")
    return redirect(back)
