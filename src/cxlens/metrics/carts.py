"""Cart abandonment from events.

A **cart** is a session (``session_id``; when it is missing, the customer — or anonymous id — and
the calendar day) with at least one ``start_event`` (``add_to_cart``). It is **completed** when the
same session has a ``complete_event`` (``purchase``) at or after its first start event, otherwise
**abandoned**. Group dimensions and the period come from the start events: a cart whose start events
fall in two groups (say two touchpoints) counts once in each.

``abandonment_rate = 100·abandoned/carts`` with a Wilson interval.
"""

from __future__ import annotations

import ibis

from cxlens.metrics.common import By, DateLike, FilterMap, prepare
from cxlens.metrics.stats import MIN_N, wilson_expr

COLUMNS = ["abandonment_rate", "carts", "completed", "abandoned", "n", "ci_low", "ci_high", "small_sample"]


def cart_key(events: ibis.Table) -> ibis.Value:
    """``session_id``, else ``customer|day`` (or ``anonymous|day``); null when none is known."""
    who = events.customer_id.cast("string").coalesce(events.anonymous_id.cast("string"))
    day = events.ts.cast("date").cast("string")
    return events.session_id.cast("string").coalesce(ibis.literal("~") + who + "|" + day)


def carts_expr(
    events: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    start_event: str = "add_to_cart",
    complete_event: str = "purchase",
    by: By = None,
    period: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    min_n: int = MIN_N,
) -> ibis.Table:
    """Carts started, completed and abandoned per group (one query).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> ev = ibis.memtable(pd.DataFrame({
    ...     "ts": pd.to_datetime(["2024-01-01 10:00", "2024-01-01 10:05", "2024-01-01 11:00"]),
    ...     "name": ["add_to_cart", "purchase", "add_to_cart"], "session_id": ["s1", "s1", "s2"],
    ...     "customer_id": None, "anonymous_id": None}))
    >>> carts_expr(ev).execute()[["carts", "completed", "abandonment_rate"]].to_dict("records")
    [{'carts': 2, 'completed': 1, 'abandonment_rate': 50.0}]
    """
    ev = events.mutate(_cx_cart=cart_key(events))
    ev = ev.filter(ev._cx_cart.notnull())
    starts = ev.filter(ev.name == start_event)
    starts, keys = prepare(
        starts, customers=customers, by=by, period=period, start=start, end=end, filters=filters, what="events"
    )
    starts = starts.group_by([*keys, "_cx_cart"]).aggregate(_cx_first=starts.ts.min())
    done = ev.filter(ev.name == complete_event)
    done = done.group_by("_cx_cart").aggregate(_cx_last=done.ts.max()).rename(_cx_cart2="_cx_cart")
    j = starts.left_join(done, starts._cx_cart == done._cx_cart2)
    j = j.mutate(_cx_done=(j._cx_last.notnull() & (j._cx_last >= j._cx_first)).cast("int64"))
    agg = j.aggregate(carts=j.count(), completed=j._cx_done.sum(), by=keys)
    abandoned = agg.carts - agg.completed
    low, high = wilson_expr(abandoned, agg.carts)
    out = agg.mutate(
        abandonment_rate=100 * abandoned / agg.carts.cast("float64"),
        abandoned=abandoned,
        n=agg.carts,
        ci_low=low,
        ci_high=high,
        small_sample=agg.carts < min_n,
    )
    return out.select(*keys, *COLUMNS).order_by(keys) if keys else out.select(*COLUMNS)
