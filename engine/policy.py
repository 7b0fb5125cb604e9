"""Who may see and do what: the one place access decisions are made (default deny).

The rules are data (``engine/policy_matrix.yaml``, read by :mod:`engine.policy_matrix`): for each role
and action, the relationships to a case that allow it. This module computes those relationships from
the database — as SQL predicates for lists (:func:`case_filter`) and as a set for one case
(:func:`relationships`) — and answers :func:`can`. Every list, count, search and export uses
:func:`case_filter`; every object lookup uses :func:`visible_case` or :func:`can`. What an actor may not
see is reported as :class:`~engine.errors.NotFound`, never as "forbidden", so the existence of a
consultation is not disclosed. Nothing is cached: a withdrawn consent or a removed 支援会議 member
counts from the next query on. docs/access.md has the rules in plain words.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from sqlalchemy import ColumnElement, and_, bindparam, false, literal, or_, select, true
from sqlalchemy.orm import Session, object_session

from . import clock
from .actor import Actor
from .errors import NotFound
from .models import (
    Agency,
    Case,
    CaseRole,
    Consent,
    ConsentRecipient,
    FormRecord,
    HumanTask,
    Meeting,
    MeetingCase,
    MeetingMember,
    User,
)
from .policy_matrix import GLOBAL, SYSTEM, Matrix, matrix

COORDINATING_KIND = "coordinating_office"
SUPPORT_MEETING = "support"

Predicate = Callable[[Actor, datetime], ColumnElement[bool]]


def active_consent(now: datetime) -> ColumnElement[bool]:
    """Consent rows (of the case in the enclosing query) that share data right now.

    ``now`` is the current minute (filters are kept per minute): a consent that starts during this
    minute — one recorded just now — already counts, and one that ends during it still counts until the
    minute is over. Withdrawal is a status change and takes effect on the next request."""
    return and_(Consent.case_id == Case.id, Consent.status == "active",
                Consent.valid_from < now + timedelta(minutes=1),
                or_(Consent.valid_until.is_(None), Consent.valid_until > now))


_RECIPIENTS = ConsentRecipient.__table__.join(Consent.__table__, Consent.id == ConsentRecipient.consent_id)
# Core aliases built once: building ORM aliases per call cost more than running the queries.
_ASSIGNED = HumanTask.__table__.alias("policy_task_assigned")
_QUEUE = HumanTask.__table__.alias("policy_task_queue")
_WORK = HumanTask.__table__.alias("policy_task_work")
_STAFF = User.__table__.alias("policy_staff")
_ITEM = MeetingCase.__table__.alias("policy_item")
_MEMBER = MeetingMember.__table__.alias("policy_member")
_MEETING = Meeting.__table__.alias("policy_meeting")
_AGENCY = Agency.__table__.alias("policy_agency")
_ROLE = CaseRole.__table__.alias("policy_case_role")


def _exists(*where: Any, of: Any) -> ColumnElement[bool]:
    return select(literal(1)).select_from(of).where(*where).correlate(Case).exists()


def _coordinating_office(actor: Actor, now: datetime) -> ColumnElement[bool]:
    if actor.agency_id is None:
        return false()
    a = _AGENCY.c
    return _exists(a.id == actor.agency_id, a.kind == COORDINATING_KIND, of=_AGENCY)


def _intake(actor: Actor, now: datetime) -> ColumnElement[bool]:
    return Case.intake_agency_id == actor.agency_id if actor.agency_id is not None else false()


def _consent_recipient(actor: Actor, now: datetime) -> ColumnElement[bool]:
    if actor.agency_id is None:
        return false()
    return _exists(ConsentRecipient.agency_id == actor.agency_id, ConsentRecipient.withdrawn_at.is_(None),
                   active_consent(now), of=_RECIPIENTS)


def _plan_role(actor: Actor, now: datetime) -> ColumnElement[bool]:
    if actor.agency_id is None:
        return false()
    r = _ROLE.c
    role = _exists(r.case_id == Case.id, r.agency_id == actor.agency_id, r.status == "active",
                   r.revoked_at.is_(None), of=_ROLE)
    return and_(role, _exists(active_consent(now), of=Consent))


def _case_csw(actor: Actor, now: datetime) -> ColumnElement[bool]:
    return Case.csw_user_id == actor.user_id if actor.user_id is not None else false()


def _task_assigned(actor: Actor, now: datetime) -> ColumnElement[bool]:
    if actor.user_id is None:
        return false()
    t = _ASSIGNED.c
    return _exists(t.case_id == Case.id, t.status == "open", t.assignee_id == actor.user_id, of=_ASSIGNED)


def _task_queue(actor: Actor, now: datetime) -> ColumnElement[bool]:
    roles = sorted(actor.roles)
    if not roles:
        return false()
    t = _QUEUE.c
    agency = t.agency_id.is_(None) if actor.agency_id is None else or_(t.agency_id.is_(None),
                                                                         t.agency_id == actor.agency_id)
    # one comparison per role, not IN (…): an IN list is an "expanding" parameter whose SQL is re-rendered
    # on every execution of the (large, cached) statements that embed this filter
    return _exists(t.case_id == Case.id, t.status == "open", t.assignee_id.is_(None),
                   or_(*[t.role == role for role in roles]), agency, of=_QUEUE)


def _agency_work(actor: Actor, now: datetime) -> ColumnElement[bool]:
    if actor.agency_id is None:
        return false()
    t = _WORK.c
    staff_ids = select(_STAFF.c.id).where(_STAFF.c.agency_id == actor.agency_id).correlate(None)
    return or_(_exists(t.case_id == Case.id, t.status == "open",
                       or_(t.agency_id == actor.agency_id, t.assignee_id.in_(staff_ids)), of=_WORK),
               Case.csw_user_id.in_(staff_ids))


def _meeting_member(actor: Actor, now: datetime) -> ColumnElement[bool]:
    if actor.user_id is None:
        return false()
    item, member, meeting = _ITEM.c, _MEMBER.c, _MEETING.c
    return _exists(item.case_id == Case.id, item.status != "pulled", meeting.id == item.meeting_id,
                   meeting.kind == SUPPORT_MEETING, member.meeting_id == item.meeting_id,
                   member.user_id == actor.user_id, member.removed_at.is_(None),
                   or_(member.case_id.is_(None), member.case_id == Case.id), of=_ITEM)


def _system(actor: Actor, now: datetime) -> ColumnElement[bool]:
    return true() if actor.is_system else false()


PREDICATES: dict[str, Predicate] = {
    "coordinating_office": _coordinating_office, "intake": _intake, "consent_recipient": _consent_recipient,
    "plan_role": _plan_role, "case_csw": _case_csw, "task_assigned": _task_assigned,
    "task_queue": _task_queue,
    "agency_work": _agency_work, "meeting_member": _meeting_member, SYSTEM: _system,
}


def _predicate(name: str, actor: Actor, now: datetime, m: Matrix) -> ColumnElement[bool]:
    clause = PREDICATES[name](actor, now)
    if name in m.compartment_grants or name == SYSTEM:
        return clause
    return and_(Case.confidential.is_(False), clause)


def case_filter(actor: Actor, action: str = "case.read") -> ColumnElement[bool]:
    """SQL condition on ``Case`` that is true exactly for the cases on which ``actor`` may do ``action``.

    The single visibility predicate of every list, count, badge, search and export. Built expressions
    are kept for the minute (consent periods are compared with the time floored to the minute): the
    rows they read — consents, withdrawals, memberships — are read afresh by every query.
    """
    return _case_filter(action, actor.roles, actor.agency_id, actor.user_id, _minute())


def _minute() -> datetime:
    return clock.now().replace(second=0, microsecond=0)


@lru_cache(maxsize=4096)
def _case_filter(action: str, roles: frozenset[str], agency_id: int | None, user_id: int | None,
                 now: datetime) -> ColumnElement[bool]:
    m = matrix()
    granted = m.grants(roles, action)
    if not granted or action not in m.actions or m.actions[action].scope == GLOBAL:
        return false()
    actor = Actor(user_id=user_id, username="", display_name="", agency_id=agency_id, roles=roles)
    clause = or_(*[_predicate(name, actor, now, m) for name in sorted(granted)])
    if action in m.closed_deny:
        clause = and_(*[Case.status != status for status in sorted(m.closed_statuses)], clause)
    return clause


def relationships(session: Session, actor: Actor, case_id: int) -> tuple[set[str], Case | None]:
    """Every relationship ``actor`` has to the case right now (ignoring the compartment), and the case."""
    names, stmt = _relationship_query(actor.roles, actor.agency_id, actor.user_id, _minute())
    row = session.execute(stmt, {"policy_case_id": case_id}).first()
    if row is None:
        return set(), None
    return {n for n, value in zip(names, row[1:], strict=True) if value}, row[0]


@lru_cache(maxsize=4096)
def _relationship_query(roles: frozenset[str], agency_id: int | None, user_id: int | None,
                        now: datetime) -> tuple[tuple[str, ...], Any]:
    actor = Actor(user_id=user_id, username="", display_name="", agency_id=agency_id, roles=roles)
    names = tuple(sorted(PREDICATES))
    stmt = select(Case, *[PREDICATES[n](actor, now).label(f"r_{n}") for n in names]) \
        .where(Case.id == bindparam("policy_case_id"))
    return names, stmt


def decide(session: Session, actor: Actor, action: str, case_id: int) -> bool:
    m = matrix()
    if not m.role_may(actor.roles, action):
        return False
    have, case = relationships(session, actor, case_id)
    if case is None:
        return False
    return m.allows(actor.roles, action, have, confidential=bool(case.confidential),
                    closed=case.status in m.closed_statuses)


def can(actor: Actor, action: str, resource: Any = None) -> bool:
    """May ``actor`` do ``action`` on ``resource`` (a Case, HumanTask, Meeting, FormRecord or None)?

    Default deny: unknown actions, unknown resources and detached objects are refused.
    """
    m = matrix()
    if resource is None:
        return m.allows(actor.roles, action, {GLOBAL})
    mapped = isinstance(resource, Case | HumanTask | FormRecord | Meeting)
    session = object_session(resource) if mapped else None
    if session is None:
        return False
    if isinstance(resource, Case):
        return decide(session, actor, action, resource.id)
    if isinstance(resource, HumanTask):
        return task_allows(session, actor, action, resource)
    if isinstance(resource, FormRecord):
        return decide(session, actor, action, resource.case_id) and record_visible(session, actor, resource)
    from .compartments import meeting_allows
    return meeting_allows(session, actor, action, resource)


def task_allows(session: Session, actor: Actor, action: str, task: HumanTask) -> bool:
    if not decide(session, actor, action, task.case_id):
        return False
    if action in ("task.claim", "task.complete", "task.draft"):
        return eligible_for_task(actor, task)
    if action == "task.unclaim":
        return task.assignee_id == actor.user_id or may_supervise(actor, task)
    if action == "task.reassign":
        return may_supervise(actor, task)
    return True


def visible_case(session: Session, actor: Actor, case_id: int, action: str = "case.read") -> Case:
    """The case if ``actor`` may do ``action`` on it (default: see it); else NotFound, existing or not."""
    case = session.scalar(select(Case).where(Case.id == case_id, case_filter(actor, action)))
    if case is None:
        raise NotFound(f"case {case_id} not found")
    return case


def may_see_case(session: Session, actor: Actor, case_id: int) -> bool:
    return session.scalar(select(Case.id).where(Case.id == case_id, case_filter(actor))) is not None


def eligible_for_task(actor: Actor, task: HumanTask) -> bool:
    """May ``actor`` claim or work on ``task`` (holds its role, and belongs to its agency if it has one)?"""
    if task.role not in actor.roles:
        return False
    return task.agency_id is None or task.agency_id == actor.agency_id


def may_supervise(actor: Actor, task: HumanTask) -> bool:
    """Supervisors of the task's agency (or of its assignee's agency), and the coordinating office."""
    m = matrix()
    session = object_session(task)
    if actor.is_system:
        return True
    if actor.has_role("supervisor") and actor.agency_id is not None:
        if task.agency_id is None or task.agency_id == actor.agency_id:
            return True
        if task.assignee_id is not None and session is not None:
            agency = session.scalar(select(User.agency_id).where(User.id == task.assignee_id))
            if agency == actor.agency_id:
                return True
    if session is not None and "coordinating_office" in m.grants(actor.roles, "task.reassign"):
        return bool(session.scalar(select(_coordinating_office(actor, clock.now()))))
    return False


def may_see_name(actor: Actor, case: Case) -> bool:
    """Whether the person's name is shown: on a 支援会議 case only to members and the coordinating office."""
    if not case.confidential:
        return True
    session = object_session(case)
    if session is None:
        return False
    have, _ = relationships(session, actor, case.id)
    return bool(have & matrix().compartment_grants)


def names_shown(session: Session, actor: Actor, confidential_case_ids: set[int]) -> set[int]:
    """Of these 支援会議 (confidential) cases, those whose person's name ``actor`` may see — the same
    rule as :func:`may_see_name`, for a list of rows."""
    grants = matrix().compartment_grants
    return {case_id for case_id in confidential_case_ids
            if relationships(session, actor, case_id)[0] & grants}


def record_filter(session: Session, actor: Actor, case: Case) -> ColumnElement[bool]:
    """SQL condition on ``FormRecord`` for the records of ``case`` the actor may read.

    支援会議 records (compartment forms, and records written inside the compartment such as case notes)
    need the compartment; an agency that sees the case only as a consent recipient reads only the
    information categories its consents cover.
    """
    m = matrix()
    have, _ = relationships(session, actor, case.id)
    clause: ColumnElement[bool] = FormRecord.case_id == case.id
    if not have & (m.compartment_grants | {SYSTEM}):
        clause = and_(clause, FormRecord.form_key.not_in(sorted(m.compartment_forms)),
                      FormRecord.compartment.is_(False))
    full = have - {"consent_recipient"}
    if not m.allows(actor.roles, "record.read", full, confidential=bool(case.confidential)):
        from .consent import categories_for, readable_forms
        allowed, listed, unlisted_ok = readable_forms(categories_for(session, actor, case.id))
        readable = FormRecord.form_key.in_(sorted(allowed))
        if unlisted_ok:
            readable = or_(readable, FormRecord.form_key.not_in(sorted(listed)))
        clause = and_(clause, readable)
    return clause


def record_visible(session: Session, actor: Actor, record: FormRecord) -> bool:
    case = session.get(Case, record.case_id)
    if case is None:
        return False
    return session.scalar(select(FormRecord.id).where(FormRecord.id == record.id,
                                                      record_filter(session, actor, case))) is not None


def route_action(endpoint: str | None) -> str | None:
    """The policy action of a Flask endpoint (an action, ``public`` or ``authenticated``); None: unlisted."""
    return matrix().routes.get(endpoint or "")


def role_may(actor: Actor, action: str) -> bool:
    """Role-level gate: may any of the actor's roles ever do ``action`` (on some case, or globally)?"""
    return matrix().role_may(actor.roles, action)
