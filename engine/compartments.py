"""支援会議 (社会福祉法第106条の6) compartments, and meetings with their agenda items and members.

A 支援会議 is its own compartment: the chair (the coordinating office) picks members per meeting or
per case; a case on its agenda becomes confidential, and then it and its 支援会議 records are visible
only to the meeting's current members and the coordinating office — marked 守秘義務対象 with the legal
basis, never as consent. Anyone else, a supervisor included, gets NotFound; a member who is removed gets
NotFound from the next request on. 重層的支援会議 (``plenary``) meetings take only cases with an active
consent (domain §5.3.3) and are not compartments. Every operation records exactly one audit event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, false, select
from sqlalchemy.orm import Session

from . import audit, clock, policy, runtime
from .actor import Actor
from .db import begin_write
from .errors import Invalid, NotAllowed, NotFound
from .models import Agency, Case, Meeting, MeetingCase, MeetingMember, User
from .policy_matrix import matrix

KINDS = {"support": "支援会議", "plenary": "重層的支援会議"}


@dataclass(frozen=True)
class Marking:
    """The banner of compartment data: 守秘義務対象 and its legal basis (never shown as consent)."""

    label: str
    legal_basis: str
    meeting_ids: tuple[int, ...] = ()


def marking(session: Session, case: Case) -> Marking | None:
    """The compartment marking of a case, or None when it is not a 支援会議 case."""
    ids = tuple(session.scalars(
        select(MeetingCase.meeting_id).join(Meeting, Meeting.id == MeetingCase.meeting_id)
        .where(MeetingCase.case_id == case.id, Meeting.kind == "support").order_by(MeetingCase.meeting_id)))
    if not case.confidential and not ids:
        return None
    m = matrix()
    return Marking(m.compartment_label, m.compartment_basis, ids)


def _office(session: Session, actor: Actor) -> bool:
    if actor.agency_id is None:
        return False
    return session.scalar(select(Agency.kind).where(Agency.id == actor.agency_id)) == policy.COORDINATING_KIND


def meeting_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on ``Meeting``: meetings the actor is a current member of (any scope)."""
    if actor.user_id is None:
        return false()
    return exists().where(MeetingMember.meeting_id == Meeting.id, MeetingMember.user_id == actor.user_id,
                          MeetingMember.removed_at.is_(None))


def meeting_allows(session: Session, actor: Actor, action: str, meeting: Meeting) -> bool:
    """meeting.read: current members and the coordinating office; meeting.write: the coordinating office."""
    m = matrix()
    granted = m.grants(actor.roles, action)
    if "coordinating_office" in granted and _office(session, actor):
        return True
    if action == "meeting.read" and "meeting_member" in granted:
        found = session.scalar(select(Meeting.id).where(Meeting.id == meeting.id, meeting_filter(actor)))
        return found is not None
    return False


def _meeting(session: Session, actor: Actor, meeting_id: int, action: str) -> Meeting:
    meeting = session.get(Meeting, meeting_id)
    if meeting is None or not meeting_allows(session, actor, "meeting.read", meeting):
        raise NotFound(f"meeting {meeting_id} not found")
    if action != "meeting.read" and not meeting_allows(session, actor, action, meeting):
        raise NotAllowed(f"{action} needs the coordinating office")
    return meeting


@audit.guarded("meeting.write", "meeting")
def open_meeting(session: Session, actor: Actor, kind: str = "support", title: str = "",
                 scheduled_at: datetime | None = None) -> Meeting:
    """招集: the coordinating office opens a meeting (a 支援会議 is a new compartment)."""
    if kind not in KINDS:
        raise Invalid({"kind": ["会議の種類が正しくありません。"]})
    granted = matrix().grants(actor.roles, "meeting.write")
    if "coordinating_office" not in granted or not _office(session, actor):
        raise NotAllowed("only the coordinating office convenes meetings")
    now = clock.now()
    meeting = Meeting(kind=kind, title=title[:200] or KINDS[kind], scheduled_at=scheduled_at,
                      status="planned", legal_basis=matrix().compartment_basis if kind == "support" else "",
                      created_by_id=actor.user_id, created_at=now)
    session.add(meeting)
    session.flush()
    audit.record(session, actor, "meeting.open", "meeting", str(meeting.id), detail={"kind": kind})
    return meeting


@audit.guarded("meeting.write", "meeting", "meeting_id")
def add_case(session: Session, actor: Actor, meeting_id: int, case_id: int) -> MeetingCase:
    """案件登録: put a case on the agenda; on a 支援会議 the case enters the compartment."""
    begin_write(session)
    meeting = _meeting(session, actor, meeting_id, "meeting.write")
    policy.visible_case(session, actor, case_id)
    case = runtime.lock_case(session, case_id)
    now = clock.now()
    if meeting.kind == "plenary" and not session.scalar(
            select(Case.id).where(Case.id == case.id, exists().where(policy.active_consent(now)))):
        raise Invalid({"case": ["本人の同意が確認できないケースは重層的支援会議の案件にできません。"]})
    item = session.scalar(select(MeetingCase).where(MeetingCase.meeting_id == meeting.id,
                                                    MeetingCase.case_id == case.id))
    if item is None:
        item = MeetingCase(meeting_id=meeting.id, case_id=case.id, status="planned", added_at=now)
        session.add(item)
    else:
        item.status, item.pulled_at, item.pulled_reason = "planned", None, ""
    if meeting.kind == "support":
        case.confidential = True
    session.flush()
    audit.record(session, actor, "meeting.add_case", "meeting", str(meeting.id), case_id=case.id)
    return item


@audit.guarded("meeting.write", "meeting", "meeting_id")
def add_member(session: Session, actor: Actor, meeting_id: int, username: str,
               case_id: int | None = None) -> MeetingMember:
    """構成員の選定: for the whole meeting, or for one of its cases (``case_id``)."""
    meeting = _meeting(session, actor, meeting_id, "meeting.write")
    user = session.scalar(select(User).where(User.username == username, User.active.is_(True)))
    if user is None:
        raise Invalid({"member": ["構成員に選べない利用者です。"]})
    if case_id is not None and session.scalar(select(MeetingCase.id).where(
            MeetingCase.meeting_id == meeting.id, MeetingCase.case_id == case_id)) is None:
        raise Invalid({"case": ["この会議の案件ではありません。"]})
    member = MeetingMember(meeting_id=meeting.id, user_id=user.id, case_id=case_id, added_by_id=actor.user_id,
                           added_at=clock.now())
    session.add(member)
    session.flush()
    audit.record(session, actor, "meeting.add_member", "meeting", str(meeting.id), case_id=case_id,
                 detail={"user_id": user.id})
    return member


@audit.guarded("meeting.write", "meeting", "meeting_id")
def remove_member(session: Session, actor: Actor, meeting_id: int, username: str) -> int:
    """構成員から外す: effective on the member's next request; the rows stay as history."""
    meeting = _meeting(session, actor, meeting_id, "meeting.write")
    user_id = session.scalar(select(User.id).where(User.username == username))
    rows = list(session.scalars(select(MeetingMember).where(MeetingMember.meeting_id == meeting.id,
                                                            MeetingMember.user_id == user_id,
                                                            MeetingMember.removed_at.is_(None))))
    if not rows:
        raise Invalid({"member": ["この会議の構成員ではありません。"]})
    now = clock.now()
    for row in rows:
        row.removed_at, row.removed_by_id = now, actor.user_id
    session.flush()
    audit.record(session, actor, "meeting.remove_member", "meeting", str(meeting.id),
                 detail={"user_id": user_id})
    return len(rows)


@audit.guarded("meeting.acknowledge", "meeting", "meeting_id")
def acknowledge(session: Session, actor: Actor, meeting_id: int) -> None:
    """守秘義務の確認: the member acknowledges the statutory confidentiality duty (§106-6)."""
    meeting = _meeting(session, actor, meeting_id, "meeting.read")
    rows = list(session.scalars(select(MeetingMember).where(MeetingMember.meeting_id == meeting.id,
                                                            MeetingMember.user_id == actor.user_id,
                                                            MeetingMember.removed_at.is_(None))))
    if not rows:
        raise NotAllowed("only members acknowledge")
    for row in rows:
        row.acknowledged_at = row.acknowledged_at or clock.now()
    audit.record(session, actor, "meeting.acknowledge", "meeting", str(meeting.id))


@dataclass
class MeetingView:
    id: int
    kind: str
    kind_label: str
    title: str
    status: str
    scheduled_at: datetime | None
    marking: Marking | None
    cases: list[dict[str, Any]] = field(default_factory=list)
    members: list[dict[str, Any]] = field(default_factory=list)


@audit.guarded("meeting.read", "meeting", "meeting_id")
def meeting_detail(session: Session, actor: Actor, meeting_id: int) -> MeetingView:
    """The meeting page: agenda (only cases the actor may see) and members; one ``meeting.read`` event."""
    meeting = _meeting(session, actor, meeting_id, "meeting.read")
    m = matrix()
    cases = [{"case_id": c.id, "case_number": c.case_number, "status": item.status}
             for item, c in session.execute(
                 select(MeetingCase, Case).join(Case, Case.id == MeetingCase.case_id)
                 .where(MeetingCase.meeting_id == meeting.id, policy.case_filter(actor, "meeting.read"))
                 .order_by(MeetingCase.id)).tuples()]
    members = [{"user_id": u.id, "name": u.display_name, "agency_id": u.agency_id, "case_id": mm.case_id,
                "acknowledged": mm.acknowledged_at is not None, "removed": mm.removed_at is not None}
               for mm, u in session.execute(
                   select(MeetingMember, User).join(User, User.id == MeetingMember.user_id)
                   .where(MeetingMember.meeting_id == meeting.id).order_by(MeetingMember.id)).tuples()]
    mark = None
    if meeting.kind == "support":
        mark = Marking(m.compartment_label, m.compartment_basis, (meeting.id,))
    audit.record(session, actor, "meeting.read", "meeting", str(meeting.id), detail={"cases": len(cases)})
    return MeetingView(meeting.id, meeting.kind, KINDS[meeting.kind], meeting.title, meeting.status,
                       meeting.scheduled_at, mark, cases, members)


def list_meetings(session: Session, actor: Actor, limit: int = 100) -> list[Meeting]:
    """Meetings the actor is a member of (all of them for the coordinating office); no case data."""
    granted = matrix().grants(actor.roles, "meeting.read")
    stmt = select(Meeting)
    if not ("coordinating_office" in granted and _office(session, actor)):
        if "meeting_member" not in granted:
            return []
        stmt = stmt.where(meeting_filter(actor))
    return list(session.scalars(stmt.order_by(Meeting.id.desc()).limit(limit)))


def on_convene_form(submission: Any) -> None:
    """After-submission hook of 支援会議の招集 (sm_convene): the meeting becomes a compartment for the case.

    Creates the 支援会議 with the case on its agenda and makes the case confidential; member rows that
    name a user account (``members[].user``) become members for this case. No audit event of its own:
    the submission has one.
    """
    from .consent import config as access_config
    cfg = access_config().get("support_meeting") or {}
    session, case, now = submission.session, submission.case, clock.now()
    when = submission.data.get(cfg.get("scheduled_field") or "meeting_at")
    scheduled = None
    if isinstance(when, str) and when:
        try:
            scheduled = clock.ensure_utc(datetime.fromisoformat(when).replace(tzinfo=datetime.fromisoformat(
                when).tzinfo or clock.TOKYO))
        except ValueError:
            scheduled = None
    meeting = Meeting(kind="support", title=KINDS["support"], legal_basis=matrix().compartment_basis,
                      scheduled_at=scheduled, status="planned", created_by_id=submission.actor.user_id,
                      created_at=now)
    session.add(meeting)
    session.flush()
    session.add(MeetingCase(meeting_id=meeting.id, case_id=case.id, status="planned", added_at=now))
    case.confidential = True
    names = []
    for table in cfg.get("member_tables") or []:
        for row in submission.data.get(table) or []:
            if isinstance(row, dict):
                names += [row[c] for c in cfg.get("member_user_columns") or [] if isinstance(row.get(c), str)]
    for user_id in session.scalars(select(User.id).where(User.username.in_(names), User.active.is_(True))):
        session.add(MeetingMember(meeting_id=meeting.id, user_id=user_id, case_id=case.id,
                                  added_by_id=submission.actor.user_id, added_at=now))
    session.flush()
