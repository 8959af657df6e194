"""Revenue at risk: the predicted value of the customers who complained about each pain point.

For every pain-point theme (``feedback.properties.theme``) or touchpoint, take the **unhappy
answers** — the journey map's definition: NPS 0-6 (detractors), CSAT 1-3 (not satisfied), CES 1-4
(not easy) — that carry a ``customer_id``. The customers who raised the pain point are the distinct
customers with at least one such answer. With ``clv_i`` their predicted CLV
(:func:`cxlens.customers.predict_clv`) and ``risk_i`` their churn risk
(:func:`cxlens.customers.churn_model.score_churn`)::

    revenue_at_risk = Σ_i clv_i · risk_i        over customers with both a CLV and a risk
    clv             = Σ_i clv_i                 over customers with a CLV
    churn_risk      = mean_i risk_i             over customers with a risk

``revenue_at_risk`` is the CLV expected to be lost through churn among those customers. A customer
who raised two pain points counts under both, so the rows do not add up to a total; the ranking
says where the most value at risk is voiced, not what fixing it alone would save. The per-customer
grouping runs on the backend; only the (pain point, customer) pairs meet the frames in pandas.

**Uncertainty.** ``ci_low``/``ci_high`` are a nonparametric bootstrap over the customers who raised
the pain point (resampled with replacement, ``n_boot`` times; a customer without a CLV or risk adds
0): how much the figure would move with another sample of complainers of the same kind. The
CLV/churn models' own parameter uncertainty is not included (``predict_clv`` reports it per
customer in ``clv_low``/``clv_high``).

**Where the pain points come from.** ``by="theme"`` reads ``feedback.properties.theme`` (what the
demo data and imports with a theme column carry); ``by="auto"`` uses themes when any unhappy answer
has one and falls back to touchpoints otherwise. Pain points found by the voice analysis
(:mod:`cxlens.voice`: negative verbatims from surveys, tickets and reviews with the theme a
:class:`~cxlens.voice.ThemeExtractor` assigned) come in through ``raised=``
(:func:`negative_verbatim_pairs`).

:func:`workspace_revenue_at_risk` does it all on a workspace: it fits the CLV model
(:func:`~cxlens.customers.predict_clv`) and the churn model
(:func:`~cxlens.customers.churn_model.train_churn`, scored at the end of the data), then ranks.
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.errors import ConfigError
from cxlens.metrics.ces import EASY_MIN
from cxlens.metrics.common import DateLike, backend_name, json_text, ts_literal
from cxlens.metrics.csat import SATISFIED_MIN
from cxlens.metrics.nps import DETRACTOR_MAX

__all__ = [
    "RISK_COLUMNS",
    "fitted_models",
    "model_inputs",
    "negative_verbatim_pairs",
    "resolve_by",
    "revenue_at_risk",
    "revenue_at_risk_panel",
    "stored_revenue_at_risk",
    "touchpoint_revenue_at_risk",
    "unhappy",
    "unhappy_answers",
    "workspace_revenue_at_risk",
]

#: the value columns of :func:`revenue_at_risk` (after the ``by`` column)
RISK_COLUMNS = [
    "rank",
    "customers",
    "answers",
    "scored",
    "clv",
    "churn_risk",
    "revenue_at_risk",
    "ci_low",
    "ci_high",
]
BY = ("theme", "touchpoint")
#: bootstrap resamples for the interval; above this many customers × resamples a normal approximation is used
N_BOOT = 1000
_BOOT_CELLS = 20_000_000


def unhappy(fb: ibis.Table) -> ibis.Value:
    """Whether an answer is unhappy: NPS/eNPS <= 6, CSAT < 4, CES < 5 (other metrics: never)."""
    m, s = fb.metric.lower(), fb.score
    return (
        (m.isin(["nps", "enps"]) & (s <= DETRACTOR_MAX))
        | ((m == "csat") & (s < SATISFIED_MIN))
        | ((m == "ces") & (s < EASY_MIN))
    )


def _key(fb: ibis.Table, by: str) -> ibis.Value:
    if by == "theme":
        return json_text(fb.properties, "theme", backend_name(fb))
    return fb.touchpoint


def unhappy_answers(ws: Any, by: str = "theme", *, start: DateLike = None, end: DateLike = None) -> ibis.Table:
    """Unhappy answers with a customer, grouped to one row per (``by`` value, customer): ``answers``."""
    if by not in BY:
        raise ConfigError(f"revenue at risk by {by!r} is not supported; expected 'theme', 'touchpoint' or 'auto'")
    fb = ws.table("feedback")
    preds = [fb.customer_id.notnull(), fb.score.notnull(), unhappy(fb)]
    if start is not None:
        preds.append(fb.ts >= ts_literal(start))
    if end is not None:
        preds.append(fb.ts < ts_literal(end))
    t = fb.filter(*preds).mutate(_cx_key=_key(fb, by))
    t = t.filter(t._cx_key.notnull() & (t._cx_key != ""))
    return t.group_by([t._cx_key.name(by), t.customer_id]).aggregate(answers=t.count())


def _per_customer(frame: pd.DataFrame | None, col: str, what: str) -> pd.Series:
    if frame is None:
        return pd.Series(dtype="float64", name=col)
    missing = [c for c in ("customer_id", col) if c not in frame.columns]
    if missing:
        raise ConfigError(
            f"the {what} frame has no column {missing[0]!r}; expected columns customer_id and {col} "
            f"(the output of {'predict_clv' if col == 'clv' else 'score_churn'})"
        )
    s = frame.assign(customer_id=frame["customer_id"].astype(str)).groupby("customer_id")[col].mean()
    return s.astype("float64")


def resolve_by(ws: Any, by: str = "auto") -> str:
    """``"auto"`` → ``"theme"`` when an unhappy answer with a customer carries a theme, else ``"touchpoint"``."""
    if by != "auto":
        if by not in BY:
            raise ConfigError(f"revenue at risk by {by!r} is not supported; expected 'theme', 'touchpoint' or 'auto'")
        return by
    n = int(ws.read(unhappy_answers(ws, "theme").count()))
    return "theme" if n > 0 else "touchpoint"


def negative_verbatim_pairs(verbatims: pd.DataFrame, by: str = "theme") -> pd.DataFrame:
    """(``by`` value, customer) pairs of negative verbatims, for :func:`revenue_at_risk`'s ``raised=``.

    ``verbatims`` is e.g. :func:`cxlens.voice.analyse_verbatims` output with a ``theme`` column (from
    :meth:`cxlens.voice.ThemeExtractor.assign`): a verbatim counts when ``sentiment_label`` is
    ``negative`` or ``sentiment_score`` (or ``sentiment``) is below 0. Returns ``by, customer_id,
    answers`` (negative verbatims per pair).
    """
    need = [c for c in ("customer_id", by) if c not in verbatims.columns]
    if need:
        raise ConfigError(
            f"the verbatims frame has no column {need[0]!r}; expected customer_id and {by} "
            "(analyse_verbatims output with themes assigned)"
        )
    if "sentiment_label" in verbatims.columns:
        neg = verbatims["sentiment_label"].astype(str).str.lower().eq("negative")
    else:
        col = "sentiment_score" if "sentiment_score" in verbatims.columns else "sentiment"
        if col not in verbatims.columns:
            raise ConfigError(
                "the verbatims frame has no sentiment_label, sentiment_score or sentiment column; "
                "run cxlens.voice.analyse_verbatims first"
            )
        neg = pd.to_numeric(verbatims[col], errors="coerce") < 0
    f = verbatims.loc[neg & verbatims["customer_id"].notna() & verbatims[by].notna(), [by, "customer_id"]]
    f = f[f[by].astype(str) != ""]
    return f.groupby([by, "customer_id"], sort=True).size().rename("answers").reset_index()


def _bootstrap(values: np.ndarray, n_boot: int, level: float, rng: np.random.Generator) -> tuple[float, float]:
    n = len(values)
    if n_boot <= 0:
        return float("nan"), float("nan")
    if n <= 1:
        v = float(values.sum())
        return v, v
    a = (1 - level) / 2
    if n * n_boot > _BOOT_CELLS:  # the bootstrap distribution of a sum of many terms is normal
        from scipy.stats import norm

        half = norm.ppf(1 - a) * np.sqrt(n) * values.std(ddof=1)
        return float(values.sum() - half), float(values.sum() + half)
    sums = values[rng.integers(0, n, size=(n_boot, n))].sum(axis=1)
    lo, hi = np.quantile(sums, [a, 1 - a])
    return float(lo), float(hi)


def revenue_at_risk(
    ws: Any,
    clv: pd.DataFrame | None,
    risk: pd.DataFrame | None,
    by: str = "theme",
    *,
    start: DateLike = None,
    end: DateLike = None,
    raised: pd.DataFrame | None = None,
    n_boot: int = N_BOOT,
    level: float = 0.95,
    seed: int = 0,
) -> pd.DataFrame:
    """Predicted CLV and churn risk of the customers who raised each pain point, ranked by revenue at risk.

    Parameters
    ----------
    ws
        A workspace (any backend).
    clv
        ``customer_id, clv`` per customer (e.g. :func:`cxlens.customers.predict_clv`).
    risk
        ``customer_id, churn_risk`` per customer (e.g. :func:`~cxlens.customers.churn_model.score_churn`).
    by
        ``"theme"`` (``feedback.properties.theme``), ``"touchpoint"`` or ``"auto"`` (:func:`resolve_by`).
    start, end
        Only answers with ``start <= ts < end``.
    raised
        Instead of the workspace's unhappy answers: ``by, customer_id[, answers]`` pairs, e.g.
        :func:`negative_verbatim_pairs` of the voice analysis.
    n_boot, level, seed
        Bootstrap resamples of the customers (0: no interval), interval coverage and seed.

    Returns
    -------
    DataFrame
        ``by`` column, then :data:`RISK_COLUMNS`: ``rank`` (1 = most revenue at risk),
        ``customers`` who raised it, their unhappy ``answers``, ``scored`` (customers with both a CLV
        and a risk), ``clv`` (sum), ``churn_risk`` (mean), ``revenue_at_risk`` and its bootstrap
        interval ``ci_low``/``ci_high``; sorted by ``revenue_at_risk`` descending, then by name.

    Examples
    --------
    >>> import cxlens
    >>> ws = cxlens.open(":memory:")
    >>> _ = ws.load("feedback", pd.DataFrame({"ts": "2024-05-01", "metric": "nps", "score": [2, 3, 10],
    ...     "customer_id": ["a", "b", "c"], "touchpoint": ["delivery", "checkout", "delivery"]}))
    >>> clv = pd.DataFrame({"customer_id": ["a", "b", "c"], "clv": [100.0, 50.0, 80.0]})
    >>> risk = pd.DataFrame({"customer_id": ["a", "b", "c"], "churn_risk": [0.5, 0.2, 0.9]})
    >>> revenue_at_risk(ws, clv, risk, by="touchpoint")[["touchpoint", "revenue_at_risk"]].values.tolist()
    [['delivery', 50.0], ['checkout', 10.0]]
    """
    if raised is not None:
        if by == "auto":
            by = "theme" if "theme" in raised.columns else "touchpoint"
        need = [c for c in ("customer_id", by) if c not in raised.columns]
        if need:
            raise ConfigError(f"the raised frame has no column {need[0]!r}; expected columns {by} and customer_id")
        pairs = raised.copy()
        if "answers" not in pairs.columns:
            pairs = pairs.groupby([by, "customer_id"], sort=True).size().rename("answers").reset_index()
    else:
        by = resolve_by(ws, by)
        pairs = ws.read(unhappy_answers(ws, by, start=start, end=end))
    c = _per_customer(clv, "clv", "clv")
    r = _per_customer(risk, "churn_risk", "risk")
    if pairs.empty:
        return pd.DataFrame({by: pd.Series(dtype=object), **{k: pd.Series(dtype="float64") for k in RISK_COLUMNS}})
    pairs["customer_id"] = pairs["customer_id"].astype(str)
    # a fixed row order, so the bootstrap draws the same customers whatever order the backend returned
    pairs = pairs.sort_values([by, "customer_id"], kind="mergesort").reset_index(drop=True)
    pairs["clv"] = pairs["customer_id"].map(c)
    pairs["churn_risk"] = pairs["customer_id"].map(r)
    pairs["_at_risk"] = pairs["clv"] * pairs["churn_risk"]
    g = pairs.groupby(by, sort=True)
    out = pd.DataFrame(
        {
            "customers": g["customer_id"].nunique(),
            "answers": g["answers"].sum(),
            "scored": g["_at_risk"].count(),
            "clv": g["clv"].sum(min_count=1),
            "churn_risk": g["churn_risk"].mean(),
            "revenue_at_risk": g["_at_risk"].sum(min_count=0),
        }
    ).reset_index()
    rng = np.random.default_rng(seed)
    cis = {key: _bootstrap(grp.fillna(0.0).to_numpy(dtype="float64"), n_boot, level, rng) for key, grp in g["_at_risk"]}
    out["ci_low"] = out[by].map(lambda k: cis[k][0])
    out["ci_high"] = out[by].map(lambda k: cis[k][1])
    out = out.sort_values(["revenue_at_risk", by], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    for k in ("customers", "answers", "scored"):
        out[k] = out[k].astype("int64")
    return out[[by, *RISK_COLUMNS]]


#: (id(workspace), parameters, fingerprint) → (clv, risk, churn training) of the last fits
_FITS: dict[tuple, tuple[pd.DataFrame, pd.DataFrame, Any]] = {}
_FITS_MAX = 8


def _fingerprint(ws: Any) -> tuple:
    """Row counts and latest timestamps of the tables the models read: a refit is due when they change."""
    parts: list[Any] = []
    for name, ts in (("orders", "ts"), ("feedback", "ts"), ("events", "ts"), ("tickets", "created_at"),
                     ("customers", "created_at")):  # fmt: skip
        try:
            t = ws.table(name)
        except Exception:  # noqa: BLE001 — a missing table is part of the fingerprint
            parts.append((name, None))
            continue
        agg = t.aggregate(n=t.count(), last=t[ts].max()) if ts in t.columns else t.aggregate(n=t.count())
        parts.append((name, *ws.read(agg).iloc[0].astype(str).tolist()))
    return tuple(parts)


def fitted_models(ws: Any, *, horizon: int = 52, horizon_days: int = 90, cache: bool = True) -> tuple:
    """``(clv, risk, training)``: :func:`~cxlens.customers.predict_clv` over ``horizon`` weeks, churn risk
    scored at the end of the data by the model of :func:`~cxlens.customers.churn_model.train_churn`, and
    that :class:`~cxlens.customers.churn_model.ChurnTraining` (holdout metrics and calibration).

    The fits are kept per workspace and reused until the data changes (row counts and latest
    timestamps of orders, feedback, events, tickets and customers), so a dashboard refresh does not refit.
    """
    from cxlens.customers.churn_model import score_churn, train_churn
    from cxlens.customers.clv import predict_clv

    key = (id(ws), horizon, horizon_days, _fingerprint(ws)) if cache else None
    if key is not None and key in _FITS:
        return _FITS[key]
    clv = predict_clv(ws, horizon, draws=0)
    run = train_churn(ws, horizon_days=horizon_days)
    risk = score_churn(ws, run.model, top=1)
    if key is not None:
        _FITS[key] = (clv, risk, run)
        while len(_FITS) > _FITS_MAX:
            _FITS.pop(next(iter(_FITS)))
    return clv, risk, run


def model_inputs(
    ws: Any, *, horizon: int = 52, horizon_days: int = 90, cache: bool = True
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Predicted CLV and churn risk per customer (the first two of :func:`fitted_models`)."""
    clv, risk, _ = fitted_models(ws, horizon=horizon, horizon_days=horizon_days, cache=cache)
    return clv, risk


def workspace_revenue_at_risk(
    ws: Any,
    by: str = "auto",
    *,
    start: DateLike = None,
    end: DateLike = None,
    horizon: int = 52,
    horizon_days: int = 90,
    raised: pd.DataFrame | None = None,
    n_boot: int = N_BOOT,
    seed: int = 0,
    cache: bool = True,
) -> pd.DataFrame:
    """Revenue at risk on a workspace: fit CLV and churn (:func:`model_inputs`), then :func:`revenue_at_risk`.

    ``horizon`` is the CLV horizon in weeks, ``horizon_days`` the churn horizon. ``attrs["by"]`` says
    whether themes or touchpoints were ranked.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 1500, seed=0)
    >>> workspace_revenue_at_risk(ws, "touchpoint", n_boot=0)["touchpoint"].iloc[0]
    'delivery'
    """
    clv, risk = model_inputs(ws, horizon=horizon, horizon_days=horizon_days, cache=cache)
    out = revenue_at_risk(ws, clv, risk, by, start=start, end=end, raised=raised, n_boot=n_boot, seed=seed)
    out.attrs["by"] = out.columns[0]
    return out


def _money(v: Any) -> str:
    return f"{float(v):,.0f}" if v is not None and np.isfinite(float(v)) else "—"


def stored_revenue_at_risk(
    ws: Any, by: str = "auto", *, start: DateLike = None, end: DateLike = None
) -> tuple[pd.DataFrame | None, str | None, str | None]:
    """Revenue at risk from the **stored** customer scores (never fits a model): ``(frame, as_of, note)``.

    The unfiltered ranking is the stored result of the ``risk.revenue`` job; other dates or ``by``
    are ranked from the stored scores. ``frame`` is None (and ``note`` says why) until the
    ``models.fit`` job has stored scores.
    """
    from cxlens.customers.scores import stored_scores
    from cxlens.jobs import load_result

    scores = stored_scores(ws)
    if scores is None:
        return None, None, "the CLV and churn models have not been fitted yet (a background job does it)"
    err = scores.result.meta.get("clv_error") or scores.result.meta.get("churn_error")
    if scores.clv.empty and scores.risk.empty:
        return None, scores.as_of, err or "the models could not be fitted on this workspace"
    if by == "auto" and start is None and end is None:
        stored = load_result(ws, "revenue_at_risk")
        if stored is not None and stored.meta.get("models_as_of") == scores.as_of:
            df = stored.frame()
            df.attrs["by"] = stored.meta.get("by", df.columns[0])
            return df, scores.as_of, None
    df = revenue_at_risk(ws, scores.clv, scores.risk, by, start=start, end=end)
    df.attrs["by"] = df.columns[0]
    return df, scores.as_of, None


def revenue_at_risk_panel(ws: Any, *, start: DateLike = None, end: DateLike = None, top: int = 5) -> dict[str, Any]:
    """The overview's revenue-at-risk panel: the ``top`` pain points of :func:`stored_revenue_at_risk`, as text.

    Returns ``{"by", "rows": [{"rank", "name", "customers", "revenue", "ci", "clv", "risk"}], "total_rows",
    "error", "as_of"}``; ``error`` is the one-sentence reason when there are no stored scores yet or the
    models could not be fitted on this workspace (no orders, too short a history…); ``rows`` is then empty.
    """
    from cxlens.errors import CxlensError

    try:
        df, as_of, note = stored_revenue_at_risk(ws, start=start, end=end)
    except (CxlensError, ValueError) as exc:
        return {"by": None, "rows": [], "total_rows": 0, "error": str(exc), "as_of": None}
    if df is None:
        return {"by": None, "rows": [], "total_rows": 0, "error": note, "as_of": as_of}
    by = df.columns[0]
    rows = [
        {
            "rank": int(r["rank"]),
            "name": str(r[by]),
            "customers": f"{int(r['customers']):,}",
            "revenue": _money(r["revenue_at_risk"]),
            "ci": f"{_money(r['ci_low'])}–{_money(r['ci_high'])}",
            "clv": _money(r["clv"]),
            "risk": f"{100 * float(r['churn_risk']):.1f}%" if pd.notna(r["churn_risk"]) else "—",
        }
        for r in df.head(top).to_dict("records")
    ]
    return {"by": by, "rows": rows, "total_rows": len(df), "error": None, "as_of": as_of}


def touchpoint_revenue_at_risk(ws: Any, *, start: DateLike = None, end: DateLike = None) -> dict[str, str]:
    """Revenue at risk per touchpoint as display text (``"1,234 (950–1,560)"``), for the journey map's column.

    Read from the stored scores (:func:`stored_revenue_at_risk`); empty until the models were fitted (the map then shows "—").
    """
    from cxlens.errors import CxlensError

    try:
        df, _, _ = stored_revenue_at_risk(ws, "touchpoint", start=start, end=end)
    except (CxlensError, ValueError):
        return {}
    if df is None:
        return {}
    return {
        str(r["touchpoint"]): f"{_money(r['revenue_at_risk'])} ({_money(r['ci_low'])}–{_money(r['ci_high'])})"
        for r in df.to_dict("records")
    }
