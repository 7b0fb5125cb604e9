"""Drive a case through the real processes with the engine API, one committed transaction per step.

A :class:`Driver` starts a case, completes tasks by element id (as the role that owns them), fires
timers after moving the frozen clock, delivers messages, and after every step records which sequence
flows the case has taken (:mod:`tests.processes.coverage`). :meth:`Driver.snapshot` is what two runs of
the same scenario must agree on: case columns, open steps with their due times, and workflow data.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from SpiffWorkflow.util.task import TaskState
from sqlalchemy import select

from engine import cases, clock, events, runtime, tasks
from engine.actor import Actor
from engine.bpmn.serializer import decode_state
from engine.core import Engine
from engine.definitions import spec_for_case
from engine.models import Agency, Case, HumanTask, User
from tests.processes import coverage
from tests.processes.payloads import payload

REACHED = TaskState.COMPLETED | TaskState.READY | TaskState.STARTED | TaskState.WAITING | TaskState.ERROR


@dataclass
class Driver:
    engine: Engine
    write: Callable[[], Any]
    read: Callable[[], Any]
    people: dict[str, Actor]
    frozen: clock.FrozenClock
    case_id: int = 0
    steps: list[str] = field(default_factory=list)
    track_coverage: bool = True

    # -- actions --------------------------------------------------------------------------------------
    def start(self, **overrides: Any) -> int:
        with self.write() as s:
            result = cases.start_case(self.engine, s, self.people["window"], payload("intake", **overrides))
        self.case_id = result.case_id
        self._after("start")
        return self.case_id

    def open_tasks(self) -> list[HumanTask]:
        with self.read() as s:
            return list(
                s.scalars(
                    select(HumanTask)
                    .where(HumanTask.case_id == self.case_id, HumanTask.status == "open")
                    .order_by(HumanTask.id)
                )
            )

    def open(self) -> list[str]:
        return sorted(t.element_id for t in self.open_tasks())

    def task(self, element_id: str) -> HumanTask:
        found = [t for t in self.open_tasks() if t.element_id == element_id]
        assert len(found) == 1, f"expected one open {element_id!r}, open: {self.open()}"
        return found[0]

    def actor_for(self, row: HumanTask) -> Actor:
        if row.assignee_id is not None:
            match = [a for a in self.people.values() if a.user_id == row.assignee_id]
            if match:
                return match[0]
        for actor in self.people.values():
            if row.role in actor.roles and row.agency_id in (None, actor.agency_id):
                return actor
        raise AssertionError(f"nobody may work on {row.element_id} ({row.role}, agency {row.agency_id})")

    def complete(
        self, element_id: str, form_key: str | None = None, **overrides: Any
    ) -> tasks.CompletionResult:
        row = self.task(element_id)
        data = payload(form_key or row.form_key, **overrides)
        with self.write() as s:
            result = tasks.complete(self.engine, s, self.actor_for(row), row.id, data)
        self._after(element_id)
        return result

    def fire(self, **delta: float) -> None:
        """Move the clock on by ``delta`` and fire the case's due timers (what the scheduler does)."""
        self.frozen.advance(timedelta(**delta))
        with self.write() as s:
            events.fire_due_timers(self.engine, s, self.case_id)
        self._after(f"timer+{delta}")

    def send(self, message: str, who: str = "coordinator", **payload_fields: Any) -> None:
        with self.write() as s:
            events.send_message(
                self.engine, s, self.people[who], self.case_id, message, payload_fields or None
            )
        self._after(f"message:{message}")

    # -- inspection -----------------------------------------------------------------------------------
    def case(self) -> Case:
        with self.read() as s:
            return s.get(Case, self.case_id)

    def workflow(self) -> Any:
        with self.read() as s:
            case = s.get(Case, self.case_id)
            spec = spec_for_case(self.engine, s, case.process_definition_id)
            return decode_state(case.state, spec.spec, spec.subprocess_specs)

    def snapshot(self) -> dict[str, Any]:
        workflow = self.workflow()
        with self.read() as s:
            case = s.get(Case, self.case_id)
            csw = (
                s.scalar(select(User.username).where(User.id == case.csw_user_id))
                if case.csw_user_id
                else None
            )
            lead = (
                s.scalar(select(Agency.code).where(Agency.id == case.lead_agency_id))
                if case.lead_agency_id
                else None
            )
            open_rows = [
                (t.element_id, t.role, t.due_at.isoformat() if t.due_at else None) for t in self.open_tasks()
            ]
            snap = {
                "status": case.status,
                "stage": case.stage,
                "outcome": case.outcome,
                "consent_status": case.consent_status,
                "confidential": case.confidential,
                "csw": csw,
                "lead_agency": lead,
                "current_step": case.current_step,
                "next_timer_at": case.next_timer_at.isoformat() if case.next_timer_at else None,
                "open": sorted(open_rows),
                "finished": workflow.is_completed(),
            }
        waiting = [t for t in workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)]
        snap["workflow_data"] = json.dumps(workflow.data, sort_keys=True, ensure_ascii=False)
        snap["waiting_data"] = sorted(
            json.dumps([t.task_spec.bpmn_id or t.task_spec.name, t.data], sort_keys=True, ensure_ascii=False)
            for t in waiting
        )
        return snap

    def state_bytes(self) -> int:
        with self.read() as s:
            return len(s.get(Case, self.case_id).state)  # as stored (compressed)

    # -- coverage -------------------------------------------------------------------------------------
    def _after(self, step: str) -> None:
        self.steps.append(step)
        if self.track_coverage:
            workflow = self.workflow()
            coverage.record(taken_pairs(workflow))
            # runtime.frontier scans task tables instead of walking the tree: same tasks at every step
            scanned = runtime.frontier(runtime.LiveCase(case=None, workflow=workflow, spec=None))
            walked = workflow.get_tasks(state=TaskState.READY | TaskState.WAITING)
            assert {t.id for t in scanned} == {t.id for t in walked}, step
            # the projection's invariant (tasks.complete relies on it to skip reading the rows): the open
            # task rows are exactly the READY people's steps
            ready = {str(t.id) for t in walked if t.state == TaskState.READY and t.task_spec.manual}
            assert {t.spiff_task_id for t in self.open_tasks()} == ready, step


def taken_pairs(workflow: Any) -> set[tuple[str, str]]:
    """(source element, target element) for every task the case reached, in every (sub-)workflow."""
    pairs: set[tuple[str, str]] = set()
    known = coverage.element_ids()
    for wf in [workflow, *workflow.subprocesses.values()]:
        for task in wf.tasks.values():
            target = task.task_spec.bpmn_id
            if target not in known or not task.has_state(REACHED):
                continue
            parent = task.parent
            while parent is not None and (
                parent.task_spec.bpmn_id not in known or parent.task_spec.bpmn_id == target
            ):
                parent = parent.parent
            if parent is not None:
                pairs.add((parent.task_spec.bpmn_id, target))
    return pairs


def run_twice(make_driver: Callable[[bool], Driver], scenario: Callable[[Driver], Any]) -> Driver:
    """Run ``scenario`` restoring the case from the database at every step, then with the live-case
    cache on; both must end in the same state. Returns the restoring run's driver."""
    restoring = make_driver(False)
    scenario(restoring)
    cached = make_driver(True)
    scenario(cached)
    assert restoring.snapshot() == cached.snapshot()
    return restoring
