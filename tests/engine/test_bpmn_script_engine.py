"""The script engine handed to SpiffWorkflow: safe expressions only, no scripts, a time budget."""

from __future__ import annotations

import time

import pytest
from SpiffWorkflow.bpmn import BpmnWorkflow
from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.util.task import TaskState

from engine.bpmn.script_engine import SafeScriptEngine
from engine.businessdays import BusinessCalendar
from engine.errors import ExpressionError
from tests.support.validation import check, linear

ENGINE = SafeScriptEngine(BusinessCalendar(()), budget_s=1.0)


def task(data: dict):  # noqa: ANN201 - a real SpiffWorkflow task, READY at the user task
    parsed = check(linear().xml()).processes["p"]
    wf = BpmnWorkflow(parsed.spec, parsed.subprocess_specs, script_engine=ENGINE)
    wf.do_engine_steps()
    ready = wf.get_tasks(state=TaskState.READY, manual=True)[0]
    ready.data = data
    return ready


def test_conditions_are_evaluated_safely():
    assert ENGINE.evaluate(task({"consent": {"status": "agreed"}}), "consent.status == 'agreed'") is True
    assert ENGINE.evaluate(task({}), "consent.status == 'agreed'") is False


def test_external_context_is_visible_but_task_data_wins():
    assert ENGINE.evaluate(task({"x": 1}), "x + y", {"x": 10, "y": 2}) == 3


@pytest.mark.parametrize("source", ["__import__('os').system('id')", "().__class__", "9**9**9", "open('x')"])
def test_unsafe_expressions_fail_as_task_errors(source):
    with pytest.raises(WorkflowTaskException) as info:
        ENGINE.evaluate(task({}), source)
    assert "failed" in str(info.value)


def test_scripts_and_services_are_refused_at_run_time_too():
    with pytest.raises(WorkflowTaskException, match="script tasks are disabled"):
        ENGINE.execute(task({}), "import os")
    with pytest.raises(WorkflowTaskException, match="service tasks are not supported"):
        ENGINE.call_service(task({}), operation="x")
    with pytest.raises(ExpressionError):
        ENGINE.environment.evaluate("1", {})
    with pytest.raises(ExpressionError):
        ENGINE.environment.execute("x = 1", {})


def test_validate_uses_the_allow_list():
    ENGINE.validate("a == 1")
    with pytest.raises(ExpressionError):
        ENGINE.validate("lambda: 1")


def test_a_runaway_condition_is_stopped_by_the_budget():
    tight = SafeScriptEngine(BusinessCalendar(()), budget_s=0.0)
    heavy = " and ".join(["[n] * 9999 == [n] * 9999"] * 20)
    with pytest.raises(WorkflowTaskException, match="time budget"):
        tight.evaluate(task({"n": 1}), heavy)
    started = time.perf_counter()
    ENGINE.evaluate(task({"n": 1}), heavy)
    assert time.perf_counter() - started < 1.0
