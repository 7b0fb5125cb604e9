"""Print the corpus summary table at the end of a run that included tests/corpus."""

from __future__ import annotations

from typing import Any


def pytest_terminal_summary(terminalreporter: Any) -> None:
    from tests.corpus import test_corpus

    lines = test_corpus.summary_lines(test_corpus.VALIDATION, test_corpus.RUNS)
    if lines:
        terminalreporter.section("BPMN corpus")
        for line in lines:
            terminalreporter.write_line(line)
