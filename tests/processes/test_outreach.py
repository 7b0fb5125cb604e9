"""Path tests of processes/outreach.bpmn (アウトリーチ等を通じた継続的支援): contact attempts repeat
until a contact is made, rounds repeat while the relationship is being built, and three months
without contact end the outreach for a 支援会議 review. Each scenario restores the case at every step
and is compared with a run on the live-case cache."""

from __future__ import annotations

from tests.processes.driver import Driver, run_twice
from tests.processes.paths import to_outreach


def test_contact_rounds_until_consent(make_driver):
    def scenario(d: Driver) -> None:
        to_outreach(d)
        d.complete("or_contact", result="absent")
        d.fire(days=25)
        d.complete("or_contact", result="no_response", method="letter")
        d.fire(days=25)
        d.complete("or_contact", result="talk", stage="first_contact")  # contact made: a new round
        for _ in range(3):
            d.fire(days=25)
            d.complete("or_contact", result="meeting", stage="relationship")
        d.complete("or_contact", result="meeting", stage="consulting", next_step="close", next_date=None)
        d.complete("or_close", result="consent_obtained")
        assert d.open() == ["first_contact"]

    run_twice(make_driver, scenario)


def test_three_months_without_contact_goes_back_to_the_support_meeting(make_driver):
    def scenario(d: Driver) -> None:
        to_outreach(d)
        d.complete("or_contact", result="talk", stage="first_contact")
        d.fire(days=40)
        d.complete("or_contact", result="absent")
        d.fire(days=52)  # 3 months after the last contact was made
        assert d.open() == ["or_close"]
        assert d.snapshot()["next_timer_at"] is None
        d.complete("or_close", result="review", stage="attempting")
        assert d.open() == ["sm_screening"]  # next round of the 支援会議
        d.complete("sm_screening")
        d.complete("sm_convene")
        d.complete("sm_meeting", decision="outreach")
        d.complete("or_register", stage="attempting")
        d.complete("or_contact", result="meeting", stage="connecting", next_step="close", next_date=None)
        d.complete(
            "or_close",
            result="connected",
            connected_to="地域の見守りネットワーク（架空）",
            stage="connecting",
        )
        d.complete("nc_close", result="connected")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "他機関・地域へつないで終了")

    run_twice(make_driver, scenario)
