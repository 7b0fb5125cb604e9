"""engine.plan_roles: the agencies a submitted F5 plan names become *proposed* case roles, the meeting's
承認 makes them *active* and revokes the roles the new plan drops; rows are never deleted. Which tables,
columns and decision values count comes from ``plan:`` in engine/policy_matrix.yaml."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import hooks, plan_roles
from engine.cases import store_form_record
from engine.errors import Invalid
from engine.models import Agency, Case, CaseRole
from tests.support import factories
from tests.support.referral10 import referral_files

PLAN = {"actions": [{"agency": "AG-P1", "content": "見守り", "lead": True},
                    {"agency": "AG-P2", "content": "就労"}]}


@pytest.fixture
def case_id(engine, write, frozen_clock):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
        for code in ("AG-P1", "AG-P2", "AG-P3"):
            factories.agency(s, code, "partner")
        factories.deploy(engine, s, referral_files())
    with write() as s:
        return factories.start(engine, s, win).case_id


def by_code(read, case_id: int) -> list[tuple[str, str, bool, str]]:
    """(agency code, status, lead, revoked reason) of every role row of the case, oldest first."""
    with read() as s:
        code = dict(s.execute(select(Agency.id, Agency.code)).tuples().all())
        rows = s.scalars(select(CaseRole).where(CaseRole.case_id == case_id).order_by(CaseRole.id))
        return [(code[r.agency_id], r.status, r.lead, r.revoked_reason) for r in rows]


def propose(write, case_id: int, data: dict, record_id: int | None = None) -> list[CaseRole]:
    with write() as s:
        return plan_roles.propose(s, s.get(Case, case_id), data, record_id)


def approve(write, case_id: int) -> list[CaseRole]:
    with write() as s:
        return plan_roles.approve(s, s.get(Case, case_id))


def test_plan_agencies_reads_every_configured_table_with_the_lead_flag():
    data = {
        "actions": [{"agency": "AG-P1", "lead": True}, {"agency": "AG-P2"},
                    {"agency": "AG-P1", "lead": False}, {"content": "機関なし"}, {"agency": ""},
                    {"agency": 12}, "not a row", None],
        "role_changes": [{"agency": "AG-P3", "lead": "yes"}],
        "other_table": [{"agency": "AG-P9"}],
    }
    assert plan_roles.plan_agencies(data) == {"AG-P1": True, "AG-P2": False, "AG-P3": True}
    assert plan_roles.plan_agencies({}) == {} and plan_roles.plan_agencies({"actions": None}) == {}


def test_a_submitted_plan_proposes_roles(case_id, write, read, frozen_clock):
    rows = propose(write, case_id, PLAN, record_id=None)
    assert [(r.status, r.lead, r.basis, r.granted_at) for r in rows] == [
        ("proposed", True, "plan", frozen_clock.now()), ("proposed", False, "plan", frozen_clock.now())]
    assert by_code(read, case_id) == [("AG-P1", "proposed", True, ""), ("AG-P2", "proposed", False, "")]


def test_an_unknown_agency_refuses_the_plan(case_id, write, read):
    with pytest.raises(Invalid) as info, write() as s:
        plan_roles.propose(s, s.get(Case, case_id), {"actions": [{"agency": "AG-P1"}, {"agency": "AG-NONE"},
                                                                 {"agency": "AG-ZZZ"}]}, None)
    assert info.value.errors == {"actions": ["不明な機関です: AG-NONE, AG-ZZZ"]}
    assert by_code(read, case_id) == []


def test_a_resubmitted_plan_supersedes_the_earlier_proposal(case_id, write, read):
    propose(write, case_id, PLAN)
    propose(write, case_id, {"actions": [{"agency": "AG-P3", "lead": True}]})
    assert by_code(read, case_id) == [("AG-P1", "superseded", True, "plan_resubmitted"),
                                      ("AG-P2", "superseded", False, "plan_resubmitted"),
                                      ("AG-P3", "proposed", True, "")]


def test_approval_activates_the_proposed_roles(case_id, write, read, frozen_clock):
    propose(write, case_id, PLAN)
    frozen_clock.advance(days=7)
    active = approve(write, case_id)
    assert [(r.status, r.granted_at) for r in active] == [("active", frozen_clock.now())] * 2
    assert by_code(read, case_id) == [("AG-P1", "active", True, ""), ("AG-P2", "active", False, "")]


def test_a_revised_plan_revokes_the_roles_it_drops_on_approval(case_id, write, read, frozen_clock):
    propose(write, case_id, PLAN)
    approve(write, case_id)
    propose(write, case_id, {"actions": [{"agency": "AG-P2", "lead": True}, {"agency": "AG-P3"}]})
    assert [r[1] for r in by_code(read, case_id)][:2] == ["active", "active"]  # nothing changes before 承認
    frozen_clock.advance(days=30)
    approve(write, case_id)
    assert by_code(read, case_id) == [
        ("AG-P1", "revoked", True, "plan_revised"),
        ("AG-P2", "superseded", False, "plan_revised"),  # kept: its new row carries on
        ("AG-P2", "active", True, ""),
        ("AG-P3", "active", False, ""),
    ]
    with read() as s:
        old = list(s.scalars(select(CaseRole).where(CaseRole.case_id == case_id,
                                                    CaseRole.status != "active")))
    assert all(r.revoked_at == frozen_clock.now() for r in old)


def test_approval_without_a_proposal_changes_nothing(case_id, write, read):
    assert approve(write, case_id) == []
    propose(write, case_id, PLAN)
    approve(write, case_id)
    assert approve(write, case_id) == []  # a second 承認 of the same plan
    assert by_code(read, case_id) == [("AG-P1", "active", True, ""), ("AG-P2", "active", False, "")]


def test_rows_are_never_deleted(case_id, write, read):
    for n in range(3):
        propose(write, case_id, {"actions": [{"agency": f"AG-P{n + 1}"}]})
        approve(write, case_id)
    with read() as s:
        assert s.scalar(select(func.count()).select_from(CaseRole)) == 3
    assert [r[1] for r in by_code(read, case_id)] == ["revoked", "revoked", "active"]


@pytest.mark.parametrize(("form_key", "data", "activated"), [
    ("decision", {"result": "approve"}, True),
    ("meeting", {"decision": "approve"}, True),
    ("decision", {"result": "revise"}, False),
    ("meeting", {"decision": "revise", "result": "other"}, False),
    ("decision", {}, False),
])
def test_the_decision_hook_approves_only_on_approval(form_key, data, activated, case_id, engine, write, read):
    propose(write, case_id, PLAN)
    with write() as s:
        case = s.get(Case, case_id)
        hooks.after_submission(hooks.Submission(engine, s, None, case, None, form_key, data, None))
    assert {r[1] for r in by_code(read, case_id)} == ({"active"} if activated else {"proposed"})


def test_the_plan_hook_proposes_with_the_form_record(case_id, engine, write, read, frozen_clock):
    with write() as s:
        case = s.get(Case, case_id)
        record_id = store_form_record(s, case_id, None, "plan", "plan", "プラン", PLAN, None,
                                      frozen_clock.now() - timedelta(minutes=1))
        hooks.after_submission(hooks.Submission(engine, s, None, case, None, "plan", PLAN, record_id))
    with read() as s:
        sources = set(s.scalars(select(CaseRole.source_record_id).where(CaseRole.case_id == case_id)))
    assert sources == {record_id}
    assert [r[1] for r in by_code(read, case_id)] == ["proposed", "proposed"]
