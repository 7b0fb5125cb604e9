"""processes/roles.yaml: lane names → system roles, and each role's agency rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.roles import AGENCY_RULES, TASK_ROLES, RoleConfig, load_roles, parse_roles
from tests.support.referral10 import ROLES

GOOD = """
lanes:
  相談窓口: window
  " 多機関協働 ": coordinator
  CSW: csw
  支援機関: agency_staff
  監督者: supervisor
roles:
  window: {agency: intake}
  coordinator: {agency: any}
  agency_staff: {agency: lead}
  csw: any
"""


def test_lanes_map_to_roles_and_roles_to_agency_rules():
    config, problems = parse_roles(GOOD)
    assert problems == []
    assert config.role_for_lane("相談窓口") == "window"
    assert config.role_for_lane("多機関協働") == "coordinator"      # names are trimmed both sides
    assert config.role_for_lane(" 多機関協働 ") == "coordinator"
    assert config.role_for_lane("unknown") is None and config.role_for_lane(None) is None
    assert config.agency_rule("window") == "intake"
    assert config.agency_rule("agency_staff") == "lead"
    assert config.agency_rule("csw") == "any"
    assert config.agency_rule("supervisor") == "any"             # unlisted roles: any agency


def test_camunda_candidate_groups_name_a_role_or_a_lane():
    config, _ = parse_roles(GOOD)
    assert config.role_for_groups("csw") == "csw"
    assert config.role_for_groups("accounting, 相談窓口") == "window"
    assert config.role_for_groups("accounting") is None
    assert config.role_for_groups(None) is None
    assert config.role_for_groups("admin") is None               # not a role that does tasks


@pytest.mark.parametrize(("text", "element", "reason"), [
    ("lanes:\n  窓口: boss\n", "窓口", "unknown role 'boss'"),
    ("lanes:\n  窓口: auditor\n", "窓口", "unknown role 'auditor'"),
    ("roles:\n  boss: {agency: any}\n", "boss", "unknown role 'boss'"),
    ("roles:\n  window: {agency: nearest}\n", "window", "agency rule 'nearest'"),
    ("lanes: [窓口]\n", None, "must be mappings"),
    ("- a\n- b\n", None, "expected a mapping"),
])
def test_problems_name_the_lane_or_role(text, element, reason):
    _, problems = parse_roles(text)
    assert any(p.file == "roles.yaml" and p.element_id == element and reason in p.reason
               for p in problems), problems


def test_invalid_yaml_names_the_line():
    _, problems = parse_roles("lanes:\n  窓口: [window\n")
    assert problems[0].line is not None and "not valid YAML" in problems[0].reason


def test_empty_file_is_an_empty_config():
    assert parse_roles("") == (RoleConfig(), [])


def test_load_roles_reads_the_processes_directory(tmp_path: Path):
    assert load_roles(tmp_path) == (RoleConfig(), [])
    (tmp_path / "roles.yaml").write_text(ROLES, encoding="utf-8")
    config, problems = load_roles(tmp_path)
    assert problems == [] and config.role_for_lane("担当部署") == "coordinator"


def test_constants():
    assert set(AGENCY_RULES) == {"intake", "any", "lead"}
    assert "designer" not in TASK_ROLES and "window" in TASK_ROLES


def test_repository_roles_file_is_valid():
    processes = Path(__file__).resolve().parents[2] / "processes"
    _, problems = load_roles(processes)
    assert problems == []
