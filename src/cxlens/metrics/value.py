"""Order value: revenue, average order value, purchase frequency, repeat rate, historic CLV.

Only orders whose status is not one of :data:`EXCLUDED_STATUSES` (case-insensitive; a missing
status counts) are revenue. AOV and CLV intervals are t intervals of the mean (finished in Python
from the backend's n, mean and sample sd); repeat-purchase rate has a Wilson interval.
"""

from __future__ import annotations

from collections.abc import Iterable

import ibis

from cxlens.metrics.common import By, DateLike, FilterMap, prepare
from cxlens.metrics.stats import MIN_N, wilson_expr

EXCLUDED_STATUSES = ("cancelled", "canceled", "returned", "unavailable")
VALUE_COLUMNS = [
    "orders",
    "customers",
    "revenue",
    "aov",
    "n",
    "sd",
    "aov_ci_low",
    "aov_ci_high",
    "purchase_frequency",
    "repeat_customers",
    "repeat_purchase_rate",
    "repeat_ci_low",
    "repeat_ci_high",
    "small_sample",
]
CLV_COLUMNS = ["clv", "n", "sd", "ci_low", "ci_high", "median", "total", "small_sample"]


def valid_orders(orders: ibis.Table, excluded_statuses: Iterable[str] = EXCLUDED_STATUSES) -> ibis.Table:
    """Orders that count as revenue."""
    ex = [s.lower() for s in excluded_statuses]
    if not ex or "status" not in orders.columns:
        return orders
    return orders.filter(orders.status.isnull() | ~orders.status.lower().isin(ex))


def value_expr(
    orders: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    by: By = None,
    period: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    excluded_statuses: Iterable[str] = EXCLUDED_STATUSES,
    min_n: int = MIN_N,
) -> ibis.Table:
    """Order value per group in one query (a window counts each customer's orders in the group).

    ``n`` is the number of orders (the AOV sample); ``small_sample`` flags ``n < min_n``.
    ``aov_ci_*`` are added by :func:`cxlens.metrics.ces.add_mean_ci`-style finishing in
    :meth:`Metrics.value`.

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> o = ibis.memtable(pd.DataFrame({"ts": pd.Timestamp("2024-01-01"), "customer_id": ["a", "a", "b"],
    ...                                 "amount": [10.0, 20.0, 30.0], "status": ["paid", "paid", "paid"]}))
    >>> value_expr(o).execute()[["orders", "customers", "revenue", "repeat_purchase_rate"]].to_dict("records")
    [{'orders': 3, 'customers': 2, 'revenue': 60.0, 'repeat_purchase_rate': 50.0}]
    """
    t = valid_orders(orders, excluded_statuses)
    t, keys = prepare(
        t, customers=customers, by=by, period=period, start=start, end=end, filters=filters, what="orders"
    )
    t = t.mutate(_cx_k=t.count().over(ibis.window(group_by=[*keys, "customer_id"])))
    agg = t.aggregate(
        orders=t.count(),
        customers=t.customer_id.nunique(),
        revenue=t.amount.sum(),
        aov=t.amount.mean(),
        sd=t.amount.std(how="sample"),
        repeat_customers=t.customer_id.nunique(where=t._cx_k >= 2),
        by=keys,
    )
    low, high = wilson_expr(agg.repeat_customers, agg.customers)
    out = agg.mutate(
        n=agg.orders,
        purchase_frequency=agg.orders / agg.customers.cast("float64"),
        repeat_purchase_rate=100 * agg.repeat_customers / agg.customers.cast("float64"),
        repeat_ci_low=low,
        repeat_ci_high=high,
        small_sample=agg.orders < min_n,
    )
    cols = [c for c in VALUE_COLUMNS if c not in ("aov_ci_low", "aov_ci_high")]
    return out.select(*keys, *cols).order_by(keys) if keys else out.select(*cols)


def clv_expr(
    orders: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    by: By = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    excluded_statuses: Iterable[str] = EXCLUDED_STATUSES,
    min_n: int = MIN_N,
) -> ibis.Table:
    """Historic CLV: revenue to date per customer (customers with ≥ 1 counted order), summarised.

    Columns ``clv`` (mean), ``n`` (customers), ``sd``, ``median`` (exact, interpolated), ``total``;
    only customer dimensions apply. ``ci_*`` are added after execution (t interval).
    """
    o = valid_orders(orders, excluded_statuses)
    if start is not None or end is not None:
        o, _ = prepare(o, start=start, end=end)
    per = o.group_by("customer_id").aggregate(_cx_rev=o.amount.sum())
    t, keys = prepare(per, customers=customers, by=by, filters=filters, what="clv", fact_dims=False)
    agg = t.aggregate(
        n=t.count(),
        clv=t._cx_rev.mean(),
        sd=t._cx_rev.std(how="sample"),
        median=t._cx_rev.median(),
        total=t._cx_rev.sum(),
        by=keys,
    )
    out = agg.mutate(small_sample=agg.n < min_n)
    cols = ["clv", "n", "sd", "median", "total", "small_sample"]
    return out.select(*keys, *cols).order_by(keys) if keys else out.select(*cols)
