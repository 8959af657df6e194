"""The PNG charts of a scheduled digest: the KPI trend (each metric over the last periods with its 95 %
CI band, :func:`cxlens.charts.trend_chart`) and the top themes (the period's count beside the period
before). Drawn from the digest's own report (``report.metrics[].trend``, ``report.themes``) with
vl-convert, so the e-mail, the shared link and the Slack image show the same numbers as the text.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

__all__ = ["CHARTS", "digest_charts", "digest_png"]

log = logging.getLogger(__name__)

#: the charts a digest carries: name → alt text
CHARTS = {"kpi": "KPI trend with 95% confidence bands", "themes": "Top themes: this period and the one before"}
_FORMAT = {"day": "%d %b", "week": "%d %b", "month": "%b %Y"}
WIDTH = 520


def _kpi_spec(report: dict[str, Any]) -> dict[str, Any] | None:
    import altair as alt

    from cxlens.charts import METRIC_LABELS, to_vega_lite, trend_chart

    parts = []
    for m in report.get("metrics", []):
        rows = [r for r in m.get("trend") or [] if r.get("value") is not None]
        if not rows:
            continue
        df = pd.DataFrame(rows).rename(columns={"value": m["metric"]})
        df["period"] = pd.to_datetime(df["period"])
        df["small_sample"] = df["n"] < 30
        label = METRIC_LABELS.get(m["metric"], m["metric"])
        parts.append(trend_chart(df, m["metric"], title=f"{label} by {report.get('period', 'period')} (95% CI)",
                                 width=WIDTH, height=150, time_format=_FORMAT.get(report.get("period"), "%b %Y")))  # fmt: skip
    if not parts:
        return None
    return to_vega_lite(alt.vconcat(*parts) if len(parts) > 1 else parts[0])


def _themes_spec(report: dict[str, Any]) -> dict[str, Any] | None:
    import altair as alt

    from cxlens.charts import to_vega_lite

    themes = report.get("themes") or []
    if not themes:
        return None
    rows = [{"theme": t.get("name") or t["theme"], "when": w, "n": int(t[k])} for t in themes
            for w, k in (("this period", "n"), ("period before", "previous_n"))]  # fmt: skip
    chart = (
        alt.Chart(pd.DataFrame(rows))
        .mark_bar()
        .encode(
            y=alt.Y("theme:N", sort=[t.get("name") or t["theme"] for t in themes], title=None),
            yOffset=alt.YOffset("when:N", sort=["this period", "period before"]),
            x=alt.X("n:Q", title="Comments"),
            color=alt.Color(
                "when:N",
                sort=["this period", "period before"],
                title=None,
                scale=alt.Scale(range=["#2563eb", "#cbd5e1"]),
            ),
        )  # fmt: skip
        .properties(width=WIDTH, height=max(60, 34 * len(themes)), title="Top themes")
    )
    return to_vega_lite(chart)


def digest_png(report: dict[str, Any], name: str) -> bytes | None:
    """Chart ``name`` (``kpi`` or ``themes``) of a digest's report as PNG bytes, or None when the report
    has nothing to draw."""
    import vl_convert as vlc  # a core dependency (the journey map export uses it too)

    spec = {"kpi": _kpi_spec, "themes": _themes_spec}[name](report)
    return None if spec is None else bytes(vlc.vegalite_to_png(spec, scale=2))


def digest_charts(report: dict[str, Any] | None) -> dict[str, bytes]:
    """Every chart of a digest's report that has data (name → PNG). A chart that fails to draw is left
    out (and logged): a digest is never held back by its pictures."""
    out: dict[str, bytes] = {}
    for name in CHARTS:
        try:
            png = digest_png(report or {}, name)
        except Exception:  # noqa: BLE001 - the message goes out without the picture
            log.exception("digest chart %s could not be drawn", name)
            continue
        if png:
            out[name] = png
    return out
