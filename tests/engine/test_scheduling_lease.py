"""The scheduler lease: one holder at a time, renewal, expiry, release, and take-over from a killed holder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select

from engine.models import SchedulerLease
from engine.scheduling.lease import Lease, current_holder, new_holder_id


def test_second_instance_waits_while_the_first_renews(session_factory, frozen_clock):
    a, b = Lease(session_factory, 60, "host-a:1:x"), Lease(session_factory, 60, "host-b:2:y")
    assert a.acquire() and a.held()
    assert not b.acquire() and not b.held()
    assert b.other == "host-a:1:x"
    frozen_clock.advance(seconds=50)
    assert a.acquire()  # renewed: good for another 60 s
    frozen_clock.advance(seconds=50)
    assert not b.acquire()
    with session_factory() as s:
        row = current_holder(s)
        assert row.holder == "host-a:1:x" and row.expires_at == frozen_clock.now() + timedelta(seconds=10)


def test_expired_lease_is_taken_over(session_factory, frozen_clock):
    a, b = Lease(session_factory, 60, "host-a:1:x"), Lease(session_factory, 60, "host-b:2:y")
    assert a.acquire()
    frozen_clock.advance(seconds=61)
    assert not a.held()
    assert b.acquire()
    assert not a.acquire()  # the old holder now waits


def test_release_lets_the_other_take_over_at_once(session_factory, frozen_clock):
    a, b = Lease(session_factory, 60, "host-a:1:x"), Lease(session_factory, 60, "host-b:2:y")
    a.acquire()
    a.release()
    assert not a.held()
    assert b.acquire()


def test_killed_holder_on_this_host_is_taken_over_before_expiry(session_factory, frozen_clock):
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    child.wait()
    dead = f"{socket.gethostname()[:120]}:{child.pid}:dead"
    assert Lease(session_factory, 600, dead).acquire()
    assert Lease(session_factory, 600).acquire()
    with session_factory() as s:
        assert s.scalar(select(SchedulerLease.holder)).split(":")[1] == str(os.getpid())


def test_live_holder_on_this_host_is_respected(session_factory, frozen_clock):
    assert Lease(session_factory, 600).acquire()  # this process, another instance
    assert not Lease(session_factory, 600).acquire()


def test_holder_ids_are_unique_and_name_host_and_pid():
    first, second = new_holder_id(), new_holder_id()
    assert first != second and first.split(":")[1] == str(os.getpid())
