"""Shared fixtures: the test database (SQLite or PostgreSQL), sessions, the engine, a frozen clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from argon2 import PasswordHasher
from sqlalchemy.orm import Session, sessionmaker

from engine import clock, users
from engine.core import Engine, build_engine
from engine.db import make_session_factory, transaction
from engine.formdefs import load_forms
from engine.settings import load_settings
from tests.support.database import TestDatabase
from tests.support.log_capture import pytest_collection_modifyitems, pytest_configure, pytest_unconfigure  # noqa: F401, E501 - whole-run log capture (tests/test_log_canary.py)
from tests.support.referral10 import FORMS_DIR

users.use_hasher(PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))


@pytest.fixture(scope="session")
def test_database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestDatabase]:
    database = TestDatabase(tmp_path_factory.mktemp("db"))
    yield database
    database.drop()


@pytest.fixture
def db(test_database: TestDatabase) -> Iterator[TestDatabase]:
    """A clean, migrated database for this test."""
    test_database.reset()
    yield test_database


@pytest.fixture
def session_factory(db: TestDatabase) -> sessionmaker[Session]:
    return make_session_factory(db.engine)


@pytest.fixture
def write(session_factory: sessionmaker[Session]):
    """``with write() as s:`` — a write transaction that commits on success."""
    return lambda: transaction(session_factory, write=True)


@pytest.fixture
def read(session_factory: sessionmaker[Session]):
    return lambda: transaction(session_factory)


@pytest.fixture
def settings(db: TestDatabase):
    return load_settings({}, database_url=db.url, forms_dir=str(FORMS_DIR))


@pytest.fixture
def engine(settings) -> Engine:
    forms, problems = load_forms(settings.forms_dir)
    assert not problems, problems
    return build_engine(settings, forms)


@pytest.fixture
def frozen_clock() -> Iterator[clock.FrozenClock]:
    frozen = clock.FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))  # 火 10:00 JST
    previous = clock.use(frozen)
    yield frozen
    clock.use(previous)
