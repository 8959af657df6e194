"""Customer effort (CES, mean of a 1-7 score) and mean ratings, with t intervals.

The backend returns ``n``, the mean and the sample standard deviation per group; the 95% interval
``mean ± t(0.975, n-1)·sd/sqrt(n)`` is finished in Python on that small result
(:func:`add_mean_ci`) because SQL engines have no t quantile. Groups with ``n < 2`` get NaN bounds.
"""

from __future__ import annotations

import ibis
import pandas as pd

from cxlens.metrics.common import By, DateLike, FilterMap, prepare
from cxlens.metrics.stats import MIN_N, mean_ci

EASY_MIN = 5
CES_COLUMNS = ["ces", "n", "sd", "ci_low", "ci_high", "share_easy", "small_sample"]
RATING_COLUMNS = ["rating", "n", "sd", "ci_low", "ci_high", "small_sample"]


def _mean_expr(feedback, metric, value_name, customers, by, period, start, end, filters, min_n, extra=None):
    t = feedback.filter(feedback.metric == metric, feedback.score.notnull())
    t, keys = prepare(
        t, customers=customers, by=by, period=period, start=start, end=end, filters=filters, what=f"{metric} feedback"
    )
    aggs = {"n": t.count(), value_name: t.score.mean(), "sd": t.score.std(how="sample")}
    if extra:
        aggs.update(extra(t))
    out = t.aggregate(by=keys, **aggs)
    out = out.mutate(small_sample=out.n < min_n)
    return out.order_by(keys) if keys else out, keys


def ces_expr(
    feedback: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    by: By = None,
    period: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    metric: str = "ces",
    easy_min: float = EASY_MIN,
    min_n: int = MIN_N,
) -> ibis.Table:
    """CES per group: ``n``, ``ces`` (mean score), ``sd``, ``share_easy`` (% of scores ≥ 5).

    The interval columns are added by :func:`add_mean_ci` after execution.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> fb = ibis.memtable(pd.DataFrame({"ts": pd.Timestamp("2024-01-01"), "metric": "ces",
    ...                                  "score": [7, 5, 3, 1], "customer_id": None}))
    >>> add_mean_ci(ces_expr(fb).execute(), "ces")[["ces", "n", "share_easy"]].to_dict("records")
    [{'ces': 4.0, 'n': 4, 'share_easy': 50.0}]
    """
    expr, _ = _mean_expr(
        feedback,
        metric,
        "ces",
        customers,
        by,
        period,
        start,
        end,
        filters,
        min_n,
        extra=lambda t: {"share_easy": 100 * (t.score >= easy_min).cast("float64").mean()},
    )
    return expr


def rating_expr(
    feedback: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    by: By = None,
    period: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    metric: str = "rating",
    min_n: int = MIN_N,
) -> ibis.Table:
    """Mean rating per group (``n``, ``rating``, ``sd``); intervals via :func:`add_mean_ci`."""
    expr, _ = _mean_expr(feedback, metric, "rating", customers, by, period, start, end, filters, min_n)
    return expr


def add_mean_ci(df: pd.DataFrame, value: str) -> pd.DataFrame:
    """Add ``ci_low``/``ci_high`` (t interval of the mean in column ``value``) to an executed result."""
    df = df.copy()
    df["ci_low"], df["ci_high"] = mean_ci(df[value], df["sd"], df["n"])
    return df
