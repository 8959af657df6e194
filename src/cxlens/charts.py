"""Altair chart builders: one chart spec for the notebook, the dashboard and the report.

Every builder takes a tidy metric table (as returned by ``ws.metrics``) and returns an
:class:`altair.Chart`; :func:`to_vega_lite` turns it into the Vega-Lite JSON the dashboard
and the HTML report embed with vega-embed. The charts draw what the tables say, including
the 95% confidence interval and the small-sample flag; they compute nothing themselves.

Examples
--------
>>> import pandas as pd
>>> from cxlens import charts
>>> df = pd.DataFrame({"period": pd.to_datetime(["2024-01-01", "2024-02-01"]), "nps": [20.0, 25.0],
...                    "ci_low": [12.0, 18.0], "ci_high": [28.0, 32.0], "n": [120, 140],
...                    "small_sample": [False, False]})
>>> spec = charts.to_vega_lite(charts.trend_chart(df, "nps"))
>>> spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
True
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pandas as pd

if TYPE_CHECKING:
    import altair as alt

__all__ = ["METRIC_LABELS", "breakdown_chart", "share_chart", "to_vega_lite", "trend_chart"]

#: Display names of the metric columns the builders know.
METRIC_LABELS: dict[str, str] = {
    "nps": "NPS",
    "csat": "CSAT",
    "ces": "CES",
    "churn_rate": "Churn rate",
    "aov": "Average order value",
    "abandonment_rate": "Cart abandonment",
}

_COLOR = "#2563eb"
_BAND = "#93c5fd"
_SHARES = [
    ("detractor_share", "Detractors", "#dc2626"),
    ("passive_share", "Passives", "#a3a3a3"),
    ("promoter_share", "Promoters", "#16a34a"),
]


def _label(metric: str) -> str:
    return METRIC_LABELS.get(metric, metric.replace("_", " ").capitalize())


def _prepare(df: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(
            f"chart data has no column {missing[0]!r}; expected a tidy metric table with {', '.join(columns)}"
        )
    out = df.copy()
    if "period" in out.columns:
        out["period"] = pd.to_datetime(out["period"])
    if "small_sample" in out.columns:
        out["small_sample"] = out["small_sample"].fillna(False).astype(bool)
    return out


def trend_chart(
    df: pd.DataFrame,
    metric: str,
    *,
    title: str | None = None,
    color: str | None = None,
    width: int | str = "container",
    height: int = 220,
    time_format: str = "%b %Y",
) -> alt.Chart:
    """A metric over time: a line with its 95% confidence band; small samples drawn hollow.

    Parameters
    ----------
    df
        A tidy table with ``period``, the ``metric`` column, ``ci_low``, ``ci_high`` and ``n``
        (e.g. ``ws.metrics.nps(period="month")``); with a ``by`` column named in ``color`` one
        line per group is drawn.
    metric
        The value column (``"nps"``, ``"csat"``…).
    color
        A group column to draw one line per value of.
    time_format
        The date format of the axis and tooltip (``"%d %b"`` for daily or weekly periods); a format other
        than the monthly default lets Vega-Lite choose the ticks.
    """
    import altair as alt  # lazy: altair costs ~0.2 s at import

    cols = ["period", metric, "ci_low", "ci_high", "n"] + ([color] if color else [])
    data = _prepare(df, cols)
    if "small_sample" not in data.columns:
        data["small_sample"] = False
    label = _label(metric)
    ticks = {"tickCount": "month"} if time_format == "%b %Y" else {}
    x = alt.X("period:T", title=None, axis=alt.Axis(format=time_format, labelAngle=0, **ticks))
    tooltip = [
        alt.Tooltip("period:T", title="Period", format=time_format),
        alt.Tooltip(f"{metric}:Q", title=label, format=".1f"),
        alt.Tooltip("ci_low:Q", title="95% CI low", format=".1f"),
        alt.Tooltip("ci_high:Q", title="95% CI high", format=".1f"),
        alt.Tooltip("n:Q", title="n", format=","),
    ]
    if color:
        tooltip.insert(0, alt.Tooltip(f"{color}:N", title=color.capitalize()))
    enc_color = alt.Color(f"{color}:N", title=color.capitalize()) if color else alt.value(_COLOR)
    base = alt.Chart(data)
    band = base.mark_area(opacity=0.25 if color else 0.45, color=_BAND).encode(
        x=x,
        y=alt.Y("ci_low:Q", title=f"{label} (95% CI)"),
        y2="ci_high:Q",
        **({"color": enc_color} if color else {}),
    )
    line = base.mark_line(strokeWidth=2).encode(x=x, y=alt.Y(f"{metric}:Q"), color=enc_color)
    points = base.mark_point(size=45, strokeWidth=2).encode(
        x=x,
        y=alt.Y(f"{metric}:Q"),
        color=enc_color,
        fill=alt.condition("datum.small_sample", alt.value("white"), enc_color if color else alt.value(_COLOR)),
        tooltip=tooltip,
    )
    chart = alt.layer(band, line, points).properties(
        width=width, height=height, title=title if title is not None else f"{label} by month"
    )
    return chart


def breakdown_chart(
    df: pd.DataFrame,
    by: str,
    metric: str,
    *,
    title: str | None = None,
    sort: list[str] | None = None,
    width: int | str = "container",
) -> alt.Chart:
    """A metric per group as horizontal bars with 95% CI whiskers.

    Parameters
    ----------
    df
        ``ws.metrics.nps(by="touchpoint")`` or similar: one row per group.
    by
        The group column.
    sort
        Group order (e.g. journey stages); default: by value, best first.
    """
    import altair as alt  # lazy: altair costs ~0.2 s at import

    data = _prepare(df, [by, metric, "ci_low", "ci_high", "n"])
    label = _label(metric)
    y = alt.Y(
        f"{by}:N",
        title=None,
        sort=sort if sort is not None else alt.EncodingSortField(field=metric, order="descending"),
    )
    tooltip = [
        alt.Tooltip(f"{by}:N", title=by.capitalize()),
        alt.Tooltip(f"{metric}:Q", title=label, format=".1f"),
        alt.Tooltip("ci_low:Q", title="95% CI low", format=".1f"),
        alt.Tooltip("ci_high:Q", title="95% CI high", format=".1f"),
        alt.Tooltip("n:Q", title="n", format=","),
    ]
    base = alt.Chart(data)
    bars = base.mark_bar(color=_COLOR, opacity=0.8).encode(
        x=alt.X(f"{metric}:Q", title=f"{label} (95% CI)"), y=y, tooltip=tooltip
    )
    whiskers = base.mark_rule(color="#111827").encode(x="ci_low:Q", x2="ci_high:Q", y=y)
    height = max(60, 26 * len(data))
    return alt.layer(bars, whiskers).properties(
        width=width, height=height, title=title if title is not None else f"{label} by {by}"
    )


def share_chart(
    df: pd.DataFrame,
    by: str,
    *,
    title: str | None = None,
    sort: list[str] | None = None,
    width: int | str = "container",
) -> alt.Chart:
    """NPS composition per group: promoter, passive and detractor shares as stacked bars.

    ``df`` is ``ws.metrics.nps(by=...)``; shares may be fractions or percent (bars are normalised).
    """
    import altair as alt  # lazy: altair costs ~0.2 s at import

    data = _prepare(df, [by] + [c for c, _, _ in _SHARES])
    long = data.melt(id_vars=[by], value_vars=[c for c, _, _ in _SHARES], var_name="share", value_name="value")
    names = {c: name for c, name, _ in _SHARES}
    long["share"] = long["share"].map(names)
    long["order"] = long["share"].map({name: i for i, (_, name, _) in enumerate(_SHARES)})
    return (
        alt.Chart(long)
        .mark_bar()
        .encode(
            x=alt.X("value:Q", stack="normalize", title="Share of answers", axis=alt.Axis(format="%")),
            y=alt.Y(f"{by}:N", title=None, sort=sort),
            color=alt.Color(
                "share:N",
                title=None,
                scale=alt.Scale(domain=[n for _, n, _ in _SHARES], range=[c for _, _, c in _SHARES]),
                legend=alt.Legend(orient="bottom"),
            ),
            order="order:Q",
            tooltip=[alt.Tooltip(f"{by}:N"), alt.Tooltip("share:N"), alt.Tooltip("value:Q", format=".1%")],
        )
        .properties(
            width=width,
            height=max(60, 26 * len(data)),
            title=title if title is not None else f"NPS composition by {by}",
        )
    )


def to_vega_lite(chart: alt.TopLevelMixin) -> dict[str, Any]:
    """The chart as a Vega-Lite (v6) JSON-ready dict with its data inlined."""
    import altair as alt  # lazy: altair costs ~0.2 s at import

    with alt.data_transformers.enable("default", max_rows=None):
        spec = chart.to_dict()
    spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
    return spec
