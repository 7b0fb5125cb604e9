"""The audit trail: when events are written, refusals that survive a rollback, the keyed hash chain,
100 random tamper trials by an attacker with database access, ``tsunagu audit verify`` and, on
PostgreSQL, the application role that may not change or remove events."""

from __future__ import annotations

import hashlib
import json
import os
import random
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, insert, select, text, update

from engine import audit, cases
from engine.actor import Actor
from engine.errors import NotFound
from engine.models import AuditEvent, AuditHead
from tests.support import factories
from tests.support.database import backend
from tests.support.referral10 import FORMS_DIR, referral_files

ROOT = Path(__file__).resolve().parents[2]
ALICE = Actor(user_id=None, username="alice", display_name="監査テスト", agency_id=None,
              roles=frozenset({"window"}), request_id="req-1")
ALICE_WEB = Actor(user_id=None, username="alice", display_name="監査テスト", agency_id=None,
                  roles=frozenset({"window"}), request_id="req-2", client_ip="192.0.2.10")


def fill(write, n: int, per_tx: int = 7) -> None:
    """``n`` events in transactions of ``per_tx``, some of them refusals."""
    done = 0
    while done < n:
        with write() as s:
            for _ in range(min(per_tx, n - done)):
                if done % 5 == 4:
                    audit.deny(s, ALICE, "case.read", "case", done, case_id=done)
                else:
                    audit.record(s, ALICE_WEB if done % 3 else ALICE, "case.read", "case", str(done),
                                 case_id=done, detail={"fields": ["a"]})
                done += 1


def count(read) -> int:
    with read() as s:
        return s.scalar(select(func.count()).select_from(AuditEvent))


def test_events_are_chained_and_verify(db, write, read):
    fill(write, 40)
    with read() as s:
        result = audit.verify(s)
        rows = list(s.scalars(select(AuditEvent).order_by(AuditEvent.id)))
    assert result.ok and result.checked == 40, result.problems
    assert [r.id for r in rows] == list(range(1, 41))
    assert all(b.prev_hash == a.hash for a, b in zip(rows, rows[1:], strict=False))
    assert rows[0].at.utcoffset() == timedelta(0) and rows[0].request_id == "req-1"
    assert sum(not r.allowed for r in rows) == 8


def test_a_rolled_back_read_leaves_no_event_but_a_refusal_stays(db, write, read):
    with pytest.raises(RuntimeError), write() as s:
        audit.record(s, ALICE, "case.read", "case", "1", case_id=1)
        raise RuntimeError("the request failed")
    assert count(read) == 0
    with pytest.raises(NotFound), write() as s:
        audit.deny(s, ALICE, "case.read", "case", 7, case_id=7)
        raise NotFound("case 7 not found")
    with read() as s:
        [event] = s.scalars(select(AuditEvent))
        assert (event.allowed, event.action, event.case_id, event.detail) == (False, "case.read", 7,
                                                                               {"reason": "not_found"})
        assert audit.verify(s).ok


def test_a_refused_engine_read_is_recorded_once_even_though_it_answers_not_found(db, engine, write, read):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
        other = factories.actor(s, "window", "AG-OTHER", "other")
        factories.deploy(engine, s, referral_files())
    with write() as s:
        started = factories.start(engine, s, win)
    before = count(read)
    with pytest.raises(NotFound), read() as s:
        cases.case_detail(s, other, started.case_id)
    with pytest.raises(NotFound), read() as s:
        cases.case_detail(s, other, 999_999)
    with read() as s:
        events = list(s.scalars(select(AuditEvent).where(AuditEvent.id > before).order_by(AuditEvent.id)))
    assert [(e.username, e.action, e.allowed, e.case_id) for e in events] == [
        ("other", "case.read", False, started.case_id), ("other", "case.read", False, 999_999)]


def test_reads_in_a_read_only_transaction_are_written_after_it(db, engine, write, read):
    with write() as s:
        win = factories.actor(s, "window", "AG-WIN", "win")
        factories.deploy(engine, s, referral_files())
    with write() as s:
        started = factories.start(engine, s, win)
    before = count(read)
    with read() as s:
        cases.case_detail(s, win, started.case_id)
        assert audit.recorded_count(s) == 1
    assert count(read) == before + 1


# --- tampering -----------------------------------------------------------------------------------


def bypass_triggers(session) -> None:
    """What an attacker with database access does first (undone by the rollback)."""
    if backend() == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
    else:
        for verb in ("update", "delete"):
            session.execute(text(f"DROP TRIGGER IF EXISTS audit_events_no_{verb}"))


def _plain_hash(values: dict) -> str:
    payload = json.dumps([str(v) for v in values.values()], sort_keys=True).encode()
    return hashlib.sha256(payload).hexdigest()


def _rows(s) -> list[AuditEvent]:
    stmt = select(AuditEvent).order_by(AuditEvent.id).execution_options(populate_existing=True)
    return list(s.scalars(stmt))


EDITS = {
    "username": lambda v: v + "x", "action": lambda v: "case.list", "object_id": lambda v: v + "0",
    "allowed": lambda v: not v, "detail": lambda v: {"reason": "edited"},
    "at": lambda v: v + timedelta(seconds=1),
    "role": lambda v: "coordinator", "case_id": lambda v: (v or 0) + 1, "request_id": lambda v: "forged",
    "user_id": lambda v: 42, "agency_id": lambda v: 7, "object_type": lambda v: "task",
    "task_id": lambda v: 3, "client_ip": lambda v: None if v else "198.51.100.9",
    "hash": lambda v: "f" * 64, "prev_hash": lambda v: "0" * 64,
}


def tamper(s, rng: random.Random) -> str:
    rows = _rows(s)
    s.expunge_all()  # the attacker works in SQL; keep the ORM out of the way
    victim = rng.choice(rows)
    kind = rng.choice(["edit", "edit_rehash", "delete", "delete_fix_head", "delete_renumber", "insert_end",
                       "insert_end_fix_head", "insert_middle", "swap"])
    last = rows[-1]
    if kind == "edit":
        column = rng.choice(sorted(EDITS))
        s.execute(update(AuditEvent).where(AuditEvent.id == victim.id)
                  .values({column: EDITS[column](getattr(victim, column))}))
    elif kind == "edit_rehash":  # change content and recompute every later hash with a guessed key
        audit.configure_key(b"guessed-key")
        try:
            prev = next((r.hash for r in rows if r.id == victim.id - 1), audit.GENESIS)
            for row in [r for r in rows if r.id >= victim.id]:
                if row.id == victim.id:
                    row.username = row.username + "!"
                row.prev_hash = prev
                row.hash = prev = audit.event_hash(row)
                s.execute(update(AuditEvent).where(AuditEvent.id == row.id)
                          .values(username=row.username, prev_hash=row.prev_hash, hash=row.hash))
            s.execute(update(AuditHead).values(last_hash=audit.head_seal(last.id, prev)))
        finally:
            audit.configure_key(None)
    elif kind.startswith("delete"):
        s.execute(delete(AuditEvent).where(AuditEvent.id == victim.id))
        if kind == "delete_fix_head" and victim.id == last.id:
            previous = next((r for r in rows if r.id == last.id - 1), None)
            s.execute(update(AuditHead).values(last_id=last.id - 1, last_hash=previous.hash if previous else
                                               audit.GENESIS))
        if kind == "delete_renumber":
            for row in [r for r in rows if r.id > victim.id]:
                s.execute(update(AuditEvent).where(AuditEvent.id == row.id).values(id=row.id - 1))
            s.execute(update(AuditHead).values(last_id=last.id - 1))
    elif kind.startswith("insert_end"):
        values = {"id": last.id + 1, "at": last.at, "user_id": None, "username": "ghost", "agency_id": None,
                  "role": "", "action": "case.read", "object_type": "case", "object_id": "1", "case_id": 1,
                  "task_id": None, "allowed": True, "request_id": "", "detail": {}, "prev_hash": last.hash}
        s.execute(insert(AuditEvent).values(hash=_plain_hash(values), **values))
        if kind == "insert_end_fix_head":
            s.execute(update(AuditHead).values(last_id=last.id + 1, last_hash=_plain_hash(values)))
    elif kind == "insert_middle":
        for row in sorted([r for r in rows if r.id >= victim.id], key=lambda r: -r.id):
            s.execute(update(AuditEvent).where(AuditEvent.id == row.id).values(id=row.id + 1))
        s.execute(insert(AuditEvent).values(
            id=victim.id, at=victim.at, user_id=None, username="ghost", agency_id=None, role="",
            action="case.read", object_type="case", object_id="1", case_id=1, task_id=None, allowed=True,
            request_id="", detail={}, prev_hash=victim.prev_hash, hash=victim.hash))
        s.execute(update(AuditHead).values(last_id=last.id + 1))
    else:  # swap the content of two events, keeping ids and hashes
        other = rng.choice([r for r in rows if r.id != victim.id])
        a, b = victim.action + "|" + victim.username, other.action + "|" + other.username
        if a == b:
            s.execute(update(AuditEvent).where(AuditEvent.id == victim.id)
                      .values(object_id=victim.object_id + "#"))
        else:
            s.execute(update(AuditEvent).where(AuditEvent.id == victim.id).values(
                action=other.action, username=other.username, object_id=other.object_id,
                case_id=other.case_id))
    s.flush()
    return kind


def test_one_hundred_random_tamper_trials_are_all_detected(db, write, read):
    fill(write, 60)
    rng = random.Random(20261126)
    detected, kinds = 0, {}
    for _ in range(100):
        with write() as s:
            bypass_triggers(s)
            kind = tamper(s, rng)
            result = audit.verify(s)
            s.rollback()
        kinds[kind] = kinds.get(kind, 0) + 1
        assert not result.ok, f"{kind} was not detected"
        detected += 1
    with read() as s:
        assert audit.verify(s).ok, "a trial leaked out of its rolled-back transaction"
    print(f"\naudit tamper trials: {detected}/100 detected; by kind {dict(sorted(kinds.items()))}")
    assert detected == 100 and len(kinds) >= 8


def test_the_client_address_is_chained_and_events_without_one_hash_as_before(db, write, read):
    """Events of web requests carry the client's address inside the hash; an event without one (the
    scheduler, the command line, every event before migration 0007) hashes exactly as before it."""
    with write() as s:
        audit.record(s, ALICE_WEB, "case.read", "case", "1", case_id=1)
        audit.record(s, ALICE, "case.read", "case", "2", case_id=2)
    with read() as s:
        web, other = _rows(s)[-2:]
        assert (web.client_ip, other.client_ip) == ("192.0.2.10", None)
        before_0007 = [other.id, audit.clock.ensure_utc(other.at).isoformat(), other.user_id, other.username,
                       other.agency_id, other.role, other.action, other.object_type, other.object_id,
                       other.case_id, other.task_id, bool(other.allowed), other.request_id, other.detail,
                       other.prev_hash]
        assert audit._canonical(other) == json.dumps(  # noqa: SLF001 - the hashed bytes themselves
            before_0007, ensure_ascii=False, separators=(",", ":"), sort_keys=True).encode("utf-8")
        assert audit.verify(s).ok
    with write() as s:
        bypass_triggers(s)
        s.execute(update(AuditEvent).where(AuditEvent.id == web.id).values(client_ip="203.0.113.5"))
        assert not audit.verify(s).ok
        s.rollback()


def test_a_log_cut_back_to_an_old_head_is_caught_by_an_anchor(db, write, read):
    fill(write, 10)
    with read() as s:
        anchor = audit.verify(s).anchor
    fill(write, 5)
    with read() as s:
        head = s.get(AuditHead, 1)
        old_seal = audit.head_seal(10, anchor.split(":")[1])
    with write() as s:  # the attacker restores a head they saved when the log had 10 events
        bypass_triggers(s)
        s.execute(delete(AuditEvent).where(AuditEvent.id > 10))
        s.execute(update(AuditHead).values(last_id=10, last_hash=old_seal))
        assert audit.verify(s).ok  # a replayed head alone cannot be told from the past ...
        assert not audit.verify(s, expect=[f"15:{'0' * 64}"]).ok  # ... an anchor kept elsewhere can
        s.rollback()
    assert head is not None


def cli_env(db) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TSUNAGU_")}
    env.update(TSUNAGU_DATABASE_URL=db.url, TSUNAGU_FORMS_DIR=str(FORMS_DIR),
               TSUNAGU_AUDIT_KEY=audit.chain_key().decode())
    return env


def run_verify(db, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "web.cli", "audit", "verify", *args], cwd=ROOT,
                          env=cli_env(db),
                          capture_output=True, text=True, timeout=120)


def test_cli_verify_exits_zero_when_intact_and_one_after_tampering(db, write):
    fill(write, 12)
    clean = run_verify(db)
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert "audit log intact: 12 events" in clean.stdout
    anchor = clean.stdout.strip().rsplit(" ", 1)[-1]
    assert run_verify(db, "--expect", anchor).returncode == 0
    with write() as s:
        bypass_triggers(s)
        s.execute(update(AuditEvent).where(AuditEvent.id == 5).values(username="mallory"))
        if backend() == "sqlite":
            for verb in ("UPDATE", "DELETE"):
                s.execute(text(f"CREATE TRIGGER audit_events_no_{verb.lower()} BEFORE {verb} ON audit_events "
                               "BEGIN SELECT RAISE(ABORT, 'audit_events is append-only'); END"))
    tampered = run_verify(db, "--json")
    assert tampered.returncode == 1
    report = json.loads(tampered.stdout)
    assert report["ok"] is False and any("event 5" in p for p in report["problems"])


def test_the_append_only_triggers_refuse_changes(db, write):
    fill(write, 3)
    with pytest.raises(Exception, match="append-only"), write() as s:
        s.execute(update(AuditEvent).where(AuditEvent.id == 1).values(username="x"))
    with pytest.raises(Exception, match="append-only"), write() as s:
        s.execute(delete(AuditEvent).where(AuditEvent.id == 1))


@pytest.mark.skipif(backend() != "postgresql", reason="database roles are a PostgreSQL feature")
def test_the_application_role_may_append_but_not_change_or_remove_events(db, write):
    fill(write, 3)
    with write() as s:
        s.execute(text("SET LOCAL ROLE tsunagu_app"))
        audit.record(s, ALICE, "case.read", "case", "9", case_id=9)  # appending works as the app role
    for statement in ("UPDATE audit_events SET username = 'x' WHERE id = 1", "DELETE FROM audit_events",
                      "TRUNCATE audit_events"):
        with pytest.raises(Exception, match="permission denied"), write() as s:
            s.execute(text("SET LOCAL ROLE tsunagu_app"))
            s.execute(text(statement))
    with write() as s:
        assert audit.verify(s).ok and audit.verify(s).checked == 4


def test_a_rolled_back_savepoint_takes_its_events_along(db, write, read):
    with write() as s:
        with pytest.raises(RuntimeError), s.begin_nested():
            audit.record(s, ALICE, "case.start", "case", "1")
            audit.deny(s, ALICE, "case.read", "case", 2)
            raise RuntimeError("the start failed")
        with s.begin_nested():
            audit.record(s, ALICE, "case.start", "case", "3")
        assert audit.recorded_count(s) == 2
    with read() as s:
        assert [(e.action, e.allowed) for e in s.scalars(select(AuditEvent).order_by(AuditEvent.id))] == [
            ("case.read", False), ("case.start", True)]
