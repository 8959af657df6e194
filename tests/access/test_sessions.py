"""Server-side sessions (hashed tokens, idle and absolute expiry) and the failed sign-in throttle."""

from __future__ import annotations

import hashlib
from datetime import timedelta

import cxlens
from cxlens.access import sessions, users
from cxlens.access.sessions import LoginThrottle

PW = "correct horse battery"


def _ws():
    ws = cxlens.open(":memory:")
    return ws, users.create_user(ws, "ann@example.com", PW, role="analyst")


def test_only_the_sha256_of_the_token_is_stored():
    ws, u = _ws()
    token, s = sessions.create_session(ws, u)
    rows = ws.rows("SELECT token_hash, user_id, csrf_token FROM sessions")
    assert rows == [(hashlib.sha256(token.encode()).hexdigest(), u.user_id, s.csrf_token)]
    assert len(token) >= 43 and token not in str(rows)
    t2, s2 = sessions.create_session(ws, u)
    assert t2 != token and s2.csrf_token != s.csrf_token  # every sign-in: new token, new CSRF token


def test_idle_expiry_is_extended_by_use_and_capped_by_the_absolute_one():
    ws, u = _ws()
    idle, absolute = timedelta(minutes=30), timedelta(hours=2)
    token, s = sessions.create_session(ws, u, idle=idle, absolute=absolute)
    assert s.expires_at - s.created_at == idle
    t0 = s.created_at
    # used every 20 minutes: stays alive past the first idle deadline
    for minutes in (20, 40, 60, 80, 100):
        got = sessions.get_session(ws, token, idle=idle, absolute=absolute, now=t0 + timedelta(minutes=minutes))
        assert got is not None
        assert got.expires_at == min(t0 + timedelta(minutes=minutes) + idle, t0 + absolute)
    # …but never past created_at + absolute, even when used
    assert sessions.get_session(ws, token, idle=idle, absolute=absolute, now=t0 + timedelta(minutes=121)) is None
    assert ws.scalar("SELECT count(*) FROM sessions") == 0  # expired rows are deleted


def test_idle_session_expires():
    ws, u = _ws()
    idle = timedelta(minutes=30)
    token, s = sessions.create_session(ws, u, idle=idle)
    assert sessions.get_session(ws, token, idle=idle, now=s.created_at + timedelta(minutes=29)) is not None
    # the touch above moved expiry to +59 min; 31 min of silence after that use ends it
    assert sessions.get_session(ws, token, idle=idle, now=s.created_at + timedelta(minutes=60)) is None


def test_unknown_token_deleted_session_and_disabled_user_are_none():
    ws, u = _ws()
    users.create_user(ws, "boss@example.com", PW, role="admin")
    token, _ = sessions.create_session(ws, u)
    assert sessions.get_session(ws, token + "x") is None and sessions.get_session(ws, "") is None
    sessions.delete_session(ws, token)
    assert sessions.get_session(ws, token) is None
    token, _ = sessions.create_session(ws, u)
    ws.store.execute("UPDATE users SET disabled_at = now() WHERE user_id = ?", [u.user_id])
    assert sessions.get_session(ws, token) is None


def test_purge_expired_counts_rows():
    ws, u = _ws()
    _, s = sessions.create_session(ws, u)
    sessions.create_session(ws, u)
    assert sessions.purge_expired(ws, now=s.expires_at + timedelta(seconds=1)) == 2


def test_throttle_blocks_after_limit_per_email_and_client_and_forgets_after_the_window():
    now = [1000.0]
    t = LoginThrottle(limit=3, window=60, clock=lambda: now[0])
    for _ in range(3):
        assert not t.blocked("Ann@example.com", "10.0.0.1")
        t.failure("ann@example.com ", "10.0.0.1")
    assert t.blocked("ANN@example.com", "10.0.0.1")
    assert not t.blocked("ann@example.com", "10.0.0.2") and not t.blocked("bob@example.com", "10.0.0.1")
    assert t.retry_after("ann@example.com", "10.0.0.1") == 61
    now[0] += 60.5
    assert not t.blocked("ann@example.com", "10.0.0.1")
    t.failure("ann@example.com", "10.0.0.1")
    t.success("ann@example.com", "10.0.0.1")
    t.failure("ann@example.com", "10.0.0.1")
    t.failure("ann@example.com", "10.0.0.1")
    assert not t.blocked("ann@example.com", "10.0.0.1")  # success cleared the earlier failure
