"""Common prefixes of the path tests: drive a new case to a given step of the pathway."""

from __future__ import annotations

from typing import Any

from tests.processes.driver import Driver

NO_CONSENT = {
    "status": "refused",
    "consenter": None,
    "consenter_relation": None,
    "recipients": None,
    "categories": None,
    "method": None,
    "consent_date": None,
    "valid_until": None,
    "signature": None,
    "no_consent_reason": "refused",
}


def to_acceptance(d: Driver, consent: bool = True, **intake: Any) -> None:
    """窓口 → 同意確認 → つなぎシート: the 担当部署's 受理判断 is open."""
    d.start(**intake)
    d.complete("window_response", action="refer")
    if consent:
        d.complete("consent_check")
        d.complete("referral")
    else:
        d.complete("consent_check", **NO_CONSENT)
        d.complete("referral_nc", consent_status="refused")
    assert d.open() == ["acceptance"], d.open()


def to_first_contact(d: Driver, **intake: Any) -> None:
    to_acceptance(d, **intake)
    d.complete("acceptance", decision="accept_consent")
    assert d.open() == ["first_contact"], d.open()


def to_plan(d: Driver, **intake: Any) -> None:
    to_first_contact(d, **intake)
    d.complete("first_contact")
    d.complete("assessment")
    assert d.open() == ["plan"], d.open()


def to_support(d: Driver, **plan: Any) -> None:
    """… → プラン承認 → 署名 → 支援の開始: monitoring is waiting for its first date."""
    to_plan(d)
    d.complete("plan", **plan)
    d.complete("meeting")
    d.complete("plan_consent")
    d.complete("support_start")


def to_support_meeting(d: Driver) -> None:
    """同意なしで受理 → 支援会議の提起が担当部署に開いている."""
    to_acceptance(d, consent=False)
    d.complete("acceptance", decision="accept_no_consent")
    assert d.open() == ["sm_screening"], d.open()


def to_outreach(d: Driver) -> None:
    """支援会議がアウトリーチを決定 → 対象者登録 → the first contact record is open."""
    to_support_meeting(d)
    d.complete("sm_screening")
    d.complete("sm_convene")
    d.complete("sm_meeting", decision="outreach")
    d.complete("or_register")
    assert d.open() == ["or_contact"], d.open()
