"""The row writes of the completion path, as single Core statements instead of the ORM's unit of work.

A completion writes the same few rows every time: the task it completes, the tasks the workflow
opens or cancels, and the case row with its state. Through the ORM's flush each costs several times
the statement itself (the unit of work sorts, diffs and bookkeeps objects), and the completion is
CPU-bound, so these writes are issued directly. The ORM objects stay true: every written value is
set on the object as its committed value, so nothing is written twice and later reads in the same
session see it. Inserted task rows join the session as persistent objects, so a later query in the
same transaction (a hook reassigning the new steps) updates the very objects the caller returns. The
case row keeps its optimistic version check (``WHERE version = :old``); a lost race raises
:class:`~engine.errors.Conflict` exactly as the ORM's ``StaleDataError`` did.

**Savepoints.** A rolled-back savepoint makes the ORM expire only the objects it flushed itself, so the
objects written here are remembered per session: after a savepoint rolls back they are expired (they
reload from the database) and the rows inserted inside it are removed from the session; a full
rollback expires everything anyway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import bindparam, event, inspect, update
from sqlalchemy.orm import Session, make_transient_to_detached
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from .db import savepoint_journal
from .errors import Conflict
from .models import Case, HumanTask

_TASKS = HumanTask.__table__
_CASES = Case.__table__
_INSERT_TASK = _TASKS.insert().returning(_TASKS.c.id)
_CASE_COLUMNS = frozenset(c.key for c in _CASES.columns) - {"id", "version"}
_TASK_COLUMNS = frozenset(c.key for c in _TASKS.columns) - {"id"}
_update_cache: dict[tuple[str, frozenset[str], bool], Any] = {}
_WRITTEN = "tsunagu_row_writes"  # session.info: [(object, inserted?)] written in the open transaction


def _update_statement(table: Any, columns: frozenset[str], versioned: bool) -> Any:
    """One statement object per (table, set of columns): SQLAlchemy caches its compiled form on it."""
    key = (table.name, columns, versioned)
    stmt = _update_cache.get(key)
    if stmt is None:
        where = table.c.id == bindparam("_id")
        if versioned:
            where = where & (table.c.version == bindparam("_old_version"))
        values = {name: bindparam(name) for name in columns}
        if versioned:
            values["version"] = bindparam("_new_version")
        stmt = _update_cache[key] = update(table).where(where).values(values)
    return stmt


def _mark_written(session: Session, obj: Any, values: dict[str, Any]) -> None:
    """Set the written values as committed; with nothing else pending, the object is clean again (as
    after a flush), so the session's next flush does not visit it."""
    for name, value in values.items():
        set_committed_value(obj, name, value)
    state = inspect(obj)
    if state.modified and not state.committed_state and state.key is not None:
        state._commit_all(state.dict, session.identity_map)  # noqa: SLF001 - what flush() does after writing
    session.info.setdefault(_WRITTEN, []).append((obj, False))


def _savepoint_rolled_back(session: Session, inner: list[Any]) -> list[Any]:
    """Objects written inside a rolled-back savepoint reload from the database; its inserted rows go."""
    for obj, inserted in inner:
        if obj in session:
            if inserted:
                session.expunge(obj)
            else:
                session.expire(obj)
    return []


savepoint_journal(_WRITTEN, _savepoint_rolled_back)


@event.listens_for(Session, "after_transaction_end")
def _forget(session: Session, transaction: Any) -> None:
    if transaction.parent is None:  # the whole transaction ended (a full rollback expires everything)
        session.info.pop(_WRITTEN, None)


def update_task(session: Session, task: HumanTask, **values: Any) -> None:
    """Write ``values`` to the task's row now and set them on the object as committed."""
    unknown = set(values) - _TASK_COLUMNS
    if unknown:
        raise ValueError(f"not columns of human_tasks: {sorted(unknown)}")
    stmt = _update_statement(_TASKS, frozenset(values), versioned=False)
    session.connection().execute(stmt, {"_id": task.id, **values})
    _mark_written(session, task, values)


def cancel_tasks(session: Session, task_ids: list[int], reason: str) -> None:
    """Mark open tasks cancelled (their step went away); objects of them in the session follow."""
    if not task_ids:
        return
    values = {"status": "cancelled", "cancelled_reason": reason}
    stmt = _update_statement(_TASKS, frozenset(values), versioned=False)
    session.connection().execute(stmt, [{"_id": task_id, **values} for task_id in task_ids])
    for task_id in task_ids:
        loaded = session.identity_map.get(identity_key(HumanTask, task_id))
        if loaded is not None:
            _mark_written(session, loaded, values)


def insert_task(session: Session, values: dict[str, Any]) -> HumanTask:
    """Insert a task row; return it as a persistent object of the session, with its id."""
    task_id = session.connection().execute(_INSERT_TASK, values).scalar_one()
    row = HumanTask(**values)
    row.id = task_id
    make_transient_to_detached(row)  # its attributes count as loaded, as if read by a query
    session.add(row)
    session.info.setdefault(_WRITTEN, []).append((row, True))
    return row


def flush_case(session: Session, case: Case) -> None:
    """Write the case row's changed columns with the version check; the ORM flush if anything else changed.

    Raises Conflict when another transaction changed the row since it was read (version moved on).
    """
    state = inspect(case)
    if state.pending or state.transient or not state.has_identity:
        session.flush()
        return
    touched = state.committed_state
    if not touched.keys() <= _CASE_COLUMNS:  # a relationship or something unusual: let the ORM do it
        session.flush()
        return
    # Only values that really changed are written (as the ORM does): SQLite rewrites the index entries
    # of every column an UPDATE sets, and ``cases`` has eight indexes.
    current = {name: getattr(case, name) for name in touched}
    values = {name: value for name, value in current.items() if touched[name] != value}
    if not values:
        _mark_written(session, case, current)  # set to what they were: nothing to write
        return
    changed = frozenset(values)
    old = case.version
    stmt = _update_statement(_CASES, changed, versioned=True)
    result = session.connection().execute(stmt, {"_id": case.id, "_old_version": old, "_new_version": old + 1,
                                                  **values})
    if result.rowcount != 1:
        raise Conflict("the case was changed by another request", reason="stale")
    _mark_written(session, case, {**current, "version": old + 1})
