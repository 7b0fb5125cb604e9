"""Who may see and do what: the one place access decisions are made (default deny).

Every list, count and object lookup goes through these functions, so no caller can bypass them.
What an actor may not see is reported as :class:`~engine.errors.NotFound`, never as "forbidden",
so the existence of a consultation is not disclosed.

Case visibility (extended by the consent and 支援会議 rules of docs/access.md):
* the coordinating office (``coordinator``) sees every case;
* staff see cases their agency took in, cases with a task for their agency or role, and cases with a
  task they were assigned or completed; the case's CSW sees it;
* a supervisor sees what staff of their agency see;
* designers, auditors and administrators see no cases.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, exists, false, or_, select, true
from sqlalchemy.orm import Session

from .actor import Actor
from .errors import NotFound
from .models import Case, HumanTask

CASE_ROLES = frozenset({"window", "coordinator", "csw", "agency_staff", "supervisor"})


def case_filter(actor: Actor) -> ColumnElement[bool]:
    """SQL condition on ``Case`` that is true exactly for the cases ``actor`` may see."""
    if actor.is_system:
        return true()
    if not actor.roles & CASE_ROLES:
        return false()
    if actor.has_role("coordinator"):
        return true()
    work_roles = sorted(actor.roles & CASE_ROLES - {"supervisor"})
    task_link = [HumanTask.assignee_id == actor.user_id, HumanTask.completed_by_id == actor.user_id]
    if actor.agency_id is not None:
        task_link.append(HumanTask.agency_id == actor.agency_id)
    if work_roles:
        task_link.append(and_(HumanTask.status == "open", HumanTask.role.in_(work_roles),
                              or_(HumanTask.agency_id.is_(None), HumanTask.agency_id == actor.agency_id)))
    clauses = [Case.csw_user_id == actor.user_id,
               exists().where(HumanTask.case_id == Case.id, or_(*task_link))]
    if actor.agency_id is not None:
        clauses.append(Case.intake_agency_id == actor.agency_id)
    return or_(*clauses)


def visible_case(session: Session, actor: Actor, case_id: int) -> Case:
    """The case if ``actor`` may see it; NotFound otherwise (whether or not it exists)."""
    case = session.scalar(select(Case).where(Case.id == case_id, case_filter(actor)))
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
    return actor.has_role("supervisor") and (task.agency_id is None or task.agency_id == actor.agency_id)


def may_see_name(actor: Actor, case: Case) -> bool:
    """Whether the person's name is shown or masked (支援会議 cases are shown only to members)."""
    return not case.confidential or actor.has_role("coordinator")
