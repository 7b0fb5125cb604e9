"""Placeholder home page until the inbox blueprint lands: shows who is logged in."""

from __future__ import annotations

from flask import Blueprint, render_template

bp = Blueprint("inbox", __name__)


@bp.route("/")
def index():  # type: ignore[no-untyped-def]
    return render_template("home.html")
