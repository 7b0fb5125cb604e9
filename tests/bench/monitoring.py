"""Monitoring benchmark: does a completion get dearer as a case's monitoring runs on for years?

Method: ``BENCH_MONITORING_CASES`` cases (default 5) of the real pathway (processes/, forms/) are driven to
支援の実施 on SQLite with the live-case cache on, then through ``BENCH_MONITORING_CYCLES`` (default 150)
monthly monitoring cycles each: move the engine clock a month on, fire the case's timers, complete the
monitoring task. Each completion is timed from the start of its write transaction to its commit. The
figure ``monitoring_cycle_ratio`` is the median completion time at the last cycles ÷ the median at the
first cycles (``BENCH_MONITORING_WINDOW`` cycles at each end, default 3, over all cases; issue 3 asks
for ≤ 2). Also reported: those two medians and the case's stored state size at
cycle 1, at the last cycle and after the case closed.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from engine import clock, tasks
from engine.db import transaction
from tests.bench.pathway import setup
from tests.processes.driver import Driver
from tests.processes.paths import to_support
from tests.processes.payloads import payload, today

CASES = int(os.environ.get("BENCH_MONITORING_CASES", "5"))
CYCLES = int(os.environ.get("BENCH_MONITORING_CYCLES", "150"))
WINDOW = int(os.environ.get("BENCH_MONITORING_WINDOW", "3"))


def _cycle(d: Driver, judgement: str) -> float:
    d.fire(days=31)
    row = d.task("monitoring")
    data = payload(
        "monitoring", judgement=judgement, next_date=today(30) if judgement == "continue" else None
    )
    t0 = time.perf_counter()
    with d.write() as s:
        tasks.complete(d.engine, s, d.actor_for(row), row.id, data)
    return (time.perf_counter() - t0) * 1000


def run() -> dict[str, tuple[float, str]]:
    previous = clock.use(clock.FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC)))
    first: list[float] = []
    last: list[float] = []
    sizes: dict[str, int] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            eng, sessions, people = setup(f"sqlite:///{Path(tmp) / 'monitoring.db'}")
            for n in range(CASES):
                frozen = clock.FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
                clock.use(frozen)
                d = Driver(
                    eng,
                    lambda: transaction(sessions, write=True),
                    lambda: transaction(sessions),
                    people,
                    frozen,
                    track_coverage=False,
                )
                to_support(d, evaluation_date="2045-01-01")
                for cycle in range(1, CYCLES + 1):
                    ms = _cycle(d, "evaluation" if cycle == CYCLES else "continue")
                    if cycle <= WINDOW:
                        first.append(ms)
                    elif cycle > CYCLES - WINDOW:
                        last.append(ms)
                    if cycle == 1:
                        sizes["cycle_1"] = d.state_bytes()
                    elif cycle == CYCLES:
                        sizes["last_cycle"] = d.state_bytes()
                d.complete("evaluation")
                d.complete("closing")
                assert d.case().status == "completed", f"case {n} did not close"
                sizes["finished"] = d.state_bytes()
            eng_db = sessions.kw["bind"]
            eng_db.dispose()
    finally:
        clock.use(previous)
    c1, cn = statistics.median(first), statistics.median(last)
    return {
        "monitoring_cycle_ratio": (cn / c1, "ratio"),
        "monitoring_completion_cycle_1_ms": (c1, "ms"),
        f"monitoring_completion_cycle_{CYCLES}_ms": (cn, "ms"),
        "monitoring_state_cycle_1_bytes": (float(sizes["cycle_1"]), "bytes"),
        f"monitoring_state_cycle_{CYCLES}_bytes": (float(sizes["last_cycle"]), "bytes"),
        "monitoring_finished_case_state_bytes": (float(sizes["finished"]), "bytes"),
    }


if __name__ == "__main__":
    for key, (value, unit) in run().items():
        print(f"bench {key} {value:.3f} {unit}")
