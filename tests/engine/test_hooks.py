"""engine.hooks: after-submission hooks listed by form key as ``module:function`` names, imported on first
use and run in order, in the submission's own transaction (a hook's failure rolls the submission back)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from engine import hooks, tasks
from engine.consent import config
from engine.errors import Invalid
from engine.models import Agency, Case, FormRecord, HumanTask
from tests.support import factories
from tests.support.referral10 import FORMS_DIR, referral_files

ROOT = Path(__file__).resolve().parents[2]
HERE = "tests.engine.test_hooks"
CALLS: list[tuple[str, hooks.Submission, dict]] = []


def first(ctx: hooks.Submission) -> None:
    """A test hook: notes what it saw inside the transaction and writes a row through the same session."""
    record = ctx.session.get(FormRecord, ctx.record_id) if ctx.record_id else None
    CALLS.append(("first", ctx, {"record": record.form_key if record else None}))
    factories.agency(ctx.session, f"HOOK-{ctx.form_key}-{ctx.record_id}", "partner")


def second(ctx: hooks.Submission) -> None:
    CALLS.append(("second", ctx, {}))


def refuse(ctx: hooks.Submission) -> None:
    CALLS.append(("refuse", ctx, {}))
    raise Invalid({"note": ["フックが拒否しました。"]})


@pytest.fixture
def registered(monkeypatch):
    """``registered(form_key, *names)`` lists hooks for a form for this test only."""
    CALLS.clear()
    monkeypatch.setattr(hooks, "_resolved", {})

    def register(form_key: str, *names: str) -> None:
        monkeypatch.setitem(hooks.HOOKS, form_key, list(names))

    yield register
    CALLS.clear()


@pytest.fixture
def world(engine, write, frozen_clock):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
        factories.deploy(engine, s, referral_files())
    with write() as s:
        started = factories.start(engine, s, win)
    with write() as s:
        result = tasks.complete(engine, s, win, started.open_tasks[0].id, {"action": "refer"})
    [note_task] = result.open_tasks  # 同意確認, form "note", for the intake agency's window staff
    return win, started.case_id, note_task.id


def hook_agencies(read) -> list[str]:
    with read() as s:
        return list(s.scalars(select(Agency.code).where(Agency.code.startswith("HOOK-"))))


def test_every_registered_hook_names_a_function():
    for form_key, names in hooks.HOOKS.items():
        assert names, form_key
        for name in names:
            assert callable(hooks._resolve(name)), name


def test_every_hooked_form_exists():
    known = {p.stem for p in (ROOT / "forms").glob("*.yaml")} | {p.stem for p in FORMS_DIR.glob("*.yaml")}
    assert set(hooks.HOOKS) <= known


def test_hooks_are_in_step_with_the_policy_matrix():
    cfg = config()
    expected = {
        "engine.consent:on_consent_form": cfg["consent"]["forms"],
        "engine.consent:on_withdrawal_form": cfg["consent"]["withdrawal_forms"],
        "engine.plan_roles:on_plan_form": cfg["plan"]["forms"],
        "engine.plan_roles:on_decision_form": cfg["plan"]["approval_forms"],
        "engine.compartments:on_convene_form": cfg["support_meeting"]["convene_forms"],
    }
    for hook, forms in expected.items():
        assert {k for k, names in hooks.HOOKS.items() if hook in names} == set(forms), hook


def test_a_form_without_hooks_does_nothing(registered, world, engine, write):
    win, case_id, _ = world
    with write() as s:
        case = s.get(Case, case_id)
        hooks.after_submission(hooks.Submission(engine, s, win, case, None, "no_such_form", {"x": 1}, None))
    assert CALLS == []


def test_hooks_run_in_order_inside_the_submission_transaction(registered, world, engine, write, read):
    registered("note", f"{HERE}:first", f"{HERE}:second")
    win, case_id, task_id = world
    with write() as s:
        tasks.complete(engine, s, win, task_id, {"note": "確認しました", "done_on": "2026-11-24"})
    assert [name for name, _, _ in CALLS] == ["first", "second"]
    _, ctx, seen = CALLS[0]
    with read() as s:
        record = s.scalar(select(FormRecord).where(FormRecord.human_task_id == task_id))
    assert seen == {"record": "note"}  # the form record was already stored when the hook ran
    assert ctx.record_id == record.id and ctx.form_key == "note" and ctx.actor == win
    assert ctx.case.id == case_id and ctx.task.id == task_id and ctx.engine is engine
    assert ctx.data == {"note": "確認しました", "done_on": "2026-11-24"}
    assert CALLS[1][1] is ctx
    assert hook_agencies(read) == [f"HOOK-note-{record.id}"]  # committed with the completion


def test_a_start_form_runs_its_hooks_without_a_task(registered, engine, write, read):
    registered("intake", f"{HERE}:first")
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
        factories.deploy(engine, s, referral_files())
    with write() as s:
        started = factories.start(engine, s, win)
    [(_, ctx, seen)] = CALLS
    assert ctx.task is None and ctx.case.id == started.case_id and seen == {"record": "intake"}
    assert ctx.data["subject_name"] == "試験 太郎"


def test_a_refusing_hook_rolls_the_submission_back(registered, world, engine, write, read):
    registered("note", f"{HERE}:first", f"{HERE}:refuse", f"{HERE}:second")
    win, case_id, task_id = world
    with read() as s:
        version = s.get(Case, case_id).version
        records = s.scalar(select(func.count()).select_from(FormRecord))
    with pytest.raises(Invalid) as info, write() as s:
        tasks.complete(engine, s, win, task_id, {"note": "確認しました"})
    assert info.value.errors == {"note": ["フックが拒否しました。"]}
    assert [name for name, _, _ in CALLS] == ["first", "refuse"]  # the rest do not run
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open"
        assert s.get(Case, case_id).version == version
        assert s.scalar(select(func.count()).select_from(FormRecord)) == records
    assert hook_agencies(read) == []


@pytest.mark.parametrize(("name", "error"), [
    ("engine.no_such_module:hook", ImportError),
    ("engine.consent:no_such_hook", AttributeError),
    ("engine.consent.on_consent_form", ValueError),  # a dot where the colon belongs
])
def test_an_unknown_hook_name_fails_the_submission_and_writes_nothing(
    name, error, registered, world, engine, write, read
):
    registered("note", f"{HERE}:first", name)
    win, case_id, task_id = world
    with pytest.raises(error), write() as s:
        tasks.complete(engine, s, win, task_id, {"note": "確認しました"})
    with read() as s:
        assert s.get(HumanTask, task_id).status == "open"
    assert hook_agencies(read) == []
    assert name not in hooks._resolved


def test_hooks_are_imported_once_and_reused(registered):
    resolved = hooks._resolve(f"{HERE}:second")
    assert resolved is second
    assert hooks._resolved[f"{HERE}:second"] is second
    assert hooks._resolve(f"{HERE}:second") is resolved
