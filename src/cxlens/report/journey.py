"""The journey map as a self-contained HTML page (for slides and e-mail)."""

from __future__ import annotations

import datetime as dt
import json
import os
from html import escape
from pathlib import Path
from typing import Any

import pandas as pd

from cxlens.charts import to_vega_lite
from cxlens.errors import ConfigError
from cxlens.journeys.charts import journey_map_chart
from cxlens.journeys.maps import channel_consistency, journey_map
from cxlens.metrics.common import DateLike, FilterMap
from cxlens.report.assets import STATIC, inline_scripts

__all__ = ["journey_map_html", "render_journey_map"]


def journey_map_html(
    store: Any,
    path: str | os.PathLike[str],
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    *,
    title: str = "Journey map",
    window: str | dt.timedelta | int | float | None = None,
) -> Path:
    """Write the journey map as one self-contained HTML page (for slides and e-mail) and return its path.

    The page holds the heat grid (:func:`cxlens.journeys.charts.journey_map_chart`), the channel
    consistency flags and the pain-score definition; vega, vega-lite and vega-embed are inlined
    from the dashboard's vendored copies (as :mod:`cxlens.report` does), so it opens offline.

    Examples
    --------
    >>> import cxlens, tempfile, pathlib
    >>> ws = cxlens.open(":memory:")
    >>> out = journey_map_html(ws, pathlib.Path(tempfile.mkdtemp()) / "map.html")
    >>> out.read_text().startswith("<!doctype html>")
    True
    """
    out = Path(path)
    if not out.parent.exists():
        raise ConfigError(f"folder {str(out.parent)!r} for journey map {str(out)!r} does not exist; create it first")
    df = journey_map(store, start, end, filters, window=window)
    cc = channel_consistency(store, start, end, filters)
    page = render_journey_map(df, cc, title=title)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(page, encoding="utf-8")
    tmp.replace(out)
    return out


def render_journey_map(df: pd.DataFrame, consistency: pd.DataFrame | None = None, *, title: str = "Journey map") -> str:
    """The HTML page of :func:`journey_map_html` from already computed tables."""
    spec = to_vega_lite(journey_map_chart(df, title=None))
    spec_json = json.dumps(spec, allow_nan=False, default=str).replace("</", "<\\/")
    scripts = inline_scripts()
    ranked = df[df["pain_rank"].notna()].sort_values("pain_rank")
    rows = "".join(
        f"<tr><td>{int(r.pain_rank)}</td><td>{escape(str(r.stage_label))}</td>"
        f"<td>{escape(str(r.label if isinstance(r.label, str) else '(no touchpoint)'))}</td>"
        f"<td>{r.pain_score:.0f}</td><td>{r.unhappy:.0f}%</td><td>{r.survey_n:,}</td>"
        f"<td>{'–' if pd.isna(r.drop_off) else f'{r.drop_off:.0f}%'}</td><td>{r.volume:,}</td></tr>"
        for r in ranked.itertuples(index=False)
    )
    flags = ""
    if consistency is not None and len(consistency):
        bad = consistency[consistency["significant"]]
        items = "".join(
            f"<li><b>{escape(str(r.touchpoint))}</b> {escape(str(r.metric)).upper()} on "
            f"{escape(str(r.channel))}: {r.value:.2f} vs {r.rest_value:.2f} on the other channels "
            f"(p = {r.p_value:.3g})</li>"
            for r in bad.itertuples(index=False)
        )
        flags = (
            f"<h2>Channel consistency</h2><ul>{items}</ul>"
            if items
            else "<h2>Channel consistency</h2><p>No touchpoint differs significantly between channels.</p>"
        )
    css = (STATIC / "app.css").read_text(encoding="utf-8")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{css}
body{{max-width:1100px;margin:24px auto;padding:0 16px;font-family:system-ui,sans-serif}}
table.pain{{border-collapse:collapse}} table.pain td,table.pain th{{padding:4px 10px;border-bottom:1px solid #e5e7eb;text-align:left}}
.chart-canvas{{width:100%}}</style></head>
<body><h1>{escape(title)}</h1>
<div class="chart-canvas" id="chart-journey-map" data-chart="journey-map" data-spec-id="chart-journey-map-spec"
 role="img" aria-label="Journey map heat grid"></div>
<script type="application/json" id="chart-journey-map-spec">{spec_json}</script>
<h2>Where it hurts most</h2>
<table class="pain"><thead><tr><th>Rank</th><th>Stage</th><th>Touchpoint</th><th>Pain</th><th>Unhappy</th>
<th>Answers</th><th>Drop-off</th><th>Events</th></tr></thead><tbody>{rows}</tbody></table>
<p><small>Pain score = events share × unhappy share (NPS 0-6, CSAT 1-3, CES 1-4; shrunk towards the overall
share with 30 answers) × drop-off to the next stage, scaled so the worst touchpoint scores 100.
Touchpoints without survey answers are not scored.</small></p>
{flags}
{"".join(f"<script>{s}</script>" for s in scripts)}
</body></html>
"""
