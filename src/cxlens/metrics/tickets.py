"""Support: response and resolution times, first-contact resolution.

Times are in hours between ``created_at`` and ``first_response_at`` / ``resolved_at``, at
one-second resolution, over tickets that have the later timestamp. Quantiles are exact with linear
interpolation on both DuckDB (``percentile_cont``) and Spark (``percentile``), so the two agree.
``fcr_rate`` is the percent of resolved tickets (``resolved_at`` set) with ``contacts == 1``, with a
Wilson interval over resolved tickets with a known ``contacts``.
"""

from __future__ import annotations

import ibis

from cxlens.metrics.common import By, DateLike, FilterMap, prepare
from cxlens.metrics.stats import MIN_N, wilson_expr

COLUMNS = [
    "n",
    "responded",
    "first_response_median_h",
    "first_response_p90_h",
    "resolved",
    "resolution_median_h",
    "resolution_p90_h",
    "fcr",
    "fcr_n",
    "fcr_rate",
    "ci_low",
    "ci_high",
    "small_sample",
]


def hours_between(later: ibis.Value, earlier: ibis.Value) -> ibis.Value:
    # float numerator: Spark would otherwise divide int by the DECIMAL literal 3600.0 (6 digits)
    # whole seconds on every backend: DuckDB epoch() keeps fractions, Spark unix_timestamp() truncates
    return (later.epoch_seconds().floor().cast("int64") - earlier.epoch_seconds().floor().cast("int64")).cast(
        "float64"
    ) / 3600


def support_expr(
    tickets: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    by: By = None,
    period: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    min_n: int = MIN_N,
) -> ibis.Table:
    """Support KPIs per group (period and date range on ``created_at``), one query.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> tk = ibis.memtable(pd.DataFrame({"created_at": pd.to_datetime(["2024-01-01 00:00"] * 2),
    ...     "first_response_at": pd.to_datetime(["2024-01-01 01:00", "2024-01-01 03:00"]),
    ...     "resolved_at": pd.to_datetime(["2024-01-02 00:00", None]), "contacts": [1, 2], "customer_id": None}))
    >>> support_expr(tk).execute()[["n", "first_response_median_h", "fcr_rate"]].to_dict("records")
    [{'n': 2, 'first_response_median_h': 2.0, 'fcr_rate': 100.0}]
    """
    t, keys = prepare(
        tickets,
        customers=customers,
        by=by,
        period=period,
        start=start,
        end=end,
        filters=filters,
        ts="created_at",
        what="tickets",
    )
    t = t.mutate(
        _cx_frt=hours_between(t.first_response_at, t.created_at), _cx_res=hours_between(t.resolved_at, t.created_at)
    )
    resolved = t.resolved_at.notnull()
    fcr_known = resolved & t.contacts.notnull()
    agg = t.aggregate(
        n=t.count(),
        responded=t.first_response_at.notnull().cast("int64").sum(),
        first_response_median_h=t._cx_frt.quantile(0.5),
        first_response_p90_h=t._cx_frt.quantile(0.9),
        resolved=resolved.cast("int64").sum(),
        resolution_median_h=t._cx_res.quantile(0.5),
        resolution_p90_h=t._cx_res.quantile(0.9),
        fcr=(fcr_known & (t.contacts == 1)).cast("int64").sum(),
        fcr_n=fcr_known.cast("int64").sum(),
        by=keys,
    )
    low, high = wilson_expr(agg.fcr, agg.fcr_n)
    out = agg.mutate(
        fcr_rate=ibis.ifelse(agg.fcr_n > 0, 100 * agg.fcr / agg.fcr_n.cast("float64"), ibis.null("float64")),
        ci_low=ibis.ifelse(agg.fcr_n > 0, low, ibis.null("float64")),
        ci_high=ibis.ifelse(agg.fcr_n > 0, high, ibis.null("float64")),
        small_sample=agg.n < min_n,
    )
    return out.select(*keys, *COLUMNS).order_by(keys) if keys else out.select(*COLUMNS)
