"""Churn and retention.

**Activity** is any order (whatever its status) or any event with a ``customer_id``.
A customer is *active at instant t* when they have activity in ``[t - D, t)``, with
``D = inactivity_days``. For each period ``[P, P_next)``:

- **at risk (n)**: customers active at ``P`` and not already churned (``churned_at`` is null or
  ``>= P``);
- **churned**: of those, customers with a known ``churned_at`` in ``[P, P_next)``; and customers
  without ``churned_at`` who are *not active at the period's end* ``E`` — no activity in
  ``[E - D, E)`` — i.e. they went quiet during the period and did not come back before it ended.
  ``E = min(P_next, as_of)``, where ``as_of`` defaults to midnight after the last activity, so the
  current, incomplete period is measured so far (``complete`` is false on it).

``churn_rate = 100·churned/n`` with a Wilson interval. Customers with a ``churned_at`` are judged by
it alone. Only customer dimensions (segment, plan, country, traits.<key>) apply.

**Retention** puts each customer in the cohort of the period of their first counted order;
``retained`` at ``period_index`` k is how many of the cohort ordered in the k-th period after it.
"""

from __future__ import annotations

import ibis
import pandas as pd

from cxlens.metrics.common import (
    PERIOD_COL,
    By,
    DateLike,
    FilterMap,
    period_expr,
    period_offset,
    period_ordinal,
    period_start,
    prepare,
)
from cxlens.metrics.stats import MIN_N, wilson, wilson_expr
from cxlens.metrics.value import EXCLUDED_STATUSES, valid_orders

CHURN_COLUMNS = ["churn_rate", "n", "churned", "ci_low", "ci_high", "complete", "small_sample"]
RETENTION_COLUMNS = ["cohort", "period_index", "customers", "retained", "retention_rate", "ci_low", "ci_high"]


def activity_expr(orders: ibis.Table | None, events: ibis.Table | None) -> ibis.Table:
    """``(customer_id, ts)`` of every order and every event with a customer."""
    parts = []
    if orders is not None:
        parts.append(orders.filter(orders.customer_id.notnull()).select("customer_id", "ts"))
    if events is not None:
        parts.append(events.filter(events.customer_id.notnull()).select("customer_id", "ts"))
    out = parts[0]
    for p in parts[1:]:
        out = out.union(p, distinct=False)
    return out


def churn_periods(
    first: DateLike,
    last: DateLike,
    period: str,
    inactivity_days: int,
    *,
    as_of: DateLike = None,
    start: DateLike = None,
    end: DateLike = None,
) -> pd.DataFrame:
    """The periods churn is measured over, with their window bounds (small, built in Python).

    ``first``/``last`` are the first and last activity timestamps.
    """
    as_of_ts = pd.Timestamp(as_of) if as_of is not None else pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    p = period_start(first, period)
    rows = []
    D = pd.Timedelta(days=inactivity_days)
    while p < as_of_ts:
        nxt = p + period_offset(period)
        e = min(nxt, as_of_ts)
        if (start is None or p >= pd.Timestamp(start)) and (end is None or p < pd.Timestamp(end)):
            rows.append(
                {
                    "_cx_period": p.date(),
                    "_cx_p": p.to_pydatetime(),
                    "_cx_p_lb": (p - D).to_pydatetime(),
                    "_cx_next": nxt.to_pydatetime(),
                    "_cx_e": e.to_pydatetime(),
                    "_cx_e_lb": (e - D).to_pydatetime(),
                    "_cx_complete": bool(nxt <= as_of_ts),
                }
            )
        p = nxt
    return pd.DataFrame(
        rows, columns=["_cx_period", "_cx_p", "_cx_p_lb", "_cx_next", "_cx_e", "_cx_e_lb", "_cx_complete"]
    )


def churn_expr(
    activity: ibis.Table,
    customers: ibis.Table | None,
    periods: ibis.Table,
    *,
    by: By = None,
    filters: FilterMap = None,
    min_n: int = MIN_N,
) -> ibis.Table:
    """Churn per period (and customer dimension) as one query.

    Parameters
    ----------
    activity
        ``(customer_id, ts)`` rows, e.g. from :func:`activity_expr`.
    customers
        The customers table (``churned_at`` and dimensions); may be ``None``.
    periods
        Table shaped like :func:`churn_periods`' output.
    """
    a, P = activity, periods
    start_active = a.join(P, [a.ts >= P._cx_p_lb, a.ts < P._cx_p]).select("customer_id", "_cx_period").distinct()
    end_active = (
        a.join(P, [a.ts >= P._cx_e_lb, a.ts < P._cx_e])
        .select(_cx_cid2="customer_id", _cx_period2="_cx_period")
        .distinct()
        .mutate(_cx_end_active=True)
    )
    base = start_active.join(P, "_cx_period")
    base = base.left_join(
        end_active, [base.customer_id == end_active._cx_cid2, base._cx_period == end_active._cx_period2]
    )
    if customers is not None and "churned_at" in customers.columns:
        ch = customers.select(_cx_cid3="customer_id", _cx_churned_at="churned_at")
        base = base.left_join(ch, base.customer_id == ch._cx_cid3)
        churned_at = base._cx_churned_at
    else:
        churned_at = ibis.null("timestamp")
        base = base.mutate(_cx_churned_at=churned_at)
        churned_at = base._cx_churned_at
    base = base.filter(churned_at.isnull() | (churned_at >= base._cx_p))
    base = base.mutate(
        _cx_churned=ibis.ifelse(
            base._cx_churned_at.notnull(), base._cx_churned_at < base._cx_next, base._cx_end_active.isnull()
        ),
        period=base._cx_period,
    )
    base = base.select("customer_id", "period", "_cx_churned", "_cx_complete")
    t, keys = prepare(base, customers=customers, by=by, filters=filters, what="churn", fact_dims=False)
    keys = keys + [PERIOD_COL]
    agg = t.aggregate(n=t.count(), churned=t._cx_churned.cast("int64").sum(), complete=t._cx_complete.min(), by=keys)
    low, high = wilson_expr(agg.churned, agg.n)
    out = agg.mutate(
        churn_rate=100 * agg.churned / agg.n.cast("float64"), ci_low=low, ci_high=high, small_sample=agg.n < min_n
    )
    return out.select(*keys, *CHURN_COLUMNS).order_by(keys)


def retention_expr(
    orders: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    period: str = "month",
    by: By = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    excluded_statuses=EXCLUDED_STATUSES,
) -> ibis.Table:
    """Customers of each first-order cohort ordering again k periods later (one query).

    Returns ``by…, cohort, period_index, retained``; :func:`finish_retention` adds the cohort
    size, zero cells and rates.
    """
    o = valid_orders(orders, excluded_statuses)
    if start is not None or end is not None:
        o, _ = prepare(o, start=start, end=end)
    o = o.mutate(_cx_pd=period_expr(o.ts, period))
    o = o.mutate(_cx_ord=period_ordinal(o._cx_pd, period))
    per = o.group_by("customer_id", "_cx_pd", "_cx_ord").aggregate()
    w = ibis.window(group_by="customer_id")
    per = per.mutate(cohort=per._cx_pd.min().over(w), _cx_first=per._cx_ord.min().over(w))
    per = per.mutate(period_index=(per._cx_ord - per._cx_first).cast("int64"))
    t, keys = prepare(per, customers=customers, by=by, filters=filters, what="retention", fact_dims=False)
    gk = keys + ["cohort", "period_index"]
    return t.aggregate(retained=t.customer_id.nunique(), by=gk).order_by(gk)


def finish_retention(df: pd.DataFrame, keys: list[str], period: str, last: DateLike) -> pd.DataFrame:
    """Add cohort sizes, zero-retention cells up to the last period, rates and Wilson intervals."""
    cols = keys + RETENTION_COLUMNS
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df.copy()
    df["cohort"] = pd.to_datetime(df["cohort"]).astype("datetime64[s]")
    last_p = period_start(last, period)
    rows = []
    for gkey, g in df.groupby(keys + ["cohort"], dropna=False, sort=False):
        gkey = gkey if isinstance(gkey, tuple) else (gkey,)
        size = int(g.loc[g["period_index"] == 0, "retained"].sum())
        got = dict(zip(g["period_index"].astype(int), g["retained"].astype(int), strict=True))
        k, p = 0, pd.Timestamp(gkey[-1])
        while p <= last_p:
            rows.append((*gkey, k, size, got.get(k, 0)))
            k += 1
            p = pd.Timestamp(gkey[-1]) + period_offset(period, k)
    out = pd.DataFrame(rows, columns=keys + ["cohort", "period_index", "customers", "retained"])
    out["retention_rate"] = 100 * out["retained"] / out["customers"]
    out["ci_low"], out["ci_high"] = wilson(out["retained"], out["customers"])
    out["cohort"] = out["cohort"].astype("datetime64[s]")
    return out[cols]
