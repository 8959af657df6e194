"""Personal survey links for email: signed (HMAC-SHA256), expiring and single-use.

A link is ``{base_url}/s/{workspace}/{survey_id}?t={token}``; the workspace name in the path
tells a server hosting several workspaces whose secret checks the token. The token carries the
survey, the customer, the expiry and a random link id, signed with a per-workspace secret kept
in the setting ``surveys.link_secret`` (made on first use). The link id is recorded when the
link is answered, so a second use is refused.

>>> import cxlens
>>> from cxlens.surveys import links, store
>>> ws = cxlens.open(":memory:")
>>> _ = store.create_survey(ws, {"id": "s1", "name": "S", "metric": "nps", "question": "?", "status": "active"})
>>> token = links.make_token(ws, "s1", "c42", expires_days=7)
>>> links.verify_token(ws, "s1", token).customer_id
'c42'
"""

from __future__ import annotations

import csv
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

from cxlens.errors import ConfigError, ForbiddenError, LinkGoneError, SchemaError
from cxlens.store import Store
from cxlens.store.signing import b64, sign, unb64
from cxlens.surveys.store import get_survey, now_utc

__all__ = ["LinkClaims", "LinkGoneError", "make_token", "personal_url", "verify_token", "write_links"]

SECRET_SETTING = "surveys.link_secret"


@dataclass(frozen=True)
class LinkClaims:
    survey_id: str
    customer_id: str
    expires_at: datetime
    link_id: str


def make_token(ws: Store, survey_id: str, customer_id: str, *, expires_days: float = 30) -> str:
    """A signed token for one customer's personal link to ``survey_id``."""
    if not customer_id:
        raise SchemaError("column 'customer_id' is empty; every personal link needs a customer id")
    exp = int(time.time() + expires_days * 86400)
    payload = b64(json.dumps({"s": survey_id, "c": customer_id, "e": exp, "n": secrets.token_urlsafe(12)},
                              separators=(",", ":")).encode())  # fmt: skip
    sig = sign(ws, SECRET_SETTING, payload)
    return f"{payload}.{sig}"


def verify_token(ws: Store, survey_id: str, token: str, *, now: datetime | None = None) -> LinkClaims:
    """The claims of a valid, unexpired, unused token for ``survey_id``.

    Raises :class:`~cxlens.errors.ForbiddenError` (403) for a tampered or foreign token and
    :class:`LinkGoneError` (410) for an expired or already answered one.
    """
    payload, _, sig = (token or "").partition(".")
    good = sign(ws, SECRET_SETTING, payload)
    if not payload or not hmac.compare_digest(good, sig):
        raise ForbiddenError(
            "this survey link is not valid (it was altered or belongs elsewhere); use the link as sent"
        )
    c = json.loads(unb64(payload))
    if c.get("s") != survey_id:
        raise ForbiddenError(f"this survey link is for another survey, not {survey_id!r}; use the link as sent")
    expires = datetime.fromtimestamp(c["e"], UTC).replace(tzinfo=None)
    if (now or now_utc()) >= expires:
        raise LinkGoneError(f"this survey link expired on {expires:%Y-%m-%d}; ask the sender for a new one")
    used = ws.one("SELECT used_at FROM survey_links WHERE link_id = ?", [c["n"]])
    if used is not None:
        raise LinkGoneError("this survey link was already answered; thank you, each link can be used once")
    return LinkClaims(survey_id, c["c"], expires, c["n"])


def personal_url(base_url: str, workspace: str, survey_id: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{quote(workspace)}/{quote(survey_id)}?t={token}"


def write_links(
    ws: Store,
    survey_id: str,
    customers_csv: str | Path,
    out: str | Path,
    *,
    workspace: str,
    base_url: str = "http://127.0.0.1:8000",
    expires_days: float = 30,
) -> int:
    """Write ``customer_id,email,url`` rows of personal links for every row of ``customers_csv``.

    The input needs a ``customer_id`` column; ``email`` is copied when present. Returns rows written.
    """
    get_survey(ws, survey_id)
    if expires_days <= 0:
        raise ConfigError(f"--expires-days is {expires_days}; expected a positive number of days")
    src = Path(customers_csv)
    if not src.exists():
        raise ConfigError(f"customers file {str(src)!r} does not exist; check the path")
    with src.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        if "customer_id" not in (reader.fieldnames or []):
            raise SchemaError(f"{src.name} has no 'customer_id' column (columns: {reader.fieldnames}); add it")
        rows = list(reader)
    n = 0
    with Path(out).open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["customer_id", "email", "url"])
        for i, r in enumerate(rows, start=2):
            cid = (r.get("customer_id") or "").strip()
            if not cid:
                raise SchemaError(f"{src.name} row {i}: column 'customer_id' is empty; every row needs one")
            token = make_token(ws, survey_id, cid, expires_days=expires_days)
            w.writerow([cid, r.get("email", ""), personal_url(base_url, workspace, survey_id, token)])
            n += 1
    return n


def continuation_token(ws: Store, survey_id: str, response_id: str, person: str) -> str:
    """A token letting the hosted page's second step (the comment) add to the response it started.

    ``person`` is ``customer:<id>`` or ``anonymous:<id>`` (signed with the rest: the form cannot turn an
    anonymous response into a customer's). The step closes the response, so the token works once.
    """
    issued = int(time.time())
    msg = f"{survey_id}\x00{response_id}\x00{person}\x00{issued}"
    return f"{issued}.{sign(ws, SECRET_SETTING, msg)}"


#: how long the hosted page's comment step stays open after the score
CONTINUATION_SECONDS = 3600


def check_continuation(ws: Store, survey_id: str, response_id: str, person: str, token: str) -> None:
    """Raise ForbiddenError unless ``token`` continues this response (issued within the hour)."""
    issued, _, sig = (token or "").partition(".")
    if not issued.isdigit() or not 0 <= time.time() - int(issued) <= CONTINUATION_SECONDS:
        raise ForbiddenError("this survey page expired; open the survey link again")
    msg = f"{survey_id}\x00{response_id}\x00{person}\x00{issued}"
    good = sign(ws, SECRET_SETTING, msg)
    if not hmac.compare_digest(good, sig):
        raise ForbiddenError("this survey form was altered; open the survey link again")


def anonymous_cookie(ws: Store) -> str:
    """A new signed anonymous id for the hosted page's cookie: ``anon-<random>.<signature>``."""
    aid = "anon-" + secrets.token_urlsafe(12)
    return f"{aid}.{sign(ws, SECRET_SETTING, aid)[:22]}"


def anonymous_id(ws: Store, cookie: str | None) -> str | None:
    """The anonymous id of a cookie this workspace signed, or None (absent, forged or foreign: a
    visitor cannot pick an id, such as a customer's, to answer or block surveys as them)."""
    aid, _, sig = (cookie or "").rpartition(".")
    if not aid.startswith("anon-") or len(aid) > 64:
        return None
    good = sign(ws, SECRET_SETTING, aid)[:22]
    return aid if hmac.compare_digest(good, sig) else None
