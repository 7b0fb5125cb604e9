"""engine.demo: the fictional demo cases are parked at every major step, through the real engine API."""

from __future__ import annotations

from sqlalchemy import func, select

from engine import clock, demo
from engine.actor import SYSTEM
from engine.audit import verify
from engine.definitions import deploy_directory
from engine.models import Case, FormRecord, HumanTask, OutreachContact
from tests.processes.conftest import proc_engine, proc_settings  # noqa: F401

PARKED = {
    "window_response",
    "emergency_response",
    "consent_check",
    "referral",
    "acceptance",
    "first_contact",
    "assessment",
    "plan",
    "meeting",
    "plan_consent",
    "support_start",
    "monitoring",
    "pa_follow_1m",
    "evaluation",
    "sm_meeting",
    "or_contact",
}


def test_demo_cases_are_parked_at_each_major_step(proc_engine, write, read):  # noqa: F811
    before = clock.now()
    with write() as s:
        demo.ensure_master_data(s, "demo-password-123")
        deploy_directory(proc_engine, s, SYSTEM)
    with write() as s:
        created = demo.load_demo_cases(proc_engine, s)
    with read() as s:
        cases = list(s.scalars(select(Case)))
        open_steps = set(s.scalars(select(HumanTask.element_id).where(HumanTask.status == "open")))
        outcomes = sorted(c.outcome for c in cases if c.status == "completed")
        no_consent = [c for c in cases if c.status == "waiting_consent"]
        contacts = s.scalar(select(func.count()).select_from(OutreachContact))
        notes = s.scalar(
            select(func.count()).select_from(FormRecord).where(FormRecord.form_key == "case_note")
        )
        assert verify(s).ok
    assert created == len(cases) >= 15
    assert PARKED <= open_steps, PARKED - open_steps
    assert outcomes == ["窓口対応で完結", "終結"]
    assert len(no_consent) == 2 and all(c.confidential for c in no_consent)  # 支援会議 and outreach
    assert contacts == 2
    assert notes == 1  # a 支援経過記録 (F8) on the case in monitoring
    assert clock.now() >= before and all(c.created_at <= clock.now() for c in cases)  # the real clock is back
    with write() as s:
        assert demo.load_demo_cases(proc_engine, s) == 0  # run again (make run): nothing added
