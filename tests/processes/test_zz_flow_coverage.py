"""Runs after the path tests of this directory: every sequence flow of processes/*.bpmn was taken."""

from __future__ import annotations

import pytest

from tests.processes import coverage

MODULES = {"test_case", "test_support_meeting", "test_outreach", "test_participation"}


def test_every_sequence_flow_was_taken(request):
    ran = {item.module.__name__.rsplit(".", 1)[-1] for item in request.session.items}
    if not MODULES <= ran:
        pytest.skip("flow coverage is checked when all process path tests run together")
    missing = {file: ids for file, (_, _, ids) in coverage.by_file().items() if ids}
    print(f"\nsequence-flow coverage: {100 * coverage.share():.1f} %")
    assert coverage.share() == 1.0, missing
