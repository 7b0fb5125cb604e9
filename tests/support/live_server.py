"""A real HTTP server for tests: the app in a background thread, or gunicorn in a child process.

``threaded(app)`` serves a Flask app with Werkzeug's threaded server on a free loopback port (the
browser tests); ``gunicorn(env)`` runs ``tsunagu serve``'s production server against a database
URL (the concurrency tests and the HTTP benchmark) and waits until /api/v1/health answers.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def threaded(app: Any) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(timeout=10)


def wait_healthy(url: str, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/v1/health", timeout=2) as response:  # noqa: S310 - loopback
                if response.status == 200:
                    return
        except OSError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"server at {url} did not become healthy")
        time.sleep(0.1)


@contextmanager
def gunicorn(env: dict[str, str], workers: int = 2, scheduler: bool = False) -> Iterator[str]:
    """``tsunagu serve`` (gunicorn, gthread workers of 8 threads; the in-process scheduler only when
    ``scheduler``) with ``env`` added to this process's environment minus its ``TSUNAGU_*`` settings."""
    port = free_port()
    inherited = {k: v for k, v in os.environ.items()
                 if not k.startswith("TSUNAGU_") or k == "TSUNAGU_AUDIT_KEY"}
    full_env = {**inherited, "TSUNAGU_SECURE_COOKIES": "false", **env}
    command = [
        sys.executable,
        "-m",
        "web.cli",
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        str(workers),
        *([] if scheduler else ["--no-scheduler"]),
    ]
    process = subprocess.Popen(
        command,
        cwd=ROOT,
        env=full_env,
        stdout=subprocess.DEVNULL,  # noqa: S603
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_healthy(url)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
