"""Workspace-level voice summaries for other pages: overview pain points and journey-map columns.

Both read the analysed verbatims matching the page's dates and filters (the latest :data:`LIMIT`)
with the sentiment and themes the background jobs stored (:mod:`cxlens.voice.tasks`): nothing is
scored or fitted inside a request. A workspace without enough analysed text — or whose analysis
has not run yet — gives an empty frame, never an error.

Examples
--------
>>> import cxlens
>>> from cxlens.ingest.simulate import write_demo
>>> ws = cxlens.open(":memory:")
>>> _ = write_demo(ws, 400, seed=1)
>>> from cxlens.jobs import run_now
>>> import cxlens.voice.tasks  # registers the voice jobs
>>> _ = run_now(ws, "voice.analyse"); _ = run_now(ws, "voice.themes")
>>> list(top_pain_points(ws, top=3).columns)[:4]
['stage', 'touchpoint', 'theme', 'name']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["JOURNEY_VOICE_COLUMNS", "PAIN_COLUMNS", "journey_voice", "overview_pain_points", "top_pain_points"]

#: At most this many of the latest matching verbatims are summarised.
LIMIT = 20_000
#: Fewer English verbatims than this: no summary.
MIN_TEXTS = 20
PAIN_COLUMNS = ["stage", "touchpoint", "theme", "name", "issue", "n", "negative", "negative_share", "metric",
                "effect", "low", "high", "p_value", "explanation"]  # fmt: skip
JOURNEY_VOICE_COLUMNS = ["stage", "touchpoint", "sentiment", "sentiment_n", "negative_themes"]


def _scored(
    ws: Any, start: Any, end: Any, filters: Mapping[str, Any] | None, segment: str | None = None
) -> tuple[pd.DataFrame, Any] | None:
    """Analysed verbatims with their stored ``sentiment`` and themes, and the theme model; None if too few.

    Everything comes from the stored analysis (the ``voice.analyse`` and ``voice.themes`` jobs):
    nothing is scored or fitted here.
    """
    from cxlens.voice.tasks import theme_model
    from cxlens.voice.verbatims import analysed_verbatims

    tx, _ = theme_model(ws)
    if tx is None:
        return None
    try:
        en = analysed_verbatims(ws, start=start, end=end, filters=filters, segment=segment, limit=LIMIT)
    except Exception:  # a workspace without text tables
        return None
    if len(en) < MIN_TEXTS:
        return None
    return en, tx


def top_pain_points(
    ws: Any,
    start: Any = None,
    end: Any = None,
    filters: Mapping[str, Any] | None = None,
    *,
    top: int = 5,
    segment: str | None = None,
) -> pd.DataFrame:
    """The ``top`` theme × stage/touchpoint cells with the most negative verbatims, and their score effect.

    Returns
    -------
    DataFrame
        :data:`PAIN_COLUMNS`, from :func:`cxlens.voice.pain_points` (``by=("stage", "touchpoint")``)
        ordered by negative volume, then negative share; ``metric``/``effect``/``low``/``high``/
        ``p_value`` describe the score effect (NPS points or mean score, with vs without the theme
        in the cell; NaN when the cell has no scores). Empty without enough English text.

        After the ``top`` theme rows comes at most one row of the "other" group (``theme``
        ``"other"``, ``issue`` False): the cell with the most negative verbatims that have no
        theme, when it has at least 2 — so what no theme describes is seen without taking the
        place of an issue. Verbatims the themes job has not assigned yet are left out.
    """
    from cxlens.voice.painpoints import pain_points

    got = _scored(ws, start, end, filters, segment)
    if got is None:
        return pd.DataFrame(columns=PAIN_COLUMNS)
    en, tx = got
    en = en[en["theme_assigned"].astype(bool)].reset_index(drop=True)
    if en.empty:
        return pd.DataFrame(columns=PAIN_COLUMNS)
    pp = pain_points(en, tx, by=("stage", "touchpoint"), top=top, min_negative=2)
    for c in PAIN_COLUMNS:
        if c not in pp.columns:
            pp[c] = np.nan
    pp = pp.sort_values(["negative", "negative_share"], ascending=False, kind="stable")
    issues = pp[pp["issue"].astype(bool)].head(top)
    pp = pd.concat([issues, pp[~pp["issue"].astype(bool)].head(1)]) if len(pp) else pp
    return pp[PAIN_COLUMNS].reset_index(drop=True)


def overview_pain_points(
    ws: Any,
    start: Any = None,
    end: Any = None,
    filters: Mapping[str, Any] | None = None,
    *,
    top: int = 5,
    segment: str | None = None,
) -> list[dict[str, Any]]:
    """:func:`top_pain_points` as display rows for the overview's "Top pain points" section.

    Each row: ``stage``, ``touchpoint``, ``theme``, ``name``, ``issue`` (False for the "other"
    group, verbatims without a theme), ``negative`` (int), ``share``
    (negative share, e.g. ``"40%"``), ``metric``, ``effect`` (signed, one decimal, or None),
    ``ci`` (its 95% interval, e.g. ``"−1.4 to −0.8"``, or None), ``significant`` (p < 0.05) and
    ``explanation`` (:func:`cxlens.voice.painpoints.explain_effect`: score with vs without the
    theme). Any failure of the voice analysis gives no rows, never a broken overview.
    """
    try:
        df = top_pain_points(ws, start, end, filters, top=top, segment=segment)
    except Exception:  # noqa: BLE001 - the overview must render whatever the text looks like
        return []
    return [
        {
            "stage": None if pd.isna(r["stage"]) else r["stage"],
            "touchpoint": None if pd.isna(r["touchpoint"]) else r["touchpoint"],
            "theme": r["theme"],
            "name": r["name"],
            "issue": bool(r["issue"]),
            "negative": int(r["negative"]),
            "share": f"{100 * r['negative_share']:.0f}%",
            "metric": None if pd.isna(r["metric"]) else str(r["metric"]),
            "effect": None if pd.isna(r["effect"]) else f"{r['effect']:+.1f}",
            "ci": None
            if pd.isna(r["low"]) or pd.isna(r["high"])
            else f"{r['low']:+.1f} to {r['high']:+.1f}".replace("-", "−"),
            "significant": bool(pd.notna(r["p_value"]) and r["p_value"] < 0.05),
            "explanation": None if pd.isna(r["effect"]) else r["explanation"],
        }
        for r in df.to_dict(orient="records")
    ]


def journey_voice(
    ws: Any, start: Any = None, end: Any = None, filters: Mapping[str, Any] | None = None, *, segment: str | None = None
) -> pd.DataFrame:
    """Per stage and touchpoint: mean sentiment of its English verbatims and its top negative theme.

    Returns
    -------
    DataFrame
        :data:`JOURNEY_VOICE_COLUMNS`: ``sentiment`` (mean score in [-1, 1]), ``sentiment_n``
        (verbatims scored) and ``negative_themes`` (name of the theme with the most negative
        verbatims — score below 0 — in the cell, None if none). Empty without enough English text.
    """
    got = _scored(ws, start, end, filters, segment)
    if got is None:
        return pd.DataFrame(columns=JOURNEY_VOICE_COLUMNS)
    en, tx = got
    names = tx.names()
    keys = ["stage", "touchpoint"]
    rows = []
    for key, g in en.groupby(keys, dropna=False, sort=True):
        neg = g[g["sentiment"] < 0]
        counts = pd.Series([t for ts in neg["themes"] for t in ts[:1]], dtype=object).value_counts()
        top = None
        if len(counts):
            best = counts[counts == counts.max()].index
            top = names.get(sorted(best)[0], sorted(best)[0])
        rows.append({"stage": key[0], "touchpoint": key[1], "sentiment": float(g["sentiment"].mean()),
                     "sentiment_n": len(g), "negative_themes": top})  # fmt: skip
    out = pd.DataFrame(rows, columns=JOURNEY_VOICE_COLUMNS)
    for c in keys:
        out[c] = pd.Series([None if pd.isna(x) else x for x in out[c]], dtype=object)
    return out
