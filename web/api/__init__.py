"""The JSON API under /api/v1: marshmallow schemas out, problem+json errors, OpenAPI generated.

Callers authenticate with a bearer token (``tsunagu users api-token``) or the browser session
(then state-changing calls carry the ``X-CSRFToken`` header). What the caller may not see is 404.
Route modules attach their views to :data:`bp` and describe them with :func:`web.api.spec.doc`.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api", __name__, url_prefix="/api/v1")

from . import cases, catalog, health, openapi, tasks  # noqa: E402,F401 - attach the routes to bp
