"""engine.inbox: the named views (mine, claimable, agency, due soon, overdue) with their counts, paging,
sorting and filters, restricted by the access policy, with the person's name masked where it may not be
shown; one audit event per list."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from engine import clock, inbox, policy, tasks
from engine.models import AuditEvent, Case, HumanTask
from tests.support import access_world, factories
from tests.support.referral10 import referral_files


@pytest.fixture
def world(engine, write, frozen_clock):
    """win's own 窓口での対応 (mine), a 同意確認 in AG-WIN's queue, and a case of another agency."""
    with write() as s:
        p = {"win": factories.actor(s, "window", "AG-WIN", "win"),
             "win2": factories.actor(s, "window", "AG-WIN", "win2"),
             "other": factories.actor(s, "window", "AG-OTHER", "other"),
             "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord", kind="coordinating_office"),
             "csw": factories.actor(s, "csw", "AG-CSW", "csw1")}
        factories.deploy(engine, s, referral_files())
    with write() as s:
        own = factories.start(engine, s, p["win"], {"subject_name": "本人 一郎"})
        queued = factories.start(engine, s, p["win"], {"subject_name": "本人 二郎"})
        elsewhere = factories.start(engine, s, p["other"], {"subject_name": "本人 三郎"})
    with write() as s:
        tasks.complete(engine, s, p["win"], queued.open_tasks[0].id, {"action": "refer"})
    return p, {"own": own.case_id, "queued": queued.case_id, "elsewhere": elsewhere.case_id}


def listing(engine, write, actor, view="mine", **options) -> inbox.Page:
    with write() as s:
        return inbox.list_tasks(engine, s, actor, view, **options)


def steps(page: inbox.Page) -> list[tuple[str, str]]:
    return [(r.case_number, r.element_id) for r in page.rows]


def counts(engine, read, actor) -> dict[str, int]:
    with read() as s:
        return inbox.counts(engine, s, actor)


def number(read, case_id: int) -> str:
    with read() as s:
        return s.get(Case, case_id).case_number


def add_tasks(write, case_id: int, n: int, **columns) -> list[int]:
    """``n`` open tasks on a case, inserted directly (the inbox reads only columns); ``columns`` may hold
    callables of the index."""
    ids = []
    with write() as s:
        for i in range(n):
            values = {"element_id": "extra", "title": f"追加の手順{i:02d}", "role": "window",
                      "process_id": "referral_test", "form_key": "note", "created_at": clock.now()}
            values.update({k: v(i) if callable(v) else v for k, v in columns.items()})
            row = HumanTask(case_id=case_id, spiff_task_id=str(uuid.uuid4()), status="open", **values)
            s.add(row)
            s.flush()
            ids.append(row.id)
    return ids


def test_mine_is_what_is_assigned_to_me(world, engine, write, read):
    p, c = world
    page = listing(engine, write, p["win"])
    assert steps(page) == [(number(read, c["own"]), "window_response")]
    row = page.rows[0]
    assert (row.assignee_name, row.agency_name, row.subject_name, row.stage) == (
        "テスト win", "テスト機関AG-WIN", "本人 一郎", "intake")
    assert listing(engine, write, p["win2"]).rows == []


def test_claimable_is_the_unassigned_work_of_my_role_and_agency(world, engine, write, read):
    p, c = world
    expected = [(number(read, c["queued"]), "consent_check")]
    assert steps(listing(engine, write, p["win"], "claimable")) == expected
    assert steps(listing(engine, write, p["win2"], "claimable")) == expected
    assert listing(engine, write, p["other"], "claimable").rows == []  # another agency's queue
    assert listing(engine, write, p["csw"], "claimable").rows == []  # another role
    add_tasks(write, c["queued"], 1, role="csw", agency_id=None, element_id="csw_step")
    assert [r.element_id for r in listing(engine, write, p["csw"], "claimable").rows] == ["csw_step"]


def test_agency_is_every_open_task_of_my_agency(world, engine, write, read):
    p, c = world
    assert sorted(r.element_id for r in listing(engine, write, p["win2"], "agency").rows) == [
        "consent_check", "window_response"]
    assert [r.element_id for r in listing(engine, write, p["other"], "agency").rows] == ["window_response"]
    with write() as s:
        loose = factories.actor(s, "csw", None, "loose")
    add_tasks(write, c["own"], 1, role="csw", agency_id=None, assignee_id=loose.user_id)
    assert listing(engine, write, loose, "agency").rows == []  # no agency, no agency view
    assert listing(engine, write, loose, "mine").total == 1


def test_due_soon_and_overdue_follow_the_clock(world, engine, write, read, frozen_clock):
    p, c = world
    win = p["win"]
    assert counts(engine, read, win) == {"mine": 1, "claimable": 1, "due_soon": 0, "overdue": 0, "agency": 2}
    frozen_clock.advance(days=1)  # 水: both due 金 23:59, within 2 business days
    assert {r.element_id for r in listing(engine, write, win, "due_soon").rows} == {"window_response",
                                                                                      "consent_check"}
    assert counts(engine, read, win)["due_soon"] == 2
    frozen_clock.advance(days=3)  # 土
    assert {r.element_id for r in listing(engine, write, win, "overdue").rows} == {"window_response",
                                                                                     "consent_check"}
    assert counts(engine, read, win) == {"mine": 1, "claimable": 1, "due_soon": 0, "overdue": 2, "agency": 2}
    assert listing(engine, write, p["other"], "overdue").total == 1  # only its own


def test_overdue_and_due_soon_leave_out_work_i_cannot_act_on(world, engine, write, read, frozen_clock):
    p, c = world
    [queued] = listing(engine, write, p["win2"], "claimable").rows
    with write() as s:  # a colleague's task, overdue: in the agency view, not in mine/overdue
        tasks.claim(s, p["win2"], queued.id)
    frozen_clock.advance(days=10)
    assert [r.element_id for r in listing(engine, write, p["win"], "overdue").rows] == ["window_response"]
    assert listing(engine, write, p["win"], "agency").total == 2


def test_counts_equal_the_totals_of_every_view(world, engine, write, read, frozen_clock):
    p, c = world
    add_tasks(write, c["own"], 3, assignee_id=p["win"].user_id, agency_id=p["win"].agency_id,
              due_at=lambda i: clock.now() + timedelta(days=i - 1))
    add_tasks(write, c["queued"], 2, agency_id=None, due_at=lambda i: clock.now() + timedelta(hours=i + 1))
    for who in p.values():
        found = counts(engine, read, who)
        assert found == {v: listing(engine, write, who, v).total for v in inbox.VIEWS}, who.username
    assert counts(engine, read, p["win"]) == {"mine": 4, "claimable": 3, "due_soon": 4, "overdue": 1,
                                              "agency": 5}


def test_cases_the_actor_may_not_see_are_left_out_of_lists_and_counts(world, engine, write, read):
    p, c = world
    add_tasks(write, c["elsewhere"], 1, assignee_id=p["win"].user_id)  # assigned: the case becomes visible
    assert listing(engine, write, p["win"]).total == 2
    with write() as s:
        s.get(Case, c["elsewhere"]).confidential = True  # a 支援会議 case win is no member of
        s.get(Case, c["own"]).confidential = True
    assert listing(engine, write, p["win"]).rows == []
    assert counts(engine, read, p["win"])["mine"] == 0
    assert listing(engine, write, p["coord"], "claimable").rows == []  # sees the cases, has no task there
    with read() as s:
        assert inbox.step_choices(engine, s, p["win"], "mine") == []


def test_names_on_a_confidential_case_follow_the_compartment(world, engine, write, monkeypatch):
    p, c = world
    with write() as s:
        case = s.get(Case, c["own"])
        access_world.support_meeting(s, case, [(p["win"].user_id, False), (p["csw"].user_id, False)])
    add_tasks(write, c["own"], 1, role="coordinator", agency_id=None, element_id="coord_step")
    [mine] = listing(engine, write, p["win"]).rows
    assert mine.subject_name == "本人 一郎"  # a member of the 支援会議
    # a row of a confidential case listed for someone outside the compartment is masked (defence in depth:
    # the visibility filter already keeps such rows away)
    monkeypatch.setattr(policy, "names_shown", lambda session, actor, ids: set())
    [masked] = listing(engine, write, p["win"]).rows
    assert masked.subject_name == inbox.MASK == "＊＊＊"
    monkeypatch.undo()
    [coordinators] = listing(engine, write, p["coord"], "claimable").rows
    assert coordinators.subject_name == "本人 一郎"
    [queued] = listing(engine, write, p["win"], "claimable").rows  # not confidential: the name is shown
    assert queued.subject_name == "本人 二郎"


def test_a_support_meeting_member_sees_the_name_as_the_policy_allows(world, engine, write):
    p, c = world
    with write() as s:
        case = s.get(Case, c["own"])
        access_world.support_meeting(s, case, [(p["win"].user_id, False)])
        assert policy.may_see_name(p["win"], case)
    [mine] = listing(engine, write, p["win"]).rows
    assert mine.subject_name == "本人 一郎"


def test_pages_cut_the_list_and_clamp_their_bounds(world, engine, write):
    p, c = world
    add_tasks(write, c["own"], 6, assignee_id=p["win"].user_id,
              due_at=lambda i: clock.now() + timedelta(hours=i + 1))
    first = listing(engine, write, p["win"], per_page=3)
    third = listing(engine, write, p["win"], page=3, per_page=3)
    assert (first.total, first.pages, len(first.rows), len(third.rows)) == (7, 3, 3, 1)
    ids = [r.id for page in (1, 2, 3) for r in listing(engine, write, p["win"], page=page, per_page=3).rows]
    assert len(ids) == len(set(ids)) == 7
    clamped = listing(engine, write, p["win"], page=-4, per_page=0)
    assert (clamped.page, clamped.per_page, clamped.pages, len(clamped.rows)) == (1, 1, 7, 1)
    assert listing(engine, write, p["win"], per_page=5000).per_page == inbox.MAX_PER_PAGE
    assert listing(engine, write, p["win"], page=9).rows == []
    assert inbox.Page(rows=[], total=0, page=1, per_page=50).pages == 1


def test_sorting_by_due_created_step_and_case(world, engine, write, read, frozen_clock):
    p, c = world
    now = clock.now()
    add_tasks(write, c["own"], 4, assignee_id=p["win"].user_id,
              due_at=lambda i: None if i == 1 else now + timedelta(days=10 - i),
              created_at=lambda i: now - timedelta(hours=i), title=lambda i: "あいうえ"[i] + "の手順")
    add_tasks(write, c["elsewhere"], 1, assignee_id=p["win"].user_id, due_at=now + timedelta(days=30),
              title="んの手順")

    def order(**options):
        return [r.title for r in listing(engine, write, p["win"], **options).rows]

    assert order() == ["窓口での対応", "えの手順", "うの手順", "あの手順", "んの手順", "いの手順"]
    assert order(descending=True) == ["んの手順", "あの手順", "うの手順", "えの手順", "窓口での対応",
                                      "いの手順"]  # no due time: always last
    assert order(sort="created") == ["えの手順", "うの手順", "いの手順",
                                     "窓口での対応", "あの手順", "んの手順"]  # the same time: by id
    extra = {"あの手順", "いの手順", "うの手順", "えの手順"}
    assert [t for t in order(sort="step") if t in extra] == ["あの手順", "いの手順", "うの手順", "えの手順"]
    assert [t for t in order(sort="step", descending=True) if t in extra] == [
        "えの手順", "うの手順", "いの手順", "あの手順"]
    numbers = [r.case_number for r in listing(engine, write, p["win"], sort="case", descending=True).rows]
    assert numbers == sorted(numbers, reverse=True) and numbers[0] == number(read, c["elsewhere"])
    assert order(sort="nonsense") == order()  # unknown sorts fall back to the due time


def test_filter_by_step_and_case_number(world, engine, write, read):
    p, c = world
    add_tasks(write, c["own"], 2, assignee_id=p["win"].user_id, element_id="extra")
    assert {r.element_id for r in listing(engine, write, p["win"], step="extra").rows} == {"extra"}
    assert listing(engine, write, p["win"], step="extra").total == 2
    own = number(read, c["own"])
    assert listing(engine, write, p["win"], case_number=own).total == 3
    assert listing(engine, write, p["win"], case_number=f"  {own[-3:]} ").total == 3  # part, trimmed
    assert listing(engine, write, p["win"], case_number=number(read, c["queued"])).total == 0
    assert listing(engine, write, p["win"], case_number="%").total == 0  # no wildcards
    assert listing(engine, write, p["win"], case_number="_").total == 0


def test_step_choices_are_the_distinct_steps_of_the_view(world, engine, write, read):
    p, c = world
    add_tasks(write, c["own"], 3, assignee_id=p["win"].user_id, element_id="extra", title="あとの手順")
    with read() as s:
        assert inbox.step_choices(engine, s, p["win"], "mine") == [("extra", "あとの手順"),
                                                                   ("window_response", "窓口での対応")]
        assert inbox.step_choices(engine, s, p["win"], "claimable") == [("consent_check", "同意確認")]


def test_overview_is_one_page_the_counts_and_the_steps(world, engine, write):
    p, _ = world
    with write() as s:
        found = inbox.overview(engine, s, p["win"], "claimable", per_page=10)
    assert [r.element_id for r in found.page.rows] == ["consent_check"] and found.page.per_page == 10
    assert found.counts == {"mine": 1, "claimable": 1, "due_soon": 0, "overdue": 0, "agency": 2}
    assert found.steps == [("consent_check", "同意確認")]


def test_a_list_is_one_audit_event_naming_the_view_and_cases(world, engine, write, read):
    p, c = world
    with read() as s:
        before = s.scalar(select(func.count()).select_from(AuditEvent))
    listing(engine, write, p["win"], "agency")
    with read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == before + 1
        event = s.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))
    assert (event.action, event.object_type, event.object_id, event.username) == (
        "task.list", "task_list", "agency", "win")
    assert event.detail == {"rows": 2, "cases": sorted([c["own"], c["queued"]])}


def test_an_unknown_view_is_an_error(world, engine, write):
    p, _ = world
    with pytest.raises(ValueError, match="unknown inbox view"), write() as s:
        inbox.list_tasks(engine, s, p["win"], "everything")


def test_case_tasks_lists_a_cases_tasks_oldest_first(world, engine, write, read, frozen_clock):
    p, c = world
    with read() as s:
        case = s.get(Case, c["queued"])
        found = inbox.case_tasks(s, case)
        open_only = inbox.case_tasks(s, case, "open")
    assert [(t.element_id, t.status) for t in found] == [("window_response", "completed"),
                                                         ("consent_check", "open")]
    assert found[0].completed_by_name == "テスト win" and found[0].assignee_name == "テスト win"
    assert [t.element_id for t in open_only] == ["consent_check"]
    assert all(t.case_number == case.case_number and t.stage == "intake" for t in found)
