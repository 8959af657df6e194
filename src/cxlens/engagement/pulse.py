"""Pulse surveys by link or e-mail, anonymous by construction.

A pulse link is ``{base_url}/s/{workspace}/pulse/{token}``. The token is signed (HMAC-SHA256, a
per-workspace secret in the setting ``engagement.pulse_secret``, made on first use) and carries the
pulse name, the employee's GROUP attributes (team, role, location, manager), an expiry and a random
nonce — never the employee id. Answering stores the answers like :func:`import_pulse` (a fresh
random response id, the group attributes only, comments redacted of names) with the day as the
time, and records a hash of the nonce in ``pulse_used`` in the same transaction, so the link works
once. No table ties a link to an employee: ``pulse_sends`` says who was invited to which pulse (so
each employee gets one invitation), not which link they got or whether they answered.

:func:`send_invitations` e-mails each employee with an e-mail address (optionally one team) their
link through the act module's e-mail channel (:func:`cxlens.act.deliver.send_email`: the SMTP host
must be allowed, ``cxlens act allow-host``), once per pulse; an employee whose sending failed is
tried again on the next run.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
import time
from html import escape
from typing import Any
from urllib.parse import quote

import pandas as pd

from cxlens.act.deliver import DeliveryError, send_email
from cxlens.engagement.people import GROUP_COLUMNS, QUESTIONS, import_pulse
from cxlens.errors import ForbiddenError, LinkGoneError, ParameterError, SchemaError
from cxlens.store.signing import b64, sign, unb64

__all__ = ["SECRET_SETTING", "answer", "make_token", "pulse_url", "send_invitations", "verify_token"]

SECRET_SETTING = "engagement.pulse_secret"
PROMPTS = {
    "enps": "How likely are you to recommend us as a place to work? (0-10)",
    "pride": "I am proud to work here. (1-5)",
    "recommend": "I would recommend this company as a great place to work. (1-5)",
    "stay_now": "I rarely think about looking for a job at another company. (1-5)",
    "stay_future": "I see myself still working here in two years' time. (1-5)",
    "motivation": "This company motivates me to go beyond what I would in a similar role elsewhere. (1-5)",
}


def _sig(store: Any, payload: str) -> str:
    return sign(store, SECRET_SETTING, payload)


def make_token(store: Any, pulse: str, groups: dict[str, Any], *, expires_days: float = 14) -> str:
    """A signed single-use link token for ``pulse`` carrying only the group attributes."""
    if not pulse or not str(pulse).strip():
        raise ParameterError("pulse", "pulse is empty; name the pulse, e.g. 2026-q2")
    if not groups.get("team"):
        raise SchemaError("column 'team' is empty; a pulse link needs the employee's team")
    body = {"p": pulse, "g": [groups.get(c) for c in GROUP_COLUMNS], "e": int(time.time() + expires_days * 86400),
            "n": secrets.token_urlsafe(16)}  # fmt: skip
    payload = b64(json.dumps(body, separators=(",", ":")).encode())
    return f"{payload}.{_sig(store, payload)}"


def verify_token(store: Any, token: str) -> dict[str, Any]:
    """The claims (``pulse``, ``groups``, ``nonce``) of a valid, unexpired, unused token; 403 when
    altered, 410 (:class:`LinkGoneError`) when expired or already answered."""
    payload, _, sig = (token or "").partition(".")
    if not payload or not hmac.compare_digest(_sig(store, payload), sig):
        raise ForbiddenError("this pulse link is not valid (it was altered or belongs elsewhere); use the link as sent")
    body = json.loads(unb64(payload))
    if body["e"] < time.time():
        raise LinkGoneError("this pulse link has expired; thank you for your interest")
    h = hashlib.sha256(body["n"].encode()).hexdigest()
    if store.rows("SELECT 1 FROM pulse_used WHERE nonce_hash = ?", [h]):
        raise LinkGoneError("this pulse link was already answered; each link works once")
    return {"pulse": body["p"], "groups": dict(zip(GROUP_COLUMNS, body["g"], strict=True)), "nonce_hash": h}


def answer(store: Any, token: str, scores: dict[str, Any], comment: str | None = None) -> int:
    """Store one submission through a link (see the module doc); returns the answers written."""
    claims = verify_token(store, token)
    rows = []
    for q, (lo, hi) in QUESTIONS.items():
        v = scores.get(q)
        if v in (None, ""):
            continue
        try:
            x = float(v)
        except (TypeError, ValueError):
            x = float("nan")
        if not (lo <= x <= hi and x == int(x)):
            raise ParameterError(q, f"{q} is {v!r}; expected a whole number {lo}-{hi}")
        rows.append({"question": q, "score": x})
    if not rows:
        raise ParameterError("enps", "no answer given; answer at least the first question")
    today = dt.datetime.now(dt.UTC).date().isoformat()  # the day only: no time to match a link against
    df = pd.DataFrame(rows).assign(ts=today, response_id="link", **claims["groups"])
    if comment and comment.strip():
        df = pd.concat([df, pd.DataFrame([{"question": "comment", "score": "", "ts": today, "response_id": "link",
                                           "comment": comment.strip()[:4000], **claims["groups"]}])])  # fmt: skip
    with store.transaction(changes=["pulse_used", "pulse_answers", "pulse_comments"]) as cur:
        if store.rows("SELECT 1 FROM pulse_used WHERE nonce_hash = ?", [claims["nonce_hash"]]):
            raise LinkGoneError("this pulse link was already answered; each link works once")
        cur.execute("INSERT INTO pulse_used VALUES (?, ?, ?)", [claims["nonce_hash"], claims["pulse"], today])
        return import_pulse(store, df)


def pulse_url(base_url: str, workspace: str, token: str) -> str:
    return f"{base_url.rstrip('/')}/s/{quote(workspace, safe='')}/pulse/{token}"


def send_invitations(store: Any, pulse: str, *, base_url: str, workspace: str, smtp: dict[str, Any],
                     team: str | None = None, expires_days: float = 14,
                     subject: str | None = None) -> dict[str, Any]:  # fmt: skip
    """E-mail every employee with an address (of ``team``, if given) their pulse link, once per pulse;
    returns ``{"sent", "already", "no_email", "failed": [error…]}``."""
    if not base_url.startswith(("http://", "https://")):
        raise ParameterError("base_url", f"base_url is {base_url!r}; expected the dashboard's http(s) address")
    if not smtp.get("host"):
        raise ParameterError(
            "smtp_host", "smtp host is empty; name the SMTP server (allowed with `cxlens act allow-host`)"
        )
    emp = store.read(
        "SELECT e.employee_id, e.email, e.team, e.role, e.location, e.manager_id, s.employee_id IS NOT NULL AS sent "
        "FROM employees e LEFT JOIN pulse_sends s ON s.employee_id = e.employee_id AND s.pulse = ? "
        + ("WHERE e.team = ? " if team else "") + "ORDER BY e.employee_id",
        [pulse, team] if team else [pulse],
    )  # fmt: skip
    out: dict[str, Any] = {"pulse": pulse, "sent": 0, "already": int(emp["sent"].sum()), "no_email": 0, "failed": []}
    subject = subject or "A short, anonymous pulse survey"
    for r in emp[~emp["sent"]].to_dict("records"):
        if not r["email"] or "@" not in str(r["email"]):
            out["no_email"] += 1
            continue
        url = pulse_url(base_url, workspace, make_token(store, pulse, r, expires_days=expires_days))
        text = (f"Hello,\n\nplease answer our short pulse survey ({len(QUESTIONS)} questions, 2 minutes):\n{url}\n\n"
                "It is anonymous: the link carries your team, not your name, and works once. Results are shown "
                "only for groups of several people.\n")  # fmt: skip
        html = (f"<p>Hello,</p><p>please answer our short pulse survey ({len(QUESTIONS)} questions, 2 minutes): "
                f'<a href="{escape(url)}">{escape(url)}</a></p><p>It is anonymous: the link carries your team, '
                "not your name, and works once.</p>")  # fmt: skip
        try:
            send_email(store, smtp, [str(r["email"])], subject, text, html)
        except DeliveryError as e:
            out["failed"].append(str(e))
            continue
        with store.transaction(changes=["pulse_sends"]) as cur:
            cur.execute("INSERT INTO pulse_sends VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        [pulse, r["employee_id"], dt.datetime.now(dt.UTC).replace(tzinfo=None)])  # fmt: skip
        out["sent"] += 1
    return out
