"""engine.db: engines per backend (SQLite in WAL mode with synchronous=FULL, a busy timeout and foreign
keys; PostgreSQL through psycopg), write transactions (BEGIN IMMEDIATE on SQLite) and the one transaction
helper that commits on success and rolls back on any exception."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from engine import clock
from engine.db import (
    SQLITE_BUSY_TIMEOUT_MS,
    WRITE_OPTION,
    begin_write,
    is_postgresql,
    make_engine,
    make_session_factory,
    transaction,
)
from engine.models import Agency, User


@pytest.fixture
def scratch(tmp_path):
    """An empty SQLite database (never migrated) in a directory that does not exist yet."""
    path = tmp_path / "nested" / "dir" / "scratch.db"
    engine = make_engine(f"sqlite:///{path}")
    yield engine, path
    engine.dispose()


def _pragma(conn, name: str):
    return conn.exec_driver_sql(f"PRAGMA {name}").scalar()


def test_sqlite_file_directory_is_created(scratch):
    engine, path = scratch
    assert path.parent.is_dir()
    with engine.connect() as conn:
        conn.exec_driver_sql("select 1")
    assert path.is_file()


def test_sqlite_connections_use_wal_full_sync_busy_timeout_and_foreign_keys(scratch):
    engine, _ = scratch
    with engine.connect() as conn:
        assert _pragma(conn, "journal_mode") == "wal"
        assert _pragma(conn, "synchronous") == 2  # FULL
        assert _pragma(conn, "busy_timeout") == SQLITE_BUSY_TIMEOUT_MS
        assert _pragma(conn, "foreign_keys") == 1
    with engine.connect() as first, engine.connect() as second:  # every pooled connection, not only one
        assert _pragma(first, "foreign_keys") == _pragma(second, "foreign_keys") == 1


def test_sqlite_foreign_keys_are_enforced(scratch):
    engine, _ = scratch
    with engine.begin() as conn:
        conn.exec_driver_sql("create table parent (id integer primary key)")
        conn.exec_driver_sql("create table child (id integer primary key, parent_id integer "
                             "references parent(id))")
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.exec_driver_sql("insert into child (id, parent_id) values (1, 99)")


def test_a_write_session_holds_the_sqlite_write_lock_from_its_start(scratch):
    engine, path = scratch
    with engine.begin() as conn:
        conn.exec_driver_sql("create table t (id integer primary key)")
    factory = make_session_factory(engine)
    other = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        with factory() as reader:
            reader.execute(text("select count(*) from t"))  # BEGIN DEFERRED: no write lock
            other.execute("BEGIN IMMEDIATE")
            other.execute("ROLLBACK")
        with factory() as writer:
            begin_write(writer)
            writer.connection()  # BEGIN IMMEDIATE before any statement
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            assert writer.connection().get_execution_options().get(WRITE_OPTION) is True
            writer.rollback()
        other.execute("BEGIN IMMEDIATE")  # released with the writer's transaction
        other.execute("ROLLBACK")
    finally:
        other.close()


def test_begin_write_after_a_read_began_is_a_programming_error_on_sqlite(db, session_factory):
    with session_factory() as s:
        s.execute(select(func.count()).select_from(Agency))
        if db.backend == "sqlite":
            with pytest.raises(RuntimeError, match="after a read transaction began"):
                begin_write(s)
        else:
            begin_write(s)  # row locks do the work on PostgreSQL: nothing to mark


def test_begin_write_twice_is_harmless(session_factory):
    with session_factory() as s:
        begin_write(s)
        s.execute(select(func.count()).select_from(Agency))
        begin_write(s)
        assert s.scalar(select(func.count()).select_from(Agency)) == 0


def test_is_postgresql_names_the_backend(db, session_factory):
    with session_factory() as s:
        assert is_postgresql(s) is (db.backend == "postgresql")


def test_a_postgresql_url_gets_the_psycopg_driver():
    engine = make_engine("postgresql://tsunagu@127.0.0.1:1/none")  # no connection is made
    try:
        assert engine.url.drivername == "postgresql+psycopg"
        assert engine.dialect.name == "postgresql"
    finally:
        engine.dispose()


def _add_agency(session, code: str) -> Agency:
    agency = Agency(code=code, name=f"機関{code}", kind="partner")
    session.add(agency)
    session.flush()
    return agency


def _codes(read) -> list[str]:
    with read() as s:
        return list(s.scalars(select(Agency.code).order_by(Agency.code)))


def test_transaction_commits_on_success(session_factory, read):
    with transaction(session_factory, write=True) as s:
        _add_agency(s, "AG-1")
    with transaction(session_factory) as s:  # a reader commits too (nothing to write)
        assert s.scalar(select(func.count()).select_from(Agency)) == 1
    assert _codes(read) == ["AG-1"]


class Interrupted(BaseException):
    """Not an Exception: a KeyboardInterrupt or a worker being stopped."""


@pytest.mark.parametrize("error", [ValueError, Interrupted])
def test_transaction_rolls_back_on_any_exception_and_reraises_it(error, session_factory, read):
    with pytest.raises(error), transaction(session_factory, write=True) as s:
        _add_agency(s, "AG-GONE")
        raise error("fail")
    assert _codes(read) == []


def test_transaction_closes_its_session_and_keeps_loaded_values(write):
    with write() as s:
        agency = _add_agency(s, "AG-KEPT")
        session = s
    assert not session.in_transaction()
    assert agency.name == "機関AG-KEPT"  # expire_on_commit=False: readable after the commit


def test_a_database_error_rolls_the_whole_transaction_back(write, read):
    with pytest.raises(IntegrityError), write() as s:
        _add_agency(s, "AG-FIRST")
        s.add(User(username="orphan", display_name="孤立", agency_id=987654, created_at=clock.now()))
        s.flush()  # foreign keys hold on both backends
    assert _codes(read) == []


def test_a_read_transaction_is_not_a_writer(read):
    with read() as s:
        s.execute(select(func.count()).select_from(Agency))
        assert not s.connection().get_execution_options().get(WRITE_OPTION)


def test_a_savepoint_journal_undoes_the_entries_of_a_rolled_back_savepoint(write):
    """savepoint_journal: entries appended inside a rolled-back savepoint go to ``undo``, which says
    which to keep; a released savepoint keeps everything; entries before the savepoint are untouched."""
    from engine.db import savepoint_journal

    key = "test_journal_entries"
    undone: list[list[str]] = []

    def undo(_session, inner):  # type: ignore[no-untyped-def]
        undone.append(list(inner))
        return [e for e in inner if e.startswith("keep")]

    savepoint_journal(key, undo)
    with write() as s:
        journal = s.info.setdefault(key, [])
        journal.append("before")
        with s.begin_nested():
            journal.append("released")
        try:
            with s.begin_nested():
                journal.extend(["dropped", "keep-refusal"])
                raise RuntimeError
        except RuntimeError:
            pass
        assert journal == ["before", "released", "keep-refusal"]
        assert undone == [["dropped", "keep-refusal"]]
        s.info.pop(key)
