"""Behaviour charts (Altair → Vega-Lite): click density of a page, scroll reach, worst pages.

One spec serves the dashboard (vega-embed), the CLI (``--out heatmap.png`` through
``vl-convert-python``) and notebooks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from cxlens.charts import to_vega_lite
from cxlens.errors import ParameterError

__all__ = ["frustration_chart", "heatmap_chart", "save_chart", "scroll_chart"]


def heatmap_chart(cells: pd.DataFrame, *, title: str = "", x_bins: int = 50, y_px: int = 20) -> dict[str, Any]:
    """Click density: x as a share of the viewport width, y in page pixels (top down), colour = clicks."""
    import altair as alt  # lazy: altair costs ~0.2 s at import

    df = cells.copy()
    df["x2"] = df["x"] + 1 / x_bins
    df["y2"] = df["y"] + y_px
    chart = (
        alt.Chart(df)
        .mark_rect()
        .encode(
            x=alt.X("x:Q", title="share of the viewport width", scale=alt.Scale(domain=[0, 1])),
            x2="x2:Q",
            y=alt.Y("y:Q", title="page y (px)", scale=alt.Scale(reverse=True, zero=True)),
            y2="y2:Q",
            color=alt.Color("clicks:Q", scale=alt.Scale(scheme="inferno", reverse=True), title="clicks"),
            tooltip=["x:Q", "y:Q", "clicks:Q", alt.Tooltip("share:Q", format=".1%")],
        )
        .properties(title=title or "clicks", width=360, height=480)
    )
    return to_vega_lite(chart)


def scroll_chart(reach: pd.DataFrame, *, title: str = "") -> dict[str, Any]:
    """Scroll reach: share of page views reaching each depth, with its 95 % interval."""
    import altair as alt  # lazy: altair costs ~0.2 s at import

    base = alt.Chart(reach).encode(y=alt.Y("depth:Q", title="page depth (%)", scale=alt.Scale(reverse=True)))
    band = base.mark_area(opacity=0.25).encode(x="ci_low:Q", x2="ci_high:Q")
    line = base.mark_line(point=True).encode(
        x=alt.X("reach:Q", title="page views reaching", axis=alt.Axis(format="%"), scale=alt.Scale(domain=[0, 1])),
        tooltip=["depth:Q", alt.Tooltip("reach:Q", format=".1%"), "pageviews:Q", "n:Q"],
    )
    return to_vega_lite((band + line).properties(title=title or "scroll reach", width=360, height=300))


def frustration_chart(frame: pd.DataFrame, key: str, *, top: int = 15, title: str = "") -> dict[str, Any]:
    """Worst groups by frustration score (weighted signals per 100 page views)."""
    import altair as alt  # lazy: altair costs ~0.2 s at import

    df = frame.dropna(subset=["frustration_score"]).head(top).copy()
    df["label"] = df[key].astype(str) if key != "selector" else df["url"].astype(str) + " " + df["selector"].astype(str)
    chart = (
        alt.Chart(df)
        .mark_bar()
        .encode(
            x=alt.X("frustration_score:Q", title="frustration score (per 100 page views)"),
            y=alt.Y("label:N", sort="-x", title=None),
            tooltip=[
                "label:N",
                "pageviews:Q",
                "rage_clicks:Q",
                "dead_clicks:Q",
                "error_clicks:Q",
                "frustration_score:Q",
            ],  # fmt: skip
        )
        .properties(title=title or "most frustrating", width=420)
    )
    return to_vega_lite(chart)


def save_chart(spec: dict[str, Any], path: str | Path) -> Path:
    """Write a Vega-Lite spec as PNG, SVG or HTML (by the file's suffix)."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".png", ".svg", ".json"):
        raise ParameterError("out", f"--out {str(path)!r} ends in {suffix!r}; expected .png, .svg or .json")
    if suffix == ".json":
        import json

        path.write_text(json.dumps(spec), encoding="utf-8")
        return path
    import vl_convert as vlc  # a core dependency (the journey map export uses it too)

    if suffix == ".png":
        path.write_bytes(vlc.vegalite_to_png(spec, scale=2))
    else:
        path.write_text(vlc.vegalite_to_svg(spec), encoding="utf-8")
    return path
