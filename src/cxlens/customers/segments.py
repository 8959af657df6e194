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

**Stored segments**: :func:`save_segment` writes members to the workspace table ``segments``
(``segment, customer_id, kind, created_at``), so metrics and funnels can filter by membership.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, NotFoundError
from cxlens.metrics.common import DateLike, _ts_literal, prepare
from cxlens.metrics.value import EXCLUDED_STATUSES, valid_orders

__all__ = [
    "RFM_COLUMNS",
    "RFM_SEGMENTS",
    "SEGMENTS_DDL",
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
SEGMENTS_TABLE = "segments"
SEGMENTS_DDL = (
    f"CREATE TABLE IF NOT EXISTS {SEGMENTS_TABLE} (segment VARCHAR, customer_id VARCHAR, kind VARCHAR, "
    "created_at TIMESTAMP)"
)
KINDS = ("rfm", "cluster", "rule", "manual", "churn")
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
    t0 = _ts_literal(as_of)
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
    ws,
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
    orders = ws.table("orders")
    if as_of is None:
        last = orders.ts.max().execute()
        if last is None or pd.isna(last):
            raise NotFoundError("workspace has no orders; RFM needs orders — load them first")
        as_of = pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    df = rfm_expr(orders, as_of, mapping=mapping, excluded_statuses=excluded_statuses).execute()
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
def rule_segment(ws, name: str, rules: Mapping[str, Any], *, save: bool = False) -> pd.Index:
    """Customer ids matching every rule: ``{"plan": "pro", "country": ["DE", "FR"], "traits.age_band": "18-24"}``.

    A rule's key is a customers column (``segment``, ``plan``, ``country``…) or ``traits.<key>``;
    its value one value (equality), a list (membership) or ``None`` (missing). With ``save=True``
    the members are also stored as segment ``name`` (kind ``rule``).
    """
    if not rules:
        raise ConfigError(f"segment {name!r} has no rules; pass e.g. {{'plan': 'pro'}}")
    cu = ws.table("customers")
    t, _ = prepare(cu, customers=cu, filters=dict(rules), what=f"segment {name!r}")
    ids = pd.Index(sorted(t.select("customer_id").distinct().execute()["customer_id"].tolist()), name=name)
    if save:
        save_segment(ws, name, ids, kind="rule")
    return ids


def _raw(ws):
    raw = ws._require_raw()
    raw.execute(SEGMENTS_DDL)
    return raw


def save_segment(ws, name: str, customer_ids: Iterable[str], kind: str = "manual") -> int:
    """Store (or replace) segment ``name`` with these members in table ``segments``; returns members written."""
    if not name:
        raise ConfigError("segment name is empty; pass a name such as 'vip_de'")
    if kind not in KINDS:
        raise ConfigError(f"segment kind {kind!r} is not known; expected one of {', '.join(KINDS)}")
    ids = pd.Index(pd.Series(list(customer_ids), dtype=object).dropna().astype(str)).unique()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = pd.DataFrame({"segment": name, "customer_id": ids, "kind": kind, "created_at": now})
    with ws._lock:
        raw = _raw(ws)
        raw.execute("BEGIN")
        try:
            raw.execute(f"DELETE FROM {SEGMENTS_TABLE} WHERE segment = ?", [name])
            raw.register("_cx_segment_rows", frame)
            raw.execute(
                f"INSERT INTO {SEGMENTS_TABLE} SELECT segment, customer_id, kind, created_at FROM _cx_segment_rows"
            )
            raw.execute("COMMIT")
        except Exception:
            raw.execute("ROLLBACK")
            raise
        finally:
            raw.unregister("_cx_segment_rows")
    return len(ids)


def save_segments(ws, labels: pd.Series, kind: str, *, prefix: str = "") -> dict[str, int]:
    """Store each value of ``labels`` (indexed by customer id) as its own segment ``prefix + value``."""
    out = {}
    for value, members in labels.groupby(labels, sort=True):
        out[f"{prefix}{value}"] = save_segment(ws, f"{prefix}{value}", members.index, kind=kind)
    return out


def segment_members(ws, name: str) -> pd.Index:
    """Customer ids of stored segment ``name``."""
    with ws._lock:
        df = (
            _raw(ws)
            .execute(f"SELECT customer_id FROM {SEGMENTS_TABLE} WHERE segment = ? ORDER BY customer_id", [name])
            .fetchdf()
        )
    if df.empty and name not in set(list_segments(ws)["segment"]):
        raise NotFoundError(f"no stored segment {name!r}; see list_segments(ws) for the saved ones")
    return pd.Index(df["customer_id"].tolist(), name=name)


def list_segments(ws) -> pd.DataFrame:
    """Stored segments: ``segment, kind, customers, created_at``."""
    with ws._lock:
        return (
            _raw(ws)
            .execute(
                f"SELECT segment, any_value(kind) AS kind, count(*) AS customers, max(created_at) AS created_at "
                f"FROM {SEGMENTS_TABLE} GROUP BY segment ORDER BY segment"
            )
            .fetchdf()
        )


def delete_segment(ws, name: str) -> None:
    """Remove stored segment ``name`` (nothing happens when it does not exist)."""
    with ws._lock:
        _raw(ws).execute(f"DELETE FROM {SEGMENTS_TABLE} WHERE segment = ?", [name])


def segment_table(ws, name: str) -> ibis.Table:
    """The members of stored segment ``name`` as an Ibis table (one ``customer_id`` column, distinct).

    For semi-joins on any backend (``segment=`` in ``ws.metrics.*`` and ``ws.journeys.funnel``).
    Raises :class:`~cxlens.errors.NotFoundError` naming the stored segments when ``name`` is not one.
    """
    try:
        seg = ws.table(SEGMENTS_TABLE)
    except NotFoundError:
        seg = None
    if seg is not None:
        hit = seg.filter(seg.segment == name)
        if int(hit.count().execute()) > 0:
            return hit.select(customer_id=hit.customer_id.cast("string")).distinct()
        known = sorted(seg.select("segment").distinct().execute()["segment"].astype(str).tolist())
    else:
        known = []
    shown = ", ".join(repr(k) for k in known[:10]) or "none yet"
    raise NotFoundError(
        f"no stored segment {name!r}; expected one of the saved segments ({shown}); "
        "save one with 'cxlens segments rfm --save' or save_segment()"
    )


def restrict_to_segment(ws, table: ibis.Table, name: str | None) -> ibis.Table:
    """``table`` limited to rows whose ``customer_id`` is a member of stored segment ``name`` (``None``: as is)."""
    if name is None:
        return table
    members = segment_table(ws, name)
    return table.semi_join(members, table.customer_id.cast("string") == members.customer_id)


def saved_segment_names(ws) -> list[str]:
    """Names of the stored segments, sorted (empty when none was saved); reads only, so safe on read-only workspaces."""
    try:
        seg = ws.table(SEGMENTS_TABLE)
    except NotFoundError:
        return []
    return sorted(seg.select("segment").distinct().execute()["segment"].dropna().astype(str).tolist())
