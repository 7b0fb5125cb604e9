"""Fixtures for the path tests of the real pathway: processes/ and forms/ deployed on a clean database,
fictional staff for every lane, and a driver factory (restoring from the database at every step, or
with the live-case cache on). Prints the sequence-flow coverage at the end of the run."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine import clock, users
from engine.actor import SYSTEM
from engine.core import build_engine
from engine.definitions import deploy_directory
from engine.formdefs import load_forms
from engine.settings import load_settings
from tests.processes import coverage
from tests.processes.driver import Driver
from tests.processes.payloads import COORD_USER, CSW_USER, JUSO, LEAD, SHAKYO, WINDOW_AGENCY
from tests.support import factories

ROOT = Path(__file__).resolve().parents[2]
START = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)  # 火 10:00 JST
STAFF = [
    ("window", "win1", WINDOW_AGENCY, "window_elderly"),
    ("coordinator", COORD_USER, JUSO, "coordinating_office"),
    ("csw", CSW_USER, SHAKYO, "csw_office"),
    ("agency_staff", "staff1", LEAD, "partner"),
]


@pytest.fixture
def proc_settings(db):
    return load_settings(
        {}, database_url=db.url, forms_dir=str(ROOT / "forms"), processes_dir=str(ROOT / "processes")
    )


@pytest.fixture
def proc_engine(proc_settings):
    forms, problems = load_forms(proc_settings.forms_dir)
    assert not problems, problems
    return build_engine(proc_settings, forms)


@pytest.fixture
def people(proc_engine, write):
    with write() as s:
        found = {}
        for role, username, agency, kind in STAFF:
            factories.agency(s, agency, kind)
            user = users.create_user(s, username, f"テスト {username}", factories.PASSWORD, [role], agency)
            found[role] = users.actor_for(user)
        deploy_directory(proc_engine, s, SYSTEM)
    return found


@pytest.fixture
def frozen_clock():
    frozen = clock.FrozenClock(START)
    previous = clock.use(frozen)
    yield frozen
    clock.use(previous)


@pytest.fixture
def make_driver(proc_settings, proc_engine, people, write, read, frozen_clock):
    """``make_driver(cached)``: a driver on a fresh engine, the clock back at the same start."""

    def make(cached: bool = True) -> Driver:
        frozen_clock.set(START)
        settings = proc_settings if cached else proc_settings.replace(case_cache_size=0)
        engine = build_engine(settings, proc_engine.forms)
        return Driver(engine, write, read, people, frozen_clock)

    return make


def pytest_terminal_summary(terminalreporter, exitstatus, config):  # noqa: ARG001 - pytest hook signature
    if not coverage.TAKEN:
        return
    terminalreporter.write_sep("-", "sequence-flow coverage of processes/*.bpmn")
    for file, (taken, total, missing) in sorted(coverage.by_file().items()):
        line = f"{file:<24} {taken:>4}/{total:<4} {100 * taken / total:6.1f} %"
        terminalreporter.write_line(line + (f"   not taken: {', '.join(missing)}" if missing else ""))
    terminalreporter.write_line(f"{'total':<24} {100 * coverage.share():.1f} % of sequence flows taken")
