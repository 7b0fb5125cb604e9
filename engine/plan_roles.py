"""Plan roles: the agencies an approved F5 支援プラン gives a role in the case can see it.

The plan form's tables (actions 支援内容, 役割分担) name a responsible agency per row. Submitting a plan
records those agencies as *proposed* roles; when the 重層的支援会議 approves the plan (a decision form
with 承認), the proposed roles become *active* and roles of an earlier plan that the new one drops are
revoked. Access through a plan role also needs an active consent on the case (engine/policy.py), and
同意撤回 revokes the roles (engine/consent.py). Rows are never deleted. Which forms and fields count is
configured under ``plan:`` in ``engine/policy_matrix.yaml``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, case, select, update
from sqlalchemy.orm import Session

from . import clock
from .consent import config
from .errors import Invalid
from .models import Case, CaseRole
from .users import agency_ids

# Core statements, built once: proposing and approving run inside the completion of a form step.
_ROLES = CaseRole.__table__
_INSERT_ROLES = _ROLES.insert().returning(_ROLES.c.id, sort_by_parameter_order=True)
_OF_CASE = (_ROLES.c.case_id == bindparam("of_case")) & (_ROLES.c.status == bindparam("of_status"))
_PROPOSED = select(_ROLES.c.id, _ROLES.c.agency_id, _ROLES.c.lead, _ROLES.c.basis,
                   _ROLES.c.source_record_id).where(_OF_CASE).order_by(_ROLES.c.id)
_SUPERSEDE_PROPOSED = update(_ROLES).where(_OF_CASE).values(
    status="superseded", revoked_at=bindparam("at"), revoked_reason="plan_resubmitted")
_ACTIVATE = update(_ROLES).where(_OF_CASE).values(status="active", granted_at=bindparam("at"))


def _cfg(key: str) -> list[str]:
    return list(config()["plan"].get(key) or [])


# Active roles of the case end: the rows of agencies the new plan keeps are superseded by their new
# rows, the others are revoked.
_END_ACTIVE = update(_ROLES).where(_OF_CASE).values(
    status=case((_ROLES.c.agency_id.in_(bindparam("kept", expanding=True)), "superseded"), else_="revoked"),
    revoked_at=bindparam("at"), revoked_reason="plan_revised")


def plan_agencies(data: dict[str, Any]) -> dict[str, bool]:
    """Agency code → lead (主担当) flag, from every configured table of a plan submission."""
    out: dict[str, bool] = {}
    for table in _cfg("agency_fields"):
        for row in data.get(table) or []:
            if not isinstance(row, dict):
                continue
            codes = [row[c] for c in _cfg("agency_columns") if isinstance(row.get(c), str) and row[c]]
            code = codes[0] if codes else None
            if code:
                out[code] = out.get(code, False) or any(bool(row.get(c)) for c in _cfg("lead_columns"))
    return out


def propose(session: Session, case: Case, data: dict[str, Any], record_id: int | None) -> list[CaseRole]:
    """Record the agencies of a submitted plan as proposed roles (replacing an earlier proposal)."""
    now = clock.now()
    codes = plan_agencies(data)
    agencies = agency_ids(session, list(codes))
    if unknown := sorted(set(codes) - set(agencies)):
        raise Invalid({"actions": [f"不明な機関です: {', '.join(unknown)}"]})
    connection = session.connection()
    connection.execute(_SUPERSEDE_PROPOSED, {"of_case": case.id, "of_status": "proposed", "at": now})
    values = [{"case_id": case.id, "agency_id": agencies[code], "basis": "plan", "lead": lead,
               "status": "proposed", "source_record_id": record_id, "granted_at": now, "revoked_at": None,
               "revoked_reason": ""} for code, lead in sorted(codes.items())]
    if not values:
        return []
    ids = connection.execute(_INSERT_ROLES, values).scalars().all()
    return [_role(row_id, row) for row_id, row in zip(ids, values, strict=True)]


def _role(row_id: int, values: dict[str, Any]) -> CaseRole:
    role = CaseRole(**values)
    role.id = row_id
    return role


def approve(session: Session, case: Case) -> list[CaseRole]:
    """The meeting approved the plan: proposed roles become active; dropped active roles are revoked."""
    now = clock.now()
    connection = session.connection()
    proposed = connection.execute(_PROPOSED, {"of_case": case.id, "of_status": "proposed"}).all()
    if not proposed:
        return []
    keep = sorted({r.agency_id for r in proposed})
    connection.execute(_END_ACTIVE, {"of_case": case.id, "of_status": "active", "at": now, "kept": keep})
    connection.execute(_ACTIVATE, {"of_case": case.id, "of_status": "proposed", "at": now})
    return [_role(r.id, {"case_id": case.id, "agency_id": r.agency_id, "basis": r.basis, "lead": r.lead,
                         "status": "active", "source_record_id": r.source_record_id, "granted_at": now,
                         "revoked_at": None, "revoked_reason": ""}) for r in proposed]


def on_plan_form(submission: Any) -> None:
    """After-submission hook of the F5 plan form."""
    propose(submission.session, submission.case, submission.data, submission.record_id)


def on_decision_form(submission: Any) -> None:
    """After-submission hook of the 重層的支援会議 decision: 承認 activates the proposed plan roles."""
    values = {str(v) for v in _cfg("approval_values")}
    if any(str(submission.data.get(f)) in values for f in _cfg("approval_fields")):
        approve(submission.session, submission.case)
