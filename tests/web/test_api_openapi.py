"""``GET /api/v1/openapi.json``: generated from the schemas; every API route is in it."""

from __future__ import annotations

import re


def test_the_document_lists_every_api_route_with_its_schemas(world, api):
    doc = api("win").get("/openapi.json").json
    assert doc["openapi"].startswith("3.1")
    routes = {
        (re.sub(r"<(?:[a-z]+:)?([a-z_]+)>", r"{\1}", r.rule), m.lower())
        for r in world.app.url_map.iter_rules()
        if r.rule.startswith("/api/")
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    listed = {(p, m) for p, ops in doc["paths"].items() for m in ops}
    assert routes == listed
    complete = doc["paths"]["/api/v1/tasks/{task_id}/complete"]["post"]
    assert complete["responses"]["200"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ActionResult"
    }
    assert {"401", "404", "409", "422"} <= set(complete["responses"])
    task = doc["components"]["schemas"]["Task"]
    assert task["properties"]["due_at"] == {"type": ["string", "null"], "format": "date-time"}
    assert set(task["required"]) >= {
        "id",
        "case_id",
        "case_number",
        "element_id",
        "title",
        "lane",
        "assignee",
        "due_at",
        "status",
        "form_key",
    }
    assert doc["paths"]["/api/v1/health"]["get"]["security"] == []
    field = doc["components"]["schemas"]["Field"]
    assert field["properties"]["columns"]["items"] == {"$ref": "#/components/schemas/Field"}


def test_the_document_needs_login(world):
    assert world.app.test_client().get("/api/v1/openapi.json").status_code == 401
