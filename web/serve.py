"""``tsunagu serve``: gunicorn (threaded workers) around ``create_app``, plus the in-process scheduler.

The scheduler, when enabled, runs in gunicorn's master process (never in the forked workers), and a
database lease makes any second scheduler wait (see docs/operations.md).
"""

from __future__ import annotations

from typing import Any

from gunicorn.app.base import BaseApplication

from engine.settings import EngineSettings


class _Server(BaseApplication):  # type: ignore[misc]
    def __init__(self, settings: EngineSettings, options: dict[str, Any], scheduler: bool) -> None:
        self.settings, self.options, self.scheduler = settings, options, scheduler
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)
        if self.scheduler:
            self.cfg.set("when_ready", self._start_scheduler)

    def _start_scheduler(self, _arbiter: Any) -> None:
        try:
            from engine.scheduling.service import start_background
        except ImportError:  # the scheduler is not installed in this build
            return
        start_background(self.settings)

    def load(self):  # type: ignore[no-untyped-def]
        from . import create_app
        return create_app(self.settings)


def run(settings: EngineSettings, host: str, port: int, workers: int, scheduler: bool) -> None:
    options = {"bind": f"{host}:{port}", "workers": workers, "worker_class": "gthread", "threads": 8,
               "timeout": 60, "graceful_timeout": 20, "accesslog": "-",
               "access_log_format": '%(h)s "%(m)s %(U)s" %(s)s %(b)s %(L)ss', "errorlog": "-"}
    print(f"つなぐ serving at http://{host}:{port}", flush=True)
    _Server(settings, options, scheduler).run()
