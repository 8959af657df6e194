"""Journey charts (Altair → Vega-Lite 6): the journey-map heat grid, the paths Sankey, path bars.

Like :mod:`cxlens.charts`, each builder takes the tidy table a journey function returns and
returns an Altair chart; :func:`cxlens.charts.to_vega_lite` turns it into the JSON the dashboard
and the HTML export embed with vega-embed 7. Vega-Lite has no Sankey mark, so
:func:`sankey_chart` lays the diagram out here (node boxes stacked per step, each link a band
whose edges follow a smooth S-curve sampled at :data:`CURVE_POINTS` points) and draws it with
plain ``rect``, ``area`` and ``text`` marks, which every Vega-Lite renderer supports.

Examples
--------
>>> import pandas as pd
>>> from cxlens.charts import to_vega_lite
>>> edges = pd.DataFrame({"source_step": [1, 1], "source": ["visit", "visit"], "target_step": [2, 2],
...                       "target": ["cart", "(exit)"], "customers": [30, 70]})
>>> spec = to_vega_lite(sankey_chart(edges))
>>> [layer["mark"]["type"] for layer in spec["layer"]]
['area', 'rect', 'text']
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    import altair as alt

__all__ = [
    "CURVE_POINTS",
    "MAP_MEASURES",
    "dropoff_chart",
    "funnel_chart",
    "journey_map_chart",
    "paths_chart",
    "sankey_chart",
]

#: points sampled along each Sankey link's edges
CURVE_POINTS = 16
#: journey-map columns drawn by default: column → (title, direction: +1 higher is worse, -1 higher is better, 0 neutral, number format)
MAP_MEASURES: dict[str, tuple[str, int, str]] = {
    "volume": ("Events", 0, ",.0f"),
    "reach": ("Reach %", 0, ".0f"),
    "conversion": ("Next stage %", -1, ".0f"),
    "drop_off": ("Drop-off %", 1, ".0f"),
    "nps": ("NPS", -1, ".0f"),
    "csat": ("CSAT %", -1, ".0f"),
    "ces": ("CES", -1, ".2f"),
    "unhappy": ("Unhappy %", 1, ".0f"),
    "pain_score": ("Pain", 1, ".0f"),
}
_EXIT_COLOR = "#d1d5db"
_NODE_COLORS = ["#2563eb", "#16a34a", "#f59e0b", "#9333ea", "#dc2626", "#0891b2", "#db2777", "#65a30d",
                "#ea580c", "#4f46e5", "#0d9488", "#a16207"]  # fmt: skip


def _fmt(value: float, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return format(float(value), spec)


def _row_label(df: pd.DataFrame) -> pd.Series:
    stage = df["stage_label"] if "stage_label" in df else df["stage"]
    label = df["label"] if "label" in df else df["touchpoint"]
    label = label.where(label.notna(), "(no touchpoint)")
    return stage.fillna("(no stage)").astype(str) + " · " + label.astype(str)


def journey_map_chart(
    df: pd.DataFrame,
    measures: list[str] | None = None,
    *,
    title: str | None = "Journey map",
    hide_empty: bool = True,
    width: int | str = "container",
) -> alt.Chart:
    """The journey map as a heat grid: one row per stage · touchpoint, one column per measure.

    Parameters
    ----------
    df
        :func:`cxlens.journeys.maps.journey_map` output (row order kept).
    measures
        Columns to draw (default: those of :data:`MAP_MEASURES` present in ``df``).
    hide_empty
        Leave out cells with neither events nor survey answers.

    Colour shows how bad a value is **within its column** (its rank among the column's values,
    red = worst, green = best); neutral columns (events, reach) are grey. The cell text is the value.
    """
    import altair as alt  # lazy: altair costs ~0.2 s at import

    measures = measures or [m for m in MAP_MEASURES if m in df.columns]
    missing = [m for m in measures if m not in df.columns]
    if missing:
        raise ValueError(f"journey map has no column {missing[0]!r}; expected journey_map() output")
    data = df.copy()
    if hide_empty and {"volume", "survey_n"} <= set(data.columns):
        data = data[(data["volume"] > 0) | (data["survey_n"] > 0)]
    rows = _row_label(data).tolist()
    long = []
    for m in measures:
        name, direction, fmt = MAP_MEASURES.get(m, (m.replace("_", " ").capitalize(), 0, ".1f"))
        vals = pd.to_numeric(data[m], errors="coerce")
        heat = (direction * vals).rank(pct=True) if direction else pd.Series(np.nan, index=vals.index)
        for row, v, h in zip(rows, vals, heat, strict=True):
            long.append({"row": row, "measure": name, "value": None if pd.isna(v) else float(v),
                         "text": _fmt(v, fmt), "heat": None if pd.isna(h) else float(h)})  # fmt: skip
    long_df = pd.DataFrame(long, columns=["row", "measure", "value", "text", "heat"])
    columns = [MAP_MEASURES.get(m, (m,))[0] for m in measures]
    x = alt.X("measure:N", sort=columns, title=None, axis=alt.Axis(orient="top", labelAngle=0))
    y = alt.Y("row:N", sort=rows, title=None)
    base = alt.Chart(long_df)
    cells = base.mark_rect(stroke="white", strokeWidth=1).encode(
        x=x,
        y=y,
        color=alt.condition(
            "datum.heat === null",
            alt.value("#f3f4f6"),
            alt.Color("heat:Q", scale=alt.Scale(scheme="redyellowgreen", reverse=True, domain=[0, 1]), legend=None),
        ),
        tooltip=[
            alt.Tooltip("row:N", title="Touchpoint"),
            alt.Tooltip("measure:N", title="Measure"),
            alt.Tooltip("text:N", title="Value"),
        ],  # fmt: skip
    )
    text = base.mark_text(fontSize=11).encode(x=x, y=y, text="text:N")
    return alt.layer(cells, text).properties(width=width, height=max(80, 24 * len(rows)), title=title or "")


def _sankey_layout(edges: pd.DataFrame, count: str, gap: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Node boxes and link bands in data units (x = step, y = units stacked with ``gap`` between nodes)."""
    out_f: dict[tuple[int, str], float] = {}
    in_f: dict[tuple[int, str], float] = {}
    for r in edges.itertuples(index=False):
        n = float(getattr(r, count))
        out_f[(int(r.source_step), r.source)] = out_f.get((int(r.source_step), r.source), 0.0) + n
        in_f[(int(r.target_step), r.target)] = in_f.get((int(r.target_step), r.target), 0.0) + n
    # a node is as tall as the larger of its in- and out-flow
    value = {k: max(out_f.get(k, 0.0), in_f.get(k, 0.0)) for k in {**out_f, **in_f}}
    nodes = pd.DataFrame([(s, name, v) for (s, name), v in value.items()], columns=["step", "node", "value"])
    nodes["exit"] = nodes["node"] == "(exit)"
    nodes = nodes.sort_values(["step", "exit", "value", "node"], ascending=[True, True, False, True])
    y0 = []
    for _, grp in nodes.groupby("step", sort=True):
        top = 0.0
        for v in grp["value"]:
            y0.append(top)
            top += v + gap
    nodes["y0"] = y0
    nodes["y1"] = nodes["y0"] + nodes["value"]
    pos = {(r.step, r.node): (r.y0, i) for i, r in enumerate(nodes.itertuples(index=False))}
    e = edges.copy()
    e["_s"] = [pos[(int(a), b)][1] for a, b in zip(e["source_step"], e["source"], strict=True)]
    e["_t"] = [pos[(int(a), b)][1] for a, b in zip(e["target_step"], e["target"], strict=True)]
    out_off = {k: v[0] for k, v in pos.items()}
    in_off = dict(out_off)
    bands = []
    t = np.linspace(0.0, 1.0, CURVE_POINTS)
    ease = t * t * (3 - 2 * t)  # smoothstep: flat at both ends, like a Sankey link
    for i, r in enumerate(e.sort_values(["_s", "_t"]).itertuples(index=False)):
        s, tg, n = (int(r.source_step), r.source), (int(r.target_step), r.target), float(getattr(r, count))
        sy, ty = out_off[s], in_off[tg]
        out_off[s] += n
        in_off[tg] += n
        lo = sy + (ty - sy) * ease
        for x, y in zip(s[0] + 0.06 + (tg[0] - s[0] - 0.12) * t, lo, strict=True):
            bands.append({"link": i, "x": float(x), "y0": float(y), "y1": float(y + n), "source": r.source,
                          "target": r.target, "source_step": s[0], "units": n})  # fmt: skip
    return nodes, pd.DataFrame(bands)


def sankey_chart(
    edges: pd.DataFrame,
    *,
    title: str | None = "Paths",
    width: int | str = "container",
    height: int = 360,
) -> alt.LayerChart:
    """A Sankey diagram of :func:`cxlens.journeys.paths.flows` edges (steps left to right).

    Node boxes are as tall as the units passing through them; links are coloured by their source
    node; ``(exit)`` nodes (paths that ended) are grey.
    """
    import altair as alt  # lazy: altair costs ~0.2 s at import

    count = next((c for c in ("customers", "sessions") if c in edges.columns), None)
    needed = ["source_step", "source", "target_step", "target"]
    if count is None or any(c not in edges.columns for c in needed):
        raise ValueError("sankey_chart needs flows() output: source_step, source, target_step, target, customers")
    total = edges.loc[edges["source_step"] == edges["source_step"].min(), count].sum() if len(edges) else 0
    nodes, bands = _sankey_layout(edges, count, gap=max(total, 1) * 0.04)
    names = sorted(set(nodes["node"]) - {"(exit)"})
    palette = {n: _NODE_COLORS[i % len(_NODE_COLORS)] for i, n in enumerate(names)}
    palette["(exit)"] = _EXIT_COLOR
    color = alt.Scale(domain=list(palette), range=list(palette.values()))
    ymax = float(nodes["y1"].max()) if len(nodes) else 1.0
    y_scale = alt.Scale(domain=[ymax, 0], nice=False)
    x_scale = alt.Scale(domain=[0.9, float(nodes["step"].max() if len(nodes) else 1) + 0.6], nice=False)
    nodes = nodes.assign(x0=nodes["step"] - 0.06, x1=nodes["step"] + 0.06,
                         label=[f"{n} ({int(v):,})" for n, v in zip(nodes["node"], nodes["value"], strict=True)])  # fmt: skip
    links = (
        alt.Chart(bands)
        .mark_area(opacity=0.35, interpolate="monotone")
        .encode(
            x=alt.X("x:Q", scale=x_scale, axis=None),
            y=alt.Y("y0:Q", scale=y_scale, axis=None),
            y2="y1:Q",
            detail="link:N",
            color=alt.Color("source:N", scale=color, legend=None),
            tooltip=[
                alt.Tooltip("source:N", title="From"),
                alt.Tooltip("target:N", title="To"),
                alt.Tooltip("units:Q", title=count.capitalize(), format=","),
            ],  # fmt: skip
        )
    )
    boxes = (
        alt.Chart(nodes)
        .mark_rect()
        .encode(
            x=alt.X("x0:Q", scale=x_scale, axis=None),
            x2="x1:Q",
            y=alt.Y("y0:Q", scale=y_scale, axis=None),
            y2="y1:Q",
            color=alt.Color("node:N", scale=color, legend=None),
            tooltip=[
                alt.Tooltip("step:Q", title="Step"),
                alt.Tooltip("node:N", title="Node"),
                alt.Tooltip("value:Q", title=count.capitalize(), format=","),
            ],  # fmt: skip
        )
    )
    labels = (
        alt.Chart(nodes.assign(ym=(nodes["y0"] + nodes["y1"]) / 2))
        .mark_text(align="left", dx=4, fontSize=11)
        .encode(x=alt.X("x1:Q", scale=x_scale, axis=None), y=alt.Y("ym:Q", scale=y_scale, axis=None), text="label:N")
    )
    return alt.layer(links, boxes, labels).properties(width=width, height=height, title=title or "")


def _bars(df: pd.DataFrame, label: str, count: str, title: str, width: int | str) -> alt.Chart:
    import altair as alt  # lazy: altair costs ~0.2 s at import

    keep = [c for c in (count, "share", "conversion") if c in df.columns]
    data = df[keep].assign(_label=df[label].astype(str))
    data = data.astype(object).where(data.notna(), None)  # NaN is not JSON
    order = data["_label"].tolist()
    tooltip = [alt.Tooltip("_label:N", title=label.capitalize()), alt.Tooltip(f"{count}:Q", format=","),
               alt.Tooltip("share:Q", format=".1%")]  # fmt: skip
    if "conversion" in data.columns:
        tooltip.append(alt.Tooltip("conversion:Q", title="Conversion", format=".1%"))
    return (
        alt.Chart(data)
        .mark_bar(color="#2563eb", opacity=0.85)
        .encode(
            x=alt.X("share:Q", title=f"Share of {count}", axis=alt.Axis(format="%")),
            y=alt.Y("_label:N", sort=order, title=None, axis=alt.Axis(labelLimit=420)),
            tooltip=tooltip,
        )
        .properties(width=width, height=max(60, 24 * len(data)), title=title)
    )


def paths_chart(df: pd.DataFrame, *, title: str = "Top paths", width: int | str = "container") -> alt.Chart:
    """Top paths (:func:`cxlens.journeys.paths.paths` output) as bars of their share, most frequent first."""
    count = next((c for c in ("customers", "sessions") if c in df.columns), None)
    if count is None or "path" not in df.columns:
        raise ValueError("paths_chart needs paths() output with 'path', 'customers' (or 'sessions') and 'share'")
    return _bars(df, "path", count, title, width)


def dropoff_chart(
    df: pd.DataFrame, *, title: str = "Last event before leaving", width: int | str = "container"
) -> alt.Chart:
    """:func:`cxlens.journeys.paths.last_before_dropoff` output as bars of the share of leavers."""
    count = next((c for c in ("customers", "sessions") if c in df.columns), None)
    if count is None or "share" not in df.columns:
        raise ValueError("dropoff_chart needs last_before_dropoff() output")
    keys = [c for c in df.columns if c not in (count, "share", "dropped")]
    data = df.assign(event=df[keys].astype(str).agg(" @ ".join, axis=1))
    return _bars(data, "event", count, title, width)


#: columns of :func:`cxlens.journeys.funnels.funnel` output that are not breakdown groups
_FUNNEL_COLUMNS = ("step", "event", "customers", "conversion", "step_conversion", "dropped", "median_seconds",
                   "p90_seconds")  # fmt: skip


def funnel_chart(
    df: pd.DataFrame, *, title: str | None = "Funnel", width: int | str = "container", height: int = 260
) -> alt.LayerChart:
    """Funnel bars: customers reaching each step, labelled with the conversion from step 1.

    Parameters
    ----------
    df
        :func:`cxlens.journeys.funnels.funnel` output. Breakdown columns (any column besides the
        funnel's own) become side-by-side bars coloured by group.

    Examples
    --------
    >>> import pandas as pd
    >>> from cxlens.charts import to_vega_lite
    >>> df = pd.DataFrame({"step": [1, 2], "event": ["visit", "purchase"], "customers": [100, 40],
    ...                    "conversion": [1.0, 0.4], "step_conversion": [1.0, 0.4]})
    >>> [d["text"] for d in to_vega_lite(funnel_chart(df))["datasets"].popitem()[1]]
    ['100%', '40%']
    """
    import altair as alt  # lazy: altair costs ~0.2 s at import

    needed = ["step", "event", "customers", "conversion"]
    if any(c not in df.columns for c in needed):
        raise ValueError("funnel_chart needs funnel() output: step, event, customers, conversion")
    by = [c for c in df.columns if c not in _FUNNEL_COLUMNS]
    labels = [f"{int(s)}. {e}" for s, e in zip(df["step"], df["event"], strict=True)]
    order = list(dict.fromkeys(labels[i] for i in pd.Series(df["step"]).argsort(kind="stable")))
    data = pd.DataFrame({
        "label": labels,
        "customers": df["customers"].astype("int64"),
        "conversion": df["conversion"].astype(float),
        "step_conversion": (df["step_conversion"] if "step_conversion" in df else df["conversion"]).astype(float),
    })  # fmt: skip
    data["text"] = [_fmt(100 * v, ".0f") + "%" if not pd.isna(v) else "–" for v in data["conversion"]]
    tooltip = [alt.Tooltip("label:N", title="Step"), alt.Tooltip("customers:Q", title="Customers", format=","),
               alt.Tooltip("conversion:Q", title="Conversion", format=".1%"),
               alt.Tooltip("step_conversion:Q", title="From previous step", format=".1%")]  # fmt: skip
    x = alt.X("label:N", sort=order, title=None, axis=alt.Axis(labelAngle=0, labelLimit=180))
    y = alt.Y("customers:Q", title="Customers")
    enc: dict = {"x": x, "y": y}
    if by:
        data["group"] = df[by].astype(object).where(df[by].notna(), "(none)").astype(str).agg(" · ".join, axis=1)
        enc |= {"color": alt.Color("group:N", title=" · ".join(by)), "xOffset": alt.XOffset("group:N")}
        tooltip.insert(0, alt.Tooltip("group:N", title=" · ".join(by)))
    base = alt.Chart(data)
    bars = base.mark_bar(color="#2563eb", opacity=0.9).encode(**enc, tooltip=tooltip)
    text = base.mark_text(dy=-6, fontSize=11, baseline="bottom").encode(**enc, text="text:N")
    return alt.layer(bars, text).properties(width=width, height=height, title=title or "")
