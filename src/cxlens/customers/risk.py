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
"""

from __future__ import annotations

from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.errors import ConfigError
from cxlens.metrics.ces import EASY_MIN
from cxlens.metrics.common import DateLike, _backend_name, _json_text, _ts_literal
from cxlens.metrics.csat import SATISFIED_MIN
from cxlens.metrics.nps import DETRACTOR_MAX

__all__ = ["RISK_COLUMNS", "revenue_at_risk", "unhappy", "unhappy_answers"]

#: the value columns of :func:`revenue_at_risk` (after the ``by`` column)
RISK_COLUMNS = ["rank", "customers", "answers", "scored", "clv", "churn_risk", "revenue_at_risk"]
BY = ("theme", "touchpoint")


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
        return _json_text(fb.properties, "theme", _backend_name(fb))
    return fb.touchpoint


def unhappy_answers(ws: Any, by: str = "theme", *, start: DateLike = None, end: DateLike = None) -> ibis.Table:
    """Unhappy answers with a customer, grouped to one row per (``by`` value, customer): ``answers``."""
    if by not in BY:
        raise ConfigError(f"revenue at risk by {by!r} is not supported; expected 'theme' or 'touchpoint'")
    fb = ws.table("feedback")
    preds = [fb.customer_id.notnull(), fb.score.notnull(), unhappy(fb)]
    if start is not None:
        preds.append(fb.ts >= _ts_literal(start))
    if end is not None:
        preds.append(fb.ts < _ts_literal(end))
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


def revenue_at_risk(
    ws: Any,
    clv: pd.DataFrame | None,
    risk: pd.DataFrame | None,
    by: str = "theme",
    *,
    start: DateLike = None,
    end: DateLike = None,
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
        ``"theme"`` (``feedback.properties.theme``) or ``"touchpoint"``.
    start, end
        Only answers with ``start <= ts < end``.

    Returns
    -------
    DataFrame
        ``by`` column, then :data:`RISK_COLUMNS`: ``rank`` (1 = most revenue at risk),
        ``customers`` who raised it, their unhappy ``answers``, ``scored`` (customers with both a CLV
        and a risk), ``clv`` (sum), ``churn_risk`` (mean) and ``revenue_at_risk``; sorted by
        ``revenue_at_risk`` descending, then by name.

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
    pairs = unhappy_answers(ws, by, start=start, end=end).execute()
    c = _per_customer(clv, "clv", "clv")
    r = _per_customer(risk, "churn_risk", "risk")
    if pairs.empty:
        return pd.DataFrame({by: pd.Series(dtype=object), **{k: pd.Series(dtype="float64") for k in RISK_COLUMNS}})
    pairs["customer_id"] = pairs["customer_id"].astype(str)
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
    out = out.sort_values(["revenue_at_risk", by], ascending=[False, True], kind="mergesort").reset_index(drop=True)
    out.insert(1, "rank", np.arange(1, len(out) + 1))
    for k in ("customers", "answers", "scored"):
        out[k] = out[k].astype("int64")
    return out[[by, *RISK_COLUMNS]]
