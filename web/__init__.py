"""Tsunagu's web app: ``create_app`` builds it (config, engine, database, security, blueprints).

Imports go one way: ``web`` → ``engine``. Handlers load → check access → call the engine → render;
queries and business rules live in the engine.
"""

from __future__ import annotations

import logging
import os
import secrets
from pathlib import Path

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from engine.core import build_engine
from engine.db import make_engine, make_session_factory
from engine.settings import ROOT, EngineSettings, load_settings

from .auth import init_auth
from .errors import init_errors
from .filters import init_filters
from .request_db import init_request_db
from .security import init_security
from .state import WebState, init_state


def _secret_key(settings: EngineSettings) -> str:
    if settings.secret_key:
        return settings.secret_key
    path = ROOT / "instance" / "secret_key"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


class DatabaseInt(IntegerConverter):
    """``<int:…>`` in every route: a number that fits an SQL INTEGER, so a huge id is a 404 and never
    a database error (PostgreSQL refuses out-of-range integers)."""

    def __init__(self, url_map, fixed_digits: int = 0, min: int | None = None,  # type: ignore[no-untyped-def]  # noqa: A002
                 max: int | None = 2**31 - 1, signed: bool = False) -> None:  # noqa: A002
        super().__init__(url_map, fixed_digits, min, max, signed)


def create_app(settings: EngineSettings | None = None, *, db_engine=None) -> Flask:  # type: ignore[no-untyped-def]
    """Build the app; ``settings`` default to the layered configuration (file < TSUNAGU_* env)."""
    settings = settings or load_settings(os.environ)
    app = Flask(__name__, instance_path=str(Path(ROOT / "instance")), instance_relative_config=False)
    app.config.update(SECRET_KEY=_secret_key(settings), JSON_AS_ASCII=False, TEMPLATES_AUTO_RELOAD=False)
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.url_map.converters["int"] = DatabaseInt
    logging.getLogger("SpiffWorkflow").setLevel(logging.WARNING)  # DEBUG would log task data
    logging.getLogger("spiff").setLevel(logging.WARNING)
    db = db_engine or make_engine(settings.database_url)
    init_state(app, WebState(engine=build_engine(settings), db=db, sessions=make_session_factory(db)))
    init_security(app, settings.secure_cookies)
    if settings.trusted_proxies > 0:  # the client address comes from X-Forwarded-For, set by the proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=settings.trusted_proxies)  # type: ignore[method-assign]
    init_request_db(app)
    init_errors(app)
    init_filters(app)
    init_auth(app)
    from .blueprints import register_blueprints
    register_blueprints(app)
    return app
