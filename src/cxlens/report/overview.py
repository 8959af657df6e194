"""The overview: what the dashboard's first page and the HTML report show.

:func:`build_overview` asks ``ws.metrics`` for the headline KPIs, their period-over-period
changes, monthly trends, breakdowns by touchpoint and stage and the significant movers, and
returns display-ready values (formatted with :mod:`cxlens.report.format`). It computes no
metric itself. A KPI that cannot be computed for the chosen filters (for example AOV filtered
by touchpoint, which orders do not have) is shown as unavailable with the reason.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from cxlens import charts
from cxlens.errors import CxlensError
from cxlens.metrics import Metrics
from cxlens.metrics.filters import Filters
from cxlens.report import format as fmt
from cxlens.schema.pii import current_policy

__all__ = ["KPIS", "Kpi", "Overview", "build_overview", "filter_options", "latest_comments"]

FILTER_DIMENSIONS = ("channel", "touchpoint", "stage", "segment", "saved_segment")


@dataclass(frozen=True)
class Kpi:
    """How one headline KPI is read from a ``ws.metrics`` table."""

    key: str
    label: str
    method: str
    value: tuple[str, ...]
    format: str
    n: tuple[str, ...] = ("n",)
    ci: tuple[str, str] | None = ("ci_low", "ci_high")
    higher_is_better: bool = True
    change: str | None = None
    #: unit of a change (points, pp…)
    delta_unit: str = ""
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    help: str = ""


#: The overview's KPI tiles, in display order.
KPIS: tuple[Kpi, ...] = (
    Kpi(
        "nps",
        "NPS",
        "nps",
        ("nps",),
        "number",
        change="nps",
        delta_unit=" pts",
        help="% promoters (9–10) minus % detractors (0–6)",
    ),
    Kpi(
        "csat",
        "CSAT",
        "csat",
        ("csat",),
        "percent",
        change="csat",
        delta_unit=" pp",
        help="% of answers 4–5 on a 1–5 scale",
    ),
    Kpi("ces", "CES", "ces", ("ces",), "number2", change="ces", help="mean effort score, 1–7 (higher is easier)"),
    Kpi(
        "churn",
        "Churn rate",
        "churn",
        ("churn_rate",),
        "percent",
        higher_is_better=False,
        change="churn",
        delta_unit=" pp",
        help="share of active customers lost in the last complete month",
        kwargs={"last": 3},
    ),
    Kpi(
        "aov",
        "Average order value",
        "value",
        ("aov",),
        "money",
        n=("orders", "n"),
        ci=("aov_ci_low", "aov_ci_high"),
        change="aov",
        help="revenue per order",
    ),
    Kpi(
        "cart_abandonment",
        "Cart abandonment",
        "carts",
        ("abandonment_rate",),
        "percent",
        n=("carts", "n"),
        higher_is_better=False,
        change="carts",
        delta_unit=" pp",
        help="share of started carts not completed",
    ),
    Kpi(
        "first_response",
        "First response (median)",
        "support",
        ("first_response_median_h",),
        "hours",
        n=("responded", "n"),
        ci=None,
        higher_is_better=False,
        change=None,
        help="median hours to the first reply (p90 below)",
    ),
)


@dataclass
class Change:
    direction: str  # up | down | flat
    arrow: str
    delta_display: str
    significant: bool
    sig_display: str
    css: str
    aria: str


@dataclass
class Tile:
    key: str
    label: str
    value: float | None
    display: str
    n: int | None
    n_display: str
    ci_low: float | None
    ci_high: float | None
    ci_display: str
    small_sample: bool = False
    change: Change | None = None
    available: bool = True
    note: str = ""
    help: str = ""


@dataclass
class ChartView:
    id: str
    title: str
    description: str
    spec: dict[str, Any] | None
    empty: str = "No data for these filters."


@dataclass
class Cell:
    display: str
    ci_display: str = ""
    n_display: str = ""
    small_sample: bool = False


@dataclass
class BreakdownRow:
    group: str
    cells: list[Cell]


@dataclass
class Breakdown:
    by: str
    label: str
    title: str
    columns: list[str]
    rows: list[BreakdownRow]


@dataclass
class Mover:
    metric: str
    metric_label: str
    dimension: str
    group: str
    previous: str
    current: str
    delta: str
    p: str
    arrow: str
    css: str


@dataclass
class Comment:
    id: str
    text: str
    metric: str
    score: str
    touchpoint: str
    channel: str
    ts_iso: str
    ts_display: str


@dataclass
class FilterOption:
    name: str
    label: str
    values: list[str]
    selected: str | None


@dataclass
class Overview:
    """Display-ready content of the overview (see :func:`build_overview`)."""

    start: str | None
    end: str | None
    filters: dict[str, Any]
    range_label: str
    query_string: str
    change_period: str
    tiles: list[Tile]
    charts: list[ChartView]
    breakdowns: list[Breakdown]
    movers: list[Mover]
    comments: list[Comment] | None

    def tile(self, key: str) -> Tile:
        return next(t for t in self.tiles if t.key == key)


# -- helpers -------------------------------------------------------------------------
def _finite(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _first(row: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        if name in row:
            return row[name]
    return None


def _iso(v: Any) -> str | None:
    if v is None or v == "":
        return None
    return pd.Timestamp(v).date().isoformat()


def _call(ws: Any, method: str, **kwargs: Any) -> pd.DataFrame:
    fn: Callable[..., Any] | None = getattr(Metrics(ws), method, None)
    if fn is None:
        raise _Unavailable(f"{method} is not available in this version of cxlens")
    out = fn(**kwargs)
    return out if isinstance(out, pd.DataFrame) else pd.DataFrame([out])


class _Unavailable(Exception):
    pass


def _ci(low: Any, high: Any, f: Callable[[Any], str]) -> str:
    lo, hi = _finite(low), _finite(high)
    if lo is None or hi is None:
        return ""
    return f"{f(lo)} – {f(hi)}"


def _change(kpi: Kpi, row: Mapping[str, Any], period: str) -> Change | None:
    delta = _finite(row.get("delta"))
    if delta is None:
        return None
    significant = bool(row.get("significant")) if row.get("significant") is not None else False
    direction = "up" if delta > 0 else "down" if delta < 0 else "flat"
    arrow = {"up": "▲", "down": "▼", "flat": "▬"}[direction]
    good = None if direction == "flat" else (direction == "up") == kpi.higher_is_better
    digits = 2 if kpi.format == "number2" else 1
    delta_display = fmt.signed(delta, digits) + kpi.delta_unit
    p = fmt.p_value(row.get("p_value"))
    sig_display = ("significant, " if significant else "not significant, ") + p if p != fmt.MISSING else ""
    css = "flat" if good is None else ("good" if good else "bad")
    css += " significant" if significant else " not-significant"
    aria = (
        f"{kpi.label} {('rose' if direction == 'up' else 'fell' if direction == 'down' else 'did not change')} "
        f"by {fmt.number(abs(delta), digits)}{kpi.delta_unit} in the last {period} versus the previous {period}; "
        f"{'significant' if significant else 'not significant'} ({p})"
    )
    return Change(direction, arrow, f"{delta_display} vs previous {period}", significant, sig_display, css, aria)


def _tile(ws: Any, kpi: Kpi, common: dict[str, Any], period: str) -> Tile:
    f = fmt.FORMATS[kpi.format]
    try:
        df = _call(ws, kpi.method, **common, **kpi.kwargs)
    except (CxlensError, _Unavailable) as e:
        return Tile(
            kpi.key,
            kpi.label,
            None,
            fmt.MISSING,
            None,
            fmt.MISSING,
            None,
            None,
            "",
            available=False,
            note=f"Not available: {e}",
            help=kpi.help,
        )
    if df.empty:
        return Tile(kpi.key, kpi.label, None, fmt.MISSING, 0, "0", None, None, "", help=kpi.help)
    note = ""
    if "complete" in df.columns and "period" in df.columns:
        done = df[df["complete"].fillna(False).astype(bool)]
        df = done if not done.empty else df
        note = f"{pd.Timestamp(df.iloc[-1]['period']):%B %Y}" + ("" if not done.empty else " (so far)")
    row = df.iloc[-1].to_dict()
    if "first_response_p90_h" in row:
        note = f"p90 {fmt.hours(row['first_response_p90_h'])}"
    value = _finite(_first(row, kpi.value))
    n = _finite(_first(row, kpi.n))
    lo, hi = (row.get(kpi.ci[0]), row.get(kpi.ci[1])) if kpi.ci else (None, None)
    tile = Tile(
        kpi.key,
        kpi.label,
        value,
        f(value),
        int(n) if n is not None else None,
        fmt.count(n),
        _finite(lo),
        _finite(hi),
        _ci(lo, hi, f),
        small_sample=bool(row.get("small_sample") or False),
        help=kpi.help,
        note=note,
    )
    if kpi.change:
        try:
            ch = _call(ws, "change", metric=kpi.change, period=period, last=2, **common)
        except (CxlensError, _Unavailable, TypeError):
            ch = pd.DataFrame()
        if not ch.empty:
            tile.change = _change(kpi, ch.iloc[-1].to_dict(), period)
    return tile


def _trend(ws: Any, method: str, metric: str, label: str, common: dict[str, Any]) -> ChartView:
    cid = f"{metric}-trend"
    try:
        df = _call(ws, method, period="month", **common)
    except (CxlensError, _Unavailable) as e:
        return ChartView(cid, f"{label} by month", f"{label} by month", None, empty=f"Not available: {e}")
    df = df[df["n"] > 0] if "n" in df.columns else df
    if df.empty:
        return ChartView(cid, f"{label} by month", f"{label} by month", None)
    last = df.iloc[-1]
    desc = (
        f"Line chart of {label} by month with its 95% confidence band, {len(df)} months; "
        f"latest {pd.Timestamp(last['period']):%B %Y}: {fmt.number(last[metric])} (n = {fmt.count(last['n'])})"
    )
    spec = charts.to_vega_lite(charts.trend_chart(df, metric, title=""))
    return ChartView(cid, f"{label} by month (95% CI band; hollow points are small samples)", desc, spec)


def _order(values: list[str], preferred: list[str]) -> list[str]:
    rank = {v: i for i, v in enumerate(preferred)}
    return sorted(values, key=lambda v: (rank.get(v, len(rank)), v))


_BREAKDOWN_METRICS = (("nps", "NPS", "number"), ("csat", "CSAT", "percent"), ("ces", "CES", "number2"))


def _breakdown(
    ws: Any, by: str, label: str, order: list[str], common: dict[str, Any]
) -> tuple[Breakdown, dict[str, pd.DataFrame]]:
    frames: dict[str, pd.DataFrame] = {}
    for metric, _, _ in _BREAKDOWN_METRICS:
        try:
            frames[metric] = _call(ws, metric, by=by, **common)
        except (CxlensError, _Unavailable):
            continue
    groups: list[str] = []
    for df in frames.values():
        for g, n in zip(df[by], df["n"], strict=True):
            if g is not None and not (isinstance(g, float) and math.isnan(g)) and n and str(g) not in groups:
                groups.append(str(g))
    groups = _order(groups, order)
    rows = []
    for g in groups:
        cells = []
        for metric, _, f in _BREAKDOWN_METRICS:
            df = frames.get(metric)
            hit = df[df[by].astype(str) == g] if df is not None else pd.DataFrame()
            if hit.empty or not hit.iloc[0]["n"]:
                cells.append(Cell(fmt.MISSING))
                continue
            r = hit.iloc[0]
            ff = fmt.FORMATS[f]
            cells.append(
                Cell(
                    ff(r[metric]),
                    _ci(r.get("ci_low"), r.get("ci_high"), ff),
                    fmt.count(r["n"]),
                    bool(r.get("small_sample") or False),
                )
            )
        rows.append(BreakdownRow(g, cells))
    cols = [name for _, name, _ in _BREAKDOWN_METRICS]
    return Breakdown(by, label, f"By {label.lower()}", [f"{c} (95% CI, n)" for c in cols], rows), frames


def _movers(ws: Any, period: str, common: dict[str, Any]) -> list[Mover]:
    out: list[Mover] = []
    for metric, label, f in (("nps", "NPS", "number"), ("csat", "CSAT", "percent")):
        for by in ("touchpoint", "stage"):
            try:
                df = _call(ws, "change", metric=metric, period=period, by=by, **common)
            except (CxlensError, _Unavailable, TypeError):
                continue
            if df.empty or "significant" not in df.columns:
                continue
            ff = fmt.FORMATS[f]
            if "period" in df.columns:
                df = df[df["period"] == df["period"].max()]
            for r in df[df["significant"].fillna(False).astype(bool)].to_dict("records"):
                delta = _finite(r.get("delta")) or 0.0
                up = delta > 0
                out.append(
                    Mover(
                        metric,
                        label,
                        by,
                        str(r.get(by)),
                        ff(r.get("previous")),
                        ff(r.get("value")),
                        fmt.signed(delta),
                        fmt.p_value(r.get("p_value")),
                        "▲" if up else "▼",
                        "good" if up else "bad",
                    )
                )
    return out


def latest_comments(
    ws: Any,
    *,
    start: Any = None,
    end: Any = None,
    filters: Mapping[str, Any] | None = None,
    limit: int = 8,
    segment: str | None = None,
) -> pd.DataFrame:
    """The newest feedback comments matching the dates and filters (id, ts, metric, score,
    touchpoint, channel, comment); ``segment``: members of that saved segment only. Comments are
    redacted for a caller who sees PII masked (:mod:`cxlens.schema.pii`)."""
    from cxlens.customers.segments import restrict_to_segment
    from cxlens.metrics.common import prepare

    try:
        customers = ws.table("customers")
    except CxlensError:
        customers = None
    fb = restrict_to_segment(ws, ws.table("feedback"), segment)
    t, _ = prepare(fb, customers=customers, start=start, end=end, filters=filters, what="comments")
    t = t.filter(t.comment.notnull() & (t.comment.strip() != ""))
    cols = ["feedback_id", "ts", "metric", "score", "touchpoint", "channel", "comment"]
    df = ws.read(t.select(*cols).order_by([t.ts.desc(), t.feedback_id]).limit(limit))
    df["comment"] = current_policy().texts(df["comment"])
    return df


def _comments(ws: Any, common: dict[str, Any]) -> list[Comment] | None:
    try:
        df = latest_comments(ws, **common)
    except CxlensError:
        return None
    out = []
    for r in df.to_dict("records"):
        ts = pd.Timestamp(r["ts"])
        out.append(
            Comment(
                str(r["feedback_id"]),
                str(r["comment"]),
                str(r["metric"] or "").upper(),
                fmt.number(r["score"], 0),
                fmt.label(r["touchpoint"]),
                fmt.label(r["channel"]),
                ts.isoformat(),
                f"{ts:%Y-%m-%d %H:%M}",
            )
        )
    return out


def _range_label(start: str | None, end: str | None, filters: Mapping[str, Any]) -> str:
    if start and end:
        dates = f"From {start} until {end} (exclusive)"
    elif start:
        dates = f"From {start}"
    elif end:
        dates = f"Until {end} (exclusive)"
    else:
        dates = "All dates"
    parts = []
    for k, v in filters.items():
        shown = ", ".join(map(str, v)) if isinstance(v, list | tuple) else str(v)
        parts.append(f"{k} = {shown}")
    return dates + ("; " + "; ".join(parts) if parts else "")


def filter_options(ws: Any, selected: Filters | Mapping[str, Any] | None = None) -> list[FilterOption]:
    """Values offered by the filter menus: the journey's, plus those present in the feedback."""
    if isinstance(selected, Filters):
        selected = {d: selected.selected(d) for d in ("channel", "touchpoint", "stage", "segment", "saved_segment")}
    selected = selected or {}
    journey = ws.journey
    preferred = {
        "channel": sorted({t.channel for t in journey.touchpoints if t.channel}),
        "touchpoint": [t.id for t in journey.touchpoints],
        "stage": [s.id for s in journey.stages],
        "segment": [],
        "saved_segment": [],
    }
    out = []
    for dim, label in (
        ("channel", "Channel"),
        ("touchpoint", "Touchpoint"),
        ("stage", "Stage"),
        ("segment", "Segment"),
        ("saved_segment", "Saved segment"),
    ):
        if dim == "saved_segment":
            from cxlens.customers.segments import saved_segment_names

            sel = selected.get(dim)
            names = saved_segment_names(ws)
            if names or sel:  # the menu appears once a segment is saved
                out.append(FilterOption(dim, label, names, sel if isinstance(sel, str) else None))
            continue
        values = list(preferred[dim])
        try:
            df = Metrics(ws).nps(by=dim)
            present = [str(v) for v, n in zip(df[dim], df["n"], strict=True) if v is not None and not pd.isna(v) and n]
        except CxlensError:
            present = []
        if dim in ("channel", "segment"):
            values = sorted(set(values) | set(present))
        else:
            values = _order(sorted(set(values) | set(present)), values)
        sel = selected.get(dim)
        out.append(FilterOption(dim, label, values, sel if isinstance(sel, str) else None))
    return out


def build_overview(
    ws: Any,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    filters: Mapping[str, Any] | None = None,
    period: str = "month",
    comments: bool = True,
    where: Filters | None = None,
) -> Overview:
    """Everything the overview shows, from ``ws.metrics``, formatted for display.

    Parameters
    ----------
    start, end
        Keep rows with ``start <= ts < end``.
    filters
        ``{dimension: value | [values]}`` on channel, touchpoint, stage, segment.
    period
        The grain of the change arrows and the movers (last period vs the previous one).
    comments
        Include the latest comments (attacker-controlled text; always escaped when rendered).
    """
    if where is not None:  # one Filters value: its dates, dimensions and saved segment
        k = where.kwargs()
        start, end = start or k["start"], end or k["end"]
        filters = {
            **(k["filters"] or {}),
            **({"saved_segment": k["segment"]} if k["segment"] else {}),
            **(filters or {}),
        }
    s, e = _iso(start), _iso(end)
    filt = {k: v for k, v in dict(filters or {}).items() if v not in (None, "", [])}
    common: dict[str, Any] = {}
    if s:
        common["start"] = s
    if e:
        common["end"] = e
    metric_filt = {k: v for k, v in filt.items() if k != "saved_segment"}
    if metric_filt:
        common["filters"] = metric_filt
    if filt.get("saved_segment"):  # a saved segment: ws.metrics' segment=
        saved = filt["saved_segment"]
        common["segment"] = saved if isinstance(saved, str) else saved[0]
    tiles = [_tile(ws, k, common, period) for k in KPIS]
    journey = ws.journey
    stage_order = [st.id for st in journey.stages]
    tp_order = [t.id for t in journey.touchpoints]
    by_tp, frames_tp = _breakdown(ws, "touchpoint", "Touchpoint", tp_order, common)
    by_stage, frames_stage = _breakdown(ws, "stage", "Stage", stage_order, common)
    chart_list = [_trend(ws, "nps", "nps", "NPS", common), _trend(ws, "csat", "csat", "CSAT", common)]
    nps_tp = frames_tp.get("nps")
    if nps_tp is not None and not nps_tp[nps_tp["n"] > 0].dropna(subset=["touchpoint"]).empty:
        d = nps_tp[nps_tp["n"] > 0].dropna(subset=["touchpoint"])
        chart_list.append(
            ChartView(
                "nps-touchpoint",
                "NPS by touchpoint (95% CI)",
                f"Bar chart of NPS for {len(d)} touchpoints with 95% confidence intervals",
                charts.to_vega_lite(charts.breakdown_chart(d, "touchpoint", "nps", title="")),
            )
        )
    nps_st = frames_stage.get("nps")
    if nps_st is not None and not nps_st[nps_st["n"] > 0].dropna(subset=["stage"]).empty:
        d = nps_st[nps_st["n"] > 0].dropna(subset=["stage"])
        d = d.assign(
            promoter_share=d["promoter_share"] / 100,
            passive_share=d["passive_share"] / 100,
            detractor_share=d["detractor_share"] / 100,
        )
        chart_list.append(
            ChartView(
                "nps-stage-mix",
                "Promoters, passives and detractors by journey stage",
                f"Stacked bar chart of NPS answer shares for {len(d)} journey stages",
                charts.to_vega_lite(
                    charts.share_chart(d, "stage", title="", sort=_order(list(d["stage"]), stage_order))
                ),
            )
        )
    pairs: list[tuple[str, str]] = ([("start", s)] if s else []) + ([("end", e)] if e else [])
    for k, v in filt.items():
        for item in v if isinstance(v, list | tuple) else [v]:
            pairs.append((k, str(item)))
    return Overview(
        start=s,
        end=e,
        filters=filt,
        range_label=_range_label(s, e, filt),
        query_string=urlencode(pairs),
        change_period=period,
        tiles=tiles,
        charts=chart_list,
        breakdowns=[by_tp, by_stage],
        movers=_movers(ws, period, common),
        comments=_comments(ws, common) if comments else None,
    )
