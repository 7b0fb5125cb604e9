"""Login, logout, session cookie flags (both settings), idle timeout, throttling, safe redirects."""

from __future__ import annotations

import time

from sqlalchemy import func, select

from engine.models import AuditEvent, LoginAttempt
from tests.support import factories
from tests.web.conftest import csrf, login, make_app


def test_login_page_is_public_and_in_japanese(world):
    page = world.app.test_client().get("/login")
    text = page.get_data(as_text=True)
    assert page.status_code == 200 and "ログイン" in text and 'lang="ja"' in text
    assert 'name="csrf_token"' in text


def test_login_opens_the_inbox_and_records_an_audit_event(world, read):
    client = world.app.test_client()
    response = login(client, "win")
    assert response.status_code == 302 and response.headers["Location"] == "/"
    assert "テスト win" in client.get("/").get_data(as_text=True)
    with read() as s:
        assert (
            s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "auth.login"))
            == 1
        )


def test_wrong_password_says_so_without_naming_which_part_was_wrong(world, read):
    client = world.app.test_client()
    response = login(client, "win", "not-the-password")
    text = response.get_data(as_text=True)
    assert response.status_code == 401 and "ユーザー名またはパスワードが正しくありません" in text
    assert 'value="win"' in text  # the username stays typed
    with read() as s:
        assert s.scalar(select(func.count()).select_from(LoginAttempt)) == 1


def test_refused_logins_are_audit_events_with_the_client_address(world, read):
    """A failed login is a refused ``auth.login`` event (ASVS: every authentication decision is logged),
    with the account's username — or 「(不明)」 when no account has it, since that may be a password
    typed into the wrong field — the reason and the client's address."""
    client = world.app.test_client()
    login(client, "win", "not-the-password")
    login(client, "my-secret-password-typed-here", "x")
    for _ in range(10):
        login(client, "win2", "wrong-password-x")
    with read() as s:
        refused = s.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login",
                                                     AuditEvent.allowed.is_(False)).order_by(AuditEvent.id)).all()
    assert [(e.username, e.detail["reason"], e.client_ip, e.role, e.user_id) for e in refused[:2]] == [
        ("win", "invalid", "127.0.0.1", "", None), ("(不明)", "invalid", "127.0.0.1", "", None)]
    assert [e.detail["reason"] for e in refused[2:]] == ["invalid"] * 10  # the tenth failure is counted
    login(client, "win2")  # the right password, now throttled
    with read() as s:
        last = s.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
    assert (last.action, last.allowed, last.username, last.detail) == (
        "auth.login", False, "win2", {"reason": "throttled"})
    assert all("my-secret-password" not in e.username for e in refused)


def test_ten_failures_throttle_even_the_right_password(world):
    client = world.app.test_client()
    for _ in range(10):
        login(client, "win", "wrong-password-x")
    response = login(client, "win")
    assert response.status_code == 401 and "しばらくログインできません" in response.get_data(as_text=True)


def test_session_cookie_is_httponly_samesite_and_not_secure_for_plain_http_development(world):
    client = world.app.test_client()
    response = login(client, "win")
    cookie = response.headers["Set-Cookie"]
    assert cookie.startswith("tsunagu=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie


def test_secure_setting_gives_a_host_prefixed_secure_cookie_over_https(db, world):
    app = make_app(db, secure=True)
    client = app.test_client()
    page = client.get("/login", base_url="https://localhost").get_data(as_text=True)
    token = page.split('name="csrf_token" value="')[1].split('"')[0]
    response = client.post(
        "/login",
        base_url="https://localhost",
        data={"username": "win", "password": factories.PASSWORD, "csrf_token": token},
    )
    cookie = response.headers["Set-Cookie"]
    assert response.status_code == 302
    assert cookie.startswith("__Host-tsunagu=") and "Secure" in cookie and "HttpOnly" in cookie
    assert "Path=/" in cookie and "Domain" not in cookie
    home = client.get("/", base_url="https://localhost")
    assert "テスト win" in home.get_data(as_text=True)
    assert home.headers["Strict-Transport-Security"].startswith("max-age=31536000")


def test_a_new_session_at_login(world):
    client = world.app.test_client()
    client.get("/login")
    with client.session_transaction() as sess:
        sess["planted"] = "by-an-attacker"
    login(client, "win")
    with client.session_transaction() as sess:
        assert "planted" not in sess and sess["uid"] == world.people["win"].user_id


def test_idle_timeout_logs_out_with_a_message(as_user):
    client = as_user("win")
    with client.session_transaction() as sess:
        sess["seen"] = time.time() - 16 * 60
    response = client.get("/")
    assert response.status_code == 302 and response.headers["Location"].startswith("/login")
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "一定時間操作がなかったため、ログアウトしました" in page
    with client.session_transaction() as sess:
        assert "uid" not in sess


def test_absolute_lifetime_ends_the_session(as_user):
    client = as_user("win")
    with client.session_transaction() as sess:
        sess["login"] = time.time() - 9 * 3600
    assert client.get("/").status_code == 302


def test_logout_ends_the_session_and_needs_csrf(as_user):
    client = as_user("win")
    refused = client.post("/logout")
    assert refused.status_code == 400 and client.get("/").status_code == 200
    token = csrf(client, "/")
    response = client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.headers["Location"] == "/login"
    assert client.get("/").status_code == 302


def test_next_parameter_only_redirects_inside_the_site(world):
    client = world.app.test_client()
    token = csrf(client)
    outside = client.post(
        "/login",
        data={
            "username": "win",
            "password": factories.PASSWORD,
            "csrf_token": token,
            "next": "https://evil.example/",
        },
    )
    assert outside.headers["Location"] == "/"
    client = world.app.test_client()
    token = csrf(client)
    inside = client.post(
        "/login",
        data={"username": "win", "password": factories.PASSWORD, "csrf_token": token, "next": "/intake"},
    )
    assert inside.headers["Location"] == "/intake"


def test_a_page_asked_for_before_login_comes_back_after_it(world):
    client = world.app.test_client()
    response = client.get("/intake")
    assert response.status_code == 302 and "next=/intake" in response.headers["Location"]
