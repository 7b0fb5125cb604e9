"""Registers every blueprint of the web app (one line per room of the product)."""

from __future__ import annotations

from flask import Flask


def register_blueprints(app: Flask) -> None:
    from .api import bp as api_bp
    from .audit import bp as audit_bp
    from .cases import bp as cases_bp
    from .inbox import bp as inbox_bp
    from .intake import bp as intake_bp
    from .notifications import bp as notifications_bp
    from .notifications.api import bp as notifications_api_bp
    from .supervisor import bp as supervisor_bp
    from .supervisor.api import bp as supervisor_api_bp
    from .tasks import bp as tasks_bp

    app.register_blueprint(audit_bp)  # 監査ログ; also installs the access gate of every route (web/audit)
    app.register_blueprint(api_bp)
    app.register_blueprint(inbox_bp)
    app.register_blueprint(intake_bp)
    app.register_blueprint(tasks_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(supervisor_bp)
    app.register_blueprint(supervisor_api_bp)
    app.register_blueprint(notifications_bp)
    app.register_blueprint(notifications_api_bp)
