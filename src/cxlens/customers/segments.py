"""Customer segments: RFM scores and names, behavioural clusters, rule-based segments, stored segments.

**RFM** (:func:`rfm_segments`). Per customer with at least one counted order before ``as_of``:
recency (days since the last order), frequency (orders) and monetary (revenue). Each is scored
1-5 by the backend from its *minimum rank*: with ``rank0`` the 0-based rank where ties share the
lowest rank (SQL ``RANK() - 1``) among ``n`` customers, ``score = floor(5 * rank0 / n) + 1``
(ordered so that 5 is best: most recent, most orders, most revenue). Distinct values fall into
equal fifths; tied customers always get the same score — the score of the lowest position of their
tie — so when 70 % of customers have one order they all get F = 1 and two orders already gives
F = 4. (``ntile`` or ``qcut`` on ``rank(method="first")`` split ties arbitrarily; we do not.)

Names come from the R x F grid below (first match wins; every cell is named). It is the grid of
the widely used ``seg_map`` of R/F score patterns, whose names are those of the R package ``rfm``
(Hebbali, CRAN, ``rfm_segment`` documentation: Champions, Loyal Customers, Potential Loyalist,
New Customers, Promising, Need Attention, About To Sleep, At Risk, Can't Lose Them, Lost) plus
Hibernating. One cxlens refinement: the cell R = 1, F = 1 is *Lost* (the grid calls it
Hibernating with the rest of R, F in 1-2)::

    F→   1               2               3               4               5
    R=5  New             Potential loy.  Potential loy.  Champions       Champions
    R=4  Promising       Potential loy.  Potential loy.  Loyal           Loyal
    R=3  About to sleep  About to sleep  Need attention  Loyal           Loyal
    R=2  Hibernating     Hibernating     At risk         At risk         Can't lose them
    R=1  Lost            Hibernating     At risk         At risk         Can't lose them

**Clusters** (:func:`cluster_segments`): k-means (k by the highest silhouette) or a Gaussian
mixture (k by the lowest BIC) on numeric features, median-imputed and standardised.

**Stored segments** (:mod:`cxlens.store.segments`, re-exported here): :func:`save_segment` writes
members to the workspace table ``segments`` (``segment, customer_id, kind, created_at``), so metrics
and funnels can filter by membership.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, NotFoundError
from cxlens.metrics.common import DateLike, prepare, ts_literal
from cxlens.metrics.value import EXCLUDED_STATUSES, valid_orders
from cxlens.store.segments import (
    KINDS,
    SEGMENTS_TABLE,
    delete_segment,
    list_segments,
    restrict_to_segment,
    save_segment,
    save_segments,
    saved_segment_names,
    segment_members,
    segment_table,
)

__all__ = [
    "RFM_COLUMNS",
    "RFM_SEGMENTS",
    "KINDS",
    "SEGMENTS_TABLE",
    "Clustering",
    "cluster_segments",
    "delete_segment",
    "list_segments",
    "restrict_to_segment",
    "rfm_expr",
    "rfm_segments",
    "rule_segment",
    "save_segment",
    "save_segments",
    "saved_segment_names",
    "segment_members",
    "segment_name",
    "segment_table",
]

#: (name, (R low, R high), (F low, F high)); the first matching row names the customer
RFM_SEGMENTS: list[tuple[str, tuple[int, int], tuple[int, int]]] = [
    ("Champions", (5, 5), (4, 5)),
    ("Loyal", (3, 4), (4, 5)),
    ("Potential loyalists", (4, 5), (2, 3)),
    ("New", (5, 5), (1, 1)),
    ("Promising", (4, 4), (1, 1)),
    ("Need attention", (3, 3), (3, 3)),
    ("About to sleep", (3, 3), (1, 2)),
    ("Can't lose them", (1, 2), (5, 5)),
    ("At risk", (1, 2), (3, 4)),
    ("Lost", (1, 1), (1, 1)),
    ("Hibernating", (1, 2), (1, 2)),
]
RFM_COLUMNS = [
    "customer_id",
    "recency_days",
    "frequency",
    "monetary",
    "r_score",
    "f_score",
    "m_score",
    "rfm",
    "segment",
]
_DAY = 86400.0


def segment_name(r: int, f: int, mapping: Sequence[tuple[str, tuple[int, int], tuple[int, int]]] = RFM_SEGMENTS) -> str:
    """The RFM segment of scores ``(r, f)`` (``"Other"`` when no row of ``mapping`` matches).

    >>> segment_name(5, 5), segment_name(1, 1), segment_name(2, 5)
    ('Champions', 'Lost', "Can't lose them")
    """
    for name, (rl, rh), (fl, fh) in mapping:
        if rl <= r <= rh and fl <= f <= fh:
            return name
    return "Other"


def _score(rank0: ibis.Value, n: ibis.Value) -> ibis.Value:
    return ((rank0.cast("float64") * 5) / n.cast("float64")).floor().cast("int64") + 1


def rfm_expr(
    orders: ibis.Table,
    as_of: DateLike,
    *,
    mapping: Sequence[tuple[str, tuple[int, int], tuple[int, int]]] = RFM_SEGMENTS,
    excluded_statuses: Iterable[str] = EXCLUDED_STATUSES,
) -> ibis.Table:
    """RFM values, scores and segment names per customer as one expression (see the module doc)."""
    t0 = ts_literal(as_of)
    o = valid_orders(orders, excluded_statuses)
    o = o.filter(o.customer_id.notnull(), o.ts < t0)
    per = o.group_by("customer_id").aggregate(_cx_last=o.ts.max(), frequency=o.count(), monetary=o.amount.sum())
    per = per.mutate(
        recency_days=(t0.epoch_seconds().cast("float64") - per._cx_last.epoch_seconds().cast("float64")) / _DAY,
        frequency=per.frequency.cast("int64"),
        _cx_n=per.count().over(ibis.window()),
    )
    per = per.mutate(
        r_score=_score(ibis.rank().over(order_by=ibis.desc(per.recency_days)), per._cx_n),
        f_score=_score(ibis.rank().over(order_by=per.frequency), per._cx_n),
        m_score=_score(ibis.rank().over(order_by=per.monetary), per._cx_n),
    )
    cases = [
        ((per.r_score.between(rl, rh) & per.f_score.between(fl, fh)), name) for name, (rl, rh), (fl, fh) in mapping
    ]
    per = per.mutate(
        rfm=per.r_score.cast("string") + per.f_score.cast("string") + per.m_score.cast("string"),
        segment=ibis.cases(*cases, else_="Other"),
    )
    return per.select(*RFM_COLUMNS).order_by("customer_id")


def rfm_segments(
    store: Any,
    as_of: DateLike = None,
    *,
    mapping: Sequence[tuple[str, tuple[int, int], tuple[int, int]]] = RFM_SEGMENTS,
    excluded_statuses: Iterable[str] = EXCLUDED_STATUSES,
) -> pd.DataFrame:
    """RFM scores and named segments of every customer with an order before ``as_of``.

    ``as_of`` defaults to midnight after the last order. Columns: ``customer_id, recency_days,
    frequency, monetary, r_score, f_score, m_score, rfm`` (e.g. ``"545"``) ``, segment``.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest.simulate import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, "small")
    >>> rfm = rfm_segments(ws)
    >>> sorted(rfm["r_score"].unique().tolist())
    [1, 2, 3, 4, 5]
    """
    orders = store.table("orders")
    if as_of is None:
        last = store.read(orders.ts.max())
        if last is None or pd.isna(last):
            raise NotFoundError("workspace has no orders; RFM needs orders — load them first")
        as_of = pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    df = store.read(rfm_expr(orders, as_of, mapping=mapping, excluded_statuses=excluded_statuses))
    for c in ("frequency", "r_score", "f_score", "m_score"):
        df[c] = df[c].astype("int64")
    return df.reset_index(drop=True)


# -- clusters ------------------------------------------------------------------------------------
@dataclass
class Clustering:
    """The result of :func:`cluster_segments`."""

    labels: pd.Series
    k: int
    method: str
    criterion: pd.DataFrame
    profile: pd.DataFrame
    columns: list[str]
    model: Any


def cluster_segments(
    features: pd.DataFrame,
    k: int | None = None,
    method: str = "kmeans",
    k_range: Iterable[int] = range(2, 9),
    *,
    columns: Sequence[str] | None = None,
    random_state: int = 0,
    silhouette_sample: int = 5000,
) -> Clustering:
    """Behavioural clusters on standardised numeric features, with k chosen by a stated criterion.

    Parameters
    ----------
    features
        One row per customer (e.g. :func:`cxlens.customers.features.customer_features`).
    k
        Number of clusters; ``None`` chooses it over ``k_range``: the highest mean silhouette
        (k-means; on a random sample of ``silhouette_sample`` rows when larger) or the lowest BIC
        (Gaussian mixture, full covariances).
    method
        ``"kmeans"`` or ``"gmm"``.
    columns
        Columns to use (default: every numeric column that is not constant). Missing values are
        replaced by the column median before standardising (z-scores).

    Returns
    -------
    Clustering
        ``labels`` (cluster 0..k-1, indexed like ``features``), ``criterion`` (score per k tried),
        ``profile`` (size and mean of each column per cluster, original units).
    """
    from sklearn.cluster import KMeans
    from sklearn.metrics import silhouette_score
    from sklearn.mixture import GaussianMixture
    from threadpoolctl import threadpool_limits

    if method not in ("kmeans", "gmm"):
        raise ConfigError(f"clustering method {method!r} is not known; expected 'kmeans' or 'gmm'")
    if columns is None:
        columns = [
            c
            for c in features.columns
            if pd.api.types.is_numeric_dtype(features[c])
            and not pd.api.types.is_bool_dtype(features[c])
            and features[c].nunique(dropna=True) > 1
        ]
    columns = list(columns)
    if not columns:
        raise ConfigError("no numeric, non-constant feature columns to cluster on; pass columns=[...]")
    raw = features[columns].astype("float64")
    Z = raw.fillna(raw.median())
    sd = Z.std(ddof=0).replace(0, 1.0)
    Z = ((Z - Z.mean()) / sd).to_numpy()
    ks = [k] if k is not None else [int(x) for x in k_range]
    if any(x < 1 or x >= len(Z) for x in ks):
        raise ConfigError(f"k must be between 1 and the number of customers - 1 ({len(Z) - 1}); got {ks}")

    def fit(kk: int) -> Any:
        if method == "kmeans":
            return KMeans(n_clusters=kk, n_init=10, random_state=random_state).fit(Z)
        return GaussianMixture(n_components=kk, covariance_type="full", n_init=2, random_state=random_state).fit(Z)

    rows, models = [], {}
    with threadpool_limits(limits=1, user_api="openmp"):
        for kk in ks:
            m = fit(kk)
            models[kk] = m
            if method == "kmeans":
                lab = m.labels_
                sil = (
                    float(
                        silhouette_score(Z, lab, sample_size=min(silhouette_sample, len(Z)), random_state=random_state)
                    )
                    if 1 < kk
                    else np.nan
                )
                rows.append({"k": kk, "silhouette": sil, "inertia": float(m.inertia_)})
            else:
                rows.append({"k": kk, "bic": float(m.bic(Z))})
    crit = pd.DataFrame(rows)
    if k is not None:
        best = k
    elif method == "kmeans":
        best = int(crit.loc[crit["silhouette"].idxmax(), "k"])
    else:
        best = int(crit.loc[crit["bic"].idxmin(), "k"])
    model = models[best]
    labels = pd.Series(
        model.labels_ if method == "kmeans" else model.predict(Z), index=features.index, name="cluster"
    ).astype("int64")
    profile = raw.assign(cluster=labels.to_numpy()).groupby("cluster").mean()
    profile.insert(0, "size", labels.value_counts().sort_index())
    return Clustering(
        labels=labels, k=best, method=method, criterion=crit, profile=profile, columns=columns, model=model
    )


# -- rules and stored segments ---------------------------------------------------------------------
def rule_segment(store: Any, name: str, rules: Mapping[str, Any], *, save: bool = False) -> pd.Index:
    """Customer ids matching every rule: ``{"plan": "pro", "country": ["DE", "FR"], "traits.age_band": "18-24"}``.

    A rule's key is a customers column (``segment``, ``plan``, ``country``…) or ``traits.<key>``;
    its value one value (equality), a list (membership) or ``None`` (missing). With ``save=True``
    the members are also stored as segment ``name`` (kind ``rule``).
    """
    if not rules:
        raise ConfigError(f"segment {name!r} has no rules; pass e.g. {{'plan': 'pro'}}")
    cu = store.table("customers")
    t, _ = prepare(cu, customers=cu, filters=dict(rules), what=f"segment {name!r}")
    ids = pd.Index(sorted(store.read(t.select("customer_id").distinct())["customer_id"].tolist()), name=name)
    if save:
        save_segment(store, name, ids, kind="rule")
    return ids
