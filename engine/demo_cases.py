"""Fictional demo cases parked at each major step of the pathway, driven through the real engine API.

Every case is started with :func:`engine.cases.start_case` and moved on with
:func:`engine.tasks.complete` and :func:`engine.events.fire_due_timers`, so its state is genuine. The
engine clock is set back while a case is played (each case starts some days ago and its timers fire
as the days pass) and restored afterwards, so due dates and monitoring dates look lived-in. All names
and facts are invented. Used by :func:`engine.demo.load_demo_cases` (``tsunagu demo``, ``make run``).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from . import case_notes, cases, clock, events, tasks, users
from .actor import Actor
from .core import Engine
from .models import Agency, Case, HumanTask, User

JUSO, SHAKYO, LEAD = "JUSO", "SHAKYO", "HOKEN"
STEP_TIME = timedelta(hours=20)
Step = tuple[str, Any, dict[str, Any]]


def _day(days: int = 0) -> str:
    return (clock.now().astimezone(clock.TOKYO).date() + timedelta(days=days)).isoformat()


def _at(days: int = 0) -> str:
    return (clock.now().astimezone(clock.TOKYO) + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def _forms(window_agency: str, csw: str) -> dict[str, dict[str, Any]]:
    """A complete, valid submission per form (fictional), computed on the (demo) engine clock."""
    # fmt: off
    return {
        "window_response": {"action": "refer",
                            "response": "課題を整理し、多機関での支援が必要と判断した。"},
        "emergency_record": {"acted_at": _at(), "actions": ["supervisor"],
                             "detail": "上長へ報告し、当日訪問した。"},
        "consent": {"status": "written", "consenter_relation": "self", "consenter": "本人",
                    "purpose": "包括的な支援の検討・実施、重層的支援会議での協議のため",
                    "recipients": [JUSO, SHAKYO, LEAD], "include_meeting_members": True,
                    "categories": ["basic", "household", "history"], "method": "paper", "explained_by": csw,
                    "consent_date": _day(), "valid_until": _day(365), "signature": "signed_paper"},
        "referral": {"referred_on": _day(), "referring_agency": window_agency, "referring_worker": "窓口担当",
                     "destination": JUSO, "reason": "介護と家計の課題が重なり、一つの窓口では難しい。",
                     "fields": ["elderly", "poverty"], "patterns": ["p8050"],
                     "history": "窓口で2回面談した。",
                     "consent_status": "written"},
        "acceptance": {"decision": "accept_consent", "accepted_on": _day(), "csw": csw},
        "assessment": {"assessed_on": _day(), "domains": ["care", "finance", "social"],
                       "household": [{"relation": "本人", "age": 52}, {"relation": "母", "age": 81}],
                       "domain_notes": "母の介護と就労の両立が難しい。", "patterns": ["p8050"],
                       "wishes": "母と暮らし続けたい。", "formulation": "介護負担の軽減と就労の再開。",
                       "issues": [{"issue": "介護負担", "priority": "high"},
                                  {"issue": "収入", "priority": "medium"}],
                       "risk": "medium",
                       "provenance": [{"item": "世帯", "source": "self", "basis": "consent"}]},
        "plan": {"version": 1, "created_on": _day(), "period_start": _day(), "period_end": _day(180),
                 "wishes": "母と暮らし続けたい。",
                 "direction": "介護サービスの利用と就労支援を並行して進める。",
                 "long_term_goal": "安定した生活の継続", "goals": [{"goal": "介護サービスを利用する"}],
                 "actions": [{"issue": "介護", "action": "サービス調整", "agency": LEAD, "lead": True},
                             {"issue": "家計", "action": "家計相談", "agency": SHAKYO}],
                 "lead_agency": LEAD, "participation": "none", "outreach": "none",
                 "monitoring_interval": "P1M",
                 "evaluation_date": _day(180)},
        "meeting": {"meeting_no": "デモ-01", "held_at": _at(), "mode": "in_person", "convenor": SHAKYO,
                    "chair": "社協 CSW", "recorder": "推進室", "consent_confirmed": "confirmed",
                    "attendees": [{"name": "保健師", "affiliation": "保健センター",
                                   "confidentiality": "confirmed"}],
                    "agenda_type": "plan", "discussion": "役割分担を確認した。", "decision": "approve",
                    "decided_on": _day(), "approved_by": "推進室 係長"},
        "plan_consent": {"explained_on": _day(), "signed": "signed", "signed_on": _day(),
                         "signature": "signed_paper"},
        "support_start": {"started_on": _day(), "roles_confirmed": "confirmed", "lead_worker": "保健師"},
        "monitoring": {"done_on": _day(), "method": "visit", "targets": ["person"],
                       "action_status": [{"action": "サービス調整", "status": "done"}],
                       "goal_progress": [{"goal": "介護サービスを利用する", "progress": "working"}],
                       "judgement": "continue", "next_date": _day(30)},
        "evaluation": {"evaluated_on": _day(), "agency_view": "サービス利用が定着した。",
                       "overall": "目標を達成した。",
                       "goal_results": [{"goal": "介護サービスを利用する",
                                         "achievement": "achieved"}],
                       "conclusion": "close", "meeting_ref": "デモ-02"},
        "closing": {"closed_on": _day(), "reason": "goal_met", "lead_agency": LEAD,
                    "reconsult": "福祉相談センター中部"},
        "sm_screening": {"raised_by": "window", "reason": "本人が支援を拒否しているが、生活の維持が心配。",
                         "risk": "medium", "decision": "meeting"},
        "sm_convene": {"meeting_at": _at(3), "place": "市役所 会議室", "chair": "福祉部長",
                       "members": [{"name": "保健師", "affiliation": "保健センター", "kind": "agency",
                                    "user": "staff1"},
                                   {"name": "民生委員", "affiliation": "地区民生委員", "kind": "resident"}]},
        "sm_record": {"held_at": _at(), "chair": "福祉部長", "explained_at": _at(),
                      "attendees": [{"name": "保健師", "affiliation": "保健センター",
                                     "confidentiality": "acknowledged"}],
                      "sources": [{"agency": "保健センター", "information": "健診の未受診"}],
                      "facts": "ごみの堆積が近隣から報告されている。", "risk": "健康状態が不明。",
                      "support_plan": "CSW が月1回訪問し、関係づくりを進める。", "decision": "outreach",
                      "materials_collected": "collected"},
        "outreach_register": {"found_via": "support_meeting", "found_on": _day(), "basis": "support_meeting",
                              "stage": "identified", "approach": "月1回の訪問と手紙"},
        "outreach_contact": {"contact_at": _at(), "method": "visit", "result": "absent",
                             "stage": "attempting",
                             "next_step": "continue", "next_date": _day(30)},
        "participation_needs": {"needs": "日中の居場所がほしい。", "activities": ["place"]},
        "participation_menu": {"menu": "地域サロンへの参加", "approach": "サロン代表に相談した。",
                               "candidates": [{"name": "ひだまりサロン", "kind": "salon"}]},
        "participation_matching": {"host": "ひだまりサロン", "host_kind": "salon",
                                   "activity": "居場所",
                                   "info_scope": ["basic"], "matched_on": _day(), "person_consent": "agreed"},
        "participation_start": {"started_on": _day(), "schedule": "毎週水曜 午後"},
        "participation_follow": {"followed_on": _day(), "targets": ["person", "host"], "status": "regular",
                                 "judgement": "continue"},
    }
    # fmt: on


NO_CONSENT = {"status": "refused", "no_consent_reason": "refused", "consenter": None,
              "consenter_relation": None, "recipients": None, "categories": None, "method": None,
              "consent_date": None, "valid_until": None, "signature": None}
REFER = [("do", "window_response", {}), ("do", "consent_check", {}), ("do", "referral", {})]
FIRST = [*REFER, ("do", "acceptance", {})]
ASSESS = [*FIRST, ("do", "first_contact", {})]
PLAN = [*ASSESS, ("do", "assessment", {})]
MEETING = [*PLAN, ("do", "plan", {})]
SIGN = [*MEETING, ("do", "meeting", {})]
START = [*SIGN, ("do", "plan_consent", {})]
SUPPORT = [*START, ("do", "support_start", {})]
NO_CONSENT_REFER = [
    ("do", "window_response", {}),
    ("do", "consent_check", NO_CONSENT),
    ("do", "referral_nc", {"consent_status": "refused"}),
    ("do", "acceptance", {"decision": "accept_no_consent"}),
    ("do", "sm_screening", {}),
    ("do", "sm_convene", {}),
]
PARTICIPATION = {"participation": "start", "participation_detail": "地域サロンへの参加"}

# (subject, kana, window user, idle days since the last step, intake overrides, steps)
CASES: list[tuple[str, str, str, int, dict[str, Any], list[Step]]] = [
    ("青木 さくら", "あおき さくら", "window1", 0, {}, []),
    (
        "石田 健一",
        "いしだ けんいち",
        "window2",
        0,
        {"urgency": "high", "urgency_action": "上長へ報告し当日訪問"},
        [],
    ),
    ("上野 美咲", "うえの みさき", "window3", 1, {}, [("do", "window_response", {})]),
    ("遠藤 大輝", "えんどう だいき", "window4", 2, {}, REFER[:2]),
    ("大野 結衣", "おおの ゆい", "window1", 1, {}, REFER),
    ("加藤 誠", "かとう まこと", "window2", 4, {}, NO_CONSENT_REFER[:3]),
    ("木村 陽子", "きむら ようこ", "window1", 2, {}, FIRST),
    ("工藤 翔太", "くどう しょうた", "window5", 12, {}, ASSESS),
    ("小林 愛", "こばやし あい", "window1", 5, {}, PLAN),
    ("斎藤 浩", "さいとう ひろし", "window3", 3, {}, MEETING),
    ("佐野 真由美", "さの まゆみ", "window2", 20, {}, SIGN),
    ("清水 拓也", "しみず たくや", "window1", 1, {}, START),
    (
        "鈴木 花",
        "すずき はな",
        "window4",
        2,
        {},
        [
            *MEETING[:-1],
            ("do", "plan", PARTICIPATION),
            *SUPPORT[len(MEETING) :],
            ("do", "pa_needs", {}),
            ("do", "pa_menu", {}),
            ("do", "pa_matching", {}),
            ("do", "pa_begin", {}),
            ("wait", 7, {}),
            ("do", "pa_follow_1w", {}),
            ("wait", 25, {}),
        ],
    ),
    (
        "高橋 蓮",
        "たかはし れん",
        "window1",
        3,
        {},
        [
            *SUPPORT,
            ("note", "csw1", {"kind": "visit", "counterpart": "person", "place": "自宅",
                              "content": "自宅を訪問。食事は取れている。次回は通院に同行する（架空の記録）",
                              "minutes": 45, "next_action": "通院同行の調整"}),
            ("wait", 31, {}),
            ("do", "monitoring", {}),
            ("wait", 31, {}),
            ("do", "monitoring", {"judgement": "evaluation", "next_date": None}),
        ],
    ),
    ("田中 恵子", "たなか けいこ", "window2", 2, {}, NO_CONSENT_REFER),
    (
        "中村 悠真",
        "なかむら ゆうま",
        "window3",
        4,
        {},
        [
            *NO_CONSENT_REFER,
            ("do", "sm_meeting", {}),
            ("do", "or_register", {}),
            ("do", "or_contact", {}),
            ("wait", 25, {}),
            ("do", "or_contact", {"method": "letter", "result": "no_response"}),
            ("wait", 25, {}),
        ],
    ),
    (
        "野口 千尋",
        "のぐち ちひろ",
        "window1",
        30,
        {},
        [
            *SUPPORT,
            ("wait", 31, {}),
            ("do", "monitoring", {"judgement": "evaluation", "next_date": None}),
            ("do", "evaluation", {}),
            ("do", "closing", {}),
        ],
    ),
    ("森 一郎", "もり いちろう", "window5", 1, {}, [("do", "window_response", {"action": "info_advice"})]),
]


class _Player:
    """Plays one case on the demo clock."""

    def __init__(self, engine: Engine, session: Session, frozen: clock.FrozenClock, window: str) -> None:
        self.engine, self.session, self.frozen = engine, session, frozen
        self.window = self.actor(window)
        self.window_agency = (
            session.scalar(select(Agency.code).where(Agency.id == self.window.agency_id)) or JUSO
        )
        self.case_id = 0

    def actor(self, username: str) -> Actor:
        return users.actor_for(self.session.scalar(select(User).where(User.username == username)))

    def payload(self, form_key: str, overrides: dict[str, Any]) -> dict[str, Any]:
        data = dict(_forms(self.window_agency, "csw1").get(form_key, {}))
        data.update(overrides)
        return {k: v for k, v in data.items() if v is not None}

    def start(self, subject: str, kana: str, overrides: dict[str, Any]) -> None:
        intake = {
            "received_at": _at(),
            "route": "family",
            "channel": "visit",
            "subject_name": subject,
            "subject_kana": kana,
            "school_district": "中部",
            "problems": ["care", "income"],
            "primary_problem": "care",
            "narrative": "親の介護と家計についての相談（架空の事例）",
            "urgency": "low",
            **overrides,
        }
        self.case_id = cases.start_case(self.engine, self.session, self.window, intake).case_id

    def _worker(self, row: HumanTask) -> Actor:
        if row.assignee_id is not None:
            return users.actor_for(self.session.get(User, row.assignee_id))
        for user in self.session.scalars(select(User).where(User.active.is_(True)).order_by(User.id)):
            if row.role in user.roles and row.agency_id in (None, user.agency_id):
                return users.actor_for(user)
        raise LookupError(f"no demo user can do {row.element_id}")

    def do(self, element_id: str, overrides: dict[str, Any]) -> None:
        row = self.session.scalar(
            select(HumanTask).where(
                HumanTask.case_id == self.case_id,
                HumanTask.element_id == element_id,
                HumanTask.status == "open",
            )
        )
        if row is None:
            raise LookupError(f"demo case {self.case_id}: {element_id} is not open")
        tasks.complete(
            self.engine, self.session, self._worker(row), row.id, self.payload(row.form_key, overrides)
        )
        self.frozen.advance(STEP_TIME)

    def note(self, username: str, data: dict[str, Any]) -> None:
        """A 支援経過記録 (F8) written by ``username`` now."""
        note = {"noted_at": _at(), "basis": "consent", **data}
        case_notes.add_note(self.engine, self.session, self.actor(username), self.case_id, note)
        self.frozen.advance(STEP_TIME)

    def wait(self, days: int) -> None:
        self.frozen.advance(days=days)
        events.fire_due_timers(self.engine, self.session, self.case_id)


def load(engine: Engine, session: Session) -> int:
    """Create the demo cases once (nothing happens when cases exist); return how many were created."""
    if session.scalar(select(func.count()).select_from(Case)):
        return 0
    real_now = clock.now()
    frozen = clock.FrozenClock(real_now)
    previous = clock.use(frozen)
    try:
        for subject, kana, window, idle, intake, steps in CASES:
            played = sum(
                (timedelta(days=what) if kind == "wait" else STEP_TIME for kind, what, _ in steps),
                timedelta(),
            )
            frozen.set(real_now - played - timedelta(days=idle, hours=2))
            player = _Player(engine, session, frozen, window)
            player.start(subject, kana, intake)
            for kind, what, overrides in steps:
                if kind == "wait":
                    player.wait(what)
                elif kind == "note":
                    player.note(what, overrides)
                else:
                    player.do(what, overrides)
    finally:
        clock.use(previous)
    session.flush()
    return len(CASES)
