"""Tests generated from engine/policy_matrix.yaml: every role × action × relationship (or state).

For each (role, state) one world puts an actor with exactly that relationship next to one case
(tests/support/access_world.py). Each generated test checks, against the matrix:

* the relationships engine.policy computes from the database are exactly those the world implies;
* ``policy.can`` answers what the matrix says;
* ``policy.case_filter`` — the predicate of every list, count, search and export — agrees;
* for ``case.read``, the real operation (``cases.case_detail``) returns the case or raises NotFound.

Global actions are checked per role. The count of generated tests is printed at the end of the run.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from engine import cases, policy
from engine.actor import SYSTEM
from engine.db import make_session_factory, transaction
from engine.errors import NotFound
from engine.models import Case, ProcessDefinition
from engine.policy_matrix import matrix
from tests.support import access_world, factories
from tests.support.referral10 import referral_files

M = matrix()
ROLES = [r for r in M.roles if r != "system"]
STATES = list(M.relationships) + list(M.states)
CASE_CASES = [(role, action, state) for role in ROLES for action in M.case_actions for state in STATES]
GLOBAL_CASES = [(role, action) for role in ROLES for action in M.global_actions]


def expected(role: str, action: str, state: str, placed: access_world.Placed) -> bool:
    return M.allows([role], action, M.state_grants(state), confidential=placed.confidential,
                    closed=placed.closed)


@pytest.fixture(scope="module")
def worlds(test_database, engine_for_module):
    """Every (role, state) world in one database, built once for the module."""
    test_database.reset()
    factory = make_session_factory(test_database.engine)
    with transaction(factory, write=True) as s:
        factories.deploy(engine_for_module, s, referral_files())
    with transaction(factory, write=True) as s:
        definition_id = s.scalar(select(ProcessDefinition.id).limit(1))
        placed = {(role, state): access_world.build(s, definition_id, role, state)
                  for role in ROLES for state in STATES}
    return factory, placed


@pytest.fixture(scope="module")
def engine_for_module(test_database):
    from engine.core import build_engine
    from engine.formdefs import load_forms
    from engine.settings import load_settings
    from tests.support.referral10 import FORMS_DIR
    settings = load_settings({}, database_url=test_database.url, forms_dir=str(FORMS_DIR))
    forms, problems = load_forms(settings.forms_dir)
    assert not problems
    return build_engine(settings, forms)


@pytest.mark.parametrize(("role", "action", "state"), CASE_CASES, ids=[f"{r}-{a}-{s}" for r, a,
                                                                       s in CASE_CASES])
def test_case_action(worlds, role, action, state):
    factory, placed_by = worlds
    placed = placed_by[(role, state)]
    want = expected(role, action, state, placed)
    with transaction(factory) as s:
        have, case = policy.relationships(s, placed.actor, placed.case_id)
        assert have == set(placed.implied), f"computed {sorted(have)}, implied {sorted(placed.implied)}"
        assert policy.can(placed.actor, action, case) is want
        listed = s.scalar(select(Case.id).where(Case.id == placed.case_id, policy.case_filter(placed.actor,
                                                                                              action)))
        assert (listed is not None) is want
        if action == "case.read":
            if want:
                assert cases.case_detail(s, placed.actor, placed.case_id).case.id == placed.case_id
            else:
                with pytest.raises(NotFound):
                    cases.case_detail(s, placed.actor, placed.case_id)


@pytest.mark.parametrize(("role", "action"), GLOBAL_CASES, ids=[f"{r}-{a}" for r, a in GLOBAL_CASES])
def test_global_action(worlds, role, action):
    _, placed_by = worlds
    actor = placed_by[(role, "none")].actor
    assert policy.can(actor, action) is ("global" in M.roles[role].get(action, ()))


def test_the_matrix_generates_well_over_a_thousand_cases():
    total = len(CASE_CASES) + len(GLOBAL_CASES)
    print(f"\npolicy matrix: {len(ROLES)} roles × {len(M.case_actions)} case actions × {len(STATES)} states"
          f" = {len(CASE_CASES)}, + {len(GLOBAL_CASES)} global = {total} generated tests")
    assert total > 1000


def test_the_system_actor_is_listed_in_the_matrix_not_a_bypass(worlds):
    factory, placed_by = worlds
    case_id = placed_by[("window", "none")].case_id
    with transaction(factory) as s:
        case = s.get(Case, case_id)
        allowed = {a for a in M.case_actions if policy.can(SYSTEM, a, case)}
        assert allowed == set(M.roles["system"])
        assert not policy.can(SYSTEM, "audit.read")
