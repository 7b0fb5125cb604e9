"""The policy module by hand: default deny, roles that never see cases, the coordinating office as an
agency (not only a role), supervisors, task-level checks, the matrix file's own consistency checks."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import cases, policy, tasks
from engine.errors import NotAllowed, NotFound
from engine.models import Case, HumanTask
from engine.policy_matrix import MatrixError, matrix, parse
from tests.support import factories
from tests.support.referral10 import referral_files


@pytest.fixture
def world(engine, write):
    with write() as s:
        p = {"win": factories.actor(s, "window", "AG-WIN", "win"),
             "win2": factories.actor(s, "window", "AG-WIN", "win2"),
             "other": factories.actor(s, "window", "AG-OTHER", "other"),
             "sup": factories.actor(s, "supervisor", "AG-WIN", "sup"),
             "sup_other": factories.actor(s, "supervisor", "AG-OTHER", "sup_other"),
             "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
             "coord_elsewhere": factories.actor(s, "coordinator", "AG-PARTNER", "coord2", kind="partner"),
             "designer": factories.actor(s, "designer", "AG-JUSO", "designer"),
             "auditor": factories.actor(s, "auditor", "AG-JUSO", "auditor"),
             "admin": factories.actor(s, "admin", "AG-JUSO", "admin")}
        factories.deploy(engine, s, referral_files())
    with write() as s:
        started = factories.start(engine, s, p["win"])
    return p, started


def sees(read, actor, case_id) -> bool:
    with read() as s:
        return s.scalar(select(Case.id).where(Case.id == case_id, policy.case_filter(actor))) is not None


def test_designers_auditors_and_admins_see_no_case_even_in_the_coordinating_office(world, read):
    people, started = world
    for who in ("designer", "auditor", "admin"):
        assert not sees(read, people[who], started.case_id), who
        with pytest.raises(NotFound), read() as s:
            cases.case_detail(s, people[who], started.case_id)
    assert sees(read, people["coord"], started.case_id)


def test_the_coordinating_office_is_an_agency_not_just_a_role(world, read):
    people, started = world
    assert not sees(read, people["coord_elsewhere"], started.case_id)


def test_intake_agency_staff_and_their_supervisor_see_the_case_others_do_not(world, read):
    people, started = world
    assert sees(read, people["win2"], started.case_id) and sees(read, people["sup"], started.case_id)
    assert not sees(read, people["other"], started.case_id) and not sees(read, people["sup_other"],
                                                                         started.case_id)


def test_default_deny_for_unknown_actions_and_resources(world, read):
    people, started = world
    with read() as s:
        case = s.get(Case, started.case_id)
        assert not policy.can(people["coord"], "case.destroy", case)
        assert not policy.can(people["coord"], "case.read", object())
        assert s.scalar(select(Case.id).where(policy.case_filter(people["coord"], "no.such.action"))) is None
        assert policy.can(people["coord"], "case.read", case)
    detached = Case(id=started.case_id)
    assert not policy.can(people["coord"], "case.read", detached)


def test_task_level_checks_need_eligibility_and_supervision(world, engine, write, read):
    people, started = world
    task_id = started.open_tasks[0].id
    with read() as s:
        task = s.get(HumanTask, task_id)
        assert policy.can(people["win"], "task.complete", task)  # the assignee, in the task's agency
        assert not policy.can(people["sup"], "task.complete", task)  # a supervisor lacks the task's role
        assert policy.can(people["sup"], "task.reassign", task) and not policy.can(people["win2"],
                                                                                   "task.reassign", task)
        assert not policy.can(people["sup_other"], "task.reassign", task)
        assert policy.can(people["coord"], "task.reassign", task)
    with pytest.raises(NotAllowed), write() as s:
        tasks.reassign(s, people["win2"], task_id, "win2")
    with pytest.raises(NotFound), write() as s:
        tasks.reassign(s, people["sup_other"], task_id, "win2")
    with write() as s:
        assert tasks.reassign(s, people["coord"], task_id, "win2").assignee_id == people["win2"].user_id


def test_global_actions_follow_the_roles(world):
    people, _ = world
    assert policy.can(people["auditor"], "audit.read") and not policy.can(people["coord"], "audit.read")
    assert policy.can(people["designer"], "process.deploy") and not policy.can(people["admin"],
                                                                               "process.deploy")
    assert policy.can(people["win"], "case.start") and not policy.can(people["designer"], "case.start")
    assert policy.role_may(people["win"], "case.read") and not policy.role_may(people["auditor"], "case.read")


def test_every_route_entry_names_a_known_action():
    m = matrix()
    assert m.routes and all(a in m.actions or a in ("public", "authenticated") for a in m.routes.values())
    assert policy.route_action("cases.show") == "case.read" and policy.route_action("nope") is None


@pytest.mark.parametrize(("raw", "message"), [
    ({"actions": {"case.read": {}}, "roles": {"window": {"case.eat": ["intake"]}}}, "unknown action"),
    ({"relationships": {"intake": ""}, "actions": {"case.read": {}},
      "roles": {"window": {"case.read": ["x"]}}},
     "unknown relationships"),
    ({"relationships": {"intake": ""}, "actions": {"audit.read": {"scope": "global"}},
      "roles": {"auditor": {"audit.read": ["intake"]}}}, "global"),
    ({"actions": {}, "routes": {"x.y": "case.read"}}, "unknown action"),
])
def test_an_inconsistent_matrix_is_refused(raw, message):
    with pytest.raises(MatrixError, match=message):
        parse(raw)
