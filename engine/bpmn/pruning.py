"""Pruning finished loop rounds so long-lived repetition keeps a case's state small and flat.

A ``standardLoopCharacteristics`` activity adds one child task per round, and when the looped
activity is a sub-process or call activity, one sub-workflow per round as well. SpiffWorkflow keeps
every finished round for ever, so a monitoring loop that runs monthly for years grows the case's
state, its serialisation time and every tree walk with each round (engine-notes §4.2, §5). Once a
round has finished and its data has been merged into the loop task, nothing reads it again: the
history of what was done lives in ``form_records`` and the record tables. :func:`prune` removes those
rounds (keeping the most recent one, so a caller can still see the round that just ended) together
with their sub-workflows.

It also removes *orphaned* sub-workflows: when an interrupting boundary event cancels a loop whose
current round is a sub-process, SpiffWorkflow drops the round's task without cancelling its
sub-workflow, which would otherwise keep waiting (its timers could even make its user tasks READY
later). :func:`prune` cancels and removes any sub-workflow whose calling task is gone.
"""

from __future__ import annotations

from typing import Any

from SpiffWorkflow.bpmn.specs.mixins.multiinstance_task import StandardLoopTask
from SpiffWorkflow.util.task import TaskState

KEEP_ROUNDS = 1


def _drop_subprocess(top: Any, sp_id: Any) -> None:
    subprocess = top.subprocesses.pop(sp_id, None)
    if subprocess is None:
        return
    nested = [k for k, sp in top.subprocesses.items() if sp.parent_task_id in subprocess.tasks]
    for key in nested:
        _drop_subprocess(top, key)
    if not subprocess.completed:
        for task in list(subprocess.tasks.values()):
            if not task.has_state(TaskState.FINISHED_MASK):
                top.event_manager.remove_task(task)


def _prune_loops(top: Any, workflow: Any) -> int:
    removed = 0
    for task in list(workflow.tasks.values()):
        spec = task.task_spec
        if not isinstance(spec, StandardLoopTask):
            continue
        merged = set(task.internal_data.get("merged") or ())
        rounds = [c for c in task.children if c is not None and c.task_spec.name == spec.task_spec]
        finished = [c for c in rounds if c.state == TaskState.COMPLETED and str(c.id) in merged]
        gone: set[str] = set()
        for child in finished[:-KEEP_ROUNDS] if KEEP_ROUNDS else finished:
            if child is workflow.last_task or child._children:
                continue
            _drop_subprocess(top, child.id)
            workflow._remove_task(child.id)
            gone.add(str(child.id))
            removed += 1
        if gone:
            # The loop task lists every merged round's id; SpiffWorkflow reads only how many there were
            # (loopMaximum, iterations_completed) and the last one. Blank the pruned ids so the list
            # does not grow by a task id (about 40 bytes) per round.
            task.internal_data["merged"] = ["" if m in gone else m for m in task.internal_data["merged"]]
    return removed


def _orphans(top: Any) -> list[Any]:
    alive = set(top.tasks)
    for subprocess in top.subprocesses.values():
        alive.update(subprocess.tasks)
    return [sp_id for sp_id in top.subprocesses if sp_id not in alive]


def prune(top: Any) -> int:
    """Remove finished loop rounds and orphaned sub-workflows from ``top``; return how many went."""
    removed = 0
    for sp_id in _orphans(top):
        _drop_subprocess(top, sp_id)
        removed += 1
    for workflow in [top, *list(top.subprocesses.values())]:
        removed += _prune_loops(top, workflow)
    return removed
