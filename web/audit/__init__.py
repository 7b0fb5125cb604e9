"""監査ログ (the auditor's page): list and filter audit events, export them as CSV, check the chain.

Only the auditor role reaches these pages; anyone else gets 404 (the engine refuses, and the access
gate of :mod:`web.audit.access` refuses earlier by the route's policy action). Handlers read the query
string, call :mod:`engine.audit_log` and render. Registering this blueprint also installs the access
gate for every route of the app.
"""

from __future__ import annotations

from datetime import date

from flask import Blueprint, Response, render_template, request

from engine import audit_log

from ..auth import current_actor
from ..request_db import session
from . import access

bp = Blueprint("audit", __name__, url_prefix="/audit")
bp.record_once(lambda state: access.init_access(state.app))
PER_PAGE = 100


def _date(name: str) -> date | None:
    try:
        return date.fromisoformat((request.args.get(name) or "")[:10])
    except ValueError:
        return None


def _filters() -> audit_log.Filters:
    args = request.args
    case = (args.get("case_id") or "").strip()
    allowed = {"allow": True, "deny": False}.get(args.get("result") or "")
    return audit_log.Filters(username=(args.get("user") or "").strip()[:80] or None,
                             action=(args.get("action") or "").strip()[:60] or None,
                             case_id=int(case) if case.isdigit() and len(case) < 12 else None,
                             allowed=allowed, request_id=(args.get("request_id") or "").strip()[:64] or None,
                             since=_date("since"), until=_date("until"))


def _query() -> dict[str, str]:
    keys = ("user", "action", "case_id", "result", "request_id", "since", "until")
    return {k: request.args[k] for k in keys if request.args.get(k)}


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    page_no = request.args.get("page", "1")
    number = int(page_no) if page_no.isdigit() and len(page_no) < 7 else 1
    page = audit_log.search(session(), current_actor(), _filters(), page=number, per_page=PER_PAGE)
    return render_template("audit/index.html", page=page, query=_query())


@bp.get("/export.csv")
def export_csv():  # type: ignore[no-untyped-def]
    body = audit_log.export_csv(session(), current_actor(), _filters())
    stamp = date.today().strftime("%Y%m%d")
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="audit-{stamp}.csv"'})


@bp.get("/verify")
def verify_page():  # type: ignore[no-untyped-def]
    result = audit_log.check_chain(session(), current_actor())
    return render_template("audit/verify.html", result=result)
