"""Database engines and sessions for SQLite (embedded default) and PostgreSQL (production, tests).

SQLite runs in WAL mode with ``synchronous=FULL`` and a busy timeout; a session that will write
starts with ``BEGIN IMMEDIATE`` (see :func:`begin_write`) so concurrent writers queue on the lock
instead of failing half-way. On PostgreSQL, writers lock the case row with ``SELECT … FOR UPDATE``
and a version counter guards against lost updates. The engine only ever flushes: the caller (a web
request, a scheduler job, the CLI) owns the session and commits or rolls back.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

WRITE_OPTION = "tsunagu_write"
SQLITE_BUSY_TIMEOUT_MS = 60_000


def _sqlite_setup(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we emit BEGIN ourselves
        cur = dbapi_connection.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = "IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "DEFERRED"
        conn.exec_driver_sql(f"BEGIN {mode}")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine for ``url`` with the settings each backend needs."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60},
                               pool_size=20, max_overflow=60, **kwargs)
        _sqlite_setup(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = str(parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False))
    return create_engine(url, pool_pre_ping=True, pool_size=20, max_overflow=60, **kwargs)


def make_session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


def begin_write(session: Session) -> None:
    """Mark the session's transaction as a writer before its first statement.

    On SQLite this makes the transaction ``BEGIN IMMEDIATE``; on PostgreSQL it is a no-op (row locks
    do the work). Calling it after the transaction began is a programming error on SQLite.
    """
    if session.get_bind().dialect.name != "sqlite":
        return
    if session.in_transaction():
        if not session.connection().get_execution_options().get(WRITE_OPTION):
            raise RuntimeError("begin_write() called after a read transaction began")
        return
    session.connection(execution_options={WRITE_OPTION: True})


def is_postgresql(session: Session) -> bool:
    return session.get_bind().dialect.name == "postgresql"


@contextmanager
def transaction(factory: sessionmaker[Session], write: bool = False) -> Iterator[Session]:
    """A session whose transaction commits on success and rolls back on any exception."""
    session = factory()
    try:
        if write:
            begin_write(session)
        yield session
        session.commit()
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def savepoint_journal(key: str, undo: Callable[[Session, list[Any]], list[Any]]) -> None:
    """Keep the list ``session.info[key]`` in step with savepoints.

    When a savepoint rolls back, the entries appended to the list inside it are given to ``undo``,
    which undoes what they stand for and returns the entries to keep. Used by the audit trail (events
    recorded inside the savepoint go, refusals stay) and by engine.row_writes (objects written inside
    it reload from the database).
    """
    marks = f"{key}:savepoints"

    @event.listens_for(Session, "after_transaction_create")
    def _mark(session: Session, transaction: Any) -> None:
        if transaction.nested:
            session.info.setdefault(marks, {})[id(transaction)] = len(session.info.get(key, []))

    @event.listens_for(Session, "after_soft_rollback")
    def _rolled_back(session: Session, previous: Any) -> None:
        mark = session.info.get(marks, {}).pop(id(previous), None)
        if not previous.nested or mark is None:
            return
        entries = session.info.get(key, [])
        entries[mark:] = undo(session, entries[mark:])

    @event.listens_for(Session, "after_transaction_end")
    def _ended(session: Session, transaction: Any) -> None:
        if transaction.parent is None:
            session.info.pop(marks, None)
