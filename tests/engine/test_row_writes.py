"""engine.row_writes: the completion path's row writes as single Core statements.

``flush_case`` writes only the case columns whose value really changed, with the optimistic version
check (a lost race is :class:`~engine.errors.Conflict` with reason ``stale``), and falls back to the
ORM flush for what it does not handle. ``update_task``, ``cancel_tasks`` and ``insert_task`` write task
rows at once. Every written value is set on the ORM object as committed, so the session is left clean
and its next flush writes nothing twice. The SQL sent is watched with a ``before_cursor_execute``
listener on the real database (SQLite or PostgreSQL); nothing is mocked.
"""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import inspect, select, update
from sqlalchemy.orm import Session

from engine.db import begin_write
from engine.errors import Conflict
from engine.models import Case, HumanTask
from engine.row_writes import cancel_tasks, flush_case, insert_task, update_task
from tests.support import factories
from tests.support.referral10 import referral_files
from tests.support.sql_capture import captured

CASES = Case.__table__
TASKS = HumanTask.__table__


def set_columns(statement: str) -> set[str]:
    """The column names an ``UPDATE … SET a=…, b=… WHERE …`` statement sets."""
    assert statement.lstrip().upper().startswith("UPDATE"), statement
    set_part = re.split(r"\sWHERE\s", re.split(r"\sSET\s", statement, maxsplit=1)[1], maxsplit=1)[0]
    return set(re.findall(r"(\w+)\s*=", set_part))


def case_columns(session: Session, case_id: int) -> tuple[str, str, int]:
    """(current_step, stage, version) of the row as the session's transaction sees it (Core, no autoflush)."""
    stmt = select(CASES.c.current_step, CASES.c.stage, CASES.c.version).where(CASES.c.id == case_id)
    return tuple(session.connection().execute(stmt).one())


def task_columns(session: Session, task_id: int, *names: str) -> tuple:
    stmt = select(*(TASKS.c[name] for name in names)).where(TASKS.c.id == task_id)
    return tuple(session.connection().execute(stmt).one())


@pytest.fixture
def people(engine, write, frozen_clock):
    with write() as s:
        who = {"window": factories.actor(s, "window", "AG-WINDOW", "window")}
        factories.deploy(engine, s, referral_files())
    return who


@pytest.fixture
def started(people, engine, write):
    """A started referral case: one open task (窓口での対応)."""
    with write() as s:
        return factories.start(engine, s, people["window"])


# --- flush_case ---------------------------------------------------------------------------------------


def test_flush_case_writes_only_changed_columns_bumps_the_version_and_leaves_the_session_clean(
        started, write, read):
    with write() as s:
        case = s.get(Case, started.case_id)
        version, stage = case.version, case.stage
        case.stage = case.stage  # assigned, but the same value: not written
        case.current_step = "別の手順"
        assert case in s.dirty
        with captured(s) as sent:
            flush_case(s, case)
        [only] = sent
        assert set_columns(only.statement) == {"current_step", "version"}
        assert case.version == version + 1
        assert case not in s.dirty and not s.dirty and not inspect(case).modified
        assert case_columns(s, case.id) == ("別の手順", stage, version + 1)
        with captured(s) as sent:
            s.flush()
        assert sent == []  # nothing is written twice
    with read() as s:
        again = s.get(Case, started.case_id)
        assert (again.current_step, again.stage, again.version) == ("別の手順", stage, version + 1)


@pytest.mark.parametrize("assign", [False, True], ids=["untouched", "assigned-the-same-values"])
def test_flush_case_with_nothing_changed_sends_nothing_and_keeps_the_version(assign, started, write, read):
    with write() as s:
        case = s.get(Case, started.case_id)
        version = case.version
        if assign:
            case.stage = case.stage
            case.current_step = case.current_step
            case.updated_at = case.updated_at
        with captured(s) as sent:
            flush_case(s, case)
            s.flush()
        assert sent == []
        assert case.version == version and not s.dirty
    with read() as s:
        assert s.get(Case, started.case_id).version == version


def test_flush_case_writes_the_deferred_state_column(started, write, read):
    """``state`` is deferred: assigning it without loading it first still counts as a change."""
    with write() as s:
        case = s.get(Case, started.case_id)
        assert "state" in inspect(case).unloaded
        version = case.version
        case.state = b"{}"
        with captured(s) as sent:
            flush_case(s, case)
        [only] = sent
        assert set_columns(only.statement) == {"state", "version"}
        assert not s.dirty
    with read() as s:
        case = s.get(Case, started.case_id)
        assert (case.state, case.version) == (b"{}", version + 1)


def test_a_later_orm_flush_continues_from_the_version_flush_case_wrote(started, write, read):
    with write() as s:
        case = s.get(Case, started.case_id)
        version = case.version
        case.current_step = "一"
        flush_case(s, case)
        case.status = "suspended"  # the ORM's own flush: its version check must expect version + 1
        s.flush()
        assert case.version == version + 2
    with read() as s:
        case = s.get(Case, started.case_id)
        assert (case.current_step, case.status, case.version) == ("一", "suspended", version + 2)


def test_flush_case_raises_conflict_when_another_transaction_moved_the_version(
        started, session_factory, write, read):
    """A loads the case; B changes the row and commits; A's write (checked against the version it read)
    is refused and B's change stays. On SQLite A must not keep its read snapshot while B writes (a
    stale WAL snapshot cannot become a writer), so A ends its read transaction and writes in a new one,
    as every writer of the engine does (BEGIN IMMEDIATE)."""
    a = session_factory()
    try:
        case = a.get(Case, started.case_id)
        version = case.version
        a.commit()  # expire_on_commit=False: the case keeps what was read, version included
        _changed_by_someone_else(write, started.case_id)
        begin_write(a)
        _stale_write_is_refused(a, case)
    finally:
        a.close()
    _other_change_kept(read, started.case_id, version)


def _changed_by_someone_else(write: Any, case_id: int) -> None:
    with write() as b:
        b.execute(update(CASES).where(CASES.c.id == case_id)
                  .values(version=CASES.c.version + 1, current_step="他の人の変更"))


def _stale_write_is_refused(session: Any, case: Case) -> None:
    case.current_step = "私の変更"
    with pytest.raises(Conflict) as info:
        flush_case(session, case)
    assert info.value.reason == "stale"
    session.rollback()


def _other_change_kept(read: Any, case_id: int, version: int) -> None:
    with read() as s:
        assert case_columns(s, case_id)[::2] == ("他の人の変更", version + 1)


def test_flush_case_conflict_within_an_open_postgresql_transaction(db, started, session_factory, write, read):
    """PostgreSQL (READ COMMITTED): A's UPDATE re-checks the version on the row B committed meanwhile."""
    if db.backend != "postgresql":
        pytest.skip("SQLite writers take the write lock before reading (BEGIN IMMEDIATE)")
    a = session_factory()
    try:
        case = a.get(Case, started.case_id)  # A's transaction stays open
        version = case.version
        _changed_by_someone_else(write, started.case_id)
        _stale_write_is_refused(a, case)
    finally:
        a.close()
    _other_change_kept(read, started.case_id, version)


def test_flush_case_of_a_pending_case_is_the_orm_flush(started, write, read, frozen_clock):
    with write() as s:
        model = s.get(Case, started.case_id)
        new = Case(case_number="R8-TEST-1", process_definition_id=model.process_definition_id,
                   state=model.state, serializer_version=model.serializer_version, current_step="新規",
                   created_at=frozen_clock.now(), updated_at=frozen_clock.now())
        s.add(new)
        assert inspect(new).pending
        flush_case(s, new)
        assert inspect(new).persistent and new.id is not None and new.version == 1
        assert not s.new and not s.dirty
        new_id = new.id
    with read() as s:
        stored = s.get(Case, new_id)
        assert (stored.case_number, stored.current_step, stored.version) == ("R8-TEST-1", "新規", 1)


# --- update_task ----------------------------------------------------------------------------------------


def test_update_task_writes_at_once_sets_the_object_and_leaves_it_clean(
        started, people, write, read, frozen_clock):
    task_id = started.open_tasks[0].id
    user_id = people["window"].user_id
    now = frozen_clock.now()
    with write() as s:
        task = s.get(HumanTask, task_id)
        with captured(s) as sent:
            update_task(s, task, status="completed", completed_at=now, completed_by_id=user_id)
        [only] = sent
        assert set_columns(only.statement) == {"status", "completed_at", "completed_by_id"}
        assert task_columns(s, task_id, "status", "completed_at", "completed_by_id") == (
            "completed", now, user_id)  # in the row already, within the same transaction
        assert (task.status, task.completed_at, task.completed_by_id) == ("completed", now, user_id)
        assert task not in s.dirty and not s.dirty
        with captured(s) as sent:
            s.flush()
        assert sent == []
    with read() as s:
        stored = s.get(HumanTask, task_id)
        assert (stored.status, stored.completed_at, stored.completed_by_id) == ("completed", now, user_id)


def test_update_task_keeps_other_pending_changes_for_the_orm_flush(started, write, read, frozen_clock):
    task_id = started.open_tasks[0].id
    due = frozen_clock.now() + timedelta(days=30)
    with write() as s:
        task = s.get(HumanTask, task_id)
        task.due_at = due  # an ORM change update_task does not write
        task.status = "open"  # ...and one it writes over
        update_task(s, task, status="completed")
        assert task in s.dirty and set(inspect(task).committed_state) == {"due_at"}
        with captured(s) as sent:
            s.flush()
        [only] = sent
        assert set_columns(only.statement) == {"due_at"}
    with read() as s:
        stored = s.get(HumanTask, task_id)
        assert (stored.status, stored.due_at) == ("completed", due)


@pytest.mark.parametrize("values", [{"bogus": 1}, {"id": 99}, {"status": "completed", "stauts": "x"}])
def test_update_task_refuses_names_that_are_not_columns(values, started, write, read):
    task_id = started.open_tasks[0].id
    with write() as s:
        task = s.get(HumanTask, task_id)
        with captured(s) as sent, pytest.raises(ValueError, match="not columns of human_tasks"):
            update_task(s, task, **values)
        assert sent == [] and task.status == "open" and not s.dirty
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open"


# --- cancel_tasks ---------------------------------------------------------------------------------------


def test_cancel_tasks_cancels_several_rows_in_one_statement(people, engine, write, read):
    with write() as s:
        started = [factories.start(engine, s, people["window"]) for _ in range(4)]
    ids = [r.open_tasks[0].id for r in started]
    cancelled, staying = ids[:3], ids[3]
    with write() as s:
        loaded = s.get(HumanTask, cancelled[0])  # a task object in the session follows the row
        with captured(s) as sent:
            cancel_tasks(s, cancelled, "process_moved")
        [only] = sent
        assert set_columns(only.statement) == {"status", "cancelled_reason"}
        for task_id in cancelled:
            assert task_columns(s, task_id, "status", "cancelled_reason") == ("cancelled", "process_moved")
        assert (loaded.status, loaded.cancelled_reason) == ("cancelled", "process_moved")
        assert not s.dirty
    with read() as s:
        stmt = select(HumanTask.id, HumanTask.status).where(HumanTask.id.in_(ids))
        rows = dict(s.execute(stmt).tuples().all())
        assert rows == {**dict.fromkeys(cancelled, "cancelled"), staying: "open"}


def test_cancel_tasks_of_no_tasks_sends_nothing(started, write, read):
    with write() as s:
        with captured(s) as sent:
            cancel_tasks(s, [], "process_moved")
        assert sent == []
    with read() as s:
        assert s.get(HumanTask, started.open_tasks[0].id).status == "open"


# --- insert_task ----------------------------------------------------------------------------------------


def test_insert_task_returns_an_object_with_the_row_id_and_values(started, write, read, frozen_clock):
    with write() as s:
        model = s.connection().execute(select(TASKS).where(TASKS.c.id == started.open_tasks[0].id))
        values = dict(model.mappings().one())
        del values["id"]
        values.update(spiff_task_id=str(uuid.uuid4()), element_id="extra", title="追加の手順",
                      due_at=frozen_clock.now() + timedelta(days=3))
        row = insert_task(s, values)
        assert isinstance(row.id, int) and row.id != started.open_tasks[0].id
        assert {name: getattr(row, name) for name in values} == values
        # a persistent object of the session (what a later query in the transaction returns), clean
        assert row in s and not s.new and not s.dirty
        assert s.scalar(select(HumanTask).where(HumanTask.id == row.id)) is row
        stored = dict(s.connection().execute(select(TASKS).where(TASKS.c.id == row.id)).mappings().one())
        assert stored == {**values, "id": row.id}
        row_id = row.id
    with read() as s:
        stored = s.get(HumanTask, row_id)
        assert (stored.title, stored.spiff_task_id, stored.status) == ("追加の手順", values["spiff_task_id"],
                                                                       "open")


# --- savepoints ------------------------------------------------------------------------------------------


def test_a_rolled_back_savepoint_leaves_no_written_value_on_the_objects(started, people, write, read,
                                                                          frozen_clock):
    """The web layer runs a completion in a savepoint and shows the task again when it fails: what was
    written inside must not linger on the session's objects (they reload), and rows inserted inside
    leave the session."""
    task_id = started.open_tasks[0].id
    with write() as s:
        task = s.get(HumanTask, task_id)
        case = s.get(Case, started.case_id)
        version, step = case.version, case.current_step
        values = dict(s.connection().execute(select(TASKS).where(TASKS.c.id == task_id)).mappings().one())
        del values["id"]
        values.update(spiff_task_id=str(uuid.uuid4()), element_id="extra")

        class Failed(Exception):
            pass

        with pytest.raises(Failed), s.begin_nested():
            update_task(s, task, status="completed", completed_at=frozen_clock.now())
            case.current_step = "途中"
            flush_case(s, case)
            inserted = insert_task(s, values)
            raise Failed
        assert (task.status, task.completed_at) == ("open", None)
        assert (case.version, case.current_step) == (version, step)
        assert inserted not in s
        case.current_step = "後から"  # the ORM's own flush still finds the version it expects
        s.flush()
    with read() as s:
        assert s.get(Case, started.case_id).current_step == "後から"
        assert s.get(HumanTask, task_id).status == "open"
