"""Lane → role mapping, read from ``processes/roles.yaml`` (one file for every diagram).

A lane names a role of the pathway (窓口, 担当部署, CSW …); this file maps lane names to the system
roles that users hold, and says for each role which agency's staff a task goes to:

* ``intake``: the agency that took the consultation in (the case's 受付機関);
* ``any``: any agency (every holder of the role may claim it);
* ``lead``: the case's 主担当機関 when set, else any.

A task can also name an ``agency`` expression of its own (see docs/designing-processes.md).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from .actor import ROLE_IDS
from .errors import Problem

ROLES_FILE = "roles.yaml"
AGENCY_RULES = ("intake", "any", "lead")
TASK_ROLES = tuple(r for r in ROLE_IDS if r not in ("designer", "auditor", "admin"))


@dataclass(frozen=True)
class RoleConfig:
    lanes: dict[str, str] = field(default_factory=dict)
    agency_rules: dict[str, str] = field(default_factory=dict)

    def role_for_lane(self, lane: str | None) -> str | None:
        if not lane:
            return None
        return self.lanes.get(lane.strip())

    def role_for_groups(self, groups: str | None) -> str | None:
        """First of Camunda ``candidateGroups`` that is a role id or a mapped lane name."""
        for group in (groups or "").split(","):
            group = group.strip()
            if group in TASK_ROLES:
                return group
            if group in self.lanes:
                return self.lanes[group]
        return None

    def agency_rule(self, role: str) -> str:
        return self.agency_rules.get(role, "any")


def parse_roles(text: str, name: str = ROLES_FILE) -> tuple[RoleConfig, list[Problem]]:
    problems: list[Problem] = []
    try:
        raw = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        line = getattr(getattr(exc, "problem_mark", None), "line", None)
        return RoleConfig(), [Problem(name, (line + 1) if line is not None else None, None,
                                      f"not valid YAML: {exc}")]
    if not isinstance(raw, dict):
        return RoleConfig(), [Problem(name, None, None, "expected a mapping with 'lanes' and 'roles'")]
    lanes = raw.get("lanes") or {}
    rules_raw = raw.get("roles") or {}
    if not isinstance(lanes, dict) or not isinstance(rules_raw, dict):
        return RoleConfig(), [Problem(name, None, None, "'lanes' and 'roles' must be mappings")]
    for lane, role in lanes.items():
        if role not in TASK_ROLES:
            problems.append(Problem(name, None, str(lane), f"lane {lane!r} maps to unknown role {role!r}; "
                                    f"roles: {', '.join(TASK_ROLES)}"))
    rules: dict[str, str] = {}
    for role, spec in rules_raw.items():
        rule = (spec or {}).get("agency", "any") if isinstance(spec, dict) else spec
        if role not in TASK_ROLES:
            problems.append(Problem(name, None, str(role), f"unknown role {role!r}"))
        elif rule not in AGENCY_RULES:
            problems.append(Problem(name, None, str(role), f"agency rule {rule!r} for {role!r}; expected "
                                    f"one of {', '.join(AGENCY_RULES)}"))
        else:
            rules[role] = rule
    return RoleConfig(lanes={str(k).strip(): v for k, v in lanes.items()}, agency_rules=rules), problems


def load_roles(processes_dir: str | Path) -> tuple[RoleConfig, list[Problem]]:
    path = Path(processes_dir) / ROLES_FILE
    if not path.is_file():
        return RoleConfig(), []
    return parse_roles(path.read_text(encoding="utf-8"), path.name)
