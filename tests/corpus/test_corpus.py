"""The public BPMN corpus (../shared/bpmn-corpus): validate every file, run those the library can run.

(a) ``tsunagu validate FILE`` answers every file within 2 s with "valid" or problems that each name
    the file and the element id or line — never a traceback, exit status 0 or 1. In-process through
    click's CliRunner, plus a handful through a real subprocess.
(b) Files the bare library runs to completion (expectations.tsv ``spiff_run`` complete) run through
    Tsunagu's parser and SafeScriptEngine on a FrozenClock, every READY human step completed with empty
    data: they complete, or Tsunagu's validation rejects them naming the element and the reason.
(c) Where the bare library rejects a file and names an element (``*_element_hint``), we name it too.

``python -m tests.corpus.test_corpus`` prints the summary table quoted in docs/designing-processes.md;
the same table is printed at the end of a pytest run (tests/corpus/conftest.py).
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.util.task import TaskState

from engine import clock
from engine.bpmn.bundle import load_bundle, read_files
from engine.bpmn.parser import parse_documents
from engine.bpmn.script_engine import SafeScriptEngine
from engine.bpmn.xml import read_document
from engine.businessdays import BusinessCalendar
from tests.support.referral10 import FORMS_DIR
from web.cli import main

ROOT = Path(__file__).resolve().parents[2]
# ../shared/bpmn-corpus beside the checkout, or wherever TSUNAGU_BPMN_CORPUS points (a clone elsewhere).
CORPUS = Path(os.environ.get("TSUNAGU_BPMN_CORPUS") or ROOT.parent / "shared" / "bpmn-corpus")
NOT_MODELS = {"MANIFEST.tsv", "README.md", "expectations.tsv"}
FILES = sorted(str(p.relative_to(CORPUS)) for p in CORPUS.rglob("*")
               if p.is_file() and p.name not in NOT_MODELS) if CORPUS.is_dir() else []
EXPECT = {r["corpus_path"]: r for r in csv.DictReader((CORPUS / "expectations.tsv").open(encoding="utf-8"),
                                                      delimiter="\t")} if CORPUS.is_dir() else {}
RUNNABLE = sorted(k for k, r in EXPECT.items() if r["spiff_run"].startswith("complete"))
HINTED = sorted(k for k, r in EXPECT.items() if r["spiff_upload"].startswith("reject:validation")
                and any(r[c] for c in ("spiff_element_hint", "camunda_element_hint", "bpmn_element_hint")))
ENGINE = SafeScriptEngine(BusinessCalendar(("12-29..01-03",)))
MAX_STEPS = 200

pytestmark = pytest.mark.skipif(not CORPUS.is_dir(),
                                reason="../shared/bpmn-corpus is not present (set TSUNAGU_BPMN_CORPUS)")

VALIDATION: dict[str, tuple[int, list[dict], float]] = {}
RUNS: dict[str, str] = {}


def cli_env(tmp: Path) -> dict[str, str]:
    config = tmp / "empty.toml"
    config.write_text("", encoding="utf-8")
    return {"TSUNAGU_CONFIG": str(config), "TSUNAGU_FORMS_DIR": str(FORMS_DIR)}


@pytest.fixture(scope="module")
def env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    return cli_env(tmp_path_factory.mktemp("corpus"))


def validate(path: str, env: dict[str, str]) -> tuple[int, list[dict], float]:
    if path not in VALIDATION:
        started = time.perf_counter()
        result = CliRunner().invoke(main, ["validate", "--json", str(CORPUS / path)], env=env,
                                    catch_exceptions=True)
        elapsed = time.perf_counter() - started
        assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
        assert "Traceback" not in result.output
        VALIDATION[path] = (result.exit_code, json.loads(result.output), elapsed)
    return VALIDATION[path]


@pytest.mark.parametrize("path", FILES)
def test_validate_answers_every_file_with_named_problems(path, env):
    exit_code, problems, elapsed = validate(path, env)
    assert elapsed < 2.0, f"{path}: {elapsed:.2f} s"
    assert exit_code == (1 if problems else 0)
    name = Path(path).name
    for problem in problems:
        assert problem["file"] == name, problem
        assert problem["line"] or problem["element_id"], problem
        assert problem["reason"] and problem["code"] and problem["code"] != "internal", problem
        assert "Traceback" not in problem["reason"] and "<Element" not in problem["reason"], problem


@pytest.mark.parametrize("path", HINTED)
def test_the_element_the_bare_library_names_is_named_too(path, env):
    row = EXPECT[path]
    hints = {row[c] for c in ("spiff_element_hint", "camunda_element_hint", "bpmn_element_hint") if row[c]}
    _, problems, _ = validate(path, env)
    assert hints & {p["element_id"] for p in problems}, (hints, problems)


SUBPROCESS_SAMPLE = ["bpmn-moddle/test/fixtures/bpmn/error/no-xml.txt",
                     "bpmn-moddle/test/fixtures/bpmn/error/duplicate-ids.bpmn",
                     "spiffworkflow/tests/SpiffWorkflow/bpmn/data/no-tasks.bpmn",
                     "miwg/Reference/C.8.1.bpmn",
                     "spiffworkflow/tests/SpiffWorkflow/dmn/data/dmn_version_test/v1_3_unsupported/chapter-11-example.dmn"]


@pytest.mark.parametrize("path", SUBPROCESS_SAMPLE)
def test_validate_in_a_real_subprocess(path, tmp_path):
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "web.cli", "validate", str(CORPUS / path)],
                          capture_output=True, text=True, env={**cli_env(tmp_path), "PATH": "/usr/bin:/bin"},
                          cwd=ROOT, timeout=30, check=False)
    elapsed = time.perf_counter() - started
    assert done.returncode in (0, 1) and "Traceback" not in done.stdout + done.stderr
    assert elapsed < 10.0, f"{elapsed:.2f} s including interpreter start-up (about 1.3 s when idle)"
    lines = done.stdout.strip().splitlines()
    if done.returncode == 0:
        assert lines == ["valid"]
    else:
        assert all(line.startswith(Path(path).name) for line in lines)


def run_file(path: str) -> str:
    """Run every top-level process of a file to the end: 'completed' or 'rejected:<code>'."""
    data = (CORPUS / path).read_bytes()
    doc, problems = read_document(Path(path).name, data, 2 * 1024 * 1024)
    assert doc is not None, problems
    parsed = parse_documents([doc])
    if parsed.problems:
        for p in parsed.problems:
            assert p.element_id or p.line, p
        return f"rejected:{parsed.problems[0].code}"
    frozen = clock.FrozenClock(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))
    previous = clock.use(frozen)
    try:
        for process_id in sorted(set(parsed.processes) - parsed.called):
            process = parsed.processes[process_id]
            wf = BpmnWorkflow(process.spec, process.subprocess_specs, script_engine=ENGINE)
            try:
                drive(wf, frozen)
            except SpiffWorkflowException as exc:
                return rejected_by_validation(path, exc)
            assert wf.is_completed(), f"{path} {process_id} did not complete"
    finally:
        clock.use(previous)
    return "completed"


def drive(wf: BpmnWorkflow, frozen: clock.FrozenClock) -> None:
    wf.do_engine_steps()
    for _ in range(MAX_STEPS):
        if wf.is_completed():
            return
        ready = wf.get_tasks(state=TaskState.READY, manual=True)
        if ready:
            ready[0].run()
        else:
            frozen.advance(days=40)
            wf.refresh_timers()
        wf.do_engine_steps()


def rejected_by_validation(path: str, exc: SpiffWorkflowException) -> str:
    """A run-time failure is acceptable only where validation already refuses that element, and says why."""
    task_spec = getattr(exc, "task_spec", None)
    element = getattr(task_spec, "bpmn_id", None) or getattr(task_spec, "name", None)
    bundle = load_bundle(read_files([CORPUS / path]), None)
    named = [p for p in bundle.problems if p.element_id == element]
    assert named, f"{path}: the run failed at {element} ({exc}) but validation does not name it"
    return f"rejected:{named[0].code}"


@pytest.mark.parametrize("path", RUNNABLE)
def test_files_the_library_completes_complete_or_are_rejected_by_name(path):
    RUNS[path] = run_file(path)
    assert RUNS[path] == "completed" or RUNS[path].startswith("rejected:")


PRIMARY = [
    ("unreadable (not XML / DOCTYPE / too large / not BPMN)",
     {"not_xml", "doctype", "too_large", "not_bpmn"}),
    ("no executable process", {"no_executable_process"}),
    ("unsupported element (script, service, DMN…)", {"unsupported"}),
    ("structure, expression or timer error",
     {"no_start", "structure", "data_ref", "call", "duplicate_id", "bpmn_invalid", "timer", "expression"}),
    ("Tsunagu conventions only (lane, form…)",
     {"no_lane", "no_form", "no_role", "unknown_form", "no_default", "no_condition", "unbounded_loop",
      "deep_loop", "cycle"}),
]


def primary(codes: set[str]) -> str:
    return next((label for label, group in PRIMARY if codes & group), "other")


def summary_lines(validation: dict[str, tuple[int, list[dict], float]], runs: dict[str, str]) -> list[str]:
    """The summary table: validation outcome per code (files with at least one such problem), and runs."""
    if not validation:
        return []
    valid = sum(1 for code, _, _ in validation.values() if code == 0)
    by_code = Counter(c for _, problems, _ in validation.values() for c in {p["code"] for p in problems})
    slowest = max(t for _, _, t in validation.values())
    lines = [f"corpus: {len(validation)} files validated, slowest {slowest * 1000:.0f} ms",
             f"  {'valid':<24}{valid:>5}", f"  {'rejected':<24}{len(validation) - valid:>5}",
             "  rejected files by their first blocking reason:"]
    first = Counter(primary({p["code"] for p in problems})
                    for code, problems, _ in validation.values() if code)
    lines += [f"    {label:<54}{first[label]:>5}" for label, _ in PRIMARY if first[label]]
    lines.append("  rejected files by problem code (a file can have several):")
    lines += [f"    {code:<22}{n:>5}" for code, n in sorted(by_code.items(), key=lambda kv: (-kv[1], kv[0]))]
    if runs:
        outcomes = Counter(runs.values())
        lines.append(f"  runnable by the bare library: {len(runs)}")
        lines += [f"    {outcome:<22}{n:>5}" for outcome, n in sorted(outcomes.items())]
    return lines


if __name__ == "__main__":
    import tempfile
    environment = cli_env(Path(tempfile.mkdtemp()))
    for file in FILES:
        validate(file, environment)
    for file in RUNNABLE:
        RUNS[file] = run_file(file)
    print("\n".join(summary_lines(VALIDATION, RUNS)))
