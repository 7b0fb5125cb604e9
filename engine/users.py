"""Users, agencies, passwords (argon2), API tokens and login throttling.

Passwords are hashed with argon2id; API tokens are random, shown once, and stored as SHA-256.
After :data:`MAX_FAILURES` failed logins for one username within :data:`FAILURE_WINDOW`, further
attempts are refused until the window passes, whatever the password.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, event, func, select
from sqlalchemy.orm import Session

from . import clock
from .actor import ROLE_IDS, Actor
from .errors import Conflict, Invalid, NotAllowed, NotFound
from .formschema import Lookups
from .models import Agency, ApiToken, LoginAttempt, User, UserRole

HASHER = PasswordHasher()


def use_hasher(hasher: PasswordHasher) -> None:
    """Swap the password hasher (tests use cheap parameters; production keeps argon2's defaults)."""
    global HASHER  # noqa: PLW0603
    HASHER = hasher
MAX_FAILURES = 10
FAILURE_WINDOW = timedelta(minutes=5)
MIN_PASSWORD = 10
_DUMMY_HASH = HASHER.hash("tsunagu-timing-equaliser")


@dataclass(frozen=True)
class UserInfo:
    id: int
    username: str
    display_name: str
    roles: tuple[str, ...]
    agency_code: str | None
    agency_name: str | None
    active: bool


def actor_for(user: User, request_id: str | None = None, client_ip: str | None = None) -> Actor:
    return Actor(user_id=user.id, username=user.username, display_name=user.display_name,
                 agency_id=user.agency_id, roles=user.roles, request_id=request_id, client_ip=client_ip)


def info(user: User) -> UserInfo:
    return UserInfo(user.id, user.username, user.display_name, tuple(sorted(user.roles)),
                    user.agency.code if user.agency else None, user.agency.name if user.agency else None,
                    user.active)


def create_agency(session: Session, code: str, name: str, kind: str) -> Agency:
    agency = Agency(code=code, name=name, kind=kind)
    session.add(agency)
    session.flush()
    return agency


def check_password_strength(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise Invalid({"password": [f"パスワードは{MIN_PASSWORD}文字以上にしてください。"]})


def create_user(session: Session, username: str, display_name: str, password: str, roles: list[str],
                agency_code: str | None) -> User:
    unknown = [r for r in roles if r not in ROLE_IDS]
    if unknown:
        raise Invalid({"roles": [f"不明な役割です: {', '.join(unknown)}"]})
    check_password_strength(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise Conflict(f"user {username!r} already exists", reason="exists")
    agency_id = None
    if agency_code:
        agency_id = session.scalar(select(Agency.id).where(Agency.code == agency_code))
        if agency_id is None:
            raise NotFound(f"agency {agency_code!r} not found")
    user = User(username=username, display_name=display_name, password_hash=HASHER.hash(password),
                agency_id=agency_id, created_at=clock.now())
    user.role_rows = [UserRole(role=r) for r in sorted(set(roles))]
    session.add(user)
    session.flush()
    return user


def get_user(session: Session, username: str) -> User:
    user = session.scalar(select(User).where(User.username == username))
    if user is None:
        raise NotFound(f"user {username!r} not found")
    return user


def set_password(session: Session, username: str, password: str) -> None:
    check_password_strength(password)
    user = get_user(session, username)
    user.password_hash = HASHER.hash(password)
    user.session_epoch += 1
    session.flush()


def _throttled(session: Session, username: str) -> bool:
    since = clock.now() - FAILURE_WINDOW
    count = session.scalar(select(func.count()).select_from(LoginAttempt)
                           .where(LoginAttempt.username == username, LoginAttempt.at >= since))
    return (count or 0) >= MAX_FAILURES


def login_attempt_actor(session: Session, username: str, request_id: str | None = None,
                        client_ip: str | None = None) -> Actor:
    """Who a refused login is recorded as: no account, no roles; the username only when an account has it
    (a password typed into the username field by mistake must not reach the audit trail)."""
    username = (username or "")[:80]
    known = username and session.scalar(select(User.id).where(User.username == username)) is not None
    return Actor(user_id=None, username=username if known else "(不明)", display_name="", agency_id=None,
                 roles=frozenset(), request_id=request_id, client_ip=client_ip)


def authenticate(session: Session, username: str, password: str) -> User:
    """Return the active user for these credentials; NotAllowed for any failure (same message)."""
    username = (username or "")[:80]
    if _throttled(session, username):
        raise NotAllowed("too many failed logins", reason="throttled")
    user = session.scalar(select(User).where(User.username == username))
    ok = False
    try:
        ok = HASHER.verify(user.password_hash if user and user.password_hash else _DUMMY_HASH, password or "")
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or user is None or not user.active:
        session.add(LoginAttempt(username=username, at=clock.now()))
        session.flush()
        raise NotAllowed("invalid credentials", reason="invalid")
    session.execute(delete(LoginAttempt).where(LoginAttempt.username == username))
    if HASHER.check_needs_rehash(user.password_hash):
        user.password_hash = HASHER.hash(password)
    return user


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_api_token(session: Session, username: str) -> str:
    user = get_user(session, username)
    token = "tsg_" + secrets.token_urlsafe(32)
    session.add(ApiToken(user_id=user.id, token_hash=_token_hash(token), created_at=clock.now()))
    session.flush()
    return token


def user_for_token(session: Session, token: str) -> User | None:
    if not token or len(token) > 200:
        return None
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == _token_hash(token),
                                                ApiToken.revoked_at.is_(None)))
    if row is None:
        return None
    user = session.get(User, row.user_id)
    return user if user is not None and user.active else None


def list_users(session: Session) -> list[UserInfo]:
    return [info(u) for u in session.scalars(select(User).order_by(User.username))]


class _OnDemand(dict):  # type: ignore[type-arg]
    """A mapping filled one key at a time from the database, as validation asks for it."""

    def __init__(self, fetch: Any) -> None:
        super().__init__()
        self._fetch = fetch
        self._absent: set[Any] = set()

    def fill(self, keys: set[str], fetch_many: Any) -> None:
        """Fetch every key not known yet in one query (``fetch_many`` → {key: value})."""
        wanted = {k for k in keys if k not in self._absent and not dict.__contains__(self, k)}
        if not wanted:
            return
        found = fetch_many(wanted)
        dict.update(self, found)
        self._absent.update(wanted - set(found))

    def _load(self, key: Any) -> None:
        if key in self._absent or dict.__contains__(self, key):
            return
        value = self._fetch(key)
        if value is None:
            self._absent.add(key)
        else:
            dict.__setitem__(self, key, value)

    def __contains__(self, key: object) -> bool:
        if not isinstance(key, str):
            return False
        self._load(key)
        return dict.__contains__(self, key)

    def __getitem__(self, key: Any) -> Any:
        self._load(key)
        return dict.__getitem__(self, key)

    def get(self, key: Any, default: Any = None) -> Any:
        if not isinstance(key, str):
            return default
        self._load(key)
        return dict.get(self, key, default)


# Built once with expanding parameters: validation runs these on every completion that names an
# agency or a user, and a statement built anew is walked again for its cache key each time.
_AGENCIES_NAMED = (select(Agency.code, Agency.name, Agency.id)
                   .where(Agency.code.in_(bindparam("codes", expanding=True)), Agency.active.is_(True)))
# session.info key: agency code → id of the agencies this session looked up. A code names one agency
# row for good, so after-submission hooks (consent recipients, plan roles) reuse what validation found.
AGENCY_IDS = "tsunagu_agency_ids"


def known_agency_ids(session: Session) -> dict[str, int]:
    return session.info.setdefault(AGENCY_IDS, {})


_AGENCY_IDS = select(Agency.code, Agency.id).where(Agency.code.in_(bindparam("codes", expanding=True)))


def agency_ids(session: Session, codes: list[str]) -> dict[str, int]:
    """Agency code → id for the codes that name an agency (validation of the submission usually found
    them already: :func:`known_agency_ids`)."""
    known = known_agency_ids(session)
    missing = sorted({c for c in codes if c not in known})
    if missing:
        known.update(session.connection().execute(_AGENCY_IDS, {"codes": missing}).tuples().all())
    return {c: known[c] for c in codes if c in known}


@event.listens_for(Session, "after_transaction_end")
def _forget_agency_ids(session: Session, _transaction: Any) -> None:
    """Kept for one transaction (or savepoint) only: an agency created in a rolled-back one is gone."""
    session.info.pop(AGENCY_IDS, None)
_USERS_NAMED = (select(User.username, User.display_name, UserRole.role)
                .outerjoin(UserRole, UserRole.user_id == User.id)
                .where(User.username.in_(bindparam("usernames", expanding=True)), User.active.is_(True)))


def submission_lookups(session: Session) -> Lookups:
    """Lookups for validating one submission: each agency or user it names is looked up by its unique
    key when validation asks (a form names a few; loading every agency and user cost more)."""
    def agencies_named(codes: set[str]) -> dict[str, str]:
        rows = session.connection().execute(_AGENCIES_NAMED, {"codes": sorted(codes)}).all()
        known_agency_ids(session).update((code, agency_id) for code, _name, agency_id in rows)
        return {code: name for code, name, _id in rows}

    def users_named(usernames: set[str]) -> dict[str, tuple[str, frozenset[str]]]:
        names: dict[str, str] = {}
        roles: dict[str, set[str]] = {}
        for username, display_name, role in session.connection().execute(
                _USERS_NAMED, {"usernames": sorted(usernames)}):
            names[username] = display_name
            bucket = roles.setdefault(username, set())
            if role is not None:
                bucket.add(role)
        return {u: (names[u], frozenset(roles[u])) for u in names}

    agencies = _OnDemand(lambda code: agencies_named({code}).get(code))
    people = _OnDemand(lambda username: users_named({username}).get(username))

    def prefetch(codes: set[str], usernames: set[str]) -> None:
        agencies.fill(codes, agencies_named)
        people.fill(usernames, users_named)

    return Lookups(agencies=agencies, users=people, prefetch=prefetch)


def lookups(session: Session) -> Lookups:
    """What agency and user form fields may name (active agencies and users)."""
    agencies = {code: name for code, name in
                session.execute(select(Agency.code, Agency.name).where(Agency.active.is_(True)))}
    names: dict[str, str] = {}
    roles: dict[str, set[str]] = {}
    rows = session.execute(select(User.username, User.display_name, UserRole.role)
                           .outerjoin(UserRole, UserRole.user_id == User.id).where(User.active.is_(True)))
    for username, display_name, role in rows:  # plain rows: no ORM identity map or relationship loads
        names[username] = display_name
        bucket = roles.setdefault(username, set())
        if role is not None:
            bucket.add(role)
    return Lookups(agencies=agencies, users={u: (names[u], frozenset(roles[u])) for u in names})
