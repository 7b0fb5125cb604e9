"""Configuration: one frozen :class:`EngineSettings`, layered defaults < instance file < environment.

``load_settings(environ)`` is the only place that reads configuration. The instance file is TOML
(``instance/tsunagu.toml`` by default, or the path in ``TSUNAGU_CONFIG``); every field can be set
from the environment as ``TSUNAGU_<FIELD>`` (upper case). Values for list and dict fields are JSON,
e.g. ``TSUNAGU_DUE_OVERRIDES='{"*": "PT2S"}'``. Nothing is read at import time.
"""

from __future__ import annotations

import dataclasses
import json
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from .businessdays import BusinessCalendar
from .durations import NotationError, is_literal, parse_duration
from .errors import EngineError

ROOT = Path(__file__).resolve().parent.parent
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class SettingsError(EngineError):
    code = "settings_invalid"


@dataclass(frozen=True)
class EngineSettings:
    database_url: str = f"sqlite:///{ROOT / 'instance' / 'tsunagu.db'}"
    processes_dir: str = str(ROOT / "processes")
    forms_dir: str = str(ROOT / "forms")
    secret_key: str = ""
    # Business days: Japanese national holidays (jpholiday) plus these closure days, as "MM-DD"
    # or "MM-DD..MM-DD" ranges that may wrap the year end (年末年始 12-29..01-03).
    closure_days: tuple[str, ...] = ("12-29..01-03",)
    # BPMN element id -> ISO 8601 duration or business-day notation; "*" applies to every step.
    due_overrides: Mapping[str, str] = field(default_factory=dict)
    reminder_lead: str = "2BD"
    escalation_second_level_days: int = 3
    inactivity_days: int = 30
    scheduler_interval_seconds: int = 15
    scheduler_lease_seconds: int = 60
    expression_time_limit_ms: int = 1000
    max_bpmn_bytes: int = 2 * 1024 * 1024
    case_cache_size: int = 512
    base_url: str = "http://127.0.0.1:5000"
    smtp_host: str = ""
    smtp_port: int = 25
    smtp_sender: str = "tsunagu@example.invalid"
    session_idle_minutes: int = 15
    session_absolute_hours: int = 8
    secure_cookies: bool = True
    # How many reverse proxies in front of the app set X-Forwarded-For (0: none; the client address
    # recorded in audit events is then the socket's peer).
    trusted_proxies: int = 0
    demo_password: str = ""
    log_level: str = "INFO"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def replace(self, **changes: Any) -> EngineSettings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, current: Any, source: str) -> Any:  # noqa: C901, PLR0912 - one branch per type
    where = f"{source} {name}" if source != "environment" else f"TSUNAGU_{name.upper()}"
    if isinstance(raw, str) and not isinstance(current, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"{where}: not valid JSON ({exc.msg}): {raw[:60]!r}") from exc
    if isinstance(current, bool):
        if not isinstance(raw, bool):
            raise SettingsError(f"{where}: expected true or false, got {raw!r}")
        return raw
    if isinstance(current, int):
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise SettingsError(f"{where}: expected a whole number, got {raw!r}")
        if raw < 0:
            raise SettingsError(f"{where}: must not be negative, got {raw}")
        return raw
    if isinstance(current, tuple):
        if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
            raise SettingsError(f"{where}: expected a list of strings, got {raw!r}")
        return tuple(raw)
    if isinstance(current, Mapping):
        if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
            raise SettingsError(f"{where}: expected an object of strings, got {raw!r}")
        return dict(raw)
    if isinstance(raw, PurePath):
        return str(raw)
    if not isinstance(raw, str):
        raise SettingsError(f"{where}: expected text, got {raw!r}")
    return raw


def _check(settings: EngineSettings, sources: dict[str, str]) -> None:
    """Values that parse but mean nothing: bad closure days, due overrides, log levels."""
    def where(name: str) -> str:
        source = sources.get(name, "default")
        return f"TSUNAGU_{name.upper()}" if source == "environment" else f"{source} {name}"

    try:
        BusinessCalendar(settings.closure_days)
    except ValueError as exc:
        raise SettingsError(f"{where('closure_days')}: {exc}") from None
    overrides = where("due_overrides")
    checks = [(f"{overrides}[{element!r}]", text) for element, text in settings.due_overrides.items()]
    for label, text in [*checks, (where("reminder_lead"), settings.reminder_lead)]:
        if not is_literal(text) and not is_literal(text, "date"):
            try:
                parse_duration(text)
            except NotationError as exc:
                raise SettingsError(f"{label}: {exc}") from None
    if settings.log_level.upper() not in LOG_LEVELS:
        raise SettingsError(f"{where('log_level')}: expected one of {', '.join(LOG_LEVELS)}, "
                            f"got {settings.log_level!r}")


def load_settings(environ: Mapping[str, str] | None = None, config_file: str | Path | None = None,
                  **overrides: Any) -> EngineSettings:
    """Build settings from defaults, the instance TOML file, ``TSUNAGU_*`` variables and overrides.

    A config file named explicitly (``config_file`` or ``TSUNAGU_CONFIG``) must exist; the default
    ``instance/tsunagu.toml`` is optional. Every bad value raises :class:`SettingsError` naming the
    variable or file key.
    """
    environ = environ or {}
    defaults = EngineSettings()
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    explicit = config_file or environ.get("TSUNAGU_CONFIG")
    path = Path(explicit or ROOT / "instance" / "tsunagu.toml")
    if explicit and not path.is_file():
        raise SettingsError(f"configuration file {path} not found")
    if path.is_file():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
            raise SettingsError(f"{path}: {exc}") from exc
        values.update(file_values)
        sources.update(dict.fromkeys(file_values, path.name))
    for f in dataclasses.fields(EngineSettings):
        key = f"TSUNAGU_{f.name.upper()}"
        if key in environ:
            values[f.name] = environ[key]
            sources[f.name] = "environment"
    values.update(overrides)
    sources.update(dict.fromkeys(overrides, "argument"))
    known = {f.name for f in dataclasses.fields(EngineSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        in_file = any(sources.get(u) == path.name for u in unknown)
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}"
                            + (f" in {path.name}" if in_file else ""))
    coerced = {k: _coerce(k, v, getattr(defaults, k), sources[k]) for k, v in values.items()}
    settings = EngineSettings(**coerced)
    _check(settings, sources)
    return settings
