"""The journey map as CX teams put it on the wall: stages left to right, lanes top to bottom.

:func:`journey_canvas` gathers, for every stage of the workspace's journey (in order):

- **touchpoints**: each with its events (``volume``), customers and ``drop_off`` to the next stage
  (:func:`cxlens.journeys.maps.journey_map`), and the stage's own customers and drop-off
  (:func:`cxlens.journeys.maps.stage_flow`);
- **emotion**: mean sentiment of the stage's analysed English verbatims with a 95% t-interval
  (``mean ± t·sd/√n``), NPS and CSAT of the stage's answers with the metrics' own 95% intervals;
- **pain points**: the themes (names stored by the voice model, :mod:`cxlens.voice.tasks`) with
  the most negative verbatims (sentiment below 0) at the stage, with their count and share of
  the stage's negative verbatims;
- **revenue at risk**: of the customers with an unhappy answer at the stage (NPS 0-6, CSAT 1-3,
  CES 1-4), ``Σ clv · churn_risk`` from the **stored** model scores, with a bootstrap 95% interval
  (:func:`cxlens.customers.risk.revenue_at_risk`); none until the models were fitted;
- **a representative quote**: the verbatim of the stage's top pain theme whose sentiment is
  closest to that theme's median at the stage (ties: the shorter), or of all the stage's verbatims
  when it has no negative one. Quotes are the stored, PII-redacted text
  (:mod:`cxlens.schema.redact`) and go through the caller's PII policy again;
- **an interview quote** beside it (``interview_quote``): what an interviewee said about the
  stage's pain points — a customer turn (highlighted passages first) of an imported interview that
  the voice themes job put in the stage's first pain theme that has one
  (:func:`cxlens.interviews.quotes_by_theme`, over all interviews: interviews have no dates or
  touchpoints of the journey), with that theme; redacted the same way.

**Opportunities** are the biggest *fixable* gaps: places where another part of the same journey
shows, with significance, that customers can be served better. Two kinds:

- ``flow``: a touchpoint whose drop-off to the next stage is higher than that of the best
  touchpoint of the same stage (at least :data:`MIN_BASE` customers each);
  ``impact = customers · (drop_off − best drop_off) / 100``: customers who would go on to the next
  stage if it converted like the best one;
- ``experience``: a touchpoint whose share of unhappy answers for a metric (NPS detractors, CSAT
  1-3) is higher than that of the best touchpoint measured with the same metric (at least
  :data:`MIN_BASE` answers each); ``impact = answers · (share − best share) / 100``: unhappy
  answers that would not have been.

A gap counts only when a pooled two-proportion z-test says it is real (``p < 0.05``); the
opportunities are ranked by ``impact`` and carry the touchpoint's top negative theme as the
"what to fix" hint. The whole view is filterable by dates, dimensions and a saved segment, or by
a **persona** — an RFM segment saved as ``rfm:<name>`` (``cxlens segments rfm --save``).

:func:`journey_canvas_svg` draws it as one SVG (text stays text); :func:`export_journey_canvas`
writes SVG, PNG (rendered from the SVG by ``vl-convert-python``) or PDF (one page).
"""

from __future__ import annotations

import html
import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, NotFoundError
from cxlens.journeys.maps import journey_map, stage_flow
from cxlens.metrics.api import Metrics
from cxlens.metrics.common import DateLike, FilterMap
from cxlens.metrics.stats import two_proportion_z_test

__all__ = [
    "FORMATS",
    "MIN_BASE",
    "JourneyCanvas",
    "export_journey_canvas",
    "journey_canvas",
    "journey_canvas_svg",
    "persona_segment",
    "render",
]

#: characters XML 1.0 does not allow (C0 controls but tab and newlines, lone surrogates, U+FFFE/F):
#: text from the data or the request (stage names, filters) must not make the SVG unreadable
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def escape(text: Any) -> str:
    """``text`` as XML character data: escaped, and without the characters XML cannot hold."""
    return html.escape(_NOT_XML.sub("", str(text)))


#: fewest customers (flow) or answers (experience) on both sides of an opportunity's comparison
MIN_BASE = 30
#: opportunities kept
TOP_OPPORTUNITIES = 5
#: the export formats, by file suffix
FORMATS = ("svg", "png", "pdf")
_ALPHA = 0.05


@dataclass
class JourneyCanvas:
    """What :func:`journey_canvas` found: ``stages`` (one dict per stage, in journey order),
    ``opportunities`` (ranked dicts), the ``title`` and a ``scope`` line (filters in force), and
    ``notes`` (why a lane is empty, e.g. no stored model scores)."""

    title: str
    scope: str
    stages: list[dict[str, Any]]
    opportunities: list[dict[str, Any]]
    notes: list[str] = field(default_factory=list)

    def stage_names(self) -> list[str]:
        return [s["label"] for s in self.stages]


def persona_segment(store: Any, persona: str) -> str:
    """The saved segment of a persona (an RFM segment saved as ``rfm:<persona>``); clear error if not saved."""
    from cxlens.store.segments import saved_segment_names

    name = persona if persona.startswith("rfm:") else f"rfm:{persona}"
    names = saved_segment_names(store)
    if name not in names:
        have = sorted(n[4:] for n in names if n.startswith("rfm:"))
        hint = f"saved personas: {', '.join(have)}" if have else "none is saved yet"
        raise NotFoundError(
            f"persona {persona!r} is not a saved RFM segment ({hint}); save them with `cxlens segments rfm --save`"
        )
    return name


def _num(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _score(df: pd.DataFrame, stage: str, metric: str) -> dict[str, Any] | None:
    if df.empty or "stage" not in df:
        return None
    row = df[df["stage"] == stage]
    if row.empty or int(row["n"].iloc[0]) == 0:
        return None
    r = row.iloc[0]
    return {"value": _num(r[metric]), "low": _num(r["ci_low"]), "high": _num(r["ci_high"]), "n": int(r["n"])}


def _sentiment(g: pd.DataFrame) -> dict[str, Any] | None:
    from scipy import stats

    s = g["sentiment"].astype(float).dropna()
    if s.empty:
        return None
    n, mean = len(s), float(s.mean())
    if n < 2:
        return {"value": mean, "low": None, "high": None, "n": n}
    half = float(stats.t.ppf(0.975, n - 1) * s.std(ddof=1) / math.sqrt(n))
    return {"value": mean, "low": max(-1.0, mean - half), "high": min(1.0, mean + half), "n": n}


def _verbatims(store: Any, start: DateLike, end: DateLike, filters: FilterMap, segment: str | None):
    """Analysed verbatims and theme names, or (None, {}) before the voice analysis ran."""
    try:
        from cxlens.voice.summary import LIMIT
        from cxlens.voice.tasks import theme_model
        from cxlens.voice.verbatims import analysed_verbatims
    except ImportError:  # pragma: no cover - voice not installed
        return None, {}
    try:
        tx, _ = theme_model(store)
        v = analysed_verbatims(store, start=start, end=end, filters=filters, segment=segment, limit=LIMIT)
    except NotFoundError:
        return None, {}
    return v, (tx.names() if tx is not None else {})


def _quote(g: pd.DataFrame, theme: str | None) -> dict[str, Any] | None:
    from cxlens.schema.pii import current_policy

    pool = g[g["text"].notna() & (g["text"].astype(str).str.strip() != "")]
    if theme is not None:
        pool = pool[(pool["theme"] == theme) & (pool["sentiment"] < 0)]
    if pool.empty:
        return None
    med = float(pool["sentiment"].median())
    pick = pool.assign(_d=(pool["sentiment"] - med).abs(), _l=pool["text"].astype(str).str.len())
    r = pick.sort_values(["_d", "_l", "verbatim_id"], kind="mergesort").iloc[0]
    text = " ".join(str(current_policy().texts(pd.Series([str(r["text"])])).iloc[0]).split())
    return {"text": text, "source": str(r["source"]), "sentiment": float(r["sentiment"]),
            "touchpoint": None if pd.isna(r["touchpoint"]) else str(r["touchpoint"])}  # fmt: skip


def _risk_by_stage(
    store: Any, start: DateLike, end: DateLike, filters: FilterMap, segment: str | None
) -> tuple[dict[str, dict[str, Any]], str | None]:
    from cxlens.customers.risk import revenue_at_risk, unhappy
    from cxlens.customers.scores import stored_scores
    from cxlens.metrics.common import prepare
    from cxlens.store.segments import restrict_to_segment

    scores = stored_scores(store)
    if scores is None or (scores.clv.empty and scores.risk.empty):
        return {}, "revenue at risk: the CLV and churn models have not been fitted yet (cxlens models fit)"
    fb = restrict_to_segment(store, store.table("feedback"), segment)
    try:
        customers = store.table("customers")
    except NotFoundError:
        customers = None
    t, _ = prepare(fb, customers=customers, start=start, end=end, filters=filters, what="revenue at risk")
    t = t.filter(t.customer_id.notnull(), t.score.notnull(), t.stage.notnull(), unhappy(t))
    pairs = store.read(t.group_by(["stage", "customer_id"]).aggregate(answers=t.count()))
    if pairs.empty:
        return {}, None
    df = revenue_at_risk(store, scores.clv, scores.risk, "stage", raised=pairs, n_boot=300)
    out = {
        str(r["stage"]): {
            "customers": int(r["customers"]),
            "scored": int(r["scored"]),
            "value": _num(r["revenue_at_risk"]),
            "low": _num(r["ci_low"]),
            "high": _num(r["ci_high"]),
            "churn_risk": _num(r["churn_risk"]),
        }  # fmt: skip
        for r in df.to_dict("records")
    }
    return out, None


def _frustration(
    store: Any, start: DateLike, end: DateLike, filters: FilterMap, segment: str | None
) -> tuple[dict[str, dict[str, Any]], str | None]:
    """Per touchpoint: the behaviour frustration signals (:meth:`cxlens.behaviour.Behaviour.frustration`
    with ``by="touchpoint"``): ``score`` (weighted signals per 100 page views), rage / dead / error
    clicks, ``rage_dead_rate`` (rage + dead clicks per 100 page views), ``pageviews`` (its n),
    ``sessions`` and the share of frustrated sessions with its Wilson 95% CI — of the saved
    ``segment``'s members when given (the persona's too). Empty without behaviour data; the note
    says when dimension filters could not be applied to it."""
    from cxlens.behaviour import Behaviour

    try:
        df = Behaviour(getattr(store, "store", store)).frustration(
            by="touchpoint", start=start, end=end, segment=segment
        )
    except NotFoundError:
        return {}, None
    df = df[df["touchpoint"].notna() & (df["pageviews"] > 0)]
    if df.empty:
        return {}, None
    out: dict[str, dict[str, Any]] = {}
    for r in df.to_dict("records"):
        pv = int(r["pageviews"])
        rage, dead = int(r["rage_clicks"]), int(r["dead_clicks"])
        out[str(r["touchpoint"])] = {
            "score": _num(r["frustration_score"]),
            "rage_clicks": rage,
            "dead_clicks": dead,
            "error_clicks": int(r["error_clicks"]),
            "rage_dead_rate": 100 * (rage + dead) / pv,
            "pageviews": pv,
            "sessions": int(r["sessions"]),
            "frustrated_share": _num(r["frustrated_share"]),
            "frustrated_ci_low": _num(r["frustrated_ci_low"]),
            "frustrated_ci_high": _num(r["frustrated_ci_high"]),
        }
    note = None
    if filters:
        note = "frustration: not filtered by dimension (behaviour signals carry no stage or channel filters)"
    return out, note


def _opportunities(store: Any, m: pd.DataFrame, kw: dict[str, Any]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    cells = m[m["touchpoint"].notna() & m["stage"].notna()]
    # flow: drop-off above the best touchpoint of the same stage
    flow = cells[cells["drop_off"].notna() & (cells["customers"] >= MIN_BASE)]
    for stage, g in flow.groupby("stage", sort=False):
        if len(g) < 2:
            continue
        best = g.loc[g["drop_off"].idxmin()]
        rest = g[g["touchpoint"] != best["touchpoint"]]
        drops_x = (rest["customers"] * rest["drop_off"] / 100).round()
        best_x = round(best["customers"] * best["drop_off"] / 100)
        _, p = two_proportion_z_test(drops_x, rest["customers"], best_x, best["customers"])
        for (_, r), pv in zip(rest.iterrows(), np.atleast_1d(p), strict=True):
            gap = float(r["drop_off"] - best["drop_off"])
            if gap > 0 and pv < _ALPHA:
                out.append({"kind": "flow", "stage": stage, "stage_label": r["stage_label"],
                            "touchpoint": r["touchpoint"], "label": r["label"], "metric": "drop-off",
                            "value": float(r["drop_off"]), "benchmark": float(best["drop_off"]),
                            "benchmark_touchpoint": best["label"], "base": int(r["customers"]),
                            "impact": r["customers"] * gap / 100, "p_value": float(pv),
                            "theme": r["negative_themes"]})  # fmt: skip
    # experience: unhappy share above the best touchpoint measured with the same metric
    themes = {(r.stage, r.touchpoint): r.negative_themes for r in cells.itertuples(index=False)}
    labels = {(r.stage, r.touchpoint): (r.stage_label, r.label) for r in cells.itertuples(index=False)}
    metrics = Metrics(store)
    for metric in ("nps", "csat"):
        df = getattr(metrics, metric)(by=["stage", "touchpoint"], **kw)
        if df.empty:
            continue
        df = df[df["touchpoint"].notna() & df["stage"].notna() & (df["n"] >= MIN_BASE)].copy()
        df["_bad"] = df["detractors"] if metric == "nps" else df["n"] - df["satisfied"]
        df["_share"] = 100 * df["_bad"] / df["n"]
        if len(df) < 2:
            continue
        best = df.loc[df["_share"].idxmin()]
        rest = df[(df["stage"] != best["stage"]) | (df["touchpoint"] != best["touchpoint"])]
        _, p = two_proportion_z_test(rest["_bad"], rest["n"], best["_bad"], best["n"])
        for (_, r), pv in zip(rest.iterrows(), np.atleast_1d(p), strict=True):
            gap = float(r["_share"] - best["_share"])
            key = (r["stage"], r["touchpoint"])
            if gap > 0 and pv < _ALPHA and key in labels:
                out.append({"kind": "experience", "stage": r["stage"], "stage_label": labels[key][0],
                            "touchpoint": r["touchpoint"], "label": labels[key][1],
                            "metric": "NPS detractors" if metric == "nps" else "CSAT 1-3",
                            "value": float(r["_share"]), "benchmark": float(best["_share"]),
                            "benchmark_touchpoint": labels.get((best["stage"], best["touchpoint"]), (0, best["touchpoint"]))[1],
                            "base": int(r["n"]), "impact": int(r["n"]) * gap / 100, "p_value": float(pv),
                            "theme": themes.get(key)})  # fmt: skip
    out.sort(key=lambda o: (-o["impact"], o["stage"], str(o["touchpoint"])))
    for i, o in enumerate(out[:TOP_OPPORTUNITIES], 1):
        o["rank"] = i
        if isinstance(o["theme"], float):
            o["theme"] = None
    return out[:TOP_OPPORTUNITIES]


def _scope(start: DateLike, end: DateLike, filters: FilterMap, segment: str | None, persona: str | None) -> str:
    parts = []
    if persona:
        parts.append(f"persona {persona}")
    elif segment:
        parts.append(f"segment {segment}")
    for k, v in (filters or {}).items():
        parts.append(f"{k} = {', '.join(map(str, v)) if isinstance(v, (list, tuple)) else v}")
    if start or end:
        parts.append(f"{start or '…'} to {end or '…'}")
    return "; ".join(parts) if parts else "all customers, all dates"


def journey_canvas(
    store: Any,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    *,
    segment: str | None = None,
    persona: str | None = None,
    title: str = "Customer journey map",
    top_touchpoints: int = 6,
) -> JourneyCanvas:
    """The wall journey map's content (module docstring): stages in order with touchpoints, emotion,
    pain points, revenue at risk and a quote, plus the ranked opportunities.

    ``persona`` (an RFM segment name, saved as ``rfm:<name>``) and ``segment`` (any saved segment)
    restrict everything to their members; give one of them.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest.simulate import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 300, seed=1)
    >>> c = journey_canvas(ws)
    >>> c.stage_names()[:3]
    ['Awareness', 'Consideration', 'Purchase']
    """
    if persona and segment:
        raise ConfigError("give a persona or a saved segment, not both")
    if persona:
        segment = persona_segment(store, persona)
    kw = dict(start=start, end=end, filters=filters, segment=segment)
    m = journey_map(store, start, end, filters, segment=segment)
    sf = stage_flow(store, start, end, filters, segment=segment).set_index("stage")
    metrics = Metrics(store)
    nps = metrics.nps(by="stage", **kw)
    csat = metrics.csat(by="stage", **kw)
    verb, names = _verbatims(store, start, end, filters, segment)
    risk, risk_note = _risk_by_stage(store, start, end, filters, segment)
    frustration, frustration_note = _frustration(store, start, end, filters, segment)
    notes = [n for n in (risk_note, frustration_note) if n]
    if verb is None or verb.empty:
        notes.append("emotion, pain points and quotes: no analysed verbatims yet (cxlens voice analyse)")
    from cxlens.interviews.quotes import quotes_by_theme
    from cxlens.schema.pii import current_policy

    interview_quotes = quotes_by_theme(store, per=1) if verb is not None and not verb.empty else {}
    stages = []
    for st in store.journey.stages:
        cells = m[(m["stage"] == st.id) & m["touchpoint"].notna()]
        cells = cells[cells["volume"] > 0].sort_values("volume", ascending=False, kind="mergesort")
        tps = [{"id": r["touchpoint"], "label": r["label"], "volume": int(r["volume"]),
                "customers": int(r["customers"]), "drop_off": _num(r["drop_off"]),
                "frustration": frustration.get(str(r["touchpoint"]))}
               for r in cells.head(top_touchpoints).to_dict("records")]  # fmt: skip
        row = sf.loc[st.id] if st.id in sf.index else None
        g = verb[verb["stage"] == st.id] if verb is not None and not verb.empty else pd.DataFrame()
        pains: list[dict[str, Any]] = []
        quote = None
        if not g.empty:
            neg = g[g["sentiment"] < 0]
            counts = neg["theme"].dropna().value_counts()
            counts = counts.sort_index().sort_values(ascending=False, kind="mergesort")
            pains = [{"theme": t, "name": names.get(t, t), "negative": int(n), "share": 100 * n / len(neg)}
                     for t, n in counts.head(3).items()]  # fmt: skip
            quote = _quote(g, pains[0]["theme"] if pains else None) or _quote(g, None)
        iq = next(({"text": " ".join(str(current_policy().texts(pd.Series([interview_quotes[p["theme"]][0]])).iloc[0])
                                     .split()), "theme": p["theme"], "name": p["name"]}
                   for p in pains if interview_quotes.get(p["theme"])), None)  # fmt: skip
        stages.append({
            "id": st.id, "label": st.label, "touchpoints": tps, "more_touchpoints": max(0, len(cells) - top_touchpoints),
            "customers": int(row["customers"]) if row is not None else 0,
            "volume": int(row["volume"]) if row is not None else 0,
            "drop_off": _num(row["drop_off"]) if row is not None else None,
            "next_stage": row["next_stage"] if row is not None else None,
            "sentiment": _sentiment(g) if not g.empty else None,
            "nps": _score(nps, st.id, "nps"), "csat": _score(csat, st.id, "csat"),
            "pains": pains, "risk": risk.get(st.id), "quote": quote, "interview_quote": iq,
        })  # fmt: skip
    opps = _opportunities(store, m, kw)
    return JourneyCanvas(title, _scope(start, end, filters, segment, persona), stages, opps, notes)


# -- drawing ---------------------------------------------------------------------------------------
_COL_W, _LEFT, _PAD = 250, 150, 24
_INK, _MUTED, _LINE, _ACCENT, _BAD, _GOOD = "#111827", "#6b7280", "#e5e7eb", "#1d4ed8", "#b91c1c", "#047857"
_FONT = "DejaVu Sans, Liberation Sans, Arial, sans-serif"


def _wrap(text: str, width_px: float, size: float, max_lines: int) -> list[str]:
    """Greedy word wrap for an average glyph width of 0.55 em; the last line ends in … when cut."""
    per = max(8, int(width_px / (0.55 * size)))
    lines: list[str] = []
    cur = ""
    for word in text.split():
        while len(word) > per:  # a very long token: hard break
            if cur:
                lines.append(cur)
                cur = ""
            lines.append(word[:per])
            word = word[per:]
        cand = f"{cur} {word}".strip()
        if len(cand) <= per:
            cur = cand
        else:
            lines.append(cur)
            cur = word
    if cur:
        lines.append(cur)
    if len(lines) > max_lines:
        lines = lines[:max_lines]
        lines[-1] = lines[-1][: per - 1].rstrip() + "…"
    return lines


def _text(x: float, y: float, s: str, *, size: float = 12, fill: str = _INK, weight: str = "normal",
          anchor: str = "start", style: str = "normal") -> str:  # fmt: skip
    return (f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" fill="{fill}" font-weight="{weight}" '
            f'font-style="{style}" text-anchor="{anchor}">{escape(s)}</text>')  # fmt: skip


def _fmt_ci(d: dict[str, Any] | None, spec: str) -> str:
    if not d or d.get("value") is None:
        return "—"
    ci = f" ({d['low']:{spec}} to {d['high']:{spec}})" if d.get("low") is not None else ""
    return f"{d['value']:{spec}}{ci} n={d['n']:,}".replace("-", "−")


def _money(v: float | None) -> str:
    return "—" if v is None else f"{v:,.0f}"


def journey_canvas_svg(canvas: JourneyCanvas) -> str:
    """The canvas as one standalone SVG document: stage columns, lanes, emotion curve, opportunities."""
    n = max(1, len(canvas.stages))
    width = _PAD * 2 + _LEFT + n * _COL_W
    most = max([len(s["touchpoints"]) + (1 if s["more_touchpoints"] else 0) for s in canvas.stages] or [1])
    # a second line per touchpoint for its frustration signals, when there is behaviour data
    frustrated = any(t.get("frustration") for s in canvas.stages for t in s["touchpoints"])
    row_h = 40 if frustrated else 27
    lanes = [("touchpoints", "Touchpoints", 20 + row_h * max(2, most)), ("emotion", "Emotion", 190), ("pains", "Pain points", 120),
             ("risk", "Revenue at risk", 70),
             ("quote", "Quotes", 120 + (62 if any(s.get("interview_quote") for s in canvas.stages) else 0))]  # fmt: skip
    y0 = 88
    head_h = 56
    lane_y: dict[str, tuple[float, float]] = {}
    y = y0 + head_h
    for key, _, h in lanes:
        lane_y[key] = (y, h)
        y += h
    opp_top = y + 16
    opp_lines = max(1, len(canvas.opportunities))
    height = int(opp_top + 36 + 34 * opp_lines + 18 * len(canvas.notes) + _PAD)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'font-family="{_FONT}">',
        f"<title>{escape(canvas.title)}</title>",
        f"<desc>Stages: {escape(', '.join(canvas.stage_names()))}</desc>",
        f'<rect width="{width}" height="{height}" fill="#ffffff"/>',
        _text(_PAD, 40, canvas.title, size=24, weight="bold"),
        _text(_PAD, 64, canvas.scope, size=13, fill=_MUTED),
    ]
    x0 = _PAD + _LEFT
    # lane labels and separators
    for key, label, _h in lanes:
        ly, lh = lane_y[key]
        out.append(f'<line x1="{_PAD}" y1="{ly:.1f}" x2="{width - _PAD}" y2="{ly:.1f}" stroke="{_LINE}"/>')
        out.append(_text(_PAD, ly + 20, label, size=13, weight="bold", fill=_MUTED))
    # stage headers with an arrow shape
    for i, s in enumerate(canvas.stages):
        x = x0 + i * _COL_W
        pts = f"{x},{y0} {x + _COL_W - 14},{y0} {x + _COL_W},{y0 + 22} {x + _COL_W - 14},{y0 + 44} {x},{y0 + 44} {x + 14},{y0 + 22}"
        out.append(f'<polygon points="{pts}" fill="{_ACCENT}" fill-opacity="{0.55 + 0.45 * (i + 1) / n:.2f}"/>')
        out.append(_text(x + _COL_W / 2, y0 + 20, s["label"], size=15, weight="bold", fill="#ffffff", anchor="middle"))
        sub = f"{s['customers']:,} customers" + (f" · {s['drop_off']:.0f}% drop" if s["drop_off"] is not None else "")
        out.append(_text(x + _COL_W / 2, y0 + 37, sub, size=11, fill="#ffffff", anchor="middle"))
    # touchpoints: volume bar and drop-off
    ty, _th = lane_y["touchpoints"]
    vmax = max([t["volume"] for s in canvas.stages for t in s["touchpoints"]] or [1])
    for i, s in enumerate(canvas.stages):
        x = x0 + i * _COL_W + 12
        yy = ty + 22
        if not s["touchpoints"]:
            out.append(_text(x, yy, "no events", size=11, fill=_MUTED))
        for t in s["touchpoints"]:
            out.append(_text(x, yy, t["label"], size=12))
            bw = max(2.0, (_COL_W - 100) * t["volume"] / vmax)
            out.append(
                f'<rect x="{x:.1f}" y="{yy + 4:.1f}" width="{bw:.1f}" height="6" fill="{_ACCENT}" opacity="0.6"/>'
            )
            drop = f" · {t['drop_off']:.0f}% drop" if t["drop_off"] is not None else ""
            out.append(_text(x + _COL_W - 26, yy, f"{t['volume']:,}{drop}", size=10, fill=_MUTED, anchor="end"))
            fr = t.get("frustration")
            if fr:
                score = f"frustration {fr['score']:.1f}" if fr["score"] is not None else "frustration –"
                line = f"{score} · rage+dead {fr['rage_dead_rate']:.1f}/100 views (n={fr['pageviews']:,})"
                out.append(_text(x, yy + 23, line, size=9, fill=_BAD if fr["rage_dead_rate"] >= 1 else _MUTED))
            yy += row_h
        if s["more_touchpoints"]:
            out.append(_text(x, yy, f"+{s['more_touchpoints']} more", size=10, fill=_MUTED))
    # emotion curve: sentiment in [-1, 1] with its interval, NPS and CSAT as text
    ey, eh = lane_y["emotion"]
    top, bottom = ey + 30, ey + eh - 62
    mid = (top + bottom) / 2

    def sy(v: float) -> float:
        return mid - (bottom - top) / 2 * max(-1.0, min(1.0, v))

    out.append(
        f'<line x1="{x0}" y1="{mid:.1f}" x2="{width - _PAD}" y2="{mid:.1f}" stroke="{_MUTED}" stroke-dasharray="4 4"/>'
    )
    out.append(_text(x0 - 6, top + 4, "+1", size=10, fill=_MUTED, anchor="end"))
    out.append(_text(x0 - 6, mid + 4, "0", size=10, fill=_MUTED, anchor="end"))
    out.append(_text(x0 - 6, bottom + 4, "−1", size=10, fill=_MUTED, anchor="end"))
    out.append(_text(_PAD, ey + 38, "mean sentiment", size=10, fill=_MUTED))
    out.append(_text(_PAD, ey + 52, "(95% CI)", size=10, fill=_MUTED))
    pts = []
    for i, s in enumerate(canvas.stages):
        cx = x0 + i * _COL_W + _COL_W / 2
        se = s["sentiment"]
        if se and se.get("value") is not None:
            cy = sy(se["value"])
            pts.append(f"{cx:.1f},{cy:.1f}")
            if se.get("low") is not None:
                out.append(f'<line x1="{cx:.1f}" y1="{sy(se["low"]):.1f}" x2="{cx:.1f}" y2="{sy(se["high"]):.1f}" '
                           f'stroke="{_INK}" stroke-width="1.5"/>')  # fmt: skip
            color = _GOOD if se["value"] >= 0 else _BAD
            out.append(f'<circle cx="{cx:.1f}" cy="{cy:.1f}" r="6" fill="{color}"/>')
            out.append(_text(cx + 10, cy - 8, f"{se['value']:+.2f}".replace("-", "−"), size=11, fill=color))
        else:
            out.append(_text(cx, mid - 6, "no text", size=10, fill=_MUTED, anchor="middle"))
        out.append(_text(cx, bottom + 26, f"NPS {_fmt_ci(s['nps'], '.0f')}", size=10, anchor="middle"))
        out.append(_text(cx, bottom + 42, f"CSAT {_fmt_ci(s['csat'], '.0f')}", size=10, anchor="middle"))
        if se and se.get("n"):
            out.append(_text(cx, bottom + 56, f"sentiment n={se['n']:,}", size=9, fill=_MUTED, anchor="middle"))
    if len(pts) > 1:
        out.insert(-1, f'<polyline points="{" ".join(pts)}" fill="none" stroke="{_ACCENT}" stroke-width="2.5"/>')
    # pain points
    py, _ph = lane_y["pains"]
    for i, s in enumerate(canvas.stages):
        x = x0 + i * _COL_W + 12
        yy = py + 22
        if not s["pains"]:
            out.append(_text(x, yy, "—", size=11, fill=_MUTED))
        for p in s["pains"]:
            for line in _wrap(f"{p['name']} ({p['negative']:,}, {p['share']:.0f}%)", _COL_W - 30, 12, 2):
                out.append(_text(x, yy, line, size=12, fill=_BAD))
                yy += 15
            yy += 6
    # revenue at risk
    ry, _rh = lane_y["risk"]
    for i, s in enumerate(canvas.stages):
        x = x0 + i * _COL_W + 12
        r = s["risk"]
        if not r:
            out.append(_text(x, ry + 24, "—", size=11, fill=_MUTED))
            continue
        out.append(_text(x, ry + 24, _money(r["value"]), size=16, weight="bold"))
        sub = f"95% CI {_money(r['low'])}–{_money(r['high'])} · {r['customers']:,} unhappy customers"
        for k, line in enumerate(_wrap(sub, _COL_W - 30, 10, 2)):
            out.append(_text(x, ry + 42 + 13 * k, line, size=10, fill=_MUTED))
    # quotes
    qy, _qh = lane_y["quote"]
    for i, s in enumerate(canvas.stages):
        x = x0 + i * _COL_W + 12
        q, iq = s["quote"], s.get("interview_quote")
        k = -1
        if not q:
            out.append(_text(x, qy + 22, "—", size=11, fill=_MUTED))
        else:
            for k, line in enumerate(_wrap(f"“{q['text']}”", _COL_W - 30, 11, 6)):
                out.append(_text(x, qy + 22 + 15 * k, line, size=11, style="italic"))
        if iq:  # what an interviewee said about the stage's pain (below the survey/ticket quote)
            iy = qy + 22 + 15 * max(k + 1, 1) + 8
            for j, line in enumerate(_wrap(f"Interview: “{iq['text']}”", _COL_W - 30, 10, 4)):
                out.append(_text(x, iy + 13 * j, line, size=10, style="italic", fill=_MUTED))
    # opportunities
    out.append(
        f'<line x1="{_PAD}" y1="{opp_top - 8:.1f}" x2="{width - _PAD}" y2="{opp_top - 8:.1f}" stroke="{_LINE}"/>'
    )
    out.append(_text(_PAD, opp_top + 14, "Opportunities: the biggest fixable gaps", size=15, weight="bold"))
    yy = opp_top + 40
    if not canvas.opportunities:
        out.append(_text(_PAD, yy, "No touchpoint falls significantly behind the best one of its kind.", size=12,
                         fill=_MUTED))  # fmt: skip
        yy += 34
    for o in canvas.opportunities:
        what = (f"{o['rank']}. {o['stage_label']} · {o['label']}: {o['metric']} {o['value']:.0f}% vs "
                f"{o['benchmark']:.0f}% at {o['benchmark_touchpoint']} (≈ {o['impact']:,.0f} "
                f"{'customers' if o['kind'] == 'flow' else 'answers'}, p = {o['p_value']:.2g})")  # fmt: skip
        out.append(_text(_PAD, yy, what, size=12))
        if o.get("theme"):
            out.append(_text(_PAD + 18, yy + 15, f"top complaint there: {o['theme']}", size=11, fill=_BAD))
        yy += 34
    for note in canvas.notes:
        out.append(_text(_PAD, yy, note, size=10, fill=_MUTED))
        yy += 18
    out.append("</svg>")
    return "\n".join(out) + "\n"


def export_journey_canvas(canvas: JourneyCanvas, path: str | os.PathLike[str], fmt: str | None = None) -> Path:
    """Write the canvas as SVG, PNG (2× scale, for slides) or PDF (one page); the format comes from
    ``fmt`` or the file suffix. Written to a temporary file first, then moved into place."""
    out = Path(path)
    kind = (fmt or out.suffix.lstrip(".")).lower()
    if kind not in FORMATS:
        raise ConfigError(
            f"journey map format {kind or out.name!r} is not supported; expected one of {', '.join(FORMATS)}"
        )
    if not out.parent.exists():
        raise ConfigError(f"folder {str(out.parent)!r} for journey map {str(out)!r} does not exist; create it first")
    data = render(canvas, kind)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_bytes(data)
    tmp.replace(out)
    return out


def _png_text(png: bytes, key: str, text: str) -> bytes:
    """``png`` with an iTXt chunk (UTF-8 text, uncompressed) right after IHDR: the map's description,
    so a slide tool, a screen reader or a search can read the stage names."""
    import struct
    import zlib

    body = key.encode("latin-1") + b"\x00\x00\x00" + b"\x00" + b"\x00" + _NOT_XML.sub("", text).encode("utf-8")
    chunk = struct.pack(">I", len(body)) + b"iTXt" + body + struct.pack(">I", zlib.crc32(b"iTXt" + body) & 0xFFFFFFFF)
    (ihdr_len,) = struct.unpack(">I", png[8:12])
    cut = 8 + 12 + ihdr_len
    return png[:cut] + chunk + png[cut:]


def render(canvas: JourneyCanvas, kind: str) -> bytes:
    """The canvas as ``svg``, ``png`` or ``pdf`` bytes."""
    svg = journey_canvas_svg(canvas)
    if kind == "svg":
        return svg.encode("utf-8")
    try:
        import vl_convert
    except ImportError as exc:  # pragma: no cover - a core dependency
        raise ConfigError("PNG and PDF export need vl-convert-python (pip install vl-convert-python)") from exc
    if kind == "png":
        desc = f"{canvas.title}. {canvas.scope}. Stages: {', '.join(canvas.stage_names())}."
        return _png_text(bytes(vl_convert.svg_to_png(svg, scale=2)), "Description", desc)
    if kind == "pdf":
        return bytes(vl_convert.svg_to_pdf(svg))
    raise ConfigError(f"journey map format {kind!r} is not supported; expected one of {', '.join(FORMATS)}")
