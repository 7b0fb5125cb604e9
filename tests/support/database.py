"""Test databases: a fresh PostgreSQL database per test session (or a SQLite file), wiped per test.

``TSUNAGU_TEST_BACKEND=postgresql`` (set by ``make test`` for its second pass, with the server from
``TSUNAGU_TEST_DATABASE_URL``) selects PostgreSQL; the default is SQLite. Nothing is mocked.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from engine.db import make_engine
from engine.migrate import upgrade
from engine.models import Base

DEFAULT_PG = "postgresql://postgres@127.0.0.1:5432/postgres"


def backend() -> str:
    return os.environ.get("TSUNAGU_TEST_BACKEND", "sqlite")


def _admin_url() -> str:
    return os.environ.get("TSUNAGU_TEST_DATABASE_URL") or DEFAULT_PG


class TestDatabase:
    """One migrated database for the test session; :meth:`reset` empties it between tests."""

    __test__ = False  # not a test class, although its name starts with Test

    def __init__(self, tmp_dir: Path) -> None:
        self.backend = backend()
        self.tmp_dir = tmp_dir
        if self.backend == "postgresql":
            self.name = f"tsunagu_test_{uuid.uuid4().hex[:10]}"
            admin = make_url(_admin_url()).set(drivername="postgresql+psycopg")
            self._admin = create_engine(admin, isolation_level="AUTOCOMMIT")
            with self._admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{self.name}"'))
            self.url = admin.set(database=self.name).render_as_string(hide_password=False)
        else:
            self.name = "tsunagu_test.db"
            self.url = f"sqlite:///{tmp_dir / self.name}"
        self.engine: Engine = make_engine(self.url)
        upgrade(self.engine)
        if self.backend == "sqlite":
            self.engine.dispose()
            self._template = tmp_dir / "template.db"
            shutil.copy(tmp_dir / self.name, self._template)

    def reset(self) -> None:
        if self.backend == "sqlite":
            self.engine.dispose()
            for suffix in ("-wal", "-shm"):
                (self.tmp_dir / (self.name + suffix)).unlink(missing_ok=True)
            shutil.copy(self._template, self.tmp_dir / self.name)
            return
        tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
        with self.engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))

    def drop(self) -> None:
        self.engine.dispose()
        if self.backend == "postgresql":
            with self._admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
            self._admin.dispose()
