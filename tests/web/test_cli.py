"""The ``tsunagu`` command, in-process through click's CliRunner, against the test database."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from engine import users
from engine.models import Deployment, ProcessDefinition
from tests.support import factories
from tests.support.referral10 import FORMS_DIR, referral_files
from tests.support.validation import linear
from web import cli as cli_module
from web.cli import main

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def cli(db, tmp_path: Path, monkeypatch):
    """``cli("validate", path)`` → click Result, with settings from TSUNAGU_* pointing at the test db.

    Engines the command opens are disposed after each call, as the process exit would do.
    """
    opened = []

    def make_engine(url, *args, **kwargs):  # noqa: ANN001, ANN202
        engine = real_make_engine(url, *args, **kwargs)
        opened.append(engine)
        return engine
    real_make_engine = cli_module.make_engine
    monkeypatch.setattr(cli_module, "make_engine", make_engine)
    config = tmp_path / "tsunagu.toml"
    config.write_text("", encoding="utf-8")
    processes = tmp_path / "processes"
    processes.mkdir()
    for name, content in referral_files().items():
        (processes / name).write_bytes(content)
    env = {"TSUNAGU_CONFIG": str(config), "TSUNAGU_DATABASE_URL": db.url, "TSUNAGU_FORMS_DIR": str(FORMS_DIR),
           "TSUNAGU_PROCESSES_DIR": str(processes), "TSUNAGU_SECURE_COOKIES": "false"}
    runner = CliRunner()

    def run(*args: str, input: str | None = None):  # noqa: A002 - click's name
        try:
            return runner.invoke(main, list(args), env=env, input=input, catch_exceptions=False)
        finally:
            while opened:
                opened.pop().dispose()
    run.processes = processes
    run.env = env
    return run


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_a_valid_directory(cli):
    result = cli("validate")
    assert result.exit_code == 0 and result.output.strip() == "valid"
    assert cli("validate", str(cli.processes)).output.strip() == "valid"


def test_validate_reports_named_problems_and_exits_1(cli, tmp_path):
    bad = write(tmp_path, "bad.bpmn", linear(form="nonexistent", lane=None).xml())
    result = cli("validate", str(bad))
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert "bad.bpmn:4 [a]: user task is not in a lane (a lane names the role that does it)" in lines
    assert any("bad.bpmn:4 [a]: form 'nonexistent' is not defined in forms/" in line for line in lines)
    assert "Traceback" not in result.output


def test_validate_json_output(cli, tmp_path):
    bad = write(tmp_path, "bad.bpmn", "<not xml")
    result = cli("validate", "--json", str(bad))
    assert result.exit_code == 1
    [problem] = json.loads(result.output)
    assert problem["file"] == "bad.bpmn" and problem["code"] == "not_xml" and problem["line"] == 1


def test_validate_each_file_on_its_own(cli, tmp_path):
    main_process = linear("main")
    main_process.elements[1] = '<bpmn:callActivity id="a" name="呼出" calledElement="sub"/>'
    a = write(tmp_path, "main.bpmn", main_process.xml())
    b = write(tmp_path, "sub.bpmn", linear("sub").xml())
    write(tmp_path, "roles.yaml", "lanes:\n  窓口: window\n")
    assert cli("validate", str(a), str(b)).exit_code == 0
    result = cli("validate", "--each", str(a), str(b))
    assert result.exit_code == 1 and "main.bpmn:4 [a]: call activity calls process 'sub'" in result.output


def test_validate_never_shows_a_traceback_for_hostile_input(cli, tmp_path):
    files = [write(tmp_path, "xxe.bpmn", '<?xml version="1.0"?>\n<!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
                   '<x>&e;</x>'),
             write(tmp_path, "empty.bpmn", ""),
             write(tmp_path, "nul.bpmn", "\x00\x01\x02")]
    result = cli("validate", "--each", *map(str, files))
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert "xxe.bpmn:2: document type declarations" in result.output
    assert "empty.bpmn: file is empty" in result.output


def test_validate_reports_bad_forms_too(cli, tmp_path):
    forms = tmp_path / "forms"
    forms.mkdir()
    write(forms, "note.yaml", "title: x\nfields: [{name: Bad, label: x}]\n")
    cli.env["TSUNAGU_FORMS_DIR"] = str(forms)
    result = cli("validate")
    assert result.exit_code == 1 and "note.yaml [note.Bad]: field name must be lower-case" in result.output


def test_settings_errors_are_plain(cli):
    cli.env["TSUNAGU_SCHEDULER_INTERVAL_SECONDS"] = "often"
    result = cli("validate")
    assert result.exit_code == 1 and "設定エラー" in result.output
    assert "TSUNAGU_SCHEDULER_INTERVAL_SECONDS" in result.output and "Traceback" not in result.output


def test_deploy_is_a_no_op_for_unchanged_files_and_versions_changes(cli, read):
    first = cli("deploy")
    assert first.exit_code == 0 and first.output.strip() == "deployed as version 1: referral_test"
    again = cli("deploy")
    assert again.exit_code == 0 and again.output.strip() == "unchanged; still version 1: referral_test"
    for name, content in referral_files(version_note="（改訂）").items():
        (cli.processes / name).write_bytes(content)
    changed = cli("deploy")
    assert changed.output.strip() == "deployed as version 2: referral_test"
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Deployment)) == 2
        names = s.execute(select(ProcessDefinition.version, ProcessDefinition.name)
                          .order_by(ProcessDefinition.version)).all()
    assert [tuple(n) for n in names] == [(1, "つなぎテスト"), (2, "つなぎテスト（改訂）")]


def test_deploy_with_problems_changes_nothing(cli, read):
    write(cli.processes, "broken.bpmn", linear("broken", form=None).xml())
    result = cli("deploy")
    assert result.exit_code == 1 and "broken.bpmn:4 [a]: user task names no form" in result.output
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Deployment)) == 0


def test_users_create_list_set_password_and_api_token(cli, write, read):
    with write() as s:
        factories.agency(s, "AG-WIN")
    created = cli("users", "create", "yamada", "--name", "山田 花子", "--role", "window",
                  "--role", "supervisor", "--agency", "AG-WIN", "--password", "correct horse battery")
    assert created.exit_code == 0 and created.output.strip() == "created yamada"
    listed = cli("users", "list", "--json")
    assert listed.exit_code == 0
    [user] = [u for u in json.loads(listed.output) if u["username"] == "yamada"]
    assert user == {"username": "yamada", "display_name": "山田 花子", "roles": ["supervisor", "window"],
                    "agency": "AG-WIN", "active": True} or \
        (user["display_name"] == "山田 花子" and set(user["roles"]) == {"window", "supervisor"}
         and user["agency"] == "AG-WIN")
    assert "山田 花子" in cli("users", "list").output
    changed = cli("users", "set-password", "yamada", "--password", "another long secret")
    assert changed.exit_code == 0 and "password changed for yamada" in changed.output
    with write() as s:
        assert users.authenticate(s, "yamada", "another long secret").username == "yamada"
    token = cli("users", "api-token", "yamada")
    assert token.exit_code == 0
    last_word = token.output.split()[-1]
    assert len(last_word) >= 20 and last_word not in ("yamada", "token")


@pytest.mark.parametrize(("args", "message"), [
    (("users", "create", "x", "--name", "X", "--role", "king", "--password", "long enough pw"), "不明な役割"),
    (("users", "create", "x", "--name", "X", "--role", "window", "--password", "short"), "10文字以上"),
    (("users", "create", "x", "--name", "X", "--role", "window", "--agency", "NOPE", "--password",
      "long enough pw"), "not found"),
    (("users", "set-password", "ghost", "--password", "long enough pw"), "not found"),
    (("users", "api-token", "ghost"), "not found"),
])
def test_user_command_errors_are_plain(cli, args, message):
    result = cli(*args)
    assert result.exit_code == 1 and message in result.output and "Traceback" not in result.output


def test_a_real_subprocess_validates(cli, tmp_path):
    bad = write(tmp_path, "bad.bpmn", "<?xml version='1.0'?><a><b></a>")
    env = {**cli.env, "PATH": "/usr/bin:/bin"}
    done = subprocess.run([sys.executable, "-m", "web.cli", "validate", str(bad)], capture_output=True,
                          text=True, env=env, cwd=ROOT, timeout=60, check=False)
    assert done.returncode == 1 and "bad.bpmn:1: malformed XML" in done.stdout and not done.stderr.strip()


def test_demo_prints_every_role_and_a_password_that_works_on_every_run(cli, db, tmp_path, monkeypatch):
    """``make run`` runs init-db and demo each time: the printed logins must stay valid."""
    import re

    from engine.db import make_session_factory, transaction

    monkeypatch.setattr("engine.settings.ROOT", tmp_path)  # instance/demo_password goes here
    monkeypatch.delenv("TSUNAGU_DEMO_PASSWORD", raising=False)
    cli.env.update(TSUNAGU_FORMS_DIR=str(ROOT / "forms"), TSUNAGU_PROCESSES_DIR=str(ROOT / "processes"))
    assert cli("init-db").exit_code == 0
    first, second = cli("demo"), cli("demo")
    assert first.exit_code == 0 and second.exit_code == 0, first.output + second.output
    password = re.search(r"password for all: (\S+)\)", first.output).group(1)
    assert re.search(r"password for all: (\S+)\)", second.output).group(1) == password
    for username in ("window1", "coord1", "csw1", "staff1", "super1", "designer1", "auditor1", "admin1"):
        assert username in first.output
    with transaction(make_session_factory(db.engine), write=True) as s:
        assert users.authenticate(s, "csw1", password).username == "csw1"
    assert (tmp_path / "instance" / "demo_password").stat().st_mode & 0o077 == 0
