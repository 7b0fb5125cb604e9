"""Submission validation: every field type, Japanese messages, and hostile input answered as Invalid."""

from __future__ import annotations

import pytest

from engine.errors import Invalid
from engine.formdefs import parse_form
from engine.formschema import MESSAGES, REQUIRED, Lookups, flatten_errors, validate_submission

FORM_YAML = """
key: everything
title: 全項目
fields:
  - {name: name, label: 氏名, type: text, required: true}
  - {name: memo, label: メモ, type: textarea, max_length: 20}
  - {name: born, label: 生年月日, type: date}
  - {name: met_at, label: 面談日時, type: datetime}
  - {name: age, label: 年齢, type: integer, min: 0, max: 130}
  - {name: count, label: 件数, type: integer}
  - {name: urgent, label: 緊急, type: boolean}
  - {name: agreed, label: 同意を得た, type: boolean, required: true}
  - name: method
    label: 同意の方法
    type: choice
    choices: [{value: written, label: 書面}, {value: oral, label: 口頭}]
  - {name: document_no, label: 書面番号, type: text, required_if: "method == 'written'"}
  - name: needs
    label: 課題
    type: multichoice
    choices: [{value: money, label: 経済}, {value: health, label: 健康}]
  - {name: referred_to, label: つなぎ先, type: agency, multiple: true}
  - {name: lead, label: 主担当機関, type: agency}
  - {name: csw, label: 担当CSW, type: user, role: csw}
  - name: members
    label: 支援チーム
    type: table
    exactly_one: main
    max_rows: 3
    columns:
      - {name: agency, label: 機関, type: agency, required: true}
      - {name: main, label: 主担当, type: boolean}
      - {name: note, label: 備考, type: text}
"""
FORM, _PROBLEMS = parse_form(FORM_YAML, "everything.yaml")
LOOKUPS = Lookups(agencies={"AG1": "地域包括", "AG2": "社協"},
                  users={"csw1": ("CSW 一郎", frozenset({"csw"})),
                         "win1": ("窓口 花子", frozenset({"window"}))})
VALID = {"name": "試験 太郎", "agreed": True}


def invalid(data, partial=False):
    with pytest.raises(Invalid) as info:
        validate_submission(FORM, data, LOOKUPS, partial=partial)
    return info.value.errors


def test_form_parses():
    assert _PROBLEMS == []


def test_minimal_valid_submission_is_cleaned_and_json_native():
    assert validate_submission(FORM, VALID, LOOKUPS) == {"name": "試験 太郎", "agreed": True, "urgent": False}


def test_every_type_coerces_to_json_native_values():
    data = {**VALID, "memo": "  メモ  ", "born": "1950-04-01", "met_at": "2026-11-24T10:30", "age": "76",
            "count": "１２", "urgent": "on", "method": "oral", "needs": ["money", "health"],
            "referred_to": ["AG1", "AG2"], "lead": "AG1", "csw": "csw1",
            "members": [{"agency": "AG1", "main": "true"}, {"agency": "AG2", "note": "夜間のみ"}]}
    cleaned = validate_submission(FORM, data, LOOKUPS)
    assert cleaned["memo"] == "メモ"
    assert cleaned["born"] == "1950-04-01"
    assert cleaned["met_at"] == "2026-11-24T10:30+09:00"          # naive means Asia/Tokyo
    assert cleaned["age"] == 76 and cleaned["count"] == 12          # 全角 digits are numbers too
    assert cleaned["urgent"] is True
    assert cleaned["members"] == [{"agency": "AG1", "main": True},
                                  {"agency": "AG2", "note": "夜間のみ", "main": False}]


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"agreed": True}, "name", REQUIRED),
    ({"name": "", "agreed": True}, "name", REQUIRED),
    ({"name": "   ", "agreed": True}, "name", REQUIRED),
    ({**VALID, "agreed": False}, "agreed", MESSAGES["check"]),
    ({"name": "x"}, "agreed", MESSAGES["check"]),
    ({**VALID, "memo": "あ" * 21}, "memo", "20文字以内で入力してください。"),
    ({**VALID, "name": "あ" * 201}, "name", "200文字以内で入力してください。"),
    ({**VALID, "born": "2026-02-30"}, "born", MESSAGES["date"]),
    ({**VALID, "born": "2026/04/01"}, "born", MESSAGES["date"]),
    ({**VALID, "met_at": "明日"}, "met_at", MESSAGES["datetime"]),
    ({**VALID, "age": 131}, "age", "0以上130以下で入力してください。"),
    ({**VALID, "age": -1}, "age", "0以上130以下で入力してください。"),
    ({**VALID, "age": "12.5"}, "age", MESSAGES["integer"]),
    ({**VALID, "age": 12.5}, "age", MESSAGES["integer"]),
    ({**VALID, "age": True}, "age", MESSAGES["integer"]),
    ({**VALID, "age": "十二"}, "age", MESSAGES["integer"]),
    ({**VALID, "count": 10**100}, "count", MESSAGES["too_large"]),
    ({**VALID, "count": float("inf")}, "count", MESSAGES["integer"]),
    ({**VALID, "count": float("nan")}, "count", MESSAGES["integer"]),
    ({**VALID, "urgent": "maybe"}, "urgent", MESSAGES["boolean"]),
    ({**VALID, "method": "email"}, "method", MESSAGES["choice"]),
    ({**VALID, "method": ["oral"]}, "method", MESSAGES["choice"]),
    ({**VALID, "method": "written"}, "document_no", REQUIRED),
    ({**VALID, "needs": "money"}, "needs", MESSAGES["list"]),
    ({**VALID, "needs": ["money", "fame"]}, "needs.1", MESSAGES["choice"]),
    ({**VALID, "lead": "AG9"}, "lead", MESSAGES["agency"]),
    ({**VALID, "referred_to": ["AG1", "AG9"]}, "referred_to", MESSAGES["agency"]),
    ({**VALID, "csw": "win1"}, "csw", MESSAGES["user"]),
    ({**VALID, "csw": "nobody"}, "csw", MESSAGES["user"]),
    ({**VALID, "members": [{"agency": "AG1"}, {"agency": "AG2"}]}, "members",
     "「主担当」は1行だけ選んでください。"),
    ({**VALID, "members": [{"agency": "AG1", "main": True}, {"agency": "AG2", "main": True}]}, "members",
     "「主担当」は1行だけ選んでください。"),
    ({**VALID, "members": [{"main": True}]}, "members.0.agency", REQUIRED),
    ({**VALID, "members": [{"agency": "AG9", "main": True}]}, "members.0.agency", MESSAGES["agency"]),
    ({**VALID, "members": [{"agency": "AG1", "main": True, "x": 1}]}, "members.0.x", MESSAGES["unknown"]),
    ({**VALID, "members": [{"agency": "AG1", "main": True}] * 4}, "members", "3行以内にしてください。"),
    ({**VALID, "members": "AG1"}, "members", MESSAGES["list"]),
    ({**VALID, "members": ["AG1"]}, "members.0", "入力の形式が正しくありません。"),
    ({**VALID, "surprise": 1}, "surprise", MESSAGES["unknown"]),
    ({**VALID, "case": {"status": "closed"}}, "case", MESSAGES["unknown"]),
    ({**VALID, 7: "x"}, "7", MESSAGES["unknown"]),
    ({**VALID, "name": "a\x00b"}, "name", MESSAGES["nul"]),
    ({**VALID, "memo": "\x00"}, "memo", MESSAGES["nul"]),
    ({**VALID, "lead": "AG1\x00"}, "lead", MESSAGES["nul"]),
    ({**VALID, "memo": "a\ud800"}, "memo", MESSAGES["nul"]),  # a lone surrogate cannot be stored as UTF-8
    ({**VALID, "name": "\udfff"}, "name", MESSAGES["nul"]),
    ({**VALID, "name": 12}, "name", MESSAGES["text"]),
    ({**VALID, "name": ["a"]}, "name", MESSAGES["text"]),
    ({**VALID, "name": {"a": 1}}, "name", MESSAGES["text"]),
])
def test_bad_values_get_japanese_messages_per_field(data, field, message):
    errors = invalid(data)
    assert message in errors.get(field, []), errors


def test_one_megabyte_strings_are_refused_quickly():
    errors = invalid({**VALID, "memo": "あ" * 1_000_000, "name": "x" * 1_000_000})
    assert set(errors) == {"memo", "name"}


def test_deep_json_is_invalid_never_an_exception():
    deep_list: list = []
    node = deep_list
    for _ in range(1000):
        node.append([])
        node = node[0]
    deep_dict: dict = {}
    cursor = deep_dict
    for _ in range(1000):
        cursor["a"] = {}
        cursor = cursor["a"]
    for value in (deep_list, deep_dict):
        for field in ("name", "members", "needs", "age", "born", "lead", "referred_to"):
            errors = invalid({**VALID, field: value})
            assert field in errors or any(k.startswith(field + ".") for k in errors)
    errors = invalid(deep_dict)
    assert errors["a"] == [MESSAGES["unknown"]]


@pytest.mark.parametrize("data", [None, [], "text", 12, b"bytes", [VALID]])
def test_a_submission_that_is_not_a_mapping_is_invalid(data):
    assert invalid(data) == {"_form": ["入力の形式が正しくありません。"]}


def test_long_unknown_keys_are_shortened_in_messages():
    errors = invalid({**VALID, "k" * 10_000: 1})
    assert all(len(key) < 200 for key in errors)


def test_drafts_skip_required_checks_but_not_types_or_unknown_fields():
    assert validate_submission(FORM, {"memo": "途中"}, LOOKUPS, partial=True) == {"memo": "途中"}
    assert validate_submission(FORM, {"method": "written"}, LOOKUPS, partial=True)["method"] == "written"
    assert "age" in invalid({"age": "x"}, partial=True)
    assert "surprise" in invalid({"surprise": 1}, partial=True)


def test_html_form_blanks_mean_not_given():
    blanks = {"memo": "", "born": "", "age": "", "method": "", "urgent": ""}
    cleaned = validate_submission(FORM, {**VALID, **blanks}, LOOKUPS)
    assert cleaned == {"name": "試験 太郎", "agreed": True, "urgent": False, "memo": None, "born": None,
                       "age": None, "method": None}


def test_without_lookups_no_agency_or_user_is_accepted():
    with pytest.raises(Invalid) as info:
        validate_submission(FORM, {**VALID, "lead": "AG1"})
    assert info.value.errors == {"lead": [MESSAGES["agency"]]}


def test_flatten_errors_makes_dotted_paths():
    assert flatten_errors({"a": ["x"], "t": {0: {"b": ["y"]}}, "_schema": ["z"]}) == \
        {"a": ["x"], "t.0.b": ["y"], "_form": ["z"]}
    assert flatten_errors("plain") == {"_form": ["plain"]}


def test_a_new_definition_of_the_same_key_gets_its_own_schema():
    """Schemas are cached per definition object; a freed definition's recycled id() must not hand its
    schema to the next definition of the same key (seen as a spurious 'unknown field' in a suite run)."""
    for i in range(50):
        name = f"field_{i}"
        form, problems = parse_form(
            f"key: recycled\ntitle: t\nfields:\n  - {{name: {name}, label: l, type: text}}\n", "recycled.yaml"
        )
        assert not problems and form is not None
        assert validate_submission(form, {name: "x"}) == {name: "x"}
        del form
