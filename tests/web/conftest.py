"""Fixtures for the web tests: an app on the test database with the 10-step test process deployed,
users of several agencies and roles, and a logged-in test client per user (``as_user``)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from engine.settings import load_settings
from tests.support import factories
from tests.support.referral10 import FORMS_DIR, referral_files
from web import create_app
from web.state import state

TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class World:
    app: Flask
    people: dict[str, Any]

    def engine(self) -> Any:
        with self.app.app_context():
            return state().engine


def make_app(db: Any, secure: bool = False, **overrides: Any) -> Flask:
    values = {"database_url": db.url, "forms_dir": str(FORMS_DIR), "secret_key": "test-secret",
              "secure_cookies": secure, **overrides}
    settings = load_settings({}, **values)
    app = create_app(settings, db_engine=db.engine)
    # Strict audit: a data route that answers without exactly one audit event fails the test.
    app.config.update(TESTING=True, TSUNAGU_AUDIT_STRICT=True)
    return app


@pytest.fixture
def app(db) -> Flask:
    return make_app(db)


@pytest.fixture
def world(app, write) -> World:
    with app.app_context():
        engine = state().engine
    with write() as s:
        people = {
            "win": factories.actor(s, "window", "AG-WIN", "win"),
            "win2": factories.actor(s, "window", "AG-WIN", "win2"),
            "other": factories.actor(s, "window", "AG-OTHER", "other"),
            "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
            "csw": factories.actor(s, "csw", "AG-CSW", "csw"),
            "auditor": factories.actor(s, "auditor", "AG-JUSO", "auditor"),
        }
        factories.deploy(engine, s, referral_files())
    return World(app, people)


def csrf(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    found = TOKEN.search(page)
    assert found, f"no CSRF token on {path}"
    return found.group(1)


def login(client: FlaskClient, username: str, password: str = factories.PASSWORD) -> Any:
    token = csrf(client)
    return client.post("/login", data={"username": username, "password": password, "csrf_token": token})


@pytest.fixture
def as_user(world):
    """``as_user("win")`` → a test client logged in as that user."""

    def make(username: str) -> FlaskClient:
        client = world.app.test_client()
        response = login(client, username)
        assert response.status_code == 302, response.get_data(as_text=True)
        return client

    return make


def start_case(world: World, who: str = "win", process_id: str | None = None, **data: Any) -> Any:
    """Start a case through the engine (a fixture for tests that are about later steps)."""
    from engine.db import make_session_factory, transaction

    with world.app.app_context():
        st = state()
        with transaction(make_session_factory(st.db), write=True) as s:
            return factories.start(st.engine, s, world.people[who], data, process_id)


ALL_TYPES = """key: alltypes
title: 全項目フォーム（テスト）
description: すべての項目型を含むテスト用フォーム
fields:
  - {name: title, label: 件名, type: text, required: true, max_length: 20, help: 20文字以内}
  - {name: body, label: 内容, type: textarea}
  - {name: visit_on, label: 訪問日, type: date}
  - {name: visit_at, label: 訪問日時, type: datetime}
  - {name: count, label: 回数, type: integer, min: 0, max: 10}
  - {name: urgent, label: 緊急, type: boolean}
  - name: channel
    label: 経路
    type: choice
    choices: [{value: visit, label: 来所}, {value: phone, label: 電話}]
  - name: district
    label: 地区
    type: choice
    choices: [{value: a, label: 東}, {value: b, label: 西}, {value: c, label: 南}, {value: d, label: 北},
              {value: e, label: 中央}, {value: f, label: 一宮}]
  - name: issues
    label: 課題
    type: multichoice
    choices: [{value: money, label: 経済}, {value: care, label: 介護}, {value: health, label: 健康}]
  - {name: lead, label: 主担当機関, type: agency}
  - {name: partners, label: 連携機関, type: agency, multiple: true}
  - {name: csw, label: 担当CSW, type: user, role: csw}
  - name: roles
    label: 役割分担
    type: table
    exactly_one: main
    columns:
      - {name: agency, label: 機関, type: agency, required: true}
      - {name: role, label: 役割, type: text, required: true}
      - {name: main, label: 主担当, type: boolean}
      - {name: since, label: 開始日, type: date}
"""


def all_types_files() -> dict[str, bytes]:
    from tests.support.bpmn_builder import ProcessBuilder

    b = ProcessBuilder("all_types", "全項目テスト")
    b.start("start", "受付", form="intake")
    b.user("everything", "全項目の入力", form="alltypes", assignee="starter", due="3BD")
    b.user("after", "確認", form="note", assignee="starter")
    b.end("end", "終了")
    b.lane("窓口", "start", "everything", "after", "end")
    b.flow("start", "everything")
    b.flow("everything", "after")
    b.flow("after", "end")
    roles = "lanes:\n  窓口: window\nroles:\n  window: {agency: intake}\n  csw: {agency: any}\n"
    return {"all_types.bpmn": b.xml().encode(), "roles.yaml": roles.encode()}


@pytest.fixture
def typed_world(db, write, tmp_path) -> World:
    """An app whose forms include ``alltypes`` (every field type), with the all_types process deployed."""
    import shutil

    forms_dir = tmp_path / "forms"
    shutil.copytree(FORMS_DIR, forms_dir)
    (forms_dir / "alltypes.yaml").write_text(ALL_TYPES, encoding="utf-8")
    settings = load_settings(
        {}, database_url=db.url, forms_dir=str(forms_dir), secret_key="test-secret", secure_cookies=False
    )
    app = create_app(settings, db_engine=db.engine)
    app.config.update(TESTING=True)
    with app.app_context():
        engine = state().engine
    with write() as s:
        people = {
            "win": factories.actor(s, "window", "AG-WIN", "win"),
            "other": factories.actor(s, "window", "AG-OTHER", "other"),
            "csw": factories.actor(s, "csw", "AG-CSW", "csw"),
        }
        factories.agency(s, "AG-HOKEN", name="保健センター")
        factories.deploy(engine, s, all_types_files())
    return World(app, people)


class Api:
    """A JSON client with a bearer token (``tsunagu users api-token``) for one user."""

    def __init__(self, app: Flask, token: str) -> None:
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}

    def get(self, path: str, **kw: Any) -> Any:
        return self.client.get(f"/api/v1{path}", headers=self.headers, **kw)

    def post(self, path: str, body: Any = None, **kw: Any) -> Any:
        kwargs = {"json": body} if body is not None else {}
        return self.client.post(f"/api/v1{path}", headers=self.headers, **kwargs, **kw)


@pytest.fixture
def api(world, write):
    """``api("win")`` → an :class:`Api` client authenticated by a fresh token of that user."""
    from engine import users

    def make(username: str) -> Api:
        with write() as s:
            token = users.create_api_token(s, username)
        return Api(world.app, token)

    return make


@pytest.fixture
def real_app(db) -> Flask:  # type: ignore[no-untyped-def]
    """The app with the real processes/ and forms/ deployed and the demo users (tests.web.pathway)."""
    from tests.web.pathway import make_real_app

    return make_real_app(db)
