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

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import clock
from .consent import agency_ids, config
from .errors import Invalid
from .models import Case, CaseRole


def _cfg(key: str) -> list[str]:
    return list(config()["plan"].get(key) or [])


def _roles(case: Case, status: str) -> Any:
    return select(CaseRole).where(CaseRole.case_id == case.id, CaseRole.status == status)


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
    for old in session.scalars(_roles(case, "proposed")):
        old.status, old.revoked_at, old.revoked_reason = "superseded", now, "plan_resubmitted"
    rows = [CaseRole(case_id=case.id, agency_id=agencies[code], basis="plan", lead=lead, status="proposed",
                     source_record_id=record_id, granted_at=now) for code, lead in sorted(codes.items())]
    session.add_all(rows)
    session.flush()
    return rows


def approve(session: Session, case: Case) -> list[CaseRole]:
    """The meeting approved the plan: proposed roles become active; dropped active roles are revoked."""
    now = clock.now()
    proposed = list(session.scalars(_roles(case, "proposed")))
    if not proposed:
        return []
    keep = {r.agency_id for r in proposed}
    for old in session.scalars(_roles(case, "active")):
        old.status, old.revoked_at = "revoked" if old.agency_id not in keep else "superseded", now
        old.revoked_reason = "plan_revised"
    for row in proposed:
        row.status, row.granted_at = "active", now
    session.flush()
    return proposed


def on_plan_form(submission: Any) -> None:
    """After-submission hook of the F5 plan form."""
    propose(submission.session, submission.case, submission.data, submission.record_id)


def on_decision_form(submission: Any) -> None:
    """After-submission hook of the 重層的支援会議 decision: 承認 activates the proposed plan roles."""
    values = {str(v) for v in _cfg("approval_values")}
    if any(str(submission.data.get(f)) in values for f in _cfg("approval_fields")):
        approve(submission.session, submission.case)
