"""Growing case records, written by after-submission hooks, and read back for the case page.

Repetition that lasts for years — アウトリーチ contacts, monitoring cycles, 参加支援 follow-ups — is
modelled in the diagrams as loops that do not grow the task tree, and what each round records goes
into a table here (:mod:`engine.models.records`), never into a list in task data (engine-notes §4.2).
The hooks are registered by form key in :data:`engine.hooks.HOOKS`:

* ``outreach_register`` / ``outreach_contact`` / ``outreach_close`` → ``outreach_contacts`` and, when
  the stage moves, ``outreach_stage_changes`` (①把握 … ⑦安定・終結);
* ``monitoring`` → ``monitoring_records``; ``participation_follow`` → ``participation_followups``;
* ``sm_convene`` (支援会議の招集), after :mod:`engine.compartments` opened the 支援会議 compartment: the
  case's CSW, who carries out the outreach, joins it as a member for this case (while the case is
  confidential only members and the coordinating office see it).

Hooks run inside the completion's transaction, only flush, and record no audit event of their own
(the completion has one). :func:`case_records` reads everything back with one ``record.read`` event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from . import audit, clock, policy
from .actor import Actor
from .models import (
    Meeting,
    MeetingCase,
    MeetingMember,
    MonitoringRecord,
    OutreachContact,
    OutreachStageChange,
    ParticipationFollowup,
)

CONTACT_MADE = ("talk", "meeting")


def _date(value: Any) -> date | None:
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        return date.fromisoformat(value[:10])
    return None


def _datetime(value: Any) -> datetime:
    if isinstance(value, str) and value:
        parsed = datetime.fromisoformat(value)
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=clock.TOKYO)
        return clock.ensure_utc(parsed)
    return clock.now()


def _code(value: Any) -> str:
    return str(value or "")[:30]


def _last_stage(session: Session, case_id: int) -> str:
    return (
        session.scalar(
            select(OutreachStageChange.to_stage)
            .where(OutreachStageChange.case_id == case_id)
            .order_by(OutreachStageChange.id.desc())
            .limit(1)
        )
        or ""
    )


def _stage(sub: Any, stage: Any, on: date | None) -> None:
    stage = _code(stage)
    previous = _last_stage(sub.session, sub.case.id)
    if not stage or stage == previous:
        return
    sub.session.add(
        OutreachStageChange(
            case_id=sub.case.id,
            form_record_id=sub.record_id,
            from_stage=previous,
            to_stage=stage,
            changed_on=on or clock.now().astimezone(clock.TOKYO).date(),
            changed_by_id=sub.actor.user_id,
            changed_at=clock.now(),
        )
    )
    sub.session.flush()


def outreach_registered(sub: Any) -> None:
    """Hook of ``outreach_register``: the first stage of the outreach."""
    _stage(sub, sub.data.get("stage"), _date(sub.data.get("found_on")))


def outreach_contact(sub: Any) -> None:
    """Hook of ``outreach_contact``: one contact attempt, and its stage change if any."""
    data = sub.data
    at = _datetime(data.get("contact_at"))
    sub.session.add(
        OutreachContact(
            case_id=sub.case.id,
            form_record_id=sub.record_id,
            contact_at=at,
            method=_code(data.get("method")),
            result=_code(data.get("result")),
            contact_made=data.get("result") in CONTACT_MADE,
            safety_checked=bool(data.get("safety_checked")),
            stage=_code(data.get("stage")),
            next_date=_date(data.get("next_date")),
            recorded_by_id=sub.actor.user_id,
            recorded_at=clock.now(),
        )
    )
    sub.session.flush()
    _stage(sub, data.get("stage"), at.astimezone(clock.TOKYO).date())


def outreach_closed(sub: Any) -> None:
    """Hook of ``outreach_close``: the stage the outreach ended at."""
    _stage(sub, sub.data.get("stage"), None)


def monitoring_recorded(sub: Any) -> None:
    """Hook of ``monitoring``: one monitoring cycle."""
    data = sub.data
    sub.session.add(
        MonitoringRecord(
            case_id=sub.case.id,
            form_record_id=sub.record_id,
            done_on=_date(data.get("done_on")) or clock.now().astimezone(clock.TOKYO).date(),
            method=_code(data.get("method")),
            judgement=_code(data.get("judgement")),
            new_issue=bool(data.get("new_issue")),
            next_date=_date(data.get("next_date")),
            recorded_by_id=sub.actor.user_id,
            recorded_at=clock.now(),
        )
    )
    sub.session.flush()


def participation_followed(sub: Any) -> None:
    """Hook of ``participation_follow``: one 定着支援・受入先フォロー."""
    data = sub.data
    sub.session.add(
        ParticipationFollowup(
            case_id=sub.case.id,
            form_record_id=sub.record_id,
            element_id=(sub.task.element_id if sub.task is not None else "")[:200],
            followed_on=_date(data.get("followed_on")) or clock.now().astimezone(clock.TOKYO).date(),
            targets=[_code(t) for t in data.get("targets") or []],
            status=_code(data.get("status")),
            judgement=_code(data.get("judgement")),
            recorded_by_id=sub.actor.user_id,
            recorded_at=clock.now(),
        )
    )
    sub.session.flush()


def csw_joins_support_meeting(sub: Any) -> None:
    """Hook of ``sm_convene``, after the compartment hook (engine/compartments.py) opened the 支援会議:
    the case's CSW, who carries out the outreach the meeting may decide, becomes a member for this case."""
    session, case = sub.session, sub.case
    if not case.csw_user_id:
        return
    meeting_id = session.scalar(
        select(Meeting.id)
        .join(MeetingCase, MeetingCase.meeting_id == Meeting.id)
        .where(MeetingCase.case_id == case.id, MeetingCase.status != "pulled", Meeting.kind == "support")
        .order_by(Meeting.id.desc())
        .limit(1)
    )
    if meeting_id is None:
        return
    member = session.scalar(
        select(MeetingMember.id).where(
            MeetingMember.meeting_id == meeting_id,
            MeetingMember.user_id == case.csw_user_id,
            MeetingMember.removed_at.is_(None),
        )
    )
    if member is None:
        session.add(
            MeetingMember(
                meeting_id=meeting_id,
                user_id=case.csw_user_id,
                case_id=case.id,
                added_by_id=sub.actor.user_id,
                added_at=clock.now(),
            )
        )
        session.flush()


@dataclass
class CaseRecords:
    outreach_contacts: list[dict[str, Any]] = field(default_factory=list)
    outreach_stages: list[dict[str, Any]] = field(default_factory=list)
    monitoring: list[dict[str, Any]] = field(default_factory=list)
    participation: list[dict[str, Any]] = field(default_factory=list)


def _rows(
    session: Session, model: Any, case_id: int, order: Any, columns: tuple[str, ...]
) -> list[dict[str, Any]]:
    return [
        {c: getattr(r, c) for c in columns}
        for r in session.scalars(select(model).where(model.case_id == case_id).order_by(order, model.id))
    ]


@audit.guarded("record.read", "case", "case_id")
def case_records(session: Session, actor: Actor, case_id: int) -> CaseRecords:
    """The case's contact log, outreach stages, monitoring cycles and follow-ups; one ``record.read``
    audit event."""
    case = policy.visible_case(session, actor, case_id, "record.read")
    result = CaseRecords(
        outreach_contacts=_rows(
            session,
            OutreachContact,
            case.id,
            OutreachContact.contact_at,
            (
                "id",
                "form_record_id",
                "contact_at",
                "method",
                "result",
                "contact_made",
                "safety_checked",
                "stage",
                "next_date",
            ),
        ),
        outreach_stages=_rows(
            session,
            OutreachStageChange,
            case.id,
            OutreachStageChange.id,
            ("id", "form_record_id", "from_stage", "to_stage", "changed_on"),
        ),
        monitoring=_rows(
            session,
            MonitoringRecord,
            case.id,
            MonitoringRecord.done_on,
            ("id", "form_record_id", "done_on", "method", "judgement", "new_issue", "next_date"),
        ),
        participation=_rows(
            session,
            ParticipationFollowup,
            case.id,
            ParticipationFollowup.followed_on,
            ("id", "form_record_id", "element_id", "followed_on", "targets", "status", "judgement"),
        ),
    )
    audit.record(
        session,
        actor,
        "record.read",
        "case",
        str(case.id),
        case_id=case.id,
        detail={"records": {k: len(v) for k, v in vars(result).items()}},
    )
    return result
