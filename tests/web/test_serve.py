"""The production server (``tsunagu serve``: gunicorn, threaded workers) over real HTTP on loopback:
30 simultaneous completions of one task give one 200 and twenty-nine 409, never a 5xx — on the
database of this test run (SQLite by default, PostgreSQL with TSUNAGU_TEST_BACKEND=postgresql)."""

from __future__ import annotations

import http.client
import json
import threading
from collections import Counter
from urllib.parse import urlsplit

from sqlalchemy import func, select

from engine import users
from engine.models import AuditEvent, FormRecord, HumanTask
from tests.support.live_server import gunicorn
from tests.support.referral10 import FORMS_DIR
from tests.web.conftest import start_case

N = 30


def _post(url: str, path: str, token: str, body: dict) -> tuple[int, dict]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=120)
    try:
        conn.request(
            "POST",
            path,
            body=json.dumps(body).encode(),
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def server_env(db) -> dict[str, str]:  # type: ignore[no-untyped-def]
    return {
        "TSUNAGU_DATABASE_URL": db.url,
        "TSUNAGU_FORMS_DIR": str(FORMS_DIR),
        "TSUNAGU_SECRET_KEY": "test-secret",
    }


def test_thirty_simultaneous_completions_one_wins_the_rest_get_409(db, world, write, read):
    started = start_case(world)
    task_id = started.open_tasks[0].id
    with write() as s:
        tokens = [users.create_api_token(s, "win") for _ in range(N)]
    with read() as s:
        audit_before = s.scalar(select(func.count()).select_from(AuditEvent))
    results: list[tuple[int, dict]] = []
    lock = threading.Lock()
    with gunicorn(server_env(db)) as url:
        barrier = threading.Barrier(N)

        def worker(i: int) -> None:
            barrier.wait()
            outcome = _post(
                url, f"/api/v1/tasks/{task_id}/complete", tokens[i], {"action": "refer", "note": f"#{i}"}
            )
            with lock:
                results.append(outcome)

        threads = [threading.Thread(target=worker, args=(i,)) for i in range(N)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=180)
    statuses = Counter(status for status, _ in results)
    assert statuses == {200: 1, 409: N - 1}, statuses
    losers = [body for status, body in results if status == 409]
    assert all(b["conflict"]["by"] == "テスト win" and b["conflict"]["reason"] == "completed" for b in losers)
    with read() as s:
        assert s.get(HumanTask, task_id).status == "completed"
        assert (
            s.scalar(select(func.count()).select_from(FormRecord).where(FormRecord.human_task_id == task_id))
            == 1
        )
        assert s.scalar(select(func.count()).select_from(HumanTask).where(HumanTask.status == "open")) == 1
        assert (
            s.scalar(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "task.complete"))
            - 0
            == 1
        )
        assert s.scalar(select(func.count()).select_from(AuditEvent)) > audit_before
