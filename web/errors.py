"""The one place engine errors become HTTP statuses and Japanese messages.

Pages get an error page (or, for form posts, the handler re-renders the form with the messages);
``/api/`` gets ``application/problem+json``. Unexpected exceptions are logged with the request id
only (no task data, no personal data) and answered 500 without a traceback; a database that does not
answer gives 503 with ``Retry-After``.
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import Flask, Response, g, jsonify, render_template, request
from sqlalchemy.exc import OperationalError
from werkzeug.exceptions import HTTPException

from engine import clock
from engine.errors import Conflict, DefinitionError, EngineError, Invalid, NotAllowed, NotFound, ProcessError

log = logging.getLogger("tsunagu.web")

STATUS = {NotFound: 404, NotAllowed: 403, Conflict: 409, Invalid: 422, ProcessError: 409,
          DefinitionError: 422}
TITLES = {
    404: "見つかりません", 403: "権限がありません", 409: "他の操作と競合しました",
    422: "入力内容を確認してください", 400: "リクエストが正しくありません", 401: "ログインが必要です",
    405: "この操作はできません", 413: "送信データが大きすぎます", 415: "形式が対応していません",
    429: "しばらく待ってから再度お試しください",
    500: "システムエラーが発生しました", 503: "ただいま処理できません",
}


def local_time(value: datetime | None) -> str:
    if value is None:
        return ""
    return clock.ensure_utc(value).astimezone(clock.TOKYO).strftime("%Y年%m月%d日 %H:%M")


def conflict_message(exc: Conflict) -> str:
    who = f"{exc.by}さん" if exc.by else "他の職員"
    when = local_time(exc.at)
    if exc.reason == "completed":
        return f"このタスクは既に{who}が{when}に完了しています。" if when else \
            f"このタスクは既に{who}が完了しています。"
    if exc.reason == "claimed":
        return f"このタスクは{who}が{when}に引き受けています。" if when else \
            f"このタスクは{who}が引き受けています。"
    if exc.reason in ("cancelled", "gone", "not_ready"):
        return "このタスクは既に終了しています（ケースが先に進みました）。"
    if exc.reason == "stale":
        return "他の職員が同時にこのケースを更新しました。画面を開き直してください。"
    return "他の操作と競合しました。画面を開き直してください。"


MESSAGES: list[tuple[type[EngineError], str]] = [
    (NotFound, "お探しのケースまたはタスクは見つかりません。"),
    (NotAllowed, "この操作を行う権限がありません。"),
    (Invalid, "入力内容に誤りがあります。各項目のメッセージを確認してください。"),
    (ProcessError, "ケースを次の段階へ進められませんでした。入力は保存されていません。"
                   "管理者に連絡してください。"),
    (DefinitionError, "プロセス定義に問題があります。"),
]


def message_for(exc: EngineError) -> str:
    if isinstance(exc, Conflict):
        return conflict_message(exc)
    return next((text for cls, text in MESSAGES if isinstance(exc, cls)), "処理できませんでした。")


def status_for(exc: EngineError) -> int:
    for cls, status in STATUS.items():
        if isinstance(exc, cls):
            return status
    return 400


def wants_json() -> bool:
    return request.path.startswith("/api/")


def problem(status: int, detail: str, code: str, **extra: Any) -> Response:
    body = {"type": f"https://tsunagu.example/problems/{code}", "title": TITLES.get(status, "エラー"),
            "status": status, "detail": detail, "code": code, "request_id": g.get("request_id", "")}
    body.update({k: v for k, v in extra.items() if v is not None})
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def engine_error_response(exc: EngineError) -> Response | tuple[str, int]:
    status = status_for(exc)
    extra: dict[str, Any] = {}
    if isinstance(exc, Invalid):
        extra["errors"] = exc.errors
    if isinstance(exc, Conflict):
        extra["conflict"] = {"by": exc.by, "at": exc.at.isoformat() if exc.at else None, "reason": exc.reason}
    if isinstance(exc, ProcessError):
        extra["element_id"] = exc.element_id
    if isinstance(exc, DefinitionError):
        extra["problems"] = [{"file": p.file, "line": p.line, "element_id": p.element_id, "reason": p.reason}
                             for p in exc.problems]
    if wants_json():
        return problem(status, message_for(exc), exc.code, **extra)
    return render_template("error.html", status=status, title=TITLES.get(status, "エラー"),
                           message=message_for(exc)), status


def _http_error(exc: HTTPException) -> Response | tuple[str, int]:
    status = exc.code or 500
    detail = TITLES.get(status, exc.name)
    if status == 400 and "CSRF" in (exc.description or ""):
        detail = "画面の有効期限が切れたか、不正な送信です。画面を開き直してください。"
    if wants_json():
        response = problem(status, detail, exc.name.lower().replace(" ", "_"))
        if status == 401:
            response.headers["WWW-Authenticate"] = 'Bearer realm="tsunagu"'
        return response
    return render_template("error.html", status=status, title=TITLES.get(status, exc.name),
                           message=detail), status


def _unexpected(exc: Exception) -> Response | tuple[str, int]:
    if isinstance(exc, HTTPException):
        return _http_error(exc)
    if isinstance(exc, OperationalError):
        log.error("database unavailable request_id=%s error=%s", g.get("request_id", ""), type(exc).__name__)
        status, detail = 503, "データベースに接続できません。しばらく待ってから再度お試しください。"
    else:
        log.error("unexpected error request_id=%s error=%s", g.get("request_id", ""), type(exc).__name__,
                  exc_info=False)
        status = 500
        detail = (f"システムエラーが発生しました。お問い合わせの際は受付番号 {g.get('request_id', '')} "
                  "をお伝えください。")
    if wants_json():
        response = problem(status, detail, "unavailable" if status == 503 else "internal_error")
    else:
        page = render_template("error.html", status=status, title=TITLES[status], message=detail)
        response = Response(page, status=status)
    if status == 503:
        response.headers["Retry-After"] = "30"
    return response


def init_errors(app: Flask) -> None:
    app.register_error_handler(EngineError, engine_error_response)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected)
