"""engine.audit_log: the auditor's filtered, paged view of the audit trail (newest first), the CSV export
(UTF-8 with BOM, Tokyo times with offset, formula cells neutralised) and the chain check — each one audited
event, and NotFound for anyone but the auditor."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select

from engine import audit, audit_log
from engine.actor import Actor
from engine.errors import NotFound
from engine.models import AuditEvent
from tests.support import factories

ALICE = Actor(user_id=None, username="alice", display_name="監査テスト甲", agency_id=None,
              roles=frozenset({"window"}), request_id="req-a")
BOB = Actor(user_id=None, username="bob", display_name="監査テスト乙", agency_id=None,
            roles=frozenset({"csw"}), request_id="req-b")


@pytest.fixture
def people(write, frozen_clock):
    with write() as s:
        return {"auditor": factories.actor(s, "auditor", "AG-JUSO", "auditor1", kind="coordinating_office"),
                "coord": factories.actor(s, "coordinator", "AG-JUSO", "coord"),
                "admin": factories.actor(s, "admin", "AG-JUSO", "admin1")}


@pytest.fixture
def trail(people, write, frozen_clock):
    """Six events: on 2026-11-24 and 2026-11-25 (Tokyo), by alice and bob, one of them a refusal."""
    frozen_clock.set(datetime(2026, 11, 24, 1, 0, tzinfo=UTC))  # 11-24 10:00 JST
    with write() as s:
        audit.record(s, ALICE, "case.read", "case", "1", case_id=1)
        audit.record(s, ALICE, "task.complete", "task", "10", case_id=1, task_id=10,
                     detail={"form": "note", "element": "a"})
    frozen_clock.set(datetime(2026, 11, 24, 14, 59, tzinfo=UTC))  # 11-24 23:59 JST
    with write() as s:
        audit.record(s, BOB, "case.read", "case", "2", case_id=2)
    frozen_clock.set(datetime(2026, 11, 24, 15, 0, tzinfo=UTC))  # 11-25 00:00 JST
    with write() as s:
        audit.deny(s, BOB, "case.read", "case", 3, case_id=3)
        audit.record(s, BOB, "caseXread", "case", "4", case_id=4)
        audit.record(s, ALICE, "task.claim", "task", "11", case_id=2, task_id=11)
    frozen_clock.set(datetime(2026, 11, 26, 1, 0, tzinfo=UTC))
    return people


def search(write, actor, filters=None, **kw) -> audit_log.Page:
    with write() as s:
        return audit_log.search(s, actor, filters, **kw)


def actions(page: audit_log.Page) -> list[str]:
    return [r.action for r in page.rows]


def newest(read) -> AuditEvent:
    with read() as s:
        return s.scalar(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1))


def test_search_lists_newest_first_with_every_column(trail, write):
    page = search(write, trail["auditor"])
    assert actions(page) == ["task.claim", "caseXread", "case.read", "case.read", "task.complete",
                             "case.read"]
    assert page.total == 6 and page.pages == 1
    row = page.rows[-2]
    assert (row.username, row.role, row.object_type, row.object_id, row.case_id, row.task_id) == (
        "alice", "window", "task", "10", 1, 10)
    assert (row.allowed, row.request_id, row.detail) == (True, "req-a", {"form": "note", "element": "a"})
    assert row.at == datetime(2026, 11, 24, 1, 0, tzinfo=UTC)
    assert row.at_local == "2026-11-24T10:00:00+09:00"
    assert [r.allowed for r in page.rows].count(False) == 1


@pytest.mark.parametrize(("filters", "expected"), [
    (audit_log.Filters(username="bob"), ["caseXread", "case.read", "case.read"]),
    (audit_log.Filters(action="case."), ["case.read", "case.read", "case.read"]),  # a prefix, "." literal
    (audit_log.Filters(action="task"), ["task.claim", "task.complete"]),
    (audit_log.Filters(case_id=2), ["task.claim", "case.read"]),
    (audit_log.Filters(allowed=False), ["case.read"]),
    (audit_log.Filters(allowed=True, username="bob"), ["caseXread", "case.read"]),
    (audit_log.Filters(request_id="req-a"), ["task.claim", "task.complete", "case.read"]),
    (audit_log.Filters(since=date(2026, 11, 25)), ["task.claim", "caseXread", "case.read"]),
    (audit_log.Filters(until=date(2026, 11, 24)), ["case.read", "task.complete", "case.read"]),
    (audit_log.Filters(since=date(2026, 11, 24), until=date(2026, 11, 24), username="alice"),
     ["task.complete", "case.read"]),
    (audit_log.Filters(action="%"), []),  # no wildcards
    (audit_log.Filters(username="nobody"), []),
])
def test_filters_narrow_the_list(filters, expected, trail, write):
    page = search(write, trail["auditor"], filters)
    assert actions(page) == expected and page.total == len(expected)


def test_pages_and_their_bounds(trail, write):
    only_trail = audit_log.Filters(until=date(2026, 11, 25))  # not the auditor's own reads (on the 26th)
    first = search(write, trail["auditor"], only_trail, page=1, per_page=4)
    second = search(write, trail["auditor"], only_trail, page=2, per_page=4)
    assert (first.total, first.pages, len(first.rows), len(second.rows)) == (6, 2, 4, 2)
    assert [r.id for r in first.rows] + [r.id for r in second.rows] == list(range(6, 0, -1))
    beyond = search(write, trail["auditor"], only_trail, page=9, per_page=4)
    assert beyond.rows == [] and beyond.total == 6 and beyond.page == 9
    clamped = search(write, trail["auditor"], only_trail, page=0, per_page=0)
    assert (clamped.page, clamped.per_page, clamped.pages, len(clamped.rows)) == (1, 1, 6, 1)
    assert search(write, trail["auditor"], per_page=10_000).per_page == audit_log.MAX_PER_PAGE


def test_reading_the_log_is_one_audited_event_without_values(trail, write, read):
    search(write, trail["auditor"], audit_log.Filters(username="bob", case_id=2))
    event = newest(read)
    assert (event.action, event.object_type, event.username, event.allowed) == (
        "audit.read", "audit_log", "auditor1", True)
    assert event.detail == {"filters": ["username", "case_id"], "rows": 1}
    with read() as s:
        assert s.scalar(select(func.count()).select_from(AuditEvent)) == 7


def test_filters_used_names_only_what_was_set():
    assert audit_log.Filters().used() == []
    used = audit_log.Filters(username="", allowed=False, since=date(2026, 1, 1)).used()
    assert used == ["allowed", "since"]


@pytest.mark.parametrize("who", ["coord", "admin"])
def test_everyone_but_the_auditor_gets_not_found_and_a_recorded_refusal(who, trail, write, read):
    for call in (lambda s: audit_log.search(s, trail[who]), lambda s: audit_log.export_csv(s, trail[who]),
                 lambda s: audit_log.check_chain(s, trail[who])):
        with pytest.raises(NotFound), write() as s:
            call(s)
        event = newest(read)
        assert (event.username, event.allowed, event.object_type) == (trail[who].username, False, "audit_log")
        assert event.action in ("audit.read", "audit.export")


def parse(data: bytes) -> list[list[str]]:
    assert data.startswith(b"\xef\xbb\xbf")  # the BOM Excel needs for UTF-8
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def test_export_is_csv_oldest_first_with_tokyo_times(trail, write, read):
    with write() as s:
        data = audit_log.export_csv(s, trail["auditor"], audit_log.Filters(case_id=1))
    assert b"\r\n" in data
    header, *rows = parse(data)
    assert tuple(header) == audit_log.COLUMNS
    assert [r[header.index("action")] for r in rows] == ["case.read", "task.complete"]
    first = dict(zip(header, rows[1], strict=True))
    assert first["at"] == "2026-11-24T10:00:00+09:00" and first["allowed"] == "allow"
    assert first["detail"] == '{"element":"a","form":"note"}' and first["task_id"] == "10"
    assert first["user_id"] == "" and first["request_id"] == "req-a"
    event = newest(read)
    assert (event.action, event.detail) == ("audit.export", {"filters": ["case_id"], "rows": 2})


def test_export_marks_refusals_deny(trail, write):
    with write() as s:
        data = audit_log.export_csv(s, trail["auditor"], audit_log.Filters(allowed=False))
    header, *rows = parse(data)
    assert [r[header.index("allowed")] for r in rows] == ["deny"]
    assert rows[0][header.index("detail")] == '{"reason":"not_found"}'


def test_export_neutralises_cells_a_spreadsheet_would_run(people, write):
    evil = Actor(user_id=None, username="=HYPERLINK(\"http://x\")", display_name="x", agency_id=None,
                 roles=frozenset({"window"}), request_id="+cmd|' /C calc'!A0")
    with write() as s:
        audit.record(s, evil, "@sum", "case", "-1+1")
    with write() as s:
        header, *rows = parse(audit_log.export_csv(s, people["auditor"]))
    row = dict(zip(header, rows[0], strict=True))
    assert row["username"] == "'=HYPERLINK(\"http://x\")"
    assert row["request_id"] == "'+cmd|' /C calc'!A0"
    assert row["action"] == "'@sum" and row["object_id"] == "'-1+1"


@pytest.mark.parametrize(("value", "cell"), [
    (None, ""), ("", ""), ("普通の値", "普通の値"), (12, "12"), (-3, "'-3"), ("=1+1", "'=1+1"),
    ("+1", "'+1"), ("-x", "'-x"), ("@x", "'@x"), ("\tx", "'\tx"), ("\rx", "'\rx"),
    ("a\0b", "ab"), ("\0=1", "'=1"), ("a=b", "a=b"),
])
def test_neutralise(value, cell):
    assert audit_log.neutralise(value) == cell


def test_check_chain_reports_an_intact_chain_and_is_audited(trail, write, read):
    with write() as s:
        result = audit_log.check_chain(s, trail["auditor"])
    assert result.ok and result.checked == 6 and result.last_id == 6
    event = newest(read)
    assert (event.action, event.username) == ("audit.verify", "auditor1")
    assert event.detail == {"ok": True, "checked": 6}
    with read() as s:
        assert audit.verify(s).ok  # the check's own event continues the chain
