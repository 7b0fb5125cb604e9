"""web.forms: posted HTML fields → a submission (only declared fields), values kept for re-display,
rows added/removed without JavaScript, draft values shown back, stored values as text."""

from __future__ import annotations

from werkzeug.datastructures import MultiDict

from engine.formdefs import parse_form
from engine.formschema import Lookups
from tests.web.conftest import ALL_TYPES
from web import forms

FORM, _ = parse_form(ALL_TYPES, "alltypes.yaml")


def test_only_declared_fields_are_read_and_empty_inputs_are_left_out():
    posted = forms.parse(
        FORM,
        MultiDict(
            [
                ("title", " 件名 "),
                ("body", ""),
                ("is_admin", "1"),
                ("count", "2"),
                ("issues", "money"),
                ("issues", "care"),
                ("_action", "draft"),
            ]
        ),
    )
    assert posted.data == {"title": " 件名 ", "count": "2", "urgent": False, "issues": ["money", "care"]}
    assert posted.action == "draft" and "is_admin" not in posted.values and posted.values["body"] == ""


def test_table_rows_are_collected_in_order_and_blank_rows_dropped():
    posted = forms.parse(
        FORM,
        MultiDict(
            [
                ("roles.10.role", "後"),
                ("roles.2.role", "前"),
                ("roles.2.main", "true"),
                ("roles.5.role", ""),
                ("roles.5.agency", ""),
                ("roles.x.role", "ignored"),
            ]
        ),
    )
    assert posted.data["roles"] == [{"role": "前", "main": True}, {"role": "後", "main": False}]
    assert [r["role"] for r in posted.values["roles"]] == ["前", "後"]


def test_row_actions_without_javascript():
    posted = forms.parse(
        FORM, MultiDict([("roles.0.role", "A"), ("roles.1.role", "B"), ("_action", "remove_row:roles:0")])
    )
    forms.change_rows(FORM, posted)
    assert [r["role"] for r in posted.values["roles"]] == ["B"]
    posted = forms.parse(FORM, MultiDict([("_action", "add_row:roles")]))
    forms.change_rows(FORM, posted)
    assert posted.values["roles"] == [{"agency": "", "role": "", "main": False, "since": ""}]
    spare = forms.parse(FORM, MultiDict([("roles.0.role", ""), ("roles.1.role", "B"),
                                         ("_action", "add_row:roles")]))
    forms.change_rows(FORM, spare)  # rows stay where they were on the screen, blank ones included
    assert [r["role"] for r in spare.values["roles"]] == ["", "B", ""]
    unknown = forms.parse(FORM, MultiDict([("_action", "add_row:nope")]))
    assert unknown.action == "complete"  # an unknown table is not an action


def test_initial_values_from_a_draft_and_defaults():
    values = forms.initial_values(
        FORM,
        {
            "visit_at": "2026-12-01T01:30+00:00",
            "count": 3,
            "urgent": True,
            "issues": ["care"],
            "roles": [{"role": "見守り", "main": True}],
        },
    )
    assert values["visit_at"] == "2026-12-01T10:30" and values["count"] == "3" and values["urgent"] is True
    assert values["issues"] == ["care"] and values["title"] == ""
    assert values["roles"] == [{"agency": "", "role": "見守り", "main": True, "since": ""}]


def test_choices_of_agency_and_user_fields():
    lookups = Lookups(
        agencies={"B": "乙機関", "A": "甲機関"},
        users={"u1": ("CSW 一", frozenset({"csw"})), "u2": ("窓口 二", frozenset({"window"}))},
    )
    options = forms.choices(FORM, lookups)
    assert options.get("lead") == [("B", "乙機関"), ("A", "甲機関")]  # sorted by name
    assert options.get("csw") == [("u1", "CSW 一")] and options.get("roles.agency")
    assert forms.needs_lookups(FORM)


def test_display_of_stored_values():
    assert forms.display(FORM.field("urgent"), True) == "はい"
    assert forms.display(FORM.field("issues"), ["money", "care"]) == "経済、介護"
    assert forms.display(FORM.field("channel"), "phone") == "電話"
    assert forms.display(FORM.field("lead"), "A", {"A": "甲機関"}) == "甲機関"
    assert forms.display(FORM.field("visit_at"), "2026-12-01T01:30+00:00") == "2026-12-01 10:30"
    assert forms.display(FORM.field("body"), None) == "—"


def test_error_summary_names_the_field_and_row():
    items = forms.error_paths(
        {
            "roles.1.role": ["必須項目です。"],
            "title": ["必須項目です。"],
            "surprise": ["この項目は受け付けられません。"],
        },
        FORM,
    )
    assert ("f-roles-1-role", "役割分担：役割（2行目）", "必須項目です。") in items
    assert ("f-title", "件名", "必須項目です。") in items and (
        "f-surprise",
        "入力全体",
        "この項目は受け付けられません。",
    ) in items
