"""API keys of a workspace: public write keys for browsers, secret keys for servers and admins.

A key is ``cxw_`` (write) or ``cxs_`` (secret) followed by 32 random URL-safe characters
(192 bits). Only its SHA-256 is stored, so a stolen workspace file does not leak usable keys;
the key itself is returned once, by :func:`create_key`.

* **write** keys may only send data (``/v1/track``, ``/v1/batch``, survey responses). They are
  public by design — they sit in web pages — and are revocable.
* **secret** keys may also read the workspace's API (``/api/v1/...``) and manage it.

>>> import cxlens
>>> from cxlens.access import keys
>>> ws = cxlens.open(":memory:")
>>> info, plaintext = keys.create_key(ws, "write", name="website")
>>> plaintext.startswith("cxw_"), keys.find_key(ws, plaintext).key_id == info.key_id
(True, True)
>>> keys.revoke_key(ws, info.key_id).revoked
True
>>> keys.find_key(ws, plaintext) is None
True
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from cxlens.errors import ConfigError, NotFoundError

if TYPE_CHECKING:
    from cxlens.store import Store

__all__ = ["KEY_KINDS", "ApiKey", "create_key", "find_key", "hash_key", "list_keys", "revoke_key"]

KEY_KINDS = {"write": "cxw_", "secret": "cxs_"}
_COLUMNS = "key_id, kind, name, prefix, created_at, created_by, revoked_at"


@dataclass(frozen=True)
class ApiKey:
    """A key as listed: never the key itself, only its first characters (``prefix``)."""

    key_id: str
    kind: str
    name: str | None
    prefix: str
    created_at: datetime
    created_by: str | None = None
    revoked_at: datetime | None = None

    @property
    def revoked(self) -> bool:
        return self.revoked_at is not None

    def to_dict(self) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "kind": self.kind,
            "name": self.name,
            "prefix": self.prefix,
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
        }


def hash_key(plaintext: str) -> str:
    """The stored form of a key (SHA-256 hex; keys carry 192 random bits, so no salt is needed)."""
    return hashlib.sha256(plaintext.encode("utf-8", "surrogatepass")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def create_key(ws: Store, kind: str, *, name: str | None = None, created_by: str | None = None) -> tuple[ApiKey, str]:
    """Create a key; returns its description and the key itself (shown only this once)."""
    if kind not in KEY_KINDS:
        raise ConfigError(f"key kind {kind!r} is unknown; expected one of {', '.join(KEY_KINDS)}")
    plaintext = KEY_KINDS[kind] + secrets.token_urlsafe(24)
    info = ApiKey(
        key_id="key_" + secrets.token_hex(6),
        kind=kind,
        name=name,
        prefix=plaintext[:10],
        created_at=_now(),
        created_by=created_by,
    )
    with ws.transaction(changes=["api_keys"]) as cur:
        cur.execute(
            "INSERT INTO api_keys (key_id, kind, name, key_hash, prefix, created_at, created_by) VALUES (?,?,?,?,?,?,?)",
            [info.key_id, kind, name, hash_key(plaintext), info.prefix, info.created_at, created_by],
        )
    return info, plaintext


def _row(r: tuple) -> ApiKey:  # type: ignore[type-arg]
    return ApiKey(*r)


def list_keys(ws: Store, *, include_revoked: bool = True) -> list[ApiKey]:
    """Every key of the workspace, oldest first."""
    where = "" if include_revoked else " WHERE revoked_at IS NULL"
    rows = ws.rows(f"SELECT {_COLUMNS} FROM api_keys{where} ORDER BY created_at")
    return [_row(r) for r in rows]


def find_key(ws: Store, plaintext: str) -> ApiKey | None:
    """The live (not revoked) key with this value, or None."""
    r = ws.one(f"SELECT {_COLUMNS} FROM api_keys WHERE key_hash = ? AND revoked_at IS NULL", [hash_key(plaintext)])
    return _row(r) if r else None


def revoke_key(ws: Store, key_id: str) -> ApiKey:
    """Revoke a key by id (idempotent); it stops working at once."""
    with ws.transaction(changes=["api_keys"]) as cur:
        r = cur.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
        if r is None:
            raise NotFoundError(f"no key {key_id!r} in this workspace; `cxlens keys list` shows the ids")
        if r[-1] is None:
            cur.execute("UPDATE api_keys SET revoked_at = ? WHERE key_id = ?", [_now(), key_id])
            r = cur.execute(f"SELECT {_COLUMNS} FROM api_keys WHERE key_id = ?", [key_id]).fetchone()
    return _row(r)
