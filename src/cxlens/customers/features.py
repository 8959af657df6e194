"""Per-customer behaviour, feedback and support features at a point in time, built by the backend.

:func:`customer_features_expr` is ONE Ibis expression (executed once by :func:`customer_features`)
with one row per customer *known at* ``as_of``: created before it (or with no ``created_at``) and
not already lost (``churned_at`` null or after ``as_of``). Only rows strictly before ``as_of`` are
read, so the features are what was knowable at that instant; ``churned_at`` is used for nothing
else. Tickets are judged by their timestamps, never by ``status`` (today's status would leak the
future): a ticket is *open at* ``as_of`` when it was created before it and not resolved before it.

Columns (windows are half-open ``[as_of - d, as_of)``; the lookback is ``lookback_days``):

====================== ==================================================================
recency_days           days since the last activity (any order or event) before ``as_of``; null if none
frequency              counted orders in the lookback (cancelled/returned excluded, as in metrics)
monetary               revenue of those orders
tenure_days            days since ``created_at`` (or the first activity when it is missing)
events_30d, events_90d events in the last 30 / 90 days
touchpoints            distinct event touchpoints in the lookback
nps_answers            NPS answers ever (before ``as_of``)
last_nps               the latest NPS score; null if none
nps_trend              mean of the 2 latest NPS answers minus the mean of the earlier ones
                       (null with fewer than 3 answers); negative = getting worse
detractor              1 when ``last_nps <= 6`` else 0
csat_mean              mean CSAT in the lookback; null if none
negative_comments      comments in the lookback on an NPS answer <= 6 or a CSAT answer <= 2
                       (score-based until the sentiment model lands)
open_tickets           tickets open at ``as_of``
tickets_90d            tickets created in the last 90 days
first_response_median_h median hours to first response over the lookback's tickets answered before ``as_of``
cart_abandonments      sessions in the lookback with ``add_to_cart`` and no ``purchase``
drop_offs              sessions in the lookback with ``checkout`` and no ``purchase``
segment, plan, country the customer's traits (``traits.<key>`` too, when asked for)
====================== ==================================================================

With ``behaviour=True`` (:func:`has_behaviour`: the workspace has browser-SDK behaviour events
before ``as_of``), also :data:`BEHAVIOUR_FEATURES`, over the last :data:`BEHAVIOUR_DAYS` days
``[as_of - 90 d, as_of)`` (:func:`behaviour_features_expr`):

====================== ==================================================================
rage_clicks …          ``$rageclick``, ``$deadclick``, ``$errorclick``, ``$quickback`` and
excessive_scrolls      ``$excessive_scroll`` events (cxlens.behaviour.analyses.SIGNALS)
web_sessions           distinct sessions with a page view
frustration_score      the behaviour score per session (cxlens.behaviour.analyses.WEIGHTS:
                       3·rage + 2·dead + 3·error + quick backs + excessive scrolls) summed,
                       ÷ ``web_sessions`` (0 without sessions)
====================== ==================================================================

Day counts are whole seconds / 86,400 (the fraction of a second is dropped on every backend: Spark's
``unix_timestamp`` has no sub-second part), so DuckDB and Spark build the same table.
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import pandas as pd

from cxlens.behaviour.analyses import SIGNALS, WEIGHTS
from cxlens.errors import NotFoundError
from cxlens.metrics.common import DateLike, backend_name, json_text, ts_literal
from cxlens.metrics.tickets import hours_between
from cxlens.metrics.value import EXCLUDED_STATUSES, valid_orders

__all__ = [
    "BEHAVIOUR_DAYS",
    "BEHAVIOUR_FEATURES",
    "COUNT_FEATURES",
    "FEATURE_COLUMNS",
    "NUMERIC_FEATURES",
    "TRAIT_COLUMNS",
    "behaviour_features_expr",
    "customer_features",
    "customer_features_expr",
    "data_range",
    "has_behaviour",
    "trait_frame",
]

#: counts filled with 0 when a customer has no rows
COUNT_FEATURES = [
    "frequency",
    "monetary",
    "events_30d",
    "events_90d",
    "touchpoints",
    "nps_answers",
    "detractor",
    "negative_comments",
    "open_tickets",
    "tickets_90d",
    "cart_abandonments",
    "drop_offs",
]
NUMERIC_FEATURES = [
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "events_30d",
    "events_90d",
    "touchpoints",
    "nps_answers",
    "last_nps",
    "nps_trend",
    "detractor",
    "csat_mean",
    "negative_comments",
    "open_tickets",
    "tickets_90d",
    "first_response_median_h",
    "cart_abandonments",
    "drop_offs",
]
#: behaviour features (browser-SDK signals), added when the workspace has behaviour data
BEHAVIOUR_FEATURES = [*SIGNALS, "web_sessions", "frustration_score"]
#: their window: the last 90 days before the cutoff
BEHAVIOUR_DAYS = 90
TRAIT_COLUMNS = ["segment", "plan", "country"]
FEATURE_COLUMNS = ["customer_id", *NUMERIC_FEATURES, *TRAIT_COLUMNS]

_DAY = 86400.0


def _table(ws, name: str) -> ibis.Table | None:
    try:
        return ws.table(name)
    except NotFoundError:
        return None


def _seconds(ts: ibis.Value) -> ibis.Value:
    # whole seconds on every backend: DuckDB's epoch keeps the fraction, Spark's unix_timestamp drops it
    return ts.epoch_seconds().floor().cast("float64")


def _days(later: ibis.Value, earlier: ibis.Value) -> ibis.Value:
    """Days between two timestamps, counted in whole seconds (so DuckDB and Spark agree to the last bit)."""
    return (_seconds(later) - _seconds(earlier)) / _DAY


def has_behaviour(ws, before: DateLike = None) -> bool:
    """Whether ``events`` holds browser-SDK behaviour events (clicks, scroll depths, signals) before ``before``."""
    events = _table(ws, "events")
    if events is None:
        return False
    e = events.filter(events.name.isin(["$click", "$scroll_depth", *SIGNALS.values()]))
    if before is not None:
        e = e.filter(e.ts < ts_literal(before))
    return int(ws.read(e.limit(1).count())) > 0


def behaviour_features_expr(events: ibis.Table, start: ibis.Value | None, end: ibis.Value | None) -> ibis.Table:
    """Per customer, :data:`BEHAVIOUR_FEATURES` over the events in ``[start, end)`` (either end open
    when ``None``); customers with no signal and no page view in it have no row."""
    e = events.filter(events.customer_id.notnull(), events.name.isin(list(SIGNALS.values())) | (events.type == "page"))
    if start is not None:
        e = e.filter(e.ts >= start)
    if end is not None:
        e = e.filter(e.ts < end)
    agg = e.group_by("customer_id").aggregate(
        web_sessions=e.session_id.nunique(where=e.type == "page"),
        **{k: e.count(where=(e.type != "page") & (e.name == v)) for k, v in SIGNALS.items()},
    )
    score = sum(agg[k].cast("float64") * w for k, w in WEIGHTS.items())
    return agg.mutate(
        frustration_score=ibis.ifelse(agg.web_sessions > 0, score / agg.web_sessions.cast("float64"), 0.0)
    )


def customer_features_expr(
    ws,
    as_of: DateLike,
    *,
    lookback_days: int = 365,
    traits: Sequence[str] = (),
    excluded_statuses: Sequence[str] = EXCLUDED_STATUSES,
    behaviour: bool = False,
) -> ibis.Table:
    """The features of every customer known at ``as_of`` as one Ibis expression (see the module doc).

    Parameters
    ----------
    ws
        A :class:`~cxlens.workspace.Workspace` (any backend).
    as_of
        The instant the features describe; rows at or after it are ignored.
    lookback_days
        Window of the frequency, monetary, touchpoint, CSAT, comment, response-time and session features.
    traits
        Keys of ``customers.traits`` to add as ``traits.<key>`` columns (as text).
    """
    t0 = ts_literal(as_of)
    lb = ts_literal(pd.Timestamp(as_of) - pd.Timedelta(days=lookback_days))
    d30 = ts_literal(pd.Timestamp(as_of) - pd.Timedelta(days=30))
    d90 = ts_literal(pd.Timestamp(as_of) - pd.Timedelta(days=90))

    cu = ws.table("customers")
    known = cu.filter((cu.created_at.isnull() | (cu.created_at < t0)) & (cu.churned_at.isnull() | (cu.churned_at > t0)))
    cols: dict[str, ibis.Value] = {"customer_id": known.customer_id, "_cx_created": known.created_at}
    for c in TRAIT_COLUMNS:
        cols[c] = known[c]
    backend = backend_name(cu)
    for k in traits:
        cols[f"traits__{k}"] = json_text(known.traits, k, backend)
    base = known.select(**cols)

    parts: list[ibis.Table] = []
    orders, events = _table(ws, "orders"), _table(ws, "events")
    feedback, tickets = _table(ws, "feedback"), _table(ws, "tickets")

    # activity (any order, any event with a customer) -> recency and first activity
    acts = []
    if orders is not None:
        acts.append(orders.filter(orders.customer_id.notnull(), orders.ts < t0).select("customer_id", "ts"))
    if events is not None:
        acts.append(events.filter(events.customer_id.notnull(), events.ts < t0).select("customer_id", "ts"))
    if acts:
        a = acts[0]
        for p in acts[1:]:
            a = a.union(p, distinct=False)
        parts.append(a.group_by("customer_id").aggregate(_cx_last=a.ts.max(), _cx_first=a.ts.min()))

    if orders is not None:
        o = valid_orders(orders, excluded_statuses)
        o = o.filter(o.customer_id.notnull(), o.ts >= lb, o.ts < t0)
        parts.append(o.group_by("customer_id").aggregate(frequency=o.count(), monetary=o.amount.sum()))

    if events is not None:
        e = events.filter(events.customer_id.notnull(), events.ts >= lb, events.ts < t0)
        parts.append(
            e.group_by("customer_id").aggregate(
                events_30d=e.count(where=e.ts >= d30),
                events_90d=e.count(where=e.ts >= d90),
                touchpoints=e.touchpoint.nunique(),
            )
        )
        s = e.filter(e.session_id.notnull())
        s = s.group_by("customer_id", "session_id").aggregate(
            _cx_cart=(s.name == "add_to_cart").any(),
            _cx_co=(s.name == "checkout").any(),
            _cx_buy=(s.name == "purchase").any(),
        )
        parts.append(
            s.group_by("customer_id").aggregate(
                cart_abandonments=(s._cx_cart & ~s._cx_buy).cast("int64").sum(),
                drop_offs=(s._cx_co & ~s._cx_buy).cast("int64").sum(),
            )
        )
        if behaviour:
            parts.append(
                behaviour_features_expr(events, ts_literal(pd.Timestamp(as_of) - pd.Timedelta(days=BEHAVIOUR_DAYS)), t0)
            )

    if feedback is not None:
        f = feedback.filter(feedback.customer_id.notnull(), feedback.ts < t0, feedback.metric.isin(["nps", "csat"]))
        f = f.mutate(
            _cx_rn=ibis.row_number().over(
                group_by=[f.customer_id, f.metric], order_by=[ibis.desc(f.ts), ibis.desc(f.score)]
            )
        )
        nps, csat = f.metric == "nps", f.metric == "csat"
        has_comment = f.comment.notnull() & (f.comment.strip().length() > 0)
        agg = f.group_by("customer_id").aggregate(
            nps_answers=f.count(where=nps),
            last_nps=f.score.max(where=nps & (f._cx_rn == 0)),
            _cx_recent=f.score.mean(where=nps & (f._cx_rn < 2)),
            _cx_earlier=f.score.mean(where=nps & (f._cx_rn >= 2)),
            csat_mean=f.score.mean(where=csat & (f.ts >= lb)),
            negative_comments=f.count(
                where=has_comment & (f.ts >= lb) & ((nps & (f.score <= 6)) | (csat & (f.score <= 2)))
            ),
        )
        parts.append(agg.mutate(nps_trend=agg._cx_recent - agg._cx_earlier).drop("_cx_recent", "_cx_earlier"))

    if tickets is not None:
        k = tickets.filter(tickets.customer_id.notnull(), tickets.created_at < t0)
        answered = k.first_response_at.notnull() & (k.first_response_at < t0) & (k.created_at >= lb)
        k = k.mutate(
            _cx_frt=ibis.ifelse(answered, hours_between(k.first_response_at, k.created_at), ibis.null("float64"))
        )
        parts.append(
            k.group_by("customer_id").aggregate(
                open_tickets=k.count(where=k.resolved_at.isnull() | (k.resolved_at >= t0)),
                tickets_90d=k.count(where=k.created_at >= d90),
                first_response_median_h=k._cx_frt.quantile(0.5),
            )
        )

    t = base
    for i, p in enumerate(parts):
        p = p.rename(**{f"_cx_cid{i}": "customer_id"})
        t = t.left_join(p, t.customer_id == p[f"_cx_cid{i}"]).drop(f"_cx_cid{i}")

    out: dict[str, ibis.Value] = {"customer_id": t.customer_id}
    have = set(t.columns)
    last = t._cx_last if "_cx_last" in have else ibis.null("timestamp")
    first = t._cx_first if "_cx_first" in have else ibis.null("timestamp")
    for c in NUMERIC_FEATURES:
        if c == "recency_days":
            v = _days(t0, last)
        elif c == "tenure_days":
            v = _days(t0, t._cx_created.coalesce(first))
        elif c == "detractor":
            v = (t.last_nps <= 6).cast("int64").coalesce(0) if "last_nps" in have else ibis.literal(0)
        elif c in have:
            v = t[c].coalesce(0) if c in COUNT_FEATURES else t[c]
        else:
            v = ibis.literal(0) if c in COUNT_FEATURES else ibis.null("float64")
        out[c] = v.cast("float64")
    for c in BEHAVIOUR_FEATURES if behaviour else ():
        out[c] = (t[c].coalesce(0) if c in have else ibis.literal(0)).cast("float64")
    for c in TRAIT_COLUMNS:
        out[c] = t[c]
    for k in traits:
        out[f"traits__{k}"] = t[f"traits__{k}"]
    return t.select(**out).order_by("customer_id")


def customer_features(
    ws,
    as_of: DateLike,
    *,
    lookback_days: int = 365,
    traits: Sequence[str] = (),
    excluded_statuses: Sequence[str] = EXCLUDED_STATUSES,
    behaviour: bool = False,
) -> pd.DataFrame:
    """Features of every customer known at ``as_of`` (one backend query), indexed by ``customer_id``;
    with ``behaviour``, also :data:`BEHAVIOUR_FEATURES`.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest.simulate import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, "small")
    >>> X = customer_features(ws, "2026-01-01")
    >>> X.loc[X["frequency"] > 0, "recency_days"].notna().all()
    np.True_
    """
    expr = customer_features_expr(
        ws, as_of, lookback_days=lookback_days, traits=traits, excluded_statuses=excluded_statuses, behaviour=behaviour
    )
    df = ws.read(expr)
    df = df.rename(columns={c: c.replace("__", ".", 1) for c in df.columns if c.startswith("traits__")})
    for c in NUMERIC_FEATURES:
        df[c] = df[c].astype("float64")
    return df.set_index("customer_id")


def trait_frame(ws, keys: Sequence[str] | None = None) -> pd.DataFrame:
    """Customers' segment, plan, country and ``traits`` keys (numbers parsed), indexed by ``customer_id``.

    ``keys=None`` takes every key found in the traits JSON. Used for datasets without dates
    (such as the Telco churn sample) where the traits are the features.
    """
    import json

    df = ws.read(ws.table("customers").select("customer_id", *TRAIT_COLUMNS, "traits").order_by("customer_id"))
    parsed = [json.loads(t) if isinstance(t, str) and t else {} for t in df["traits"]]
    tr = pd.DataFrame(parsed, index=df.index)
    if keys is not None:
        tr = tr.reindex(columns=list(keys))
    for c in tr.columns:
        num = pd.to_numeric(tr[c], errors="coerce")
        if num.notna().sum() == tr[c].notna().sum():
            tr[c] = num.astype("float64")
    out = pd.concat([df[["customer_id", *TRAIT_COLUMNS]], tr.add_prefix("traits.")], axis=1)
    return out.set_index("customer_id")


def data_range(ws) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First and last activity timestamp (orders and events with a customer)."""
    lo, hi = [], []
    for name in ("orders", "events"):
        t = _table(ws, name)
        if t is None:
            continue
        t = t.filter(t.customer_id.notnull())
        r = ws.read(t.aggregate(lo=t.ts.min(), hi=t.ts.max()))
        if r["lo"].notna().iloc[0]:
            lo.append(pd.Timestamp(r["lo"].iloc[0]))
            hi.append(pd.Timestamp(r["hi"].iloc[0]))
    if not lo:
        raise NotFoundError("workspace has no orders or events with a customer_id; load activity first")
    return min(lo), max(hi)
