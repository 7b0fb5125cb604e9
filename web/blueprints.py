"""Registers every blueprint of the web app (one line per room of the product)."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from .api.health import bp as health_bp
    from .home import bp as home_bp

    app.register_blueprint(health_bp)
    app.register_blueprint(home_bp)
