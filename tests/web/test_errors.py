"""web.errors: engine errors become statuses and Japanese messages; nobody sees a traceback or a bare 500."""

from __future__ import annotations

import logging
from datetime import UTC, datetime

from engine import policy
from engine.errors import Conflict, Invalid, NotAllowed, NotFound, ProcessError
from tests.web.conftest import login, make_app
from web import errors


def test_status_and_message_for_each_engine_error():
    at = datetime(2026, 11, 24, 1, 5, tzinfo=UTC)
    assert errors.status_for(NotFound()) == 404 and errors.status_for(NotAllowed()) == 403
    assert errors.status_for(Invalid({})) == 422 and errors.status_for(ProcessError("x")) == 409
    assert (
        errors.message_for(Conflict(by="山田", at=at, reason="completed"))
        == "このタスクは既に山田さんが2026年11月24日 10:05に完了しています。"
    )
    assert (
        errors.message_for(Conflict(by="山田", at=at, reason="claimed"))
        == "このタスクは山田さんが2026年11月24日 10:05に引き受けています。"
    )
    assert "入力は保存されていません" in errors.message_for(ProcessError("no gateway matched"))


def _broken_app(db, world, monkeypatch):  # type: ignore[no-untyped-def]
    app = make_app(db)
    for endpoint in ("boom", "api_boom"):  # test-only routes need a policy entry like every route
        monkeypatch.setitem(policy.matrix().routes, endpoint, "authenticated")

    def explode():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret 山田 花子 data")

    app.add_url_rule("/boom", "boom", explode)
    app.add_url_rule("/api/v1/boom", "api_boom", explode)
    return app


def test_an_unexpected_error_is_a_japanese_page_with_a_reference_and_no_details(
    db, world, caplog, monkeypatch
):
    client = _broken_app(db, world, monkeypatch).test_client()
    login(client, "win")
    with caplog.at_level(logging.ERROR):
        response = client.get("/boom")
    html = response.get_data(as_text=True)
    assert response.status_code == 500 and "システムエラーが発生しました" in html
    request_id = response.headers["X-Request-Id"]
    assert request_id and f"受付番号 {request_id}" in html
    assert "Traceback" not in html and "山田" not in html and "RuntimeError" not in html
    assert "山田" not in caplog.text and request_id in caplog.text  # the log names the request, not the data


def test_an_unexpected_api_error_is_problem_json(db, world, monkeypatch):
    client = _broken_app(db, world, monkeypatch).test_client()
    login(client, "win")
    response = client.get("/api/v1/boom")
    assert response.status_code == 500 and response.mimetype == "application/problem+json"
    assert response.json["code"] == "internal_error" and "山田" not in response.get_data(as_text=True)


def test_unknown_pages_are_404_in_japanese(as_user):
    response = as_user("win").get("/nowhere")
    assert response.status_code == 404 and "見つかりません" in response.get_data(as_text=True)
    api = as_user("win").get("/api/v1/nowhere")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"


def test_method_not_allowed_is_405_in_japanese(as_user):
    client = as_user("win")
    response = client.get("/logout")
    assert response.status_code == 405 and "この操作はできません" in response.get_data(as_text=True)
    assert "テスト win" in client.get("/").get_data(as_text=True)  # still logged in: GET changed nothing
