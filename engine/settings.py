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
from pathlib import Path
from typing import Any

from .errors import EngineError

ROOT = Path(__file__).resolve().parent.parent


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
    demo_password: str = ""
    log_level: str = "INFO"

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def replace(self, **changes: Any) -> EngineSettings:
        return dataclasses.replace(self, **changes)


def _coerce(name: str, raw: Any, current: Any) -> Any:
    if isinstance(raw, str) and not isinstance(current, str):
        try:
            raw = json.loads(raw)
        except json.JSONDecodeError as exc:
            raise SettingsError(f"TSUNAGU_{name.upper()}: not valid JSON ({exc.msg})") from exc
    if isinstance(current, bool):
        if not isinstance(raw, bool):
            raise SettingsError(f"{name}: expected true or false")
        return raw
    if isinstance(current, int):
        if not isinstance(raw, int) or isinstance(raw, bool):
            raise SettingsError(f"{name}: expected an integer")
        return raw
    if isinstance(current, tuple):
        if not isinstance(raw, list | tuple) or not all(isinstance(v, str) for v in raw):
            raise SettingsError(f"{name}: expected a list of strings")
        return tuple(raw)
    if isinstance(current, Mapping):
        if not isinstance(raw, Mapping) or not all(isinstance(v, str) for v in raw.values()):
            raise SettingsError(f"{name}: expected an object of strings")
        return dict(raw)
    return str(raw)


def load_settings(environ: Mapping[str, str] | None = None, config_file: str | Path | None = None,
                  **overrides: Any) -> EngineSettings:
    """Build settings from defaults, the instance TOML file, ``TSUNAGU_*`` variables and overrides."""
    environ = environ or {}
    defaults = EngineSettings()
    values: dict[str, Any] = {}
    path = Path(config_file or environ.get("TSUNAGU_CONFIG") or ROOT / "instance" / "tsunagu.toml")
    if path.is_file():
        try:
            file_values = tomllib.loads(path.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as exc:
            raise SettingsError(f"{path}: {exc}") from exc
        values.update(file_values)
    for f in dataclasses.fields(EngineSettings):
        key = f"TSUNAGU_{f.name.upper()}"
        if key in environ:
            values[f.name] = environ[key]
    values.update(overrides)
    known = {f.name for f in dataclasses.fields(EngineSettings)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise SettingsError(f"unknown setting(s): {', '.join(unknown)}")
    coerced = {k: _coerce(k, v, getattr(defaults, k)) for k, v in values.items()}
    return EngineSettings(**coerced)
