"""The access gate of every route, and the last-resort record of refused requests.

* Before a handler runs, the endpoint's policy action (``routes`` in ``engine/policy_matrix.yaml``) is
  checked at role level: a logged-in user none of whose roles may ever do that action gets 404 for a
  case action, as if the page did not exist, and 403 for a page that is not about a case. ``public``
  routes are open; ``authenticated`` ones need a login (web.auth).
  Case-level checks stay in the engine, where every entry point passes.
* After the handler, a request answered 403 or 404 by a data route for which the engine recorded no
  refusal gets one denied audit event (action = the route's action), so every refused attempt is in
  the audit trail exactly once even when it rolls back.
"""

from __future__ import annotations

import logging

from flask import Flask, Response, abort, current_app, g, request

from engine import audit, policy

log = logging.getLogger("tsunagu.access")
OPEN = ("public", "authenticated")
STRICT_GLOBAL = ("inbox.read", "audit.read", "audit.export")
# Bulk routes record one event per object they act on (none when nothing was selected), not one per request.
BULK_ROUTES = ("supervisor.reassign",)


def _gate() -> None:
    endpoint = request.endpoint
    if endpoint is None:
        return
    action = policy.route_action(endpoint)
    actor = g.get("actor")
    if action is None:
        log.warning("route %s has no entry under routes in engine/policy_matrix.yaml", endpoint)
        if policy.matrix().unknown_routes == "deny" and actor is not None:
            _refuse(action or endpoint)
        return
    if action in OPEN or actor is None:
        return
    if not policy.role_may(actor, action):
        _refuse(action)


def _refuse(action: str) -> None:
    """404 for case actions (existence is never disclosed), 403 for pages that are not about a case."""
    from ..request_db import session
    spec = policy.matrix().actions.get(action)
    status = 403 if spec is not None and spec.scope == "global" else 404
    audit.deny(session(), g.actor, action, "route", request.endpoint or "", reason="role")
    abort(status)


def _record_refusal(response: Response) -> Response:
    if response.status_code not in (403, 404) or request.endpoint is None:
        return response
    actor, db = g.get("actor"), g.get("db_session")
    if actor is None or not request.view_args:
        return response
    if db is not None and audit.denied_recorded(db):
        return response
    from ..request_db import session
    action = policy.route_action(request.endpoint) or request.endpoint
    ids = {k: v for k, v in request.view_args.items() if isinstance(v, int)}
    audit.deny(session(), actor, action, "route", ",".join(f"{k}={v}" for k, v in sorted(ids.items()))[:80],
               case_id=ids.get("case_id"), task_id=ids.get("task_id"),
               reason="not_found" if response.status_code == 404 else "not_allowed")
    return response


def _data_route() -> bool:
    action = policy.route_action(request.endpoint)
    spec = policy.matrix().actions.get(action or "")
    return spec is not None and (spec.scope == "case" or action in STRICT_GLOBAL)


def _check_exactly_one(response: Response) -> Response:
    """Strict mode (tests): a data route that answered must have recorded exactly one audit event."""
    db = g.get("db_session")
    if not current_app.config.get("TSUNAGU_AUDIT_STRICT"):
        return response
    status = response.status_code
    if g.get("actor") is None or not _data_route() or (status >= 400 and status not in (403, 404)):
        return response
    if request.endpoint in BULK_ROUTES:
        return response
    recorded = audit.recorded_count(db) if db is not None else 0
    if recorded != 1:
        raise AssertionError(f"{request.method} {request.endpoint} answered {response.status_code} with "
                             f"{recorded} audit events (exactly one expected)")
    return response


def init_access(app: Flask) -> None:
    """Install the gate and the refusal record; ``TSUNAGU_AUDIT_STRICT`` in the app config (tests) also
    checks that every data request recorded exactly one audit event."""
    app.before_request(_gate)
    app.after_request(_check_exactly_one)
    app.after_request(_record_refusal)
