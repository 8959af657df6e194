"""Customer satisfaction: the share of 4-5 answers on a 1-5 scale, with a Wilson interval."""

from __future__ import annotations

import ibis

from cxlens.metrics.common import By, DateLike, FilterMap, prepare
from cxlens.metrics.stats import MIN_N, wilson_expr

SATISFIED_MIN = 4
COLUMNS = ["csat", "n", "satisfied", "ci_low", "ci_high", "mean_score", "small_sample"]


def csat_expr(
    feedback: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    by: By = None,
    period: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    metric: str = "csat",
    satisfied_min: float = SATISFIED_MIN,
    min_n: int = MIN_N,
) -> ibis.Table:
    """CSAT per group: ``csat = 100·satisfied/n`` with a Wilson 95% interval (percent).

    Parameters
    ----------
    satisfied_min
        Lowest score counted as satisfied (4 on the 1-5 scale).

    Other parameters are those of :func:`cxlens.metrics.nps.nps_expr`.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> fb = ibis.memtable(pd.DataFrame({"ts": pd.Timestamp("2024-01-01"), "metric": "csat",
    ...                                  "score": [5, 4, 2, 1], "customer_id": None}))
    >>> csat_expr(fb).execute()[["csat", "n", "satisfied", "mean_score"]].to_dict("records")
    [{'csat': 50.0, 'n': 4, 'satisfied': 2, 'mean_score': 3.0}]
    """
    t = feedback.filter(feedback.metric == metric, feedback.score.notnull())
    t, keys = prepare(
        t, customers=customers, by=by, period=period, start=start, end=end, filters=filters, what=f"{metric} feedback"
    )
    agg = t.aggregate(
        n=t.count(),
        satisfied=(t.score >= satisfied_min).sum().cast("int64"),
        mean_score=t.score.mean(),
        by=keys,
    )
    low, high = wilson_expr(agg.satisfied, agg.n)
    out = agg.mutate(
        csat=100 * agg.satisfied / agg.n.cast("float64"), ci_low=low, ci_high=high, small_sample=agg.n < min_n
    )
    return out.select(*keys, *COLUMNS).order_by(keys) if keys else out.select(*COLUMNS)
