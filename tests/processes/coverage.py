"""Sequence-flow coverage of the path tests: which flows of processes/*.bpmn the cases have taken.

Flows are identified by their (source, target) element pair, which is unique in our diagrams (the
suite checks that). :func:`record` is fed by the test driver after every step; the terminal summary
prints the share per file and ``test_zz_flow_coverage`` asserts it is 100 %.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lxml import etree

PROCESSES = Path(__file__).resolve().parents[2] / "processes"
NS = {"bpmn": "http://www.omg.org/spec/BPMN/20100524/MODEL"}
TAKEN: set[str] = set()
CONTRIBUTED: set[str] = set()


@lru_cache(maxsize=1)
def flows() -> dict[tuple[str, str], tuple[str, str]]:
    """(source, target) → (file name, flow id) for every sequence flow of every process file."""
    found: dict[tuple[str, str], tuple[str, str]] = {}
    for path in sorted(PROCESSES.glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        for flow in root.iterfind(".//bpmn:sequenceFlow", NS):
            key = (flow.get("sourceRef"), flow.get("targetRef"))
            if key in found:
                raise AssertionError(
                    f"two sequence flows {key} ({found[key][1]}, {flow.get('id')}): "
                    "coverage cannot tell them apart"
                )
            found[key] = (path.name, flow.get("id"))
    return found


@lru_cache(maxsize=1)
def element_ids() -> frozenset[str]:
    ids: set[str] = set()
    for source, target in flows():
        ids.update((source, target))
    for path in sorted(PROCESSES.glob("*.bpmn")):
        root = etree.parse(str(path)).getroot()
        ids.update(
            e.get("id")
            for e in root.iter()
            if isinstance(e.tag, str)
            and e.get("id")
            and etree.QName(e.tag).localname.endswith(("Task", "Event", "Gateway", "Activity", "subProcess"))
        )
    return frozenset(ids)


def record(pairs: set[tuple[str, str]]) -> None:
    table = flows()
    for pair in pairs:
        if pair in table:
            TAKEN.add(table[pair][1])


def by_file() -> dict[str, tuple[int, int, list[str]]]:
    """file → (taken, total, ids not taken)."""
    result: dict[str, tuple[int, int, list[str]]] = {}
    for file, flow_id in flows().values():
        taken, total, missing = result.get(file, (0, 0, []))
        if flow_id in TAKEN:
            taken += 1
        else:
            missing = [*missing, flow_id]
        result[file] = (taken, total + 1, missing)
    return result


def share() -> float:
    table = flows()
    return len(TAKEN & {fid for _, fid in table.values()}) / len(table) if table else 1.0
