"""Dashboard users of a workspace: e-mail, role, argon2 password hash.

Users live inside the workspace they may read (table ``users``), so every workspace file carries
its own people and nothing of another workspace's. Roles:

========  ======================================================================
admin     everything: API keys, users, surveys, customer export and erasure
analyst   every page and API read-only, plus running analyses
agent     the feedback explorer, the customer 360 and follow-ups only
========  ======================================================================

Passwords are hashed with argon2id (``argon2-cffi``'s defaults: RFC 9106 low-memory profile);
the plaintext is never stored or logged. E-mails are compared in normalised form (trimmed,
lower-case).

>>> import cxlens
>>> from cxlens.access import users
>>> ws = cxlens.open(":memory:")
>>> u = users.create_user(ws, " Ada@Example.COM ", "correct horse battery", role="admin")
>>> u.email, u.role
('ada@example.com', 'admin')
>>> users.authenticate(ws, "ADA@example.com", "correct horse battery").user_id == u.user_id
True
>>> users.authenticate(ws, "ada@example.com", "wrong password!") is None
True
"""

from __future__ import annotations

import functools
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from cxlens.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from cxlens.store import Store

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "ROLES",
    "User",
    "authenticate",
    "count_users",
    "create_user",
    "disable_user",
    "enable_user",
    "get_user",
    "list_users",
    "normalise_email",
    "set_password",
    "set_role",
]

ROLES = ("admin", "analyst", "agent")
MIN_PASSWORD_LENGTH = 10
#: argon2 hashes any length, but a megabyte-long "password" is a denial-of-service attempt
MAX_PASSWORD_LENGTH = 1024
_COLUMNS = "user_id, email, name, role, created_at, disabled_at"
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_HASHER = PasswordHasher()
#: verified against when the e-mail is unknown, so both failures take the same time


@functools.cache
def _dummy_hash() -> str:
    """A hash to verify against for unknown users (same cost as a real check); made on first use."""
    return _HASHER.hash(secrets.token_urlsafe(16))


@dataclass(frozen=True)
class User:
    """A dashboard user as listed (never the password hash)."""

    user_id: str
    email: str
    name: str | None
    role: str
    created_at: datetime
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "user_id": self.user_id,
            "email": self.email,
            "name": self.name,
            "role": self.role,
            "created_at": self.created_at.isoformat(),
            "disabled_at": self.disabled_at.isoformat() if self.disabled_at else None,
        }


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def normalise_email(email: str) -> str:
    """The stored form of an e-mail address: trimmed and lower-case; raises on a malformed one."""
    e = str(email or "").strip().lower()
    if len(e) > 254 or not _EMAIL.match(e):
        raise ConfigError(f"e-mail {email!r} is not a valid address; expected name@domain.tld")
    return e


def _check_role(role: str) -> str:
    if role not in ROLES:
        raise ConfigError(f"role {role!r} is unknown; expected one of {', '.join(ROLES)}")
    return role


def _check_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_LENGTH:
        n = len(password) if isinstance(password, str) else 0
        raise ConfigError(
            f"the password has {n} characters; expected at least {MIN_PASSWORD_LENGTH} (a passphrase of a few words works)"
        )
    if len(password) > MAX_PASSWORD_LENGTH:
        raise ConfigError(f"the password has {len(password)} characters; expected at most {MAX_PASSWORD_LENGTH}")
    return password


def _row(r: tuple) -> User:  # type: ignore[type-arg]
    return User(*r)


def create_user(ws: Store, email: str, password: str, *, role: str, name: str | None = None) -> User:
    """Add a user; raises :class:`ConfigError` for a bad e-mail, role, short password or a taken e-mail."""
    email = normalise_email(email)
    _check_role(role)
    password_hash = _HASHER.hash(_check_password(password))
    user = User("usr_" + secrets.token_hex(6), email, (name or "").strip() or None, role, _now())
    with ws.transaction(changes=["users"]) as cur:
        if cur.execute("SELECT 1 FROM users WHERE email = ?", [email]).fetchone():
            raise ConfigError(f"a user with e-mail {email!r} already exists; change its role or password instead")
        cur.execute(
            "INSERT INTO users (user_id, email, name, role, password_hash, created_at) VALUES (?,?,?,?,?,?)",
            [user.user_id, email, user.name, role, password_hash, user.created_at],
        )
    return user


def list_users(ws: Store, *, include_disabled: bool = True) -> list[User]:
    """Every user of the workspace, oldest first."""
    where = "" if include_disabled else " WHERE disabled_at IS NULL"
    rows = ws.rows(f"SELECT {_COLUMNS} FROM users{where} ORDER BY created_at")
    return [_row(r) for r in rows]


def count_users(ws: Store) -> int:
    """How many users exist (disabled ones included): zero means the workspace has no sign-in."""
    return int(ws.scalar("SELECT count(*) FROM users"))


def get_user(ws: Store, who: str) -> User:
    """A user by id (``usr_…``) or e-mail; raises :class:`NotFoundError`."""
    col, value = ("user_id", who) if str(who).startswith("usr_") else ("email", str(who).strip().lower())
    r = ws.one(f"SELECT {_COLUMNS} FROM users WHERE {col} = ?", [value])
    if r is None:
        raise NotFoundError(f"no user {who!r} in this workspace; `cxlens users list` shows them")
    return _row(r)


def authenticate(ws: Store, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or None (unknown e-mail, wrong password or disabled).

    The three failures are indistinguishable to the caller and take about the same time.
    """
    try:
        email = normalise_email(email)
    except ConfigError:
        email = ""
    r = ws.one(f"SELECT {_COLUMNS}, password_hash FROM users WHERE email = ?", [email])
    stored = r[-1] if r else _dummy_hash()
    try:
        ok = isinstance(password, str) and len(password) <= MAX_PASSWORD_LENGTH and _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        ok = False
    if not ok or r is None:
        return None
    user = _row(r[:-1])
    if user.disabled:
        return None
    if _HASHER.check_needs_rehash(stored):  # parameters were raised since this hash was made
        with ws.transaction(changes=["users"]) as cur:
            cur.execute("UPDATE users SET password_hash = ? WHERE user_id = ?", [_HASHER.hash(password), user.user_id])
    return user


def _admins_left(ws: Store, without: str) -> int:
    return int(
        ws.scalar("SELECT count(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL AND user_id <> ?", [without])
    )


def _end_sessions(ws: Store, user_id: str) -> None:
    """Every session of the user ends (a new role, password or a disabled account takes effect at once)."""
    with ws.transaction(changes=["sessions"]) as cur:
        cur.execute("DELETE FROM sessions WHERE user_id = ?", [user_id])


def set_role(ws: Store, who: str, role: str) -> User:
    """Change a user's role (the last active admin cannot be demoted); ends their sessions."""
    user = get_user(ws, who)
    _check_role(role)
    if user.role == "admin" and role != "admin" and not user.disabled and _admins_left(ws, user.user_id) == 0:
        raise ConfigError(f"{user.email!r} is the last active admin; make another user admin first")
    with ws.transaction(changes=["users"]) as cur:
        cur.execute("UPDATE users SET role = ? WHERE user_id = ?", [role, user.user_id])
    _end_sessions(ws, user.user_id)
    return get_user(ws, user.user_id)


def set_password(ws: Store, who: str, password: str) -> User:
    """Set a new password; every session of the user ends (sign in again)."""
    user = get_user(ws, who)
    password_hash = _HASHER.hash(_check_password(password))
    with ws.transaction(changes=["users"]) as cur:
        cur.execute("UPDATE users SET password_hash = ? WHERE user_id = ?", [password_hash, user.user_id])
    _end_sessions(ws, user.user_id)
    return user


def disable_user(ws: Store, who: str) -> User:
    """Disable a user (idempotent): they cannot sign in and their sessions end at once.

    The last active admin cannot be disabled.
    """
    user = get_user(ws, who)
    if user.disabled:
        return user
    if user.role == "admin" and _admins_left(ws, user.user_id) == 0:
        raise ConfigError(f"{user.email!r} is the last active admin; make another user admin first")
    with ws.transaction(changes=["users"]) as cur:
        cur.execute("UPDATE users SET disabled_at = ? WHERE user_id = ?", [_now(), user.user_id])
    _end_sessions(ws, user.user_id)
    return get_user(ws, user.user_id)


def enable_user(ws: Store, who: str) -> User:
    """Re-enable a disabled user (idempotent)."""
    user = get_user(ws, who)
    with ws.transaction(changes=["users"]) as cur:
        cur.execute("UPDATE users SET disabled_at = NULL WHERE user_id = ?", [user.user_id])
    return get_user(ws, user.user_id)
