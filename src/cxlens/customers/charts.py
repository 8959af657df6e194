"""Altair charts of the customer models: churn calibration curve, segment map, CLV holdout fit.

Each function takes the tidy frame its analysis returns and returns an Altair chart (render in a
notebook, or ``cxlens.charts.to_vega_lite(chart)`` for the dashboard). :func:`clv_holdout` builds
the calibration/holdout table of a workspace for :func:`~cxlens.customers.clv_summary.holdout_chart`.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from cxlens.errors import ConfigError
from cxlens.metrics.common import DateLike

__all__ = ["calibration_chart", "clv_holdout", "segment_map_chart"]


def calibration_chart(calibration: pd.DataFrame, *, title: str = "Churn model calibration") -> Any:
    """Reliability curve: mean predicted churn probability vs observed churn rate per score decile.

    ``calibration`` is ``evaluate_scores(...)["calibration"]`` (``decile, n, mean_predicted,
    observed_rate``), e.g. ``train_churn(ws).metrics["calibration"]``. The diagonal is perfect calibration.
    """
    import altair as alt

    need = {"n", "mean_predicted", "observed_rate"}
    if not need <= set(calibration.columns):
        raise ConfigError(
            f"calibration table has columns {sorted(calibration.columns)}; expected n, mean_predicted, observed_rate "
            "(evaluate_scores(...)['calibration'])"
        )
    top = float(max(calibration["mean_predicted"].max(), calibration["observed_rate"].max(), 0.05))
    diag = pd.DataFrame({"x": [0.0, top], "y": [0.0, top]})
    ref = alt.Chart(diag).mark_line(strokeDash=[4, 4], color="#9ca3af").encode(x="x:Q", y="y:Q")
    pts = (
        alt.Chart(calibration)
        .mark_line(point=True, color="#2563eb")
        .encode(
            x=alt.X("mean_predicted:Q", title="Mean predicted churn probability", scale=alt.Scale(domain=[0, top])),
            y=alt.Y("observed_rate:Q", title="Observed churn rate", scale=alt.Scale(domain=[0, top])),
            tooltip=[
                alt.Tooltip("decile:O", title="Score decile"),
                alt.Tooltip("mean_predicted:Q", format=".3f"),
                alt.Tooltip("observed_rate:Q", format=".3f"),
                "n:Q",
            ],
        )
    )
    return (ref + pts).properties(title=title, width=360, height=300)


def segment_map_chart(summary: pd.DataFrame, *, title: str = "Segment map") -> Any:
    """Scatter of saved segments: size (x) × mean predicted CLV (y), colour = mean churn risk, area = CLV at risk.

    ``summary`` is :func:`cxlens.customers.listing.segment_summary` (or persona cards with
    ``segment, size, clv_mean, churn_risk``).
    """
    import altair as alt

    need = {"segment", "size", "clv_mean", "churn_risk"}
    if not need <= set(summary.columns):
        raise ConfigError(
            f"segment table has columns {sorted(summary.columns)}; expected segment, size, clv_mean, churn_risk "
            "(segment_summary(ws))"
        )
    d = summary.copy()
    if "at_risk" not in d.columns:
        d["at_risk"] = d["size"] * d["clv_mean"] * d["churn_risk"]
    d = d.dropna(subset=["clv_mean"])
    return (
        alt.Chart(d)
        .mark_circle(opacity=0.8, stroke="#111827", strokeWidth=0.5)
        .encode(
            x=alt.X("size:Q", title="Customers", scale=alt.Scale(zero=True)),
            y=alt.Y("clv_mean:Q", title="Mean predicted CLV (52 weeks)"),
            color=alt.Color("churn_risk:Q", title="Mean churn risk", scale=alt.Scale(scheme="orangered")),
            size=alt.Size("at_risk:Q", title="CLV at risk", scale=alt.Scale(range=[60, 1200])),
            tooltip=[
                "segment:N",
                "size:Q",
                alt.Tooltip("clv_mean:Q", format=",.0f", title="Mean CLV"),
                alt.Tooltip("churn_risk:Q", format=".1%", title="Mean churn risk"),
                alt.Tooltip("at_risk:Q", format=",.0f", title="CLV at risk"),
            ],
        )
        .properties(title=title, width=520, height=320)
    )


def clv_holdout(
    ws: Any,
    *,
    holdout_weeks: int = 26,
    end: DateLike = None,
    model: str = "bgnbd",
    max_frequency: int = 7,
) -> pd.DataFrame:
    """The CLV model's calibration/holdout check on a workspace's orders.

    Fits ``model`` on orders up to ``end − holdout_weeks`` (``end``: the last order day) and compares
    expected with actual repeat purchases in the last ``holdout_weeks`` weeks
    (:func:`~cxlens.customers.clv_summary.holdout_table`; Fader, Hardie & Lee 2005, Figure 4).
    """
    from cxlens.customers.clv import fit_model, summary_for
    from cxlens.customers.clv_summary import holdout_table

    orders = ws.table("orders")
    last = pd.Timestamp(end) if end is not None else pd.Timestamp(ws.read(orders.ts.max()))
    if pd.isna(last):
        raise ConfigError("the workspace has no orders; load orders to check the CLV model")
    cal_end = (last - pd.Timedelta(weeks=holdout_weeks)).normalize()
    s = summary_for(ws, calibration_end=cal_end.date().isoformat(), observation_end=last.date().isoformat())
    fitted = fit_model(model, s)
    out = holdout_table(fitted, s, max_frequency=max_frequency)
    out.attrs.update({"calibration_end": cal_end.date().isoformat(), "observation_end": last.date().isoformat()})
    return out
