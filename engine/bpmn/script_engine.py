"""The script engine handed to SpiffWorkflow: expressions only, through the safe evaluator.

Gateway conditions, timer expressions and loop conditions are evaluated by
:func:`engine.expressions.evaluate`, never by ``eval``. Script tasks and pre/post scripts are refused
at validation; should one reach run time anyway, :meth:`SafeScriptEngine.execute` refuses it too.
"""

from __future__ import annotations

from collections import ChainMap
from typing import Any

from SpiffWorkflow.bpmn.exceptions import WorkflowTaskException
from SpiffWorkflow.bpmn.script_engine import PythonScriptEngine
from SpiffWorkflow.bpmn.script_engine.python_environment import BasePythonScriptEngineEnvironment

from ..businessdays import BusinessCalendar
from ..errors import ExpressionError
from ..expressions import compile_expression, evaluate


class _NoEnvironment(BasePythonScriptEngineEnvironment):
    def evaluate(self, expression: str, context: Any, external_context: Any = None) -> Any:
        raise ExpressionError("direct evaluation is disabled")

    def execute(self, script: str, context: Any, external_context: Any = None) -> bool:
        raise ExpressionError("scripts are disabled in Tsunagu")


class SafeScriptEngine(PythonScriptEngine):
    def __init__(self, calendar: BusinessCalendar, budget_s: float = 1.0) -> None:
        super().__init__(environment=_NoEnvironment())
        self.calendar = calendar
        self.budget_s = budget_s

    def validate(self, expression: str) -> None:
        compile_expression(expression)

    def evaluate(self, task: Any, expression: str, external_context: Any = None) -> Any:
        context = ChainMap(task.data, external_context or {}) if external_context else task.data
        try:
            return evaluate(expression, context, self.budget_s)
        except ExpressionError as exc:
            raise WorkflowTaskException(f"expression {expression!r} failed: {exc.message}", task=task,
                                        exception=exc) from None

    def execute(self, task: Any, script: str, external_context: Any = None) -> bool:
        raise WorkflowTaskException("script tasks are disabled in Tsunagu", task=task)

    def call_service(self, task: Any, **kwargs: Any) -> Any:
        raise WorkflowTaskException("service tasks are not supported by Tsunagu", task=task)
