"""``tsunagu audit verify``: recompute the audit chain; exit 1 if any row was changed, removed or inserted."""

from __future__ import annotations

import json
import os
import sys

import click

from engine import audit
from engine.db import make_engine, make_session_factory, transaction
from engine.settings import SettingsError, load_settings


@click.group("audit")
def audit_group() -> None:
    """監査ログ（改ざん検知）。"""


@audit_group.command("verify")
@click.option("--expect", "anchors", multiple=True, metavar="ID:HASH",
              help="An anchor printed by an earlier run and kept outside the database (repeatable).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def verify_command(anchors: tuple[str, ...], as_json: bool) -> None:
    """Check every audit event against the hash chain and the sealed head; exit 1 on any tampering."""
    try:
        settings = load_settings(os.environ)
    except SettingsError as exc:
        raise click.ClickException(f"設定エラー: {exc.message}") from None
    db = make_engine(settings.database_url)
    try:
        with transaction(make_session_factory(db)) as session:
            result = audit.verify(session, list(anchors))
    finally:
        db.dispose()
    if as_json:
        click.echo(json.dumps({"ok": result.ok, "checked": result.checked, "anchor": result.anchor,
                               "problems": result.problems}, ensure_ascii=False))
    elif result.ok:
        click.echo(f"audit log intact: {result.checked} events; anchor {result.anchor}")
    else:
        for problem in result.problems:
            click.echo(problem)
        click.echo(f"AUDIT LOG TAMPERED: {len(result.problems)} problem(s) in {result.checked} events")
    if not result.ok:
        sys.exit(1)
