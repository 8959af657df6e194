"""The customers list and the saved-segments table, as the dashboard and notebooks query them.

:func:`customer_list` joins the RFM segments (:func:`~cxlens.customers.segments.rfm_segments`) to the
customers' country and plan and, when the models can be fitted, to each customer's predicted CLV and
churn risk (stored by the ``models.fit`` job, :mod:`cxlens.customers.scores`), then filters, sorts and paginates.

:func:`segment_summary` describes every saved segment (table ``segments``): size, value (historic
revenue and predicted CLV), NPS and CSAT with 95% intervals and the mean churn risk — the persona
figures of :func:`~cxlens.customers.personas.personas`, computed per saved segment (segments may
overlap, so each group of mutually disjoint segments of one kind is computed in one pass).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, CxlensError

__all__ = [
    "LIST_COLUMNS",
    "RISK_BANDS",
    "SEGMENT_SUMMARY_COLUMNS",
    "SORTS",
    "customer_list",
    "risk_band",
    "segment_summary",
]

#: churn-risk band → [low, high) of the predicted probability
RISK_BANDS: dict[str, tuple[float, float]] = {"low": (0.0, 0.1), "medium": (0.1, 0.3), "high": (0.3, 1.000001)}
#: sort key → (column, descending by default)
SORTS: dict[str, tuple[str, bool]] = {
    "monetary": ("monetary", True),
    "recency": ("recency_days", False),
    "clv": ("clv", True),
    "risk": ("churn_risk", True),
}
#: the columns of :func:`customer_list`'s rows
LIST_COLUMNS = ["customer_id", "segment", "rfm", "recency_days", "frequency", "monetary", "r_score", "f_score",
                "m_score", "country", "plan", "clv", "churn_risk", "risk_band"]  # fmt: skip
#: the columns of :func:`segment_summary`
SEGMENT_SUMMARY_COLUMNS = ["segment", "kind", "size", "revenue_mean", "clv_mean", "clv_total", "nps", "nps_n",
                           "nps_ci_low", "nps_ci_high", "csat", "csat_n", "csat_ci_low", "csat_ci_high",
                           "churn_risk", "at_risk"]  # fmt: skip


def risk_band(p: Any) -> str | None:
    """The :data:`RISK_BANDS` name of a churn probability (``None`` when missing)."""
    try:
        v = float(p)
    except (TypeError, ValueError):
        return None
    if math.isnan(v):
        return None
    for name, (lo, hi) in RISK_BANDS.items():
        if lo <= v < hi:
            return name
    return None


def _models(ws: Any, with_models: bool) -> tuple[pd.DataFrame | None, pd.DataFrame | None]:
    """The stored CLV predictions and churn risks (:mod:`cxlens.customers.scores`); never fitted here."""
    if not with_models:
        return None, None
    from cxlens.customers.scores import stored_scores

    scores = stored_scores(ws)
    if scores is None:  # not fitted yet (a job does it): the list shows no CLV or risk
        return None, None
    return scores.clv, scores.risk


def _number(name: str, v: Any) -> float | None:
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} is {v!r}; expected a number such as 100") from None
    if math.isnan(x):
        raise ConfigError(f"{name} is {v!r}; expected a number such as 100")
    return x


def customer_list(
    ws: Any,
    *,
    segment: str | None = None,
    saved_segment: str | None = None,
    country: str | None = None,
    plan: str | None = None,
    clv_min: float | None = None,
    clv_max: float | None = None,
    risk: str | None = None,
    sort: str = "monetary",
    order: str | None = None,
    page: int = 1,
    per_page: int = 50,
    with_models: bool = True,
) -> dict[str, Any]:
    """Customers with a counted order: RFM segment, country, plan, predicted CLV and churn risk; filtered,
    sorted and paginated.

    Parameters
    ----------
    segment
        RFM segment name (``Champions``…).
    saved_segment
        Members of this saved segment only (:func:`~cxlens.customers.segments.save_segment`).
    country, plan
        ``customers.country`` / ``customers.plan`` equal to this.
    clv_min, clv_max
        Predicted 52-week CLV in ``[clv_min, clv_max]`` (customers without a prediction are left out).
    risk
        Churn-risk band: ``low``, ``medium`` or ``high`` (:data:`RISK_BANDS`).
    sort, order
        A :data:`SORTS` key and ``asc``/``desc`` (default: the key's natural direction); ties by id.
    page, per_page
        Page number from 1 and rows per page.
    with_models
        Add the stored ``clv``/``churn_risk`` columns (:mod:`cxlens.customers.scores`); empty until the
        ``models.fit`` job has run, or when the models cannot be fitted on this workspace.

    Returns
    -------
    dict
        ``rows`` (DataFrame, :data:`LIST_COLUMNS`), ``total`` (matching customers), ``page``, ``pages``,
        ``options`` (values each menu offers: ``segment``, ``saved_segment``, ``country``, ``plan``,
        ``risk``) and ``models`` (whether CLV and risk are available).
    """
    from cxlens.customers.segments import rfm_segments, saved_segment_names, segment_members

    if sort not in SORTS:
        raise ConfigError(f"sort is {sort!r}; expected one of {', '.join(SORTS)}")
    order = order or ("desc" if SORTS[sort][1] else "asc")
    if order not in ("asc", "desc"):
        raise ConfigError(f"order is {order!r}; expected asc or desc")
    if risk not in (None, "") and risk not in RISK_BANDS:
        raise ConfigError(f"risk band is {risk!r}; expected one of {', '.join(RISK_BANDS)}")
    lo, hi = _number("clv_min", clv_min), _number("clv_max", clv_max)
    if page < 1:
        raise ConfigError(f"page is {page!r}; expected a whole number from 1")

    df = rfm_segments(ws)
    cu = ws.read(ws.table("customers").select("customer_id", "country", "plan"))
    cu["customer_id"] = cu["customer_id"].astype(str)
    df = df.assign(customer_id=df["customer_id"].astype(str)).merge(cu, on="customer_id", how="left")
    clv, churn = _models(ws, with_models)
    models = clv is not None and churn is not None
    if models:
        df["clv"] = df["customer_id"].map(
            clv.assign(customer_id=clv["customer_id"].astype(str)).set_index("customer_id")["clv"]
        )
        df["churn_risk"] = df["customer_id"].map(
            churn.assign(customer_id=churn["customer_id"].astype(str)).set_index("customer_id")["churn_risk"]
        )
    else:
        df["clv"] = np.nan
        df["churn_risk"] = np.nan
    df["risk_band"] = [risk_band(v) for v in df["churn_risk"]]
    saved = saved_segment_names(ws)
    options = {
        "segment": sorted(df["segment"].dropna().unique().tolist()),
        "saved_segment": saved,
        "country": sorted(df["country"].dropna().astype(str).unique().tolist()),
        "plan": sorted(df["plan"].dropna().astype(str).unique().tolist()),
        "risk": list(RISK_BANDS) if models else [],
    }
    for col, value in (("segment", segment), ("country", country), ("plan", plan)):
        if value not in (None, ""):
            df = df[df[col].astype(str) == value]
    if saved_segment not in (None, ""):
        df = df[df["customer_id"].isin(set(map(str, segment_members(ws, saved_segment))))]
    if lo is not None:
        df = df[df["clv"] >= lo]
    if hi is not None:
        df = df[df["clv"] <= hi]
    if risk not in (None, ""):
        df = df[df["risk_band"] == risk]
    col, _ = SORTS[sort]
    df = df.sort_values([col, "customer_id"], ascending=[order == "asc", True], kind="mergesort", na_position="last")
    total = len(df)
    pages = max(1, -(-total // per_page))
    rows = df.iloc[(page - 1) * per_page : page * per_page].reindex(columns=LIST_COLUMNS).reset_index(drop=True)
    return {"rows": rows, "total": total, "page": page, "pages": pages, "options": options, "models": models}


def _partitions(seg: pd.DataFrame) -> list[pd.Series]:
    """Saved-segment memberships split into groups of mutually disjoint segments of one kind (one persona pass each)."""
    out: list[pd.Series] = []
    for _, of_kind in seg.groupby("kind", sort=True):
        groups: list[tuple[set[str], dict[str, str]]] = []
        for name, members in of_kind.groupby("segment", sort=True)["customer_id"]:
            ids = set(members)
            for used, labels in groups:
                if not used & ids:
                    used |= ids
                    labels.update(dict.fromkeys(ids, str(name)))
                    break
            else:
                groups.append((set(ids), dict.fromkeys(ids, str(name))))
        out.extend(pd.Series(labels, name="segment") for _, labels in groups)
    return out


def segment_summary(
    ws: Any,
    segments: Sequence[str] | None = None,
    *,
    clv: pd.DataFrame | None = None,
    risk: pd.DataFrame | None = None,
    with_models: bool = True,
) -> pd.DataFrame:
    """One row per saved segment: size, value, NPS/CSAT with 95% CIs, churn risk and revenue at risk.

    Parameters
    ----------
    segments
        Names of saved segments (default: all).
    clv, risk
        ``customer_id, clv`` and ``customer_id, churn_risk`` frames; default (with ``with_models``): the
        stored scores (:mod:`cxlens.customers.scores`).

    Returns
    -------
    DataFrame
        :data:`SEGMENT_SUMMARY_COLUMNS`, largest segment first: ``revenue_mean`` (historic, counted
        orders), ``clv_mean``/``clv_total`` (predicted), ``nps``/``csat`` with ``_n`` and
        ``_ci_low``/``_ci_high``, ``churn_risk`` (mean over scored members) and ``at_risk``
        (Σ clv × churn risk over members with both).
    """
    from cxlens.customers.personas import personas
    from cxlens.customers.segments import SEGMENTS_TABLE

    try:
        seg = ws.read(ws.table(SEGMENTS_TABLE).select("segment", "customer_id", "kind"))
    except CxlensError:
        seg = pd.DataFrame(columns=["segment", "customer_id", "kind"])
    if segments is not None:
        unknown = sorted(set(segments) - set(seg["segment"]))
        if unknown:
            raise ConfigError(f"segment {unknown[0]!r} is not saved; expected one of {sorted(set(seg['segment']))}")
        seg = seg[seg["segment"].isin(list(segments))]
    if seg.empty:
        return pd.DataFrame(columns=SEGMENT_SUMMARY_COLUMNS)
    seg = seg.assign(customer_id=seg["customer_id"].astype(str)).drop_duplicates(["segment", "customer_id"])
    if clv is None and risk is None and with_models:
        clv, risk = _models(ws, True)
    frames = [personas(ws, labels, clv=clv, risk=risk, top=1) for labels in _partitions(seg)]
    cards = pd.concat(frames, ignore_index=True)
    kinds = seg.groupby("segment")["kind"].first()
    cards["kind"] = cards["segment"].map(kinds)
    if clv is not None and risk is not None:
        c = clv.assign(customer_id=clv["customer_id"].astype(str)).groupby("customer_id")["clv"].mean()
        r = risk.assign(customer_id=risk["customer_id"].astype(str)).groupby("customer_id")["churn_risk"].mean()
        v = seg.assign(v=seg["customer_id"].map(c) * seg["customer_id"].map(r))
        cards["at_risk"] = cards["segment"].map(v.groupby("segment")["v"].sum(min_count=0))
    else:
        cards["at_risk"] = np.nan
    cards = cards.sort_values(["size", "segment"], ascending=[False, True], kind="mergesort")
    return cards.reindex(columns=SEGMENT_SUMMARY_COLUMNS).reset_index(drop=True)
