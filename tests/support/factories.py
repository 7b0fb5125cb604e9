"""Factories for agencies, users, actors, deployments and cases (tests only; fictional data)."""

from __future__ import annotations

import itertools
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from engine import cases, definitions, users
from engine.actor import SYSTEM, Actor
from engine.core import Engine
from engine.models import Agency

PASSWORD = "test-password-123"
_counter = itertools.count(1)


def agency(
    session: Session, code: str | None = None, kind: str = "window_elderly", name: str | None = None
) -> Agency:
    code = code or f"AG{next(_counter):03d}"
    existing = session.scalar(select(Agency).where(Agency.code == code))
    if existing is not None:
        return existing
    return users.create_agency(session, code, name or f"テスト機関{code}", kind)


def actor(
    session: Session,
    role: str = "window",
    agency_code: str | None = "AG-WIN",
    username: str | None = None,
    roles: list[str] | None = None,
    kind: str | None = None,
) -> Actor:
    """Create a user with ``role`` (or ``roles``) in ``agency_code`` and return it as an Actor."""
    if agency_code:
        agency(
            session,
            agency_code,
            kind or {"coordinator": "coordinating_office", "csw": "csw_office"}.get(role, "window_elderly"),
        )
    username = username or f"{role}{next(_counter)}"
    user = users.create_user(session, username, f"テスト {username}", PASSWORD, roles or [role], agency_code)
    return users.actor_for(user)


def deploy(engine: Engine, session: Session, files: dict[str, bytes]) -> definitions.DeployResult:
    return definitions.deploy_bundle(engine, session, SYSTEM, files)


def start(
    engine: Engine,
    session: Session,
    who: Actor,
    data: dict[str, Any] | None = None,
    process_id: str | None = None,
) -> cases.StartResult:
    payload = {"subject_name": "試験 太郎", "urgency": "low", "narrative": "テストの相談内容"}
    payload.update(data or {})
    return cases.start_case(engine, session, who, payload, process_id)
