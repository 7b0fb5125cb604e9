"""engine.projection: after every run, in the same transaction, READY human steps become ``human_tasks``
rows once (role, agency, assignee, due time), rows whose step went away are cancelled, and the case row
gets its current step, stage, status, outcome and next BPMN timer."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine import events, projection, runtime, tasks
from engine.actor import SYSTEM
from engine.clock import TOKYO
from engine.core import build_engine
from engine.errors import Conflict, DefinitionError
from engine.models import Case, HumanTask, User
from tests.support import factories
from tests.support.bpmn_builder import ProcessBuilder
from tests.support.referral10 import ROLES, referral_files

END_OF_DAY = (23, 59, 59)


def jst(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=TOKYO).astimezone(UTC)


def files(*builders: ProcessBuilder) -> dict[str, bytes]:
    out = {f"{b.pid}.bpmn": b.xml().encode("utf-8") for b in builders}
    out["roles.yaml"] = ROLES.encode("utf-8")
    return out


def timed() -> ProcessBuilder:
    """受付 (due P5D, stage first) with an interrupting 2-day timer leading to 催促 (stage second)."""
    b = ProcessBuilder("timed", "期限つき")
    b.start("start", form="intake")
    b.user("a", "受付", form="note", due="P5D", stage="first")
    b.timer_boundary("t", "a", "P2D")
    b.user("b", "催促", form="note", stage="second")
    b.end("end", "完了")
    b.end("end_late", "催促後に終了")
    b.lane("窓口", "start", "a", "t", "b", "end", "end_late")
    b.flow("start", "a")
    b.flow("a", "end")
    b.flow("t", "b")
    b.flow("b", "end_late")
    return b


def parallel() -> ProcessBuilder:
    b = ProcessBuilder("par", "並行")
    b.start("start", form="intake")
    b.parallel("split")
    b.user("x", "作業X", form="note", stage="work")
    b.user("y", "作業Y", form="note")
    b.parallel("join")
    b.end("end", "完了")
    b.lane("窓口", "start", "split", "x", "y", "join", "end")
    for a, c in (("start", "split"), ("split", "x"), ("split", "y"), ("x", "join"), ("y", "join"),
                 ("join", "end")):
        b.flow(a, c)
    return b


def one_step(pid: str = "one", **step: str) -> ProcessBuilder:
    """start → one CSW step (``step`` are its properties) → end."""
    b = ProcessBuilder(pid, "一手順")
    b.start("start", form="intake")
    b.user("a", "CSWの手順", form="note", **step)
    b.end("end", "完了")
    b.lane("窓口", "start")
    b.lane("CSW", "a", "end")
    b.flow("start", "a")
    b.flow("a", "end")
    return b


@pytest.fixture
def people(engine, write, frozen_clock):
    with write() as s:
        p = {"win": factories.actor(s, "window", "AG-WIN", "win"),
             "win2": factories.actor(s, "window", "AG-WIN", "win2"),
             "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord", kind="coordinating_office"),
             "csw": factories.actor(s, "csw", "AG-CSW", "csw1"),
             "gone": factories.actor(s, "csw", "AG-CSW", "gone")}
        s.scalar(select(User).where(User.username == "gone")).active = False
        factories.agency(s, "AG-LEAD", "partner")
        factories.deploy(engine, s, referral_files())
    return p


def open_rows(read, case_id: int) -> list[HumanTask]:
    with read() as s:
        stmt = select(HumanTask).where(HumanTask.case_id == case_id, HumanTask.status == "open")
        return list(s.scalars(stmt.order_by(HumanTask.id)))


def all_rows(read, case_id: int) -> list[tuple[str, str, str]]:
    with read() as s:
        rows = s.scalars(select(HumanTask).where(HumanTask.case_id == case_id).order_by(HumanTask.id))
        return [(r.element_id, r.status, r.cancelled_reason) for r in rows]


def case_row(read, case_id: int) -> Case:
    with read() as s:
        return s.get(Case, case_id)


def start(engine, write, who, process_id: str | None = None, **data):
    with write() as s:
        return factories.start(engine, s, who, data or None, process_id=process_id)


def complete(engine, write, who, task_id: int, data: dict):
    with write() as s:
        return tasks.complete(engine, s, who, task_id, data)


def test_a_ready_step_becomes_one_task_row_with_its_columns(people, engine, write, read, frozen_clock):
    started = start(engine, write, people["win"])
    [row] = open_rows(read, started.case_id)
    assert (row.element_id, row.process_id, row.title, row.lane, row.role, row.form_key) == (
        "window_response", "referral_test", "窓口での対応", "窓口", "window", "window_response")
    assert row.agency_id == people["win"].agency_id  # the window role works for the intake agency
    assert row.assignee_id == people["win"].user_id and row.claimed_at == frozen_clock.now()  # starter
    assert row.created_at == frozen_clock.now() and row.status == "open"


def test_syncing_again_creates_no_second_row(people, engine, write, read):
    started = start(engine, write, people["win"])
    for _ in range(2):
        with write() as s:
            live = runtime.load(engine, s, runtime.lock_case(s, started.case_id))
            again = projection.sync(engine, s, live, projection.Names(s, live.case, SYSTEM))
            assert [r.id for r in again] == [started.open_tasks[0].id]
            assert projection.sync(engine, s, live) == again  # twice in one transaction, too
            runtime.save(engine, s, live)
    with read() as s:
        assert s.scalar(select(func.count()).select_from(HumanTask)) == 1


def test_a_completed_step_stays_completed_and_the_next_one_is_created(people, engine, write, read):
    started = start(engine, write, people["win"])
    result = complete(engine, write, people["win"], started.open_tasks[0].id, {"action": "refer"})
    assert all_rows(read, started.case_id) == [("window_response", "completed", ""),
                                               ("consent_check", "open", "")]
    [row] = open_rows(read, started.case_id)
    assert [t.id for t in result.open_tasks] == [row.id]
    assert row.assignee_id is None and row.claimed_at is None  # no assignee property: the queue


def test_a_step_the_process_leaves_is_cancelled(people, engine, write, read, frozen_clock):
    with write() as s:
        factories.deploy(engine, s, files(timed()))
    started = start(engine, write, people["win"], "timed")
    frozen_clock.advance(days=2, seconds=1)
    with write() as s:
        opened = events.fire_due_timers(engine, s, started.case_id)
    assert [t.element_id for t in opened] == ["b"]
    assert all_rows(read, started.case_id) == [("a", "cancelled", "process_moved"), ("b", "open", "")]
    with pytest.raises(Conflict) as info, write() as s:
        tasks.complete(engine, s, people["win"], started.open_tasks[0].id, {})
    assert info.value.reason == "cancelled"


def test_next_timer_at_is_the_soonest_waiting_timer(people, engine, write, read, frozen_clock):
    with write() as s:
        factories.deploy(engine, s, files(timed()))
    started = start(engine, write, people["win"], "timed")
    assert case_row(read, started.case_id).next_timer_at == frozen_clock.now() + timedelta(days=2)
    assert started.open_tasks[0].due_at == frozen_clock.now() + timedelta(days=5)
    frozen_clock.advance(days=1)
    complete(engine, write, people["win"], started.open_tasks[0].id, {})  # before the timer: it goes
    case = case_row(read, started.case_id)
    assert case.next_timer_at is None and case.outcome == "完了"


def test_a_fired_timer_clears_next_timer_at(people, engine, write, read, frozen_clock):
    with write() as s:
        factories.deploy(engine, s, files(timed()))
    started = start(engine, write, people["win"], "timed")
    frozen_clock.advance(days=3)
    with write() as s:
        events.fire_due_timers(engine, s, started.case_id)
    case = case_row(read, started.case_id)
    assert case.next_timer_at is None and (case.stage, case.current_step) == ("second", "催促")


def test_business_day_due_times_end_the_working_day_in_tokyo(people, engine, write, read, frozen_clock):
    started = start(engine, write, people["win"])  # 火 2026-11-24 10:00 JST, due 3BD
    assert started.open_tasks[0].due_at == jst(2026, 11, 27, *END_OF_DAY)  # 金
    frozen_clock.set(jst(2026, 11, 27, 16, 0))  # 金
    started = start(engine, write, people["win"])
    assert started.open_tasks[0].due_at == jst(2026, 12, 2, *END_OF_DAY)  # 水, over the weekend


def test_business_days_skip_holidays_and_the_year_end(people, engine, settings, write, frozen_clock):
    engine = build_engine(settings.replace(due_overrides={"*": "1BD"}), engine.forms)
    frozen_clock.set(jst(2026, 12, 28, 10, 0))  # 月; 12-29..01-03 closed
    assert start(engine, write, people["win"]).open_tasks[0].due_at == jst(2027, 1, 4, *END_OF_DAY)
    frozen_clock.set(jst(2026, 11, 20, 10, 0))  # 金; 11-23 (月) 勤労感謝の日
    assert start(engine, write, people["win"]).open_tasks[0].due_at == jst(2026, 11, 24, *END_OF_DAY)


def test_due_overrides_replace_the_diagram_due_per_step_or_for_all(people, engine, settings, write,
                                                                   frozen_clock):
    overriding = build_engine(settings.replace(due_overrides={"window_response": "P1D", "*": "PT2H"}),
                              engine.forms)
    started = start(overriding, write, people["win"])
    assert started.open_tasks[0].due_at == frozen_clock.now() + timedelta(days=1)
    result = complete(overriding, write, people["win"], started.open_tasks[0].id, {"action": "refer"})
    assert result.open_tasks[0].due_at == frozen_clock.now() + timedelta(hours=2)  # "*" beats 3BD too


@pytest.mark.parametrize(("due", "context", "expected"), [
    (None, {}, None),
    ("", {}, None),
    ("P3D", {}, datetime(2026, 11, 27, 1, 0, tzinfo=UTC)),
    ("2BD", {}, jst(2026, 11, 26, *END_OF_DAY)),
    ("2027-04-01T09:00:00+09:00", {}, jst(2027, 4, 1, 9, 0)),
    ("plan.due", {"plan": {"due": "P1D"}}, datetime(2026, 11, 25, 1, 0, tzinfo=UTC)),
    ("business_days(plan.days)", {"plan": {"days": 1}}, jst(2026, 11, 25, *END_OF_DAY)),
    ("plan.due", {"plan": {"due": ""}}, None),  # the expression gave nothing: no due time
    ("plan.due", {"plan": {"due": "いつか"}}, None),  # not in the notation
    ("plan.due", {}, None),
    ("1 / 0", {}, None),
])
def test_due_at_from_the_property_or_an_expression(due, context, expected, engine):
    start_at = datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert projection.due_at(engine, {"element_id": "a", "due": due}, context, start_at) == expected


def test_current_step_lists_every_open_step_and_stage_keeps_the_last_known(people, engine, write, read):
    with write() as s:
        factories.deploy(engine, s, files(parallel()))
    started = start(engine, write, people["win"], "par")
    case = case_row(read, started.case_id)
    assert set(case.current_step.split("、")) == {"作業X", "作業Y"} and case.stage == "work"
    x = next(t for t in started.open_tasks if t.element_id == "x")
    complete(engine, write, people["win"], x.id, {})
    case = case_row(read, started.case_id)
    assert case.current_step == "作業Y" and case.stage == "work"  # 作業Y has no stage: the last one stays
    started = start(engine, write, people["win"], "referral_test")
    complete(engine, write, people["win"], started.open_tasks[0].id, {"action": "refer"})
    case = case_row(read, started.case_id)
    assert (case.current_step, case.stage) == ("同意確認", "intake")


def test_the_end_event_names_the_outcome(people, engine, write, read, frozen_clock):
    started = start(engine, write, people["win"])
    frozen_clock.advance(hours=3)
    result = complete(engine, write, people["win"], started.open_tasks[0].id, {"action": "resolved"})
    assert result.case_finished and result.open_tasks == []
    case = case_row(read, started.case_id)
    assert (case.status, case.outcome, case.stage, case.current_step) == (
        "completed", "窓口対応で完結", "finished", "")
    assert case.finished_at == frozen_clock.now() and case.next_timer_at is None


def test_an_outcome_set_by_a_step_wins_over_the_end_event(people, engine, write, read):
    with write() as s:
        factories.deploy(engine, s, files(one_step("decided", **{"case.outcome": "'支援終結（目標達成）'"})))
    started = start(engine, write, people["win"], "decided")
    complete(engine, write, people["csw"], started.open_tasks[0].id, {})
    case = case_row(read, started.case_id)
    assert (case.status, case.outcome) == ("completed", "支援終結（目標達成）")


@pytest.mark.parametrize(("expression", "who"), [
    ("'csw1'", "csw"),
    ("'gone'", None),  # an inactive account
    ("'win'", None),  # no csw role
    ("'nobody'", None),
    ("starter", None),  # the starter is window staff
    ("int(intake.subject_name)", None),  # fails at run time: the step goes to the queue
    ("previous", None),
])
def test_an_assignee_must_be_an_active_user_with_the_steps_role(expression, who, people, engine, write, read):
    with write() as s:
        factories.deploy(engine, s, files(one_step(assignee=expression)))
    started = start(engine, write, people["win"], "one")
    [row] = open_rows(read, started.case_id)
    assert row.assignee_id == (people[who].user_id if who else None)
    assert (row.claimed_at is not None) is (who is not None)


def test_assignees_from_a_decision_and_from_whoever_acted_previously(people, engine, write, read):
    b = ProcessBuilder("assign", "担当の決定")
    b.start("start", form="intake")
    b.user("decide", "担当決定", form="decision", assignee="starter")
    b.user("work", "CSW対応", form="note", assignee="decision.csw")
    b.user("follow", "CSWの続き", form="note", assignee="previous")
    b.user("back", "窓口への報告", form="note", assignee="previous")
    b.end("end", "完了")
    b.lane("窓口", "start", "decide", "back")
    b.lane("CSW", "work", "follow", "end")
    for a, c in (("start", "decide"), ("decide", "work"), ("work", "follow"), ("follow", "back"),
                 ("back", "end")):
        b.flow(a, c)
    with write() as s:
        factories.deploy(engine, s, files(b))
    started = start(engine, write, people["win"], "assign")
    assert started.open_tasks[0].assignee_id == people["win"].user_id
    [work] = complete(engine, write, people["win"], started.open_tasks[0].id,
                      {"result": "approve", "csw": "csw1"}).open_tasks
    assert work.assignee_id == people["csw"].user_id
    [follow] = complete(engine, write, people["csw"], work.id, {}).open_tasks
    assert follow.assignee_id == people["csw"].user_id  # previous: who completed the step before
    [back] = complete(engine, write, people["csw"], follow.id, {}).open_tasks
    assert back.assignee_id is None  # previous is a CSW; the step is the window's


def test_agency_comes_from_the_agency_property_or_the_roles_rule(people, engine, write, read):
    b = ProcessBuilder("agencies", "機関")
    b.start("start", form="intake")
    b.parallel("split")
    b.user("window_step", "窓口の手順", form="note")
    b.user("any_step", "CSWの手順", form="note")
    b.user("named", "指定機関", form="note", agency="'AG-LEAD'")
    b.user("unknown", "不明な機関", form="note", agency="'AG-NOWHERE'")
    b.user("failing", "式の誤り", form="note", agency="str(int(intake.subject_name))")
    b.end("e1", "終了1")
    b.lane("窓口", "start", "split", "window_step", "named", "unknown", "failing", "e1")
    b.lane("CSW", "any_step")
    b.flow("start", "split")
    for step in ("window_step", "any_step", "named", "unknown", "failing"):
        b.flow("split", step)
        b.flow(step, "e1")
    with write() as s:
        factories.deploy(engine, s, files(b))
        lead = factories.agency(s, "AG-LEAD").id
    started = start(engine, write, people["win"], "agencies")
    agencies = {r.element_id: r.agency_id for r in open_rows(read, started.case_id)}
    assert agencies == {"window_step": people["win"].agency_id, "any_step": None, "named": lead,
                        "unknown": None, "failing": people["win"].agency_id}


def test_names_give_starter_and_previous_lazily(people, engine, write):
    started = start(engine, write, people["win"])
    with write() as s:
        case = s.get(Case, started.case_id)
        names = projection.Names(s, case, people["csw"])
        assert len(names) == 2 and list(names) == ["starter", "previous"]
        assert names["previous"] == "csw1" and names["starter"] == "win"
        assert dict(projection.Names(s, case, people["win"])) == {"starter": "win", "previous": "win"}
        case.started_by_id = None
        assert projection.Names(s, case, people["csw"])["starter"] is None
        with pytest.raises(KeyError):
            names["other"]


def test_a_renamed_starter_is_looked_up_by_id(people, engine, write):
    started = start(engine, write, people["win"])
    with write() as s:
        s.scalar(select(User).where(User.username == "win")).username = "win-renamed"
        s.flush()
        assert projection.Names(s, s.get(Case, started.case_id), SYSTEM)["starter"] == "win-renamed"


def test_a_long_current_step_is_cut_to_its_column(people, engine, write, read):
    b = ProcessBuilder("many", "多数")
    b.start("start", form="intake")
    b.parallel("split")
    steps = [f"step{i}" for i in range(12)]
    for i, step in enumerate(steps):
        b.user(step, f"とても長い名前の手順その{i}" + "あ" * 20, form="note")
    b.end("end", "終了")
    b.lane("窓口", "start", "split", *steps, "end")
    b.flow("start", "split")
    for step in steps:
        b.flow("split", step)
        b.flow(step, "end")
    with write() as s:
        factories.deploy(engine, s, files(b))
    started = start(engine, write, people["win"], "many")
    case = case_row(read, started.case_id)
    assert len(case.current_step) == projection.MAX_STEP_TEXT and len(started.open_tasks) == 12


def test_a_stage_fits_its_column(people, engine, write, read):
    try:
        with write() as s:
            factories.deploy(engine, s, files(one_step("staged", stage="段階" * 25)))
    except DefinitionError:
        return  # refusing it at deploy is a fix too
    started = start(engine, write, people["win"], "staged")
    assert len(case_row(read, started.case_id).stage) <= 40
