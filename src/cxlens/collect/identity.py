"""Identity verification: which browser-sent user ids the site's own server vouched for.

A write key is public (it sits in the site's pages), so anyone can send ``identify`` or a survey
answer naming any ``userId``. As Intercom and others do, the site's **server** signs the user id
with the workspace's identity secret and the page sends the signature along::

    user_hash = HMAC-SHA256(identity_secret, user_id).hexdigest()     # on the site's server
    cxlens.identify("c42", {plan: "pro"}, {userHash: "<user_hash>"})  # in the page

A message (or survey call) whose ``userHash`` matches is **verified**. Without it:

* ``identify`` may add traits to a customer, but never overwrite the PII (e-mail, name, PII trait
  keys such as ``phone``) or the protected traits (``segment``, ``plan``, ``country``, ``createdAt``
  and the workspace setting ``identity.protected_traits``) of a customer that already exists;
* survey answers, impressions and dismissals count for the anonymous id only, never for the user id;
* with the workspace setting ``identity.required`` true, a write-key message naming a ``userId``
  without a valid ``userHash`` is refused (403 naming ``userHash``).

Secret keys (``cxs_…``, used server-side) are trusted: their messages count as verified.

>>> user_hash("s3cret", "c42")
'2555f670c9453d35c915d8991196542617771d04531d2d3695226b61367fb734'
>>> verify("s3cret", "c42", user_hash("s3cret", "c42")), verify("s3cret", "c43", user_hash("s3cret", "c42"))
(True, False)
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from typing import Any

from cxlens.errors import ForbiddenError

__all__ = [
    "PROTECTED_SETTING",
    "PROTECTED_TRAITS",
    "REQUIRED_SETTING",
    "SECRET_SETTING",
    "identity_secret",
    "rotate_identity_secret",
    "user_hash",
    "verify",
    "verified_user",
]

SECRET_SETTING = "identity.secret"
REQUIRED_SETTING = "identity.required"
PROTECTED_SETTING = "identity.protected_traits"
#: traits an unverified identify may set on a new customer but never change on an existing one
#: (PII keys are protected too: :func:`cxlens.schema.pii.is_pii_key`)
PROTECTED_TRAITS = ("email", "name", "firstName", "lastName", "segment", "plan", "country", "createdAt")


def user_hash(secret: str, user_id: str) -> str:
    """The signature the site's server computes: HMAC-SHA256 of the user id, hex (Intercom's ``user_hash``)."""
    return hmac.new(secret.encode("utf-8"), str(user_id).encode("utf-8"), hashlib.sha256).hexdigest()


def verify(secret: str | None, user_id: str | None, given: Any) -> bool:
    """Whether ``given`` is the signature of ``user_id`` under ``secret`` (constant time; False without a secret)."""
    if not secret or not user_id or not isinstance(given, str) or len(given) != 64:
        return False
    return hmac.compare_digest(user_hash(secret, user_id), given.lower())


def identity_secret(store: Any) -> str | None:
    """The workspace's identity secret, or None until one is made (:func:`rotate_identity_secret`)."""
    s = store.setting(SECRET_SETTING)
    return str(s) if s else None


def rotate_identity_secret(store: Any) -> str:
    """Make a new identity secret (the old one stops verifying at once) and return it."""
    secret = secrets.token_hex(32)
    store.set_setting(SECRET_SETTING, secret)
    return secret


def verified_user(
    store: Any, user_id: Any, given: Any, *, trusted: bool = False, param: str = "userHash"
) -> str | None:
    """The user id when ``trusted`` (a secret key) or signed (``given``), else None (count the anonymous id).

    With the setting ``identity.required`` an unsigned user id is refused instead (403 naming ``param``).
    """
    if not user_id:
        return None
    if not isinstance(user_id, str):
        return None
    if trusted or verify(identity_secret(store), user_id, given):
        return user_id
    if store.setting(REQUIRED_SETTING, False):
        raise ForbiddenError(
            f"field {param!r} is missing or wrong for userId {user_id!r}; this workspace requires identity "
            "verification: send the HMAC-SHA256 of the user id made with the workspace's identity secret"
        )
    return None
