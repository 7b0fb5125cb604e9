"""The scheduler service: job settings, one scheduler per database, restart safety with real processes."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import func, select

from engine import clock
from engine.db import make_engine
from engine.models import AuditEvent, Escalation, HumanTask, Notification, OutboxMessage
from engine.scheduling.service import SWEEP_JOBS, Scheduler
from tests.engine.test_scheduling_timers import timer_files
from tests.support import factories
from tests.support.referral10 import FORMS_DIR, referral_files
from tests.support.scheduling import bulk_tasks

ROOT = Path(__file__).resolve().parents[2]


def cli_env(db, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSUNAGU_") or k == "TSUNAGU_AUDIT_KEY"}
    env.update(
        TSUNAGU_DATABASE_URL=db.url,
        TSUNAGU_FORMS_DIR=str(FORMS_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


def scheduler_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "web.cli", "scheduler", *args]


@pytest.fixture
def people(write):
    with write() as s:
        sup = factories.actor(s, "supervisor", "AG-WIN", "sup", roles=["supervisor", "window"])
        office = factories.actor(
            s, "supervisor", "AG-JUSO", "jsup", roles=["supervisor"], kind="coordinating_office"
        )
    return {"sup": sup, "office": office}


def test_jobs_have_explicit_ids_coalescing_one_instance_and_misfire_grace(settings, engine, db):
    scheduler = Scheduler(settings, engine=engine, db_engine=db.engine)
    aps = BackgroundScheduler()
    aps.start(paused=True)
    scheduler.attach(aps)
    jobs = {job.id: job for job in aps.get_jobs()}
    assert set(jobs) == {"tsunagu.lease", *SWEEP_JOBS}
    for job_id in SWEEP_JOBS:
        job = jobs[job_id]
        assert job.coalesce is True and job.max_instances == 1
        assert job.misfire_grace_time >= settings.scheduler_interval_seconds
    scheduler.attach(aps)  # replace_existing: attaching again does not add a second set
    assert len(aps.get_jobs()) == 4
    aps.shutdown(wait=False)


def test_two_schedulers_one_sweeps_the_other_waits_100_sweeps(
    settings, engine, db, write, read, people, frozen_clock
):
    with write() as s:
        factories.deploy(engine, s, referral_files())
    a = Scheduler(settings, engine=engine, db_engine=make_engine(db.url), holder="host-a:1:a")
    b = Scheduler(settings, engine=engine, db_engine=make_engine(db.url), holder="host-b:2:b")
    try:
        _two_schedulers(a, b, write, read, people, frozen_clock)
    finally:
        a.db.dispose()
        b.db.dispose()


def _two_schedulers(a, b, write, read, people, frozen_clock) -> None:
    results: dict[str, list] = {"a": [], "b": []}
    for _ in range(100):
        with write() as s:
            bulk_tasks(s, 5, frozen_clock.now() - timedelta(minutes=1), agency_id=people["sup"].agency_id)
        threads = [
            threading.Thread(target=lambda n=n, sch=sch: results[n].append(sch.run_once()["held"]))
            for n, sch in (("a", a), ("b", b))
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        frozen_clock.advance(seconds=15)
    assert results["a"].count(True) + results["b"].count(True) == 100
    assert {results["a"].count(True), results["b"].count(True)} == {100, 0}  # one sweeps, the other waits
    leader, follower = (a, b) if results["a"][0] else (b, a)
    assert leader.stats["escalations"] == 100 and follower.stats["escalations"] == 0
    leader.stop()
    assert follower.run_once()["held"] is True  # takes over at once after a clean stop
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Escalation)) == 500
        assert (
            s.scalar(select(func.count(func.distinct(Escalation.task_id))).where(Escalation.level == 1))
            == 500
        )
        assert (
            s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent"))
            == 500
        )
        assert (
            s.scalar(
                select(func.count())
                .select_from(Notification)
                .where(Notification.user_id == people["sup"].user_id)
            )
            == 500
        )


def _work(read) -> int:
    counts = _counts(read)
    return counts["escalations"] + counts["outbox_sent"] + counts["notifications"]


def _counts(read) -> dict[str, int]:
    with read() as s:
        return {
            "escalations": s.scalar(select(func.count()).select_from(Escalation)),
            "distinct": s.scalar(
                select(func.count()).select_from(
                    select(Escalation.task_id, Escalation.level).distinct().subquery()
                )
            ),
            "outbox_sent": s.scalar(
                select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent")
            ),
            "outbox": s.scalar(select(func.count()).select_from(OutboxMessage)),
            "notifications": s.scalar(select(func.count()).select_from(Notification)),
            "distinct_notifications": s.scalar(
                select(func.count()).select_from(
                    select(Notification.message_id, Notification.user_id).distinct().subquery()
                )
            ),
        }


@pytest.mark.slow
def test_killing_the_scheduler_during_a_sweep_leaves_every_escalation_exactly_once(
    engine, db, write, read, people
):
    n_tasks = 5000
    clock.use(clock.SystemClock())
    with write() as s:
        factories.deploy(engine, s, referral_files())
        ids = bulk_tasks(s, n_tasks, clock.now() - timedelta(days=20), agency_id=people["sup"].agency_id)
    env = cli_env(db, TSUNAGU_SCHEDULER_INTERVAL_SECONDS="1", TSUNAGU_SCHEDULER_LEASE_SECONDS="30")
    rng = random.Random(20261126)
    total_work = 7 * n_tasks  # escalations (2n) + outbox rows sent (2n) + notifications (3n)
    progress = []
    for _ in range(10):
        proc = subprocess.Popen(
            scheduler_cmd("--batch-size", "200"),
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(lambda proc=proc: holder_pid(read) == proc.pid)  # started and sweeping
        # Kill at a random point of the i-th tenth of the work, measured in rows written, so the kills
        # land mid-sweep however fast or slow the machine is.
        target = total_work * (len(progress) + rng.uniform(0.1, 0.9)) / 10
        deadline = time.monotonic() + 120
        while proc.poll() is None and _work(read) < target and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        progress.append(_counts(read))
    finished = subprocess.run(
        scheduler_cmd("--once"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=300
    )
    assert finished.returncode == 0, finished.stderr[-2000:]
    final = _counts(read)
    expected = {
        "escalations": 2 * n_tasks,
        "distinct": 2 * n_tasks,
        "outbox_sent": 2 * n_tasks,
        "outbox": 2 * n_tasks,
        "notifications": 3 * n_tasks,
        "distinct_notifications": 3 * n_tasks,
    }
    assert final == expected, progress
    # the kills did land in the middle of the work, not only before or after it
    assert any(
        0 < p["notifications"] < 3 * n_tasks or 0 < p["escalations"] < 2 * n_tasks for p in progress
    ), progress
    with read() as s:
        per_task = s.execute(select(Escalation.task_id, func.count()).group_by(Escalation.task_id)).all()
        assert {t for t, c in per_task if c == 2} == set(ids)


def test_timer_due_while_everything_was_stopped_fires_once_after_restart(engine, db, write, read):
    clock.use(clock.SystemClock())
    with write() as s:
        who = factories.actor(s, "window", "AG-WIN", "win")
        factories.deploy(engine, s, timer_files("PT1S"))
    with write() as s:
        case_id = factories.start(engine, s, who).case_id
    time.sleep(1.5)  # the timer comes due while no scheduler runs
    env = cli_env(db)
    for _ in range(2):
        done = subprocess.run(
            scheduler_cmd("--once"), cwd=ROOT, env=env, capture_output=True, text=True, timeout=120
        )
        assert done.returncode == 0, done.stderr[-2000:]
    with read() as s:
        assert (
            s.scalar(
                select(func.count())
                .select_from(HumanTask)
                .where(HumanTask.case_id == case_id, HumanTask.element_id == "follow_up")
            )
            == 1
        )
        assert (
            s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.case_id == case_id, AuditEvent.action == "case.timer")
            )
            == 1
        )


def test_second_scheduler_process_waits_for_the_lease(engine, db, write, read, tmp_path):
    clock.use(clock.SystemClock())
    env = cli_env(db, TSUNAGU_SCHEDULER_INTERVAL_SECONDS="1", TSUNAGU_SCHEDULER_LEASE_SECONDS="30")
    logs = [tmp_path / "first.log", tmp_path / "second.log"]
    procs = []
    try:
        for log in logs:
            with log.open("w") as out:
                procs.append(
                    subprocess.Popen(scheduler_cmd(), cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
                )
            if len(procs) == 1:
                wait_until(lambda: holder_pid(read) == procs[0].pid)
        first, second = procs
        wait_until(lambda: "waiting" in logs[1].read_text())
        assert holder_pid(read) == first.pid and second.poll() is None
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=60)
        wait_until(lambda: holder_pid(read) == second.pid)  # released on a clean stop: taken over at once
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                proc.wait(timeout=60)
    assert "scheduler stopped" in logs[0].read_text()


def holder_pid(read) -> int | None:
    from engine.models import SchedulerLease

    with read() as s:
        holder = s.scalar(select(SchedulerLease.holder))
    return int(holder.split(":")[1]) if holder else None


def wait_until(condition, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
