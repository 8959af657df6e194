"""Per-survey results: the metric's trend with confidence intervals, the answer breakdown, comments.

Metrics come from ``ws.metrics`` filtered on ``survey_id``, so they match every other view of
the same feedback (and use the rollup fast path).
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxlens.metrics import Metrics
from cxlens.schema.pii import current_policy
from cxlens.store import Store
from cxlens.surveys.store import get_survey

__all__ = ["survey_results"]

#: survey metric → (ws.metrics method, its value column)
_METRIC_CALL = {"nps": ("nps", "nps"), "enps": ("nps", "nps"), "csat": ("csat", "csat"), "ces": ("ces", "ces"),
                "rating": ("rating", "rating")}  # fmt: skip


def survey_results(ws: Store, survey_id: str, *, period: str = "month", comments: int = 50) -> dict[str, Any]:
    """Everything the results page and ``cxlens survey results`` show for one survey.

    Returns
    -------
    dict
        ``survey`` (definition), ``overall`` and ``trend`` (DataFrames from ``ws.metrics``; None
        for choice/text surveys), ``value_column``, ``breakdown`` (DataFrame: group, n, share in
        percent — promoters/passives/detractors for NPS, else one row per score or option),
        ``counts`` (impressions, dismissals, responses, partial, response_rate) and ``comments``
        (latest first: ts, score, comment, customer_id; the comment redacted for a caller who sees
        PII masked, :mod:`cxlens.schema.pii`).
    """
    d = get_survey(ws, survey_id)
    filters = {"survey_id": survey_id}
    overall = trend = None
    value = None
    if d.metric in _METRIC_CALL:
        method, value = _METRIC_CALL[d.metric]
        fn = getattr(Metrics(ws), method)
        overall = fn(filters=filters, metric=d.metric)
        trend = fn(period=period, filters=filters, metric=d.metric)
    scores = ws.read(
        "SELECT score, count(*)::BIGINT AS n FROM feedback WHERE survey_id = ? AND score IS NOT NULL "
        "GROUP BY score ORDER BY score",
        [survey_id],
    )
    total = int(scores["n"].sum()) if len(scores) else 0
    if d.metric in ("nps", "enps"):
        groups = {"promoters": scores[scores.score >= 9].n.sum(), "passives": scores[scores.score.between(7, 8)].n.sum(),
                  "detractors": scores[scores.score <= 6].n.sum()}  # fmt: skip
        breakdown = pd.DataFrame({"group": list(groups), "n": [int(v) for v in groups.values()]})
    elif d.metric == "choice":
        counts = dict(zip(scores.score.astype(int), scores.n, strict=True))
        breakdown = pd.DataFrame(
            {"group": list(d.options), "n": [int(counts.get(i + 1, 0)) for i in range(len(d.options))]}
        )
    else:
        lo, hi = d.scale or (0, -1)
        counts = dict(zip(scores.score.astype(int), scores.n, strict=True))
        breakdown = pd.DataFrame({"group": [str(s) for s in range(lo, hi + 1)],
                                  "n": [int(counts.get(s, 0)) for s in range(lo, hi + 1)]})  # fmt: skip
    breakdown["share"] = 100.0 * breakdown["n"] / total if total else 0.0
    ex = ws.read(
        "SELECT kind, count(*)::BIGINT AS n FROM survey_exposures WHERE survey_id = ? GROUP BY kind", [survey_id]
    )
    exposures = dict(zip(ex.kind, ex.n, strict=True))
    resp = ws.read(
        "SELECT count(*) FILTER (WHERE feedback_id IS NOT NULL) AS answered, "
        "count(*) FILTER (WHERE feedback_id IS NULL) AS partial FROM survey_responses WHERE survey_id = ?",
        [survey_id],
    ).iloc[0]
    impressions = int(exposures.get("impression", 0))
    counts_out = {
        "impressions": impressions,
        "dismissals": int(exposures.get("dismiss", 0)),
        "responses": int(resp["answered"]),
        "partial": int(resp["partial"]),
        "response_rate": (100.0 * int(resp["answered"]) / impressions) if impressions else None,
    }
    latest = ws.read(
        "SELECT ts, score, comment, customer_id FROM feedback WHERE survey_id = ? AND comment IS NOT NULL "
        "ORDER BY ts DESC, feedback_id LIMIT ?",
        [survey_id, comments],
    )
    latest["comment"] = current_policy().texts(latest["comment"])
    return {"survey": d, "overall": overall, "trend": trend, "value_column": value, "breakdown": breakdown,
            "counts": counts_out, "comments": latest}  # fmt: skip
