"""Valid submissions for every form of the pathway (fictional data), with per-test overrides.

``payload("plan", participation="start")`` returns a complete, valid plan. Dates are computed from the
engine clock (the frozen clock in tests), so timers that read them behave the same on every run.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from engine import clock

WINDOW_AGENCY = "HOKATSU-CHUBU"
JUSO = "JUSO"
SHAKYO = "SHAKYO"
LEAD = "HOKEN"
CSW_USER = "csw1"
COORD_USER = "coord1"


def today(days: int = 0) -> str:
    return (clock.now().astimezone(clock.TOKYO).date() + timedelta(days=days)).isoformat()


def now_local(days: int = 0) -> str:
    return (clock.now().astimezone(clock.TOKYO) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def _forms() -> dict[str, dict[str, Any]]:
    consented = {
        "status": "written",
        "consenter": "試験 花子",
        "consenter_relation": "self",
        "purpose": "包括的な支援の検討・実施、重層的支援会議での協議のため",
        "recipients": [JUSO, SHAKYO, LEAD],
        "include_meeting_members": True,
        "categories": ["basic", "household", "history"],
        "method": "paper",
        "explained_by": CSW_USER,
        "consent_date": today(),
        "valid_until": today(365),
        "signature": "signed_paper",
    }
    return {
        "intake": {
            "received_at": now_local(),
            "route": "family",
            "channel": "visit",
            "subject_name": "試験 花子",
            "subject_kana": "しけん はなこ",
            "school_district": "中部",
            "problems": ["care", "income"],
            "primary_problem": "care",
            "narrative": "（架空）親の介護と家計の相談",
            "urgency": "low",
            "household": [{"name": "試験 一郎", "relation": "父", "age": 82, "living": "together"}],
        },
        "emergency_record": {
            "acted_at": now_local(),
            "actions": ["supervisor"],
            "detail": "（架空）上長へ報告",
            "supervisor_notified": True,
        },
        "window_response": {"action": "refer", "response": "（架空）課題を整理した"},
        "consent": consented,
        "referral": {
            "referred_on": today(),
            "referring_agency": WINDOW_AGENCY,
            "referring_worker": "窓口 担当",
            "destination": JUSO,
            "reason": "（架空）複合的な課題",
            "fields": ["elderly", "poverty"],
            "patterns": ["p8050"],
            "history": "（架空）窓口で2回面談",
            "consent_status": "written",
        },
        "acceptance": {"decision": "accept_consent", "accepted_on": today(), "csw": CSW_USER},
        "returned": {"action": "resolve", "response": "（架空）窓口で継続支援"},
        "sm_screening": {
            "raised_by": "coordinator",
            "reason": "（架空）同意が得られない",
            "risk": "medium",
            "decision": "meeting",
        },
        "sm_convene": {
            "meeting_at": now_local(7),
            "place": "会議室A",
            "chair": "福祉部長（架空）",
            "members": [
                {"name": "構成員 一", "affiliation": "保健センター", "kind": "agency", "user": COORD_USER},
                {"name": "構成員 二", "affiliation": "民生委員", "kind": "resident"},
            ],
        },
        "sm_record": {
            "held_at": now_local(),
            "chair": "福祉部長（架空）",
            "attendees": [
                {"name": "構成員 一", "affiliation": "保健センター", "confidentiality": "acknowledged"}
            ],
            "explained_at": now_local(),
            "sources": [{"agency": "保健センター", "information": "健診未受診"}],
            "facts": "（架空）",
            "risk": "（架空）",
            "support_plan": "（架空）CSW が訪問",
            "decision": "outreach",
            "materials_collected": "collected",
        },
        "nc_close": {"result": "resolved", "note": "（架空）"},
        "sm_consider": {"decision": "raise", "note": "（架空）訪問しても本人に会えない"},
        "outreach_register": {
            "found_via": "support_meeting",
            "found_on": today(),
            "basis": "support_meeting",
            "stage": "identified",
            "approach": "（架空）月1回の訪問",
        },
        "outreach_contact": {
            "contact_at": now_local(),
            "method": "visit",
            "result": "absent",
            "stage": "attempting",
            "next_step": "continue",
            "next_date": today(30),
        },
        "outreach_close": {"result": "consent_obtained", "stage": "consulting", "summary": "（架空）"},
        "consent_withdrawal": {
            "withdrawn_on": today(),
            "scope": "all",
            "taken_by": COORD_USER,
            "risk_remains": False,
            "note": "（架空）",
        },
        "assessment": {
            "assessed_on": today(),
            "household": [{"relation": "父", "age": 82}],
            "domains": ["care", "finance"],
            "domain_notes": "（架空）",
            "patterns": ["p8050"],
            "wishes": "（架空）",
            "issues": [{"issue": "介護負担", "priority": "high"}],
            "formulation": "（架空）",
            "risk": "medium",
            "provenance": [{"item": "世帯", "source": "self", "basis": "consent"}],
        },
        "plan": {
            "version": 1,
            "created_on": today(),
            "period_start": today(),
            "period_end": today(180),
            "wishes": "（架空）",
            "direction": "（架空）",
            "long_term_goal": "（架空）",
            "goals": [{"goal": "介護サービスの利用"}],
            "actions": [
                {"issue": "介護", "action": "サービス調整", "agency": LEAD, "lead": True},
                {"issue": "家計", "action": "家計相談", "agency": SHAKYO, "lead": False},
            ],
            "lead_agency": LEAD,
            "participation": "none",
            "outreach": "none",
            "monitoring_interval": "P1M",
            "evaluation_date": today(180),
        },
        "meeting": {
            "meeting_no": "R8-01",
            "held_at": now_local(),
            "mode": "in_person",
            "convenor": SHAKYO,
            "chair": "司会（架空）",
            "recorder": "記録（架空）",
            "attendees": [{"name": "出席 一", "affiliation": "保健センター", "confidentiality": "confirmed"}],
            "consent_confirmed": "confirmed",
            "agenda_type": "plan",
            "discussion": "（架空）",
            "decision": "approve",
            "decided_on": today(),
            "approved_by": "係長（架空）",
        },
        "plan_consent": {
            "explained_on": today(),
            "signed": "signed",
            "signed_on": today(),
            "signature": "signed_paper",
        },
        "support_start": {
            "started_on": today(),
            "roles_confirmed": "confirmed",
            "lead_worker": "保健師（架空）",
        },
        "monitoring": {
            "done_on": today(),
            "method": "visit",
            "targets": ["person"],
            "action_status": [{"action": "サービス調整", "status": "done"}],
            "goal_progress": [{"goal": "介護サービスの利用", "progress": "working"}],
            "judgement": "continue",
            "next_date": today(30),
        },
        "evaluation": {
            "evaluated_on": today(),
            "goal_results": [{"goal": "介護サービスの利用", "achievement": "achieved"}],
            "agency_view": "（架空）",
            "overall": "（架空）",
            "conclusion": "close",
            "meeting_ref": "R8-02",
        },
        "closing": {
            "closed_on": today(),
            "reason": "goal_met",
            "lead_agency": LEAD,
            "reconsult": "福祉相談センター中部",
        },
        "case_exit": {"reason": "moved", "occurred_on": today(), "note": "（架空）"},
        "participation_needs": {"needs": "（架空）", "activities": ["place"]},
        "participation_menu": {
            "menu": "（架空）",
            "approach": "（架空）",
            "candidates": [{"name": "サロン（架空）", "kind": "salon"}],
        },
        "participation_matching": {
            "host": "サロン（架空）",
            "host_kind": "salon",
            "activity": "居場所",
            "info_scope": ["basic"],
            "matched_on": today(),
            "person_consent": "agreed",
        },
        "participation_start": {"started_on": today(), "schedule": "毎週水曜 午後"},
        "participation_follow": {
            "followed_on": today(),
            "targets": ["person", "host"],
            "status": "regular",
            "judgement": "continue",
        },
    }


def payload(form_key: str, **overrides: Any) -> dict[str, Any]:
    data = dict(_forms()[form_key])
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def days_from(start: date, days: int) -> str:
    return (start + timedelta(days=days)).isoformat()
