"""Fifty threads complete the same task at once: exactly one wins, every other caller gets Conflict.

Runs on the suite's backend (SQLite with BEGIN IMMEDIATE, or PostgreSQL with a row lock plus the
version counter). After every round the database shows one completion, one audit event, one form
record and the successor task created once.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import func, select

from engine import tasks
from engine.errors import Conflict
from engine.models import AuditEvent, FormRecord, HumanTask
from tests.support import factories
from tests.support.referral10 import referral_files

THREADS = 50
ROUNDS = 20


@pytest.fixture
def setup(engine, write):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
        factories.deploy(engine, s, referral_files())
    return win


def _race(engine, write, who, task_id: int) -> tuple[int, list[Conflict], list[BaseException]]:
    barrier = threading.Barrier(THREADS)
    wins, conflicts, others = [], [], []
    lock = threading.Lock()

    def attempt() -> None:
        barrier.wait()
        try:
            with write() as s:
                tasks.complete(engine, s, who, task_id, {"action": "refer"})
        except Conflict as exc:
            with lock:
                conflicts.append(exc)
        except BaseException as exc:  # noqa: BLE001 - any other outcome fails the test
            with lock:
                others.append(exc)
        else:
            with lock:
                wins.append(1)

    threads = [threading.Thread(target=attempt) for _ in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    return len(wins), conflicts, others


def test_fifty_threads_one_success_per_round(setup, engine, write, read):
    win = setup
    for _ in range(ROUNDS):
        with write() as s:
            started = factories.start(engine, s, win)
        task_id = started.open_tasks[0].id
        wins, conflicts, others = _race(engine, write, win, task_id)
        assert others == [], [type(e).__name__ + ": " + str(e) for e in others[:3]]
        assert wins == 1
        assert len(conflicts) == THREADS - 1
        assert all(c.reason == "completed" and c.by == "テスト win" and c.at is not None for c in conflicts)
        with read() as s:
            events = s.scalar(
                select(func.count())
                .select_from(AuditEvent)
                .where(AuditEvent.action == "task.complete", AuditEvent.task_id == task_id)
            )
            records = s.scalar(
                select(func.count()).select_from(FormRecord).where(FormRecord.human_task_id == task_id)
            )
            case_tasks = s.execute(
                select(HumanTask.element_id, HumanTask.status)
                .where(HumanTask.case_id == started.case_id)
                .order_by(HumanTask.id)
            ).all()
        assert events == 1 and records == 1
        assert case_tasks == [("window_response", "completed"), ("consent_check", "open")]
