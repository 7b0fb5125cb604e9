"""担当タスク (the inbox): tabs 自分の担当 / 引き受け待ち / 期限間近 / 期限超過 with counts, sort,
filter and pages.

The handler only reads the query string, asks :mod:`engine.inbox` (which applies the access policy
and masks names) and renders. Unknown parameters fall back to defaults instead of failing.
"""

from __future__ import annotations

from flask import Blueprint, render_template, request, url_for

from engine import inbox

from .auth import current_actor
from .request_db import session
from .state import state

bp = Blueprint("inbox", __name__)

TABS = [("mine", "自分の担当"), ("claimable", "引き受け待ち"), ("due_soon", "期限間近"),
        ("overdue", "期限超過")]
SORTS = {"due": "期限", "case": "ケース番号", "step": "ステップ", "created": "受付日時"}
PER_PAGE = 50


def _int(value: str | None, default: int, lo: int, hi: int) -> int:
    try:
        return max(lo, min(hi, int(value or default)))
    except ValueError:
        return default


def _query() -> dict[str, str | int]:
    args = request.args
    view = args.get("view", "mine")
    return {
        "view": view if view in inbox.VIEWS else "mine",
        "sort": args.get("sort") if args.get("sort") in SORTS else "due",
        "dir": "desc" if args.get("dir") == "desc" else "asc",
        "step": (args.get("step") or "")[:200],
        "case": (args.get("case") or "").strip()[:40],
        "page": _int(args.get("page"), 1, 1, 100_000),
    }


@bp.get("/")
def index():  # type: ignore[no-untyped-def]
    actor = current_actor()
    engine, db = state().engine, session()
    q = _query()
    found = inbox.overview(engine, db, actor, q["view"], sort=str(q["sort"]),  # type: ignore[arg-type]
                           descending=q["dir"] == "desc", step=str(q["step"]) or None,
                           case_number=str(q["case"]) or None, page=int(q["page"]), per_page=PER_PAGE)

    def link(**changes: str | int) -> str:
        params = {k: v for k, v in {**q, **changes}.items() if v not in ("", None)}
        return url_for("inbox.index", **params)

    return render_template("inbox/index.html", page=found.page, counts=found.counts, q=q, tabs=TABS,
                           sorts=SORTS, steps=found.steps, link=link,
                           tab_labels=dict(TABS) | {"agency": "所属機関のタスク"})
