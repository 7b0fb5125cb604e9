"""Path tests of processes/case.bpmn (多機関協働ケース): every gateway branch, the whole-case
interruptions, the 14-day prompt when consent is not obtained, and long-lived monitoring. Each
scenario runs twice — restoring the case from the database at every step, then with the live-case
cache — and both runs must end in the same state."""

from __future__ import annotations

import shutil

import pytest

from engine.actor import SYSTEM
from engine.core import build_engine
from engine.definitions import deploy_directory
from tests.processes.conftest import ROOT
from tests.processes.driver import Driver, run_twice
from tests.processes.paths import NO_CONSENT, to_acceptance, to_first_contact, to_plan, to_support
from tests.processes.payloads import LEAD, today


def test_resolved_at_the_window(make_driver):
    def scenario(d: Driver) -> None:
        d.start()
        assert d.open() == ["window_response"]
        assert d.snapshot()["stage"] == "intake"
        d.complete("window_response", action="info_advice")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"], snap["open"]) == ("completed", "窓口対応で完結", [])

    run_twice(make_driver, scenario)


def test_urgent_intake_records_the_emergency_in_parallel_then_refers_to_another_agency(make_driver):
    def scenario(d: Driver) -> None:
        d.start(urgency="high", urgency_action="虐待の疑い：通報済み（架空）")
        assert d.open() == ["emergency_response", "window_response"]
        due = {e: due for e, _, due in d.snapshot()["open"]}
        assert due["emergency_response"].startswith("2026-11-24T14:59:59")  # 当日中 (23:59:59 JST)
        d.complete("emergency_response")
        d.complete("window_response", action="refer")
        d.complete("consent_check")
        d.complete("referral")
        d.complete("acceptance", decision="redirect", redirect_agency=LEAD, csw=None)
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "他機関案内")

    run_twice(make_driver, scenario)


def test_returned_with_advice_re_referred_and_finally_kept_at_the_window(make_driver):
    def scenario(d: Driver) -> None:
        to_acceptance(d, consent=False)
        assert d.snapshot()["consent_status"] == "refused"
        d.complete("acceptance", decision="return", advice="単一分野で対応可能（架空）", csw=None)
        d.complete("returned", action="re_refer")
        assert d.open() == ["referral_nc"]
        d.complete("referral_nc", consent_status="refused")
        d.complete("acceptance", decision="return", advice="既存制度の利用（架空）", csw=None)
        d.complete("returned", action="resolve")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "差し戻し（窓口で対応）")

    run_twice(make_driver, scenario)


def test_consent_meeting_plan_participation_and_closure(make_driver):
    """E2E: 同意あり → 重層的支援会議 → プラン → 参加支援 → 終結."""

    def scenario(d: Driver) -> None:
        to_first_contact(d)
        snap = d.snapshot()
        assert (snap["csw"], snap["status"], snap["consent_status"]) == ("csw1", "active", "written")
        d.complete("first_contact")
        d.complete("assessment")
        d.complete("plan", participation="start", participation_detail="地域の居場所")
        assert d.snapshot()["lead_agency"] == LEAD
        assert d.open() == ["meeting"] and d.snapshot()["stage"] == "meeting"
        d.complete("meeting")
        d.complete("plan_consent")
        staff = d.task("support_start")
        assert staff.role == "agency_staff" and staff.agency_id == d.people["agency_staff"].agency_id
        d.complete("support_start")
        assert d.open() == ["pa_needs"]
        for step in ("pa_needs", "pa_menu", "pa_matching", "pa_begin"):
            d.complete(step)
        d.fire(days=8)
        d.complete("pa_follow_1w")
        d.fire(days=22)
        assert d.open() == ["monitoring", "pa_follow_1m"]
        d.complete("pa_follow_1m")
        d.complete("monitoring", judgement="continue", next_date=today(30))
        d.fire(days=31)
        d.complete("monitoring", judgement="evaluation")
        d.complete("evaluation")
        d.complete("closing")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("active", "終結")  # 参加支援 is still being followed up
        d.fire(days=40)
        d.complete("pa_follow_3m")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"], snap["stage"], snap["open"]) == (
            "completed",
            "終結",
            "finished",
            [],
        )

    run_twice(make_driver, scenario)


def test_no_consent_support_meeting_outreach_then_consent_back_into_the_case(make_driver):
    """E2E: 同意なし → 支援会議 → アウトリーチ → 同意取得 → 初回接触から多機関協働へ."""

    def scenario(d: Driver) -> None:
        to_acceptance(d, consent=False)
        d.complete("acceptance", decision="accept_no_consent")
        assert d.snapshot()["status"] == "waiting_consent"
        d.complete("sm_screening")
        d.complete("sm_convene")
        assert d.snapshot()["confidential"] is True
        d.complete("sm_meeting", decision="outreach")
        d.complete("or_register")
        d.complete("or_contact", result="absent")
        d.fire(days=20)
        d.complete("or_contact", result="meeting", stage="consulting", next_step="close", next_date=None)
        d.complete("or_close", result="consent_obtained")
        assert d.open() == ["first_contact"]
        d.complete("first_contact")
        snap = d.snapshot()
        assert (snap["status"], snap["consent_status"], snap["confidential"]) == ("active", "written", False)
        d.complete("assessment")
        d.complete("plan")
        d.complete("meeting", decision="not_target", decided_on=None)
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "対象外")

    run_twice(make_driver, scenario)


def test_consent_withdrawn_mid_plan(make_driver):
    """E2E: 同意撤回 while the plan is being drafted; no risk remains → 中断（同意撤回）."""

    def scenario(d: Driver) -> None:
        to_plan(d)
        d.send("consent_withdrawn")
        assert d.open() == ["withdrawal"]
        d.complete("withdrawal", risk_remains=False)
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"], snap["consent_status"]) == (
            "completed",
            "中断（同意撤回）",
            "withdrawn",
        )

    run_twice(make_driver, scenario)


def test_withdrawal_with_risk_stops_all_support_and_goes_to_the_support_meeting(make_driver):
    def scenario(d: Driver) -> None:
        to_support(
            d, participation="start", participation_detail="居場所", outreach="start", outreach_detail="訪問"
        )
        assert d.open() == ["or_register", "pa_needs"]
        d.send("consent_withdrawn", who="csw")
        assert d.open() == ["withdrawal"]
        d.complete("withdrawal", risk_remains=True)
        assert d.open() == ["sm_screening"] and d.snapshot()["status"] == "waiting_consent"
        d.complete("sm_screening", decision="existing_network", existing_agency=LEAD)
        d.complete("nc_close", result="existing_agency", lead_agency=LEAD)
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"], snap["lead_agency"]) == ("completed", "既存機関で対応", LEAD)
        assert snap["next_timer_at"] is None

    run_twice(make_driver, scenario)


def test_plan_sent_back_by_the_meeting_and_approved_the_second_time(make_driver):
    """E2E: 修正 → プラン見直し → 承認; then a declined signature, a re-plan from monitoring and an
    evaluation that continues and finally suspends."""

    def scenario(d: Driver) -> None:
        to_plan(d)
        d.complete("plan")
        d.complete("meeting", decision="revise", revision_points="役割分担を明確に（架空）", decided_on=None)
        assert d.open() == ["plan"]
        d.complete("plan", version=2)
        d.complete("meeting")
        assert d.open() == ["plan_consent"]
        d.complete("plan_consent", signed="declined", signed_on=None, signature=None)
        d.complete("plan", version=3)
        d.complete("meeting")
        d.complete("plan_consent")
        d.complete("support_start")
        d.fire(days=31)
        d.complete(
            "monitoring",
            judgement="replan",
            new_issue=True,
            new_issue_note="転居の予定（架空）",
            next_date=None,
        )
        assert d.open() == ["assessment"]
        d.complete("assessment")
        d.complete("plan", version=4)
        d.complete("meeting")
        d.complete("plan_consent")
        d.complete("support_start")
        d.fire(days=31)
        d.complete("monitoring", judgement="evaluation", next_date=None)
        d.complete("evaluation", conclusion="replan")
        assert d.open() == ["plan"]
        d.complete("plan", version=5)
        d.complete("meeting", decision="suspend", decided_on=None)
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "中断")

    run_twice(make_driver, scenario)


def test_evaluation_suspends_the_case(make_driver):
    def scenario(d: Driver) -> None:
        to_support(d)
        d.fire(days=31)
        d.complete("monitoring", judgement="evaluation", next_date=None)
        d.complete("evaluation", conclusion="suspend", suspend_reason="person_wish")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "中断")

    run_twice(make_driver, scenario)


def test_no_consent_at_first_contact_goes_to_the_support_meeting(make_driver):
    def scenario(d: Driver) -> None:
        to_first_contact(d)
        d.complete("first_contact", **NO_CONSENT)
        snap = d.snapshot()
        assert d.open() == ["sm_screening"]
        assert (snap["status"], snap["consent_status"], snap["confidential"]) == (
            "waiting_consent",
            "refused",
            True,
        )
        d.complete("sm_screening")
        d.complete("sm_convene")
        d.complete("sm_meeting", decision="resolved")
        d.complete("nc_close", result="resolved")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "支援会議で終了")

    run_twice(make_driver, scenario)


def test_fourteen_days_without_consent_prompt_the_coordinator_to_raise_it(make_driver):
    """domain.md §6: 同意未取得 for 14日 → 「支援会議への提起を検討」 for the 担当部署. 提起 cancels the first
    contact and goes to the 支援会議; when that obtains consent, a new first contact starts a new 14 days."""

    def scenario(d: Driver) -> None:
        to_first_contact(d)
        assert d.snapshot()["next_timer_at"] == "2026-12-08T01:00:00+00:00"  # P14D after it opened
        d.fire(days=13)
        assert d.open() == ["first_contact"]
        d.fire(days=1)
        assert d.open() == ["first_contact", "sm_consider"]  # non-interrupting: the CSW may still record it
        prompt = d.task("sm_consider")
        assert (prompt.role, prompt.assignee_id, prompt.form_key) == ("coordinator", None, "sm_consider")
        snap = d.snapshot()
        due = {e: at for e, _, at in snap["open"]}
        assert due["sm_consider"].startswith("2026-12-11T14:59:59")  # 3 business days from Tue 12/8
        assert (snap["status"], snap["stage"], snap["next_timer_at"]) == ("active", "waiting_consent", None)
        d.complete("sm_consider", decision="raise")
        snap = d.snapshot()
        assert d.open() == ["sm_screening"]  # the first contact was cancelled with its wrapper
        assert (snap["status"], snap["stage"]) == ("waiting_consent", "waiting_consent")
        assert snap["next_timer_at"] is None
        d.complete("sm_screening")
        d.complete("sm_convene")
        d.complete("sm_meeting", decision="consent_obtained")
        assert d.open() == ["first_contact"]
        assert d.snapshot()["next_timer_at"] == "2026-12-22T01:00:00+00:00"  # a new 14 days
        d.complete("first_contact")
        snap = d.snapshot()
        assert d.open() == ["assessment"]
        assert (snap["status"], snap["consent_status"], snap["confidential"]) == ("active", "written", False)
        assert snap["next_timer_at"] is None

    run_twice(make_driver, scenario)


def test_consent_in_time_cancels_the_fourteen_day_prompt(make_driver):
    def scenario(d: Driver) -> None:
        to_first_contact(d)
        d.fire(days=10)
        d.complete("first_contact")
        assert d.open() == ["assessment"]
        assert d.snapshot()["next_timer_at"] is None  # the timer went with its task
        d.fire(days=20)
        assert d.open() == ["assessment"]
        assert d.snapshot()["stage"] == "assessment"

    run_twice(make_driver, scenario)


def test_coordinator_keeps_seeking_consent_and_the_prompt_comes_once(make_driver):
    def scenario(d: Driver) -> None:
        to_first_contact(d)
        d.fire(days=14)
        d.complete("sm_consider", decision="continue", note="（架空）来週、家族同席で再度説明する")
        snap = d.snapshot()
        assert d.open() == ["first_contact"]
        assert (snap["status"], snap["stage"], snap["next_timer_at"]) == ("active", "assessment", None)
        d.fire(days=14)
        assert d.open() == ["first_contact"]
        d.complete("first_contact")
        assert d.open() == ["assessment"]

    run_twice(make_driver, scenario)


@pytest.mark.parametrize(
    ("consent", "next_step", "status"),
    [({}, "assessment", "active"), (NO_CONSENT, "sm_screening", "waiting_consent")],
    ids=["consent", "no_consent"],
)
def test_first_contact_recorded_while_the_prompt_is_open_withdraws_the_prompt(
    make_driver, consent, next_step, status
):
    def scenario(d: Driver) -> None:
        to_first_contact(d)
        d.fire(days=15)
        assert d.open() == ["first_contact", "sm_consider"]
        d.complete("first_contact", **consent)
        snap = d.snapshot()
        assert d.open() == [next_step]  # the unanswered prompt is gone (terminate end of the wrapper)
        assert (snap["status"], snap["next_timer_at"]) == (status, None)

    run_twice(make_driver, scenario)


def test_the_days_without_consent_are_set_in_the_diagram(make_driver, write, tmp_path):
    """A designer changes the timer of 同意未取得 (P14D) in the diagram and deploys; no code changes."""
    processes = tmp_path / "processes"
    shutil.copytree(ROOT / "processes", processes)
    case_bpmn = processes / "case.bpmn"
    timer = "<bpmn:timeDuration>P14D</bpmn:timeDuration>"
    text = case_bpmn.read_text(encoding="utf-8")
    assert text.count(timer) == 1
    case_bpmn.write_text(text.replace(timer, timer.replace("P14D", "10BD")), encoding="utf-8")

    def scenario(d: Driver) -> None:
        to_first_contact(d)
        assert d.snapshot()["next_timer_at"] == "2026-12-08T14:59:59+00:00"  # end of the 10th business day
        d.fire(days=14)
        assert d.open() == ["first_contact"]  # P14D would have fired now
        d.fire(hours=14)
        assert d.open() == ["first_contact", "sm_consider"]

    with write() as s:
        assert deploy_directory(make_driver(False).engine, s, SYSTEM, processes).version == 2
    run_twice(make_driver, scenario)


def test_case_exit_closes_the_case_from_deep_inside_outreach(make_driver):
    def scenario(d: Driver) -> None:
        to_acceptance(d, consent=False)
        d.complete("acceptance", decision="accept_no_consent")
        d.complete("sm_screening")
        d.complete("sm_convene")
        d.complete("sm_meeting", decision="outreach")
        d.complete("or_register")
        d.send("case_exit", who="csw")
        assert d.open() == ["exit_record"]
        assert d.snapshot()["next_timer_at"] is None  # the outreach's 3-month timer went with it
        d.complete("exit_record", reason="died")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"], snap["open"]) == ("completed", "中断（死亡）", [])

    run_twice(make_driver, scenario)


def test_evaluation_date_interrupts_monitoring(make_driver):
    def scenario(d: Driver) -> None:
        to_support(d, evaluation_date=today(45))
        d.fire(days=31)
        d.complete("monitoring", judgement="continue", next_date=today(30))
        d.fire(days=15)
        assert d.open() == ["evaluation"]
        d.complete("evaluation")
        d.complete("closing")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"]) == ("completed", "終結")

    run_twice(make_driver, scenario)


def test_outreach_alongside_consent_based_support(make_driver):
    def scenario(d: Driver) -> None:
        to_support(d, outreach="start", outreach_detail="見守り訪問（架空）")
        assert d.open() == ["or_register"]
        d.complete("or_register", basis="consent", found_via="case")
        d.complete("or_contact", result="talk", stage="relationship", next_step="close", next_date=None)
        d.complete("or_close", result="ended", stage="stable")
        d.fire(days=31)
        d.complete("monitoring", judgement="evaluation", next_date=None)
        d.complete("evaluation")
        d.complete("closing")
        assert d.snapshot()["status"] == "completed"

    run_twice(make_driver, scenario)


CYCLES = 150


def test_150_monitoring_cycles_then_the_case_closes(make_driver):
    """Monitoring for 12½ years: the task tree stays flat and the state stays small."""

    def scenario(d: Driver) -> None:
        to_support(d, evaluation_date="2045-01-01")
        sizes = {}
        for cycle in range(1, CYCLES + 1):
            d.fire(days=31)
            assert d.open() == ["monitoring"], (cycle, d.open())
            last = cycle == CYCLES
            d.complete(
                "monitoring",
                judgement="evaluation" if last else "continue",
                next_date=None if last else today(30),
            )
            if cycle in (1, CYCLES - 1):
                sizes[cycle] = d.state_bytes()
        assert sizes[CYCLES - 1] < sizes[1] + 12_000, sizes  # only the loop's id list grows (~40 B a cycle)
        d.complete("evaluation")
        d.complete("closing")
        snap = d.snapshot()
        assert (snap["status"], snap["outcome"], snap["stage"]) == ("completed", "終結", "finished")
        deepest = max(t.depth for t in d.workflow().get_tasks())
        assert deepest < 60, deepest

    run_twice(make_driver, scenario)


def test_due_times_are_overridable_per_step_without_editing_the_diagram(
    proc_settings, proc_engine, people, write, read, frozen_clock
):
    settings = proc_settings.replace(due_overrides={"acceptance": "10BD"})
    d = Driver(build_engine(settings, proc_engine.forms), write, read, people, frozen_clock)
    to_acceptance(d)
    due = {e: at for e, _, at in d.snapshot()["open"]}
    assert due["acceptance"].startswith("2026-12-08T14:59:59")  # 10 business days, not the diagram's 2BD
