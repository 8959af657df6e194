"""Server-side dashboard sessions and the throttle on failed sign-ins.

A session is a random 256-bit token in a cookie; the workspace stores only its SHA-256
(table ``sessions``), so a copied workspace file holds no usable session. A new token is made
at every sign-in (no session fixation) and deleted at sign-out. A session expires after
``idle`` without a request and, in any case, ``absolute`` after sign-in: ``expires_at`` is moved
forward on use (at most once a minute, to spare writes) but never past ``created_at + absolute``.

Each session also carries its own CSRF token, rotated with the session at sign-in.

>>> import cxlens
>>> from cxlens.access import users, sessions
>>> ws = cxlens.open(":memory:")
>>> u = users.create_user(ws, "ada@example.com", "correct horse battery", role="analyst")
>>> token, s = sessions.create_session(ws, u)
>>> sessions.get_session(ws, token).user.email
'ada@example.com'
>>> sessions.delete_session(ws, token); sessions.get_session(ws, token) is None
True
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cxlens.access.users import User

if TYPE_CHECKING:
    from cxlens.store import Store

__all__ = [
    "ABSOLUTE_TIMEOUT",
    "IDLE_TIMEOUT",
    "LoginThrottle",
    "Session",
    "create_session",
    "delete_session",
    "delete_user_sessions",
    "get_session",
    "hash_token",
    "purge_expired",
]

IDLE_TIMEOUT = timedelta(hours=2)
ABSOLUTE_TIMEOUT = timedelta(hours=12)
#: expires_at is moved forward only when it would move by more than this (one write a minute at most)
_TOUCH_EVERY = timedelta(seconds=60)
_USER_COLUMNS = "u.user_id, u.email, u.name, u.role, u.created_at, u.disabled_at"


@dataclass(frozen=True)
class Session:
    """A live session: who, its CSRF token, and when it ends."""

    user: User
    csrf_token: str
    created_at: datetime
    expires_at: datetime


def hash_token(token: str) -> str:
    """The stored form of a session token (SHA-256 hex; tokens carry 256 random bits)."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_session(
    ws: Store, user: User, *, idle: timedelta = IDLE_TIMEOUT, absolute: timedelta = ABSOLUTE_TIMEOUT
) -> tuple[str, Session]:
    """Start a session for ``user``; returns the token (for the cookie, shown only now) and the session."""
    token = secrets.token_urlsafe(32)
    now = _now()
    s = Session(user, secrets.token_urlsafe(24), now, min(now + idle, now + absolute))
    with ws.transaction(changes=["sessions"]) as cur:
        cur.execute(
            "INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES (?,?,?,?,?)",
            [hash_token(token), user.user_id, s.csrf_token, s.created_at, s.expires_at],
        )
    return token, s


def get_session(
    ws: Store,
    token: str,
    *,
    idle: timedelta = IDLE_TIMEOUT,
    absolute: timedelta = ABSOLUTE_TIMEOUT,
    now: datetime | None = None,
) -> Session | None:
    """The live session of this token, or None (unknown, expired, or its user disabled).

    An expired session is deleted; a live one is extended by ``idle`` (capped at
    ``created_at + absolute``).
    """
    if not token:
        return None
    now = now or _now()
    h = hash_token(token)
    r = ws.one(
        f"SELECT {_USER_COLUMNS}, s.csrf_token, s.created_at, s.expires_at FROM sessions s "
        "JOIN users u ON u.user_id = s.user_id WHERE s.token_hash = ?",
        [h],
    )
    if r is None:
        return None
    user = User(*r[:6])
    csrf, created, expires = r[6:]
    if expires <= now or created + absolute <= now or user.disabled:
        with ws.transaction(changes=["sessions"]) as cur:
            cur.execute("DELETE FROM sessions WHERE token_hash = ?", [h])
        return None
    new_expiry = min(now + idle, created + absolute)
    if new_expiry - expires > _TOUCH_EVERY:
        with ws.transaction(changes=["sessions"]) as cur:
            cur.execute("UPDATE sessions SET expires_at = ? WHERE token_hash = ?", [new_expiry, h])
        expires = new_expiry
    return Session(user, csrf, created, expires)


def delete_session(ws: Store, token: str) -> None:
    """End a session (sign-out); unknown tokens are ignored."""
    with ws.transaction(changes=["sessions"]) as cur:
        cur.execute("DELETE FROM sessions WHERE token_hash = ?", [hash_token(token)])


def delete_user_sessions(ws: Store, user_id: str) -> None:
    """End every session of a user (disabled, new password, new role)."""
    with ws.transaction(changes=["sessions"]) as cur:
        cur.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])


def purge_expired(ws: Store, *, now: datetime | None = None) -> int:
    """Delete expired sessions; returns how many."""
    with ws.transaction(changes=["sessions"]) as cur:
        r = cur.execute("DELETE FROM sessions WHERE expires_at <= ?", [now or _now()]).fetchone()
    return int(r[0]) if r else 0


class LoginThrottle:
    """Failed sign-ins per (e-mail, client address) in a sliding window, in memory.

    :meth:`attempt` is the one step a sign-in takes before checking the password: under one lock it
    either refuses (the pair already has ``limit`` attempts in the window: seconds to wait) or counts
    the attempt as a failure and lets it through. A success then clears the pair (:meth:`success`).
    Counting before the ~100 ms password check makes the limit exact under parallel requests: 32
    simultaneous wrong passwords get ``limit`` checks, the rest a 429 without touching the password.
    The state is per server process (restart clears it); a proxy in front should add its own limits.
    """

    def __init__(self, limit: int = 5, window: float = 900.0, *, clock: object = None):
        self.limit = limit
        self.window = window
        self._clock = clock or time.monotonic
        self._failures: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(email: str, client: str) -> tuple[str, str]:
        return (str(email).strip().lower()[:320], client)

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        now = self._clock()  # type: ignore[operator]
        q = self._failures.setdefault(key, deque())
        while q and q[0] <= now - self.window:
            q.popleft()
        return q

    def _wait(self, q: deque[float]) -> int:
        return max(1, int(q[0] + self.window - self._clock()) + 1)  # type: ignore[operator]

    def attempt(self, email: str, client: str) -> int:
        """Reserve one sign-in attempt: 0 (go on; it counts as a failure until :meth:`success`), or the
        seconds until the pair may try again (refused: do not check the password)."""
        with self._lock:
            q = self._recent(self._key(email, client))
            if len(q) >= self.limit:
                return self._wait(q)
            q.append(self._clock())  # type: ignore[arg-type]
            self._bound()
            return 0

    def blocked(self, email: str, client: str) -> bool:
        with self._lock:
            return len(self._recent(self._key(email, client))) >= self.limit

    def retry_after(self, email: str, client: str) -> int:
        """Seconds until the pair may try again (0 when not blocked)."""
        with self._lock:
            q = self._recent(self._key(email, client))
            return self._wait(q) if len(q) >= self.limit else 0

    def failure(self, email: str, client: str) -> None:
        """Count a failed attempt that did not go through :meth:`attempt`."""
        with self._lock:
            self._recent(self._key(email, client)).append(self._clock())  # type: ignore[arg-type]
            self._bound()

    def _bound(self) -> None:
        if len(self._failures) > 100_000:  # bound memory under a spraying attack
            old = self._clock() - self.window  # type: ignore[operator]
            for k in [k for k, q in self._failures.items() if not q or q[-1] <= old]:
                del self._failures[k]

    def success(self, email: str, client: str) -> None:
        with self._lock:
            self._failures.pop(self._key(email, client), None)
