"""The real pathway (processes/ + forms/) walked by the web tests: demo users and what each step is
filled with on the consented path to 支援の実施, and on the path that ends at the window.

Every name is fictional. ``STEPS`` lists (element id, demo user, submission) in order; the browser
test types the same values into the pages that the API test posts as JSON.
"""

from __future__ import annotations

from typing import Any

from flask import Flask

from engine import demo, users
from engine.actor import SYSTEM
from engine.db import make_session_factory, transaction
from engine.definitions import deploy_directory
from engine.settings import ROOT, load_settings
from web import create_app
from web.state import state

PASSWORD = "demo-password-123"

INTAKE: dict[str, Any] = {
    "received_at": "2026-11-24T10:00",
    "route": "self",
    "channel": "visit",
    "subject_name": "山田 花子",
    "subject_kana": "やまだ はなこ",
    "school_district": "中部中学校区",
    "household": [{"name": "山田 一郎", "relation": "夫", "age": 82}],
    "problems": ["care", "income"],
    "primary_problem": "care",
    "narrative": "夫の介護と家計の相談。息子がひきこもり。",
    "urgency": "medium",
}
RESOLVE = {"action": "info_advice", "response": "介護保険サービスの案内をして窓口で完結した。"}

CONSENT = {
    "status": "written",
    "consenter": "山田 花子",
    "consenter_relation": "self",
    "purpose": "多機関での支援のための情報共有",
    "recipients": ["SHAKYO", "JUSO"],
    "categories": ["basic", "household"],
    "method": "paper",
    "explained_by": "window1",
    "consent_date": "2026-11-24",
    "valid_until": "2027-11-23",
    "signature": "signed_paper",
}

STEPS: list[tuple[str, str, dict[str, Any]]] = [
    ("window_response", "window1", {"action": "refer", "response": "複合的な課題のため多機関協働へつなぐ。"}),
    ("consent_check", "window1", CONSENT),
    (
        "referral",
        "window1",
        {
            "referred_on": "2026-11-24",
            "referring_agency": "HOKATSU-CHUBU",
            "referring_worker": "中部 窓口 さくら",
            "destination": "JUSO",
            "reason": "介護・家計・ひきこもりの複合課題",
            "fields": ["elderly", "poverty"],
            "history": "包括で介護保険の相談を受けた。",
            "consent_status": "written",
        },
    ),
    ("acceptance", "coord1", {"decision": "accept_consent", "accepted_on": "2026-11-25", "csw": "csw1"}),
    ("first_contact", "csw1", {**CONSENT, "explained_by": "csw1", "recipients": ["SHAKYO", "HOKEN"]}),
    (
        "assessment",
        "csw1",
        {
            "assessed_on": "2026-11-26",
            "household": [{"relation": "本人", "age": 78}],
            "domains": ["care", "finance"],
            "domain_notes": "介護負担と家計の不安",
            "patterns": ["p8050"],
            "wishes": "自宅で暮らし続けたい",
            "issues": [{"issue": "介護負担", "priority": "high"}],
            "formulation": "介護と家計の課題が重なっている",
            "risk": "medium",
            "provenance": [{"item": "世帯状況", "source": "self", "basis": "consent"}],
        },
    ),
    (
        "plan",
        "csw1",
        {
            "version": 1,
            "created_on": "2026-11-27",
            "period_start": "2026-12-01",
            "period_end": "2027-05-31",
            "wishes": "自宅で暮らし続けたい",
            "direction": "介護と家計を同時に支える",
            "long_term_goal": "安定した在宅生活",
            "goals": [{"goal": "介護サービスの利用開始"}],
            "actions": [{"issue": "介護負担", "action": "健康相談と訪問", "agency": "HOKEN", "lead": True}],
            "lead_agency": "HOKEN",
            "participation": "none",
            "outreach": "none",
            "monitoring_interval": "P1M",
            "evaluation_date": "2027-05-31",
        },
    ),
    (
        "meeting",
        "coord1",
        {
            "meeting_no": "R8-01",
            "held_at": "2026-12-01T14:00",
            "mode": "in_person",
            "convenor": "JUSO",
            "chair": "推進室 係長 博",
            "recorder": "推進室 調整 誠",
            "attendees": [
                {"name": "社協 CSW 陽子", "affiliation": "社会福祉協議会", "confidentiality": "confirmed"}
            ],
            "consent_confirmed": "confirmed",
            "agenda_type": "plan",
            "discussion": "プラン案を協議した",
            "decision": "approve",
            "decided_on": "2026-12-01",
            "approved_by": "推進室 係長 博",
        },
    ),
    (
        "plan_consent",
        "csw1",
        {
            "explained_on": "2026-12-02",
            "signed": "signed",
            "signed_on": "2026-12-02",
            "signature": "signed_paper",
        },
    ),
]
SUPPORT_STEP = "support_start"  # 役割分担に基づく支援の開始（主担当機関）: where 支援の実施 begins


def make_real_app(db: Any) -> Flask:
    """The app on the test database with the real forms/ and processes/ deployed and the demo users."""
    settings = load_settings(
        {},
        database_url=db.url,
        forms_dir=str(ROOT / "forms"),
        processes_dir=str(ROOT / "processes"),
        secret_key="test-secret",
        secure_cookies=False,
    )
    app = create_app(settings, db_engine=db.engine)
    app.config.update(TESTING=True)
    with app.app_context():
        st = state()
        sessions = make_session_factory(st.db)
        with transaction(sessions, write=True) as s:
            demo.ensure_master_data(s, PASSWORD)
        with transaction(sessions, write=True) as s:
            deploy_directory(st.engine, s, SYSTEM)
    return app


def token_for(app: Flask, username: str) -> str:
    with app.app_context():
        with transaction(make_session_factory(state().db), write=True) as s:
            return users.create_api_token(s, username)
