"""Turning a bundle of BPMN documents into SpiffWorkflow specs.

Documents arrive already read by :mod:`engine.bpmn.xml`. Before SpiffWorkflow sees them, Camunda
``${…}`` conditions are translated to our expression syntax; after parsing, timer definitions are
swapped for Tsunagu's (:mod:`engine.bpmn.timers`). SpiffWorkflow's own exceptions, including the raw
ones it wraps, are turned into :class:`~engine.errors.Problem` values that name the file, the line
(looked up by element id, which SpiffWorkflow leaves empty) and the element.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from SpiffWorkflow.bpmn.parser.ValidationException import ValidationException
from SpiffWorkflow.exceptions import SpiffWorkflowException
from SpiffWorkflow.spiff.parser import SpiffBpmnParser

from ..errors import Problem
from ..expressions import from_camunda
from .timers import replace_timer_definitions
from .xml import BPMN_NS, NSMAP, XmlDocument


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


PLAIN_REASONS: tuple[tuple[str, str], ...] = (
    ("No start event found", "the process has no start event: add one where a case begins"),
    ("Non-default exclusive outgoing sequence flow without condition",
     "outgoing flow of a decision has no condition; give it one or make it the gateway's default flow"),
    ("A Service Task must have an operator", "service tasks are not supported: a diagram cannot call code"),
    ("There is no support implemented for this task type", "this kind of element is not supported"),
    ("No DMN Diagram available", "business rule tasks (DMN) are not supported; use gateway conditions"),
    ("Multiple outgoing flows are not supported",
     "SpiffWorkflow only splits at gateways: add an exclusive or parallel gateway after this element"),
    ("Exactly one start event is required", "an embedded sub-process needs exactly one start event"),
    ("A SubWorkflow Must contain an End event", "an embedded sub-process needs an end event"),
    ("Unknown Time Specification", "timer has no time: add a duration (P3D, 3BD), a date or a cycle"),
    ("Cannot resolve data",
     "a data association points at something that is not a data object in this process"),
    ("Data Store", "data stores are not supported; keep data in forms and data objects"),
    ("Cancel Events may only be used with transactions", "cancel events belong to transactions"),
    ("A multiinstance task must specify",
     "multi-instance activity needs exactly one of loopCardinality or loopDataInputRef"),
    ("A loopMaximum or loopCondition must be specified",
     "loop activity needs a loopCondition or loopMaximum"),
    ("Unsupported Catch Event",
     "catch event waits for nothing: give it a timer, message or signal definition"),
    ("Expected a",
     "the event refers to a message, signal, error or escalation that is not defined in the file"),
    ("Duplicate process ID", "two files define a process with the same id"),
    ("When looking for a task spec", "a sequence flow points to an element that does not exist here"),
)
_NOT_FOUND = re.compile(r"The process '(?P<id>[^']*)' was not found")


def _plain(message: str) -> str:
    for marker, reason in PLAIN_REASONS:
        if marker in message:
            return reason
    if message.startswith(("NotImplementedError(", "TypeError(", "KeyError(", "AttributeError(")):
        return f"SpiffWorkflow cannot read this element ({message[:160]})"
    return message.rstrip(". ")


def _caller(docs: dict[str, XmlDocument], target: str) -> tuple[str, str] | None:
    for doc in docs.values():
        for call in doc.root.iter(f"{{{BPMN_NS}}}callActivity"):
            if (call.get("calledElement") or "").strip() == target and call.get("id"):
                return doc.name, call.get("id")
    return None


def problem_from_exception(exc: Exception, docs: dict[str, XmlDocument], default_file: str) -> Problem:
    """A Problem naming file, line and element, in plain words, for a SpiffWorkflow parse error."""
    element_id = getattr(exc, "id", None) or None
    file_name = getattr(exc, "file_name", None) or default_file
    message = getattr(exc, "message", None) or str(exc)
    message = message.splitlines()[0].strip() if message.strip() else type(exc).__name__
    missing = _NOT_FOUND.search(message)
    code = "bpmn_invalid"
    if missing and (caller := _caller(docs, missing["id"])):
        file_name, element_id = caller
        message, code = f"call activity calls process {missing['id']!r}, which is not in the bundle", "call"
    else:
        message = _plain(message)
    doc = docs.get(file_name)
    line = doc.line_of(element_id) if doc else None
    if not line:
        raw_line = getattr(exc, "line_number", None)
        line = int(raw_line) if isinstance(raw_line, int) or str(raw_line or "").isdigit() else None
    name = getattr(exc, "name", None)
    if name and element_id and name != element_id:
        message = f"{message} (element {' '.join(str(name).split())!r})"
    return Problem(file_name, line, element_id, message, code=code)


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
            result.problems.append(Problem(file_name, None, process_id, "SpiffWorkflow could not build "
                                           f"the process ({type(exc).__name__}: {str(exc)[:200]})"))
            continue
        replace_timer_definitions([spec, *subs.values()])
        name = process_parser.node.get("name") or process_id
        result.processes[process_id] = ParsedProcess(process_id, name.strip(), file_name, spec, subs)
    return result
