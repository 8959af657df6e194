"""Personas: a readable card per customer segment, generated from the data.

For each segment (by default the RFM segments of :func:`cxlens.customers.segments.rfm_segments`)
:func:`personas` reports, from the segment members' own rows:

- ``size`` and ``share`` (percent of the segmented customers);
- historic value: ``revenue_mean`` and ``orders_mean`` per member (counted orders only, as in the
  metrics; members without orders count as 0), and the predicted ``clv_mean`` / ``clv_total`` when
  a CLV frame is given (members without a prediction are left out of the mean);
- ``nps`` and ``csat`` with ``n`` and 95% intervals, computed by the library's own
  :func:`~cxlens.metrics.nps.nps_expr` / :func:`~cxlens.metrics.csat.csat_expr` on the feedback of
  the members (feedback joined to the membership on the backend, one query for all segments);
- ``channels`` and ``touchpoints``: the ``top`` values by share of the members' events;
- ``themes``: the ``top`` values of ``feedback.properties.theme`` by share of the members' themed
  answers (empty when the feedback carries no themes); an imported ``other`` or ``Other (no theme)``
  (any case; :data:`~cxlens.voice.themes.OTHER_ID`, what ``voice score --themes`` writes for a text
  without a theme) is no theme: never listed, and not a themed answer;
- ``pain_points``: the ``top`` touchpoints by unhappy share of the members' answers (NPS 0-6,
  CSAT 1-3, CES 1-4, pooled, as on the journey map), ranked on the share shrunk towards the
  segment's overall unhappy share ``p0``: ``(unhappy + m·p0) / (answers + m)`` with
  ``m = shrinkage``, so a touchpoint with two bad answers does not top the list by chance
  (touchpoints with fewer than ``min_answers`` answers are not listed);
- ``churn_risk``: mean of a given risk frame over the members it scores;
- ``description``: one paragraph of template text with the numbers inserted (plain text; the web
  layer escapes it).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.customers.risk import unhappy
from cxlens.customers.segments import rfm_segments
from cxlens.errors import ConfigError, NotFoundError
from cxlens.metrics.common import DateLike, backend_name, json_text, ts_literal
from cxlens.metrics.csat import csat_expr
from cxlens.metrics.nps import nps_expr
from cxlens.metrics.stats import MIN_N
from cxlens.metrics.value import EXCLUDED_STATUSES, valid_orders
from cxlens.voice.themes import OTHER_ID, OTHER_NAME

__all__ = ["PERSONA_COLUMNS", "VOICE_COLUMNS", "persona_voice", "personas"]

#: the columns of :func:`personas`, in order
PERSONA_COLUMNS = [
    "segment", "size", "share", "revenue_mean", "orders_mean", "clv_mean", "clv_total", "nps", "nps_n",
    "nps_ci_low", "nps_ci_high", "csat", "csat_n", "csat_ci_low", "csat_ci_high", "churn_risk", "channels",
    "touchpoints", "themes", "pain_points", "description",
]  # fmt: skip
_KEY = "persona"
#: the columns of :func:`persona_voice`, in order
VOICE_COLUMNS = ["segment", "verbatims", "sentiment", "goals", "frustrations", "quote"]
#: sentiment beyond which a verbatim counts as positive (goal) or negative (frustration)
_POLAR = 0.05


def _opt(ws: Any, name: str) -> ibis.Table | None:
    try:
        return ws.table(name)
    except NotFoundError:
        return None


def _members(ws: Any, segments: pd.Series | None, as_of: DateLike) -> pd.Series:
    if segments is None:
        rfm = rfm_segments(ws, as_of)
        return pd.Series(rfm["segment"].to_numpy(), index=rfm["customer_id"].astype(str).to_numpy(), name=_KEY)
    if not isinstance(segments, pd.Series):
        raise ConfigError(
            f"segments is a {type(segments).__name__}; expected a Series of segment names indexed by customer_id "
            "(e.g. rfm_segments(ws).set_index('customer_id')['segment'])"
        )
    s = segments.dropna()
    s = pd.Series(s.astype(str).to_numpy(), index=s.index.astype(str), name=_KEY)
    dup = s.index[s.index.duplicated()]
    if len(dup):
        raise ConfigError(f"customer {dup[0]!r} appears twice in segments; give each customer one segment")
    return s


def _joined(ws: Any, name: str, mem: ibis.Table, ts: str, end: DateLike) -> ibis.Table | None:
    t = _opt(ws, name)
    if t is None:
        return None
    if end is not None:
        t = t.filter(t[ts] < ts_literal(end))
    return t.inner_join(mem, "customer_id")


def _top(counts: pd.DataFrame, col: str, top: int) -> dict[str, list[dict[str, Any]]]:
    """``persona, col, n`` counts → per persona the ``top`` values with their share (percent)."""
    out: dict[str, list[dict[str, Any]]] = {}
    if counts.empty:
        return out
    counts = counts.assign(n=counts["n"].astype("int64"))
    for seg, g in counts.groupby(_KEY, sort=False):
        total = g["n"].sum()
        g = g.sort_values(["n", col], ascending=[False, True], kind="mergesort").head(top)
        out[str(seg)] = [
            {col: v, "share": float(100 * n / total), "n": int(n)} for v, n in zip(g[col], g["n"], strict=True)
        ]
    return out


def _counts(t: ibis.Table | None, key: ibis.Value | str) -> pd.DataFrame:
    if t is None:
        return pd.DataFrame(columns=[_KEY, "value", "n"])
    v = t[key] if isinstance(key, str) else key
    t = t.mutate(value=v)
    t = t.filter(t.value.notnull() & (t.value != ""))
    return t.group_by([_KEY, "value"]).aggregate(n=t.count()).execute()


def _pains(fb: ibis.Table | None, top: int, m: float, min_answers: int) -> dict[str, list[dict[str, Any]]]:
    if fb is None:
        return {}
    t = fb.filter(fb.metric.lower().isin(["nps", "csat", "ces"]), fb.score.notnull(), fb.touchpoint.notnull())
    df = (
        t.group_by([_KEY, "touchpoint"])
        .aggregate(n=t.count(), bad=unhappy(t).cast("int64").sum())
        .execute()
        .astype({"n": "int64", "bad": "int64"})
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for seg, g in df.groupby(_KEY, sort=False):
        p0 = g["bad"].sum() / g["n"].sum()
        g = g.assign(_d=(g["bad"] + m * p0) / (g["n"] + m))
        g = (
            g[(g["bad"] > 0) & (g["n"] >= min_answers)]
            .sort_values(["_d", "touchpoint"], ascending=[False, True], kind="mergesort")
            .head(top)
        )
        out[str(seg)] = [
            {"touchpoint": tp, "unhappy": float(100 * b / n), "answers": int(n)}
            for tp, b, n in zip(g["touchpoint"], g["bad"], g["n"], strict=True)
        ]
    return out


def _fmt(v: Any, spec: str = ".0f") -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, spec)


def _describe(r: dict[str, Any]) -> str:
    """One paragraph of plain text for a persona card."""
    s = [f"{r['segment']}: {r['size']:,} customers ({r['share']:.1f}% of those segmented)"]
    s[0] += f", spending {r['revenue_mean']:,.2f} on average over {r['orders_mean']:.1f} orders"
    if _fmt(r["clv_mean"]) is not None:
        s[0] += f", with a predicted CLV of {r['clv_mean']:,.2f} each"
    s[0] += "."
    scores = []
    if r["nps_n"]:
        scores.append(
            f"NPS {r['nps']:+.0f} (95% CI {r['nps_ci_low']:+.0f} to {r['nps_ci_high']:+.0f}, {r['nps_n']:,} answers)"
        )
    if r["csat_n"]:
        scores.append(
            f"CSAT {r['csat']:.0f}% (95% CI {r['csat_ci_low']:.0f}-{r['csat_ci_high']:.0f}%, {r['csat_n']:,} answers)"
        )
    s.append(("They give " + " and ".join(scores) + ".") if scores else "They have not answered a survey yet.")
    if r["channels"]:
        ch = ", ".join(f"{c['channel']} ({c['share']:.0f}%)" for c in r["channels"])
        tp = ", ".join(t["touchpoint"] for t in r["touchpoints"])
        s.append(f"Their events are mostly on {ch}" + (f", most often at {tp}." if tp else "."))
    if r["themes"]:
        s.append("They talk most about " + ", ".join(str(t["theme"]).replace("_", " ") for t in r["themes"]) + ".")
    if r["pain_points"]:
        p = r["pain_points"][0]
        s.append(
            f"Their worst touchpoint is {p['touchpoint']} ({p['unhappy']:.0f}% unhappy of {p['answers']:,} answers)."
        )
    if _fmt(r["churn_risk"]) is not None:
        s.append(f"Mean churn risk: {100 * r['churn_risk']:.0f}%.")
    return " ".join(s)


def _mean_by(frame: pd.DataFrame | None, col: str, members: pd.Series, what: str) -> tuple[pd.Series, pd.Series]:
    if frame is None:
        return pd.Series(dtype="float64"), pd.Series(dtype="float64")
    if "customer_id" not in frame.columns or col not in frame.columns:
        raise ConfigError(f"the {what} frame needs columns customer_id and {col}; got {', '.join(map(str, frame))}")
    v = frame.assign(customer_id=frame["customer_id"].astype(str)).groupby("customer_id")[col].mean()
    joined = pd.DataFrame({_KEY: members, col: v.reindex(members.index).to_numpy()}, index=members.index)
    g = joined.groupby(_KEY)[col]
    return g.mean(), g.sum(min_count=1)


def personas(
    ws: Any,
    segments: pd.Series | None = None,
    *,
    as_of: DateLike = None,
    clv: pd.DataFrame | None = None,
    risk: pd.DataFrame | None = None,
    top: int = 3,
    shrinkage: float = 30.0,
    min_answers: int = 3,
    min_n: int = MIN_N,
    excluded_statuses: Sequence[str] = EXCLUDED_STATUSES,
) -> pd.DataFrame:
    """One persona card per segment: size, value, NPS/CSAT with CIs, channels, themes, pain points, risk.

    Parameters
    ----------
    ws
        A workspace (any backend).
    segments
        Segment name per customer: a Series indexed by ``customer_id`` (one segment each). Default:
        the RFM segments at ``as_of``.
    as_of
        Only rows strictly before it are used (and the RFM segments are scored at it). Default: all
        rows (RFM: midnight after the last order).
    clv, risk
        Optional ``customer_id, clv`` (:func:`~cxlens.customers.predict_clv`) and ``customer_id,
        churn_risk`` (:func:`~cxlens.customers.churn_model.score_churn`) frames.
    top
        How many channels, touchpoints, themes and pain points each card lists.
    shrinkage, min_answers
        ``m``, answers of prior weight when ranking pain points (module docstring), and the
        fewest answers a touchpoint needs to be listed as one.
    min_n
        Passed to the NPS/CSAT expressions (small-sample threshold).

    Returns
    -------
    DataFrame
        :data:`PERSONA_COLUMNS`, one row per segment, largest first. ``channels``, ``touchpoints``
        and ``themes`` are lists of ``{<name>, "share", "n"}``; ``pain_points`` a list of
        ``{"touchpoint", "unhappy", "answers"}``; ``.to_dict("records")`` gives the cards.

    Examples
    --------
    >>> import cxlens
    >>> from cxlens.ingest.simulate import write_demo
    >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, 300, seed=1)
    >>> cards = personas(ws)
    >>> int(cards["size"].sum()) == len(rfm_segments(ws)), bool(cards["description"].str.len().min() > 50)
    (True, True)
    """
    members = _members(ws, segments, as_of)
    if members.empty:
        raise NotFoundError("no customer is in any segment; pass segments or load orders for the RFM segments")
    end = as_of
    mem = ibis.memtable(pd.DataFrame({"customer_id": members.index, _KEY: members.to_numpy()}))
    sizes = members.value_counts()

    # historic value per member (counted orders; members without orders count as 0)
    rev = pd.Series(0.0, index=members.index)
    cnt = pd.Series(0.0, index=members.index)
    orders = _opt(ws, "orders")
    if orders is not None:
        o = valid_orders(orders, excluded_statuses)
        if end is not None:
            o = o.filter(o.ts < ts_literal(end))
        per = ws.read(o.group_by("customer_id").aggregate(revenue=o.amount.sum(), n=o.count()))
        per = per.assign(customer_id=per["customer_id"].astype(str)).set_index("customer_id")
        rev = per["revenue"].reindex(members.index).fillna(0.0).astype("float64")
        cnt = per["n"].reindex(members.index).fillna(0).astype("float64")
    revenue_mean = rev.groupby(members).mean()
    orders_mean = cnt.groupby(members).mean()
    clv_mean, clv_total = _mean_by(clv, "clv", members, "clv")
    risk_mean, _ = _mean_by(risk, "churn_risk", members, "risk")

    fb = _joined(ws, "feedback", mem, "ts", end)
    ev = _joined(ws, "events", mem, "ts", end)
    scores: dict[str, pd.DataFrame] = {}
    if fb is not None:
        scores["nps"] = ws.read(nps_expr(fb, by=_KEY, min_n=min_n)).set_index(_KEY)
        scores["csat"] = ws.read(csat_expr(fb, by=_KEY, min_n=min_n)).set_index(_KEY)
    channels = _top(_counts(ev, "channel").rename(columns={"value": "channel"}), "channel", top)
    touchpoints = _top(_counts(ev, "touchpoint").rename(columns={"value": "touchpoint"}), "touchpoint", top)
    themes: dict[str, list[dict[str, Any]]] = {}
    if fb is not None:
        theme = json_text(fb.properties, "theme", backend_name(fb))
        # an imported "other" / "Other (no theme)" (a file written by `voice score --themes`) is the group of
        # texts without a theme, not a theme the members talk about: no theme, as theme_summary reads it
        unthemed = theme.strip().lower().isin([OTHER_ID, OTHER_NAME.casefold()])
        theme = unthemed.ifelse(ibis.null().cast("string"), theme)
        themes = _top(_counts(fb, theme).rename(columns={"value": "theme"}), "theme", top)
    pains = _pains(fb, top, shrinkage, min_answers)

    def get(s: pd.Series, seg: str) -> float:
        v = s.get(seg, np.nan) if len(s) else np.nan
        return float(v) if pd.notna(v) else float("nan")

    rows = []
    total = int(sizes.sum())
    for seg, size in sizes.sort_index().sort_values(ascending=False, kind="mergesort").items():
        seg = str(seg)
        r: dict[str, Any] = {"segment": seg, "size": int(size), "share": 100 * size / total}
        r["revenue_mean"], r["orders_mean"] = get(revenue_mean, seg), get(orders_mean, seg)
        r["clv_mean"], r["clv_total"] = get(clv_mean, seg), get(clv_total, seg)
        for metric in ("nps", "csat"):
            df = scores.get(metric)
            hit = df is not None and seg in df.index
            r[metric] = float(df.loc[seg, metric]) if hit else float("nan")
            r[f"{metric}_n"] = int(df.loc[seg, "n"]) if hit else 0
            r[f"{metric}_ci_low"] = float(df.loc[seg, "ci_low"]) if hit else float("nan")
            r[f"{metric}_ci_high"] = float(df.loc[seg, "ci_high"]) if hit else float("nan")
        r["churn_risk"] = get(risk_mean, seg)
        r["channels"] = channels.get(seg, [])
        r["touchpoints"] = touchpoints.get(seg, [])
        r["themes"] = themes.get(seg, [])
        r["pain_points"] = pains.get(seg, [])
        r["description"] = _describe(r)
        rows.append(r)
    return pd.DataFrame(rows, columns=PERSONA_COLUMNS)


def persona_voice(ws: Any, segments: pd.Series | None = None, *, top: int = 3) -> pd.DataFrame:
    """What each segment's customers write: goals, frustrations and a representative quote.

    Reads the stored voice analysis (:func:`cxlens.voice.verbatims.analysed_verbatims`: English
    verbatims with a sentiment score and a theme named by the theme model) of the members:

    - ``goals``: the ``top`` themes of their positive verbatims (sentiment above 0.05) — what they
      value; ``frustrations``: the ``top`` themes of their negative ones (below −0.05); each a list
      of ``{"theme", "name", "n", "share"}`` (share of the segment's positive or negative verbatims);
      verbatims without a theme (the "Other (no theme)" group) count in that share but are never a
      goal or frustration — they are not an issue;
    - ``quote``: of the verbatims of the segment's most frequent theme, the one whose sentiment is
      closest to that theme's median in the segment (ties: the shorter text), as
      ``{"text", "sentiment", "theme"}``; the stored text is already PII-redacted and goes through
      the caller's policy again;
    - ``verbatims`` and mean ``sentiment``.

    Segments without analysed text get 0 verbatims and empty lists; a workspace whose voice
    analysis has not run gives an empty frame.
    """
    from cxlens.schema.pii import current_policy
    from cxlens.voice.summary import LIMIT
    from cxlens.voice.tasks import theme_model
    from cxlens.voice.verbatims import analysed_verbatims

    members = _members(ws, segments, None)
    try:
        tx, _ = theme_model(ws)
        v = analysed_verbatims(ws, limit=LIMIT)
    except NotFoundError:
        return pd.DataFrame(columns=VOICE_COLUMNS)
    if v.empty:
        return pd.DataFrame(columns=VOICE_COLUMNS)
    names = tx.names() if tx is not None else {}
    v = v[v["customer_id"].notna()].copy()
    v[_KEY] = v["customer_id"].astype(str).map(members)
    v = v[v[_KEY].notna()]

    def ranked(g: pd.DataFrame) -> list[dict[str, Any]]:
        counts = g["theme"].dropna().value_counts()
        counts = counts.sort_index().sort_values(ascending=False, kind="mergesort").head(top)
        return [{"theme": str(t), "name": names.get(t, str(t)), "n": int(n), "share": 100 * n / len(g)}
                for t, n in counts.items()]  # fmt: skip

    rows = []
    for seg in members.value_counts().index:
        g = v[v[_KEY] == seg]
        row: dict[str, Any] = {"segment": str(seg), "verbatims": len(g), "sentiment": float("nan"),
                               "goals": [], "frustrations": [], "quote": None}  # fmt: skip
        if len(g):
            row["sentiment"] = float(g["sentiment"].mean())
            row["goals"] = ranked(g[g["sentiment"] > _POLAR])
            row["frustrations"] = ranked(g[g["sentiment"] < -_POLAR])
            pool = g[g["text"].notna() & (g["text"].astype(str).str.strip() != "")]
            common = pool["theme"].dropna().value_counts()
            if len(common):
                theme = sorted(common[common == common.max()].index)[0]
                pool = pool[pool["theme"] == theme]
            if len(pool):
                med = float(pool["sentiment"].median())
                pick = pool.assign(_d=(pool["sentiment"] - med).abs(), _l=pool["text"].astype(str).str.len())
                r = pick.sort_values(["_d", "_l", "verbatim_id"], kind="mergesort").iloc[0]
                text = " ".join(str(current_policy().texts(pd.Series([str(r["text"])])).iloc[0]).split())
                th = None if pd.isna(r["theme"]) else str(r["theme"])
                row["quote"] = {
                    "text": text,
                    "sentiment": float(r["sentiment"]),
                    "theme": names.get(th, th) if th else None,
                }
        rows.append(row)
    return pd.DataFrame(rows, columns=VOICE_COLUMNS)
