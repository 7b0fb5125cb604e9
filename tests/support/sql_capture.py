"""Watching the SQL a session sends (tests that check which statements a write does or avoids)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import event
from sqlalchemy.orm import Session


@dataclass
class Sent:
    statement: str
    executemany: bool


@contextmanager
def captured(session: Session) -> Iterator[list[Sent]]:
    """The statements the session's engine sends to the database while the block runs."""
    sent: list[Sent] = []
    bind = session.get_bind()

    def listener(_conn, _cursor, statement, _parameters, _context, executemany) -> None:  # noqa: ANN001
        sent.append(Sent(statement, executemany))

    event.listen(bind, "before_cursor_execute", listener)
    try:
        yield sent
    finally:
        event.remove(bind, "before_cursor_execute", listener)
