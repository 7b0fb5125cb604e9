"""The scheduler service: APScheduler as a clock over due times stored in the database.

Four interval jobs with explicit ids — ``tsunagu.lease`` (take or renew the lease), ``tsunagu.timers``
(:mod:`.timers`), ``tsunagu.escalations`` (:mod:`.escalation`) and ``tsunagu.dispatch``
(:mod:`.dispatch`) — each with ``coalesce=True``, ``max_instances=1``, ``replace_existing=True`` and a
misfire grace of two intervals. The jobs hold no state of their own: every run reads what is due from
the database, so a run that was missed, or a process that was down, is simply caught up by the next
run. The sweep jobs do nothing unless this instance holds the lease (:mod:`.lease`).

* :func:`start_background` — ``tsunagu serve`` calls it in gunicorn's master process
  (single-machine default).
* :func:`run_foreground` — ``tsunagu scheduler``: its own process for deployments with several web
  workers or hosts; it waits while another scheduler holds the lease. ``once=True`` waits for the
  lease, runs every job once and exits.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.interval import IntervalTrigger

from ..core import Engine, build_engine
from ..db import make_engine, make_session_factory
from ..settings import EngineSettings
from . import dispatch, escalation, timers
from .lease import Lease

log = logging.getLogger("tsunagu.scheduler")

SWEEP_JOBS = ("tsunagu.timers", "tsunagu.escalations", "tsunagu.dispatch")
_running: list[Scheduler] = []


class Scheduler:
    """One scheduler instance: its database handle, its engine, its lease and its jobs."""

    def __init__(
        self,
        settings: EngineSettings,
        *,
        engine: Engine | None = None,
        db_engine: Any = None,
        holder: str | None = None,
        batch: int | None = None,
    ) -> None:
        self.settings = settings
        self.db = db_engine or make_engine(settings.database_url)
        self.sessions = make_session_factory(self.db)
        self.engine = engine or build_engine(settings)
        self.lease = Lease(self.sessions, settings.scheduler_lease_seconds, holder)
        self.batch = batch
        self.interval = max(1, settings.scheduler_interval_seconds)
        self.stats: Counter[str] = Counter()
        self._stopping = threading.Event()
        self._aps: BaseScheduler | None = None
        # Held by every job while it uses the database, and by a fork of this process (see _fork_safe).
        self._gate = threading.RLock()
        self._forked = False  # True in a forked child, where stop() and the jobs do nothing

    # -- jobs -------------------------------------------------------------------------------------
    def _continue(self) -> bool:
        """Go on sweeping? Only while not stopping and holding the lease (renewed here when half used)."""
        if self._stopping.is_set() or self._forked:
            return False
        if self.lease.held() and self.lease.remaining() > self.lease.ttl / 2:
            return True
        return self.lease.held() and self.renew()

    def renew(self) -> bool:
        """Take or renew the lease; on taking it, run the sweeps at once instead of at the next tick."""
        was_held = self.lease.held()
        try:
            with self._gate:
                held = self.lease.acquire()
        except Exception as exc:  # noqa: BLE001 - the database may be down; try again next interval
            log.warning("scheduler lease check failed: %s", type(exc).__name__)
            return False
        if held and not was_held:
            log.info("scheduler lease acquired; sweeping")
            self._wake()
        return held

    def _wake(self) -> None:
        if self._aps is None or not self._aps.running:
            return
        now = datetime.now(UTC)
        for job_id in SWEEP_JOBS:
            job = self._aps.get_job(job_id)
            if job is not None:
                job.modify(next_run_time=now)

    def _guarded(self, name: str, func: Any) -> Any:
        if not self._continue():
            return None
        try:
            with self._gate:
                result = func()
        except Exception as exc:  # noqa: BLE001 - logged without data; the next run retries
            log.warning("scheduler job %s failed: %s", name, type(exc).__name__)
            self.stats[f"{name}_failed"] += 1
            return None
        self.stats[name] += 1
        return result

    def run_timers(self) -> int | None:
        kwargs = {"batch": self.batch} if self.batch else {}
        return self._guarded(
            "timers",
            lambda: timers.sweep(self.engine, self.sessions, should_continue=self._continue, **kwargs),
        )

    def run_escalations(self) -> dict[int, int] | None:
        kwargs = {"batch": self.batch} if self.batch else {}
        return self._guarded(
            "escalations",
            lambda: escalation.sweep(self.engine, self.sessions, should_continue=self._continue, **kwargs),
        )

    def run_dispatch(self) -> int | None:
        kwargs = {"batch": self.batch} if self.batch else {}
        return self._guarded(
            "dispatch",
            lambda: dispatch.sweep(self.engine, self.sessions, should_continue=self._continue, **kwargs),
        )

    def run_once(self) -> dict[str, Any]:
        """Renew the lease and, if held, run every sweep once (in order); for ``--once`` and tests."""
        if not self.renew():
            return {"held": False}
        return {
            "held": True,
            "timers": self.run_timers(),
            "escalations": self.run_escalations(),
            "dispatch": self.run_dispatch(),
        }

    # -- APScheduler ------------------------------------------------------------------------------
    def attach(self, aps: BaseScheduler) -> None:
        """Add the four jobs to ``aps`` (explicit ids, coalescing, one instance, misfire grace)."""
        self._aps = aps
        lease_every = max(1, min(self.interval, self.settings.scheduler_lease_seconds // 3 or 1))
        jobs = [
            ("tsunagu.lease", self.renew, lease_every),
            ("tsunagu.timers", self.run_timers, self.interval),
            ("tsunagu.escalations", self.run_escalations, self.interval),
            ("tsunagu.dispatch", self.run_dispatch, self.interval),
        ]
        for job_id, func, every in jobs:
            aps.add_job(
                func,
                IntervalTrigger(seconds=every, timezone=UTC),
                id=job_id,
                name=job_id,
                coalesce=True,
                max_instances=1,
                misfire_grace_time=2 * every,
                replace_existing=True,
                next_run_time=datetime.now(UTC),
            )

    def _fork_safe(self) -> None:
        """Make forks of this process (gunicorn spawning workers) safe for the database.

        A child must not inherit open SQLite connections (SQLite's per-process lock bookkeeping would
        be copied and the child's own connections could wait forever) nor use PostgreSQL sockets of
        the parent. Before a fork the hook waits for the running job to finish and closes the pooled
        connections; the child drops its copy of the pool without closing anything.
        """

        def before() -> None:
            self._gate.acquire()
            self.db.dispose()

        def after_in_child() -> None:
            # The child (a web worker) never runs this scheduler; no lock is touched here, since a
            # thread that no longer exists in the child may have held it at the fork.
            self._forked = True
            self._aps = None
            self.db.dispose(close=False)

        os.register_at_fork(before=before, after_in_parent=self._gate.release, after_in_child=after_in_child)

    def stop(self) -> None:
        if self._forked:
            return
        self._stopping.set()
        if self._aps is not None and self._aps.running:
            self._aps.shutdown(wait=False)
        try:
            self.lease.release()
        except Exception as exc:  # noqa: BLE001 - the lease then simply expires
            log.warning("could not release the scheduler lease: %s", type(exc).__name__)


def start_background(settings: EngineSettings, **kwargs: Any) -> Scheduler:
    """Run the scheduler in threads of this process (``tsunagu serve``'s master). Returns it."""
    scheduler = Scheduler(settings, **kwargs)
    scheduler._fork_safe()
    scheduler.renew()
    aps = BackgroundScheduler(timezone=UTC, daemon=True)
    scheduler.attach(aps)
    aps.start()
    _running.append(scheduler)
    atexit.register(scheduler.stop)
    return scheduler


def wait_for_lease(scheduler: Scheduler) -> None:
    """Block until this instance holds the lease (another scheduler stopped or its lease ran out)."""
    while not scheduler.renew():
        if scheduler._stopping.wait(min(scheduler.interval, scheduler.settings.scheduler_lease_seconds)):
            return


def run_foreground(settings: EngineSettings, once: bool = False, batch: int | None = None) -> dict[str, Any]:
    """``tsunagu scheduler``: run until SIGTERM/SIGINT (or, with ``once``, one round of every job)."""
    scheduler = Scheduler(settings, batch=batch)

    def _stop(_signum: int, _frame: Any) -> None:
        scheduler.stop()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    if once:
        wait_for_lease(scheduler)
        result = scheduler.run_once() if not scheduler._stopping.is_set() else {"held": False}
        scheduler.stop()
        return result
    scheduler.renew()
    aps = BlockingScheduler(timezone=UTC)
    scheduler.attach(aps)
    started = time.monotonic()
    aps.start()  # blocks until stop()
    scheduler.lease.release()
    return {"held": True, "ran_s": round(time.monotonic() - started, 1), **dict(scheduler.stats)}
