"""The ``tsunagu`` command: database, demo data, deployment, validation, users, serving.

Configuration comes from defaults < the instance file < ``TSUNAGU_*`` environment variables.
Every command prints plain results and exits 0 on success, 1 on problems; it never shows a traceback
for a problem in the input.
"""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path

import click

from engine import definitions, users
from engine.actor import SYSTEM
from engine.bpmn.bundle import load_bundle, read_directory, read_files
from engine.core import build_engine
from engine.db import make_engine, make_session_factory, transaction
from engine.errors import DefinitionError, EngineError
from engine.formdefs import load_forms
from engine.migrate import upgrade
from engine.settings import EngineSettings, SettingsError, load_settings


def _settings() -> EngineSettings:
    try:
        return load_settings(os.environ)
    except SettingsError as exc:
        raise click.ClickException(f"設定エラー: {exc.message}") from None


def _sessions(settings: EngineSettings):  # type: ignore[no-untyped-def]
    return make_session_factory(make_engine(settings.database_url))


@click.group()
def main() -> None:
    """つなぐ (Tsunagu): 重層的支援体制整備事業のケース管理。"""


@main.command("init-db")
def init_db() -> None:
    """Create or migrate the database to the newest schema."""
    settings = _settings()
    upgrade(make_engine(settings.database_url))
    click.echo("database ready")


@main.command()
@click.argument("directory", required=False, type=click.Path(file_okay=False, path_type=Path))
def deploy(directory: Path | None) -> None:
    """Deploy the BPMN files of DIRECTORY (default: processes/) as a new version if they changed."""
    settings = _settings()
    try:
        engine = build_engine(settings)
        with transaction(_sessions(settings), write=True) as session:
            result = definitions.deploy_directory(engine, session, SYSTEM, directory)
    except DefinitionError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    state = "deployed as version" if result.created else "unchanged; still version"
    click.echo(f"{state} {result.version}: {', '.join(result.processes)}")


def _print_problems(problems: list, as_json: bool) -> None:  # type: ignore[type-arg]
    if as_json:
        click.echo(json.dumps([{"file": p.file, "line": p.line, "element_id": p.element_id,
                                "reason": p.reason,
                                "code": p.code} for p in problems], ensure_ascii=False, indent=1))
    else:
        for p in problems:
            click.echo(str(p))


@main.command()
@click.argument("paths", nargs=-1, type=click.Path(exists=True, path_type=Path))
@click.option("--each", is_flag=True, help="Validate every file on its own instead of as one bundle.")
@click.option("--json", "as_json", is_flag=True, help="Print problems as JSON.")
def validate(paths: tuple[Path, ...], each: bool, as_json: bool) -> None:
    """Check BPMN files against Tsunagu's conventions; exit 1 when there are problems."""
    settings = _settings()
    forms, form_problems = load_forms(settings.forms_dir)
    bundles: list[dict[str, bytes]] = []
    targets = paths or (Path(settings.processes_dir),)
    files = [p for p in targets if p.is_file()]
    for directory in (p for p in targets if p.is_dir()):
        bundles.append(read_directory(directory))
    if files:
        bundles.extend([read_files([f]) for f in files] if each else [read_files(files)])
    problems = list(form_problems)
    for files_ in bundles:
        try:
            problems.extend(load_bundle(files_, forms, settings.max_bpmn_bytes).problems)
        except Exception as exc:  # noqa: BLE001 - the promise is: never a traceback
            problems.append(_crash_problem(files_, exc))
    _print_problems(problems, as_json)
    if problems:
        sys.exit(1)
    if not as_json:
        click.echo("valid")


def _crash_problem(files: dict[str, bytes], exc: Exception):  # type: ignore[no-untyped-def]
    from engine.errors import Problem
    return Problem(", ".join(sorted(files)), None, None, f"could not be checked ({type(exc).__name__})",
                   "internal")


@main.command()
def demo() -> None:
    """Load fictional demo agencies, users for every role and cases parked at different steps."""
    settings = _settings()
    password = settings.demo_password or _demo_password()
    engine = build_engine(settings)
    sessions = _sessions(settings)
    from engine import demo as demo_data
    with transaction(sessions, write=True) as session:
        demo_users = demo_data.ensure_master_data(session, password)
    try:
        with transaction(sessions, write=True) as session:
            definitions.deploy_directory(engine, session, SYSTEM)
    except DefinitionError as exc:
        for problem in exc.problems:
            click.echo(str(problem), err=True)
        sys.exit(1)
    loader = getattr(demo_data, "load_demo_cases", None)
    if loader is not None:
        with transaction(sessions, write=True) as session:
            count = loader(engine, session)
        click.echo(f"demo cases: {count}")
    click.echo("demo logins (password for all: "
               f"{'TSUNAGU_DEMO_PASSWORD' if settings.demo_password else password}):")
    for u in demo_users:
        click.echo(f"  {u.username:<10} {u.description}")


def _demo_password() -> str:
    """The generated demo password, kept in instance/demo_password (0600) so the printed one stays valid
    when ``make run`` is run again against the same database."""
    from engine.settings import ROOT
    path = ROOT / "instance" / "demo_password"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


@main.group("users")
def users_group() -> None:
    """Manage user accounts."""


@users_group.command("list")
@click.option("--json", "as_json", is_flag=True)
def users_list(as_json: bool) -> None:
    settings = _settings()
    with transaction(_sessions(settings)) as session:
        rows = users.list_users(session)
    if as_json:
        click.echo(json.dumps([{"username": u.username, "display_name": u.display_name,
                                "roles": list(u.roles),
                                "agency": u.agency_code, "active": u.active} for u in rows],
                              ensure_ascii=False, indent=1))
        return
    for u in rows:
        click.echo(f"{u.username:<12} {u.display_name:<16} {','.join(u.roles):<24} {u.agency_code or ''}")


@users_group.command("create")
@click.argument("username")
@click.option("--name", "display_name", required=True, help="表示名")
@click.option("--role", "roles", multiple=True, required=True)
@click.option("--agency", "agency_code")
@click.password_option()
def users_create(username: str, display_name: str, roles: tuple[str, ...], agency_code: str | None,
                 password: str) -> None:
    settings = _settings()
    try:
        with transaction(_sessions(settings), write=True) as session:
            users.create_user(session, username, display_name, password, list(roles), agency_code)
    except EngineError as exc:
        raise click.ClickException(_engine_message(exc)) from None
    click.echo(f"created {username}")


@users_group.command("set-password")
@click.argument("username")
@click.password_option()
def users_set_password(username: str, password: str) -> None:
    settings = _settings()
    try:
        with transaction(_sessions(settings), write=True) as session:
            users.set_password(session, username, password)
    except EngineError as exc:
        raise click.ClickException(_engine_message(exc)) from None
    click.echo(f"password changed for {username}")


@users_group.command("api-token")
@click.argument("username")
def users_api_token(username: str) -> None:
    """Create a bearer token for USERNAME (printed once, as the last word)."""
    settings = _settings()
    try:
        with transaction(_sessions(settings), write=True) as session:
            token = users.create_api_token(session, username)
    except EngineError as exc:
        raise click.ClickException(_engine_message(exc)) from None
    click.echo(f"API token for {username}: {token}")


def _engine_message(exc: EngineError) -> str:
    errors = getattr(exc, "errors", None)
    if errors:
        return "; ".join(f"{k}: {' '.join(v)}" for k, v in errors.items())
    return exc.message


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=5000, show_default=True, type=int)
@click.option("--workers", default=2, show_default=True, type=int)
@click.option("--scheduler/--no-scheduler", default=True, show_default=True,
              help="Run the scheduler in this process (single-machine default).")
def serve(host: str, port: int, workers: int, scheduler: bool) -> None:
    """Serve the web app with gunicorn (and, by default, the scheduler in the master process)."""
    from .serve import run
    run(_settings(), host, port, workers, scheduler)


@main.command("scheduler")
@click.option("--once", is_flag=True, help="Wait for the lease, run every job once and exit.")
@click.option("--batch-size", type=click.IntRange(1, 100_000), default=None, help="Rows per transaction.")
def scheduler_command(once: bool, batch_size: int | None) -> None:
    """Run the scheduler (timers, reminders, escalations, notifications) as its own process."""
    import logging
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("SpiffWorkflow").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    from engine.scheduling.service import run_foreground
    result = run_foreground(_settings(), once=once, batch=batch_size)
    click.echo(f"scheduler stopped: {json.dumps(result, ensure_ascii=False, default=str)}")


from .audit.cli import audit_group  # noqa: E402 - tsunagu audit verify (web/audit/cli.py)

main.add_command(audit_group)


if __name__ == "__main__":
    main()
