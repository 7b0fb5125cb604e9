"""Migrations: one linear history to ``head``, and 0006 compresses stored case states in place (and back)."""

from __future__ import annotations

import json

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text

from engine.bpmn.serializer import decode_state, state_text
from engine.core import build_engine
from engine.db import make_session_factory, transaction
from engine.definitions import spec_for_case
from engine.formdefs import load_forms
from engine.migrate import alembic_config, upgrade
from engine.models import Case, FormRecord
from engine.settings import load_settings
from tests.support import factories
from tests.support.database import TestDatabase
from tests.support.referral10 import FORMS_DIR, referral_files


@pytest.fixture
def scratch(tmp_path):
    database = TestDatabase(tmp_path)  # its own database: this test runs migrations down and up
    yield database
    database.drop()


def _revision(database: TestDatabase) -> str:
    with database.engine.connect() as conn:
        return conn.execute(text("select version_num from alembic_version")).scalar_one()


def test_the_history_is_linear_and_upgrade_reaches_head(scratch):
    script = ScriptDirectory.from_config(alembic_config(scratch.url))
    assert len(script.get_heads()) == 1
    assert _revision(scratch) == script.get_current_head()
    upgrade(scratch.engine)  # a second run is a no-op
    assert _revision(scratch) == script.get_current_head()


def _deployed(scratch):  # noqa: ANN001, ANN202
    """The test process deployed on the scratch database: its engine, sessions and a window worker."""
    settings = load_settings({}, database_url=scratch.url, forms_dir=str(FORMS_DIR))
    engine = build_engine(settings, load_forms(FORMS_DIR)[0])
    sessions = make_session_factory(scratch.engine)
    with transaction(sessions, write=True) as s:
        who = factories.actor(s, "window", "AG-WIN", "win")
        factories.deploy(engine, s, referral_files())
    return engine, sessions, who


def test_0006_compresses_existing_states_and_downgrade_restores_the_text(scratch):
    engine, sessions, who = _deployed(scratch)
    with transaction(sessions, write=True) as s:
        case_id = factories.start(engine, s, who).case_id
    with transaction(sessions) as s:
        original = state_text(s.get(Case, case_id).state)
    config = alembic_config(scratch.url)
    with scratch.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0005")
    with scratch.engine.connect() as conn:
        stored = conn.execute(text("select state from cases where id = :id"), {"id": case_id}).scalar_one()
    assert isinstance(stored, str) and json.loads(stored) == json.loads(original)  # plain JSON text again
    scratch.engine.dispose()
    upgrade(scratch.engine)
    with transaction(sessions) as s:
        case = s.get(Case, case_id)
        assert isinstance(case.state, bytes) and case.state[:1] != b"{"  # compressed in place
        assert len(case.state) < len(original.encode("utf-8")) / 2
        assert json.loads(state_text(case.state)) == json.loads(original)
        spec = spec_for_case(engine, s, case.process_definition_id)
        workflow = decode_state(case.state, spec.spec, spec.subprocess_specs)
        assert not workflow.is_completed()
        assert s.scalar(select(Case.serializer_version).where(Case.id == case_id)) == case.serializer_version


def test_a_plain_json_state_still_loads():
    assert state_text(b'{"a": 1}') == '{"a": 1}' and state_text('{"a": 1}') == '{"a": 1}'


def test_0005_keeps_records_of_confidential_cases_in_the_compartment(scratch):
    engine, sessions, who = _deployed(scratch)
    with transaction(sessions, write=True) as s:
        secret = factories.start(engine, s, who).case_id
        open_case = factories.start(engine, s, who).case_id
    config = alembic_config(scratch.url)
    with scratch.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
        conn.execute(text("update cases set confidential = :yes where id = :id"), {"yes": True, "id": secret})
    scratch.engine.dispose()
    upgrade(scratch.engine)
    with transaction(sessions) as s:
        marked = dict(s.execute(select(FormRecord.case_id, FormRecord.compartment)).all())
    assert marked == {secret: True, open_case: False}
