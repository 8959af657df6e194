"""Theme summaries, pain points per journey stage/touchpoint and emerging themes.

Every function takes a verbatims DataFrame: one row per text with column ``text`` and, as
available, ``ts`` (timestamp), ``stage``, ``touchpoint``, ``metric`` (``nps``, ``csat``,
``ces``…), ``score`` and ``sentiment`` (a score in [-1, 1] or a label; ``sentiment_score`` as
written by :func:`cxlens.voice.verbatims.analyse_verbatims` is used when ``sentiment`` is absent,
a missing score counting as not negative). Themes come from a
``theme``/``themes`` column already present, or from a fitted :class:`ThemeExtractor`.

*Negative* means sentiment label ``negative`` or sentiment score below 0; without a sentiment
column the shipped sentiment model scores the texts.

Tests (all two-sided, α = 0.05 unless given):

* growth of a theme — its share of verbatims in the last period vs the period before, pooled
  two-proportion z-test (:func:`cxlens.metrics.stats.two_proportion_z_test`); the share is the
  Poisson rate of the theme per verbatim, so this is the usual conditional test of two rates;
* effect on a score — mean with the theme minus mean without it, Welch t interval; for NPS the
  difference of the two NPS values with the normal interval of :func:`nps_z_test`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, SchemaError
from cxlens.metrics.stats import ALPHA, Z, nps_z_test, two_proportion_z_test, welch_t_test
from cxlens.voice.themes import OTHER_ID, OTHER_NAME, ThemeExtractor

__all__ = ["emerging_themes", "explain_effect", "pain_points", "theme_summary"]

_PERIODS = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
_LABEL_SCORE = {"negative": -1.0, "neutral": 0.0, "mixed": 0.0, "positive": 1.0}


def _prepare(df: pd.DataFrame, extractor: ThemeExtractor | None) -> tuple[pd.DataFrame, dict[str, str]]:
    if "text" not in df.columns:
        raise SchemaError(f"verbatims have columns {list(df.columns)}; expected a 'text' column")
    f = df.reset_index(drop=True).copy()
    names: dict[str, str] = {}
    if extractor is not None:
        names = extractor.names()
        if "theme" not in f.columns:
            a = extractor.assign(f["text"].tolist())
            f["theme"], f["themes"] = a["theme"].to_numpy(), a["themes"].to_numpy()
            f["theme_score"] = a["theme_score"].to_numpy()
    if "theme" not in f.columns:
        raise SchemaError("verbatims have no 'theme' column; pass a fitted ThemeExtractor as extractor")
    # "other" is the documented id of the texts without a theme (e.g. a file written by
    # `voice score --themes`): read back as no theme, never as a theme of that name
    f["theme"] = f["theme"].astype(object).where(f["theme"].notna() & f["theme"].ne(OTHER_ID), None)
    if "themes" not in f.columns:
        f["themes"] = [[t] if t is not None else [] for t in f["theme"]]
    else:
        f["themes"] = [[t for t in ts if t != OTHER_ID] for ts in f["themes"]]
    if "sentiment" not in f.columns and "sentiment_score" in f.columns:  # analyse_verbatims output
        f["sentiment"] = pd.to_numeric(f["sentiment_score"], errors="coerce")
    if "sentiment" not in f.columns:
        from cxlens.voice.sentiment import default_model

        f["sentiment"] = default_model().score(f["text"].fillna("").astype(str).tolist())["score"].to_numpy()
    s = f["sentiment"]
    if pd.api.types.is_numeric_dtype(s):
        f["_sent"] = s.astype(float)
        f["_neg"] = s.astype(float) < 0
    else:
        lab = s.astype(str).str.lower()
        f["_sent"] = lab.map(_LABEL_SCORE)
        f["_neg"] = lab.eq("negative")
    return f, names


def _period(f: pd.DataFrame, period: str) -> pd.Series:
    if "ts" not in f.columns:
        raise SchemaError("verbatims have no 'ts' column; trends and emerging themes need a timestamp per text")
    code = _PERIODS.get(period, period)
    try:
        return pd.to_datetime(f["ts"]).dt.to_period(code).astype(str)
    except ValueError:
        raise ConfigError(f"period {period!r} is not known; expected one of {list(_PERIODS)}") from None


def _trend(f: pd.DataFrame, period: str, alpha: float, at: str | None = None) -> pd.DataFrame:
    """Counts per period of every primary theme and the last-vs-previous growth test."""
    per = _period(f, period)
    counts = pd.crosstab(f["theme"].astype(str), per)
    totals = per.value_counts().reindex(counts.columns)
    cols = [str(c) for c in counts.columns]
    if at is not None and str(at) not in cols:
        raise ConfigError(f"period at={at!r} has no verbatims; expected one of {cols}")
    pos = cols.index(str(at)) if at is not None else len(cols) - 1
    rows = []
    for theme, c in counts.iterrows():
        row: dict[str, Any] = {"theme": theme, "counts": {str(k): int(v) for k, v in c.items()}}
        if pos >= 1:
            last, prev = counts.columns[pos], counts.columns[pos - 1]
            z, p = two_proportion_z_test(c[last], totals[last], c[prev], totals[prev])
            row.update(
                period=str(last),
                count=int(c[last]),
                previous=int(c[prev]),
                period_share=float(c[last] / totals[last]),
                previous_share=float(c[prev] / totals[prev]),
                z=float(z),
                p_value=float(p),
                growing=bool(z > 0 and p < alpha),
            )
        rows.append(row)
    return pd.DataFrame(rows)


def theme_summary(
    df: pd.DataFrame,
    extractor: ThemeExtractor | None = None,
    *,
    period: str = "month",
    alpha: float = ALPHA,
    n_quotes: int = 3,
    at: str | None = None,
    other: bool = True,
) -> pd.DataFrame:
    """Size, share, sentiment, monthly trend, growth flag and quotes of every theme.

    With ``other`` (default) the texts without a primary theme are one more row, theme
    :data:`~cxlens.voice.themes.OTHER_ID` (``"other"``), name ``"Other (no theme)"``, ``issue``
    False, listed after the themes; shares are then of all texts. ``other=False`` leaves them out
    (shares of the texts with a theme).

    Returns
    -------
    DataFrame
        One row per primary theme (largest first, the other group last): ``theme, name, issue``
        (False for the other group), ``size, share, mean_sentiment,
        negative_share, counts`` (dict period → count), ``period, count, previous, period_share,
        previous_share, z, p_value, growing`` (when ``ts`` is present: period ``at``, e.g. ``"2026-05"``, vs the one before;
        default the last period — pass the last complete one while a period is still running) and
        ``quotes``.

    Examples
    --------
    >>> import pandas as pd
    >>> df = pd.DataFrame({"text": ["late again", "late parcel", "great staff"],
    ...                    "theme": ["delay", "delay", "staff"], "sentiment": [-0.8, -0.5, 0.9]})
    >>> theme_summary(df)[["theme", "size", "negative_share"]].values.tolist()
    [['delay', 2, 1.0], ['staff', 1, 0.0]]
    >>> df.loc[2, "theme"] = None
    >>> theme_summary(df)[["theme", "name", "issue", "size", "share"]].values.tolist()
    [['delay', 'delay', True, 2, 0.6666666666666666], ['other', 'Other (no theme)', False, 1, 0.3333333333333333]]
    """
    f, names = _prepare(df, extractor)
    if other:
        f["theme"] = f["theme"].where(f["theme"].notna(), OTHER_ID)
        names = {**names, OTHER_ID: OTHER_NAME}
    else:
        f = f[f["theme"].notna()]
    g = f.groupby(f["theme"].astype(str))
    out = pd.DataFrame(
        {
            "size": g.size(),
            "mean_sentiment": g["_sent"].mean(),
            "negative_share": g["_neg"].mean().astype(float),
        }
    ).reset_index(names="theme")
    out.insert(1, "name", out["theme"].map(lambda t: names.get(t, t)))
    out.insert(2, "issue", out["theme"].ne(OTHER_ID))
    out.insert(4, "share", out["size"] / out["size"].sum())
    if "ts" in f.columns:
        out = out.merge(_trend(f, period, alpha, at), on="theme", how="left")
    order = "theme_score" if "theme_score" in f.columns else None
    quotes = {}
    for theme, rows in g:
        r = rows.sort_values(order, ascending=False, kind="stable") if order else rows
        quotes[theme] = list(dict.fromkeys(r["text"].astype(str).str.strip()))[:n_quotes]
    out["quotes"] = out["theme"].map(quotes)
    order = ["issue", "size", "theme"]
    return out.sort_values(order, ascending=[False, False, True], kind="stable").reset_index(drop=True)


def emerging_themes(
    df: pd.DataFrame,
    extractor: ThemeExtractor | None = None,
    *,
    period: str = "month",
    alpha: float = ALPHA,
    min_count: int = 5,
    at: str | None = None,
) -> pd.DataFrame:
    """Themes whose share of verbatims grew significantly in the last period vs the previous one.

    Returns
    -------
    DataFrame
        Rows of :func:`theme_summary` with ``growing`` true and at least ``min_count`` verbatims in
        the last period, strongest growth (z) first; never the other group (texts without a theme).
    """
    s = theme_summary(df, extractor, period=period, alpha=alpha, at=at)
    if "growing" not in s.columns:
        return s.iloc[0:0]
    # shares are of all texts; the other group is not an issue that can emerge
    s = s[s["growing"].fillna(False).astype(bool) & (s["count"] >= min_count) & s["issue"]]
    return s.sort_values("z", ascending=False, kind="stable").reset_index(drop=True)


def _nps(x: np.ndarray) -> tuple[float, float]:
    n = len(x)
    p, d = np.mean(x >= 9), np.mean(x <= 6)
    return 100 * (p - d), 100**2 * ((p + d) - (p - d) ** 2) / n


def _effect(metric: str, with_: np.ndarray, without: np.ndarray) -> dict[str, float]:
    from scipy import stats as _st  # lazy: scipy.stats costs ~0.5 s at import

    nan = float("nan")
    if len(with_) < 2 or len(without) < 2:
        return {"score_with": nan, "score_without": nan, "effect": nan, "low": nan, "high": nan, "p_value": nan}
    if metric == "nps":
        a, va = _nps(with_)
        b, vb = _nps(without)
        _, p = nps_z_test(a, va, b, vb)
        half = Z * np.sqrt(va + vb)
    else:
        a, b = float(with_.mean()), float(without.mean())
        s1, s0, n1, n0 = with_.std(ddof=1), without.std(ddof=1), len(with_), len(without)
        _, p = welch_t_test(a, s1, n1, b, s0, n0)
        v1, v0 = s1**2 / n1, s0**2 / n0
        with np.errstate(divide="ignore", invalid="ignore"):
            dof = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
            half = _st.t.ppf(1 - ALPHA / 2, dof) * np.sqrt(v1 + v0)
    d = a - b
    return {
        "score_with": float(a),
        "score_without": float(b),
        "effect": float(d),
        "low": float(d - half),
        "high": float(d + half),
        "p_value": float(p),
    }


def explain_effect(
    metric: str, score_with: float, score_without: float, low: float, high: float, *, other: bool = False
) -> str:
    """One sentence that says what a theme's score effect means, with its 95% interval.

    The effect is the score of the verbatims that mention the theme minus the score of those that
    do not (same stage and touchpoint): NPS points for ``nps``, the mean score otherwise. A pain
    point can have a positive effect: its negative verbatims come from customers who still score
    above the rest (e.g. loyal customers who complain); the sentence says so.

    Examples
    --------
    >>> explain_effect("csat", 3.1, 4.2, -1.4, -0.8)
    'CSAT 3.10 when the theme is mentioned vs 4.20 when not: −1.10 (95% CI −1.40 to −0.80); lower when present'
    >>> explain_effect("nps", 10.0, -5.0, -2.0, 32.0)
    'NPS +10 when the theme is mentioned vs −5 when not: +15 points (95% CI −2 to +32); no clear difference'

    ``other`` words it for the verbatims without a theme (against those with one):

    >>> explain_effect("nps", -40.0, -5.0, -60.0, -10.0, other=True)
    'NPS −40 without a theme vs −5 with one: −35 points (95% CI −60 to −10); lower when present'
    """
    if any(v is None or not np.isfinite(v) for v in (score_with, score_without)):
        return "no score to compare (too few answers with or without the theme)"
    label = (metric or "score").upper()
    d = score_with - score_without

    def num(v: float, signed: bool) -> str:
        text = f"{v:+.0f}" if metric == "nps" else f"{v:+.2f}"
        text = text if signed else text.lstrip("+")
        return text.replace("-", "−")

    unit = " points" if metric == "nps" else ""
    present, absent = ("without a theme", "with one") if other else ("when the theme is mentioned", "when not")
    out = (
        f"{label} {num(score_with, metric == 'nps')} {present} vs "
        f"{num(score_without, metric == 'nps')} {absent}: {num(d, True)}{unit}"
    )
    if np.isfinite(low) and np.isfinite(high):
        out += f" (95% CI {num(low, True)} to {num(high, True)})"
        if high < 0:
            return out + "; lower when present"
        if low > 0:
            return out + "; higher when present: those who mention it still score above the rest"
    return out + "; no clear difference"


def pain_points(
    df: pd.DataFrame,
    extractor: ThemeExtractor | None = None,
    *,
    by: Sequence[str] = ("stage", "touchpoint"),
    top: int = 3,
    min_negative: int = 1,
    other: bool = True,
) -> pd.DataFrame:
    """For each stage/touchpoint, the themes with the most negative verbatims and their score effect.

    A verbatim *has* a theme when the theme is among its labels (``themes``, multi-label). When
    ``metric`` and ``score`` columns exist, groups are split by metric and the effect is the
    difference in mean score (NPS points for ``nps``) between verbatims with and without the
    theme in the same group, with a 95% interval and p-value.

    With ``other`` (default), each group also has a row for its verbatims without a primary theme
    (theme ``"other"``, name ``"Other (no theme)"``, ``issue`` False) when at least
    ``min_negative`` of them are negative, after its ``top`` themes and not counted in ``top``:
    the same figures (effect: without a theme vs with one), so what no theme describes is seen.

    Returns
    -------
    DataFrame
        ``*by, [metric], theme, name, issue, n, share, negative, negative_share, score_with,
        score_without, effect, low, high, p_value, explanation`` — the ``top`` themes per group by
        negative volume (then the other group); ``share`` is ``n`` over the group's verbatims;
        ``effect = score_with − score_without`` and ``explanation`` says so in words
        (:func:`explain_effect`).
    """
    f, names = _prepare(df, extractor)
    by = [by] if isinstance(by, str) else list(by)
    missing = [c for c in by if c not in f.columns]
    if missing:
        raise SchemaError(f"verbatims have no column {missing[0]!r}; expected the 'by' columns {by} to exist")
    keys = by + (["metric"] if {"metric", "score"} <= set(f.columns) else [])
    has_score = "score" in f.columns
    rows = []
    for key, g in f.groupby(keys, dropna=False, sort=True):
        key = key if isinstance(key, tuple) else (key,)
        base = dict(zip(keys, key, strict=True))
        metric = str(key[-1]) if "metric" in keys else ""
        labels = g["themes"].tolist()
        found = []
        for theme in sorted({t for ts in labels for t in ts}):
            has = np.array([theme in ts for ts in labels], dtype=bool)
            row = _pain_row(g, has, metric, has_score, min_negative, other=False)
            if row is not None:
                found.append({**base, "theme": theme, "name": names.get(theme, theme), "issue": True, **row})
        found.sort(key=lambda r: (-r["negative"], r["theme"]))
        rows.extend(found[:top])
        unthemed = g["theme"].isna().to_numpy()
        row = _pain_row(g, unthemed, metric, has_score, min_negative, other=True) if other else None
        if row is not None:
            rows.append({**base, "theme": OTHER_ID, "name": OTHER_NAME, "issue": False, **row})
    cols = keys + ["theme", "name", "issue", "n", "share", "negative", "negative_share"]
    if has_score:
        cols += ["score_with", "score_without", "effect", "low", "high", "p_value", "explanation"]
    return pd.DataFrame(rows, columns=cols)


def _pain_row(
    g: pd.DataFrame, has: np.ndarray, metric: str, has_score: bool, min_negative: int, *, other: bool
) -> dict[str, Any] | None:
    """The figures of the verbatims ``has`` of group ``g`` against the rest; None below ``min_negative``."""
    n = int(has.sum())
    neg = int((has & g["_neg"].to_numpy(dtype=bool)).sum())
    if n == 0 or neg < min_negative:
        return None
    row: dict[str, Any] = {"n": n, "share": n / len(g), "negative": neg, "negative_share": neg / n}
    if has_score:
        scores = g["score"].to_numpy(dtype=float)
        ok = ~np.isnan(scores)
        row.update(_effect(metric, scores[has & ok], scores[~has & ok]))
        row["explanation"] = explain_effect(
            metric, row["score_with"], row["score_without"], row["low"], row["high"], other=other
        )
    return row
