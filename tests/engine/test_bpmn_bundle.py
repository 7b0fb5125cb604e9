"""Bundles: reading directories, content hashes, task metadata, and the SpiffWorkflow backstop."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from engine.bpmn import bundle as bundle_module
from engine.bpmn.bundle import content_hash, is_process_file, load_bundle, read_directory, read_files
from tests.support.referral10 import ROLES, referral_files
from tests.support.validation import FORMS, check, linear


def test_content_hash_is_stable_order_free_and_content_sensitive():
    files = referral_files()
    assert content_hash(files) == content_hash(dict(reversed(list(files.items()))))
    assert content_hash(files) == content_hash(referral_files())
    assert content_hash(files) != content_hash(referral_files(version_note="2"))
    renamed = {("other.bpmn" if k.endswith(".bpmn") else k): v for k, v in files.items()}
    assert content_hash(files) != content_hash(renamed)
    assert len(content_hash(files)) == 64


@pytest.mark.parametrize(("name", "is_bpmn"), [
    ("a.bpmn", True), ("a.BPMN", True), ("a.bpmn2", True), ("a.bpmn20.xml", True), ("a.xml", False),
    ("roles.yaml", False), ("a.dmn", False), ("a.bpmn.bak", False),
])
def test_process_files(name, is_bpmn):
    assert is_process_file(Path(name)) is is_bpmn


def test_read_directory_and_read_files(tmp_path: Path):
    (tmp_path / "a.bpmn").write_bytes(b"<a/>")
    (tmp_path / "b.bpmn20.xml").write_bytes(b"<b/>")
    (tmp_path / "notes.txt").write_bytes(b"x")
    (tmp_path / "roles.yaml").write_bytes(b"lanes: {}\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.bpmn").write_bytes(b"<c/>")
    assert set(read_directory(tmp_path)) == {"a.bpmn", "b.bpmn20.xml", "roles.yaml"}
    assert set(read_files([tmp_path / "a.bpmn"])) == {"a.bpmn", "roles.yaml"}
    assert set(read_files([tmp_path / "sub" / "c.bpmn"])) == {"c.bpmn"}


def test_a_valid_bundle_carries_specs_and_task_metadata():
    bundle = load_bundle(referral_files(), FORMS)
    assert bundle.ok and set(bundle.processes) == {"referral_test"}
    meta = bundle.task_meta["referral_test"]
    assert meta["start"]["form_key"] == "intake" and meta["start"]["tag"] == "startEvent"
    window = meta["window_response"]
    assert (window["role"], window["form_key"], window["due"], window["assignee"], window["stage"]) == \
        ("window", "window_response", "3BD", "starter", "intake")
    assert meta["plan"]["lane"] == "CSW" and meta["plan"]["role"] == "csw"
    assert window["line"] == bundle.docs[0].line_of("window_response")
    assert bundle.content_hash == content_hash(referral_files())


def test_an_empty_bundle_is_a_problem():
    bundle = load_bundle({}, FORMS)
    assert [p.code for p in bundle.problems] == ["empty"]
    bundle = load_bundle({"roles.yaml": ROLES.encode()}, FORMS)
    assert [p.code for p in bundle.problems] == ["empty"]


def test_roles_file_problems_are_reported_with_the_processes():
    bundle = check(linear().xml(), roles="lanes:\n  相談: boss\n")
    assert {p.file for p in bundle.problems} == {"roles.yaml", "t.bpmn"}


def test_problems_are_deduplicated():
    bundle = check(linear(form=None, lane=None).xml())
    keys = [(p.file, p.line, p.element_id, p.reason) for p in bundle.problems]
    assert len(keys) == len(set(keys))


def test_backstop_reports_what_only_spiffworkflow_knows(monkeypatch):
    """With the structural rules switched off, SpiffWorkflow's own error still comes back named."""
    monkeypatch.setattr(bundle_module, "check_structure", lambda doc, process: [])
    b = linear()
    b.elements[0] = '<bpmn:intermediateThrowEvent id="start"/>'
    bundle = check(b.xml())
    [problem] = bundle.problems
    assert problem.code == "bpmn_invalid" and problem.element_id == "p" and "no start event" in problem.reason
    # next to a convention problem, the backstop still runs and names its element
    bundle = check(b.xml().replace('value="note"', 'value="nonexistent"'))
    assert {p.code for p in bundle.problems} == {"unknown_form", "bpmn_invalid"}


def test_backstop_is_skipped_after_blocking_problems():
    b = linear()
    b.raw("x", '<bpmn:serviceTask id="x"/>')
    assert {p.code for p in check(b.xml()).problems} == {"unsupported"}


def test_validation_is_fast_on_a_large_diagram():
    b = linear()
    b.flows.clear()
    previous = "start"
    for i in range(400):
        b.user(f"t{i}", f"作業{i}")
        b.lane("窓口", f"t{i}")
        b.flow(previous, f"t{i}")
        previous = f"t{i}"
    b.flow(previous, "a")
    b.flow("a", "end")
    started = time.perf_counter()
    bundle = check(b.xml())
    assert bundle.ok and time.perf_counter() - started < 2
