"""A database lease so that exactly one scheduler sweeps, whatever the number of processes and hosts.

The lease is one row of ``scheduler_lease``. A scheduler that holds it renews it every interval; a
second scheduler finds it held and waits, retrying each interval, and takes it over when it expires
(``scheduler_lease_seconds`` after the holder's last renewal). A holder on the same host whose
process no longer exists (it was killed) is taken over at once. Correctness never depends on the
lease alone: escalations and notifications are unique in the database, and cases are locked, so
even two sweeps at once could not duplicate anything; the lease only keeps the work in one place.
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

from .. import clock
from ..db import is_postgresql, transaction
from ..models import SchedulerLease

log = logging.getLogger("tsunagu.scheduler")

NAME = "scheduler"


def new_holder_id() -> str:
    """``host:pid:token``: unique per scheduler instance, readable in the lease row."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


def _dead_on_this_host(holder: str) -> bool:
    host, _, rest = holder.partition(":")
    pid_text = rest.partition(":")[0]
    if host != socket.gethostname()[:120] or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _insert(session: Session):  # type: ignore[no-untyped-def]
    return (postgresql.insert if is_postgresql(session) else sqlite.insert)(SchedulerLease)


class Lease:
    """The lease as seen by one scheduler instance."""

    def __init__(
        self, sessions: sessionmaker[Session], ttl_seconds: int, holder: str | None = None, name: str = NAME
    ) -> None:
        self.sessions, self.name = sessions, name
        self.ttl = timedelta(seconds=max(1, ttl_seconds))
        self.holder = holder or new_holder_id()
        self.held_until: datetime | None = None
        self.other: str | None = None

    def acquire(self) -> bool:
        """Take or renew the lease; True if this instance holds it now."""
        now = clock.now()
        expires = now + self.ttl
        with transaction(self.sessions, write=True) as session:
            inserted = session.scalar(
                _insert(session)
                .values(
                    name=self.name, holder=self.holder, acquired_at=now, renewed_at=now, expires_at=expires
                )
                .on_conflict_do_nothing()
                .returning(SchedulerLease.name)
            )
            held = inserted is not None
            if not held:
                stmt = (
                    select(SchedulerLease)
                    .where(SchedulerLease.name == self.name)
                    .execution_options(populate_existing=True)
                )
                if is_postgresql(session):
                    stmt = stmt.with_for_update()
                row = session.scalar(stmt)
                mine = row.holder == self.holder
                if mine or row.expires_at <= now or _dead_on_this_host(row.holder):
                    if not mine:
                        row.acquired_at = now
                        log.info("scheduler lease taken over from an expired or stopped holder")
                    row.holder, row.renewed_at, row.expires_at = self.holder, now, expires
                    held = True
                else:
                    if self.other != row.holder:
                        log.info("scheduler lease is held by %s; waiting", row.holder)
                    self.other = row.holder
        self.held_until = expires if held else None
        if held:
            self.other = None
        return held

    def held(self) -> bool:
        """Whether this instance may sweep now (it renewed the lease and it has not run out)."""
        return self.held_until is not None and clock.now() < self.held_until

    def remaining(self) -> timedelta:
        return self.held_until - clock.now() if self.held_until is not None else timedelta(0)

    def release(self) -> None:
        """Give the lease up (clean shutdown) so another scheduler can take it at once."""
        if self.held_until is None:
            return
        self.held_until = None
        with transaction(self.sessions, write=True) as session:
            session.execute(
                update(SchedulerLease)
                .where(SchedulerLease.name == self.name, SchedulerLease.holder == self.holder)
                .values(expires_at=clock.now())
            )


def current_holder(session: Session, name: str = NAME) -> SchedulerLease | None:
    """The lease row (who holds it and until when), for status displays."""
    return session.get(SchedulerLease, name)
