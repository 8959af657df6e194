"""Customer triggers: a customer crossing a churn-risk or CLV threshold when the model scores are refreshed.

A rule ``when: {customer: {churn_risk: {min: 0.7}}}`` (or ``clv: {min: 1000}``, or both — every
condition must hold; a bare number is a minimum) fires for each customer who *enters* its band: the
band holds now (``customer_scores``, written by the ``models.fit`` job) and did not at the previous
scoring. ``act_score_state`` keeps, per rule, who was inside the band at the last pass.

The ``act.scores`` job does it; the job runner queues it whenever ``customer_scores`` changes (a
refresh task over that table), so it runs once per scoring. Its alerts, deliveries, cases and the
new band state are written in the transaction that completes the job: a job killed half-way fires
nothing and runs again; a finished one never fires twice. A rule's first pass (the rule is new, or
was changed) only records who is inside the band — loading a rule does not alert on every customer
already at risk. The alert's ``metric`` is ``churn_risk`` or ``clv`` and its ``score`` the value that
crossed; the per-customer ``window`` throttle applies as for feedback rules.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pandas as pd

from cxlens.act.rules import Rule, current_rules
from cxlens.act.trigger import fire_many, throttled
from cxlens.jobs import JobContext, task
from cxlens.schema.ddl_act import DDL as ACT_DDL

__all__ = ["KIND", "band_where", "customers_in_band", "scores_pass"]

#: the job kind that checks the customer rules after a scoring
KIND = "act.scores"
_STATE_DDL = next(d for d in ACT_DDL if "act_score_state" in d)  # (made by a schema migration too)


def band_where(conditions: dict[str, Any]) -> tuple[str, list[Any]]:
    """The SQL condition on ``customer_scores`` columns for a customer rule's band."""
    where, params = [], []
    for col in ("churn_risk", "clv"):
        band = conditions.get(col)
        if not band:
            continue
        if "min" in band:
            where.append(f"{col} >= ?")
            params.append(band["min"])
        if "max" in band:
            where.append(f"{col} <= ?")
            params.append(band["max"])
    return " AND ".join(where) or "FALSE", params


def _metric(rule: Rule) -> str:
    return "churn_risk" if "churn_risk" in rule.conditions else "clv"


def customers_in_band(store: Any, rule: Rule, limit: int | None = None) -> pd.DataFrame:
    """The customers inside ``rule``'s band now (``customer_id, clv, churn_risk``), highest first."""
    where, params = band_where(rule.conditions)
    order = _metric(rule)
    lim = f" LIMIT {int(limit)}" if limit else ""
    return store.read(f"SELECT customer_id, clv, churn_risk FROM customer_scores WHERE {where} "
                      f"ORDER BY {order} DESC, customer_id{lim}", params)  # fmt: skip


def scores_pass(store: Any, cur: Any, now: dt.datetime | None = None) -> dict[str, int]:
    """Fire the active customer rules on the customers who entered their bands since the last pass and
    record the new bands (inside the caller's transaction); returns the firings per rule."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cur.execute(_STATE_DDL)
    rules = [r for r in current_rules(cur) if r.trigger == "customer"]
    # rules gone, paused or changed (a new version) lose their state: they start with a silent pass again
    cur.execute("DELETE FROM act_score_state WHERE NOT list_contains(?::VARCHAR[], rule)",
                [[f"{r.name}@{r.version}" for r in rules]])  # fmt: skip
    fired: dict[str, int] = {}
    firings: list[tuple[Rule, dict[str, Any]]] = []
    for rule in rules:
        key = f"{rule.name}@{rule.version}"
        where, params = band_where(rule.conditions)
        metric = _metric(rule)
        inside = cur.execute(f"SELECT customer_id, {metric} FROM customer_scores WHERE {where} ORDER BY customer_id",
                             params).fetchall()  # fmt: skip
        baselined = cur.execute("SELECT 1 FROM act_score_state WHERE rule = ? AND customer_id IS NULL",
                                [key]).fetchone() is not None  # fmt: skip
        before = {r[0] for r in cur.execute("SELECT customer_id FROM act_score_state WHERE rule = ? "
                                            "AND customer_id IS NOT NULL", [key]).fetchall()}  # fmt: skip
        cur.execute("DELETE FROM act_score_state WHERE rule = ?", [key])
        rows = [[key, c, None if v is None else float(v), now] for c, v in inside]
        rows.append([key, None, None, now])  # the rule has had its first pass
        cur.execute("INSERT INTO act_score_state SELECT * FROM (VALUES "
                    + ", ".join(["(?, ?, ?::DOUBLE, ?::TIMESTAMP)"] * len(rows)) + ")",
                    [v for r in rows for v in r])  # fmt: skip
        if not baselined:
            continue
        entered = [(c, v) for c, v in inside if c not in before]
        seen = throttled(cur, rule, sorted(c for c, _ in entered), now)
        for c, v in entered:
            if c in seen:
                continue
            if rule.window > 0:
                seen.add(c)
            firings.append((rule, {"customer_id": c, "metric": metric, "score": None if v is None else float(v),
                                   "ts": now, "feedback_id": None, "comment": None, "touchpoint": None,
                                   "survey_id": None}))  # fmt: skip
            fired[rule.name] = fired.get(rule.name, 0) + 1
    if firings:
        fire_many(store, cur, firings, now, trigger="customer")
        store.changed("act_alerts", "act_deliveries", "act_cases", "act_case_events", "jobs")
    return fired


@task(KIND, tables=("customer_scores",), max_attempts=5, lease=120.0)
def check_scores(ctx: JobContext) -> dict[str, Any]:
    """After each scoring: fire the customer rules on the customers who crossed their thresholds."""
    ctx.write(lambda cur: scores_pass(ctx.store, cur), changes=["act_score_state"])
    ctx.save_result(KIND, tables=["customer_scores"], meta={})
    return {"status": "checked"}
