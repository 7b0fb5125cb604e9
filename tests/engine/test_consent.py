"""Consent as data (F3): recipients, categories and period drive access; withdrawal takes effect on the
next request — recipients get NotFound, their open tasks go to the coordinating office, plan roles are
revoked, future 重層的支援会議 agenda items are pulled — and history (rows, audit trail) stays."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import audit, cases, compartments, consent, hooks, inbox, policy, tasks
from engine.core import build_engine
from engine.errors import NotAllowed, NotFound
from engine.formdefs import load_forms
from engine.models import AuditEvent, Case, CaseRole, Consent, ConsentRecipient, HumanTask, MeetingCase
from tests.support import factories
from tests.support.access_process import consent_files, forms_dir

CONSENT = {"consent": "written", "recipients": ["AG-P1", "AG-P2"], "categories": ["basic", "household",
                                                                                  "history"]}


@pytest.fixture
def cengine(settings, tmp_path):
    directory = forms_dir(tmp_path)
    forms, problems = load_forms(directory)
    assert not problems, problems
    return build_engine(settings.replace(forms_dir=str(directory)), forms)


@pytest.fixture
def people(cengine, write, frozen_clock):
    with write() as s:
        p = {"win": factories.actor(s, "window", "AG-WIN", "win"),
             "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
             "p1": factories.actor(s, "agency_staff", "AG-P1", "p1", kind="partner"),
             "p2": factories.actor(s, "agency_staff", "AG-P2", "p2", kind="partner"),
             "p3": factories.actor(s, "agency_staff", "AG-P3", "p3", kind="partner"),
             "sup1": factories.actor(s, "supervisor", "AG-P1", "sup1", kind="partner")}
        factories.deploy(cengine, s, consent_files())
    return p


def run_to_work(cengine, write, people, consent_data=None, plan=None):
    """Start a case, complete 本人同意 → プラン → 会議決定 (承認); the work task goes to the lead agency."""
    with write() as s:
        started = factories.start(cengine, s, people["win"], process_id="consent_test")
    with write() as s:
        task = started.open_tasks[0].id
        tasks.complete(cengine, s, people["win"], task, consent_data or CONSENT)
    plan = plan or {"lead_agency": "AG-P1", "actions": [{"agency": "AG-P1", "content": "見守り",
                                                         "lead": True},
                                                        {"agency": "AG-P3", "content": "就労"}]}
    for key, data in (("plan", plan), ("decision", {"result": "approve"})):
        with write() as s:
            task_id = s.scalar(select(HumanTask.id).where(HumanTask.case_id == started.case_id,
                                                          HumanTask.element_id == key,
                                                          HumanTask.status == "open"))
            tasks.complete(cengine, s, people["coord"], task_id, data)
    return started.case_id


def sees(read, actor, case_id) -> bool:
    with read() as s:
        try:
            cases.case_detail(s, actor, case_id)
            return True
        except NotFound:
            return False


def test_the_consent_form_becomes_consent_rows(cengine, people, write, read):
    case_id = run_to_work(cengine, write, people)
    with read() as s:
        [row] = s.scalars(select(Consent).where(Consent.case_id == case_id))
        stmt = select(ConsentRecipient.agency_id).where(ConsentRecipient.consent_id == row.id)
        agencies = set(s.scalars(stmt))
    assert row.status == "active" and row.categories == ["basic", "history", "household"]
    assert agencies == {people["p1"].agency_id, people["p2"].agency_id}
    assert row.valid_until - row.valid_from == timedelta(days=365)


def test_recipients_and_plan_roles_see_the_case_others_do_not(cengine, people, write, read):
    case_id = run_to_work(cengine, write, people)
    assert sees(read, people["p1"], case_id) and sees(read, people["p2"], case_id)
    assert sees(read, people["p3"], case_id)  # a role in the approved plan (with an active consent)
    assert sees(read, people["sup1"], case_id)  # supervisor of a recipient agency
    with write() as s:
        outsider = factories.actor(s, "agency_staff", "AG-P9", "p9", kind="partner")
    assert not sees(read, outsider, case_id)


def test_a_recipient_reads_only_the_information_categories_consented(cengine, people, write, read):
    case_id = run_to_work(cengine, write, people, consent_data=dict(CONSENT, categories=["basic"]))
    with read() as s:
        p2_forms = {r.form_key for r in cases.case_detail(s, people["p2"], case_id).records}
        win_forms = {r.form_key for r in cases.case_detail(s, people["win"], case_id).records}
        p3_forms = {r.form_key for r in cases.case_detail(s, people["p3"], case_id).records}
    assert win_forms == p3_forms == {"intake", "consent", "plan", "decision"}  # intake agency, plan role
    assert p2_forms == {"consent"}  # only 基本情報: intake also holds 世帯, plan and decision 支援経過


def test_withdrawal_takes_effect_on_the_next_request_and_keeps_history(cengine, people, write, read):
    case_id = run_to_work(cengine, write, people)
    with write() as s:
        meeting = compartments.open_meeting(s, people["coord"], "plenary")
        meeting.scheduled_at = meeting.created_at + timedelta(days=7)
        compartments.add_case(s, people["coord"], meeting.id, case_id)
    with read() as s:
        work = s.scalar(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.element_id == "work"))
        assert work.agency_id == people["p1"].agency_id
    with write() as s:
        tasks.claim(s, people["p1"], work.id)
    before = set(audit_ids(read))
    with write() as s:
        result = consent.withdraw(cengine, s, people["win"], case_id)
    assert sorted(result.lost_agency_ids) == sorted([people["p1"].agency_id, people["p2"].agency_id])
    for who in ("p1", "p2", "p3", "sup1"):
        assert not sees(read, people[who], case_id), who
    assert sees(read, people["win"], case_id) and sees(read, people["coord"], case_id)
    with read() as s:
        work = s.get(HumanTask, work.id)
        assert (work.status, work.role, work.assignee_id) == ("open", "coordinator", None)
        assert work.agency_id == people["coord"].agency_id
        roles = s.scalars(select(CaseRole).where(CaseRole.case_id == case_id))
        assert {r.status for r in roles} == {"revoked"}
        assert s.scalar(select(MeetingCase.status).where(MeetingCase.case_id == case_id)) == "pulled"
        row = s.scalar(select(Consent).where(Consent.case_id == case_id))
        assert row.status == "withdrawn" and row.withdrawn_at is not None
        assert s.scalar(select(func.count()).select_from(ConsentRecipient)) == 2  # history stays
        assert set(audit_ids(read)) >= before and audit.verify(s).ok
        assert inbox.list_tasks(cengine, s, people["p1"], "mine").total == 0
    with pytest.raises(NotFound), write() as s:
        tasks.complete(cengine, s, people["p1"], work.id, {"note": "続き"})
    with read() as s:
        stmt = select(AuditEvent).where(AuditEvent.username == "p1").order_by(AuditEvent.id.desc())
        denied = s.scalar(stmt)
        assert (denied.action, denied.allowed) == ("task.complete", False)


def audit_ids(read) -> list[int]:
    with read() as s:
        return list(s.scalars(select(AuditEvent.id)))


def test_partial_withdrawal_only_removes_the_named_recipient(cengine, people, write, read):
    case_id = run_to_work(cengine, write, people, plan={"lead_agency": "AG-P1",
                                                        "actions": [{"agency": "AG-P1", "lead": True}]})
    with write() as s:
        result = consent.withdraw(cengine, s, people["win"], case_id, agency_codes=["AG-P2"])
    assert result.lost_agency_ids == [people["p2"].agency_id] and result.agenda_pulled == []
    assert not sees(read, people["p2"], case_id) and sees(read, people["p1"], case_id)


def test_an_expired_consent_stops_sharing_by_itself(cengine, people, write, read, frozen_clock):
    data = dict(CONSENT, valid_until="2026-12-31")
    case_id = run_to_work(cengine, write, people, consent_data=data,
                          plan={"lead_agency": "AG-JUSO", "actions": [{"agency": "AG-P3"}]})
    assert sees(read, people["p2"], case_id) and sees(read, people["p3"], case_id)
    frozen_clock.advance(timedelta(days=40))
    assert not sees(read, people["p2"], case_id) and not sees(read, people["p3"], case_id)
    assert sees(read, people["win"], case_id)


def test_a_consent_recorded_just_now_shares_at_once(cengine, people, write, read, frozen_clock):
    """Access filters are kept per minute; a consent starting at 10:00:30 counts at 10:00:31 already."""
    frozen_clock.advance(timedelta(seconds=30))
    case_id = run_to_work(cengine, write, people,
                          plan={"lead_agency": "AG-JUSO", "actions": [{"agency": "AG-P3"}]})
    frozen_clock.advance(timedelta(seconds=1))
    assert sees(read, people["p2"], case_id)  # a recipient of the consent, in the same minute


def test_withdrawing_when_no_consent_is_active_leaves_the_case_alone(cengine, people, write, read):
    with write() as s:
        factories.deploy(cengine, s, consent_files(withdrawal_message=True))  # 支援の実施 listens
    case_id = run_to_work(cengine, write, people, consent_data={"consent": "refused",
                                                                "recipients": ["AG-P1"]},
                          plan={"lead_agency": "AG-JUSO", "actions": [{"agency": "AG-P3"}]})
    with read() as s:
        before = sorted(s.scalars(select(HumanTask.element_id).where(HumanTask.case_id == case_id,
                                                                    HumanTask.status == "open")))
    with write() as s:
        result = consent.withdraw(cengine, s, people["win"], case_id)
    assert (result.consent_ids, result.message_sent) == ([], False)
    with read() as s:
        after = sorted(s.scalars(select(HumanTask.element_id).where(HumanTask.case_id == case_id,
                                                                   HumanTask.status == "open")))
    assert after == before  # no 同意撤回 message interrupted the support


def test_a_refused_consent_shares_nothing(cengine, people, write, read):
    case_id = run_to_work(cengine, write, people, consent_data={"consent": "refused",
                                                                "recipients": ["AG-P1"]},
                          plan={"lead_agency": "AG-JUSO", "actions": [{"agency": "AG-P3"}]})
    with read() as s:
        assert s.scalar(select(Consent.status).where(Consent.case_id == case_id)) == "refused"
    assert not sees(read, people["p1"], case_id) and not sees(read, people["p3"], case_id)


def test_consent_records_are_read_with_one_event_and_hidden_from_outsiders(cengine, people, write, read):
    case_id = run_to_work(cengine, write, people)
    before = len(audit_ids(read))
    with read() as s:
        [view] = consent.list_consents(s, people["p2"], case_id)
    assert view.status == "active" and len(view.recipients) == 2
    assert view.categories == ["basic", "history", "household"]
    assert len(audit_ids(read)) == before + 1
    with write() as s:
        outsider = factories.actor(s, "agency_staff", "AG-P9", "p9", kind="partner")
    with pytest.raises(NotFound), read() as s:
        consent.list_consents(s, outsider, case_id)
    with pytest.raises(NotAllowed), write() as s:  # a recipient sees the case but may not withdraw
        consent.withdraw(cengine, s, people["p2"], case_id)
    assert len(audit_ids(read)) == before + 3  # the read, and two refusals


def test_the_withdrawal_form_withdraws_in_the_same_transaction(cengine, people, write, read):
    case_id = run_to_work(cengine, write, people)
    with write() as s:
        case = s.get(Case, case_id)
        hooks.after_submission(hooks.Submission(cengine, s, people["win"], case, None, "consent_withdrawal",
                                                {"scope": "partial", "agencies": ["AG-P1"]}, None))
    assert not sees(read, people["p1"], case_id) and sees(read, people["p2"], case_id)


def test_plan_roles_become_active_only_when_the_meeting_approves(cengine, people, write, read):
    with write() as s:
        started = factories.start(cengine, s, people["win"], process_id="consent_test")
    with write() as s:
        tasks.complete(cengine, s, people["win"], started.open_tasks[0].id, CONSENT)
    with write() as s:
        plan_task = s.scalar(select(HumanTask.id).where(HumanTask.element_id == "plan",
                                                        HumanTask.status == "open"))
        tasks.complete(cengine, s, people["coord"], plan_task,
                       {"lead_agency": "AG-P3", "actions": [{"agency": "AG-P3", "lead": True}]})
    with read() as s:
        assert s.scalar(select(CaseRole.status).where(CaseRole.case_id == started.case_id)) == "proposed"
        case = s.get(Case, started.case_id)
        assert "plan_role" not in policy.relationships(s, people["p3"], case.id)[0]
    with write() as s:
        decision = s.scalar(select(HumanTask.id).where(HumanTask.element_id == "decision",
                                                       HumanTask.status == "open"))
        tasks.complete(cengine, s, people["coord"], decision, {"result": "approve"})
    assert sees(read, people["p3"], started.case_id)


def test_withdrawal_sends_the_process_its_message_and_records_one_event(cengine, people, write, read):
    with write() as s:
        factories.deploy(cengine, s, consent_files(withdrawal_message=True))
    case_id = run_to_work(cengine, write, people)
    before = audit_ids(read)
    with write() as s:
        result = consent.withdraw(cengine, s, people["win"], case_id)
    assert result.message_sent
    with read() as s:
        open_steps = set(s.scalars(select(HumanTask.element_id).where(HumanTask.case_id == case_id,
                                                                      HumanTask.status == "open")))
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.id.not_in(before))))
    assert open_steps == {"withdrawal"}  # 支援の実施 interrupted; the coordinating office records the rest
    assert [(e.action, e.detail.get("includes")) for e in events] == [("consent.withdraw", ["case.message"])]
    assert not sees(read, people["p1"], case_id)
    with write() as s:  # the form of the withdrawal step applies its scope again: nothing left to withdraw
        task_id = s.scalar(select(HumanTask.id).where(HumanTask.element_id == "withdrawal"))
        tasks.complete(cengine, s, people["coord"], task_id, {"scope": "all"})
    with read() as s:
        assert s.scalar(select(Case.status).where(Case.id == case_id)) == "completed"


def test_has_active_consent_follows_the_consent_and_its_withdrawal(cengine, people, write, read):
    with write() as s:
        case_id = factories.start(cengine, s, people["win"], process_id="consent_test").case_id
    with read() as s:
        assert not consent.has_active_consent(s, case_id)
    case_id = run_to_work(cengine, write, people)
    with read() as s:
        assert consent.has_active_consent(s, case_id)
    with write() as s:
        consent.withdraw(cengine, s, people["win"], case_id)
    with read() as s:
        assert not consent.has_active_consent(s, case_id)
