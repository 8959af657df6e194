"""Net Promoter Score: share of promoters (9-10) minus share of detractors (0-6), 0-10 scale.

With ``p`` and ``d`` the promoter and detractor proportions among ``n`` answers::

    NPS = 100·(p - d)
    SE  = 100·sqrt(((p + d) - (p - d)²) / n)          (variance of a +1/0/-1 score, divided by n)
    CI  = NPS ± 1.96·SE, clipped to [-100, 100]
"""

from __future__ import annotations

import ibis

from cxlens.metrics.common import By, DateLike, FilterMap, prepare
from cxlens.metrics.stats import MIN_N, Z

PROMOTER_MIN = 9
DETRACTOR_MAX = 6
COLUMNS = [
    "nps",
    "n",
    "promoters",
    "passives",
    "detractors",
    "promoter_share",
    "passive_share",
    "detractor_share",
    "ci_low",
    "ci_high",
    "small_sample",
]


def nps_expr(
    feedback: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    by: By = None,
    period: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    metric: str = "nps",
    min_n: int = MIN_N,
) -> ibis.Table:
    """NPS per group as one aggregate query.

    Parameters
    ----------
    feedback
        The canonical feedback table; rows with ``metric == metric`` and a score are used.
    customers
        The customers table, needed for customer dimensions and ``traits.<key>``.
    by, period, start, end, filters
        See :func:`cxlens.metrics.common.prepare`.
    metric
        ``"nps"`` or ``"enps"`` (any 0-10 likelihood-to-recommend metric).
    min_n
        Groups with ``n < min_n`` get ``small_sample = True``.

    Returns
    -------
    ibis.Table
        Group keys, then :data:`COLUMNS`; shares in percent.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> fb = ibis.memtable(pd.DataFrame({"ts": pd.Timestamp("2024-01-01"), "metric": "nps",
    ...                                  "score": [10, 9, 8, 3], "customer_id": None}))
    >>> nps_expr(fb).execute()[["nps", "n", "promoters"]].to_dict("records")
    [{'nps': 25.0, 'n': 4, 'promoters': 2}]
    """
    t = feedback.filter(feedback.metric == metric, feedback.score.notnull())
    t, keys = prepare(
        t, customers=customers, by=by, period=period, start=start, end=end, filters=filters, what=f"{metric} feedback"
    )
    agg = t.aggregate(
        n=t.count(),
        promoters=(t.score >= PROMOTER_MIN).sum().cast("int64"),
        detractors=(t.score <= DETRACTOR_MAX).sum().cast("int64"),
        by=keys,
    )
    n = agg.n.cast("float64")
    p = agg.promoters / n
    d = agg.detractors / n
    nps = 100 * (p - d)
    se = 100 * (((p + d) - (p - d) * (p - d)) / n).sqrt()
    out = agg.mutate(
        nps=nps,
        passives=agg.n - agg.promoters - agg.detractors,
        promoter_share=100 * p,
        detractor_share=100 * d,
        ci_low=(nps - Z * se).clip(lower=-100),
        ci_high=(nps + Z * se).clip(upper=100),
        small_sample=agg.n < min_n,
    )
    out = out.mutate(passive_share=100 * out.passives / n)
    return out.select(*keys, *COLUMNS).order_by(keys) if keys else out.select(*COLUMNS)
