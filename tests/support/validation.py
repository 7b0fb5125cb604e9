"""Helpers for the validation tests: run a bundle through every check and find named problems."""

from __future__ import annotations

from engine.bpmn.bundle import Bundle, load_bundle
from engine.bpmn.xml import read_document
from engine.errors import Problem
from engine.formdefs import load_forms

from .bpmn_builder import ProcessBuilder
from .referral10 import FORMS_DIR, ROLES

FORMS, _ = load_forms(FORMS_DIR)


def linear(pid: str = "p", form: str | None = "note", lane: str | None = "窓口") -> ProcessBuilder:
    """start → a (user task) → end, in one lane: valid unless a test changes it."""
    b = ProcessBuilder(pid, "テスト")
    if lane:
        b.lane(lane, "start", "a", "end")
    b.start("start")
    b.user("a", "受付", form=form)
    b.end("end")
    b.flow("start", "a")
    b.flow("a", "end")
    return b


def check(xml: str | bytes | dict[str, bytes], roles: str | None = ROLES, forms=FORMS) -> Bundle:  # noqa: ANN001
    files = dict(xml) if isinstance(xml, dict) else {"t.bpmn": xml.encode() if isinstance(xml, str) else xml}
    if roles is not None:
        files.setdefault("roles.yaml", roles.encode())
    return load_bundle(files, forms)


def problem(bundle: Bundle, code: str, element_id: str | None = None, text: str = "") -> Problem:
    """The problem with ``code`` (and ``element_id``) whose reason contains ``text``; it must name a line."""
    found = [p for p in bundle.problems
             if p.code == code and element_id in (None, p.element_id) and text in p.reason]
    assert found, f"no {code} problem on {element_id} with {text!r}: {bundle.problems}"
    p = found[0]
    assert p.file and (p.line or p.element_id), p
    if p.element_id and p.file in bundle.files and p.file.endswith(".bpmn") and code != "duplicate_id":
        doc, _ = read_document(p.file, bundle.files[p.file], 10**7)
        if doc is not None and doc.line_of(p.element_id):
            assert p.line == doc.line_of(p.element_id), (p, doc.line_of(p.element_id))
    return p


def codes(bundle: Bundle) -> set[str]:
    return {p.code for p in bundle.problems}
