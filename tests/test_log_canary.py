"""No personal data in logs: canary names, consultation text and a 12-digit number planted in fixtures
appear in no log record of the whole test run (reliability S7).

This module runs last (tests/support/log_capture.py orders it). It first drives the canaries through the
engine and the web app — intake, validation errors, a refused read, completion, consent, an unexpected
server error — and then scans everything the run logged (plus any ``*.log`` file the run left in the
instance directory or the pytest temp directory). The fixture values the factories plant in every other
test are scanned too.
"""

from __future__ import annotations

import logging
from pathlib import Path

from engine import policy
from engine.db import make_session_factory, transaction
from tests.support import factories
from tests.support.log_capture import captured
from tests.support.referral10 import referral_files
from tests.web.conftest import csrf, login, make_app
from web.state import state

CANARY_NAME = "鳥羽 カナリア子"
CANARY_TEXT = "カナリア相談：夫の借金と母の介護で眠れない"
CANARY_NUMBER = "987654321098"
FIXTURE_VALUES = ("試験 太郎", "テストの相談内容")  # tests/support/factories.py: planted in most tests
ROOT = Path(__file__).resolve().parent.parent
MARKER = "log-canary capture marker"


def plant(db, write, monkeypatch) -> None:
    app = make_app(db)
    monkeypatch.setitem(policy.matrix().routes, "boom", "authenticated")  # test-only route, like every route

    @app.get("/boom")
    def boom():  # an unexpected error whose message carries personal data
        raise RuntimeError(f"{CANARY_NAME} {CANARY_TEXT} {CANARY_NUMBER}")

    with app.app_context():
        engine = state().engine
    with write() as s:
        factories.actor(s, "window", "AG-WIN", "win")
        factories.actor(s, "window", "AG-OTHER", "other")
        factories.deploy(engine, s, referral_files())
    client = app.test_client()
    login(client, "win")
    token = csrf(client, "/intake")
    bad = client.post("/intake", data={"csrf_token": token, "subject_name": CANARY_NAME, "urgency": "never",
                                       "narrative": CANARY_TEXT, "phone": CANARY_NUMBER})
    assert bad.status_code in (400, 422)
    started = client.post("/intake", data={"csrf_token": token, "subject_name": CANARY_NAME,
                                           "urgency": "high",
                                           "narrative": f"{CANARY_TEXT} {CANARY_NUMBER}"})
    assert started.status_code == 302
    task_url = started.headers["Location"]
    assert client.get(task_url).status_code == 200
    assert client.post(task_url, data={"csrf_token": csrf(client, task_url), "_action": "complete",
                                       "action": CANARY_TEXT}).status_code == 422
    assert client.post(task_url, data={"csrf_token": csrf(client, task_url), "_action": "complete",
                                       "action": "refer", "note": CANARY_TEXT}).status_code == 302
    other = app.test_client()
    login(other, "other")
    assert other.get(task_url).status_code == 404
    assert other.get(f"/?view=mine&case={CANARY_NAME}").status_code == 200
    assert app.test_client().post("/login", data={"username": CANARY_NAME,
                                                  "password": CANARY_NUMBER}).status_code \
        in (400, 401)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # answer 500 as in production instead of raising into the test
    assert client.get("/boom").status_code == 500
    with app.app_context(), transaction(make_session_factory(state().db)) as s:
        from engine import audit
        assert audit.verify(s).ok


def log_files(tmp_path_factory) -> list[Path]:
    files = list((ROOT / "instance").glob("**/*.log"))
    files += list(Path(tmp_path_factory.getbasetemp()).glob("**/*.log"))
    return [f for f in files if f.is_file()]


def test_no_canary_reaches_any_log(db, write, request, tmp_path_factory, monkeypatch):
    plant(db, write, monkeypatch)
    logging.getLogger("tsunagu.test").info(MARKER)
    text = captured(request.config)
    assert MARKER in text, "the whole-run log capture is not working"
    texts = {"whole test run": text}
    texts.update({str(f): f.read_text(encoding="utf-8",
                                      errors="replace") for f in log_files(tmp_path_factory)})
    canaries = (CANARY_NAME, CANARY_TEXT, CANARY_NUMBER, *FIXTURE_VALUES)
    found = {(where, c) for where, body in texts.items() for c in canaries if c in body}
    assert not found, f"personal data in logs: {sorted(found)}"
    assert "unexpected error request_id=" in text  # the 500 above was logged, without its message
