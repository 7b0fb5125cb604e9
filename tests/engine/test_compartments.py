"""支援会議 (§106-6) compartments: a case on a 支援会議 agenda and its records are visible only to that
meeting's members and the coordinating office, marked 守秘義務対象 with the legal basis; a supervisor who
is not a member is refused; a removed member gets NotFound on the next request; lists agree."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import audit, cases, clock, compartments, hooks, inbox, policy, tasks
from engine.errors import Invalid, NotAllowed, NotFound
from engine.models import AuditEvent, Case, FormRecord, HumanTask, MeetingMember
from tests.support import factories
from tests.support.referral10 import referral_files


@pytest.fixture
def world(engine, write):
    with write() as s:
        p = {"win": factories.actor(s, "window", "AG-WIN", "win"),
             "sup": factories.actor(s, "supervisor", "AG-WIN", "sup"),
             "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
             "member": factories.actor(s, "agency_staff", "AG-HOKEN", "member", kind="partner"),
             "csw": factories.actor(s, "csw", "AG-CSW", "csw")}
        factories.deploy(engine, s, referral_files())
    with write() as s:
        started = factories.start(engine, s, p["win"])
    with write() as s:
        meeting = compartments.open_meeting(s, p["coord"], "support")
        compartments.add_case(s, p["coord"], meeting.id, started.case_id)
        compartments.add_member(s, p["coord"], meeting.id, "member")
    return p, started.case_id, meeting.id


def sees(read, actor, case_id) -> bool:
    with read() as s:
        try:
            cases.case_detail(s, actor, case_id)
            return True
        except NotFound:
            return False


def test_only_members_and_the_coordinating_office_see_a_support_meeting_case(world, read):
    people, case_id, _ = world
    assert sees(read, people["member"], case_id) and sees(read, people["coord"], case_id)
    for outsider in ("win", "sup", "csw"):  # the intake agency and its supervisor are not members
        assert not sees(read, people[outsider], case_id), outsider


def test_the_case_is_marked_confidential_with_its_legal_basis(world, read):
    people, case_id, meeting_id = world
    with read() as s:
        case = s.get(Case, case_id)
        mark = compartments.marking(s, case)
        assert case.confidential and mark.label == "守秘義務対象" and "第106条の6" in mark.legal_basis
        assert mark.meeting_ids == (meeting_id,)
        view = compartments.meeting_detail(s, people["member"], meeting_id)
        assert view.marking == mark and [c["case_id"] for c in view.cases] == [case_id]
        assert policy.may_see_name(people["member"], case) and policy.may_see_name(people["coord"], case)


def test_a_supervisor_who_is_not_a_member_is_refused_and_the_refusal_is_recorded(world, read):
    people, case_id, meeting_id = world
    with pytest.raises(NotFound), read() as s:
        compartments.meeting_detail(s, people["sup"], meeting_id)
    with pytest.raises(NotFound), read() as s:
        cases.case_detail(s, people["sup"], case_id)
    with read() as s:
        refused = list(s.scalars(select(AuditEvent).where(AuditEvent.username == "sup")))
    assert [(e.action, e.allowed) for e in refused] == [("meeting.read", False), ("case.read", False)]


def test_a_removed_member_gets_not_found_on_the_next_request(world, engine, write, read):
    people, case_id, meeting_id = world
    with write() as s:  # the member has a task on the case
        task = s.scalar(select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "open"))
        task.assignee_id = people["member"].user_id
    with read() as s:
        assert inbox.list_tasks(engine, s, people["member"], "mine").total == 1
    with write() as s:
        assert compartments.remove_member(s, people["coord"], meeting_id, "member") == 1
    assert not sees(read, people["member"], case_id)
    with read() as s:
        assert inbox.list_tasks(engine, s, people["member"], "mine").total == 0
        assert s.scalar(select(Case.id).where(policy.case_filter(people["member"], "case.search"))) is None
    with pytest.raises(NotFound), read() as s:
        compartments.meeting_detail(s, people["member"], meeting_id)
    with read() as s:  # the membership stays as history
        row = s.scalar(select(MeetingMember).where(MeetingMember.meeting_id == meeting_id))
        assert row.removed_at is not None and row.removed_by_id == people["coord"].user_id


def test_support_meeting_records_stay_in_the_compartment_even_on_an_open_case(engine, write, read):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
        coord = factories.actor(s, "coordinator", "AG-JUSO", "coord")
        factories.deploy(engine, s, referral_files())
    with write() as s:
        started = factories.start(engine, s, win)
        s.add(FormRecord(case_id=started.case_id, form_key="sm_record", element_id="sm_meeting",
                         title="支援会議 記録", data={}, submitted_at=clock.now()))
    with read() as s:
        assert {r.form_key for r in cases.case_detail(s, win, started.case_id).records} == {"intake"}
        coord_forms = {r.form_key for r in cases.case_detail(s, coord, started.case_id).records}
        assert coord_forms == {"intake", "sm_record"}


def test_membership_for_one_case_shows_only_that_case(world, engine, write, read):
    people, case_id, meeting_id = world
    with write() as s:
        other_case = factories.start(engine, s, people["win"]).case_id
    with write() as s:
        compartments.add_case(s, people["coord"], meeting_id, other_case)
        compartments.add_member(s, people["coord"], meeting_id, "csw", case_id=other_case)
    assert sees(read, people["csw"], other_case) and not sees(read, people["csw"], case_id)
    with read() as s:
        view = compartments.meeting_detail(s, people["csw"], meeting_id)
    assert [c["case_id"] for c in view.cases] == [other_case]


def test_only_the_coordinating_office_manages_meetings(world, write):
    people, case_id, meeting_id = world
    with pytest.raises(NotAllowed), write() as s:
        compartments.add_member(s, people["member"], meeting_id, "win")
    with pytest.raises(NotAllowed), write() as s:
        compartments.open_meeting(s, people["sup"], "support")
    with pytest.raises(NotFound), write() as s:
        compartments.add_member(s, people["win"], meeting_id, "win")


def test_a_plenary_meeting_takes_only_consented_cases(world, write):
    people, case_id, _ = world
    with write() as s:
        plenary = compartments.open_meeting(s, people["coord"], "plenary")
    with pytest.raises(Invalid), write() as s:
        compartments.add_case(s, people["coord"], plenary.id, case_id)


def test_members_acknowledge_the_duty_of_confidentiality(world, write, read):
    people, _, meeting_id = world
    with write() as s:
        compartments.acknowledge(s, people["member"], meeting_id)
    with read() as s:
        view = compartments.meeting_detail(s, people["coord"], meeting_id)
    assert [m["acknowledged"] for m in view.members] == [True]


def test_convening_through_the_form_opens_the_compartment(engine, write, read):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
        coord = factories.actor(s, "coordinator", "AG-JUSO", "coord")
        member = factories.actor(s, "agency_staff", "AG-HOKEN", "member", kind="partner")
        factories.deploy(engine, s, referral_files())
    with write() as s:
        case_id = factories.start(engine, s, win).case_id
    with write() as s:
        members = [{"name": "架空 委員", "affiliation": "保健", "kind": "agency", "user": "member"},
                   {"name": "民生委員", "kind": "resident"}]
        data = {"meeting_at": "2026-12-01T10:00", "members": members}
        hooks.after_submission(hooks.Submission(engine, s, coord, s.get(Case, case_id), None, "sm_convene",
                                                data, None))
    assert sees(read, member, case_id) and not sees(read, win, case_id)
    with read() as s:
        assert audit.verify(s).ok
        assert compartments.list_meetings(s, member)[0].kind == "support"
        assert compartments.list_meetings(s, win) == []


def test_a_step_completed_inside_the_compartment_leaves_a_compartment_record(world, engine, write, read):
    people, case_id, meeting_id = world
    with write() as s:
        compartments.add_member(s, people["coord"], meeting_id, "win")  # the window worker joins the meeting
    with read() as s:
        task_id = s.scalar(select(HumanTask.id)
                           .where(HumanTask.case_id == case_id, HumanTask.status == "open"))
    with write() as s:
        tasks.complete(engine, s, people["win"], task_id, {"action": "refer"})
    with read() as s:
        record = s.scalar(select(FormRecord).where(FormRecord.human_task_id == task_id))
        assert record.compartment  # stays with the compartment even after the case leaves it
