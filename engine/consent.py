"""F3 本人同意書 as data: who the case is shared with, which information, for how long — and withdrawal.

A consent is created from the consent form's submission (an after-submission hook, see
:mod:`engine.hooks`) or by :func:`record_consent`. It lists recipient agencies (and, optionally, the
members of the 重層的支援会議), information categories and a period. :mod:`engine.policy` reads these
rows on every request, so an expired consent stops sharing by itself.

同意撤回 (:func:`withdraw`) takes effect on the next request: the recipients lose access, their open
tasks go to the coordinating office (or are cancelled by the process when it has a 同意撤回 message),
plan roles that rested on the consent are revoked and future 重層的支援会議 agenda items are pulled.
Nothing is deleted: the consent, its recipients and the audit trail stay as history.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import Any

import yaml
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from . import audit, clock, policy, runtime
from .actor import SYSTEM, Actor
from .db import begin_write
from .errors import Conflict, Invalid, NotAllowed
from .models import Agency, Case, CaseRole, Consent, ConsentRecipient, HumanTask, Meeting, MeetingCase, User
from .policy_matrix import MATRIX_FILE
from .users import agency_ids

ALL = "all"


@lru_cache(maxsize=1)
def config() -> dict[str, Any]:
    raw = yaml.safe_load(MATRIX_FILE.read_text(encoding="utf-8")) or {}
    return {key: raw.get(key) or {} for key in ("consent", "plan", "support_meeting")}


def _cfg(key: str) -> Any:
    return config()["consent"].get(key)


def _field(data: dict[str, Any], name: str) -> Any:
    for alias in (_cfg("fields") or {}).get(name, [name]):
        if alias in data and data[alias] not in (None, "", []):
            return data[alias]
    return None


def _codes(value: Any, key: str = "agency") -> list[str]:
    """Agency codes from a code, a list of codes, or table rows naming one."""
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    out: list[str] = []
    for item in value if isinstance(value, list) else [value]:
        if isinstance(item, dict):
            item = next((item[k] for k in (key, "agency", "code") if item.get(k)), None)
        if isinstance(item, str) and item:
            out.append(item)
    return out


def normalise_categories(value: Any) -> list[str]:
    """Category codes (basic, household …) from codes or their Japanese labels; unknown ones dropped."""
    known: dict[str, str] = _cfg("categories") or {}
    by_label = {label: code for code, label in known.items()}
    items = value if isinstance(value, list) else [value] if value else []
    return sorted({c for c in (v if v in known else by_label.get(str(v)) for v in items) if c})


def _moment(value: Any, default: datetime | None) -> datetime | None:
    if value is None or value == "":
        return default
    if isinstance(value, datetime):
        return clock.ensure_utc(value)
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return default
    if isinstance(value, date):
        return datetime.combine(value, time(0, 0), tzinfo=clock.TOKYO).astimezone(clock.UTC)
    return default


def _status(data: dict[str, Any]) -> str:
    """``active`` when the person consented, ``refused`` when they did not, else ``unconfirmed``."""
    value = _field(data, "given")
    if value is None:
        return "active" if _field(data, "recipients") else "unconfirmed"
    if value is True or str(value) in {str(v) for v in _cfg("given_values") or []}:
        return "active"
    return "refused" if value is False or str(value) in {str(v) for v in _cfg("refused_values") or []} \
        else "unconfirmed"


# Core statements: the consent of a form step is written inside the completion (engine/row_writes.py).
_INSERT_CONSENT = Consent.__table__.insert().returning(Consent.__table__.c.id)
_INSERT_RECIPIENTS = ConsentRecipient.__table__.insert()


def create_consent(session: Session, actor: Actor, case: Case, data: dict[str, Any],
                   record_id: int | None = None) -> Consent:
    """Store one consent from a submission's fields (no audit event: the submission has one)."""
    now = clock.now()
    status = _status(data)
    given = status == "active"
    codes = _codes(_field(data, "recipients")) if given else []
    agencies = agency_ids(session, codes)
    if unknown := [c for c in codes if c not in agencies]:
        raise Invalid({"recipients": [f"不明な機関です: {', '.join(unknown)}"]})
    valid_from = _moment(_field(data, "valid_from"), now) or now
    period = timedelta(days=int(_cfg("default_period_days") or 365))
    valid_until = _moment(_field(data, "valid_until"), valid_from + period)
    if valid_until is not None and valid_until < valid_from:
        raise Invalid({"valid_until": ["有効期限は同意日より後の日付にしてください。"]})
    categories = normalise_categories(_field(data, "categories")) if given else []
    values = {"case_id": case.id, "form_record_id": record_id, "subject_ref": "本人",
              "consenter": str(_field(data, "consenter") or "")[:40],
              "method": str(_field(data, "method") or "")[:40], "categories": categories,
              "status": status, "valid_from": valid_from, "valid_until": valid_until,
              "recorded_by_id": actor.user_id, "recorded_at": now, "withdrawn_at": None,
              "withdrawn_by_id": None, "withdrawal_record_id": None}
    connection = session.connection()
    consent = Consent(**values)
    consent.id = connection.execute(_INSERT_CONSENT, values).scalar_one()
    recipients = [{"consent_id": consent.id, "agency_id": agency_id, "kind": "agency", "withdrawn_at": None}
                  for agency_id in sorted(set(agencies.values()))]
    if given and _field(data, "meeting_members"):
        recipients.append({"consent_id": consent.id, "agency_id": None, "kind": "meeting_members",
                           "withdrawn_at": None})
    if recipients:
        connection.execute(_INSERT_RECIPIENTS, recipients)
    return consent


def on_consent_form(submission: Any) -> None:
    """After-submission hook of the F3 consent form."""
    create_consent(submission.session, submission.actor, submission.case, submission.data,
                   submission.record_id)


def on_withdrawal_form(submission: Any) -> None:
    """After-submission hook of the 同意撤回届: withdraw in the same transaction as the submission."""
    data = submission.data
    scope = _field(data, "withdraw_scope")
    partial = scope is not None and str(scope) not in {str(v) for v in _cfg("all_scope_values") or []}
    agencies = _codes(_field(data, "withdraw_agencies")) if partial else []
    categories = normalise_categories(_field(data, "withdraw_categories")) if partial else []
    if partial and not agencies:
        narrow_categories(submission.session, submission.case, categories)
        return
    apply_withdrawal(submission.engine, submission.session, submission.actor, submission.case,
                     agency_codes=agencies or None, record_id=submission.record_id)


def narrow_categories(session: Session, case: Case, categories: list[str]) -> None:
    """A partial withdrawal of information categories: active consents stop sharing them."""
    for row in _open_consents(session, case.id, None):
        row.categories = [c for c in row.categories or [] if c not in categories]
    session.flush()


@audit.guarded("consent.record", "case", "case_id")
def record_consent(session: Session, actor: Actor, case_id: int, data: dict[str, Any]) -> Consent:
    """Record a consent outside a form step (API, data migration); one ``consent.record`` event."""
    case = _writable_case(session, actor, case_id, "consent.record")
    consent = create_consent(session, actor, case, data)
    audit.record(session, actor, "consent.record", "consent", str(consent.id), case_id=case.id,
                 detail={"recipients": len(_recipient_ids(session, consent.id)),
                         "categories": consent.categories})
    return consent


def _writable_case(session: Session, actor: Actor, case_id: int, action: str) -> Case:
    """The case, locked like every write to it (so a withdrawal and a completion never interleave)."""
    begin_write(session)
    policy.visible_case(session, actor, case_id)
    if not policy.decide(session, actor, action, case_id):
        raise NotAllowed(f"{action} is not allowed on case {case_id}")
    return runtime.lock_case(session, case_id)


def _recipient_ids(session: Session, consent_id: int) -> list[int]:
    return list(session.scalars(select(ConsentRecipient.id).where(ConsentRecipient.consent_id == consent_id)))


@dataclass
class WithdrawalResult:
    consent_ids: list[int]
    lost_agency_ids: list[int]
    tasks_reassigned: list[int]
    agenda_pulled: list[int]
    message_sent: bool


@audit.guarded("consent.withdraw", "case", "case_id")
def withdraw(engine: Any, session: Session, actor: Actor, case_id: int, *, consent_id: int | None = None,
             agency_codes: list[str] | None = None) -> WithdrawalResult:
    """同意撤回 outside a form step: everything (default) or only some recipients; one audit event."""
    case = _writable_case(session, actor, case_id, "consent.withdraw")
    if not _open_consents(session, case.id, consent_id):
        # nothing to withdraw: the case's flow is left alone (no 同意撤回 message interrupts support)
        result = WithdrawalResult([], [], [], [], False)
    else:
        result = apply_withdrawal(engine, session, actor, case, consent_id=consent_id,
                                  agency_codes=agency_codes)
    audit.record(session, actor, "consent.withdraw", "case", str(case.id), case_id=case.id,
                 detail={"consents": result.consent_ids, "agencies": result.lost_agency_ids,
                         "tasks": result.tasks_reassigned, "agenda": result.agenda_pulled,
                         "message": result.message_sent})
    return result


def _open_consents(session: Session, case_id: int, consent_id: int | None) -> list[Consent]:
    stmt = select(Consent).where(Consent.case_id == case_id, Consent.status == "active")
    if consent_id is not None:
        stmt = stmt.where(Consent.id == consent_id)
    return list(session.scalars(stmt.order_by(Consent.id)))


def apply_withdrawal(engine: Any, session: Session, actor: Actor, case: Case, *,
                     consent_id: int | None = None, agency_codes: list[str] | None = None,
                     record_id: int | None = None) -> WithdrawalResult:
    """Withdraw consents of ``case`` and apply the consequences, in the caller's transaction."""
    now = clock.now()
    consents = _open_consents(session, case.id, consent_id)
    ids = [c.id for c in consents]
    withdrawn: set[int] = set()
    if agency_codes:
        named = set(agency_ids(session, agency_codes).values())
        rows = session.scalars(select(ConsentRecipient).where(ConsentRecipient.consent_id.in_(ids),
                                                              ConsentRecipient.agency_id.in_(named),
                                                              ConsentRecipient.withdrawn_at.is_(None)))
        for row in rows:
            row.withdrawn_at = now
            withdrawn.add(row.agency_id)
    else:
        for consent in consents:
            consent.status, consent.withdrawn_at, consent.withdrawn_by_id = "withdrawn", now, actor.user_id
            consent.withdrawal_record_id = record_id
        withdrawn = {a for a in session.scalars(select(ConsentRecipient.agency_id).where(
            ConsentRecipient.consent_id.in_(ids), ConsentRecipient.agency_id.is_not(None)))}
    session.flush()
    lost = sorted(withdrawn - _still_sharing(session, case))
    _revoke_plan_roles(session, case, lost, now)
    sent = _send_message(engine, session, actor, case) if not agency_codes else False
    tasks = _reassign_tasks(session, case, lost)
    pulled = _pull_agenda(session, case, now) if not _has_active_consent(session, case.id, now) else []
    session.flush()
    return WithdrawalResult(ids, lost, tasks, pulled, sent)


def sharing_agencies(session: Session, case_id: int) -> list[tuple[str, str]]:
    """(code, name) of the agencies an active consent of the case shares with (not withdrawn), for the
    case page's 同意撤回; no audit event: call it only for a case the caller has already read."""
    stmt = (select(Agency.code, Agency.name).join(ConsentRecipient, ConsentRecipient.agency_id == Agency.id)
            .join(Consent, Consent.id == ConsentRecipient.consent_id).distinct().order_by(Agency.code)
            .where(Consent.case_id == case_id, Consent.status == "active",
                   ConsentRecipient.withdrawn_at.is_(None)))
    return [(code, name) for code, name in session.execute(stmt)]


def has_active_consent(session: Session, case_id: int) -> bool:
    """Whether the case has a consent sharing data right now (the case page offers 同意撤回); no audit
    event: call it only for a case the caller has already read."""
    return _has_active_consent(session, case_id, clock.now())


def _has_active_consent(session: Session, case_id: int, now: datetime) -> bool:
    stmt = select(func.count()).select_from(Consent).join(Case, Case.id == Consent.case_id) \
        .where(Case.id == case_id, policy.active_consent(now))
    return bool(session.scalar(stmt))


def _still_sharing(session: Session, case: Case) -> set[int]:
    """Agencies that see the case whatever this consent: intake, coordinating office, other consents."""
    now = clock.now()
    keep = {case.intake_agency_id} if case.intake_agency_id else set()
    keep |= set(session.scalars(select(Agency.id).where(Agency.kind == policy.COORDINATING_KIND)))
    keep |= set(session.scalars(
        select(ConsentRecipient.agency_id).join(Consent, Consent.id == ConsentRecipient.consent_id)
        .join(Case, Case.id == Consent.case_id)
        .where(Case.id == case.id, policy.active_consent(now), ConsentRecipient.withdrawn_at.is_(None))))
    return {a for a in keep if a is not None}


def _revoke_plan_roles(session: Session, case: Case, lost: list[int], now: datetime) -> None:
    stmt = update(CaseRole).where(CaseRole.case_id == case.id, CaseRole.revoked_at.is_(None))
    if _has_active_consent(session, case.id, now):
        stmt = stmt.where(CaseRole.agency_id.in_(lost))
    session.execute(stmt.values(status="revoked", revoked_at=now, revoked_reason="consent_withdrawn")
                    .execution_options(synchronize_session=False))


def _coordinating_office_id(session: Session) -> int | None:
    stmt = select(Agency.id).where(Agency.kind == policy.COORDINATING_KIND).order_by(Agency.id)
    return session.scalar(stmt)


def _reassign_tasks(session: Session, case: Case, lost: list[int]) -> list[int]:
    """Open tasks of agencies that lost access go to the coordinating office's queue (unassigned)."""
    if not lost:
        return []
    staff = select(User.id).where(User.agency_id.in_(lost))
    rows = list(session.scalars(
        select(HumanTask).where(HumanTask.case_id == case.id, HumanTask.status == "open")
        .where((HumanTask.agency_id.in_(lost)) | (HumanTask.assignee_id.in_(staff)))
        .execution_options(populate_existing=True)))
    office = _coordinating_office_id(session)
    for row in rows:
        if row.agency_id in lost:
            row.role, row.agency_id = "coordinator", office
        row.assignee_id, row.claimed_at = None, None
    return [r.id for r in rows]


def _pull_agenda(session: Session, case: Case, now: datetime) -> list[int]:
    """Future 重層的支援会議 agenda items of the case are pulled (held meetings stay as history)."""
    items = list(session.scalars(
        select(MeetingCase).join(Meeting, Meeting.id == MeetingCase.meeting_id)
        .where(MeetingCase.case_id == case.id, MeetingCase.status == "planned", Meeting.kind == "plenary",
               Meeting.status == "planned", (Meeting.scheduled_at.is_(None)) | (Meeting.scheduled_at > now))))
    for item in items:
        item.status, item.pulled_at, item.pulled_reason = "pulled", now, "consent_withdrawn"
    return [i.id for i in items]


def _send_message(engine: Any, session: Session, actor: Actor, case: Case) -> bool:
    """Tell the case's process (its 同意撤回 message event) when it is waiting for it, in this transaction.

    The message is a consequence of the withdrawal, sent by the system; its audit event is folded
    into the withdrawal's own event so that the request records exactly one.
    """
    name = _cfg("withdrawal_message")
    if engine is None or not name:
        return False
    events = importlib.import_module("engine.events")
    with audit.folded(session):
        try:
            events.send_message(engine, session, SYSTEM, case.id, name, {"reason": "consent_withdrawn"})
        except Conflict:
            return False  # the process is not waiting for it now (already withdrawn, or finished)
    return True


@dataclass
class ConsentView:
    id: int
    status: str
    categories: list[str]
    recipients: list[str]
    meeting_members: bool
    valid_from: datetime
    valid_until: datetime | None
    withdrawn_at: datetime | None
    method: str


@audit.guarded("consent.read", "case", "case_id")
def list_consents(session: Session, actor: Actor, case_id: int) -> list[ConsentView]:
    """The case's consents with their recipients; one ``consent.read`` event."""
    case = policy.visible_case(session, actor, case_id)
    if not policy.decide(session, actor, "consent.read", case_id):
        raise NotAllowed(f"consent.read is not allowed on case {case_id}")
    names = dict(session.execute(select(Agency.id, Agency.name)).tuples().all())
    out = []
    for c in session.scalars(select(Consent).where(Consent.case_id == case.id).order_by(Consent.id)):
        rows = list(session.scalars(select(ConsentRecipient).where(ConsentRecipient.consent_id == c.id)))
        recipients = [names.get(r.agency_id, "") + ("（撤回）" if r.withdrawn_at else "")
                      for r in rows if r.agency_id]
        out.append(ConsentView(c.id, c.status, list(c.categories), recipients,
                               any(r.kind == "meeting_members" for r in rows), c.valid_from, c.valid_until,
                               c.withdrawn_at, c.method))
    audit.record(session, actor, "consent.read", "case", str(case.id), case_id=case.id)
    return out


def categories_for(session: Session, actor: Actor, case_id: int) -> set[str]:
    """Information categories the actor's agency may read on the case by its active consents."""
    if actor.agency_id is None:
        return set()
    now = clock.now()
    rows = session.scalars(
        select(Consent.categories).join(ConsentRecipient, ConsentRecipient.consent_id == Consent.id)
        .join(Case, Case.id == Consent.case_id)
        .where(Case.id == case_id, policy.active_consent(now), ConsentRecipient.agency_id == actor.agency_id,
               ConsentRecipient.withdrawn_at.is_(None)))
    return {c for cats in rows for c in (cats or [])}


def readable_forms(categories: set[str]) -> tuple[set[str], set[str], bool]:
    """(form keys readable with ``categories``, every listed form key, whether unlisted forms are readable).

    A record is readable when every category its form holds is consented; forms not listed in
    ``record_categories`` count as その他 (other).
    """
    table: dict[str, list[str]] = _cfg("record_categories") or {}
    allowed = {key for key, cats in table.items() if set(cats) <= categories}
    return allowed, set(table), "other" in categories
