"""Worlds for the access tests: an actor with exactly one relationship (or state) to one case.

``build(session, definition_id, role, state)`` creates an agency and a user holding ``role``, a case
taken in by an unrelated agency, and the rows that give the user the relationship ``state`` names
(policy_matrix.yaml: relationships and states). It returns the actor, the case id and the set of
relationships the setup implies, which the tests compare with what engine.policy computes.
Rows are inserted directly (no workflow runs): the policy reads only these columns. Fictional data.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.orm import Session

from engine import clock, users
from engine.actor import Actor
from engine.models import (
    Case,
    CaseRole,
    Consent,
    ConsentRecipient,
    HumanTask,
    Meeting,
    MeetingCase,
    MeetingMember,
    User,
)
from tests.support import factories

_n = itertools.count(1)
SOURCE = "AG-SOURCE"  # the agency that takes every world case in, unrelated to the actors
OTHER = "AG-ELSEWHERE"


@dataclass(frozen=True)
class Placed:
    actor: Actor
    case_id: int
    implied: frozenset[str]
    confidential: bool
    closed: bool


def new_case(session: Session, definition_id: int, intake_agency_id: int, **columns: object) -> Case:
    now = clock.now()
    number = next(_n)
    case = Case(case_number=f"T-{number:05d}", process_definition_id=definition_id, status="active",
                intake_agency_id=intake_agency_id, state=b"{}", serializer_version="test", created_at=now,
                updated_at=now, subject_name=f"架空 相談者{number}", **columns)
    session.add(case)
    session.flush()
    return case


def open_task(session: Session, case: Case, role: str, agency_id: int | None = None,
              assignee_id: int | None = None) -> HumanTask:
    task = HumanTask(case_id=case.id, spiff_task_id=f"00000000-0000-0000-0000-{next(_n):012d}",
                     element_id="step", process_id="referral_test", title="テスト手順", role=role,
                     agency_id=agency_id, assignee_id=assignee_id, status="open", created_at=clock.now())
    session.add(task)
    session.flush()
    return task


def consent(session: Session, case: Case, agency_ids: list[int], *, status: str = "active",
            expired: bool = False, categories: list[str] | None = None) -> Consent:
    now = clock.now()
    until = now - timedelta(days=1) if expired else now + timedelta(days=300)
    row = Consent(case_id=case.id, status=status, categories=categories or ["basic", "household", "history"],
                  valid_from=now - timedelta(days=30), valid_until=until, recorded_at=now,
                  withdrawn_at=now if status == "withdrawn" else None)
    session.add(row)
    session.flush()
    for agency_id in agency_ids:
        session.add(ConsentRecipient(consent_id=row.id, agency_id=agency_id, kind="agency"))
    session.flush()
    return row


def support_meeting(session: Session, case: Case, members: list[tuple[int, bool]]) -> Meeting:
    """A 支援会議 with ``case`` on its agenda; ``members`` are (user id, removed) pairs."""
    now = clock.now()
    meeting = Meeting(kind="support", title="支援会議（テスト）", legal_basis="社会福祉法第106条の6",
                      status="planned",
                      created_at=now)
    session.add(meeting)
    session.flush()
    session.add(MeetingCase(meeting_id=meeting.id, case_id=case.id, status="planned", added_at=now))
    for user_id, removed in members:
        session.add(MeetingMember(meeting_id=meeting.id, user_id=user_id, added_at=now,
                                  removed_at=now if removed else None))
    case.confidential = True
    session.flush()
    return meeting


def build(session: Session, definition_id: int, role: str, state: str) -> Placed:
    """One actor holding ``role`` related to one case as ``state`` says."""
    n = next(_n)
    kind = "coordinating_office" if state == "coordinating_office" else "partner"
    code = f"AG-{role[:6].upper()}-{n}"
    factories.agency(session, code, kind)
    user = users.create_user(session, f"u{n}-{role}", f"テスト {role} {n}", factories.PASSWORD, [role], code)
    actor = users.actor_for(user)
    agency_id = user.agency_id
    source = factories.agency(session, SOURCE, "window_elderly").id
    elsewhere = factories.agency(session, OTHER, "partner").id
    case = new_case(session, definition_id, source)
    implied: set[str] = set()
    confidential = closed = False
    if state == "coordinating_office":
        implied = {"coordinating_office"}
    elif state in ("intake", "intake_closed"):
        case.intake_agency_id = agency_id
        implied = {"intake"}
        if state == "intake_closed":
            case.status, closed = "completed", True
    elif state in ("consent_recipient", "consent_expired", "consent_withdrawn"):
        consent(session, case, [agency_id], status="withdrawn" if state == "consent_withdrawn" else "active",
                expired=state == "consent_expired")
        implied = {"consent_recipient"} if state == "consent_recipient" else set()
    elif state == "plan_role":
        consent(session, case, [elsewhere])
        session.add(CaseRole(case_id=case.id, agency_id=agency_id, status="active", granted_at=clock.now()))
        implied = {"plan_role"}
    elif state == "case_csw":
        case.csw_user_id = user.id
        implied = {"case_csw", "agency_work"}
    elif state == "task_assigned":
        open_task(session, case, "csw", agency_id=None, assignee_id=user.id)
        implied = {"task_assigned", "agency_work"}
    elif state == "task_queue":
        open_task(session, case, role, agency_id=None)
        implied = {"task_queue"}
    elif state == "agency_work":
        colleague = users.create_user(session, f"c{n}-{role}", f"同僚 {n}", factories.PASSWORD,
                                      ["agency_staff"], code)
        open_task(session, case, "agency_staff", agency_id=None, assignee_id=colleague.id)
        implied = {"agency_work"}
    elif state in ("meeting_member", "meeting_removed"):
        support_meeting(session, case, [(user.id, state == "meeting_removed")])
        implied, confidential = ({"meeting_member"} if state == "meeting_member" else set()), True
    elif state == "meeting_nonmember":
        case.intake_agency_id = agency_id
        chair = session.query(User).filter(User.username != user.username).first()
        support_meeting(session, case, [(chair.id, False)] if chair else [])
        implied, confidential = {"intake"}, True
    elif state != "none":
        raise ValueError(f"no world for {state}")
    session.flush()
    return Placed(actor, case.id, frozenset(implied), confidential, closed)
