"""IDOR and side-channel sweep: three agencies × 30 cases each; every case, task and record endpoint of the
pages and the API (discovered from ``app.url_map``), plus lists, counts, search and CSV. A user sees their
own agency's cases and the ones shared with them by consent, and nothing of the others: every object
endpoint answers 404 with a body that names nothing, and no list, count or export shows a trace."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import inbox, users
from engine.db import make_session_factory, transaction
from engine.models import Case, HumanTask
from tests.support import access_world, factories
from tests.support.referral10 import referral_files
from tests.web.conftest import csrf, login, make_app
from web.state import state

AGENCIES = ("AG-A", "AG-B", "AG-C")
PER_AGENCY = 30
SHARED_WITH_B = 3  # the first cases of AG-A are shared with AG-B by an active consent
OBJECT_ARGS = ("case_id", "task_id", "record_id", "meeting_id", "consent_id")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, test_database):
    test_database.reset()
    app = make_app(test_database)
    factory = make_session_factory(test_database.engine)
    with app.app_context():
        engine = state().engine
    people, tokens = {}, {}
    with transaction(factory, write=True) as s:
        for code in AGENCIES:
            people[code] = factories.actor(s, "window", code, f"user-{code}")
            factories.actor(s, "supervisor", code, f"sup-{code}", roles=["supervisor", "window"])
            tokens[code] = users.create_api_token(s, f"user-{code}")
        factories.deploy(engine, s, referral_files())
    owned: dict[str, list[tuple[int, str, str]]] = {code: [] for code in AGENCIES}
    for code in AGENCIES:
        with transaction(factory, write=True) as s:
            for i in range(PER_AGENCY):
                name = f"秘匿{code[-1]}{i:02d}太郎"
                started = factories.start(engine, s, people[code], {"subject_name": name,
                                                                    "narrative": f"相談内容{code}{i}"})
                owned[code].append((started.case_id, started.case_number, name))
    with transaction(factory, write=True) as s:
        for case_id, _, _ in owned["AG-A"][:SHARED_WITH_B]:
            access_world.consent(s, s.get(Case, case_id), [people["AG-B"].agency_id])
    return app, factory, engine, people, tokens, owned


def visible_to(code, owned):
    own = {c for c, _, _ in owned[code]}
    if code == "AG-B":
        own |= {c for c, _, _ in owned["AG-A"][:SHARED_WITH_B]}
    return own


def hidden_from(code, owned):
    return [(c, n, name) for other in AGENCIES for c, n, name in owned[other] if c not in visible_to(code,
                                                                                                     owned)]


def object_rules(app):
    return [r for r in app.url_map.iter_rules() if any(a in r.arguments for a in OBJECT_ARGS)]


def client_for(app, code):
    client = app.test_client()
    assert login(client, f"user-{code}").status_code == 302
    return client


def request(client, rule, values, token=None):
    url = rule.rule
    for name, value in values.items():
        url = re.sub(rf"<(?:[a-z]+:)?{name}>", str(value), url)
    method = "GET" if "GET" in rule.methods else sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
    if rule.rule.startswith("/api/"):
        return client.open(url, method=method, json={} if method != "GET" else None,
                           headers={"Authorization": f"Bearer {token}"})
    if method == "GET":
        return client.get(url)
    return client.open(url, method=method, data={"csrf_token": csrf(client, "/login"), "_action": "draft"})


def leaks(body: str, hidden) -> list[str]:
    body = re.sub(r'placeholder="[^"]*"', "", body)  # 「例: 2026-00012」 is an example, not a case
    return [t for _, number, name in hidden for t in (number, name) if t in body]


@pytest.mark.parametrize("code", AGENCIES)
def test_every_object_endpoint_answers_404_for_unshared_cases(sweep, code):
    app, factory, _, _, tokens, owned = sweep
    hidden = hidden_from(code, owned)
    assert len(hidden) == 2 * PER_AGENCY - (SHARED_WITH_B if code == "AG-B" else 0)
    rules = object_rules(app)
    assert {r.endpoint for r in rules} >= {"cases.show", "api.case", "tasks.show", "api.task"}
    with transaction(factory) as s:
        task_of = {c: s.scalar(select(HumanTask.id).where(HumanTask.case_id == c)) for c, _, _ in hidden}
    api, page = app.test_client(), client_for(app, code)
    checked = 0
    for case_id, _, _ in hidden:
        values = {"case_id": case_id, "task_id": task_of[case_id]}
        for rule in rules:
            if not set(rule.arguments) <= set(values):
                continue
            response = request(api if rule.rule.startswith("/api/") else page, rule, values, tokens[code])
            assert response.status_code == 404, (rule.endpoint, case_id, response.status_code)
            assert not leaks(response.get_data(as_text=True), hidden), rule.endpoint
            checked += 1
    print(f"\nIDOR sweep {code}: {len(hidden)} hidden cases, {checked} object requests, all 404")


@pytest.mark.parametrize("code", AGENCIES)
def test_own_and_shared_cases_do_open(sweep, code):
    app, _, _, _, tokens, owned = sweep
    client = client_for(app, code)
    for case_id in sorted(visible_to(code, owned))[:5] + sorted(visible_to(code, owned))[-2:]:
        assert client.get(f"/cases/{case_id}").status_code == 200
        assert app.test_client().get(f"/api/v1/cases/{case_id}",
                                     headers={"Authorization": f"Bearer {tokens[code]}"}).status_code == 200


def list_urls(app):
    views = list(inbox.VIEWS)
    urls = [f"/?view={v}" for v in views] + [f"/api/v1/tasks?view={v}" for v in views]
    endpoints = {r.endpoint: r.rule for r in app.url_map.iter_rules()
                 if not r.arguments and "GET" in r.methods}
    for endpoint in ("supervisor.index", "supervisor.export", "supervisor_api.overdue",
                     "supervisor_api.summary",
                     "notifications.index", "notifications_api.index"):
        if endpoint in endpoints:
            urls.append(endpoints[endpoint])
    return urls


@pytest.mark.parametrize("code", AGENCIES)
def test_lists_counts_search_and_csv_show_no_trace_of_unshared_cases(sweep, code):
    app, factory, engine, people, tokens, owned = sweep
    hidden = hidden_from(code, owned)
    clients = {"user": client_for(app, code), "sup": app.test_client()}
    login(clients["sup"], f"sup-{code}")
    headers = {"Authorization": f"Bearer {tokens[code]}"}
    for url in list_urls(app):
        for who, client in clients.items():
            response = client.get(url, headers=headers if url.startswith("/api/") and who == "user" else None)
            assert response.status_code in (200, 403), (url, who, response.status_code)
            assert not leaks(response.get_data(as_text=True), hidden), (url, who)
    for _, number, _ in hidden[:10]:  # searching by another agency's case number finds nothing
        for url in (f"/?view=mine&case={number}", f"/api/v1/tasks?view=claimable&case={number}"):
            body = clients["user"].get(url, headers=headers if url.startswith("/api/") else None).get_data(
                as_text=True)
            echoed = body.replace(f'value="{number}"', "").replace(f"case={number}", "")  # the query echoed
            assert number not in re.sub(r'placeholder="[^"]*"', "", echoed)
    with transaction(factory) as s:
        counts = inbox.counts(engine, s, people[code])
    assert counts["mine"] == len(visible_to(code, owned)) - (SHARED_WITH_B if code == "AG-B" else 0)
    assert counts["claimable"] == 0
