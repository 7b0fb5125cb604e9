"""After-submission hooks: domain records written when a form is submitted, in the same transaction.

Some submissions create rows beyond the form record itself: a consent (F3) becomes consent rows that
drive access, a monitoring note or an outreach contact becomes a record in its table. Hooks are
listed here by form key as ``"module:function"`` names, imported on first use (no import-time side
effects). A hook is called as ``hook(ctx)`` with a :class:`Submission` and may raise ``Invalid``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from .actor import Actor

# form key -> hook functions, called in order after the submission was validated and stored.
HOOKS: dict[str, list[str]] = {
    # access (docs/access.md); keep in step with consent / plan / support_meeting in engine/policy_matrix.yaml
    "consent": ["engine.consent:on_consent_form"],
    "consent_withdrawal": ["engine.consent:on_withdrawal_form"],
    "plan": ["engine.plan_roles:on_plan_form"],
    "meeting": ["engine.plan_roles:on_decision_form"],
    "decision": ["engine.plan_roles:on_decision_form"],
    "sm_convene": ["engine.compartments:on_convene_form", "engine.records:csw_joins_support_meeting"],
    # growing records of the pathway (engine/records.py)
    "outreach_register": ["engine.records:outreach_registered"],
    "outreach_contact": ["engine.records:outreach_contact"],
    "outreach_close": ["engine.records:outreach_closed"],
    "monitoring": ["engine.records:monitoring_recorded"],
    "participation_follow": ["engine.records:participation_followed"],
}


@dataclass
class Submission:
    engine: Any
    session: Session
    actor: Actor
    case: Any
    task: Any | None
    form_key: str
    data: dict[str, Any]
    record_id: int | None


_resolved: dict[str, Callable[[Submission], None]] = {}


def _resolve(name: str) -> Callable[[Submission], None]:
    fn = _resolved.get(name)
    if fn is None:
        module, attr = name.split(":")
        fn = _resolved[name] = getattr(importlib.import_module(module), attr)
    return fn


def after_submission(submission: Submission) -> None:
    for name in HOOKS.get(submission.form_key, []):
        _resolve(name)(submission)
