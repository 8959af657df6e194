"""Recommendations: item-item collaborative filtering, a popularity baseline, next best actions.

:class:`ItemItemRecommender` is neighbourhood collaborative filtering on implicit feedback
(Sarwar, Karypis, Konstan & Riedl 2001, "Item-based collaborative filtering recommendation
algorithms"; Deshpande & Karypis 2004, "Item-based top-N recommendation algorithms"). From the
user x item matrix ``X`` (summed interaction weights) it computes

    sim(i, j) = <x_i, x_j> / (||x_i|| ||x_j|| + shrinkage)

over the (optionally re-weighted) item columns, keeps each item's ``k`` most similar neighbours
and scores an item for a user as the sum of its similarities to the items the user interacted
with, weighted by those interactions: ``score_u = x_u @ S_k``. ``similarity="bm25"`` or
``"tfidf"`` re-weight ``X`` before the cosine, damping heavy users and very popular items
(Robertson & Zaragoza 2009 for BM25, as used by the ``implicit`` library's ``BM25Recommender``).
All of it is sparse linear algebra (scipy.sparse); no Python loop runs per user or item.

:class:`PopularityRecommender` ranks items by the number of distinct users who interacted with
them. It is the baseline every recommender must beat, and the fallback for users the item-item
model has never seen (their rows carry ``cold_start=True``) and for slots the neighbours cannot
fill (``source="popularity"``).

:func:`evaluate_recommender` measures precision@k, recall@k, MAP@k, NDCG@k, hit rate and catalogue
coverage on a time-based split; the figures on the real datasets are in docs/recommendations.md.
:func:`next_best_action` turns a customer's open tickets, last NPS answer, churn risk and purchase
history into one suggested action each.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone

from cxlens.customers.clv_models import NotFittedError
from cxlens.errors import ConfigError, NotFoundError
from cxlens.metrics.common import DateLike, ts_literal
from cxlens.metrics.value import EXCLUDED_STATUSES, valid_orders

__all__ = [
    "ACTIONS",
    "ItemItemRecommender",
    "PopularityRecommender",
    "evaluate_recommender",
    "interactions_from_workspace",
    "next_best_action",
    "temporal_split",
]

SIMILARITIES = ("cosine", "bm25", "tfidf")
RECOMMEND_COLUMNS = ["user", "item", "score", "rank", "source", "cold_start"]
_USER_ALIASES = ("user", "customer_id", "user_id")
_ITEM_ALIASES = ("item", "product_id", "item_id")
_BATCH = 2048


# -- input -----------------------------------------------------------------------------------
def _pick(frame: pd.DataFrame, aliases: Sequence[str], what: str) -> str:
    for a in aliases:
        if a in frame.columns:
            return a
    raise ConfigError(
        f"interactions have no {what} column (columns: {', '.join(map(str, frame.columns))}); "
        f"expected one of {', '.join(aliases)}; rename it"
    )


def _interactions(frame: pd.DataFrame) -> pd.DataFrame:
    """``user, item, weight`` as strings and floats; rows with a missing user or item dropped."""
    if not isinstance(frame, pd.DataFrame):
        raise ConfigError(
            f"interactions must be a DataFrame with user, item, weight columns; got {type(frame).__name__}"
        )
    u, i = _pick(frame, _USER_ALIASES, "user"), _pick(frame, _ITEM_ALIASES, "item")
    w = frame["weight"] if "weight" in frame.columns else pd.Series(1.0, index=frame.index)
    out = pd.DataFrame({"user": frame[u], "item": frame[i], "weight": pd.to_numeric(w, errors="coerce")})
    out = out[out["user"].notna() & out["item"].notna()]
    if out["weight"].isna().any() or (out["weight"] < 0).any():
        bad = frame.loc[out.index[out["weight"].isna() | (out["weight"] < 0)][0], "weight"]
        raise ConfigError(f"interaction weight {bad!r} is not a non-negative number; fix or drop that row")
    out = out.astype({"user": "string", "item": "string"}).astype({"user": object, "item": object})
    if out.empty:
        raise ConfigError("interactions are empty after dropping rows without a user or item; pass some rows")
    return out


def _matrix(rows: pd.DataFrame) -> tuple[sp.csr_matrix, pd.Index, pd.Index]:
    users, ucode = _codes(rows["user"])
    items, icode = _codes(rows["item"])
    X = sp.csr_matrix(
        (rows["weight"].to_numpy(dtype="float64"), (ucode, icode)), shape=(len(users), len(items))
    )  # duplicates are summed
    X.eliminate_zeros()
    return X, users, items


def _codes(values: pd.Series) -> tuple[pd.Index, np.ndarray]:
    codes, uniques = pd.factorize(values, sort=True)
    return pd.Index(uniques, dtype=object), codes


def _bm25(X: sp.csr_matrix, k1: float = 1.2, b: float = 0.75) -> sp.csr_matrix:
    """BM25 re-weighting of the user x item matrix (users are the 'documents', items the 'terms')."""
    X = X.tocsr(copy=True)
    n = X.shape[0]
    df = np.bincount(X.indices, minlength=X.shape[1])
    idf = np.log(n) - np.log1p(df)
    idf = np.maximum(idf, 0.0) + 1e-6
    length = np.asarray(X.sum(axis=1)).ravel()
    norm = (1.0 - b) + b * length / max(length.mean(), 1e-12)
    row = np.repeat(np.arange(n), np.diff(X.indptr))
    X.data = X.data * (k1 + 1.0) / (k1 * norm[row] + X.data) * idf[X.indices]
    return X


def _tfidf(X: sp.csr_matrix) -> sp.csr_matrix:
    X = X.tocsr(copy=True)
    df = np.bincount(X.indices, minlength=X.shape[1])
    idf = np.log(X.shape[0] / np.maximum(df, 1)) + 1e-6
    X.data = np.sqrt(X.data) * idf[X.indices]
    return X


def _top_k_per_row(S: sp.csr_matrix, k: int) -> sp.csr_matrix:
    """Keep the ``k`` largest entries of every row (ties broken by column index)."""
    S = S.tocsr()
    S.sort_indices()
    counts = np.diff(S.indptr)
    if counts.max(initial=0) <= k:
        return S
    rows = np.repeat(np.arange(S.shape[0]), counts)
    order = np.lexsort((S.indices, -S.data, rows))
    rank = np.arange(S.nnz) - S.indptr[rows[order]]
    keep = order[rank < k]
    keep.sort()
    return sp.csr_matrix((S.data[keep], (rows[keep], S.indices[keep])), shape=S.shape)


def _check_fitted(model: Any, attr: str = "items_") -> None:
    if not hasattr(model, attr):
        raise NotFittedError(f"This {type(model).__name__} is not fitted yet. Call 'fit' first.")


# -- models ----------------------------------------------------------------------------------
class _Recommender(BaseEstimator):
    """Shared ``recommend``: dense scores per batch of users, then a vectorised top-n."""

    def _user_scores(self, rows: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def _fit_common(self, interactions: pd.DataFrame) -> sp.csr_matrix:
        rows = _interactions(interactions)
        X, self.users_, self.items_ = _matrix(rows)
        self.user_index_ = pd.Series(np.arange(len(self.users_)), index=self.users_)
        self.item_index_ = pd.Series(np.arange(len(self.items_)), index=self.items_)
        self.user_items_ = X
        n_users = np.bincount(X.indices, minlength=X.shape[1]).astype("float64")
        self.popularity_ = pd.Series(n_users, index=self.items_, name="users")
        # popularity ranks as a score in [0, 1]: share of users who touched the item
        self._pop_score = n_users / max(X.shape[0], 1)
        return X

    def recommend(self, user_ids: Iterable[Any] | Any, n: int = 10, exclude_seen: bool = True) -> pd.DataFrame:
        """The top ``n`` items for each user, best first.

        Parameters
        ----------
        user_ids
            One id or a sequence of ids; ids are compared as strings.
        n
            Items per user.
        exclude_seen
            Leave out items the user interacted with during ``fit``.

        Returns
        -------
        DataFrame
            ``user, item, score, rank, source, cold_start``: ``rank`` is 1 for the best item;
            ``source`` is the model's name (``"item_item"``) or ``"popularity"`` for items
            filled in by popularity, whose ``score`` is then the share of training users who
            interacted with the item; ``cold_start`` is True for users unseen in ``fit`` (all
            their rows are popularity).
        """
        _check_fitted(self)
        if n < 1:
            raise ConfigError(f"n={n!r} recommendations requested; expected a positive integer")
        if isinstance(user_ids, (str, bytes)) or not isinstance(user_ids, Iterable):
            user_ids = [user_ids]
        ids = pd.Index([str(u) for u in user_ids], dtype=object)
        pos = self.user_index_.reindex(ids).to_numpy()
        known = ~np.isnan(pos)
        n = min(n, len(self.items_))
        parts = []
        for start in range(0, len(ids), _BATCH):
            sl = slice(start, start + _BATCH)
            parts.append(self._recommend_batch(ids[sl], pos[sl], known[sl], n, exclude_seen))
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype=t) for c, t in zip(RECOMMEND_COLUMNS, _DTYPES, strict=True)})
        return pd.concat(parts, ignore_index=True)

    def _recommend_batch(
        self, ids: pd.Index, pos: np.ndarray, known: np.ndarray, n: int, exclude_seen: bool
    ) -> pd.DataFrame:
        m = len(ids)
        n_items = len(self.items_)
        cf = np.zeros((m, n_items))
        rows = pos[known].astype(np.int64)
        if len(rows):
            cf[known] = self._user_scores(rows)
        pop = np.broadcast_to(self._pop_score, (m, n_items))
        # model scores first (shifted above every popularity score), popularity fills the rest
        key = np.where(cf > 0, 2.0 + cf, pop)
        if exclude_seen and len(rows):
            seen = self.user_items_[rows].tocoo()
            key[np.flatnonzero(known)[seen.row], seen.col] = -np.inf
        top = np.argpartition(-key, n - 1, axis=1)[:, :n] if n < n_items else np.tile(np.arange(n_items), (m, 1))
        tk = np.take_along_axis(key, top, axis=1)
        # sort by key descending, ties by item position (items are sorted ids), deterministic
        order = np.lexsort((top, -tk), axis=1)
        top = np.take_along_axis(top, order, axis=1)
        tk = np.take_along_axis(tk, order, axis=1)
        valid = np.isfinite(tk)
        r = np.repeat(np.arange(m), n).reshape(m, n)
        from_model = tk > 1.5
        out = pd.DataFrame(
            {
                "user": ids.to_numpy()[r[valid]],
                "item": self.items_.to_numpy()[top[valid]],
                "score": np.where(from_model, tk - 2.0, tk)[valid],
                "rank": np.cumsum(valid, axis=1)[valid].astype("int64"),
                "source": np.where(from_model, self._source, "popularity")[valid],
                "cold_start": np.broadcast_to(~known[:, None], (m, n))[valid],
            }
        )
        return out

    def _item_pos(self, item: Any) -> int:
        _check_fitted(self)
        key = str(item)
        if key not in self.item_index_.index:
            raise NotFoundError(f"item {key!r} was not in the training interactions; pick a known item")
        return int(self.item_index_[key])


_DTYPES = ["object", "object", "float64", "int64", "object", "bool"]


class ItemItemRecommender(_Recommender):
    """Item-item collaborative filtering on implicit feedback (Sarwar et al. 2001).

    Parameters
    ----------
    k
        Neighbours kept per item (the most similar items); ``None`` keeps all.
    shrinkage
        Added to the cosine's denominator, so pairs seen together by few users count less
        (Koren 2008); 0 gives the plain cosine.
    similarity
        ``"cosine"`` on the summed weights, or ``"bm25"`` / ``"tfidf"`` re-weighting first.

    Attributes
    ----------
    similarity_
        Sparse item x item matrix, row *i* holding the ``k`` neighbours of item *i*.
    items_, users_
        Training item and user ids (strings, sorted).
    popularity_
        Distinct training users per item (the fallback ranking).

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"user": ["a", "a", "b", "b", "c"], "item": ["x", "y", "x", "y", "x"]})
    >>> model = ItemItemRecommender(k=10, shrinkage=0).fit(rows)
    >>> model.recommend("c", n=1)[["user", "item", "source"]].to_dict("records")
    [{'user': 'c', 'item': 'y', 'source': 'item_item'}]
    """

    _source = "item_item"

    def __init__(self, k: int | None = 50, shrinkage: float = 10.0, similarity: str = "cosine"):
        self.k = k
        self.shrinkage = shrinkage
        self.similarity = similarity

    def fit(self, interactions: pd.DataFrame, y: Any = None) -> ItemItemRecommender:
        """Learn item neighbourhoods from ``interactions`` (columns user, item and optional weight)."""
        if self.similarity not in SIMILARITIES:
            raise ConfigError(f"similarity={self.similarity!r}; expected one of {', '.join(SIMILARITIES)}")
        if self.k is not None and (not isinstance(self.k, (int, np.integer)) or self.k < 1):
            raise ConfigError(f"k={self.k!r} neighbours; expected a positive integer or None")
        if not self.shrinkage >= 0:
            raise ConfigError(f"shrinkage={self.shrinkage!r}; expected a number >= 0")
        X = self._fit_common(interactions)
        W = {"cosine": lambda m: m, "bm25": _bm25, "tfidf": _tfidf}[self.similarity](X)
        W = W.tocsc()
        G = (W.T @ W).tocsr()  # item x item co-occurrence (weighted)
        norms = np.sqrt(G.diagonal())
        G.setdiag(0.0)
        G.eliminate_zeros()
        G = G.tocoo()
        data = G.data / (norms[G.row] * norms[G.col] + float(self.shrinkage))
        S = sp.csr_matrix((data, (G.row, G.col)), shape=G.shape)
        S.eliminate_zeros()
        self.similarity_ = _top_k_per_row(S, self.k) if self.k is not None else S
        return self

    def _user_scores(self, rows: np.ndarray) -> np.ndarray:
        return (self.user_items_[rows] @ self.similarity_).toarray()

    def similar_items(self, item: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` items most similar to ``item``: ``item, similar_item, score, rank``."""
        i = self._item_pos(item)
        row = self.similarity_.getrow(i)
        order = np.lexsort((row.indices, -row.data))[:n]
        return pd.DataFrame(
            {
                "item": str(item),
                "similar_item": self.items_.to_numpy()[row.indices[order]],
                "score": row.data[order],
                "rank": np.arange(1, len(order) + 1, dtype="int64"),
            }
        )


class PopularityRecommender(_Recommender):
    """Most popular items (distinct users), the same for everyone: the baseline.

    Examples
    --------
    >>> import pandas as pd
    >>> rows = pd.DataFrame({"user": ["a", "b", "b", "c"], "item": ["x", "x", "y", "x"]})
    >>> PopularityRecommender().fit(rows).recommend("a", n=1)["item"].tolist()
    ['y']
    """

    _source = "popularity"

    def __init__(self) -> None:
        pass

    def fit(self, interactions: pd.DataFrame, y: Any = None) -> PopularityRecommender:
        """Count distinct users per item in ``interactions`` (columns user, item, optional weight)."""
        self._fit_common(interactions)
        return self

    def _user_scores(self, rows: np.ndarray) -> np.ndarray:
        return np.zeros((len(rows), len(self.items_)))

    def similar_items(self, item: Any, n: int = 10) -> pd.DataFrame:
        """The ``n`` most popular other items (popularity knows no similarity)."""
        i = self._item_pos(item)
        score = self._pop_score.copy()
        score[i] = -np.inf
        order = np.lexsort((np.arange(len(score)), -score))[: min(n, len(score) - 1)]
        return pd.DataFrame(
            {
                "item": str(item),
                "similar_item": self.items_.to_numpy()[order],
                "score": score[order],
                "rank": np.arange(1, len(order) + 1, dtype="int64"),
            }
        )


# -- evaluation ------------------------------------------------------------------------------
def temporal_split(
    interactions: pd.DataFrame,
    *,
    split_time: DateLike | float | None = None,
    test_size: float = 0.2,
    by_user: bool = False,
    time_col: str = "ts",
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split interactions in time: ``(train, test)``.

    With ``split_time`` every interaction before it trains and the rest tests. Without it the
    cutoff is the ``1 - test_size`` quantile of the timestamps (a global split), or, with
    ``by_user=True``, each user's latest ``test_size`` share of interactions (at least one, and
    only for users with two or more distinct timestamps) tests and the earlier ones train.
    """
    if time_col not in interactions.columns:
        raise ConfigError(f"interactions have no {time_col!r} column; pass time_col= naming the timestamp column")
    if not 0 < test_size < 1:
        raise ConfigError(f"test_size={test_size!r}; expected a share strictly between 0 and 1")
    t = interactions[time_col]
    if by_user:
        user = interactions[_pick(interactions, _USER_ALIASES, "user")]
        rank = t.groupby(user).rank(method="dense", ascending=False)
        levels = t.groupby(user).transform("nunique")
        n_test = np.maximum(1, np.floor(levels * test_size))
        is_test = (levels >= 2) & (rank <= n_test)
        return interactions[~is_test], interactions[is_test]
    cut = t.quantile(1 - test_size) if split_time is None else split_time
    if not isinstance(cut, (int, float, np.number)):
        cut = pd.Timestamp(cut)
    return interactions[t < cut], interactions[t >= cut]


def evaluate_recommender(
    model: Any,
    interactions: pd.DataFrame,
    *,
    split_time: DateLike | float | None = None,
    test_size: float = 0.2,
    by_user: bool = False,
    k: int = 10,
    time_col: str = "ts",
) -> dict[str, float]:
    """Offline top-k accuracy of ``model`` on a time split of ``interactions``.

    A clone of ``model`` is fitted on the training part (see :func:`temporal_split`). The
    evaluated users are those present in both parts with at least one *new* item in the test
    part (an item they had not interacted with in training); their relevant set is those new
    items, and the model recommends ``k`` items excluding the ones seen in training.

    Returns
    -------
    dict
        ``precision`` (hits / k), ``recall`` (hits / relevant), ``map`` (average precision at
        k, normalised by ``min(k, relevant)``), ``ndcg`` (binary gains), ``hit_rate`` (users with
        at least one hit), each the mean over users; ``coverage`` (distinct recommended items /
        training items); ``users``, ``train_rows``, ``test_rows``, ``items``.
    """
    train, test = temporal_split(
        interactions, split_time=split_time, test_size=test_size, by_user=by_user, time_col=time_col
    )
    tr, te = _interactions(train), _interactions(test)
    fitted = clone(model).fit(tr)
    seen = set(zip(tr["user"], tr["item"], strict=True))
    te = te[te["user"].isin(fitted.users_)].drop_duplicates(["user", "item"])
    te = te[[(u, i) not in seen for u, i in zip(te["user"], te["item"], strict=True)]]
    users = pd.Index(te["user"].unique())
    base = {"users": len(users), "train_rows": len(train), "test_rows": len(test), "items": len(fitted.items_)}
    if len(users) == 0:
        return {**dict.fromkeys(("precision", "recall", "map", "ndcg", "hit_rate", "coverage"), float("nan")), **base}
    recs = fitted.recommend(users, n=k, exclude_seen=True)
    rel = te.assign(_rel=True)[["user", "item", "_rel"]]
    hits = recs.merge(rel, on=["user", "item"], how="left")
    hits["_rel"] = hits["_rel"].fillna(False).astype(bool)
    n_rel = te.groupby("user").size().reindex(users)
    h = hits[hits["_rel"]]
    n_hit = h.groupby("user").size().reindex(users, fill_value=0)
    # average precision: precision at each hit's rank
    hits["_cum"] = hits.groupby("user")["_rel"].cumsum()
    ap = (hits["_cum"] / hits["rank"]).where(hits["_rel"], 0.0).groupby(hits["user"]).sum().reindex(users, fill_value=0)
    ap = ap / np.minimum(n_rel, k)
    dcg = (1.0 / np.log2(h["rank"] + 1.0)).groupby(h["user"]).sum().reindex(users, fill_value=0.0)
    discounts = np.cumsum(1.0 / np.log2(np.arange(2, k + 2)))
    idcg = discounts[np.minimum(n_rel.to_numpy(), k) - 1]
    return {
        "precision": float((n_hit / k).mean()),
        "recall": float((n_hit / n_rel).mean()),
        "map": float(ap.mean()),
        "ndcg": float((dcg.to_numpy() / idcg).mean()),
        "hit_rate": float((n_hit > 0).mean()),
        "coverage": float(recs["item"].nunique() / len(fitted.items_)),
        **base,
    }


# -- workspace -------------------------------------------------------------------------------
def interactions_from_workspace(
    ws, since: DateLike | None = None, *, excluded_statuses: Sequence[str] = EXCLUDED_STATUSES
) -> pd.DataFrame:
    """Customer x product interactions from ``orders`` joined to ``order_items`` (one backend query).

    ``weight`` is the number of distinct orders of the customer containing the product, so a
    repeat purchase counts more than a large quantity in one basket; ``ts`` is the latest such
    order. Cancelled and returned orders (``excluded_statuses``) and orders before ``since`` are
    left out.

    Returns
    -------
    DataFrame
        ``customer_id, product_id, weight, ts`` sorted by customer and product.
    """
    orders = valid_orders(ws.table("orders"), excluded_statuses)
    items = ws.table("order_items")
    o = orders.filter(orders.customer_id.notnull())
    if since is not None:
        o = o.filter(o.ts >= ts_literal(since))
    j = o.select("order_id", "customer_id", "ts").join(items.select("order_id", "product_id"), "order_id")
    j = j.filter(j.product_id.notnull())
    agg = j.group_by(["customer_id", "product_id"]).aggregate(weight=j.order_id.nunique(), ts=j.ts.max())
    df = ws.read(agg)
    df["weight"] = df["weight"].astype("float64")
    return df.sort_values(["customer_id", "product_id"], kind="mergesort").reset_index(drop=True)[
        ["customer_id", "product_id", "weight", "ts"]
    ]


#: next-best-action rules in priority order (first that applies wins); see docs/recommendations.md
ACTIONS = ("resolve open ticket", "service follow-up", "win-back offer", "cross-sell")
_CLOSED = ("closed", "resolved", "solved")


def _risk_series(risk: Any) -> pd.Series:
    if risk is None:
        return pd.Series(dtype="float64")
    if isinstance(risk, pd.DataFrame):
        if not {"customer_id", "churn_risk"} <= set(risk.columns):
            raise ConfigError("risk table needs customer_id and churn_risk columns (as from score_churn); pass one")
        return risk.set_index(risk["customer_id"].astype(str))["churn_risk"].astype("float64")
    s = pd.Series(risk, dtype="float64")
    s.index = s.index.astype(str)
    return s


def next_best_action(
    ws,
    customer_ids: Iterable[Any],
    risk: pd.Series | pd.DataFrame | dict | None = None,
    *,
    model: ItemItemRecommender | None = None,
    n_items: int = 3,
    risk_threshold: float = 0.5,
    inactive_days: int = 90,
    as_of: DateLike | None = None,
) -> pd.DataFrame:
    """One suggested action per customer, by simple documented rules (first match wins).

    1. **resolve open ticket** — a ticket with no ``resolved_at`` whose status is not
       closed/resolved/solved.
    2. **service follow-up** — the customer's latest NPS answer is a detractor (score <= 6).
    3. **win-back offer** — churn risk >= ``risk_threshold`` (from ``risk``), or no order in the
       ``inactive_days`` before ``as_of`` (default: the latest order in the workspace).
    4. **cross-sell** — everyone else.

    Every row also lists up to ``n_items`` products from ``model`` (an :class:`ItemItemRecommender`
    fitted on :func:`interactions_from_workspace` when not given) that the customer has not bought,
    so the offer or follow-up can name them.

    Parameters
    ----------
    risk
        Churn risk per customer: a Series/dict ``{customer_id: risk}`` or the DataFrame of
        :func:`cxlens.customers.churn_model.score_churn`.

    Returns
    -------
    DataFrame
        ``customer_id, action, reason, items, churn_risk`` (``items`` a list of product ids),
        in the order of ``customer_ids``.
    """
    ids = pd.Index([str(c) for c in customer_ids], dtype=object).drop_duplicates()
    lit = [str(c) for c in ids]
    risk_s = _risk_series(risk)
    # open tickets
    open_t: set[str] = set()
    try:
        t = ws.table("tickets")
        t = t.filter(
            t.customer_id.isin(lit),
            t.resolved_at.isnull(),
            t.status.isnull() | ~t.status.lower().isin(list(_CLOSED)),
        )
        open_t = set(ws.read(t.select("customer_id").distinct())["customer_id"].astype(str))
    except NotFoundError:
        pass
    # latest NPS answer
    last_nps = pd.Series(dtype="float64")
    try:
        f = ws.table("feedback")
        f = f.filter(f.customer_id.isin(lit), f.metric == "nps")
        f = f.mutate(_rn=_latest_first(f))
        lf = ws.read(f.filter(f._rn == 0).select("customer_id", "score"))
        last_nps = lf.set_index(lf["customer_id"].astype(str))["score"].astype("float64")
    except NotFoundError:
        pass
    # last order
    orders = valid_orders(ws.table("orders"))
    if as_of is None:
        end = ws.read(orders.ts.max())
        as_of = pd.Timestamp(end) if end is not None and not pd.isna(end) else pd.Timestamp.now()
    as_of = pd.Timestamp(as_of)
    o = orders.filter(orders.customer_id.isin(lit), orders.ts <= ts_literal(as_of))
    lo = ws.read(o.group_by("customer_id").aggregate(last=o.ts.max()))
    last_order = pd.to_datetime(lo.set_index(lo["customer_id"].astype(str))["last"])

    if model is None:
        inter = interactions_from_workspace(ws)
        model = ItemItemRecommender().fit(inter) if len(inter) else None
    items: dict[str, list[str]] = {c: [] for c in lit}
    if model is not None and n_items > 0:
        recs = model.recommend(lit, n=n_items, exclude_seen=True)
        for c, g in recs.groupby("user", sort=False):
            items[c] = g.sort_values("rank")["item"].tolist()

    rows = []
    for c in lit:
        r = float(risk_s.get(c, np.nan))
        days = (as_of - last_order[c]).days if c in last_order.index else None
        if c in open_t:
            action, reason = ACTIONS[0], "has an open ticket"
        elif c in last_nps.index and last_nps[c] <= 6:
            action, reason = ACTIONS[1], f"latest NPS answer was {last_nps[c]:g} (detractor)"
        elif not np.isnan(r) and r >= risk_threshold:
            action, reason = ACTIONS[2], f"churn risk {r:.2f} >= {risk_threshold:g}"
        elif days is None or days > inactive_days:
            action = ACTIONS[2]
            reason = "no order yet" if days is None else f"no order for {days} days (> {inactive_days})"
        else:
            action, reason = ACTIONS[3], f"active customer (last order {days} days ago)"
        rows.append({"customer_id": c, "action": action, "reason": reason, "items": items[c], "churn_risk": r})
    return pd.DataFrame(rows, columns=["customer_id", "action", "reason", "items", "churn_risk"])


def _latest_first(f: Any) -> Any:
    """Row number of each NPS answer among the customer's, latest first (0 = latest)."""
    import ibis

    return ibis.row_number().over(group_by=f.customer_id, order_by=[ibis.desc(f.ts), ibis.desc(f.score)])
