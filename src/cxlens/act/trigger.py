"""Feedback rules fire here, in the transaction that inserts the feedback (the outbox).

:func:`on_feedback` is registered with :func:`cxlens.store.hooks.on_insert` for ``feedback``: every
writer of feedback rows (imports, ``ws.load``/``ws.insert``, survey answers from the widget, links
and the API) calls it with the rows it just inserted. For each active feedback rule it selects the
new rows matching the rule's conditions, drops those throttled (one alert per customer per rule per
``window``; answers older than ``max_age`` never fire, so importing last year's file is quiet), and
writes — in the same transaction — one ``act_alerts`` row per firing, one ``act_deliveries`` row and
one ``act.deliver`` job per message action (the job's unique slot is the delivery id: the idempotency
key a receiver sees as ``webhook-id``), and the cases of ``case`` actions. The feedback and its
outbox commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Sequence
from typing import Any

from cxlens.act.cases import create_case
from cxlens.act.rules import DEFAULT_ATTEMPTS, Rule, current_rules, parse_duration
from cxlens.jobs import queue
from cxlens.store import hooks

__all__ = ["KIND", "feedback_where", "fire", "on_feedback"]

#: the job kind that sends one delivery
KIND = "act.deliver"
_FIELDS = ("feedback_id", "customer_id", "metric", "score", "comment", "touchpoint", "survey_id", "ts")
_COLUMN = {"metric": "metric", "touchpoint": "touchpoint", "survey": "survey_id", "channel": "channel",
           "stage": "stage"}  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def feedback_where(conditions: dict[str, Any]) -> tuple[str, list[Any]]:
    """The SQL condition (on alias-free feedback columns) and its parameters for a feedback rule."""
    where, params = ["TRUE"], []
    for key, col in _COLUMN.items():
        if key in conditions:
            vals = conditions[key]
            where.append(f"lower({col}) IN ({', '.join('?' * len(vals))})")
            params += [v.lower() for v in vals]
    score = conditions.get("score")
    if score:
        if "min" in score:
            where.append("score >= ?")
            params.append(score["min"])
        if "max" in score:
            where.append("score <= ?")
            params.append(score["max"])
    comment = conditions.get("comment") or {}
    if comment.get("present") is True:
        where.append("nullif(trim(comment), '') IS NOT NULL")
    elif comment.get("present") is False:
        where.append("nullif(trim(comment), '') IS NULL")
    if comment.get("contains"):
        where.append("(" + " OR ".join("contains(lower(coalesce(comment, '')), ?)" for _ in comment["contains"]) + ")")
        params += comment["contains"]
    return " AND ".join(where), params


def _matches(cur: Any, rule: Rule, select_sql: str, params: Sequence[Any], now: dt.datetime) -> list[dict[str, Any]]:
    where, wparams = feedback_where(rule.conditions)
    rows = cur.execute(
        f"SELECT {', '.join(_FIELDS)} FROM ({select_sql}) f WHERE {where} AND ts >= ? ORDER BY ts, feedback_id",
        [*params, *wparams, now - dt.timedelta(seconds=rule.max_age)],
    ).fetchall()
    return [dict(zip(_FIELDS, r, strict=True)) for r in rows]


def _throttled(cur: Any, rule: Rule, customers: list[str], now: dt.datetime) -> set[str]:
    if not customers or rule.window <= 0:
        return set()
    rows = cur.execute(
        "SELECT DISTINCT customer_id FROM act_alerts WHERE rule = ? AND created_at > ? "
        "AND list_contains(?::VARCHAR[], customer_id)",
        [rule.name, now - dt.timedelta(seconds=rule.window), customers],
    ).fetchall()
    return {r[0] for r in rows}


def fire(store: Any, cur: Any, rule: Rule, row: dict[str, Any], now: dt.datetime, trigger: str = "feedback") -> str:
    """Write one alert of ``rule`` about ``row`` with its deliveries (jobs) and cases; returns the alert id."""
    alert_id = "al_" + secrets.token_hex(8)
    cur.execute(
        "INSERT INTO act_alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [alert_id, rule.name, rule.version, row.get("customer_id"), row.get("feedback_id"), trigger,
         row.get("metric"), row.get("score"), row.get("comment"), row.get("touchpoint"), row.get("survey_id"),
         row.get("ts"), now],
    )  # fmt: skip
    for i, action in enumerate(rule.actions):
        (kind, opts), *_ = action.items()
        if kind == "case":
            create_case(store, customer_id=row.get("customer_id"), team=opts.get("team"),
                        priority=opts.get("priority", "normal"), owner=opts.get("owner"), rule=rule.name,
                        alert_id=alert_id, feedback_id=row.get("feedback_id"),
                        due=parse_duration(opts["due"], "due") if "due" in opts else None, now=now)  # fmt: skip
            continue
        delivery_id = f"{alert_id}.{i}"
        job_id = queue.enqueue(store, KIND, {"delivery_id": delivery_id}, slot=f"act:{delivery_id}",
                               max_attempts=int(opts.get("attempts", DEFAULT_ATTEMPTS)))  # fmt: skip
        cur.execute(
            "INSERT INTO act_deliveries VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', NULL, NULL, NULL, ?)",
            [delivery_id, alert_id, row.get("customer_id"), rule.name, kind, json.dumps(action), job_id, now],
        )
    return alert_id


def on_feedback(store: Any, cur: Any, select_sql: str, params: Sequence[Any]) -> None:
    """The ``feedback`` insert hook: fire the active feedback rules on the rows just inserted."""
    rules = [r for r in current_rules(cur) if r.trigger == "feedback"]
    if not rules:
        return
    now = _now()
    fired = 0
    for rule in rules:
        rows = _matches(cur, rule, select_sql, params, now)
        if not rows:
            continue
        seen = _throttled(cur, rule, sorted({r["customer_id"] for r in rows if r["customer_id"]}), now)
        for row in rows:
            cid = row["customer_id"]
            if cid and rule.window > 0:
                if cid in seen:
                    continue
                seen.add(cid)
            fire(store, cur, rule, row, now)
            fired += 1
    if fired and hasattr(store, "changed"):
        store.changed("act_alerts", "act_deliveries", "act_cases", "act_case_events", "jobs")


hooks.on_insert("feedback", on_feedback)
