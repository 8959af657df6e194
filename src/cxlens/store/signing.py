"""Signatures for the links cxlens sends to people (personal survey links, pulse links, opt-out
links): HMAC-SHA256 under a random secret made once per workspace and kept in its settings, one
setting per kind of link (so one kind's secret can be rotated alone), in unpadded URL-safe base64."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
from typing import Any

__all__ = ["b64", "sign", "unb64", "workspace_secret"]


def workspace_secret(store: Any, setting: str) -> bytes:
    """The secret in ``setting``, made on first use (writes run one at a time: one secret is made)."""
    s = store.setting(setting)
    if not s:
        with store.transaction(changes=["settings"]):
            s = store.setting(setting)
            if not s:
                s = secrets.token_urlsafe(32)
                store.set_setting(setting, s)
    return str(s).encode()


def b64(b: bytes) -> str:
    """URL-safe base64 without padding."""
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def unb64(s: str) -> bytes:
    """The bytes of :func:`b64` text."""
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def sign(store: Any, setting: str, message: str) -> str:
    """The signature of ``message`` under the workspace secret in ``setting`` (compare it with
    :func:`hmac.compare_digest`)."""
    return b64(hmac.new(workspace_secret(store, setting), message.encode(), hashlib.sha256).digest())
