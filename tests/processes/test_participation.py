"""Path tests of processes/participation.bpmn (参加支援): needs → menu → matching → start →
follow-ups at 1 week, 1 month and 3 months → 定着 / 他制度へ移行 / 中止, and re-matching when the
fit needs adjusting. Each scenario restores the case at every step and is compared with a run on the
live-case cache."""

from __future__ import annotations

from tests.processes.driver import Driver, run_twice
from tests.processes.paths import to_support

PLAN = {"participation": "start", "participation_detail": "地域の居場所（架空）"}


def _to_start(d: Driver) -> None:
    to_support(d, **PLAN)
    for step in ("pa_needs", "pa_menu", "pa_matching", "pa_begin"):
        d.complete(step)
    assert d.open() == []


def test_follow_ups_at_one_week_one_month_three_months_then_settled(make_driver):
    def scenario(d: Driver) -> None:
        _to_start(d)
        d.fire(days=6)
        assert d.open() == []
        d.fire(days=1)
        d.complete("pa_follow_1w")
        d.fire(days=21)
        d.complete("pa_follow_1m")
        d.fire(days=3)  # the first monitoring (1 month after the support started)
        d.complete("monitoring", judgement="continue")
        d.fire(days=59)
        d.complete("pa_follow_3m")
        assert d.open() == ["monitoring"]  # 参加支援 ended (定着); monitoring goes on

    run_twice(make_driver, scenario)


def test_adjustment_after_one_week_rematches_then_transfer_after_one_month(make_driver):
    def scenario(d: Driver) -> None:
        _to_start(d)
        d.fire(days=7)
        d.complete("pa_follow_1w", judgement="adjust", status="irregular")
        assert d.open() == ["pa_matching"]
        d.complete("pa_matching", host="別の受入先（架空）")
        d.complete("pa_begin")
        d.fire(days=7)
        d.complete("pa_follow_1w")
        d.fire(days=21)
        d.complete("pa_follow_1m", judgement="transfer", transfer_to="就労移行支援（架空）")
        assert d.open() == ["monitoring"]

    run_twice(make_driver, scenario)


def test_stopped_at_three_months(make_driver):
    def scenario(d: Driver) -> None:
        _to_start(d)
        d.fire(days=7)
        d.complete("pa_follow_1w")
        d.fire(days=21)
        d.complete("pa_follow_1m")
        d.fire(days=3)
        d.complete("monitoring", judgement="continue")
        d.fire(days=60)
        d.complete("pa_follow_3m", judgement="stop", status="absent")
        assert "pa_" not in " ".join(d.open())

    run_twice(make_driver, scenario)
