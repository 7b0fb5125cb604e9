"""The engine object: settings plus the parts every operation needs, built once per process.

:func:`build_engine` is called by the web app factory, the scheduler and the CLI; nothing is built
at import time. Operations live in their own modules (:mod:`engine.cases`, :mod:`engine.tasks`,
:mod:`engine.inbox` …) and take the engine, an SQLAlchemy session and an :class:`~engine.actor.Actor`.
"""

from __future__ import annotations

from dataclasses import dataclass

from .bpmn.script_engine import SafeScriptEngine
from .businessdays import BusinessCalendar
from .errors import DefinitionError
from .formdefs import FormRegistry, load_forms
from .runtime_cache import SpecCache, WorkflowCache
from .settings import EngineSettings


@dataclass
class Engine:
    settings: EngineSettings
    forms: FormRegistry
    calendar: BusinessCalendar
    script_engine: SafeScriptEngine
    specs: SpecCache
    workflows: WorkflowCache


def build_engine(settings: EngineSettings, forms: FormRegistry | None = None) -> Engine:
    """Load form definitions and the business calendar; raise DefinitionError on bad forms."""
    if forms is None:
        forms, problems = load_forms(settings.forms_dir)
        if problems:
            raise DefinitionError(problems)
    calendar = BusinessCalendar(settings.closure_days)
    return Engine(settings=settings, forms=forms, calendar=calendar,
                  script_engine=SafeScriptEngine(calendar, settings.expression_time_limit_ms / 1000.0),
                  specs=SpecCache(), workflows=WorkflowCache(settings.case_cache_size))
