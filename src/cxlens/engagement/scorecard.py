"""Agent and team CX scorecards from the ``tickets`` and ``feedback`` tables, with n and 95% CIs.

Per agent or team (``tickets.agent`` / ``tickets.team``), optionally per period (``week``,
``month``, ``quarter`` of ``tickets.created_at``):

- ``tickets``: tickets handled;
- ``csat`` (%): of the tickets whose customer answered CSAT within ``days`` after the ticket was
  created (the first such answer), the share satisfied (4–5 on 1–5); Wilson interval;
- ``fcr`` (%): first-contact resolution, tickets resolved (``resolved_at`` set) with ``contacts = 1``
  among resolved tickets with ``contacts`` known; Wilson interval;
- ``first_response_hours`` and ``resolution_hours``: medians of ``first_response_at − created_at``
  and ``resolved_at − created_at`` in hours, with the distribution-free order-statistic interval of a
  median (exact binomial; scipy ``quantile_test``); NaN with fewer than 6 values (no 95% interval exists);
- ``sentiment``: mean ``sentiment_score`` (−1…1) of the ticket texts the voice analysis stored
  (``verbatim_analysis``, ``ticket:<id>``); t interval;
- ``recovery`` (%): of the tickets whose customer was a **detractor** in the ``days`` before the
  ticket (an NPS answer 0–6 or a CSAT answer 1–2; the latest such answer sets the metric) and answered
  that metric again within ``RECOVERY_DAYS`` after the ticket, the share whose first such answer is
  no longer a detractor (NPS ≥ 7, CSAT ≥ 3); Wilson interval.

The small-group rule of :mod:`cxlens.engagement.summary` applies, because an agent is a person and
a small group's figures are a few identifiable cases: a row (group × period) with fewer than
``min_group`` tickets is suppressed whole, and within a shown row each figure with fewer than
``min_group`` observations is left empty (``<figure>_suppressed``). There is no total row, so hidden
rows cannot be worked out by difference.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cxlens.engagement.summary import min_group_size
from cxlens.errors import ParameterError

__all__ = ["BY", "FIGURES", "PERIODS", "RECOVERY_DAYS", "scorecard"]

BY = ("agent", "team")
PERIODS = ("week", "month", "quarter")
#: how long after a ticket a detractor's next answer counts for recovery
RECOVERY_DAYS = 90
FIGURES = ("csat", "fcr", "first_response_hours", "resolution_hours", "sentiment", "recovery")
_Z = 1.959963984540054


def wilson(x: int, n: int) -> tuple[float, float]:
    """Wilson's 95% interval for x/n, in percent (NaN when n is 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    p = x / n
    c = (p + _Z * _Z / (2 * n)) / (1 + _Z * _Z / n)
    h = _Z / (1 + _Z * _Z / n) * math.sqrt(p * (1 - p) / n + _Z * _Z / (4 * n * n))
    return (100 * max(c - h, 0.0), 100 * min(c + h, 1.0))


def median_ci(values: np.ndarray) -> tuple[float, float, float]:
    """(median, low, high): the exact order-statistic 95% interval of the median."""
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return (math.nan, math.nan, math.nan)
    ci = st.quantile_test(v, q=float(np.median(v)), p=0.5).confidence_interval(0.95)
    return (float(np.median(v)), float(ci.low), float(ci.high))


def _tickets(store: Any, by: str, period: str | None, days: int) -> pd.DataFrame:
    per = f"CAST(date_trunc('{period}', t.created_at) AS DATE)" if period else "NULL"
    has_va = store.has_table("verbatim_analysis")
    va = "LEFT JOIN verbatim_analysis va ON va.verbatim_id = 'ticket:' || t.ticket_id" if has_va else ""
    sent = "va.sentiment_score" if has_va else "CAST(NULL AS DOUBLE)"
    sql = (
        f"SELECT t.ticket_id, t.{by} AS grp, {per} AS period, t.contacts, t.resolved_at IS NOT NULL AS resolved, "
        "date_diff('second', t.created_at, t.first_response_at) / 3600.0 AS first_response_hours, "
        "date_diff('second', t.created_at, t.resolved_at) / 3600.0 AS resolution_hours, "
        f"{sent} AS sentiment, "
        "(SELECT arg_min(f.score, f.ts) FROM feedback f WHERE f.metric = 'csat' AND f.customer_id = t.customer_id "
        " AND f.ts >= t.created_at AND f.ts < t.created_at + to_days(?)) AS csat_score, "
        "(SELECT arg_max(f.metric, f.ts) FROM feedback f WHERE f.metric IN ('nps', 'csat') "
        " AND f.customer_id = t.customer_id AND f.ts < t.created_at AND f.ts >= t.created_at - to_days(?) "
        " AND ((f.metric = 'nps' AND f.score <= 6) OR (f.metric = 'csat' AND f.score <= 2))) AS detractor_metric "
        f"FROM tickets t {va} WHERE t.{by} IS NOT NULL"
    )
    df = store.read(sql, [days, days])
    if period:
        df["period"] = pd.to_datetime(df["period"]).dt.date
    # the first NPS and the first CSAT answer after the ticket, within RECOVERY_DAYS
    nxt = store.read(
        "SELECT t.ticket_id, arg_min(f.score, f.ts) FILTER (WHERE f.metric = 'nps') AS next_nps, "
        "arg_min(f.score, f.ts) FILTER (WHERE f.metric = 'csat') AS next_csat "
        "FROM tickets t JOIN feedback f ON f.customer_id = t.customer_id AND f.metric IN ('nps', 'csat') "
        "AND f.ts > t.created_at AND f.ts < t.created_at + to_days(?) "
        f"WHERE t.{by} IS NOT NULL GROUP BY 1",
        [RECOVERY_DAYS],
    )
    df = df.merge(nxt, on="ticket_id", how="left")
    return df


def _recovered(df: pd.DataFrame) -> pd.Series:
    """Per ticket: 1 recovered, 0 not, NaN when not a detractor case or no later answer of that metric."""
    nps = df["detractor_metric"] == "nps"
    after = df["next_nps"].where(nps, df["next_csat"]).where(df["detractor_metric"].notna())
    ok = (after >= 7).where(nps, after >= 3).astype(float)
    return ok.where(after.notna())


def _figures(g: pd.DataFrame, k: int) -> dict[str, Any]:
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    out: dict[str, Any] = {"tickets": len(g)}
    hidden: list[str] = []

    def share(name: str, hits: pd.Series) -> None:
        hits = hits.dropna()
        n = len(hits)
        out[f"{name}_n"] = n
        if n < k:
            out.update({name: None, f"{name}_low": None, f"{name}_high": None})
            hidden.append(name)
            return
        x = int(hits.sum())
        lo, hi = wilson(x, n)
        out.update({name: 100 * x / n, f"{name}_low": lo, f"{name}_high": hi})

    share("csat", (g["csat_score"] >= 4).where(g["csat_score"].notna()))
    resolved = g[g["resolved"] & g["contacts"].notna()]
    share("fcr", (resolved["contacts"] == 1).astype(float))
    for name in ("first_response_hours", "resolution_hours"):
        v = g[name].dropna().to_numpy(float)
        out[f"{name}_n"] = len(v)
        if len(v) < k:
            out |= {name: None, f"{name}_low": None, f"{name}_high": None}
            hidden.append(name)
            continue
        m, lo, hi = median_ci(v)
        out |= {name: m, f"{name}_low": lo, f"{name}_high": hi}
    s = g["sentiment"].dropna().to_numpy(float)
    out["sentiment_n"] = len(s)
    if len(s) < k:
        out |= {"sentiment": None, "sentiment_low": None, "sentiment_high": None}
        hidden.append("sentiment")
    else:
        m = float(s.mean())
        h = float(st.t.ppf(0.975, len(s) - 1) * s.std(ddof=1) / math.sqrt(len(s)))
        out |= {"sentiment": m, "sentiment_low": m - h, "sentiment_high": m + h}
    share("recovery", g["recovered"])
    out["suppressed"] = False
    out["hidden_figures"] = ",".join(hidden) or None
    return out


def scorecard(store: Any, by: str = "team", *, period: str | None = None, days: int = 7,
              min_group: int | None = None) -> pd.DataFrame:  # fmt: skip
    """The CX scorecard per ``by`` (``agent`` or ``team``) and, with ``period``, per week/month/quarter;
    see the module doc. One row per group (× period); NaN/None figures are suppressed or undefined."""
    if by not in BY:
        raise ParameterError("by", f"by is {by!r}; expected one of {', '.join(BY)}")
    if period is not None and period not in PERIODS:
        raise ParameterError("period", f"period is {period!r}; expected one of {', '.join(PERIODS)}")
    if not (isinstance(days, int) and days > 0):
        raise ParameterError("days", f"days is {days!r}; expected a whole number of days > 0")
    k = min_group_size(store, min_group)
    df = _tickets(store, by, period, days)
    df["recovered"] = _recovered(df)
    keys = ["grp", "period"] if period else ["grp"]
    rows = []
    for key, g in df.groupby(keys, sort=True, dropna=False):
        key = key if isinstance(key, tuple) else (key,)
        head = {by: key[0]} | ({"period": key[1]} if period else {})
        if len(g) < k:
            rows.append(head | {"tickets": None, "suppressed": True,
                                "note": f"fewer than {k} tickets: hidden so no one's cases can be singled out"})  # fmt: skip
            continue
        rows.append(head | _figures(g, k) | {"note": None})
    cols = [by, *(["period"] if period else []), "tickets"]
    for f in FIGURES:
        cols += [f, f"{f}_low", f"{f}_high", f"{f}_n"]
    cols += ["hidden_figures", "suppressed", "note"]
    out = pd.DataFrame(rows)
    for c in cols:
        if c not in out.columns:
            out[c] = None
    return out[cols]
