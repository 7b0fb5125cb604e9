"""Form definitions (forms/*.yaml): parsing, and problems that name the file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.formdefs import FIELD_TYPES, FormRegistry, load_forms, parse_form
from tests.support.referral10 import FORMS_DIR

ALL_TYPES = """
key: all_types
title: 全種類
description: 説明
fields:
  - {name: t, label: 文字, type: text, max_length: 50, help: 50文字まで}
  - {name: ta, label: 長文, type: textarea}
  - {name: d, label: 日付, type: date}
  - {name: dt, label: 日時, type: datetime}
  - {name: i, label: 整数, type: integer, min: 0, max: 9}
  - {name: b, label: 真偽, type: boolean, default: true}
  - {name: c, label: 選択, type: choice, required: true, choices: [{value: a, label: あ}, {value: b}]}
  - {name: m, label: 複数, type: multichoice, choices: [{value: x, label: エックス}]}
  - {name: ag, label: 機関, type: agency, multiple: true}
  - {name: u, label: 担当, type: user, role: csw}
  - name: rows
    label: 表
    type: table
    min_rows: 1
    max_rows: 5
    exactly_one: main
    columns:
      - {name: who, label: 誰, type: text, required: true}
      - {name: main, label: 主, type: boolean}
  - {name: why, label: 理由, type: text, required_if: "c == 'b'"}
"""


def test_every_field_type_parses():
    form, problems = parse_form(ALL_TYPES, "all_types.yaml")
    assert problems == []
    assert form.key == "all_types" and form.title == "全種類" and form.description == "説明"
    assert {f.type for f in form.fields} == set(FIELD_TYPES)
    assert form.field("c").choices[1].label == "b"  # a choice without a label shows its value
    assert form.field("c").choice_label("a") == "あ" and form.field("c").choice_label(None) == ""
    rows = form.field("rows")
    assert (rows.min_rows, rows.max_rows, rows.exactly_one) == (1, 5, "main")
    assert [c.name for c in rows.columns] == ["who", "main"]
    assert form.field("u").role == "csw" and form.field("ag").multiple
    assert form.field("b").default is True
    assert form.field("missing") is None


def test_to_json_is_plain_data_for_the_web_and_the_api():
    form, _ = parse_form(ALL_TYPES, "all_types.yaml")
    data = form.to_json()
    assert data["key"] == "all_types" and len(data["fields"]) == 12
    table = next(f for f in data["fields"] if f["type"] == "table")
    assert table["min_rows"] == 1 and table["columns"][0]["name"] == "who"
    assert next(f for f in data["fields"] if f["name"] == "u")["multiple"] is False


def test_key_defaults_to_the_file_name():
    text = "title: 記録\nfields:\n  - {name: note, label: 記録, type: textarea}\n"
    form, problems = parse_form(text, "note.yaml")
    assert problems == [] and form.key == "note"


@pytest.mark.parametrize(("yaml_text", "where", "reason"), [
    ("title: [unclosed\n", None, "not valid YAML"),
    ("- just a list\n", None, "must be a mapping"),
    ("key: x\nfields: [{name: a, label: あ}]\n", "x", "needs a Japanese title"),
    ("key: Bad-Key\ntitle: t\nfields: [{name: a, label: あ}]\n", "Bad-Key", "lower-case ASCII"),
    ("key: case\ntitle: t\nfields: [{name: a, label: あ}]\n", "case", "reserved"),
    ("key: x\ntitle: t\n", "x", "needs a list of fields"),
    ("key: x\ntitle: t\nfield: []\n", "x", "unknown key(s) field"),
    ("key: x\ntitle: t\nfields: [{name: A, label: あ}]\n", "x.A", "lower-case ASCII"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: money}]\n", "x.a", "unknown type 'money'"),
    ("key: x\ntitle: t\nfields: [{name: a, type: text}]\n", "x.a", "Japanese label"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, requried: true}]\n", "x.a",
     "unknown attribute(s) requried"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: choice}]\n", "x.a", "needs choices"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: choice, choices: [a, b]}]\n", "x.a",
     "list of {value, label}"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: choice, choices: [{value: a}, {value: a}]}]\n",
     "x.a", "unique"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: table}]\n", "x.a", "needs columns"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: table, "
     "columns: [{name: t, label: 表, type: table}]}]\n", "x.a.t", "unknown type 'table'"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: table, exactly_one: m, "
     "columns: [{name: m, label: 主, type: text}]}]\n", "x.a", "not a boolean column"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, max_length: many}]\n", "x.a",
     "max_length must be a whole"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: table, min_rows: '1', "
     "columns: [{name: m, label: 主}]}]\n", "x.a", "min_rows must be a whole"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, type: user, role: boss}]\n", "x.a", "role 'boss'"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ, required_if: \"__import__('os')\"}]\n", "x.a",
     "required_if"),
    ("key: x\ntitle: t\nfields: [{name: a, label: あ}, {name: a, label: い}]\n", "x.a", "used twice"),
    ("key: x\ntitle: t\nfields: [just text]\n", "x", "each field must be a mapping"),
])
def test_problems_name_the_file_and_the_field(yaml_text, where, reason):
    form, problems = parse_form(yaml_text, "x.yaml")
    assert form is None
    assert any(p.file == "x.yaml" and p.element_id == where and reason in p.reason
               for p in problems), problems


def test_yaml_errors_carry_the_line():
    _, problems = parse_form("key: x\ntitle: t\nfields:\n  - {name: a, label: [}\n", "x.yaml")
    assert problems[0].line == 4


def test_load_forms_reads_a_directory(tmp_path: Path):
    (tmp_path / "a.yaml").write_text("title: A\nfields: [{name: n, label: 名}]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("key: a\ntitle: B\nfields: [{name: n, label: 名}]\n", encoding="utf-8")
    (tmp_path / "c.yaml").write_text("title: C\nfields: [{name: N, label: 名}]\n", encoding="utf-8")
    (tmp_path / "ignored.txt").write_text("not a form", encoding="utf-8")
    registry, problems = load_forms(tmp_path)
    assert set(registry.forms) == {"a"}
    assert "a" in registry and registry.get("a").title == "A" and registry.get(None) is None
    assert {(p.file, p.element_id) for p in problems} == {("b.yaml", "a"), ("c.yaml", "c.N")}
    assert any("also defined in a.yaml" in p.reason for p in problems)


def test_missing_directory_is_a_problem(tmp_path: Path):
    registry, problems = load_forms(tmp_path / "nope")
    assert isinstance(registry, FormRegistry) and not registry.forms
    assert "not found" in problems[0].reason


def test_test_fixture_forms_are_valid():
    registry, problems = load_forms(FORMS_DIR)
    assert problems == [] and {"intake", "note", "decision", "window_response"} <= set(registry.forms)


def test_repository_forms_are_valid():
    forms_dir = Path(__file__).resolve().parents[2] / "forms"
    _, problems = load_forms(forms_dir)
    assert problems == []
