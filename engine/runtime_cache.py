"""In-process caches: parsed specs per process definition, and live workflows per case.

Specs are immutable once deployed, so they are cached by definition id for the life of the process.
A case's live workflow is cached with the case's version counter: a request takes it out of the
cache (so two requests never share one object), and it goes back only after the transaction that
saved that version commits; a rollback simply drops it. Another process writing the case bumps the
version, so a stale entry is never used.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

PENDING_KEY = "tsunagu_workflow_cache_pending"


@dataclass(frozen=True)
class LoadedSpec:
    spec: Any
    subprocess_specs: dict[str, Any]
    tasks: dict[str, dict[str, dict]]
    reads: dict[str, list[str] | None]
    start_form_key: str | None
    agency_rules: dict[str, str]


class SpecCache:
    def __init__(self) -> None:
        self._items: dict[int, LoadedSpec] = {}
        self._lock = threading.Lock()

    def get(self, definition_id: int) -> LoadedSpec | None:
        return self._items.get(definition_id)

    def put(self, definition_id: int, loaded: LoadedSpec) -> None:
        with self._lock:
            self._items[definition_id] = loaded


class WorkflowCache:
    def __init__(self, size: int) -> None:
        self.size = size
        self._items: OrderedDict[int, tuple[int, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, case_id: int, version: int) -> Any | None:
        with self._lock:
            entry = self._items.pop(case_id, None)
        if entry is not None and entry[0] == version:
            return entry[1]
        return None

    def put(self, case_id: int, version: int, workflow: Any) -> None:
        if self.size <= 0:
            return
        with self._lock:
            self._items[case_id] = (version, workflow)
            self._items.move_to_end(case_id)
            while len(self._items) > self.size:
                self._items.popitem(last=False)

    def discard(self, case_id: int) -> None:
        with self._lock:
            self._items.pop(case_id, None)

    def keep_after_commit(self, session: Session, case: Any, workflow: Any) -> None:
        """Cache ``workflow`` once the transaction commits, under the version the case row then has."""
        session.info.setdefault(PENDING_KEY, []).append((self, case, workflow))


@event.listens_for(Session, "after_commit")
def _publish(session: Session) -> None:
    for cache, case, workflow in session.info.pop(PENDING_KEY, []):
        cache.put(case.id, case.version, workflow)


@event.listens_for(Session, "after_rollback")
def _drop(session: Session) -> None:
    session.info.pop(PENDING_KEY, None)
