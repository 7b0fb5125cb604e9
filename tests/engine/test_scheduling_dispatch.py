"""Dispatcher: outbox → notifications for the right people, exactly once; e-mail: a link, no personal data."""

from __future__ import annotations

import email
import email.policy
import socketserver
import threading
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from engine import notifications
from engine.clock import TOKYO
from engine.models import Notification, OutboxMessage
from engine.scheduling import dispatch, escalation
from tests.support import factories
from tests.support.referral10 import referral_files


class _SMTPHandler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        server = self.server
        self.wfile.write(b"220 sink\r\n")
        data, in_data = [], False
        for raw in self.rfile:
            line = raw.decode("utf-8", "replace")
            if in_data:
                if line.rstrip("\r\n") == ".":
                    in_data = False
                    if server.fail:  # type: ignore[attr-defined]
                        self.wfile.write(b"451 try later\r\n")
                    else:
                        server.messages.append("".join(data))  # type: ignore[attr-defined]
                        self.wfile.write(b"250 ok\r\n")
                    data = []
                else:
                    data.append(line)
                continue
            verb = line[:4].upper()
            if verb == "DATA":
                in_data = True
                self.wfile.write(b"354 go\r\n")
            elif verb == "QUIT":
                self.wfile.write(b"221 bye\r\n")
                return
            else:
                self.wfile.write(b"250 ok\r\n")


@pytest.fixture
def smtp_sink():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SMTPHandler)
    server.daemon_threads = True
    server.messages, server.fail = [], False  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def world(engine, write, frozen_clock):
    frozen_clock.set(datetime(2026, 11, 18, 10, tzinfo=TOKYO))
    with write() as s:
        people = {
            "win": factories.actor(s, "window", "AG-WIN", "win"),
            "sup": factories.actor(s, "supervisor", "AG-WIN", "sup", roles=["supervisor"]),
            "other_sup": factories.actor(s, "supervisor", "AG-OTHER", "osup", roles=["supervisor"]),
            "office_sup": factories.actor(
                s, "supervisor", "AG-JUSO", "jsup", roles=["supervisor"], kind="coordinating_office"
            ),
        }
        factories.deploy(engine, s, referral_files(due="4BD"))
    with write() as s:
        task_id = factories.start(engine, s, people["win"]).open_tasks[0].id
    return people, task_id


def run_all(engine, session_factory) -> None:
    escalation.sweep(engine, session_factory)
    dispatch.sweep(engine, session_factory)


def received(read, who) -> list[tuple[str, int]]:
    with read() as s:
        return sorted(
            s.execute(
                select(Notification.kind, Notification.level).where(Notification.user_id == who.user_id)
            )
            .tuples()
            .all()
        )


def test_recipients_per_level(world, engine, session_factory, read, frozen_clock):
    people, _ = world
    frozen_clock.set(datetime(2026, 11, 20, 9, tzinfo=TOKYO))
    run_all(engine, session_factory)
    assert received(read, people["win"]) == [("reminder", 0)]  # assignee only
    assert received(read, people["sup"]) == []
    frozen_clock.set(datetime(2026, 11, 26, 9, tzinfo=TOKYO))
    run_all(engine, session_factory)
    assert received(read, people["win"]) == [("overdue", 1), ("reminder", 0)]
    assert received(read, people["sup"]) == [("overdue", 1)]  # the agency's supervisor
    frozen_clock.set(datetime(2026, 12, 2, 9, tzinfo=TOKYO))
    run_all(engine, session_factory)
    assert received(read, people["sup"]) == [("overdue", 1), ("overdue", 2)]
    assert received(read, people["office_sup"]) == [("overdue", 2)]  # 担当部署 at the second level
    assert received(read, people["other_sup"]) == []


def test_redelivery_is_a_no_op(world, engine, session_factory, read, write, frozen_clock):
    people, _ = world
    frozen_clock.set(datetime(2026, 11, 26, 9, tzinfo=TOKYO))
    run_all(engine, session_factory)
    with write() as s:  # as if a dispatcher crashed after inserting but before marking the row sent
        for row in s.scalars(select(OutboxMessage)):
            row.status = "pending"
    run_all(engine, session_factory)
    with read() as s:
        assert s.scalar(select(func.count()).select_from(Notification)) == 2
        assert (
            s.scalar(select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status == "sent"))
            == 1
        )


def test_unclaimed_reminder_goes_to_supervisors(world, engine, session_factory, read, write, frozen_clock):
    people, task_id = world
    from engine import tasks

    with write() as s:
        tasks.unclaim(s, people["win"], task_id)
    frozen_clock.set(datetime(2026, 11, 20, 9, tzinfo=TOKYO))
    run_all(engine, session_factory)
    assert received(read, people["sup"]) == [("reminder", 0)]
    assert received(read, people["win"]) == []


def test_email_carries_a_link_and_no_personal_data(
    world, engine, session_factory, read, write, frozen_clock, smtp_sink
):
    people, _ = world
    engine.settings = engine.settings.replace(
        smtp_host="127.0.0.1", smtp_port=smtp_sink.server_address[1], base_url="https://tsunagu.example.jp"
    )
    with write() as s:
        notifications.set_contact(s, people["sup"], "sup@example.jp")
    frozen_clock.set(datetime(2026, 11, 26, 9, tzinfo=TOKYO))
    run_all(engine, session_factory)
    assert len(smtp_sink.messages) == 1
    message = email.message_from_string(smtp_sink.messages[0], policy=email.policy.default)
    body = message.get_content() + str(message["Subject"])
    with read() as s:
        note = s.scalar(select(Notification).where(Notification.user_id == people["sup"].user_id))
        assert note.email_status == "sent"
    assert f"https://tsunagu.example.jp/notifications/{note.id}" in body
    assert message["Message-ID"].startswith("<tsunagu-esc-")
    for secret in ("試験", "太郎", "テストの相談内容", "窓口での対応", "テスト"):
        assert secret not in body
    run_all(engine, session_factory)
    assert len(smtp_sink.messages) == 1  # sent once


def test_failed_email_is_retried_with_backoff_then_marked_failed(
    world, engine, session_factory, read, write, frozen_clock, smtp_sink
):
    people, _ = world
    engine.settings = engine.settings.replace(smtp_host="127.0.0.1", smtp_port=smtp_sink.server_address[1])
    with write() as s:
        notifications.set_contact(s, people["sup"], "sup@example.jp")
    smtp_sink.fail = True
    start = datetime(2026, 11, 26, 9, tzinfo=TOKYO)
    frozen_clock.set(start)
    run_all(engine, session_factory)
    for minutes in (1, 6, 21):
        frozen_clock.set(start + timedelta(minutes=minutes, seconds=1))
        run_all(engine, session_factory)
    with read() as s:
        note = s.scalar(select(Notification).where(Notification.user_id == people["sup"].user_id))
        assert (note.email_status, note.email_attempts) == ("failed", 4)
    smtp_sink.fail = False
    frozen_clock.set(start + timedelta(hours=2))
    run_all(engine, session_factory)
    assert smtp_sink.messages == []
