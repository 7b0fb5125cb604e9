"""The one error hierarchy of the engine.

Every failure the engine reports to its callers is an :class:`EngineError`. The web layer maps
each subclass to an HTTP status and a Japanese message in exactly one place (``web/errors.py``);
the engine itself never mentions status codes. Messages here are for developers and operators:
they name ids and reasons, never personal data.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


class EngineError(Exception):
    """Base class of every error the engine raises on purpose."""

    code = "engine_error"

    def __init__(self, message: str = "", **context: object) -> None:
        super().__init__(message or self.__class__.__name__)
        self.message = message or self.__class__.__name__
        self.context = context


class NotFound(EngineError):
    """The object does not exist, or the actor may not know that it exists (answered as 404)."""

    code = "not_found"


class NotAllowed(EngineError):
    """The actor may see the object but may not perform this action on it."""

    code = "not_allowed"


class Conflict(EngineError):
    """Somebody acted first: the task was completed or claimed by someone else, or the case changed.

    ``by`` is the display name of who acted first and ``at`` when, so the user can be told
    「既に X さんが T に完了しています」.
    """

    code = "conflict"

    def __init__(
        self,
        message: str = "",
        *,
        by: str | None = None,
        at: datetime | None = None,
        reason: str = "conflict",
        **context: object,
    ) -> None:
        super().__init__(message, **context)
        self.by = by
        self.at = at
        self.reason = reason


class Invalid(EngineError):
    """A submission failed validation. ``errors`` maps field names to lists of Japanese messages."""

    code = "invalid"

    def __init__(
        self, errors: dict[str, list[str]] | dict, message: str = "入力内容に誤りがあります"
    ) -> None:
        super().__init__(message)
        self.errors = errors


@dataclass
class Problem:
    """One problem found in a process definition: file, line, element id and a plain reason."""

    file: str
    line: int | None
    element_id: str | None
    reason: str
    code: str = "invalid"

    def __str__(self) -> str:
        where = self.file
        if self.line:
            where += f":{self.line}"
        if self.element_id:
            where += f" [{self.element_id}]"
        return f"{where}: {self.reason}"


@dataclass
class DefinitionError(EngineError):
    """A BPMN bundle or form definition cannot be deployed; ``problems`` says why, each named."""

    problems: list[Problem] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__("; ".join(str(p) for p in self.problems[:5]) or "invalid definition")

    code = "definition_invalid"


class ProcessError(EngineError):
    """The workflow could not advance (no gateway condition matched, an expression failed...).

    The transaction is rolled back, so the task stays open; ``element_id`` names where it failed.
    """

    code = "process_error"

    def __init__(self, message: str, *, element_id: str | None = None, **context: object) -> None:
        super().__init__(message, **context)
        self.element_id = element_id


class ExpressionError(EngineError):
    """An expression is unsafe, malformed, too costly, or failed when evaluated."""

    code = "expression_error"
