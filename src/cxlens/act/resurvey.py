"""The ``survey`` action: a personal survey link e-mailed to the customer, and its answer on the case.

``do: [{survey: {survey: s-followup, via: email, subject: "How did we do?"}}]`` queues a delivery like
any message action (outbox, retries, dead letters). At send time the customer's e-mail address is read
from ``customers.email``, a signed single-use personal link is made (:mod:`cxlens.surveys.links`, the
links ``cxlens surveys links`` writes) and sent through the action's SMTP server
(:func:`cxlens.act.deliver.send_email`, SSRF-checked). ``act_resurveys`` records the link per
delivery with the case of the same alert and the score before (the triggering answer's score).

When the customer answers (any writer of feedback: the hosted survey page, the widget, an import), the
feedback hook records the first answer to that survey by that customer after the link was sent —
``feedback_id``, ``score``, ``answered_at`` — and adds a ``resurvey`` event to the case's audit trail.
:func:`recovery` turns them into the recovery rate.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from collections.abc import Sequence
from typing import Any

import pandas as pd

from cxlens.act import deliver
from cxlens.errors import ConfigError, ForbiddenError
from cxlens.store import hooks

__all__ = ["DEFAULT_EXPIRES", "DEFAULT_SUBJECT", "on_answer", "recovery", "resurvey_of_case", "send_survey"]

DEFAULT_SUBJECT = "A quick question about your recent experience"
#: a re-survey link stays valid 14 days unless the action says otherwise (``expires``)
DEFAULT_EXPIRES = 14 * 86400.0


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _workspace_name(store: Any) -> str:
    """The name the server serves this workspace under (its file name without extension, as the web hub)."""
    from pathlib import Path

    p = str(getattr(store, "path", None) or ":memory:")
    return "default" if p == ":memory:" else Path(p).stem


def send_survey(store: Any, delivery_id: str, opts: dict[str, Any], ctx: dict[str, Any], timeout: float) -> int:
    """Send the personal link of a ``survey`` action (``opts``) for the alert of ``ctx``; returns 250.

    Raises :class:`~cxlens.errors.ForbiddenError` (the delivery is *refused*, not retried) when the alert
    has no customer, the customer no e-mail address, or the workspace no public address."""
    from cxlens.act.rules import parse_duration
    from cxlens.store.signing import unb64
    from cxlens.surveys import links
    from cxlens.surveys.store import get_survey

    cid = ctx.get("customer_id")
    if not cid:
        raise ForbiddenError("a survey action needs a customer; this alert has none")
    row = (
        store.one("SELECT email FROM customers WHERE customer_id = ?", [cid]) if store.has_table("customers") else None
    )
    email = (row[0] or "").strip() if row else ""
    if "@" not in email:
        raise ForbiddenError(f"customer {cid!r} has no e-mail address in customers.email; no survey sent")
    base = (store.setting("act.base_url", None) if hasattr(store, "setting") else None) or os.environ.get(
        "CXLENS_BASE_URL")  # fmt: skip
    if not base:
        raise ForbiddenError("a survey link needs the dashboard's public address: set act.base_url or CXLENS_BASE_URL")
    survey_id = str(opts["survey"])
    d = get_survey(store, survey_id)
    expires = parse_duration(opts["expires"], "expires") if "expires" in opts else DEFAULT_EXPIRES
    token = links.make_token(store, survey_id, cid, expires_days=expires / 86400)
    link_id = json.loads(unb64(token.partition(".")[0]))["n"]
    url = links.personal_url(str(base), _workspace_name(store), survey_id, token)
    before = ctx.get("score") if ctx.get("trigger") == "feedback" else None
    with store.transaction(changes=["act_resurveys"]) as cur:
        case = cur.execute("SELECT case_id FROM act_cases WHERE alert_id = ? ORDER BY created_at LIMIT 1",
                           [ctx["alert_id"]]).fetchone()  # fmt: skip
        cur.execute("INSERT OR REPLACE INTO act_resurveys VALUES (?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL, NULL)",
                    [delivery_id, ctx["alert_id"], case[0] if case else None, cid, survey_id, link_id, before,
                     _now()])  # fmt: skip
    subject = str(opts.get("subject") or DEFAULT_SUBJECT)
    question = getattr(d, "question", None) or "How was your experience?"
    text = f"{question}\n\nAnswer here (one click, a few seconds): {url}\n\nThis link is personal; it works once."
    page = (f"<p>{html.escape(str(question))}</p><p><a href=\"{html.escape(url)}\">Answer the survey</a></p>"
            "<p style=\"color:#666;font-size:12px\">This link is personal; it works once.</p>")  # fmt: skip
    return deliver.send_email(store, opts, [email], subject, text, page, msg_id=delivery_id,
                      headers={"X-Cxlens-Delivery": delivery_id}, timeout=timeout)  # fmt: skip


def on_answer(store: Any, cur: Any, select_sql: str, params: Sequence[Any]) -> None:
    """The ``feedback`` insert hook: record a re-survey's answer (the first answer to the survey by the
    customer after the link was sent) and note it on the case."""

    def waiting() -> bool:
        return cur.execute("SELECT 1 FROM act_resurveys WHERE answered_at IS NULL LIMIT 1").fetchone() is not None

    # kept until act_resurveys changes (every batch of survey answers asks; a re-survey is rare)
    memo = getattr(getattr(store, "store", store), "memo", None)
    if not (memo(("act.resurveys.waiting",), ("act_resurveys",), waiting, in_write=True) if memo else waiting()):
        return
    rows = cur.execute(
        f"SELECT r.delivery_id, r.case_id, r.customer_id, f.feedback_id, f.score, f.ts FROM ({select_sql}) f "
        "JOIN act_resurveys r ON r.customer_id = f.customer_id AND r.survey_id = f.survey_id "
        "WHERE r.answered_at IS NULL AND f.ts >= r.sent_at - INTERVAL 5 MINUTE ORDER BY f.ts, f.feedback_id",
        list(params),
    ).fetchall()
    done: set[str] = set()
    now = _now()
    for delivery_id, case_id, cid, fid, score, ts in rows:
        if delivery_id in done:
            continue
        done.add(delivery_id)
        cur.execute("UPDATE act_resurveys SET feedback_id = ?, score = ?, answered_at = ? WHERE delivery_id = ?",
                    [fid, score, ts, delivery_id])  # fmt: skip
        if case_id:
            cur.execute("INSERT INTO act_case_events VALUES ('ev_' || substr(md5(?), 1, 16), ?, ?, ?, ?, "
                        "'resurvey', NULL, ?)",
                        [f"{delivery_id}:{fid}", case_id, cid, now, "customer", json.dumps(
                            {"feedback_id": fid, "score": score})])  # fmt: skip
    if done and hasattr(store, "changed"):
        store.changed("act_resurveys", "act_case_events")


hooks.on_insert("feedback", on_answer)
deliver.SENDERS["survey"] = send_survey


def resurvey_of_case(store: Any, case_id: str) -> dict[str, Any] | None:
    """The re-survey of a case: ``survey_id, sent_at, before_score, score, answered_at, feedback_id``
    (the latest sent), or None."""
    row = store.one("SELECT survey_id, sent_at, before_score, score, answered_at, feedback_id FROM act_resurveys "
                    "WHERE case_id = ? ORDER BY sent_at DESC LIMIT 1", [case_id])  # fmt: skip
    if row is None:
        return None
    return dict(zip(("survey_id", "sent_at", "before_score", "score", "answered_at", "feedback_id"), row, strict=True))


def recovery(store: Any, *, by: str | None = None) -> pd.DataFrame:
    """The recovery rate of re-surveyed cases (``by``: ``team`` or ``owner``): ``sent`` links, ``n``
    answered with a score before, ``recovered`` (the answer scored higher than the answer that opened
    the case) and its share with the Wilson 95 % CI, the mean score before and after, and the mean
    change with its t 95 % CI."""
    from cxlens.metrics.stats import t_quantile, wilson

    if by not in ("team", "owner", None):
        raise ConfigError(f"by is {by!r}; expected team or owner (or nothing: all cases together)")
    group = {"team": "c.team", "owner": "c.owner", None: "'all'"}[by]
    df = store.read(
        f"SELECT {group} AS grp, r.before_score, r.score FROM act_resurveys r "
        "LEFT JOIN act_cases c ON c.case_id = r.case_id",
    )
    out = []
    for g, part in df.groupby("grp", dropna=False, sort=True):
        both = part.dropna(subset=["before_score", "score"])
        n = len(both)
        diff = both["score"] - both["before_score"]
        rec = int((diff > 0).sum())
        lo, hi = (float(x) / 100 for x in wilson(rec, n)) if n else (float("nan"), float("nan"))
        mean = float(diff.mean()) if n else float("nan")
        half = float(t_quantile(n) * diff.std(ddof=1) / n**0.5) if n > 1 else float("nan")
        out.append({by or "group": g, "sent": len(part), "n": n, "recovered": rec,
                    "recovery_rate": rec / n if n else float("nan"), "ci_low": lo, "ci_high": hi,
                    "before_mean": float(both["before_score"].mean()) if n else float("nan"),
                    "after_mean": float(both["score"].mean()) if n else float("nan"),
                    "change": mean, "change_low": mean - half, "change_high": mean + half})  # fmt: skip
    return pd.DataFrame(out, columns=[by or "group", "sent", "n", "recovered", "recovery_rate", "ci_low", "ci_high",
                                      "before_mean", "after_mean", "change", "change_low", "change_high"])  # fmt: skip
