"""Accounts: creation rules, passwords and throttling, API tokens, and the lookups forms validate against."""

from __future__ import annotations

import pytest

from engine import users
from engine.errors import Conflict, Invalid, NotAllowed, NotFound
from engine.formschema import Lookups
from engine.models import User
from tests.support import factories

PASSWORD = factories.PASSWORD


@pytest.fixture
def staff(write):
    with write() as s:
        factories.agency(s, "AG-A", name="架空機関A")
        factories.agency(s, "AG-OFF", name="休止中の機関").active = False
        users.create_user(s, "csw1", "架空 CSW", PASSWORD, ["csw", "agency_staff"], "AG-A")
        users.create_user(s, "gone", "退職者", PASSWORD, ["window"], "AG-A")
        s.scalar(users.select(User).where(User.username == "gone")).active = False


def test_create_user_refuses_unknown_roles_duplicates_and_unknown_agencies(write, staff):
    with write() as s, pytest.raises(Invalid) as info:
        users.create_user(s, "x", "x", PASSWORD, ["wizard"], "AG-A")
    assert "roles" in info.value.errors
    with write() as s, pytest.raises(Conflict):
        users.create_user(s, "csw1", "x", PASSWORD, ["csw"], "AG-A")
    with write() as s, pytest.raises(NotFound):
        users.create_user(s, "new", "x", PASSWORD, ["csw"], "AG-NONE")


def test_authenticate_accepts_the_password_and_throttles_repeated_failures(write, staff):
    with write() as s:
        assert users.authenticate(s, "csw1", PASSWORD).username == "csw1"
    for _ in range(users.MAX_FAILURES):
        with write() as s, pytest.raises(NotAllowed):  # the failure is recorded and committed
            users.authenticate(s, "csw1", "wrong password")
    with write() as s, pytest.raises(NotAllowed) as info:
        users.authenticate(s, "csw1", PASSWORD)  # right password, but throttled now
    assert info.value.context["reason"] == "throttled"


def test_inactive_users_cannot_log_in_or_use_tokens(write, read, staff):
    with write() as s:
        token = users.create_api_token(s, "gone")
    with pytest.raises(NotAllowed), write() as s:
        users.authenticate(s, "gone", PASSWORD)
    with read() as s:
        assert users.user_for_token(s, token) is None
        assert users.user_for_token(s, "tsg_unknown") is None


def test_submission_lookups_answer_like_the_full_lookups(read, staff):
    with read() as s:
        full = users.lookups(s)
        lazy = users.submission_lookups(s)
        for code in ("AG-A", "AG-OFF", "AG-NONE"):
            assert (code in lazy.agencies) == (code in full.agencies)
        for name in ("csw1", "gone", "nobody"):
            assert lazy.users.get(name) == full.users.get(name)
        assert lazy.users.get("csw1") == ("架空 CSW", frozenset({"csw", "agency_staff"}))
        assert ["not", "a", "key"] not in lazy.agencies  # odd values are simply unknown
    assert isinstance(full, Lookups) and "AG-OFF" not in full.agencies and "gone" not in full.users


def test_prefetched_lookups_answer_the_same_in_one_query_per_kind(read, staff):
    with read() as s:
        lazy = users.submission_lookups(s)
        lazy.prefetch({"AG-A", "AG-OFF", "AG-NONE"}, {"csw1", "gone", "nobody"})
        assert dict(lazy.agencies) == {"AG-A": "架空機関A"}  # filled by the prefetch, nothing else
        assert "AG-OFF" not in lazy.agencies and "AG-NONE" not in lazy.agencies
        assert lazy.users.get("csw1") == ("架空 CSW", frozenset({"csw", "agency_staff"}))
        assert lazy.users.get("gone") is None and lazy.users.get("nobody") is None


def test_agency_ids_reuse_what_validation_looked_up_within_one_transaction(write, staff):
    """Hooks after a submission (consent recipients, plan roles) get agency ids without a query when the
    submission's validation already looked the codes up; the memo ends with the transaction, so an
    agency created in a rolled-back savepoint is not remembered."""
    with write() as s:
        first = factories.agency(s, "AG-MEMO1")
        lookups = users.submission_lookups(s)
        lookups.prefetch({"AG-MEMO1"}, set())
        assert users.known_agency_ids(s) == {"AG-MEMO1": first.id}
        assert users.agency_ids(s, ["AG-MEMO1", "AG-NONE", "AG-MEMO1"]) == {"AG-MEMO1": first.id}
        try:
            with s.begin_nested():
                gone = factories.agency(s, "AG-MEMO2")
                s.flush()
                assert users.agency_ids(s, ["AG-MEMO2"]) == {"AG-MEMO2": gone.id}
                raise RuntimeError
        except RuntimeError:
            pass
        assert "AG-MEMO2" not in users.known_agency_ids(s)
        assert users.agency_ids(s, ["AG-MEMO2"]) == {}


def test_a_refused_login_is_recorded_as_no_one_and_never_as_the_system(write, staff):
    """Only the scheduler and the command line act as the system (which sees every case); the actor of a
    refused login has no account, no roles and no access, and names only a username that exists."""
    from engine import policy
    from engine.actor import SYSTEM

    with write() as s:
        factories.actor(s, "window", "AG-LOGIN", "known-user")
        known = users.login_attempt_actor(s, "known-user", "req-9", "192.0.2.1")
        unknown = users.login_attempt_actor(s, "hunter2-typed-as-username")
    assert (known.username, known.user_id, known.roles, known.client_ip) == ("known-user", None, frozenset(),
                                                                            "192.0.2.1")
    assert unknown.username == "(不明)"
    assert SYSTEM.is_system and not known.is_system and not unknown.is_system
    assert str(policy.case_filter(known)) == str(policy.case_filter(unknown)) == "false"
