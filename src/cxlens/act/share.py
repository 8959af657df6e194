"""Shared report links: a signed, expiring, read-only link to one view of the workspace — the overview
report, the journey map, the themes and pain points, or a scheduled digest — that anyone holding it
may open without an account, until it expires or is revoked.

* **Signed.** The token is ``{link_id}.{signature}``: an HMAC-SHA256 (:mod:`cxlens.store.signing`,
  setting :data:`SECRET_SETTING`, one secret per workspace) of the workspace name, the link id, the
  view and its expiry. A changed character, or a link of another workspace, does not verify.
* **Stored hashed.** ``act_shares`` keeps the SHA-256 of the token, never the token: it is shown
  once, when the link is made.
* **What the creator's role may see.** The creator's role is stored with the link; a view is made only
  for roles that may open its dashboard page (:data:`VIEW_ROLES`: admins and analysts), and it is
  rendered under that role's PII policy (:func:`cxlens.schema.pii.policy_for`: an analyst's link shows
  customer text redacted).
* **Expiring, revocable.** At most :data:`MAX_EXPIRY`; a revoked or expired link answers 410 with a
  page saying so, an unknown or tampered one 404.

:func:`cxlens.report.shared.render_view` draws a link's page; the web layer serves ``/shared/{workspace}/{token}`` (and, for a digest, its charts as PNG under
``…/charts/{kpi,themes}.png``); nothing else is reachable with a token.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from cxlens.act.rules import parse_duration
from cxlens.errors import ConfigError, ForbiddenError, LinkGoneError, NotFoundError
from cxlens.schema.pii import pii_policy, policy_for
from cxlens.store.signing import sign

__all__ = [
    "DEFAULT_EXPIRY",
    "MAX_EXPIRY",
    "SECRET_SETTING",
    "VIEWS",
    "VIEW_ROLES",
    "SharedLink",
    "create_link",
    "digest_chart_token",
    "link_path",
    "list_links",
    "parse_view",
    "digest_report",
    "render_chart",
    "resolve",
    "revoke_link",
    "workspace_label",
]

#: the workspace setting holding the links' signing secret (rotate it to void every link at once)
SECRET_SETTING = "act.share_secret"
DEFAULT_EXPIRY = "7d"
#: the longest a link may live (our choice: a quarter, so a forgotten link does not outlive its report)
MAX_EXPIRY = "90d"
#: how long the chart link of a digest sent to Slack or Teams lives
DIGEST_CHART_EXPIRY = "30d"
#: view → (its dashboard page, what it shows)
VIEWS = {
    "overview": ("/", "Overview report: KPIs with 95% CIs, trends, breakdowns, significant movers"),
    "journey": ("/journey", "Journey map: scores and pain by stage and touchpoint"),
    "themes": ("/themes", "Themes and pain points of the period"),
    "digest": ("/rules/{rule}", "A scheduled digest's content, with its charts"),
}
#: the roles that may share (and so see) each view: those that may open its dashboard page
VIEW_ROLES = {v: ("admin", "analyst") for v in VIEWS}


@dataclass(frozen=True)
class SharedLink:
    """One stored link (never its token)."""

    link_id: str
    view: str
    params: dict[str, Any]
    role: str
    created_by: str | None
    created_at: dt.datetime
    expires_at: dt.datetime
    revoked_at: dt.datetime | None

    @property
    def title(self) -> str:
        if self.view == "digest":
            return f"Digest of rule {self.params.get('rule')}"
        return {"overview": "Customer experience overview", "journey": "Journey map",
                "themes": "Themes and pain points"}[self.view]  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def workspace_label(store: Any) -> str:
    """The name the server serves ``store``'s workspace under (its file name without extension, as
    :func:`cxlens.web.hub.workspace_name`)."""
    p = str(getattr(store, "path", None) or ":memory:")
    return "default" if p == ":memory:" else Path(p).stem


def parse_view(text: str) -> tuple[str, dict[str, Any]]:
    """``overview``, ``journey``, ``themes`` or ``digest:RULE`` → (view, params)."""
    view, _, arg = str(text).strip().partition(":")
    view = view.lower()
    if view not in VIEWS:
        raise ConfigError(f"view {text!r} cannot be shared; expected one of overview, journey, themes, digest:RULE")
    if view == "digest":
        if not arg:
            raise ConfigError("view 'digest' needs the rule's name: digest:RULE (e.g. digest:morning-digest)")
        return view, {"rule": arg}
    if arg:
        raise ConfigError(f"view {view!r} takes no argument; got {text!r}")
    return view, {}


def _expiry(value: Any) -> float:
    seconds = parse_duration(value, "expires")
    if seconds <= 0:
        raise ConfigError(f"expires is {value!r}; expected a positive duration such as '7d' or '12h'")
    if seconds > parse_duration(MAX_EXPIRY, "expires"):
        raise ConfigError(f"expires is {value!r}; a shared link lives at most {MAX_EXPIRY}")
    return seconds


def _token(store: Any, link_id: str, view: str, expires_at: dt.datetime) -> str:
    msg = f"{workspace_label(store)}\x00{link_id}\x00{view}\x00{expires_at.isoformat()}"
    return f"{link_id}.{sign(store, SECRET_SETTING, msg)}"


def _hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def link_path(store: Any, token: str) -> str:
    """The address of a link on the server (``/shared/{workspace}/{token}``)."""
    from urllib.parse import quote

    return f"/shared/{quote(workspace_label(store), safe='')}/{token}"


def _check_view(store: Any, view: str, params: dict[str, Any], role: str) -> None:
    if role not in VIEW_ROLES[view]:
        raise ForbiddenError(f"role {role!r} may not share the {view} view; it needs "
                             f"{' or '.join(VIEW_ROLES[view])}")  # fmt: skip
    if view == "digest":
        from cxlens.act.rules import get_rule

        rule = get_rule(store, str(params.get("rule")))
        if rule.trigger != "schedule":
            raise ConfigError(
                f"rule {rule.name!r} is a {rule.trigger} rule; only a schedule rule has a digest to share"
            )


def create_link(store: Any, view: str, *, role: str, created_by: str | None = None,
                expires: Any = DEFAULT_EXPIRY, params: dict[str, Any] | None = None,
                now: dt.datetime | None = None) -> dict[str, Any]:  # fmt: skip
    """Make a link to ``view`` (see :func:`parse_view`; ``params`` adds ``start``/``end`` for the
    overview, journey and themes) for a creator of ``role``. Returns ``link_id``, ``token`` (shown
    this once), ``path``, ``view``, ``role``, ``expires_at``."""
    view, extra = parse_view(view)
    params = {**extra, **(params or {})}
    bad = set(params) - {"rule", "alert_id", "start", "end"}
    if bad:
        raise ConfigError(f"params has unknown field {sorted(bad)[0]!r}; expected start, end (or rule for a digest)")
    for k in ("start", "end"):
        if params.get(k) is not None:
            try:
                params[k] = pd.Timestamp(str(params[k])).date().isoformat()
            except ValueError:
                raise ConfigError(f"{k} is {params[k]!r}; expected a date such as 2026-01-31") from None
    _check_view(store, view, params, role)
    now = now or _now()
    expires_at = (now + dt.timedelta(seconds=_expiry(expires))).replace(microsecond=0)
    link_id = "sh_" + secrets.token_hex(8)
    return _insert(store, link_id, view, params, role, created_by, now, expires_at)


def _insert(store: Any, link_id: str, view: str, params: dict[str, Any], role: str, created_by: str | None,
            now: dt.datetime, expires_at: dt.datetime) -> dict[str, Any]:  # fmt: skip
    token = _token(store, link_id, view, expires_at)  # makes the workspace secret first (its own write)
    with store.transaction(changes=["act_shares"]) as cur:
        cur.execute("INSERT INTO act_shares VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL) ON CONFLICT DO NOTHING",
                    [link_id, _hash(token), view, json.dumps(params, sort_keys=True), role, created_by, now,
                     expires_at])  # fmt: skip
    return {"link_id": link_id, "token": token, "path": link_path(store, token), "view": view, "params": params,
            "role": role, "expires_at": expires_at}  # fmt: skip


def digest_chart_token(store: Any, alert_id: str, rule: str, *, now: dt.datetime | None = None) -> str:
    """The token of the link to a digest alert's charts (made once per alert, by the system with the
    admin view of its rule's page; the same token every time it is asked for, from the workspace secret,
    so a retried Slack or Teams message carries the same image address and no token is stored)."""
    link_id = "sd_" + hashlib.sha256(f"digest\x00{alert_id}".encode()).hexdigest()[:16]
    row = store.one("SELECT expires_at FROM act_shares WHERE link_id = ?", [link_id])
    if row is not None:
        return _token(store, link_id, "digest", row[0])
    now = now or _now()
    expires_at = (now + dt.timedelta(seconds=parse_duration(DIGEST_CHART_EXPIRY, "expires"))).replace(microsecond=0)
    return str(_insert(store, link_id, "digest", {"rule": rule, "alert_id": alert_id}, "analyst", "cxlens (digest)",
                       now, expires_at)["token"])  # fmt: skip


def _row(r: Any) -> SharedLink:
    return SharedLink(r[0], r[1], json.loads(r[2]), r[3], r[4], r[5], r[6], r[7])


_COLUMNS = "link_id, view, params, role, created_by, created_at, expires_at, revoked_at"


def resolve(store: Any, token: str, *, now: dt.datetime | None = None) -> SharedLink:
    """The link of ``token``: :class:`NotFoundError` (404) when unknown, tampered or of another
    workspace; :class:`LinkGoneError` (410) when revoked or expired."""
    link_id, dot, sig = str(token).partition(".")
    gone = NotFoundError("this shared link does not exist; check that it was copied whole")
    if not dot or not sig or not link_id.startswith(("sh_", "sd_")) or len(token) > 200:
        raise gone
    r = store.one(f"SELECT {_COLUMNS}, token_hash FROM act_shares WHERE link_id = ?", [link_id])
    if r is None or not hmac.compare_digest(str(r[8]), _hash(token)):
        raise gone
    link = _row(r)
    if not hmac.compare_digest(_token(store, link_id, link.view, link.expires_at), token):
        raise gone  # the stored row was changed, or the secret rotated
    if link.revoked_at is not None:
        raise LinkGoneError(f"this shared link was revoked on {link.revoked_at:%Y-%m-%d %H:%M} UTC; "
                            "ask its owner for a new one")  # fmt: skip
    if link.expires_at <= (now or _now()):
        raise LinkGoneError(f"this shared link expired on {link.expires_at:%Y-%m-%d %H:%M} UTC; "
                            "ask its owner for a new one")  # fmt: skip
    return link


def list_links(store: Any, *, include_inactive: bool = True, now: dt.datetime | None = None) -> pd.DataFrame:
    """Every link (never a token): id, view, params, role, creator, dates and ``status`` (active,
    expired, revoked)."""
    now = now or _now()
    df = store.read(f"SELECT {_COLUMNS}, revoked_by FROM act_shares ORDER BY created_at DESC, link_id")
    df["status"] = ["revoked" if pd.notna(r) else "expired" if e <= now else "active"
                    for r, e in zip(df["revoked_at"], df["expires_at"], strict=True)]  # fmt: skip
    if not include_inactive:
        df = df[df["status"] == "active"].reset_index(drop=True)
    return df


def revoke_link(store: Any, link_id: str, *, who: str | None = None) -> dict[str, Any]:
    """Revoke link ``link_id`` (at once: its next request answers 410)."""
    with store.transaction(changes=["act_shares"]) as cur:
        r = cur.execute("SELECT revoked_at FROM act_shares WHERE link_id = ?", [link_id]).fetchone()
        if r is None:
            raise NotFoundError(f"shared link {link_id!r} does not exist; see `cxlens share list`")
        if r[0] is None:
            cur.execute("UPDATE act_shares SET revoked_at = ?, revoked_by = ? WHERE link_id = ?",
                        [_now(), who, link_id])  # fmt: skip
    return {"link_id": link_id, "status": "revoked"}


# -- rendering --------------------------------------------------------------------------------------
def digest_report(store: Any, link: SharedLink) -> dict[str, Any]:
    """The report of a digest link: its alert's, else the rule's latest digest, else what it would say now."""
    from cxlens.act.rules import get_rule
    from cxlens.act.schedule import digest_content

    rule = link.params.get("rule")
    if link.params.get("alert_id"):
        r = store.one("SELECT comment FROM act_alerts WHERE alert_id = ? AND rule = ?", [link.params["alert_id"], rule])
    else:  # the latest digest the rule sent, else what it would send now
        r = store.one("SELECT comment FROM act_alerts WHERE rule = ? AND trigger = 'schedule' "
                      "ORDER BY ts DESC, created_at DESC LIMIT 1", [rule])  # fmt: skip
    if r is not None and r[0]:
        return dict(json.loads(r[0]))
    if link.params.get("alert_id"):
        raise NotFoundError("the digest of this link was erased")
    return digest_content(store, get_rule(store, str(rule)).conditions, _now())


def render_chart(store: Any, link: SharedLink, name: str) -> bytes:
    """PNG chart ``name`` (``kpi``, ``themes``) of a digest link (404 for other views or no data)."""
    from cxlens.act.charts import CHARTS, digest_png

    if link.view != "digest" or name not in CHARTS:
        raise NotFoundError(f"this shared link has no chart {name!r}")
    with pii_policy(policy_for(link.role)):
        png = digest_png(digest_report(store, link), name)
    if png is None:
        raise NotFoundError(f"the digest has no data for its {name} chart")
    return png
