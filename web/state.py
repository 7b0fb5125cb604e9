"""What the web app holds for its lifetime: the engine, the database engine and session factory."""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import Engine as DbEngine
from sqlalchemy.orm import Session, sessionmaker

from engine.core import Engine


@dataclass
class WebState:
    engine: Engine
    db: DbEngine
    sessions: sessionmaker[Session]


def init_state(app: Flask, state: WebState) -> None:
    app.extensions["tsunagu"] = state


def state() -> WebState:
    return current_app.extensions["tsunagu"]
