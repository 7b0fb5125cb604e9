"""Who is acting: the explicit principal every engine operation takes.

The engine never reads a web session. Callers (a web request, the scheduler, the CLI) build an
:class:`Actor` and pass it in, so the same rules apply whatever the entry point.
"""

from __future__ import annotations

from dataclasses import dataclass, field

ROLE_IDS = ("window", "coordinator", "csw", "agency_staff", "supervisor", "designer", "auditor", "admin")


@dataclass(frozen=True)
class Actor:
    """A user acting with their agency and roles. ``user_id`` is None only for the system itself."""

    user_id: int | None
    username: str
    display_name: str
    agency_id: int | None
    roles: frozenset[str] = field(default_factory=frozenset)
    request_id: str | None = None
    client_ip: str | None = None  # the web request's client address, recorded with its audit events

    def has_role(self, *roles: str) -> bool:
        return any(r in self.roles for r in roles)

    @property
    def is_system(self) -> bool:
        """The scheduler or the command line acting for the system (never a caller without an account,
        such as someone failing to log in)."""
        return self.user_id is None and "system" in self.roles

    @property
    def primary_role(self) -> str:
        for role in ROLE_IDS:
            if role in self.roles:
                return role
        return ""


SYSTEM = Actor(user_id=None, username="system", display_name="システム", agency_id=None,
               roles=frozenset({"system"}))
