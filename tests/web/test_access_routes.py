"""Every Flask route has a policy entry (engine/policy_matrix.yaml ``routes``), and the entry is enforced:
for each route at least one role is let through the role-level gate and at least one is refused (404 for
case actions, which never disclose existence; 403 for pages that are not about a case), refusals are
audited, and without a login nothing but public routes answers."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import users
from engine.models import AuditEvent
from engine.policy_matrix import matrix
from tests.support import factories
from tests.web.conftest import csrf, login, make_app

ROLES = [r for r in matrix().roles if r != "system"]
OPEN = ("public", "authenticated")
SAMPLE_ARGS = {"case_id": 1, "task_id": 1, "notification_id": 1, "meeting_id": 1, "key": "intake",
               "filename": "css/app.css"}


@pytest.fixture
def app(db):
    return make_app(db)


@pytest.fixture
def role_users(app, write):
    with write() as s:
        for role in ROLES:
            factories.actor(s, role, f"AG-{role.upper()}", f"only-{role}")
    return {role: f"only-{role}" for role in ROLES}


def rules(app):
    return [r for r in app.url_map.iter_rules() if r.endpoint != "static"]


def url_for_rule(rule) -> str:
    path = rule.rule
    for name in rule.arguments:
        path = re.sub(rf"<(?:[a-z]+:)?{name}>", str(SAMPLE_ARGS.get(name, 1)), path)
    return path


def method_of(rule) -> str:
    return "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]


def test_every_route_has_a_policy_entry(app):
    missing = sorted(r.endpoint for r in app.url_map.iter_rules() if r.endpoint not in matrix().routes)
    assert not missing, ("routes without an entry under `routes` in engine/policy_matrix.yaml "
                         f"(add the action each performs): {missing}")


def test_no_policy_entry_is_left_without_a_route(app):
    endpoints = {r.endpoint for r in app.url_map.iter_rules()}
    assert sorted(set(matrix().routes) - endpoints) == []


def test_every_guarded_route_allows_some_role_and_refuses_another():
    m = matrix()
    for endpoint, action in m.routes.items():
        if action in OPEN:
            continue
        allowed = [r for r in ROLES if m.role_may([r], action)]
        refused = [r for r in ROLES if not m.role_may([r], action)]
        assert allowed and refused, (endpoint, action, allowed, refused)


def call(client, rule, headers=None):
    method, url = method_of(rule), url_for_rule(rule)
    if method == "GET":
        return client.get(url, headers=headers)
    data = {} if headers else {"csrf_token": csrf(client, "/login")}
    return client.open(url, method=method, data=None if headers else data, json={} if headers else None,
                       headers=headers)


def test_refused_roles_get_404_or_403_and_each_refusal_is_audited(app, role_users, read):
    m = matrix()
    clients = {}
    for role, username in role_users.items():
        clients[role] = app.test_client()
        assert login(clients[role], username).status_code == 302
    checked = 0
    for rule in rules(app):
        action = m.routes.get(rule.endpoint)
        if action is None or action in OPEN:
            continue
        for role in ROLES:
            if m.role_may([role], action):
                continue
            response = call(clients[role], rule)
            want = 403 if m.actions[action].scope == "global" else 404
            assert response.status_code == want, (rule.endpoint, role, response.status_code)
            rid = response.headers["X-Request-Id"]
            with read() as s:
                events = list(s.scalars(select(AuditEvent).where(AuditEvent.request_id == rid)))
            assert [(e.action, e.allowed, e.detail) for e in events] == [(action, False, {"reason": "role"})]
            checked += 1
    assert checked > 20


def test_allowed_roles_pass_the_gate(app, role_users, read):
    m = matrix()
    for rule in rules(app):
        action = m.routes.get(rule.endpoint)
        if action is None or action in OPEN:
            continue
        role = next(r for r in ROLES if m.role_may([r], action))
        client = app.test_client()
        login(client, role_users[role])
        response = call(client, rule)
        rid = response.headers["X-Request-Id"]
        with read() as s:
            gate = s.scalar(select(AuditEvent).where(AuditEvent.request_id == rid,
                                                     AuditEvent.object_type == "route",
                                                     AuditEvent.detail["reason"].as_string() == "role"))
        assert gate is None, (rule.endpoint, role)
        assert response.status_code < 500, (rule.endpoint, role, response.status_code)


def test_without_login_only_public_routes_answer(app, role_users):
    m = matrix()
    client = app.test_client()
    for rule in rules(app):
        if m.routes.get(rule.endpoint) == "public" or method_of(rule) != "GET":
            continue
        response = client.get(url_for_rule(rule))
        assert response.status_code in (302, 401), (rule.endpoint, response.status_code)


def test_api_tokens_are_gated_like_sessions(app, role_users, write):
    with write() as s:
        token = users.create_api_token(s, role_users["auditor"])
    client = app.test_client()
    response = client.get("/api/v1/cases/1", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 404 and response.mimetype == "application/problem+json"
    assert client.get("/api/v1/tasks", headers={"Authorization": f"Bearer {token}"}).status_code == 403
