"""What an alert says, per channel: the generic webhook body, Slack Block Kit, a Teams Adaptive Card,
an e-mail (text and HTML) and Zendesk/Freshdesk tickets.

Every message carries the customer context that makes it actionable (:func:`alert_context`): the
customer id, the score and the comment **redacted** (e-mails, phone and card numbers, addresses
replaced by tokens: :func:`cxlens.schema.redact.redact`), the stored predicted CLV and churn risk
with its top reason (``customer_scores``, when the models have run), and a deep link to the customer
360 (setting ``act.base_url`` or the ``CXLENS_BASE_URL`` variable).

Limits kept (docs/act.md cites them): Slack — at most 50 blocks, a header's text 150 characters, a
section's text 3,000 and a field's 2,000, at most 10 fields, the top-level ``text`` fallback
always set; Teams — an Adaptive Card 1.4 in a ``message`` attachment, the whole payload under 28 KB.
"""

from __future__ import annotations

import datetime as dt
import html
import json
import os
from typing import Any
from urllib.parse import quote

from cxlens.schema.redact import redact

__all__ = [
    "WEBHOOK_SCHEMA",
    "alert_context",
    "delivery_context",
    "chart_urls",
    "email_images",
    "email_message",
    "freshdesk_ticket",
    "slack_message",
    "teams_message",
    "title",
    "webhook_body",
    "zendesk_ticket",
]

SLACK_HEADER, SLACK_SECTION, SLACK_FIELD = 150, 3000, 2000
TEAMS_MAX_BYTES = 28 * 1024
COMMENT_MAX = 1500

#: the generic webhook body (JSON Schema draft 2020-12); docs/act.md prints it
WEBHOOK_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "cxlens alert",
    "type": "object",
    "required": ["type", "id", "rule", "customer_id", "trigger", "created_at"],
    "properties": {
        "type": {"const": "cxlens.alert"},
        "id": {"type": "string", "description": "delivery id, equal to the webhook-id header (idempotency key)"},
        "alert_id": {"type": "string"},
        "rule": {"type": "string"},
        "rule_version": {"type": "integer"},
        "trigger": {
            "enum": [
                "feedback",
                "customer",
                "test",
                "digest",
                "schedule",
                "metric",
                "ticket",
                "verbatim",
                "frustration",
                "theme",
            ]
        },
        "customer_id": {"type": ["string", "null"]},
        "feedback_id": {"type": ["string", "null"]},
        "metric": {"type": ["string", "null"]},
        "score": {"type": ["number", "null"]},
        "comment": {"type": ["string", "null"], "description": "redacted: PII replaced by [EMAIL], [PHONE]…"},
        "touchpoint": {"type": ["string", "null"]},
        "survey_id": {"type": ["string", "null"]},
        "answered_at": {"type": ["string", "null"], "format": "date-time"},
        "created_at": {"type": "string", "format": "date-time"},
        "customer": {
            "type": "object",
            "properties": {
                "clv": {"type": ["number", "null"], "description": "predicted 52-week CLV"},
                "churn_risk": {"type": ["number", "null"], "description": "0-1"},
                "churn_reason": {"type": ["string", "null"]},
            },
        },
        "link": {"type": ["string", "null"], "description": "the customer 360 (a digest: the rule's page)"},
        "classification": {
            "type": "object",
            "description": "triggers 'ticket' and 'verbatim' only: sentiment, sentiment_score, theme, themes, "
            "emotions, effort, urgency, source, analyser",
        },
        "theme": {
            "type": "object",
            "description": "trigger 'theme' only: theme, name, period, count, previous, period_share, previous_share, "
            "growth, z, p_value, from",
        },
        "report": {
            "type": "object",
            "description": "triggers 'schedule' and 'metric' only: the period (from, until, tz), its metrics (value, "
            "ci_low, ci_high, n, previous, previous_n, delta, p_value, significant, small_sample; a digest's also "
            "trend), themes (theme, name, issue, n, share, previous_n; the comments without a theme last, theme "
            "'other', issue false) and open cases",
        },
        "digest": {
            "type": "object",
            "description": "trigger 'digest' only: the alerts of the rule past its flood limit in one period",
            "properties": {
                "from": {"type": "string", "format": "date-time"},
                "until": {"type": "string", "format": "date-time"},
                "alerts": {"type": "integer"},
                "customers": {"type": "integer"},
                "sent_individually": {"type": "integer", "description": "alerts sent one by one before it"},
                "scores": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "metric": {"type": ["string", "null"]},
                            "n": {"type": "integer"},
                            "mean": {"type": "number"},
                        },
                    },
                },
                "touchpoints": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {"touchpoint": {"type": "string"}, "n": {"type": "integer"}},
                    },
                },
                "examples": {"type": "array", "description": "up to 5, comments redacted", "items": {"type": "object"}},
            },
        },
    },
}


def _iso(v: Any) -> str | None:
    return None if v is None else (v.isoformat() if hasattr(v, "isoformat") else str(v))


_ALERT_KEYS = ("alert_id", "rule", "rule_version", "customer_id", "feedback_id", "trigger", "metric", "score",
               "comment", "touchpoint", "survey_id", "answered_at", "created_at")  # fmt: skip
_ALERT_COLUMNS = ("a.alert_id, a.rule, a.rule_version, a.customer_id, a.feedback_id, a.trigger, a.metric, a.score, "
                  "a.comment, a.touchpoint, a.survey_id, a.ts, a.created_at")  # fmt: skip


def alert_context(store: Any, delivery_id: str) -> dict[str, Any]:
    """Everything a message about delivery ``delivery_id`` says (read at send time)."""
    found = delivery_context(store, delivery_id)
    if found is None or isinstance(found[2], LookupError):
        raise LookupError(f"delivery {delivery_id!r} has no alert (erased?)")
    return found[2]  # type: ignore[no-any-return]


_CONTEXT_SQL = (
    f"SELECT d.action, d.status, a.alert_id IS NOT NULL, {_ALERT_COLUMNS}, s.clv, s.churn_risk, s.reasons, "
    "d.delivery_id FROM act_deliveries d LEFT JOIN act_alerts a ON a.alert_id = d.alert_id "
    "LEFT JOIN customer_scores s ON s.customer_id = a.customer_id"
)


def delivery_context(store: Any, delivery_id: str) -> tuple[str, str, Any] | None:
    """``(action JSON, status, context)`` of delivery ``delivery_id`` in one statement (the sender's
    read; the context is a :class:`LookupError` when the alert is gone), or None when the delivery is."""
    row = store.one(f"{_CONTEXT_SQL} WHERE d.delivery_id = ?", [delivery_id])
    return None if row is None else _found(store, delivery_id, row)


def delivery_contexts(store: Any, delivery_ids: list[str]) -> dict[str, tuple[str, str, Any]]:
    """:func:`delivery_context` of several deliveries in one statement (a round of the delivery pump
    reads its contexts together, not one statement per send); a delivery that is gone is left out.
    A context that fails to build (a digest's or a schedule's further reads) is its exception."""
    rows = store.rows(f"{_CONTEXT_SQL} WHERE list_contains(?::VARCHAR[], d.delivery_id)", [list(delivery_ids)])
    out: dict[str, tuple[str, str, Any]] = {}
    for row in rows:
        try:
            out[row[-1]] = _found(store, row[-1], row)
        except Exception as e:  # noqa: BLE001 — the send of this delivery fails, as delivery_context would
            out[row[-1]] = (row[0], row[1], e)
    return out


def _found(store: Any, delivery_id: str, row: Any) -> tuple[str, str, Any]:
    if not row[2]:
        return row[0], row[1], LookupError(f"delivery {delivery_id!r} has no alert (erased?)")
    alert, scores = row[3:16], row[16:19]
    if alert[5] == "digest":
        return row[0], row[1], _digest_context(store, delivery_id, alert)
    if alert[5] in ("schedule", "metric"):
        # only a Slack or Teams message shows its charts by address (the link is made for those alone)
        images = next(iter(json.loads(row[0]) or {}), None) in ("slack", "teams")
        return row[0], row[1], _schedule_context(store, delivery_id, alert, images=images)
    # no scores row (models not run, or no customer): all three NULL, the same context as without one
    ctx = _context(store, delivery_id, alert, scores if alert[3] else None)
    if alert[5] in ("ticket", "verbatim", "theme"):
        _route_context(store, ctx)
    return row[0], row[1], ctx


_CLASS_COLS = ("source", "sentiment", "sentiment_score", "theme", "themes", "emotions", "effort", "urgency", "analyser")


def _route_context(store: Any, ctx: dict[str, Any]) -> None:
    """A routing alert's extras: a ticket's or verbatim's stored classification; an emerging theme's test."""
    if ctx["trigger"] == "theme":
        info = json.loads(ctx["comment"] or "{}")
        ctx["theme"] = info
        growth = f"{info['growth']:g}×" if info.get("growth") is not None else "new"
        ctx["comment"] = (f"Theme {info.get('name') or info.get('theme')}: {info.get('count')} verbatims in the "
                          f"{info.get('period')} ({info.get('period_share', 0):.1%}) vs {info.get('previous')} "
                          f"({info.get('previous_share', 0):.1%}) before; share {growth}, z = {info.get('z', 0):.2f}, "
                          f"p = {info.get('p_value', 1):.3g}")  # fmt: skip
        ctx["link"] = None
        return
    row = store.one(f"SELECT {', '.join(_CLASS_COLS)} FROM act_classifications WHERE verbatim_id = ?",
                    [ctx["feedback_id"]])  # fmt: skip
    if row is not None:
        c = dict(zip(_CLASS_COLS, row, strict=True))
        c["themes"], c["emotions"] = json.loads(c["themes"] or "[]"), json.loads(c["emotions"] or "[]")
        ctx["classification"] = c


def _context(store: Any, delivery_id: str, row: Any, scores: Any) -> dict[str, Any]:
    ctx = dict(zip(_ALERT_KEYS, row, strict=True))
    comment = ctx["comment"]
    comment = redact(comment) if comment else None
    if comment and len(comment) > COMMENT_MAX:
        comment = comment[: COMMENT_MAX - 1] + "…"
    ctx["comment"] = comment
    ctx["score"] = None if ctx["score"] is None else float(ctx["score"])
    customer: dict[str, Any] = {"clv": None, "churn_risk": None, "churn_reason": None}
    s = scores
    if s is not None:
        customer = {"clv": None if s[0] is None else round(float(s[0]), 2),
                    "churn_risk": None if s[1] is None else round(float(s[1]), 4),
                    "churn_reason": (str(s[2]).split(";")[0].strip() or None) if s[2] else None}  # fmt: skip
    ctx["customer"] = customer
    base = _base_url(store)
    ctx["link"] = (f"{str(base).rstrip('/')}/customers/{quote(ctx['customer_id'], safe='')}"
                   if base and ctx["customer_id"] else None)  # fmt: skip
    ctx["id"] = delivery_id
    return ctx


DIGEST_EXAMPLES = 5


def _base_url(store: Any) -> str | None:
    return (store.setting("act.base_url", None) if hasattr(store, "setting") else None) or os.environ.get(
        "CXLENS_BASE_URL"
    )


def _digest_context(store: Any, delivery_id: str, row: Any) -> dict[str, Any]:
    """A digest's context: the alerts of its rule in its period that were not sent one by one (read at
    send time, after the period ended), counted and summarised, with a few redacted examples."""
    ctx = dict(zip(_ALERT_KEYS, row, strict=True))
    info = json.loads(ctx["comment"] or "{}")
    start, until = info.get("from"), info.get("until")
    alerts = store.read(
        "SELECT a.customer_id, a.metric, a.score, a.comment, a.touchpoint FROM act_alerts a WHERE a.rule = ? "
        "AND a.created_at >= ?::TIMESTAMP AND a.created_at < ?::TIMESTAMP AND a.trigger NOT IN ('test', 'digest') "
        "AND NOT EXISTS (SELECT 1 FROM act_deliveries d WHERE d.alert_id = a.alert_id AND d.channel <> 'survey') "
        "ORDER BY a.ts, a.created_at, a.alert_id",
        [ctx["rule"], start, until],
    )
    scores = [{"metric": m, "n": int(len(g)), "mean": round(float(g["score"].mean()), 2)}
              for m, g in alerts.dropna(subset=["score"]).groupby("metric", dropna=False)]  # fmt: skip
    tps = alerts["touchpoint"].dropna().value_counts().head(5)
    examples = []
    for r in alerts.head(DIGEST_EXAMPLES).to_dict("records"):
        comment = redact(r["comment"]) if isinstance(r["comment"], str) and r["comment"] else None
        examples.append({"customer_id": r["customer_id"], "metric": r["metric"],
                         "score": None if r["score"] != r["score"] else float(r["score"]),
                         "touchpoint": r["touchpoint"], "comment": _cut(comment, 200) if comment else None})  # fmt: skip
    digest = {"from": start, "until": until, "alerts": int(len(alerts)),
              "customers": int(alerts["customer_id"].nunique()), "sent_individually": int(info.get("after", 0)),
              "scores": scores, "touchpoints": [{"touchpoint": str(t), "n": int(n)} for t, n in tps.items()],
              "examples": examples}  # fmt: skip
    lines = [" · ".join(x for x in (e["customer_id"] or "anonymous",
                                    f"{(e['metric'] or '').upper()} {e['score']:g}" if e["score"] is not None else "",
                                    e["touchpoint"] or "") if x) + (f": {e['comment']}" if e["comment"] else "")
             for e in examples]  # fmt: skip
    if len(alerts) > len(examples):
        lines.append(f"… and {len(alerts) - len(examples)} more")
    base = _base_url(store)
    ctx.update({"comment": "\n".join(lines) or None, "score": None, "metric": None, "customer_id": None,
                "customer": {"clv": None, "churn_risk": None, "churn_reason": None}, "digest": digest,
                "link": f"{str(base).rstrip('/')}/rules/{quote(ctx['rule'], safe='')}" if base else None,
                "id": delivery_id})  # fmt: skip
    return ctx


def _theme_line(t: dict[str, Any]) -> str:
    """One row of a digest's top themes in words: name, comments, share of the themed and unthemed comments
    (digests sent before the share and name existed have neither) and the count in the period before."""
    share = f" ({100 * t['share']:.0f}%)" if t.get("share") is not None else ""
    return f"{t.get('name') or t['theme']}: {t['n']}{share} (previous period {t['previous_n']})"


def _schedule_context(store: Any, delivery_id: str, row: Any, *, images: bool = False) -> dict[str, Any]:
    """A scheduled digest's context: the report the ``act.schedule`` job computed (in the alert)."""
    ctx = dict(zip(_ALERT_KEYS, row, strict=True))
    report = json.loads(ctx["comment"] or "{}")
    lines = [_theme_line(t) for t in report.get("themes", [])]
    base = _base_url(store)
    ctx.update({"comment": ("Top themes — " + "; ".join(lines)) if lines else None, "score": None, "metric": None,
                "customer_id": None, "customer": {"clv": None, "churn_risk": None, "churn_reason": None},
                "report": report, "link": f"{str(base).rstrip('/')}/" if base else None, "id": delivery_id})  # fmt: skip
    ctx["chart_urls"] = chart_urls(store, ctx) if images and ctx["trigger"] == "schedule" else {}
    return ctx


def chart_urls(store: Any, ctx: dict[str, Any]) -> dict[str, str]:
    """The public image addresses of a scheduled digest's charts (name → URL), through its shared link
    (:func:`cxlens.act.share.digest_chart_token`) — only when the dashboard's base URL is public https
    (Slack and Teams fetch images from the internet; a plain-http or missing base URL gives none)."""
    from cxlens.act.charts import CHARTS
    from cxlens.act.share import digest_chart_token, link_path

    base = _base_url(store)
    if not base or not str(base).lower().startswith("https://"):
        return {}
    report = ctx.get("report") or {}
    names = [n for n in CHARTS if (n == "themes" and report.get("themes")) or
             (n == "kpi" and any(m.get("trend") for m in report.get("metrics", [])))]  # fmt: skip
    if not names:
        return {}
    path = link_path(store, digest_chart_token(store, ctx["alert_id"], ctx["rule"]))
    return {n: f"{str(base).rstrip('/')}{path}/charts/{n}.png" for n in names}


def email_images(ctx: dict[str, Any]) -> list[tuple[str, bytes, str]]:
    """The inline PNG charts of a scheduled digest's e-mail: (Content-ID without brackets, PNG, alt text)."""
    if ctx.get("trigger") != "schedule" or ctx.get("report") is None:
        return []
    from cxlens.act.charts import CHARTS, digest_charts

    return [(f"{name}.{ctx['id']}@cxlens", png, CHARTS[name]) for name, png in digest_charts(ctx["report"]).items()]


def _metric_line(m: dict[str, Any]) -> str:
    """One metric of a scheduled digest: value, CI, n, change and its test."""
    if not m["n"]:
        return "no answers in the period"
    unit = "" if m["metric"] in ("nps", "ces") else "%"
    out = f"{m['value']:g}{unit} (95% CI {m['ci_low']:g} to {m['ci_high']:g}, n = {m['n']:,})"
    if m["previous"] is None:
        return out + "; no answers in the period before"
    sig = "significant" if m["significant"] else "not significant"
    out += f"; {m['delta']:+g} vs {m['previous']:g} (n = {m['previous_n']:,}), {sig} (p = {m['p_value']:.3g})"
    return out + (" — small sample" if m["small_sample"] else "")


def _hhmm(iso: str | None) -> str:
    return (iso or "")[11:16]


def title(ctx: dict[str, Any]) -> str:
    r = ctx.get("report")
    if r is not None:
        last = (dt.date.fromisoformat(r["until"][:10]) - dt.timedelta(days=1)).isoformat()
        span = r["from"][:10] if r["period"] == "day" else f"{r['from'][:10]} to {last}"
        if ctx["trigger"] == "metric":
            m = r["metrics"][0]
            where = "".join(f" {k} {r[k]}" for k in ("touchpoint", "channel", "segment") if r.get(k))
            verb = "rose" if r["direction"] == "up" else "fell"
            return (f"{ctx['rule']}: {m['metric'].upper()}{where} {verb} significantly, {m['previous']:g} → "
                    f"{m['value']:g} ({r['period']} {span}, {r.get('tz', 'UTC')})")  # fmt: skip
        return f"{ctx['rule']}: digest of the {r['period']} {span} ({r.get('tz', 'UTC')})"
    d = ctx.get("digest")
    if d is not None:
        return (f"{ctx['rule']}: {d['alerts']} more alert{'s' if d['alerts'] != 1 else ''} from "
                f"{_hhmm(d['from'])} to {_hhmm(d['until'])} UTC (digest)")  # fmt: skip
    who = ctx["customer_id"] or "an anonymous customer"
    if ctx.get("theme") is not None:
        t = ctx["theme"]
        return f"{ctx['rule']}: theme {t.get('name') or t.get('theme')} is emerging ({t.get('period')} from {(t.get('from') or '')[:10]})"
    if ctx.get("classification") is not None:
        k = ctx["classification"]
        return (f"{ctx['rule']}: {k['source']} from {who}" + (f" — {k['sentiment']}" if k["sentiment"] else "")
                + (f", urgency {k['urgency']}" if k["urgency"] else ""))  # fmt: skip
    if ctx["trigger"] == "frustration":
        return f"{ctx['rule']}: {ctx['comment']} — {who}"
    score = "" if ctx["score"] is None else f" {ctx['score']:g}"
    return f"{ctx['rule']}: {(ctx['metric'] or 'feedback').upper()}{score} from {who}"


def _facts(ctx: dict[str, Any]) -> list[tuple[str, str]]:
    r = ctx.get("report")
    if r is not None:
        out = [(m["metric"].upper(), _metric_line(m)) for m in r["metrics"]]
        if ctx["trigger"] == "metric":
            out += [(k.capitalize(), str(r[k])) for k in ("touchpoint", "channel", "segment") if r.get(k)]
            return [*out, ("Rule", ctx["rule"])]
        oc = r["open_cases"]
        out.append(("Open cases", f"{oc['total']:,} ({oc['overdue']:,} overdue)" + (
            "; " + ", ".join(f"{p} {n}" for p, n in sorted(oc["by_priority"].items())) if oc["by_priority"] else "")))  # fmt: skip
        out.append(("Rule", ctx["rule"]))
        return out
    d = ctx.get("digest")
    if d is not None:
        out = [("Alerts", f"{d['alerts']:,}"), ("Customers", f"{d['customers']:,}"),
               ("Period (UTC)", f"{(d['from'] or '')[:16].replace('T', ' ')} to {_hhmm(d['until'])}"),
               ("Sent one by one first", str(d["sent_individually"]))]  # fmt: skip
        if d["scores"]:
            out.append(("Scores", "; ".join(f"{(s['metric'] or '').upper()} mean {s['mean']:g} (n = {s['n']})"
                                            for s in d["scores"])))  # fmt: skip
        if d["touchpoints"]:
            out.append(("Touchpoints", ", ".join(f"{t['touchpoint']} {t['n']}" for t in d["touchpoints"])))
        out.append(("Rule", ctx["rule"]))
        return out
    if ctx.get("theme") is not None:
        return [("Emerging theme", ctx["comment"] or ""), ("Rule", ctx["rule"])]
    c = ctx["customer"]
    if ctx.get("classification") is not None:
        k = ctx["classification"]
        cls = ", ".join(x for x in (f"sentiment {k['sentiment']}" if k["sentiment"] else "",
                                    f"urgency {k['urgency']}" if k["urgency"] else "",
                                    ("themes " + "; ".join(k["themes"])) if k["themes"] else "",
                                    ("emotions " + "; ".join(k["emotions"])) if k["emotions"] else "",
                                    "high effort" if k["effort"] else "") if x)  # fmt: skip
        out = [("Customer", ctx["customer_id"] or "anonymous"), ("Source", str(k["source"] or "")),
               ("Classification", cls or "none")]  # fmt: skip
        if ctx.get("touchpoint"):
            out.append(("Touchpoint", str(ctx["touchpoint"])))
        if c["clv"] is not None:
            out.append(("Predicted CLV", f"{c['clv']:,.2f}"))
        if c["churn_risk"] is not None:
            out.append(
                ("Churn risk", f"{c['churn_risk']:.0%}" + (f" ({c['churn_reason']})" if c["churn_reason"] else ""))
            )
        return [*out, ("Rule", ctx["rule"])]
    out = [("Customer", ctx["customer_id"] or "anonymous"), ("Score", "" if ctx["score"] is None else
           f"{(ctx['metric'] or '').upper()} {ctx['score']:g}")]  # fmt: skip
    if ctx.get("touchpoint"):
        out.append(("Touchpoint", str(ctx["touchpoint"])))
    if ctx.get("survey_id"):
        out.append(("Survey", str(ctx["survey_id"])))
    if c["clv"] is not None:
        out.append(("Predicted CLV", f"{c['clv']:,.2f}"))
    if c["churn_risk"] is not None:
        out.append(("Churn risk", f"{c['churn_risk']:.0%}" + (f" ({c['churn_reason']})" if c["churn_reason"] else "")))
    out.append(("Rule", ctx["rule"]))
    return out


def webhook_body(ctx: dict[str, Any]) -> dict[str, Any]:
    """The generic webhook's JSON body (:data:`WEBHOOK_SCHEMA`)."""
    return {
        "type": "cxlens.alert", "id": ctx["id"], "alert_id": ctx["alert_id"], "rule": ctx["rule"],
        "rule_version": ctx["rule_version"], "trigger": ctx["trigger"], "customer_id": ctx["customer_id"],
        "feedback_id": ctx["feedback_id"], "metric": ctx["metric"], "score": ctx["score"],
        "comment": ctx["comment"], "touchpoint": ctx["touchpoint"], "survey_id": ctx["survey_id"],
        "answered_at": _iso(ctx["answered_at"]), "created_at": _iso(ctx["created_at"]),
        "customer": ctx["customer"], "link": ctx["link"],
        **({"digest": ctx["digest"]} if ctx.get("digest") is not None else {}),
        **({"report": ctx["report"]} if ctx.get("report") is not None else {}),
        **({"classification": ctx["classification"]} if ctx.get("classification") is not None else {}),
        **({"theme": ctx["theme"]} if ctx.get("theme") is not None else {}),
    }  # fmt: skip


def _slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cut(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def slack_message(ctx: dict[str, Any]) -> dict[str, Any]:
    """A Slack incoming-webhook message: ``text`` fallback plus Block Kit blocks within Slack's limits."""
    head = _cut(title(ctx), SLACK_HEADER)
    fields = [{"type": "mrkdwn", "text": _cut(f"*{k}*\n{_slack_escape(v)}", SLACK_FIELD)} for k, v in _facts(ctx)]
    blocks: list[dict[str, Any]] = [
        {"type": "header", "text": {"type": "plain_text", "text": head, "emoji": False}},
        {"type": "section", "fields": fields[:10]},
    ]
    if ctx["comment"]:
        blocks.append({"type": "section", "text": {"type": "mrkdwn",
                                                   "text": _cut("> " + _slack_escape(ctx["comment"]), SLACK_SECTION)}})  # fmt: skip
    for name, url in (ctx.get("chart_urls") or {}).items():  # Slack fetches the image from the public address
        from cxlens.act.charts import CHARTS

        blocks.append({"type": "image", "image_url": url, "alt_text": CHARTS[name]})
    if ctx["link"]:
        label = ("Open the rule" if ctx.get("digest") is not None else
                 "Open the dashboard" if ctx.get("report") is not None else "Open customer 360")  # fmt: skip
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": label}, "url": ctx["link"]}]})  # fmt: skip
    blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": f"cxlens alert {ctx['id']}"}]})
    return {"text": _cut(head + (f" — {ctx['comment']}" if ctx["comment"] else ""), SLACK_SECTION), "blocks": blocks}


def teams_message(ctx: dict[str, Any]) -> dict[str, Any]:
    """A Teams Workflows webhook message holding one Adaptive Card (1.4)."""
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": title(ctx), "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "FactSet", "facts": [{"title": k, "value": v} for k, v in _facts(ctx)]},
    ]
    if ctx["comment"]:
        body.append({"type": "TextBlock", "text": ctx["comment"], "wrap": True, "isSubtle": True})
    for i, (name, url) in enumerate((ctx.get("chart_urls") or {}).items()):  # after the facts, in order
        from cxlens.act.charts import CHARTS

        body.insert(2 + i, {"type": "Image", "url": url, "altText": CHARTS[name], "size": "Stretch"})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": "1.4", "body": body}  # fmt: skip
    if ctx["link"]:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "Open customer 360", "url": ctx["link"]}]
    msg = {"type": "message", "attachments": [
        {"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": None, "content": card}]}  # fmt: skip
    if len(json.dumps(msg).encode()) > TEAMS_MAX_BYTES:  # only the comment can be long
        body[-1]["text"] = _cut(body[-1]["text"], 2000)
    return msg


def email_message(ctx: dict[str, Any], images: list[tuple[str, str]] | None = None) -> tuple[str, str, str]:
    """(subject, plain text, HTML) of the alert e-mail; ``images`` — (Content-ID, alt text) of inline
    charts the HTML shows (``<img src="cid:…">``, the parts sent beside it: :func:`email_images`)."""
    facts = _facts(ctx)
    text = "\n".join(f"{k}: {v}" for k, v in facts)
    if ctx["comment"]:
        text += f"\n\nComment:\n{ctx['comment']}"
    if ctx["link"]:
        text += f"\n\nCustomer 360: {ctx['link']}"
    text += f"\n\n-- cxlens alert {ctx['id']}\n"
    rows = "".join(f"<tr><th align='left'>{html.escape(k)}</th><td>{html.escape(v)}</td></tr>" for k, v in facts)
    page = f"<h2>{html.escape(title(ctx))}</h2><table>{rows}</table>"
    if ctx["comment"]:
        page += f"<blockquote>{html.escape(ctx['comment'])}</blockquote>"
    for cid, alt in images or []:
        page += (
            f'<p><img src="cid:{html.escape(cid, quote=True)}" alt="{html.escape(alt, quote=True)}" width="560"></p>'
        )
    if ctx["link"]:
        page += f'<p><a href="{html.escape(ctx["link"], quote=True)}">Open the customer 360</a></p>'
    page += f"<p style='color:#888'>cxlens alert {html.escape(ctx['id'])}</p>"
    return "[cxlens] " + title(ctx), text, f"<!doctype html><html><body>{page}</body></html>"


_ZD_PRIORITY = {"urgent": "urgent", "high": "high", "normal": "normal", "low": "low"}
_FD_PRIORITY = {"low": 1, "normal": 2, "high": 3, "urgent": 4}


def zendesk_ticket(ctx: dict[str, Any], priority: str = "normal") -> dict[str, Any]:
    """Body of ``POST /api/v2/tickets.json`` (Zendesk Ticketing API)."""
    _, text, _ = email_message(ctx)
    return {"ticket": {"subject": title(ctx), "comment": {"body": text, "public": False},
                       "priority": _ZD_PRIORITY[priority], "tags": ["cxlens", ctx["rule"]],
                       "external_id": ctx["id"]}}  # fmt: skip


def freshdesk_ticket(ctx: dict[str, Any], priority: str = "normal", email: str | None = None) -> dict[str, Any]:
    """Body of ``POST /api/v2/tickets`` (Freshdesk API v2): status 2 (open), priority 1-4."""
    _, _, page = email_message(ctx)
    out: dict[str, Any] = {"subject": title(ctx), "description": page, "status": 2,
                           "priority": _FD_PRIORITY[priority], "tags": ["cxlens", ctx["rule"]]}  # fmt: skip
    if email:
        out["email"] = email
    else:
        out["unique_external_id"] = ctx["customer_id"] or ctx["id"]
    return out
