"""Interview invitations: a personal e-mail to each recruit candidate with the researcher's scheduling
link, once per customer and study, and an opt-out link that is respected from then on.

:func:`send_invitations` takes the candidates :func:`cxlens.interviews.recruit.candidates` returns
for the given filters (opted in, a later "no" and earlier opt-outs excluded, quotas applied), drops
those already invited to ``study`` (``interview_invites``) and those without an e-mail address, and
sends each one message through the act module's e-mail channel
(:func:`cxlens.act.deliver.send_email`: the SMTP host must be allowed, ``cxlens act allow-host``).
The invitation is recorded after the server accepted it, so a failed one is tried on the next run.

Every message carries an opt-out link ``{base_url}/s/{workspace}/interview-optout/{token}``: the
token is the customer id signed (HMAC-SHA256) with the workspace's ``interviews.optout_secret``; the
page asks to confirm (a GET never changes anything: mail scanners open links) and the POST records
the customer in ``interview_optouts``, which recruiting then skips for every study.
"""

from __future__ import annotations

import datetime as dt
import hmac
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from cxlens.act.deliver import DeliveryError, send_email
from cxlens.errors import ForbiddenError, ParameterError
from cxlens.interviews.recruit import candidates
from cxlens.store.signing import b64, sign, unb64

__all__ = ["SECRET_SETTING", "opt_out", "optout_token", "send_invitations", "verify_optout"]

SECRET_SETTING = "interviews.optout_secret"


def optout_token(store: Any, customer_id: str) -> str:
    payload = b64(str(customer_id).encode())
    return f"{payload}.{sign(store, SECRET_SETTING, payload)}"


def verify_optout(store: Any, token: str) -> str:
    """The customer id of a valid opt-out token (403 when altered)."""
    payload, _, sig = (token or "").partition(".")
    good = sign(store, SECRET_SETTING, payload)
    if not payload or not hmac.compare_digest(good, sig):
        raise ForbiddenError("this opt-out link is not valid (it was altered); use the link as sent")
    return unb64(payload).decode()


def opt_out(store: Any, customer_id: str, source: str = "link") -> None:
    """Record that ``customer_id`` declined further interview invitations (idempotent)."""
    if not customer_id:
        raise ParameterError("customer_id", "customer_id is empty")
    with store.transaction(changes=["interview_optouts"]) as cur:
        cur.execute("INSERT INTO interview_optouts VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                    [customer_id, dt.datetime.now(dt.UTC).replace(tzinfo=None), source])  # fmt: skip


def _http(url: str, field: str) -> str:
    parts = urlsplit(url or "")
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ParameterError(field, f"{field} is {url!r}; expected an http(s) address")
    return url


def send_invitations(store: Any, study: str, *, scheduling_url: str, base_url: str, workspace: str,
                     smtp: dict[str, Any], subject: str | None = None, minutes: int = 20,
                     **filters: Any) -> dict[str, Any]:  # fmt: skip
    """Invite the candidates of ``filters`` (:func:`~cxlens.interviews.recruit.candidates` keywords) to
    ``study``; returns ``{"study", "sent", "already", "no_email", "failed": [...], "invited": [ids]}``."""
    if not study or not str(study).strip():
        raise ParameterError("study", "study is empty; name the interview study, e.g. onboarding-2026")
    _http(scheduling_url, "scheduling_url")
    _http(base_url, "base_url")
    if not smtp.get("host"):
        raise ParameterError(
            "smtp_host", "smtp host is empty; name the SMTP server (allowed with `cxlens act allow-host`)"
        )
    cands = candidates(store, **filters)
    done = {r[0] for r in store.rows("SELECT customer_id FROM interview_invites WHERE study = ?", [study])}
    out: dict[str, Any] = {"study": study, "sent": 0, "already": 0, "no_email": 0, "failed": [], "invited": []}
    subject = subject or f"Could we talk for {minutes} minutes?"
    for r in cands.to_dict("records"):
        cid = r["customer_id"]
        if cid in done:
            out["already"] += 1
            continue
        addr = r.get("email")
        if not addr or "@" not in str(addr):
            out["no_email"] += 1
            continue
        optout = f"{base_url.rstrip('/')}/s/{quote(workspace, safe='')}/interview-optout/{optout_token(store, cid)}"
        hello = f"Hello {r['name']}," if r.get("name") else "Hello,"
        text = (f"{hello}\n\nthank you for saying we may contact you. Would you have {minutes} minutes for a "
                f"conversation about your experience with us? Pick a time that suits you:\n{scheduling_url}\n\n"
                f"If you would rather not be asked again: {optout}\n")  # fmt: skip
        html = (f"<p>{escape(hello)}</p><p>thank you for saying we may contact you. Would you have {minutes} "
                "minutes for a conversation about your experience with us? "
                f'<a href="{escape(scheduling_url)}">Pick a time that suits you</a>.</p>'
                f'<p><a href="{escape(optout)}">I would rather not be asked again</a></p>')  # fmt: skip
        try:
            send_email(store, smtp, [str(addr)], subject, text, html, headers={"List-Unsubscribe": f"<{optout}>"})
        except DeliveryError as e:
            out["failed"].append(f"{cid}: {e}")
            continue
        with store.transaction(changes=["interview_invites"]) as cur:
            cur.execute("INSERT INTO interview_invites VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                        [study, cid, dt.datetime.now(dt.UTC).replace(tzinfo=None)])  # fmt: skip
        out["sent"] += 1
        out["invited"].append(cid)
    return out
