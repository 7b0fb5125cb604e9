"""Turning a bundle of BPMN documents into SpiffWorkflow specs.

Documents arrive already read by :mod:`engine.bpmn.xml`. Before SpiffWorkflow sees them, Camunda
``${…}`` conditions are translated to our expression syntax; after parsing, timer definitions are
swapped for Tsunagu's (:mod:`engine.bpmn.timers`). SpiffWorkflow's own exceptions, including the raw
ones it wraps, are turned into :class:`~engine.errors.Problem` values that name the file, the line
(looked up by element id, which SpiffWorkflow leaves empty) and the element.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import SpiffBpmnParser

from ..errors import Problem
from ..expressions import from_camunda
from .timers import replace_timer_definitions
from .xml import NSMAP, XmlDocument


class TsunaguBpmnParser(SpiffBpmnParser):
    """SpiffWorkflow's parser for the Spiff dialect; Camunda attributes are read by conventions."""


@dataclass
class ParsedProcess:
    process_id: str
    name: str
    file_name: str
    spec: Any
    subprocess_specs: dict[str, Any]


@dataclass
class ParseResult:
    processes: dict[str, ParsedProcess] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    called: set[str] = field(default_factory=set)


def _normalized(doc: XmlDocument) -> Any:
    root = copy.deepcopy(doc.root)
    for cond in root.iterfind(".//bpmn:conditionExpression", NSMAP):
        if cond.text:
            cond.text = from_camunda(cond.text)
    return root


def problem_from_exception(exc: Exception, docs: dict[str, XmlDocument], default_file: str) -> Problem:
    """A Problem naming file, line and element for a SpiffWorkflow parse error."""
    element_id = getattr(exc, "id", None) or None
    file_name = getattr(exc, "file_name", None) or default_file
    doc = docs.get(file_name)
    line = doc.line_of(element_id) if doc else None
    if not line:
        raw_line = getattr(exc, "line_number", None)
        line = int(raw_line) if isinstance(raw_line, int) or (isinstance(raw_line, str) and raw_line.isdigit()) \
            else None
    message = getattr(exc, "message", None) or str(exc)
    message = message.splitlines()[0] if message else type(exc).__name__
    if message.startswith(("NotImplementedError(", "TypeError(", "KeyError(", "AttributeError(")):
        message = f"SpiffWorkflow cannot read this element ({message})"
    name = getattr(exc, "name", None)
    if name and element_id and name != element_id:
        message = f"{message} (element {name!r})"
    return Problem(file_name, line, element_id, message, code="bpmn_invalid")


def parse_documents(docs: list[XmlDocument]) -> ParseResult:
    """Parse every executable process in ``docs``; collect problems instead of raising."""
    result = ParseResult()
    by_name = {d.name: d for d in docs}
    parser = TsunaguBpmnParser()
    for doc in docs:
        try:
            parser.add_bpmn_xml(_normalized(doc), filename=doc.name)
        except (ValidationException, SpiffWorkflowException) as exc:
            result.problems.append(problem_from_exception(exc, by_name, doc.name))
        except Exception as exc:  # noqa: BLE001 - SpiffWorkflow raises plain errors on odd input
            result.problems.append(Problem(doc.name, None, None,
                                           f"SpiffWorkflow could not read the file ({type(exc).__name__})"))
    if result.problems:
        return result
    result.called = {c for c in parser.get_process_dependencies() if c}
    for process_id in parser.get_process_ids():
        process_parser = parser.get_process_parser(process_id)
        file_name = process_parser.filename or ""
        try:
            spec = parser.get_spec(process_id)
            subs = parser.get_subprocess_specs(process_id)
        except (ValidationException, SpiffWorkflowException) as exc:
            result.problems.append(problem_from_exception(exc, by_name, file_name))
            continue
        except Exception as exc:  # noqa: BLE001
            result.problems.append(Problem(file_name, None, process_id,
                                           f"SpiffWorkflow could not build the process ({type(exc).__name__}: "
                                           f"{str(exc)[:200]})"))
            continue
        replace_timer_definitions([spec, *subs.values()])
        name = process_parser.node.get("name") or process_id
        result.processes[process_id] = ParsedProcess(process_id, name.strip(), file_name, spec, subs)
    return result
