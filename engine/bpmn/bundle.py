"""A bundle of process files, read, checked and parsed as one unit (what ``validate`` and ``deploy`` see).

A bundle is the ``*.bpmn`` files of a directory plus its ``roles.yaml``. :func:`load_bundle` returns
every problem found, each naming the file, line and element, or the parsed processes with their
task metadata when there are none. Nothing here touches the database.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from lxml import etree

from ..errors import Problem
from ..formdefs import FormRegistry
from ..roles import ROLES_FILE, RoleConfig, parse_roles
from . import rules
from .conventions import collect_task_meta
from .graph import check_loops
from .parser import ParsedProcess, parse_documents
from .structure import BLOCKING, check_structure, no_executable_process
from .xml import NSMAP, XmlDocument, is_bpmn, is_dmn, read_document

BPMN_SUFFIXES = (".bpmn", ".bpmn2", ".bpmn20.xml")


@dataclass
class Bundle:
    files: dict[str, bytes]
    docs: list[XmlDocument] = field(default_factory=list)
    roles: RoleConfig = field(default_factory=RoleConfig)
    processes: dict[str, ParsedProcess] = field(default_factory=dict)
    task_meta: dict[str, dict[str, dict]] = field(default_factory=dict)
    called: set[str] = field(default_factory=set)
    problems: list[Problem] = field(default_factory=list)

    @property
    def content_hash(self) -> str:
        return content_hash(self.files)

    @property
    def ok(self) -> bool:
        return not self.problems


def content_hash(files: dict[str, bytes]) -> str:
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode("utf-8") + b"\0" + hashlib.sha256(files[name]).hexdigest().encode() + b"\n")
    return digest.hexdigest()


def is_process_file(path: Path) -> bool:
    return path.name.lower().endswith(BPMN_SUFFIXES)


def read_directory(directory: str | Path) -> dict[str, bytes]:
    """The bundle files of a directory: every BPMN file and ``roles.yaml``."""
    root = Path(directory)
    files = {p.name: p.read_bytes() for p in sorted(root.iterdir()) if p.is_file() and is_process_file(p)}
    roles = root / ROLES_FILE
    if roles.is_file():
        files[ROLES_FILE] = roles.read_bytes()
    return files


def read_files(paths: Iterable[str | Path]) -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for raw in paths:
        path = Path(raw)
        files[path.name] = path.read_bytes()
        roles = path.parent / ROLES_FILE
        if roles.is_file() and ROLES_FILE not in files:
            files[ROLES_FILE] = roles.read_bytes()
    return files


def _check_document(doc: XmlDocument, bundle: Bundle, forms: FormRegistry | None, known: set[str],
                    calls: dict[str, set[str]]) -> list[Problem]:
    found: list[Problem] = list(rules.check_duplicate_ids(doc))
    processes = list(rules.iter_processes(doc))
    if not processes:
        found.append(no_executable_process(doc))
        return found
    for process in processes:
        found.extend(check_structure(doc, process))
        found.extend(rules.check_unsupported(doc, process))
        found.extend(rules.check_human_tasks(doc, process, bundle.roles, forms))
        found.extend(rules.check_lanes(doc, process, bundle.roles))
        found.extend(rules.check_gateways_and_flows(doc, process))
        found.extend(rules.check_expressions(doc, process))
        found.extend(rules.check_call_activities(doc, process, known, calls))
        found.extend(rules.check_boundary_on_loops(doc, process))
        found.extend(check_loops(doc, process))
    return found


def _duplicate_processes(docs: list[XmlDocument]) -> list[Problem]:
    seen: dict[str, str] = {}
    found = []
    for doc in docs:
        for process in doc.root.iterfind("bpmn:process", NSMAP):
            pid = process.get("id", "")
            if pid in seen and seen[pid] != doc.name:
                found.append(Problem(doc.name, process.sourceline, pid, f"process id {pid!r} is also "
                                     f"defined in {seen[pid]}; every process in a bundle needs its own id",
                                     code="duplicate_id"))
            seen.setdefault(pid, doc.name)
    return found


def _backstop(bundle: Bundle) -> list[Problem]:
    """SpiffWorkflow's own parser finds what the rules do not know; run it when that is safe.

    It is skipped when a structural problem could make it fail obscurely (or, for unresolvable
    data references, loop), and its findings are kept only for elements not already named.
    """
    if not bundle.docs or any(p.code in BLOCKING or p.code in ("not_xml", "doctype", "too_large", "not_bpmn",
                                                                "no_executable_process")
                              for p in bundle.problems):
        return []
    named = {(p.file, p.element_id) for p in bundle.problems}
    files_with_problems = {p.file for p in bundle.problems}
    extra = []
    for p in parse_documents(bundle.docs).problems:
        if (p.file, p.element_id) in named or (p.element_id is None and p.file in files_with_problems):
            continue
        extra.append(p)
    return extra


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen, out = set(), []
    for p in problems:
        key = (p.file, p.line, p.element_id, p.reason)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return out


def load_bundle(files: dict[str, bytes], forms: FormRegistry | None,
                max_bytes: int = 2 * 1024 * 1024) -> Bundle:
    """Read, check and parse ``files``; the result carries either problems or parsed processes."""
    bundle = Bundle(files=files)
    if ROLES_FILE in files:
        bundle.roles, problems = parse_roles(files[ROLES_FILE].decode("utf-8", "replace"))
        bundle.problems.extend(problems)
    for name in sorted(files):
        if name == ROLES_FILE:
            continue
        doc, problems = read_document(name, files[name], max_bytes)
        bundle.problems.extend(problems)
        if doc is None:
            continue
        if is_dmn(doc):
            bundle.problems.append(Problem(name, 1, None, "DMN decision tables are not supported; "
                                           "use gateway conditions", code="unsupported"))
        elif not is_bpmn(doc):
            root = etree.QName(doc.root.tag)
            bundle.problems.append(Problem(name, doc.root.sourceline, None,
                                           f"not a BPMN file: the root element is <{root.localname}> "
                                           f"(namespace {root.namespace or 'none'}), not <bpmn:definitions> "
                                           "of the BPMN 2.0 namespace", code="not_bpmn"))
        else:
            bundle.docs.append(doc)
    if not bundle.docs and not bundle.problems:
        bundle.problems.append(Problem("(bundle)", None, None, "no BPMN files found", code="empty"))
    calls = rules.call_graph(bundle.docs)
    known = {pid for doc in bundle.docs for pid in
             (p.get("id") for p in rules.iter_processes(doc)) if pid}
    bundle.problems.extend(_duplicate_processes(bundle.docs))
    for doc in bundle.docs:
        bundle.problems.extend(_check_document(doc, bundle, forms, known, calls))
    if bundle.problems:
        bundle.problems = _dedupe(bundle.problems + _backstop(bundle))
        return bundle
    parsed = parse_documents(bundle.docs)
    bundle.problems.extend(parsed.problems)
    bundle.processes, bundle.called = parsed.processes, parsed.called
    for doc in bundle.docs:
        for spec_name, meta in collect_task_meta(doc, bundle.roles).items():
            bundle.task_meta.setdefault(spec_name, {}).update(meta)
    bundle.problems = _dedupe(bundle.problems)
    return bundle
