"""Targeting and fatigue rules: which surveys a person may see now, as pure functions.

The store (:mod:`cxlens.surveys.store`) gathers the person's history; these functions decide.
Every rule is checked server-side so a modified widget cannot bypass them.

>>> in_sample("checkout-nps", "anon-1", 1.0), in_sample("checkout-nps", "anon-1", 0.0)
(True, False)
>>> url_matches(["/checkout/*"], "https://shop.example/checkout/done?x=1")
True
>>> pick_language("fr-CA,fr;q=0.9,en;q=0.8", ["fr", "de"], "en")
'fr'
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import urlsplit

from cxlens.surveys.definition import SurveyDefinition

__all__ = ["History", "eligibility", "in_sample", "pick_language", "tab_eligible", "url_matches"]


def in_sample(survey_id: str, person: str, rate: float) -> bool:
    """Deterministic sampling: the same person always falls on the same side of ``rate``."""
    if rate >= 1:
        return True
    if rate <= 0:
        return False
    h = hashlib.sha256(f"{survey_id}\x00{person}".encode()).digest()
    return int.from_bytes(h[:8], "big") / 2**64 < rate


def url_matches(patterns: list[str], url: str | None) -> bool:
    """Whether ``url`` matches one of the glob ``patterns`` (none means every page).

    A pattern starting with ``/`` is matched against the path only; any other against the
    whole URL without query string. ``*`` matches anything, including ``/``.
    """
    if not patterns:
        return True
    if not url:
        return False
    parts = urlsplit(url)
    path = parts.path or "/"
    full = f"{parts.scheme}://{parts.netloc}{path}" if parts.scheme else path
    for p in patterns:
        target = path if p.startswith("/") else full
        if fnmatch.fnmatchcase(target, p) or fnmatch.fnmatchcase(target.rstrip("/") or "/", p.rstrip("/") or "/"):
            return True
    return False


def pick_language(accept: str | None, available: list[str], default: str) -> str:
    """The best of ``available`` (plus ``default``) for an Accept-Language-like string.

    ``fr-CA`` matches ``fr-CA`` first, then ``fr``; unmatched languages fall back to ``default``.
    """
    if not accept:
        return default
    langs = {a.lower(): a for a in [*available, default]}
    wanted: list[tuple[float, int, str]] = []
    for i, part in enumerate(accept.split(",")):
        tag, _, q = part.strip().partition(";")
        try:
            weight = float(q.strip()[2:]) if q.strip().startswith("q=") else 1.0
        except ValueError:
            weight = 0.0
        if tag:
            wanted.append((-weight, i, tag.strip().lower()))
    for _, _, tag in sorted(wanted):
        if tag in langs:
            return langs[tag]
        primary = tag.split("-")[0]
        if primary in langs:
            return langs[primary]
    return default


@dataclass(frozen=True)
class History:
    """What the server knows about one person and one survey."""

    responded: bool = False
    last_seen: datetime | None = None  # latest impression, dismissal or response
    responses_total: int = 0  # answered responses to the survey, all people


def eligibility(
    d: SurveyDefinition,
    person: str,
    history: History,
    *,
    now: datetime,
    url: str | None = None,
    event: str | None = None,
) -> str | None:
    """None when the survey may be shown now, else the reason it may not (for logs and tests)."""
    t = d.targeting
    if d.status != "active":
        return f"status is {d.status}"
    if t.get("start") and now < datetime.fromisoformat(t["start"]):
        return "before targeting.start"
    if t.get("end") and now >= datetime.fromisoformat(t["end"]):
        return "after targeting.end"
    if t.get("max_responses") is not None and history.responses_total >= t["max_responses"]:
        return "max_responses reached"
    trigger = (t.get("trigger") or {}).get("event")
    if trigger and event != trigger:
        return f"waits for event {trigger!r}"
    if not trigger and event:
        return "shown on page load, not on events"
    if not url_matches(t.get("url") or [], url):
        return "url does not match"
    if t.get("once_per_person", True) and history.responded:
        return "already answered"
    days = t.get("recontact_days") or 0
    if history.last_seen is not None and days and now - history.last_seen < timedelta(days=days):
        return f"seen within {days} days"
    if not in_sample(d.id, person, t.get("sample_rate", 1.0)):
        return "not in sample"
    return None


def tab_eligible(d: SurveyDefinition, history: History, *, now: datetime, url: str | None = None) -> bool:
    """Whether to offer ``d`` behind the always-available feedback tab on this page.

    The tab is the person's own choice, so sampling, triggers and the recontact window do not
    apply; status, dates, response cap, page pattern and one-response-per-person still do.
    """
    if not d.appearance.get("feedback_tab"):
        return False
    reason = eligibility(d, "", History(responded=history.responded, responses_total=history.responses_total),
                         now=now, url=url, event=(d.targeting.get("trigger") or {}).get("event"))  # fmt: skip
    return reason in (None, "not in sample")
