"""Predictive customer lifetime value: fit, predict, CLV with parametric-bootstrap intervals.

The models live in :mod:`cxlens.customers.clv_models` (BG/NBD, Pareto/NBD, gamma-gamma) and the
backend-computed summaries in :mod:`cxlens.customers.clv_summary`; this module joins them into
the library functions behind ``cxlens clv fit`` and ``cxlens clv predict``.

CLV follows lifetimes' ``customer_lifetime_value``: the discounted sum over periods k = 1…H of
expected purchases in period k times the gamma-gamma expected spend,

    CLV = E[M | x, zbar] · Σ_k (E[Y(k)] − E[Y(k−1)]) / (1 + d)^k.

Intervals are a **parametric bootstrap on the parameters**: ``draws`` parameter vectors are drawn
from the asymptotic normal of the fitted log-parameters (inverse Hessian, ``covariance_``) of both
models, CLV is recomputed for each, and the (1 − ci)/2, (1 + ci)/2 percentiles are reported. They
reflect estimation uncertainty of the population parameters, not the customer's own randomness.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.customers.clv_models import BetaGeoModel, GammaGammaModel, ParetoNBDModel, group_rows
from cxlens.customers.clv_summary import rfm_summary, summary_counts
from cxlens.errors import ConfigError
from cxlens.metrics.common import DateLike

__all__ = ["MODELS", "customer_lifetime_value", "fit_clv", "predict_clv", "summary_for"]

#: CLI model name → estimator class
MODELS: dict[str, type] = {"bgnbd": BetaGeoModel, "paretonbd": ParetoNBDModel, "gammagamma": GammaGammaModel}


def _model_cls(model: str) -> type:
    if model not in MODELS:
        raise ConfigError(f"unknown CLV model {model!r}; expected one of {', '.join(MODELS)}")
    return MODELS[model]


def summary_for(
    source: Any, *, calibration_end: DateLike = None, observation_end: DateLike = None, time_unit: str = "week"
) -> pd.DataFrame:
    """Per-customer summary of a workspace, an orders table or a ready summary frame."""
    if isinstance(source, pd.DataFrame):
        return source
    orders = source.table("orders") if hasattr(source, "table") and not isinstance(source, ibis.Table) else source
    if not isinstance(orders, ibis.Table):
        raise ConfigError(
            f"cannot summarise {type(source).__name__!r}; expected a Workspace, an orders table or a summary DataFrame"
        )
    expr = rfm_summary(orders, calibration_end=calibration_end, observation_end=observation_end, time_unit=time_unit)
    return expr.order_by("customer_id").to_pandas()


def fit_model(model: str, summary: pd.DataFrame | ibis.Table) -> Any:
    """Fit the named model on a summary (DataFrame, or Ibis table collapsed by the backend)."""
    cls = _model_cls(model)
    if isinstance(summary, ibis.Table):
        if model == "gammagamma":
            t = summary.filter(summary.frequency > 0)
            df = summary_counts(t, columns=("frequency", "monetary")).to_pandas()
            return cls().fit(df.frequency, df.monetary, weights=df.weight)
        df = summary_counts(summary).to_pandas()
        return cls().fit(df.frequency, df.recency, df["T"], weights=df.weight)
    missing = [
        c
        for c in (("frequency", "monetary") if model == "gammagamma" else ("frequency", "recency", "T"))
        if c not in summary.columns
    ]
    if missing:
        raise ConfigError(
            f"summary has no column {missing[0]!r}; expected frequency, recency, T, monetary "
            "(rename with --map frequency=x,recency=t_x,monetary=zbar)"
        )
    w = summary["weight"] if "weight" in summary.columns else None
    if model == "gammagamma":
        return cls().fit(summary.frequency, summary.monetary, weights=w)
    return cls().fit(summary.frequency, summary.recency, summary["T"], weights=w)


def fit_clv(model: str, summary: pd.DataFrame | ibis.Table) -> dict[str, Any]:
    """Fit ``model`` (``bgnbd``, ``paretonbd``, ``gammagamma``) and return the ``clv fit`` JSON object.

    Returns
    -------
    dict
        ``{"model", "params", "log_likelihood", "n_customers"}`` plus ``"std_errors"``; gamma-gamma
        is fitted on the customers with frequency > 0 and ``n_customers`` counts those.

    Examples
    --------
    >>> df = pd.DataFrame({"frequency": [0, 1, 2, 0, 3], "recency": [0, 3.0, 8.0, 0, 9.0],
    ...                    "T": [10.0, 10.0, 10.0, 9.0, 10.0], "monetary": [0, 10.0, 12.0, 0, 8.0]})
    >>> out = fit_clv("bgnbd", df)
    >>> sorted(out["params"]), out["n_customers"]
    (['a', 'alpha', 'b', 'r'], 5)
    """
    m = fit_model(model, summary)
    return {
        "model": model,
        "params": {k: float(v) for k, v in m.params_.items()},
        "log_likelihood": float(m.log_likelihood_),
        "n_customers": int(m.n_customers_),
        "std_errors": {k: float(v) for k, v in m.standard_errors_.items()},
    }


def _discounted_unit(
    model: Any, x: np.ndarray, T: np.ndarray, horizon: int, discount_rate: float, params: Any = None
) -> tuple[np.ndarray, np.ndarray]:
    """(Σ_k v^k ΔE_k / P(alive), E[Y(H)] / P(alive)) per (x, T) row: the t_x-free part of the sum."""
    k = np.arange(1, horizon + 1, dtype=float)
    u = model._unalive_expected(k[None, :], x[:, None], T[:, None], params)
    inc = np.diff(np.concatenate([np.zeros((len(x), 1)), u], axis=1), axis=1)
    v = (1.0 + discount_rate) ** -k
    return inc @ v, u[:, -1]


def customer_lifetime_value(
    purchases: BetaGeoModel | ParetoNBDModel,
    spend: GammaGammaModel,
    summary: pd.DataFrame,
    horizon: int = 52,
    discount_rate: float = 0.01,
    *,
    draws: int = 200,
    ci: float = 0.95,
    seed: int = 0,
    block: int = 20_000,
) -> pd.DataFrame:
    """Per-customer predictions over ``horizon`` time units with bootstrap intervals.

    Parameters
    ----------
    purchases, spend
        Fitted purchase (BG/NBD or Pareto/NBD) and gamma-gamma models, in the summary's time unit.
    summary
        ``frequency, recency, T, monetary`` per customer (``customer_id`` kept when present).
    horizon, discount_rate
        Number of periods and the discount rate per period (0.01 per week ≈ 68% a year).
    draws, ci
        Parametric bootstrap draws (0 = no interval) and the interval's coverage.

    Returns
    -------
    DataFrame
        ``customer_id, frequency, recency, T, monetary, p_alive, expected_purchases,
        expected_value, clv, clv_low, clv_high``.
    """
    if horizon < 1:
        raise ConfigError(f"horizon is {horizon}; expected a whole number of periods >= 1")
    if discount_rate <= -1:
        raise ConfigError(f"discount_rate is {discount_rate}; expected > -1 (0.01 = 1% per period)")
    x = summary["frequency"].to_numpy(float)
    tx = summary["recency"].to_numpy(float)
    T = summary["T"].to_numpy(float)
    mon = summary["monetary"].to_numpy(float) if "monetary" in summary.columns else np.zeros(len(x))
    (ux, uT), key = group_rows([x, T])
    g, e_h = _discounted_unit(purchases, ux, uT, horizon, discount_rate)
    p_alive = purchases.probability_alive(x, tx, T)
    ev = spend.conditional_expected_value(x, mon)
    out = pd.DataFrame(
        {
            "customer_id": summary["customer_id"].to_numpy()
            if "customer_id" in summary.columns
            else np.arange(len(x)).astype(str)
        }
    )
    out["frequency"], out["recency"], out["T"], out["monetary"] = x.astype("int64"), tx, T, mon
    out["p_alive"] = p_alive
    out["expected_purchases"] = e_h[key] * p_alive
    out["expected_value"] = ev
    out["clv"] = ev * g[key] * p_alive
    if draws and draws > 0:
        rng = np.random.default_rng(seed)
        pb = purchases.sample_params(draws, rng)
        ps = spend.sample_params(draws, rng)
        gd = np.column_stack([_discounted_unit(purchases, ux, uT, horizon, discount_rate, params=p)[0] for p in pb])
        lo_q, hi_q = (1 - ci) / 2, (1 + ci) / 2
        lo, hi = np.empty(len(x)), np.empty(len(x))
        (rx, rtx, rT), inv = group_rows([x, tx, T])
        alive_d = np.column_stack([purchases.probability_alive(rx, rtx, rT, params=p) for p in pb])
        for start in range(0, len(x), block):
            sl = slice(start, start + block)
            xx, mm = x[sl][:, None], np.where(x[sl] > 0, mon[sl], 0.0)[:, None]
            p, q, gam = ps[:, 0][None, :], ps[:, 1][None, :], ps[:, 2][None, :]
            ev_d = (gam + xx * mm) * p / (p * xx + q - 1)
            clv_d = ev_d * gd[key[sl]] * alive_d[inv[sl]]
            lo[sl], hi[sl] = np.quantile(clv_d, [lo_q, hi_q], axis=1)
        out["clv_low"], out["clv_high"] = lo, hi
    else:
        out["clv_low"] = out["clv_high"] = np.nan
    return out


def predict_clv(
    source: Any,
    horizon: int = 52,
    *,
    model: str = "bgnbd",
    time_unit: str = "week",
    calibration_end: DateLike = None,
    observation_end: DateLike = None,
    discount_rate: float = 0.01,
    draws: int = 200,
    ci: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Fit the purchase model and gamma-gamma on ``source`` and predict per-customer CLV.

    ``source`` is a workspace (its ``orders``), an orders Ibis table, or a summary DataFrame
    (``frequency, recency, T, monetary``). ``horizon`` is in ``time_unit`` periods. Returns the
    frame of :func:`customer_lifetime_value`, sorted by ``clv`` descending.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 500, seed=1)
    >>> df = predict_clv(ws, horizon=26, draws=20)
    >>> bool((df.clv_low <= df.clv).mean() > 0.9)
    True
    """
    if model not in ("bgnbd", "paretonbd"):
        raise ConfigError(f"unknown purchase model {model!r} for predict; expected 'bgnbd' or 'paretonbd'")
    s = summary_for(source, calibration_end=calibration_end, observation_end=observation_end, time_unit=time_unit)
    purchases = fit_model(model, s)
    spend = fit_model("gammagamma", s)
    out = customer_lifetime_value(purchases, spend, s, horizon, discount_rate, draws=draws, ci=ci, seed=seed)
    return out.sort_values(["clv", "customer_id"], ascending=[False, True], kind="mergesort").reset_index(drop=True)
