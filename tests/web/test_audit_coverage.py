"""Audit coverage over HTTP: exactly one audit event per read or write, on the pages and in the API.

Every request is matched to its events by its request id (the ``X-Request-Id`` header, stored in each
event). The app runs in strict mode (``TSUNAGU_AUDIT_STRICT``): a data route that answered without
exactly one event fails the request itself. Object routes are discovered from ``app.url_map``.
"""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from engine import users
from engine.models import AuditEvent, HumanTask
from engine.policy_matrix import matrix
from tests.support import factories
from tests.support.referral10 import referral_files
from tests.web.conftest import csrf, login, make_app, start_case
from web.state import state

pytestmark = pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")


class W:
    def __init__(self, app, people, tokens):
        self.app, self.people, self.tokens = app, people, tokens


@pytest.fixture
def w(db, write):
    app = make_app(db)  # strict audit: exactly one event per data request
    with app.app_context():
        engine = state().engine
    with write() as s:
        people = {"win": factories.actor(s, "window", "AG-WIN", "win"),
                  "other": factories.actor(s, "window", "AG-OTHER", "other"),
                  "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
                  "auditor": factories.actor(s, "auditor", "AG-JUSO", "auditor")}
        tokens = {name: users.create_api_token(s, name) for name in people}
        factories.deploy(engine, s, referral_files())
    return W(app, people, tokens)


def events_of(read, response) -> list[AuditEvent]:
    rid = response.headers["X-Request-Id"]
    with read() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.request_id == rid).order_by(AuditEvent.id)))


def one(read, response, action: str, allowed: bool = True) -> AuditEvent:
    found = events_of(read, response)
    assert [(e.action, e.allowed) for e in found] == [(action, allowed)], (response.status_code, found)
    return found[0]


def api(w, who, method, url, body=None):
    return w.app.test_client().open(url, method=method, json=body,
                                    headers={"Authorization": f"Bearer {w.tokens[who]}"})


def page(w, who):
    client = w.app.test_client()
    login(client, who)
    return client


def object_get_rules(app):
    return [r for r in app.url_map.iter_rules()
            if "GET" in r.methods and set(r.arguments) & {"case_id",
                                                          "task_id"} and set(r.arguments) <= {"case_id",
                                                                                                      "task_id"}]


def fill(rule, case_id, task_id) -> str:
    url = re.sub(r"<(?:int:)?case_id>", str(case_id), rule.rule)
    return re.sub(r"<(?:int:)?task_id>", str(task_id), url)


def test_every_object_read_records_exactly_one_event_allowed_or_denied(w, read):
    started = start_case(w)
    task_id = started.open_tasks[0].id
    rules = object_get_rules(w.app)
    assert len(rules) >= 4
    for rule in rules:
        url = fill(rule, started.case_id, task_id)
        for who, allowed in (("win", True), ("other", False)):
            if rule.rule.startswith("/api/"):
                response = api(w, who, "GET", url)
            else:
                response = page(w, who).get(url)
            assert response.status_code == (200 if allowed else 404), (url, who)
            event = one(read, response, matrix().routes[rule.endpoint], allowed)
            assert event.username == who and (event.case_id == started.case_id or event.task_id == task_id)


def test_writes_through_the_api_record_exactly_one_event_each(w, read):
    response = api(w, "win", "POST", "/api/v1/cases", {"subject_name": "架空 花子", "urgency": "low",
                                                       "narrative": "相談"})
    assert response.status_code == 201
    one(read, response, "case.start")
    task_id = response.json["open_tasks"][0]["id"]
    for action, url, body in (("task.unclaim", "unclaim", None), ("task.claim", "claim", None),
                              ("task.draft", "draft", {"note": "途中"}),
                              ("task.complete", "complete", {"action": "refer"})):
        response = api(w, "win", "POST", f"/api/v1/tasks/{task_id}/{url}", body)
        assert response.status_code == 200, (url, response.json)
        one(read, response, action)
    response = api(w, "other", "POST", f"/api/v1/tasks/{task_id}/claim")
    assert response.status_code == 404
    one(read, response, "task.claim", allowed=False)


def test_writes_through_the_pages_record_exactly_one_event_each(w, read):
    started = start_case(w)
    task_id = started.open_tasks[0].id
    client = page(w, "win")
    url = f"/tasks/{task_id}"
    response = client.post(url, data={"csrf_token": csrf(client, url), "_action": "draft", "note": "途中"})
    assert response.status_code in (200, 302)
    one(read, response, "task.draft")
    response = client.post(f"{url}/unclaim", data={"csrf_token": csrf(client, url)})
    one(read, response, "task.unclaim")
    response = client.post(f"{url}/claim", data={"csrf_token": csrf(client, url)})
    one(read, response, "task.claim")
    response = client.post(url, data={"csrf_token": csrf(client, url), "_action": "complete",
                                      "action": "refer"})
    assert response.status_code == 302
    one(read, response, "task.complete")
    with read() as s:
        assert s.get(HumanTask, task_id).status == "completed"


def test_starting_and_listing_record_exactly_one_event(w, read):
    client = page(w, "win")
    response = client.post("/intake", data={"csrf_token": csrf(client, "/intake"),
                                            "subject_name": "架空 次郎",
                                            "urgency": "low", "narrative": "相談"})
    assert response.status_code == 302
    one(read, response, "case.start")
    for response in (client.get("/?view=mine"), api(w, "win", "GET", "/api/v1/tasks?view=claimable")):
        assert response.status_code == 200
        one(read, response, "task.list")


def test_the_auditor_pages_record_their_reads(w, read):
    client = page(w, "auditor")
    for url, action in (("/audit/", "audit.read"), ("/audit/export.csv", "audit.export"),
                        ("/audit/verify", "audit.verify")):
        response = client.get(url)
        assert response.status_code == 200, url
        one(read, response, action)
    assert page(w, "win").get("/audit/").status_code == 403
