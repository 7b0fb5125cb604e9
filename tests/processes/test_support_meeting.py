"""Path tests of processes/support_meeting.bpmn (支援会議, 社会福祉法第106条の6), called per round by
the case process while there is no consent. Every scenario restores the case at every step and is
compared with a run on the live-case cache."""

from __future__ import annotations

from sqlalchemy import select

from engine.models import Meeting, MeetingCase, MeetingMember
from tests.processes.driver import Driver, run_twice
from tests.processes.paths import to_support_meeting
from tests.processes.payloads import LEAD, today


def test_screening_hands_the_case_to_the_existing_network(make_driver):
    def scenario(d: Driver) -> None:
        to_support_meeting(d)
        d.complete("sm_screening", decision="existing_network", existing_agency=LEAD)
        assert d.open() == ["nc_close"]
        d.complete("nc_close", result="existing_agency", lead_agency=LEAD)
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"], snap["lead_agency"]) == ("completed", "既存機関で対応", LEAD)

    run_twice(make_driver, scenario)


def test_watch_re_reviews_at_the_next_review_date_then_resolves(make_driver):
    def scenario(d: Driver) -> None:
        to_support_meeting(d)
        d.complete("sm_screening")
        d.complete("sm_convene")
        snap = d.snapshot()
        assert (snap["confidential"], snap["status"], snap["stage"]) == (
            True,
            "waiting_consent",
            "waiting_consent",
        )
        d.complete("sm_meeting", decision="watch", next_review=today(40))
        assert d.open() == [] and d.snapshot()["next_timer_at"] is not None
        d.fire(days=39)
        assert d.open() == []
        d.fire(days=1)
        assert d.open() == ["sm_screening"]  # the next round of the 支援会議
        d.complete("sm_screening")
        d.complete("sm_convene")
        d.complete("sm_meeting", decision="watch", next_review=today(90))
        d.fire(days=80)
        assert d.open() == []
        d.fire(days=10)
        d.complete("sm_screening")
        d.complete("sm_convene")
        d.complete("sm_meeting", decision="resolved")
        d.complete("nc_close", result="resolved")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "支援会議で終了")

    run_twice(make_driver, scenario)


def test_consent_obtained_at_the_meeting_returns_to_first_contact(make_driver):
    def scenario(d: Driver) -> None:
        to_support_meeting(d)
        d.complete("sm_screening")
        d.complete("sm_convene")
        d.complete("sm_meeting", decision="consent_obtained")
        assert d.open() == ["first_contact"]
        d.complete("first_contact")
        assert d.open() == ["assessment"] and d.snapshot()["confidential"] is False

    run_twice(make_driver, scenario)


def test_existing_agency_decision_closes_with_the_lead_named(make_driver):
    def scenario(d: Driver) -> None:
        to_support_meeting(d)
        d.complete("sm_screening")
        d.complete("sm_convene")
        d.complete("sm_meeting", decision="existing_agency", lead_agency=LEAD)
        d.complete("nc_close", result="existing_agency", lead_agency=LEAD)
        assert d.snapshot()["outcome"] == "既存機関で対応"

    run_twice(make_driver, scenario)


def test_convening_opens_a_compartment_with_the_chosen_members_and_the_csw(make_driver, read):
    d = make_driver(False)
    to_support_meeting(d)
    d.complete("sm_screening")
    d.complete("sm_convene")
    with read() as s:
        meeting = s.scalar(
            select(Meeting)
            .join(MeetingCase, MeetingCase.meeting_id == Meeting.id)
            .where(MeetingCase.case_id == d.case_id)
        )
        members = set(s.scalars(select(MeetingMember.user_id).where(MeetingMember.meeting_id == meeting.id)))
    assert meeting.kind == "support"
    assert members == {d.people["coordinator"].user_id, d.people["csw"].user_id}
