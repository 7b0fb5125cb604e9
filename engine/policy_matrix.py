"""The access policy as data: ``engine/policy_matrix.yaml`` loaded, checked and queried.

The matrix says, for every role and action, which relationships to a case allow it. This module is
pure (no database): :meth:`Matrix.allows` decides from a set of relationships the caller computed,
so the same function drives :func:`engine.policy.can` and the generated tests.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

MATRIX_FILE = Path(__file__).resolve().parent / "policy_matrix.yaml"
GLOBAL = "global"
SYSTEM = "system"
ROUTE_KEYWORDS = ("public", "authenticated")


class MatrixError(ValueError):
    """The policy file is inconsistent (unknown role, action or relationship)."""


@dataclass(frozen=True)
class Action:
    name: str
    scope: str
    write: bool
    doc: str


@dataclass(frozen=True)
class Matrix:
    relationships: dict[str, str]
    states: dict[str, tuple[str, ...]]
    actions: dict[str, Action]
    roles: dict[str, dict[str, frozenset[str]]]
    compartment_grants: frozenset[str]
    compartment_label: str
    compartment_basis: str
    compartment_forms: frozenset[str]
    closed_statuses: frozenset[str]
    closed_deny: frozenset[str]
    routes: dict[str, str]
    unknown_routes: str = "deny"
    case_actions: tuple[str, ...] = field(default=())
    global_actions: tuple[str, ...] = field(default=())

    def grants(self, roles: Iterable[str], action: str) -> frozenset[str]:
        """Relationships that allow ``action`` for any of ``roles`` (empty: the roles may never do it)."""
        out: set[str] = set()
        for role in roles:
            out |= self.roles.get(role, {}).get(action, frozenset())
        return frozenset(out)

    def role_may(self, roles: Iterable[str], action: str) -> bool:
        return bool(self.grants(roles, action))

    def allows(self, roles: Iterable[str], action: str, relationships: Iterable[str], *,
               confidential: bool = False, closed: bool = False) -> bool:
        """The decision: default deny; the compartment and the closed-case rule narrow it further."""
        if action not in self.actions:
            return False
        spec = self.actions[action]
        granted = self.grants(roles, action)
        have = set(relationships)
        if spec.scope == GLOBAL:
            return GLOBAL in granted
        if closed and action in self.closed_deny:
            return False
        if confidential:
            have &= self.compartment_grants | {SYSTEM}
        return bool(granted & have)

    def state_grants(self, state: str) -> tuple[str, ...]:
        """What a relationship or test state grants: a relationship grants itself."""
        if state in self.relationships:
            return (state,)
        return self.states[state]


def _listed(value: Any, where: str) -> frozenset[str]:
    if value is None:
        return frozenset()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MatrixError(f"{where}: expected a list of relationship names")
    return frozenset(value)


def parse(raw: dict[str, Any]) -> Matrix:
    relationships = {str(k): str(v) for k, v in (raw.get("relationships") or {}).items()}
    known = set(relationships) | {GLOBAL, SYSTEM}
    states = {str(k): tuple(v or ()) for k, v in (raw.get("states") or {}).items()}
    for name, grants in states.items():
        if unknown := set(grants) - set(relationships):
            raise MatrixError(f"state {name}: unknown relationships {sorted(unknown)}")
    actions = {name: Action(name, spec.get("scope", "case"), bool(spec.get("write", False)),
                            spec.get("doc", "")) for name, spec in (raw.get("actions") or {}).items()}
    roles: dict[str, dict[str, frozenset[str]]] = {}
    for role, table in (raw.get("roles") or {}).items():
        roles[role] = {}
        for action, grants in (table or {}).items():
            if action not in actions:
                raise MatrixError(f"role {role}: unknown action {action}")
            listed = _listed(grants, f"{role}.{action}")
            if unknown := listed - known:
                raise MatrixError(f"{role}.{action}: unknown relationships {sorted(unknown)}")
            if (actions[action].scope == GLOBAL) != (listed <= {GLOBAL} and bool(listed)):
                raise MatrixError(f"{role}.{action}: a global action takes [global], a case action "
                                  "relationships")
            roles[role][action] = listed
    compartment = raw.get("compartment") or {}
    closed = raw.get("closed_case") or {}
    routes = {str(k): str(v) for k, v in (raw.get("routes") or {}).items()}
    for endpoint, action in routes.items():
        if action not in actions and action not in ROUTE_KEYWORDS:
            raise MatrixError(f"route {endpoint}: unknown action {action}")
    return Matrix(
        relationships=relationships, states=states, actions=actions, roles=roles,
        compartment_grants=_listed(compartment.get("grants"), "compartment.grants"),
        compartment_label=str(compartment.get("label", "守秘義務対象")),
        compartment_basis=str(compartment.get("legal_basis", "")),
        compartment_forms=frozenset(compartment.get("record_forms") or ()),
        closed_statuses=frozenset(closed.get("statuses") or ()),
        closed_deny=frozenset(closed.get("deny") or ()),
        routes=routes, unknown_routes=str(raw.get("unknown_routes", "deny")),
        case_actions=tuple(a for a, s in actions.items() if s.scope != GLOBAL),
        global_actions=tuple(a for a, s in actions.items() if s.scope == GLOBAL),
    )


def load(path: str | Path = MATRIX_FILE) -> Matrix:
    return parse(yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {})


@lru_cache(maxsize=1)
def matrix() -> Matrix:
    """The matrix of ``engine/policy_matrix.yaml`` (read once per process)."""
    return load()
