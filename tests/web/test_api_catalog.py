"""``GET /api/v1/processes`` and ``GET /api/v1/forms/{key}`` (agency and user fields carry choices)."""

from __future__ import annotations


def test_processes_lists_what_can_be_started(world, api):
    assert api("win").get("/processes").json == [
        {"id": "referral_test", "name": "つなぎテスト", "version": 1, "start_form_key": "intake"}
    ]


def test_a_form_definition_with_its_fields(world, api):
    body = api("win").get("/forms/intake").json
    assert body["key"] == "intake" and body["title"] == "相談受付票（テスト）"
    urgency = next(f for f in body["fields"] if f["name"] == "urgency")
    assert urgency == {
        "name": "urgency",
        "label": "緊急性",
        "type": "choice",
        "required": True,
        "help": "",
        "choices": [
            {"value": "high", "label": "高"},
            {"value": "medium", "label": "中"},
            {"value": "low", "label": "低"},
        ],
        "columns": [],
    }
    household = next(f for f in body["fields"] if f["name"] == "household")
    assert [c["name"] for c in household["columns"]] == ["name", "relation", "age"]


def test_user_fields_carry_their_choices_limited_to_the_role(world, api):
    csw = next(f for f in api("win").get("/forms/decision").json["fields"] if f["name"] == "csw")
    assert csw["choices"] == [{"value": "csw", "label": "テスト csw"}]


def test_agency_fields_carry_their_choices(typed_world):
    from engine import users
    from engine.db import make_session_factory, transaction
    from tests.web.conftest import Api
    from web.state import state

    with typed_world.app.app_context():
        with transaction(make_session_factory(state().db), write=True) as s:
            token = users.create_api_token(s, "win")
    body = Api(typed_world.app, token).get("/forms/alltypes").json
    lead = next(f for f in body["fields"] if f["name"] == "lead")
    assert {"value": "AG-HOKEN", "label": "保健センター"} in lead["choices"]
    roles = next(f for f in body["fields"] if f["name"] == "roles")
    assert {"value": "AG-HOKEN", "label": "保健センター"} in roles["columns"][0]["choices"]


def test_an_unknown_form_is_404(world, api):
    response = api("win").get("/forms/nope")
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
