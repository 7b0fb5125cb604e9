"""Route-wide guarantees, found by walking ``app.url_map`` so new routes are covered automatically:
login everywhere except /login, static files and /api/v1/health; CSRF on every state-changing
route; security headers on every response; no-store on case pages; XSS payloads rendered escaped."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from engine.models import AuditEvent, Case, HumanTask
from tests.support import factories
from tests.web.conftest import csrf, start_case

PUBLIC = {"auth.login", "static", "api.health"}
STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}


def _url(rule) -> str:  # type: ignore[no-untyped-def]
    values = {}
    for arg in rule.arguments:
        converter = rule._converters[arg].__class__.__name__  # noqa: SLF001
        values[arg] = 1 if "Integer" in converter else "css/app.css" if arg == "filename" else "x"
    return re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", lambda m: str(values[m.group(1)]), rule.rule)


def _routes(app, methods):  # type: ignore[no-untyped-def]
    return [(rule, method) for rule in app.url_map.iter_rules() for method in sorted(rule.methods & methods)]


def test_the_walk_finds_the_routes_of_every_room(world):
    endpoints = {r.endpoint for r in world.app.url_map.iter_rules()}
    assert {
        "inbox.index",
        "tasks.show",
        "tasks.submit",
        "tasks.claim",
        "tasks.unclaim",
        "intake.new",
        "intake.create",
        "cases.show",
        "api.task_list",
        "api.complete",
        "api.openapi",
    } <= endpoints


def test_every_route_but_login_static_and_health_needs_login(world):
    client = world.app.test_client()
    token = csrf(client)  # a valid token, so the CSRF check is not what refuses the request
    checked = 0
    for rule, method in _routes(world.app, {"GET", "POST", "PUT", "PATCH", "DELETE"}):
        if rule.endpoint in PUBLIC:
            continue
        response = client.open(
            _url(rule),
            method=method,
            headers={"X-CSRFToken": token},
            data={"csrf_token": token} if method != "GET" else None,
        )
        checked += 1
        if rule.rule.startswith("/api/"):
            assert response.status_code == 401, (rule.rule, method)
            assert response.mimetype == "application/problem+json"
            assert response.json["title"] == "ログインが必要です"
        else:
            assert response.status_code == 302, (rule.rule, method, response.status_code)
            assert response.headers["Location"].startswith("/login"), rule.rule
    assert checked >= 15


def test_public_routes_answer_without_login(world):
    client = world.app.test_client()
    assert "ログイン" in client.get("/login").get_data(as_text=True)
    assert client.get("/api/v1/health").json == {"status": "ok"}
    assert b":root" in client.get("/static/css/app.css").data


def test_every_state_changing_route_refuses_a_request_without_a_valid_csrf_token(world, as_user, read):
    started = start_case(world)
    client = as_user("win")
    with read() as s:
        audit_before = s.scalar(select(func.count()).select_from(AuditEvent))
    routes = _routes(world.app, STATE_CHANGING)
    assert len(routes) >= 10
    for rule, method in routes:
        url = (
            _url(rule).replace("/1", f"/{started.open_tasks[0].id}")
            if "task_id" in rule.arguments
            else _url(rule)
        )
        for headers, data in (
            ({}, {"action": "resolved"}),
            ({"X-CSRFToken": "forged"}, {"csrf_token": "forged"}),
        ):
            response = client.open(url, method=method, data=data, headers=headers)
            assert response.status_code == 400, (rule.rule, method, response.status_code)
            body = response.get_data(as_text=True)
            assert "不正な送信" in body or "bad_request" in body, rule.rule
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Case)) == 1
        task = s.get(HumanTask, started.open_tasks[0].id)
        assert task.status == "open"
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == audit_before  # nothing happened
    assert "テスト win" in client.get("/").get_data(as_text=True)  # and still logged in


def test_no_get_route_changes_state(world, as_user, read):
    started = start_case(world)
    client = as_user("win")
    with read() as s:
        before = [(t.status, t.assignee_id) for t in s.scalars(select(HumanTask))]
    for rule, _ in _routes(world.app, {"GET"}):
        if rule.endpoint != "static":
            client.get(_url(rule).replace("/1", f"/{started.open_tasks[0].id}"))
    with read() as s:
        assert [(t.status, t.assignee_id) for t in s.scalars(select(HumanTask))] == before
        assert s.scalar(select(func.count()).select_from(Case)) == 1


@pytest.mark.parametrize(
    "path",
    ["/login", "/", "/intake", "/cases/1", "/tasks/1", "/api/v1/health", "/api/v1/tasks", "/no-such-page"],
)
def test_security_headers_on_every_response(world, as_user, path):
    start_case(world)
    response = as_user("win").get(path)
    csp = response.headers["Content-Security-Policy"]
    assert "script-src 'self'" in csp and "unsafe-inline" not in csp
    assert "object-src 'none'" in csp and "base-uri 'none'" in csp and "frame-ancestors 'none'" in csp
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "same-origin"
    assert response.headers["Cache-Control"] == "no-store"


def test_static_files_may_be_cached_but_case_pages_may_not(world, as_user):
    started = start_case(world)
    client = as_user("win")
    assert client.get(f"/cases/{started.case_id}").headers["Cache-Control"] == "no-store"
    assert client.get(f"/tasks/{started.open_tasks[0].id}").headers["Cache-Control"] == "no-store"
    assert client.get("/static/js/form-rows.js").headers.get("Cache-Control") != "no-store"


def test_no_inline_script_or_style_in_any_page(world, as_user):
    started = start_case(world)
    client = as_user("win")
    for path in ["/", "/intake", f"/cases/{started.case_id}", f"/tasks/{started.open_tasks[0].id}"]:
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", html), path
        assert "<style" not in html and " style=" not in html, path
        assert not re.search(r"\son[a-z]+=", html), path


XSS = [
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "＜script＞alert(1)＜/script＞",
    "javascript:alert(1)",
    "'><svg/onload=alert(1)>",
    "{{7*7}}",
]


def test_xss_payloads_in_every_text_field_render_escaped(world, as_user, engine):
    payload = " ".join(XSS)
    client = as_user("win")
    token = csrf(client, "/intake")
    response = client.post(
        "/intake",
        data={
            "csrf_token": token,
            "process": "referral_test",
            "subject_name": XSS[1][:60],
            "subject_kana": XSS[0],
            "urgency": "low",
            "narrative": payload,
            "household.0.name": XSS[4],
            "household.0.relation": XSS[0],
            "household.0.age": "3",
        },
    )
    assert response.status_code == 302
    task_url = response.headers["Location"]
    token = csrf(client, task_url)
    client.post(
        task_url, data={"csrf_token": token, "_action": "complete", "action": "refer", "note": payload}
    )
    case_id = int(re.search(r"/cases/(\d+)", client.get(task_url).get_data(as_text=True)).group(1))
    pages = ["/", f"/cases/{case_id}", task_url, "/?view=claimable"]
    coord = as_user("coord")
    for path in pages:
        for c in (client, coord):
            html = c.get(path).get_data(as_text=True)
            assert "<script>alert" not in html and "<img src=x" not in html and "<svg/onload" not in html, (
                path
            )
            assert "onerror=alert(1)>" not in html.replace("onerror=alert(1)&gt;", ""), path
    case_page = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in case_page
    assert "{{7*7}}" in case_page and "49" not in case_page.split("{{7*7}}")[0][-5:]


def test_designer_supplied_names_are_escaped_in_the_diagram_and_lists(world, as_user, write):
    from tests.support.bpmn_builder import ProcessBuilder

    b = ProcessBuilder("xss_proc", "<script>alert('p')</script>")
    b.start("start", "<img src=x onerror=alert('s')>", form="intake")
    b.user("step", "<script>alert('t')</script>", form="note", assignee="starter")
    b.end("end", "終了")
    b.lane("窓口", "start", "step", "end")
    b.flow("start", "step", name="<b onmouseover=alert(1)>")
    b.flow("step", "end")
    roles = b"lanes:\n  \xe7\xaa\x93\xe5\x8f\xa3: window\nroles:\n  window: {agency: intake}\n"
    with write() as s:
        factories.deploy(world.engine(), s, {"xss.bpmn": b.xml().encode(), "roles.yaml": roles})
    result = start_case(world, process_id="xss_proc")
    client = as_user("win")
    for path in [
        f"/cases/{result.case_id}",
        f"/tasks/{result.open_tasks[0].id}",
        "/",
        "/intake?process=xss_proc",
    ]:
        html = client.get(path).get_data(as_text=True)
        assert "<script>alert(" not in html and "<img src=x" not in html and "<b onmouseover" not in html, (
            path
        )
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in client.get("/").get_data(as_text=True)


def test_ids_too_large_for_the_database_are_404_not_500(world, as_user, api):
    started = start_case(world)
    client, token = as_user("win"), api("win")
    huge = 10**20
    for path in (f"/cases/{huge}", f"/tasks/{huge}", f"/cases/{2**31}"):
        response = client.get(path)
        assert response.status_code == 404 and "見つかりません" in response.get_data(as_text=True), path
    assert token.get(f"/tasks/{huge}").status_code == 404
    assert token.post(f"/tasks/{huge}/complete", {"action": "refer"}).status_code == 404
    assert client.get(f"/cases/{started.case_id}").status_code == 200  # ordinary ids still match


def test_nul_characters_in_queries_and_posts_are_refused_before_any_query(world, as_user, read):
    client = as_user("win")
    for path in ("/?step=%00", "/?case=a%00b", "/api/v1/tasks?view=mine%00"):
        response = client.get(path)
        assert response.status_code == 400, path
    login_page = world.app.test_client()
    token = csrf(login_page)
    refused = login_page.post("/login", data={"username": "win\x00", "password": "x", "csrf_token": token})
    assert refused.status_code == 400 and "リクエストが正しくありません" in refused.get_data(as_text=True)
    with read() as s:
        from engine.models import LoginAttempt
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 0


def _latest_event(read, action: str) -> AuditEvent:  # type: ignore[no-untyped-def]
    with read() as s:
        return s.scalars(select(AuditEvent).where(AuditEvent.action == action)
                         .order_by(AuditEvent.id.desc())).first()


def test_audit_events_record_the_client_address_and_ignore_a_forged_forwarded_header(world, read):
    """Without a trusted proxy (the default) the address is the connection's peer: an X-Forwarded-For
    sent by the client itself is not believed."""
    from tests.web.conftest import login

    client = world.app.test_client()
    response = login(client, "win")  # the test client connects from 127.0.0.1
    assert response.status_code == 302
    assert _latest_event(read, "auth.login").client_ip == "127.0.0.1"
    client.get("/", headers={"X-Forwarded-For": "203.0.113.66"})
    with read() as s:
        addresses = set(s.scalars(select(AuditEvent.client_ip).where(AuditEvent.username == "win")))
    assert addresses == {"127.0.0.1"}


def test_behind_a_trusted_proxy_the_forwarded_client_address_is_recorded(db, write, read):
    from tests.web.conftest import make_app

    app = make_app(db, trusted_proxies=1)
    with write() as s:
        factories.actor(s, "window", "AG-WIN", "win")
    client = app.test_client()
    token = csrf(client)
    form = {"username": "win", "password": factories.PASSWORD, "csrf_token": token}
    response = client.post("/login", data=form, headers={"X-Forwarded-For": "198.51.100.23"})
    assert response.status_code == 302
    assert _latest_event(read, "auth.login").client_ip == "198.51.100.23"
