"""HTTP benchmark: median ms per task completion over HTTP on loopback against the production server.

Method (docs/performance.md): ``tsunagu serve`` (gunicorn, gthread workers) on a fresh SQLite file;
N cases walk the 10-step test process through the JSON API with bearer tokens, one keep-alive
connection per client role. Each completion is timed on the client from sending
``POST /api/v1/tasks/{id}/complete`` to reading the whole response (parse, auth, lock, validate, run,
project, serialise, audit, commit, JSON). The first tenth of the timings is dropped as warm-up.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import tempfile
import time
from typing import Any

from engine import definitions, users
from engine.actor import SYSTEM
from engine.core import build_engine
from engine.db import make_engine, make_session_factory, transaction
from engine.formdefs import load_forms
from engine.migrate import upgrade
from engine.settings import load_settings
from tests.support import factories
from tests.support.live_server import gunicorn
from tests.support.referral10 import FORMS_DIR, referral_files

N_CASES = int(os.environ.get("BENCH_HTTP_CASES", "30"))
BODIES = {
    "window_response": {"action": "refer", "note": "窓口で聞き取り"},
    "note": {"note": "記録"},
    "decision": {"result": "approve", "csw": "bench_csw"},
}
INTAKE = {"subject_name": "試験 太郎", "urgency": "low", "narrative": "ベンチマークの相談内容"}


class Client:
    """One keep-alive connection with a bearer token."""

    def __init__(self, url: str, token: str) -> None:
        host, port = url.removeprefix("http://").split(":")
        self.conn = http.client.HTTPConnection(host, int(port), timeout=60)
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    def post(self, path: str, body: dict[str, Any]) -> tuple[int, Any]:
        self.conn.request("POST", path, body=json.dumps(body).encode(), headers=self.headers)
        response = self.conn.getresponse()
        return response.status, json.loads(response.read())


def _setup(url: str) -> dict[str, str]:
    settings = load_settings({}, database_url=url, forms_dir=str(FORMS_DIR))
    forms, _ = load_forms(FORMS_DIR)
    eng = build_engine(settings, forms)
    db = make_engine(url)
    upgrade(db)
    tokens = {}
    with transaction(make_session_factory(db), write=True) as s:
        for role in ("window", "coordinator", "csw"):
            factories.actor(s, role, "AG-" + role.upper(), f"bench_{role}")
            tokens[role] = users.create_api_token(s, f"bench_{role}")
        definitions.deploy_bundle(eng, s, SYSTEM, referral_files())
    db.dispose()
    return tokens


def _walk(clients: dict[str, Client], timings: list[float]) -> None:
    status, started = clients["window"].post("/api/v1/cases", INTAKE)
    if status != 201:
        raise RuntimeError(f"start failed: {status} {started}")
    open_tasks = started["open_tasks"]
    while open_tasks:
        task = open_tasks[0]
        t0 = time.perf_counter()
        status, body = clients[task["role"]].post(
            f"/api/v1/tasks/{task['id']}/complete", BODIES[task["form_key"]]
        )
        timings.append((time.perf_counter() - t0) * 1000)
        if status != 200:
            raise RuntimeError(f"completion failed: {status} {body}")
        open_tasks = body["open_tasks"]


def completion_ms(workers: int = 2) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{tmp}/bench_http.db"
        tokens = _setup(url)
        env = {
            "TSUNAGU_DATABASE_URL": url,
            "TSUNAGU_FORMS_DIR": str(FORMS_DIR),
            "TSUNAGU_SECRET_KEY": "bench-secret",
            "TSUNAGU_LOG_LEVEL": "WARNING",
        }
        with gunicorn(env, workers=workers) as base:
            clients = {role: Client(base, token) for role, token in tokens.items()}
            timings: list[float] = []
            for _ in range(N_CASES):
                _walk(clients, timings)
    return statistics.median(timings[len(timings) // 10 :])


def run() -> dict[str, tuple[float, str]]:
    users.use_hasher(users.PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    return {"http_completion_ms": (completion_ms(), "ms")}


if __name__ == "__main__":
    for key, (value, unit) in run().items():
        print(f"bench {key} {value:.3f} {unit}")
