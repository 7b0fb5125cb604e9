"""engine.case_notes: F8 支援経過記録 are form records without a task, written with one ``note.write`` audit
event by those who work on the case (not by a mere consent recipient, never on a closed case), read
with the case's records through the same policy (consent categories), newest first; notes written in
the 支援会議 compartment stay in it after the case leaves it."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine import case_notes, cases, compartments, tasks
from engine.core import build_engine
from engine.errors import Invalid, NotAllowed, NotFound
from engine.formdefs import load_forms
from engine.models import AuditEvent, Case, FormRecord, HumanTask
from tests.support import factories
from tests.support.access_process import consent_files, forms_dir

CASE_NOTE_FORM = Path(__file__).resolve().parents[2] / "forms" / "case_note.yaml"
NOTE = {"noted_at": "2026-11-24T10:00", "kind": "phone", "counterpart": "person",
        "content": "電話で近況を確認", "minutes": "15", "basis": "consent"}


@pytest.fixture
def nengine(settings, tmp_path):
    directory = forms_dir(tmp_path)
    shutil.copy(CASE_NOTE_FORM, directory / "case_note.yaml")
    forms, problems = load_forms(directory)
    assert not problems, problems
    return build_engine(settings.replace(forms_dir=str(directory)), forms)


@pytest.fixture
def people(nengine, write, frozen_clock):
    with write() as s:
        p = {"win": factories.actor(s, "window", "AG-WIN", "win"),
             "other": factories.actor(s, "window", "AG-OTHER", "other"),
             "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
             "p1": factories.actor(s, "agency_staff", "AG-P1", "p1", kind="partner"),
             "member": factories.actor(s, "agency_staff", "AG-HOKEN", "member", kind="partner")}
        factories.deploy(nengine, s, consent_files())
    return p


def start(nengine, write, people) -> int:
    with write() as s:
        return factories.start(nengine, s, people["win"], process_id="consent_test").case_id


def consent_to(nengine, write, people, case_id: int, categories: list[str]) -> None:
    with write() as s:
        task_id = s.scalar(select(HumanTask.id).where(HumanTask.case_id == case_id,
                                                      HumanTask.element_id == "consent"))
        tasks.complete(nengine, s, people["win"], task_id, {"consent": "written", "recipients": ["AG-P1"],
                                                            "categories": categories})


def add(nengine, write, actor, case_id: int, **changes) -> case_notes.NoteView:
    with write() as s:
        return case_notes.add_note(nengine, s, actor, case_id, {**NOTE, **changes})


def events(read, username: str) -> list[tuple[str, bool, str]]:
    with read() as s:
        rows = s.scalars(select(AuditEvent).where(AuditEvent.username == username).order_by(AuditEvent.id))
        return [(e.action, e.allowed, e.object_type) for e in rows]


def visible_notes(read, actor, case_id: int) -> list[str]:
    with read() as s:
        return [n.data["content"] for n in case_notes.list_notes(s, actor, case_id)]


def test_a_note_is_a_form_record_without_a_task_written_with_one_audit_event(nengine, people, write, read):
    case_id = start(nengine, write, people)
    before = events(read, "win")
    note = add(nengine, write, people["win"], case_id)
    assert (note.recorded_by, note.compartment, note.data["minutes"]) == ("テスト win", False, 15)
    with read() as s:
        row = s.get(FormRecord, note.id)
        assert (row.form_key, row.element_id, row.human_task_id, row.compartment) == (
            "case_note", "case_note", None, False)
        assert row.data["content"] == "電話で近況を確認" and row.data["noted_at"] == "2026-11-24T10:00+09:00"
    assert events(read, "win")[len(before):] == [("note.write", True, "record")]
    with read() as s:
        detail = cases.case_detail(s, people["win"], case_id)
        assert [r.id for r in detail.records if case_notes.is_note(r)] == [note.id]


def test_notes_are_listed_newest_first_with_who_wrote_them(nengine, people, write, read, frozen_clock):
    case_id = start(nengine, write, people)
    add(nengine, write, people["win"], case_id, noted_at="2026-11-20T09:00", content="古い記録")
    frozen_clock.advance(timedelta(minutes=5))
    add(nengine, write, people["coord"], case_id, noted_at="2026-11-23T15:30", content="新しい記録")
    frozen_clock.advance(timedelta(minutes=5))
    add(nengine, write, people["win"], case_id, noted_at="2026-11-21T11:00", content="中間の記録")
    before = len(events(read, "win"))
    with read() as s:
        notes = case_notes.list_notes(s, people["win"], case_id)
        detail = cases.case_detail(s, people["win"], case_id)
    assert [n.data["content"] for n in notes] == ["新しい記録", "中間の記録", "古い記録"]
    assert [n.recorded_by for n in notes] == ["テスト coord", "テスト win", "テスト win"]
    assert [n.id for n in case_notes.newest_first(detail.records)] == [n.id for n in notes]
    assert [a for a, _, _ in events(read, "win")[before:]] == ["record.read", "case.read"]


def test_invalid_input_names_the_fields_and_stores_nothing(nengine, people, write, read):
    case_id = start(nengine, write, people)
    with pytest.raises(Invalid) as raised, write() as s:
        case_notes.add_note(nengine, s, people["win"], case_id, {"kind": "chat", "minutes": "abc"})
    assert set(raised.value.errors) == {"noted_at", "kind", "counterpart", "content", "minutes", "basis"}
    assert raised.value.errors["kind"] == ["選択肢から選んでください。"]
    with read() as s:
        stored = select(func.count()).select_from(FormRecord).where(FormRecord.form_key == "case_note")
        assert s.scalar(stored) == 0
    assert "note.write" not in [a for a, _, _ in events(read, "win")]


def test_outsiders_get_not_found_and_a_mere_consent_recipient_may_not_write(nengine, people, write, read):
    case_id = start(nengine, write, people)
    consent_to(nengine, write, people, case_id, ["basic", "history"])
    with pytest.raises(NotFound), write() as s:
        case_notes.add_note(nengine, s, people["other"], case_id, NOTE)
    assert events(read, "other")[-1] == ("note.write", False, "case")
    # AG-P1 sees the case by the consent, but does not work on it
    with pytest.raises(NotAllowed), write() as s:
        case_notes.add_note(nengine, s, people["p1"], case_id, NOTE)
    assert events(read, "p1")[-1] == ("note.write", False, "case")
    with write() as s:
        assert case_notes.may_write(people["win"], s.get(Case, case_id))
        assert not case_notes.may_write(people["p1"], s.get(Case, case_id))


def test_a_closed_case_takes_no_more_notes(nengine, people, write):
    case_id = start(nengine, write, people)
    with write() as s:
        s.execute(update(Case).where(Case.id == case_id).values(status="closed"))
    with pytest.raises(NotAllowed), write() as s:
        case_notes.add_note(nengine, s, people["coord"], case_id, NOTE)


def test_a_consent_recipient_reads_notes_only_when_consented_to_the_history(nengine, people, write, read):
    shared = start(nengine, write, people)
    consent_to(nengine, write, people, shared, ["basic", "history"])
    add(nengine, write, people["win"], shared, content="共有される記録")
    narrow = start(nengine, write, people)
    consent_to(nengine, write, people, narrow, ["basic"])
    add(nengine, write, people["win"], narrow, content="共有されない記録")
    assert visible_notes(read, people["p1"], shared) == ["共有される記録"]
    assert visible_notes(read, people["p1"], narrow) == []
    assert visible_notes(read, people["win"], narrow) == ["共有されない記録"]


def support_meeting(write, people, case_id: int) -> None:
    with write() as s:
        meeting = compartments.open_meeting(s, people["coord"], "support")
        compartments.add_case(s, people["coord"], meeting.id, case_id)
        compartments.add_member(s, people["coord"], meeting.id, "member")


def test_notes_written_in_the_compartment_stay_there_after_the_case_leaves_it(nengine, people, write, read):
    case_id = start(nengine, write, people)
    support_meeting(write, people, case_id)
    with pytest.raises(NotFound), write() as s:  # the intake agency is outside the compartment
        case_notes.add_note(nengine, s, people["win"], case_id, NOTE)
    inside = add(nengine, write, people["member"], case_id, basis="support_meeting", content="会議での共有")
    plain = add(nengine, write, people["coord"], case_id, content="本人同意を根拠とする記録")
    assert inside.compartment and plain.compartment  # written while the case was confidential
    with write() as s:  # the person consents later: the process lifts the confidentiality
        s.execute(update(Case).where(Case.id == case_id).values(confidential=False))
    after = add(nengine, write, people["win"], case_id, content="同意後の記録")
    assert not after.compartment
    assert visible_notes(read, people["win"], case_id) == ["同意後の記録"]
    with read() as s:
        win_records = {r.id for r in cases.case_detail(s, people["win"], case_id).records}
    assert inside.id not in win_records and plain.id not in win_records
    assert len(visible_notes(read, people["member"], case_id)) == 3
    assert len(visible_notes(read, people["coord"], case_id)) == 3


def test_only_the_compartment_may_give_the_support_meeting_as_the_basis(nengine, people, write):
    plain = start(nengine, write, people)
    with pytest.raises(Invalid) as raised, write() as s:
        case_notes.add_note(nengine, s, people["win"], plain, {**NOTE, "basis": "support_meeting"})
    assert raised.value.errors == {"basis": [case_notes.NO_MEETING]}
    lifted = start(nengine, write, people)
    support_meeting(write, people, lifted)
    with write() as s:
        s.execute(update(Case).where(Case.id == lifted).values(confidential=False))
    with pytest.raises(Invalid) as raised, write() as s:
        case_notes.add_note(nengine, s, people["win"], lifted, {**NOTE, "basis": "support_meeting"})
    assert raised.value.errors == {"basis": [case_notes.NOT_MEMBER]}
    assert add(nengine, write, people["member"], lifted, basis="support_meeting").compartment


def test_without_the_form_definition_there_is_nothing_to_write(engine, nengine, people, write):
    case_id = start(nengine, write, people)
    assert case_notes.note_form(engine) is None  # the test fixture forms have no case_note
    with pytest.raises(NotFound), write() as s:
        case_notes.add_note(engine, s, people["win"], case_id, NOTE)
