"""Key drivers: which touchpoints and themes drive NPS/CSAT, and where to act first.

Two decompositions of a linear model's R² into non-negative shares, one per predictor:

* **Relative weights** (Johnson, 2000, *Multivariate Behavioral Research* 35(1), 1-19). With
  ``Rxx = V diag(λ) V'`` the predictors' correlation matrix and ``rxy`` their correlations with the
  target, ``Λ = Rxx^½ = V diag(√λ) V'`` relates the predictors to their closest orthonormal
  counterparts ``Z``; ``β = Λ⁻¹ rxy`` are the target's weights on ``Z`` and the raw weight of
  predictor ``j`` is ``ε_j = Σ_k Λ_jk² β_k²``. The weights sum to R² (Tonidandel & LeBreton, 2011,
  *Journal of Business and Psychology* 26(1), 1-9).
* **Shapley / LMG** (Lindeman, Merenda & Gold, 1980; Grömping, 2006, *Journal of Statistical
  Software* 17(1)): the R² increment of predictor ``j`` averaged over every order of entering
  the predictors, computed exactly from the R² of all ``2^p`` subsets
  ``φ_j = Σ_{S ∌ j} |S|!(p-|S|-1)!/p! · (R²(S ∪ {j}) - R²(S))``, vectorised by subset size.

Both return a tidy table with bootstrap percentile intervals (seeded). :func:`key_drivers`
builds a customer-level design from a workspace (relationship NPS or CSAT as the target; the
customer's satisfaction at each touchpoint, their share of late deliveries, or the themes they
mentioned as predictors) and places each driver in an importance × performance quadrant
(Martilla & James, 1977, *Journal of Marketing* 41(1), 77-79); :func:`driver_quadrant_chart`
draws it.

Examples
--------
>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> X = rng.standard_normal((500, 3))
>>> y = X @ [0.6, 0.3, 0.0] + rng.standard_normal(500)
>>> rw = relative_weights(X, y, n_boot=0)
>>> bool(abs(rw.weight.sum() - rw.attrs["r2"]) < 1e-12)
True
>>> list(rw.driver)
['x0', 'x1', 'x2']
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from math import factorial
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import altair as alt

from cxlens.errors import ConfigError, NotFoundError
from cxlens.metrics.common import prepare
from cxlens.metrics.filters import Filters
from cxlens.schema.tables import SCORE_RANGES
from cxlens.store.segments import restrict_to_segment

__all__ = [
    "MAX_SHAPLEY_PREDICTORS",
    "QUADRANTS",
    "driver_quadrant_chart",
    "key_drivers",
    "relative_weights",
    "shapley_importance",
]

#: exact LMG needs the R² of 2^p subsets; beyond this use relative weights
MAX_SHAPLEY_PREDICTORS = 15
#: quadrant labels: (high importance?, high performance?) → label
QUADRANTS: dict[tuple[bool, bool], str] = {
    (True, False): "fix first",
    (True, True): "keep up",
    (False, True): "maintain",
    (False, False): "low priority",
}
COLUMNS = [
    "driver",
    "weight",
    "share",
    "weight_ci_low",
    "weight_ci_high",
    "share_ci_low",
    "share_ci_high",
    "beta",
    "r",
    "rank",
]


# -- the decompositions -------------------------------------------------------------------------
def _as_arrays(X: Any, y: Any) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if isinstance(X, pd.DataFrame):
        names = [str(c) for c in X.columns]
        xa = X.to_numpy(dtype=float)
    else:
        xa = np.asarray(X, dtype=float)
        if xa.ndim == 1:
            xa = xa[:, None]
        names = [f"x{j}" for j in range(xa.shape[1])]
    ya = np.asarray(y, dtype=float).ravel()
    if xa.ndim != 2 or len(ya) != xa.shape[0]:
        raise ConfigError(f"X has shape {xa.shape} and y has {len(ya)} values; expected one row of X per value of y")
    ok = np.isfinite(xa).all(axis=1) & np.isfinite(ya)
    xa, ya = xa[ok], ya[ok]
    if len(ya) < xa.shape[1] + 2:
        raise ConfigError(
            f"only {len(ya)} complete rows for {xa.shape[1]} predictors; expected at least "
            f"{xa.shape[1] + 2}; add data or drop predictors"
        )
    return xa, ya, names


def _correlations(xa: np.ndarray, ya: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Predictor correlation matrix and predictor-target correlations; constant columns get 0."""
    xc = xa - xa.mean(axis=0)
    yc = ya - ya.mean()
    sx = np.sqrt((xc**2).sum(axis=0))
    sy = np.sqrt((yc**2).sum())
    zx = np.divide(xc, sx, out=np.zeros_like(xc), where=sx > 0)
    zy = yc / sy if sy > 0 else np.zeros_like(yc)
    rxx = zx.T @ zx
    np.fill_diagonal(rxx, 1.0)
    return rxx, zx.T @ zy


def _johnson(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    evals, evecs = np.linalg.eigh(rxx)
    lam = (evecs * np.sqrt(np.clip(evals, 0.0, None))) @ evecs.T
    beta = np.linalg.pinv(lam, hermitian=True) @ rxy
    return (lam**2) @ (beta**2)


_SUBSETS: dict[int, list[tuple[np.ndarray, np.ndarray]]] = {}


def _subsets(p: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per subset size k: (index array (m, k), bitmask (m,)) for every k-subset of p predictors."""
    if p not in _SUBSETS:
        out = []
        for k in range(1, p + 1):
            idx = np.array(list(combinations(range(p), k)), dtype=np.int64)
            out.append((idx, (1 << idx).sum(axis=1)))
        _SUBSETS[p] = out
    return _SUBSETS[p]


def _subset_r2(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    """R² of every subset of predictors, indexed by bitmask (entry 0, the empty set, is 0)."""
    p = len(rxy)
    r2 = np.zeros(1 << p)
    for idx, mask in _subsets(p):
        sub = rxx[idx[:, :, None], idx[:, None, :]]
        r = rxy[idx]
        coef = np.einsum("mij,mj->mi", np.linalg.pinv(sub, hermitian=True), r)
        r2[mask] = np.einsum("mi,mi->m", coef, r)
    return r2


def _lmg(rxx: np.ndarray, rxy: np.ndarray) -> np.ndarray:
    p = len(rxy)
    r2 = _subset_r2(rxx, rxy)
    masks = np.arange(1 << p)
    size = np.array([bin(m).count("1") for m in masks])
    w = np.array([factorial(s) * factorial(p - s - 1) / factorial(p) if s < p else 0.0 for s in range(p + 1)])
    phi = np.empty(p)
    for j in range(p):
        without = masks[(masks >> j) & 1 == 0]
        phi[j] = (w[size[without]] * (r2[without | (1 << j)] - r2[without])).sum()
    return phi


def _decompose(X: Any, y: Any, method: str, n_boot: int, seed: int, level: float) -> pd.DataFrame:
    xa, ya, names = _as_arrays(X, y)
    p = xa.shape[1]
    if method == "lmg" and p > MAX_SHAPLEY_PREDICTORS:
        raise ConfigError(
            f"exact Shapley importance of {p} predictors needs 2^{p} regressions; expected at most "
            f"{MAX_SHAPLEY_PREDICTORS}; use relative_weights or fewer drivers"
        )
    fn = _lmg if method == "lmg" else _johnson
    rxx, rxy = _correlations(xa, ya)
    weight = fn(rxx, rxy)
    beta = np.linalg.pinv(rxx, hermitian=True) @ rxy
    r2 = float(beta @ rxy)
    share = 100 * weight / r2 if r2 > 0 else np.zeros(p)
    out = pd.DataFrame({"driver": names, "weight": weight, "share": share})
    alpha = (1 - level) / 2
    if n_boot > 0:
        rng = np.random.default_rng(seed)
        n = len(ya)
        bw = np.empty((n_boot, p))
        bs = np.empty((n_boot, p))
        for b in range(n_boot):
            i = rng.integers(0, n, n)
            w = fn(*_correlations(xa[i], ya[i]))
            bw[b] = w
            total = w.sum()
            bs[b] = 100 * w / total if total > 0 else 0.0
        out["weight_ci_low"], out["weight_ci_high"] = np.quantile(bw, [alpha, 1 - alpha], axis=0)
        out["share_ci_low"], out["share_ci_high"] = np.quantile(bs, [alpha, 1 - alpha], axis=0)
    else:
        for c in ("weight_ci_low", "weight_ci_high", "share_ci_low", "share_ci_high"):
            out[c] = np.nan
    out["beta"] = beta
    out["r"] = rxy
    out["rank"] = out["weight"].rank(ascending=False, method="min").astype("int64")
    out = out[COLUMNS]
    out.attrs.update({"r2": r2, "n": int(len(ya)), "method": method, "n_boot": int(n_boot), "level": level})
    return out


def relative_weights(X: Any, y: Any, *, n_boot: int = 200, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Johnson's (2000) relative weights: each predictor's share of R², with bootstrap intervals.

    Parameters
    ----------
    X
        Predictors: a DataFrame (column names become driver names) or a 2-d array (``x0``, ``x1``…).
        Rows with a missing value in ``X`` or ``y`` are dropped.
    y
        The target, one value per row of ``X``.
    n_boot
        Bootstrap resamples of rows for the percentile intervals (0 skips them).
    seed
        Seed of :func:`numpy.random.default_rng` for the resamples.
    level
        Coverage of the intervals.

    Returns
    -------
    pandas.DataFrame
        One row per predictor in input order: ``driver``, ``weight`` (raw relative weight; the weights
        sum to R²), ``share`` (percent of R²), ``weight_ci_low/high``, ``share_ci_low/high``, ``beta``
        (standardized regression coefficient, for the direction), ``r`` (correlation with the target)
        and ``rank`` (1 = most important). ``attrs`` holds ``r2``, ``n`` and ``method``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(1).standard_normal((400, 2))
    >>> rw = relative_weights(X, X @ [1.0, 0.5], n_boot=0)
    >>> round(float(rw.share.sum()), 6)
    100.0
    """
    return _decompose(X, y, "johnson", n_boot, seed, level)


def shapley_importance(X: Any, y: Any, *, n_boot: int = 200, seed: int = 0, level: float = 0.95) -> pd.DataFrame:
    """Shapley value decomposition of R² (LMG), exact over all subsets, with bootstrap intervals.

    The same parameters and columns as :func:`relative_weights`; ``weight`` is each predictor's
    R² increment averaged over all orders of entry (Lindeman, Merenda & Gold, 1980; Grömping, 2006).
    At most :data:`MAX_SHAPLEY_PREDICTORS` predictors.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(2).standard_normal((300, 3))
    >>> lmg = shapley_importance(X, X @ [1.0, 0.5, 0.0], n_boot=0)
    >>> bool(abs(lmg.weight.sum() - lmg.attrs["r2"]) < 1e-12)
    True
    """
    return _decompose(X, y, "lmg", n_boot, seed, level)


# -- the workspace design -----------------------------------------------------------------------
def _to_100(metric: pd.Series, score: pd.Series) -> pd.Series:
    """Scores on a common 0-100 scale from each metric's range (NPS 0-10 → ×10, CSAT 1-5 → (s-1)·25)."""
    codes, uniques = pd.factorize(metric)
    bounds = np.array([SCORE_RANGES.get(m, (np.nan, np.nan)) for m in uniques] + [(np.nan, np.nan)], dtype=float)
    lo, hi = bounds[codes, 0], bounds[codes, 1]  # code -1 (missing metric) takes the last, NaN row
    return pd.Series(100 * (score.to_numpy(dtype=float) - lo) / (hi - lo), index=score.index)


def _touchpoint_group(tp: pd.Series) -> pd.Series:
    """``support_chat``/``support_phone``/``support_email`` → ``support``; others unchanged."""
    return tp.where(~tp.str.startswith("support", na=False), "support")


def _feedback(ws: Any, where: Filters | None = None) -> pd.DataFrame:
    t = ws.table("feedback")
    if where is not None and not where.is_empty():  # only the answers in these dates, dimensions, segment
        k = where.kwargs()
        t = restrict_to_segment(ws, t, k["segment"])
        t, _ = prepare(t, customers=ws.table("customers"), start=k["start"], end=k["end"], filters=k["filters"],
                       what="key drivers")  # fmt: skip
    cols = [c for c in ("customer_id", "ts", "metric", "score", "comment", "touchpoint", "survey_id") if c in t.columns]
    props = t.properties.cast("json")
    extra = {k: props[k].unwrap_as("string") for k in ("theme", "order_id", "ticket_id")}
    sel = t.select(*cols, **extra)
    return _named_themes(ws, ws.read(sel.filter(sel.customer_id.notnull())))


def _named_themes(ws: Any, fb: pd.DataFrame) -> pd.DataFrame:
    """Comments without an imported ``theme`` property get the name of their discovered theme.

    The workspace's stored theme model (:func:`cxlens.voice.tasks.theme_model`: the saved one, else the
    one the themes job fitted) names them as the themes page and the pain points do; before any model
    exists (or with too little text) they stay without one — nothing is fitted here.
    """
    said = fb["comment"].notna() & (fb["comment"].astype(str).str.strip() != "") if "comment" in fb else None
    if said is None or not (said & fb["theme"].isna()).any():
        return fb
    from cxlens.voice.tasks import theme_model

    tx, _ = theme_model(ws)
    if tx is None:
        return fb
    todo = said & fb["theme"].isna()
    try:
        names = tx.assign(fb.loc[todo, "comment"].tolist())["theme_name"].to_numpy()
    except (ConfigError, ValueError):  # too little text for themes
        return fb
    fb = fb.copy()
    fb.loc[todo, "theme"] = names
    return fb


def _events(ws: Any, name: str, keys: dict[str, str]) -> pd.DataFrame:
    """``customer_id`` and JSON ``properties`` keys (name → type) of events called ``name``."""
    try:
        ev = ws.table("events")
    except NotFoundError:
        return pd.DataFrame(columns=["customer_id", *keys])
    d = ev.filter((ev.name == name) & ev.customer_id.notnull())
    props = d.properties.cast("json")
    return ws.read(d.select("customer_id", **{k: props[k].unwrap_as(typ) for k, typ in keys.items()}))


def _tickets(ws: Any) -> pd.DataFrame:
    try:
        t = ws.table("tickets")
    except NotFoundError:
        return pd.DataFrame(columns=["ticket_id", "support_wait_hours", "extra_contacts"])
    wait = (t.first_response_at.epoch_seconds() - t.created_at.epoch_seconds()) / 3600.0
    out = ws.read(t.select("ticket_id", support_wait_hours=wait, extra_contacts=(t.contacts - 1).cast("float64")))
    out["extra_contacts"] = out.extra_contacts.clip(lower=0)
    return out


def _target_rows(fb: pd.DataFrame, target: str, survey: str | None, level: str) -> pd.Series:
    is_metric = fb.metric == target
    if survey is not None:
        rows = is_metric & (fb.get("survey_id") == survey)
        if not rows.any():
            raise NotFoundError(f"no {target!r} answers with survey_id {survey!r}; check the survey id")
        return rows
    if level == "response":
        return is_metric & (fb.order_id.notna() | fb.ticket_id.notna())
    relationship = is_metric & fb.touchpoint.isna()
    return relationship if relationship.any() else is_metric


def _theme_mentions(fb: pd.DataFrame, key: str) -> pd.DataFrame:
    said = fb[fb.comment.notna() & (fb.comment.astype(str).str.strip() != "") & fb.theme.notna()]
    m = pd.crosstab(said[key], said.theme).clip(upper=1).astype(float)
    m.columns = [f"theme:{c}" for c in m.columns]
    return m


def _customer_design(
    ws: Any, fb: pd.DataFrame, rows: pd.Series, want_tp: bool, want_th: bool
) -> tuple[pd.DataFrame, pd.Series, dict[str, str], dict[str, float]]:
    y = fb[rows].groupby("customer_id")["score100"].mean()
    customers = y.index
    parts: list[pd.DataFrame] = []
    kind: dict[str, str] = {}
    perf: dict[str, float] = {}
    if want_tp:
        other = fb[~rows & fb.touchpoint.notna() & fb.metric.isin(["csat", "ces", "nps", "rating"])].copy()
        other["group"] = _touchpoint_group(other.touchpoint)
        per = other.groupby(["customer_id", "group"])["score100"].mean().unstack()
        parts.append(per.reindex(customers))
        for g in per.columns:
            kind[g], perf[g] = "touchpoint", float(other.score100[other.group == g].mean())
        dl = _events(ws, "delivery", {"late": "boolean"}).dropna(subset=["late"])
        if len(dl):
            late = dl.groupby("customer_id")["late"].mean().astype(float).rename("late_delivery")
            parts.append(late.reindex(customers).to_frame())
            kind["late_delivery"] = "operations"
    if want_th:
        th = _theme_mentions(fb, "customer_id").reindex(customers).fillna(0.0)
        parts.append(th)
        kind.update(dict.fromkeys(th.columns, "theme"))
    X = pd.concat(parts, axis=1) if parts else pd.DataFrame(index=customers)
    return X, y, kind, perf


def _behaviour_drivers(ws: Any, customers: pd.Index) -> pd.DataFrame:
    """The customers' behaviour features over their whole history (cxlens.customers.features
    BEHAVIOUR_FEATURES but ``web_sessions``); NaN for a customer without behaviour events."""
    from cxlens.customers.features import BEHAVIOUR_FEATURES, behaviour_features_expr

    cols = [c for c in BEHAVIOUR_FEATURES if c != "web_sessions"]
    df = ws.read(behaviour_features_expr(ws.table("events"), None, None).select("customer_id", *cols))
    return df.astype({"customer_id": str}).set_index("customer_id").astype(float).reindex(customers.astype(str))


def _response_design(
    ws: Any, fb: pd.DataFrame, rows: pd.Series, want_tp: bool, want_th: bool
) -> tuple[pd.DataFrame, pd.Series, dict[str, str], dict[str, float]]:
    ans = fb[rows].reset_index(drop=True)
    y = ans.score100
    cols: dict[str, pd.Series] = {}
    kind: dict[str, str] = {}
    if want_tp:
        if ans.order_id.notna().any():
            dl = _events(ws, "delivery", {"order_id": "string", "late": "boolean"}).dropna(subset=["order_id"])
            if len(dl):
                late = dl.groupby("order_id")["late"].max().astype(float)
                cols["late_delivery"] = ans.order_id.map(late).fillna(0.0)
                kind["late_delivery"] = "operations"
            rt = _events(ws, "return_request", {"order_id": "string", "reason": "string"}).dropna()
            for reason in sorted(rt.reason.unique()) if len(rt) else []:
                ids = set(rt.order_id[rt.reason == reason])
                cols[f"return:{reason}"] = ans.order_id.isin(ids).astype(float)
                kind[f"return:{reason}"] = "operations"
        if ans.ticket_id.notna().any():
            tk = _tickets(ws).set_index("ticket_id")
            for c in ("support_wait_hours", "extra_contacts"):
                cols[c] = ans.ticket_id.map(tk[c]).astype(float)
                kind[c] = "operations"
        tps = ans.touchpoint.dropna()
        if tps.nunique() > 1:
            reference = tps.value_counts().index[0]
            for tp in sorted(set(tps) - {reference}):
                cols[f"touchpoint:{tp}"] = (ans.touchpoint == tp).astype(float)
                kind[f"touchpoint:{tp}"] = "touchpoint"
    X = pd.DataFrame(cols, index=ans.index)
    if want_th:
        th = _theme_mentions(ans.assign(row=ans.index), "row").reindex(ans.index).fillna(0.0)
        X = pd.concat([X, th], axis=1)
        kind.update(dict.fromkeys(th.columns, "theme"))
    return X, y, kind, {}


def _performance(x: pd.Series, y: pd.Series) -> float:
    """Mean target (0-100) where the driver is present: indicator or share > 0, else above its median."""
    vals = x.dropna()
    binary = bool(vals.isin([0.0, 1.0]).all()) or (vals.between(0, 1).all() and (vals == 0).mean() > 0.5)
    present = x > 0 if binary else x > vals.median()
    return float(y[present.to_numpy()].mean()) if present.any() else float("nan")


def _design(
    ws: Any,
    target: str,
    drivers: str | Sequence[str],
    survey: str | None,
    level: str,
    min_coverage: float,
    where: Filters | None = None,
    behaviour: bool | None = False,
) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame]:
    if isinstance(drivers, str) and drivers not in ("touchpoints", "themes"):
        raise ConfigError(f"drivers is {drivers!r}; expected 'touchpoints', 'themes' or a list of driver names")
    if level not in ("customer", "response"):
        raise ConfigError(f"level is {level!r}; expected 'customer' or 'response'")
    fb = _feedback(ws, where)
    if not (fb.metric == target).any():
        raise NotFoundError(f"workspace has no {target!r} feedback; load survey answers with metric {target!r}")
    fb["score100"] = _to_100(fb.metric, fb.score.astype(float))
    rows = _target_rows(fb, target, survey, level)
    if not rows.any():
        raise NotFoundError(
            f"no {target!r} answers about an order or ticket for level='response'; pass survey= or level='customer'"
        )
    want_tp = drivers == "touchpoints" or not isinstance(drivers, str)
    want_th = drivers == "themes" or not isinstance(drivers, str)
    build = _customer_design if level == "customer" else _response_design
    X, y, kind, perf = build(ws, fb, rows, want_tp, want_th)
    if behaviour is None:
        from cxlens.customers.features import BEHAVIOUR_FEATURES, has_behaviour

        named = not isinstance(drivers, str) and bool(set(drivers) & set(BEHAVIOUR_FEATURES))
        behaviour = level == "customer" and (drivers == "touchpoints" or named) and has_behaviour(ws)
    if behaviour:
        if level != "customer":
            raise ConfigError("behaviour drivers are per customer; pass level='customer' or behaviour=False")
        bh = _behaviour_drivers(ws, X.index)
        X = pd.concat([X, bh.set_axis(X.index)], axis=1)
        kind.update(dict.fromkeys(bh.columns, "behaviour"))
    if not isinstance(drivers, str):
        missing = [d for d in drivers if d not in X.columns]
        if missing:
            raise ConfigError(
                f"unknown driver {missing[0]!r}; expected one of {', '.join(map(str, X.columns))}; "
                "check the spelling or pass drivers='touchpoints' or 'themes'"
            )
        X = X[list(drivers)]
    cover = {c: float(X[c].notna().mean()) for c in X.columns}
    X = X[[c for c in X.columns if cover[c] >= min_coverage and X[c].nunique(dropna=True) > 1]]
    for c in X.columns:
        if c not in perf:
            perf[c] = _performance(X[c], y)
    # a customer who never used a touchpoint (or an answer without a ticket) gets the mean
    X = X.fillna(X.mean())
    info = pd.DataFrame(
        {
            "kind": pd.Series(kind, dtype=object).reindex(X.columns),
            "performance": pd.Series(perf, dtype=float).reindex(X.columns),
            "coverage": pd.Series(cover, dtype=float).reindex(X.columns),
        }
    )
    return X, y, info


def key_drivers(
    ws: Any,
    target: str = "nps",
    drivers: str | Sequence[str] = "touchpoints",
    *,
    method: str = "relative_weights",
    survey: str | None = None,
    level: str = "customer",
    min_coverage: float = 0.02,
    n_boot: int = 200,
    seed: int = 0,
    where: Filters | None = None,
    behaviour: bool | None = None,
) -> pd.DataFrame:
    """Which touchpoints and themes drive a customer's NPS or CSAT, with an importance × performance quadrant.

    The design has one row per customer who answered the target survey:

    * **target**: the customer's mean score on ``target`` answers on a 0-100 scale — the answers of
      ``survey`` if given, else the relationship answers (no touchpoint) when there are any, else
      every ``target`` answer.
    * **touchpoint drivers** (``drivers="touchpoints"``): the customer's mean satisfaction (CSAT,
      CES, NPS or rating rescaled to 0-100 by :data:`~cxlens.schema.tables.SCORE_RANGES`) at each
      touchpoint from the other answers (``support_*`` pooled as ``support``), and
      ``late_delivery``, their share of ``delivery`` events with ``properties.late`` true.
      A customer who never answered about a touchpoint gets its mean (mean imputation, which
      shrinks the importance of rarely used touchpoints; ``coverage`` says how rare).
    * **theme drivers** (``drivers="themes"``): ``theme:<name>`` is 1 when the customer wrote a
      comment whose ``properties.theme`` is that theme, or, for a comment imported without one,
      whose discovered theme (the workspace's theme model, as the themes page names it) has that name.
    * **behaviour drivers** (``behaviour=True``; ``None``, the default: with ``drivers="touchpoints"``
      at ``level="customer"`` when the workspace has browser-SDK behaviour events): the customer's
      ``rage_clicks``, ``dead_clicks``, ``error_clicks``, ``quick_backs``, ``excessive_scrolls`` and
      ``frustration_score`` (per web session) over their history
      (:func:`cxlens.customers.features.behaviour_features_expr`), kind ``behaviour``; mean-imputed
      for customers without behaviour events, like a touchpoint they never rated.
    * a list of driver names picks among all of these.

    Drivers with ``coverage < min_coverage`` or no variation are left out. Aggregation over the
    whole history ignores the order of experience and answer.

    Parameters
    ----------
    ws
        A :class:`cxlens.Workspace`.
    target
        ``"nps"`` or ``"csat"`` (any metric of :data:`~cxlens.schema.tables.SCORE_RANGES`).
    drivers
        ``"touchpoints"``, ``"themes"`` or a list of driver names.
    method
        ``"relative_weights"`` (Johnson, 2000) or ``"shapley"`` (exact LMG).
    survey
        A ``feedback.survey_id`` whose answers are the target.
    min_coverage, n_boot, seed
        See above and :func:`relative_weights`.
    where
        Only the answers in these dates and dimensions, from members of its saved segment
        (:class:`cxlens.Filters`).

    Returns
    -------
    pandas.DataFrame
        The columns of :func:`relative_weights` plus ``kind`` (touchpoint, operations, theme),
        ``performance`` (0-100: mean satisfaction at the touchpoint; on-time delivery rate; mean
        target score of customers mentioning the theme), ``coverage`` (share of customers with an
        observed value), ``high_importance`` (``share`` above the mean share, 100/k %),
        ``high_performance`` (``performance`` at or above the mean performance of the drivers) and
        ``quadrant`` (:data:`QUADRANTS`: "fix first", "keep up", "maintain", "low priority");
        sorted by importance. ``attrs`` holds ``r2``, ``n``, ``target`` and both thresholds.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest import write_demo
    >>> ws = cxlens.open(":memory:")
    >>> _ = write_demo(ws, "small", seed=0)
    >>> kd = key_drivers(ws, "csat", survey="csat_delivery", level="response", n_boot=0)
    >>> kd.driver.iloc[0], kd.quadrant.iloc[0]
    ('late_delivery', 'fix first')
    """
    methods = {"relative_weights": relative_weights, "shapley": shapley_importance}
    if method not in methods:
        raise ConfigError(f"method is {method!r}; expected 'relative_weights' or 'shapley'")
    if target not in SCORE_RANGES:
        raise ConfigError(f"target is {target!r}; expected one of {', '.join(SCORE_RANGES)}")
    X, y, info = _design(ws, target, drivers, survey, level, min_coverage, where, behaviour)
    if X.shape[1] == 0:
        raise NotFoundError(
            f"no {drivers!r} drivers with coverage >= {min_coverage} for {target!r}; "
            "load touchpoint surveys, delivery events or comments with themes"
        )
    out = methods[method](X, y.to_numpy(), n_boot=n_boot, seed=seed)
    attrs = dict(out.attrs)
    out = out.join(info, on="driver")
    imp_cut = 100.0 / len(out)
    perf_cut = float(out.performance.mean())
    out["high_importance"] = out.share > imp_cut
    out["high_performance"] = out.performance >= perf_cut
    out["quadrant"] = [
        QUADRANTS[(bool(i), bool(p))] for i, p in zip(out.high_importance, out.high_performance, strict=True)
    ]
    out = out.sort_values(["rank", "driver"]).reset_index(drop=True)
    out.attrs = attrs | {
        "target": target,
        "drivers": drivers if isinstance(drivers, str) else list(drivers),
        "level": level,
        "importance_threshold": imp_cut,
        "performance_threshold": perf_cut,
    }
    return out


# -- chart --------------------------------------------------------------------------------------
_QUADRANT_COLORS = {"fix first": "#dc2626", "keep up": "#16a34a", "maintain": "#2563eb", "low priority": "#a3a3a3"}


def driver_quadrant_chart(
    df: pd.DataFrame, *, title: str | None = None, width: int | str = "container", height: int = 320
) -> alt.LayerChart:
    """Importance (share of R², %) against performance (0-100) with the quadrant lines and labels.

    ``df`` is :func:`key_drivers`' table; the lines sit at ``attrs["importance_threshold"]`` and
    ``attrs["performance_threshold"]`` (the mean share and the mean performance when absent).
    Use :func:`cxlens.charts.to_vega_lite` for the Vega-Lite JSON.
    """
    need = ["driver", "share", "performance", "quadrant"]
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise ConfigError(f"chart data has no column {missing[0]!r}; expected the table of key_drivers")
    data = df[[c for c in df.columns if c in need + ["kind", "coverage", "share_ci_low", "share_ci_high"]]].copy()
    imp = float(df.attrs.get("importance_threshold", data.share.mean()))
    perf = float(df.attrs.get("performance_threshold", data.performance.mean()))
    import altair as alt  # lazy: altair costs ~0.3 s at import

    x = alt.X("share:Q", title="Importance (% of R²)")
    y = alt.Y("performance:Q", title="Performance (0-100)", scale=alt.Scale(zero=False))
    color = alt.Color(
        "quadrant:N",
        title=None,
        scale=alt.Scale(domain=list(_QUADRANT_COLORS), range=list(_QUADRANT_COLORS.values())),
        legend=alt.Legend(orient="bottom"),
    )
    tooltip = [
        alt.Tooltip("driver:N", title="Driver"),
        alt.Tooltip("share:Q", title="Importance %", format=".1f"),
        alt.Tooltip("performance:Q", title="Performance", format=".1f"),
        alt.Tooltip("quadrant:N", title="Quadrant"),
    ]
    base = alt.Chart(data)
    points = base.mark_circle(size=90, opacity=0.85).encode(x=x, y=y, color=color, tooltip=tooltip)
    names = base.mark_text(align="left", dx=7, fontSize=11).encode(x=x, y=y, text="driver:N")
    vline = alt.Chart(pd.DataFrame({"share": [imp]})).mark_rule(strokeDash=[4, 4], color="#6b7280").encode(x="share:Q")
    hline = (
        alt.Chart(pd.DataFrame({"performance": [perf]}))
        .mark_rule(strokeDash=[4, 4], color="#6b7280")
        .encode(y="performance:Q")
    )
    corners = pd.DataFrame(
        {
            "label": ["fix first", "keep up", "maintain", "low priority"],
            "share": [data.share.max(), data.share.max(), 0.0, 0.0],
            "performance": [
                data.performance.min(),
                data.performance.max(),
                data.performance.max(),
                data.performance.min(),
            ],
            "side": ["right", "right", "left", "left"],
        }
    )
    labels = [
        alt.Chart(corners[corners["side"] == a].drop(columns="side"))
        .mark_text(align=a, fontWeight="bold", opacity=0.6, dy=-8)
        .encode(x="share:Q", y="performance:Q", text="label:N")
        for a in ("right", "left")
    ]
    return alt.layer(vline, hline, points, names, *labels).properties(
        width=width, height=height, title=title if title is not None else "Key drivers: importance × performance"
    )
