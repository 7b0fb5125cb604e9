"""engine.records: growing records written by after-submission hooks, read back with one audit event,
and their migration (0002)."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import func, inspect, select

from engine.db import make_engine
from engine.errors import NotFound
from engine.migrate import alembic_config
from engine.models import (
    AuditEvent,
    Base,
    FormRecord,
    MonitoringRecord,
    OutreachContact,
    OutreachStageChange,
    ParticipationFollowup,
)
from engine.records import case_records
from tests.processes.conftest import frozen_clock, make_driver, people, proc_engine, proc_settings  # noqa: F401
from tests.processes.paths import to_outreach, to_support
from tests.processes.payloads import today
from tests.support import factories
from tests.support.database import backend

TABLES = ("outreach_contacts", "outreach_stage_changes", "monitoring_records", "participation_followups")


def test_outreach_contacts_and_stage_changes_are_rows_not_task_data(make_driver, read):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    to_outreach(d)
    d.complete("or_contact", result="absent", stage="attempting")
    d.fire(days=20)
    d.complete("or_contact", result="talk", stage="first_contact")
    d.fire(days=20)
    d.complete("or_contact", result="meeting", stage="first_contact", next_step="close", next_date=None)
    d.complete("or_close", result="consent_obtained", stage="consulting")
    with read() as s:
        contacts = list(
            s.scalars(
                select(OutreachContact)
                .where(OutreachContact.case_id == d.case_id)
                .order_by(OutreachContact.id)
            )
        )
        stages = [
            (c.from_stage, c.to_stage)
            for c in s.scalars(
                select(OutreachStageChange)
                .where(OutreachStageChange.case_id == d.case_id)
                .order_by(OutreachStageChange.id)
            )
        ]
        records = {
            r.id for r in s.scalars(select(FormRecord).where(FormRecord.form_key == "outreach_contact"))
        }
    assert [(c.result, c.contact_made) for c in contacts] == [
        ("absent", False),
        ("talk", True),
        ("meeting", True),
    ]
    assert {c.form_record_id for c in contacts} == records
    assert stages == [
        ("", "identified"),
        ("identified", "attempting"),
        ("attempting", "first_contact"),
        ("first_contact", "consulting"),
    ]
    assert "（架空）" not in str([vars(c) for c in contacts])  # free text stays in form_records
    assert "outreach_contact" not in d.workflow().data  # nothing accumulates in the workflow


def test_monitoring_cycles_and_participation_follow_ups(make_driver, read):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    to_support(d, participation="start", participation_detail="居場所")
    for step in ("pa_needs", "pa_menu", "pa_matching", "pa_begin"):
        d.complete(step)
    d.fire(days=7)
    d.complete("pa_follow_1w")
    d.fire(days=21)
    d.complete("pa_follow_1m", judgement="adjust", status="irregular")
    for n in range(3):
        d.fire(days=31)
        d.complete(
            "monitoring",
            judgement="continue",
            next_date=today(30),
            new_issue=n == 1,
            new_issue_note="（架空）" if n == 1 else None,
        )
    with read() as s:
        followups = [
            (f.element_id, f.judgement, f.targets)
            for f in s.scalars(
                select(ParticipationFollowup)
                .where(ParticipationFollowup.case_id == d.case_id)
                .order_by(ParticipationFollowup.id)
            )
        ]
        monitoring = [
            (m.judgement, m.new_issue)
            for m in s.scalars(
                select(MonitoringRecord)
                .where(MonitoringRecord.case_id == d.case_id)
                .order_by(MonitoringRecord.id)
            )
        ]
    assert followups == [
        ("pa_follow_1w", "continue", ["person", "host"]),
        ("pa_follow_1m", "adjust", ["person", "host"]),
    ]
    assert monitoring == [("continue", False), ("continue", True), ("continue", False)]


def test_case_records_reads_everything_with_one_audit_event(make_driver, write, read):  # noqa: F811 - fixture imported from tests/processes/conftest.py
    d = make_driver(False)
    to_support(d)
    for _ in range(2):
        d.fire(days=31)
        d.complete("monitoring", judgement="continue", next_date=today(30))
    with read() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    with write() as s:
        found = case_records(s, d.people["csw"], d.case_id)
    assert [m["judgement"] for m in found.monitoring] == ["continue", "continue"]
    assert found.outreach_contacts == [] and found.participation == []
    with read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
        event = s.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert event.action == "record.read" and event.detail["records"]["monitoring"] == 2
    with write() as s:
        stranger = factories.actor(s, "window", "AG-ELSEWHERE", "stranger")
    with pytest.raises(NotFound), write() as s:
        case_records(s, stranger, d.case_id)


def test_migration_matches_the_models(db):
    inspector = inspect(db.engine)
    for table in TABLES:
        migrated = {c["name"] for c in inspector.get_columns(table)}
        assert migrated == set(Base.metadata.tables[table].columns.keys()), table
        assert any(ix["column_names"][0] == "case_id" for ix in inspector.get_indexes(table)), table


@pytest.mark.skipif(backend() != "sqlite", reason="a scratch SQLite file is enough to run it down and up")
def test_migrations_downgrade_and_upgrade(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'm.db'}")
    config = alembic_config(str(engine.url))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        assert set(TABLES) <= set(inspect(connection).get_table_names())
        command.downgrade(config, "0001")
        assert not set(TABLES) & set(inspect(connection).get_table_names())
        command.upgrade(config, "head")
        command.downgrade(config, "base")
        assert inspect(connection).get_table_names() in ([], ["alembic_version"])
        command.upgrade(config, "head")
        assert set(TABLES) <= set(inspect(connection).get_table_names())
    engine.dispose()
