"""Per team: eNPS beside the customers' CSAT and NPS after the team's tickets, and their correlation.

Both sides follow the small-group rule: eNPS through :func:`cxlens.engagement.summary.summary`, the
customer figures through the CX scorecard's team rows (:func:`cxlens.engagement.scorecard.scorecard`)
and, for NPS, the same count rules over every allowed window (see :func:`beside_cx`).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from cxlens.engagement.scorecard import DAYS, scorecard
from cxlens.engagement.summary import min_group_size, summary
from cxlens.errors import ParameterError

__all__ = ["NOTE", "beside_cx"]

NOTE = ("Correlation across teams is not cause: teams differ in products, customers and workload; "
        "read it as a question to investigate, not as an effect of engagement.")  # fmt: skip


def beside_cx(store: Any, *, days: int = 7, min_group: int | None = None) -> dict[str, Any]:
    """Per team: eNPS (small-group rule applied) beside the customer CSAT and NPS given within ``days``
    after a ticket the team handled, and the correlation of eNPS with CSAT across teams (Pearson r,
    Fisher-z 95% CI, teams with both figures).

    The customer figures follow the small-group rule too. ``tickets``, ``csat`` and ``csat_n`` are the
    team rows of the CX scorecard (:func:`cxlens.engagement.scorecard`: the first CSAT answer within
    ``days`` after each ticket; the same hidden rows and figures, planned over every view, so this table
    cannot be subtracted from the scorecards), and ``days`` is one of its windows (7, 14, 30, 90). The
    NPS (every NPS answer within ``days`` after a team's ticket) is shown only for a team the scorecard
    shows and whose answer count, in every allowed window and every difference of two windows, is 0 or
    at least ``min_group``; the count of a hidden figure is hidden with it."""
    if isinstance(days, bool) or days not in DAYS:
        raise ParameterError("days", f"days is {days!r}; expected one of {', '.join(map(str, DAYS))} (the "
                             "scorecards' windows, so that two windows cannot be subtracted)")  # fmt: skip
    k = min_group_size(store, min_group)
    teams = summary(store, by="team", min_group=min_group).iloc[1:]
    card = scorecard(store, "team", days=days, min_group=min_group)
    card = card[["team", "tickets", "csat", "csat_n"]].copy()
    card["csat_n"] = card["csat_n"].astype(object).where(card["csat"].notna(), None)
    windows = ", ".join(
        f"count(*) FILTER (WHERE f.ts < t.created_at + to_days({d})) AS n_{d}, "
        f"100 * (avg((f.score >= 9)::INT) FILTER (WHERE f.ts < t.created_at + to_days({d})) "
        f"- avg((f.score <= 6)::INT) FILTER (WHERE f.ts < t.created_at + to_days({d}))) AS nps_{d}"
        for d in DAYS
    )
    nps = store.read(
        f"SELECT t.team, {windows} FROM tickets t JOIN feedback f ON f.customer_id = t.customer_id "
        "AND f.metric = 'nps' AND f.ts >= t.created_at AND f.ts < t.created_at + to_days(?) "
        "WHERE t.team IS NOT NULL GROUP BY 1",
        [max(DAYS)],
    )
    counts = nps[[f"n_{d}" for d in DAYS]].to_numpy(np.int64)
    layers = [counts[:, i] for i in range(len(DAYS))]
    layers += [counts[:, j] - counts[:, i] for i in range(len(DAYS)) for j in range(i + 1, len(DAYS))]
    small = np.any([(c > 0) & (c < k) for c in layers], axis=0) if len(nps) else np.zeros(0, bool)
    shown_teams = set(card.loc[card["tickets"].notna(), "team"])
    ok = ~small & nps["team"].isin(shown_teams).to_numpy()
    cx = pd.DataFrame({"team": nps["team"],
                       "nps_n": pd.Series(nps[f"n_{days}"].to_numpy(), dtype=object).where(ok, None),
                       "nps": pd.Series(nps[f"nps_{days}"].to_numpy(), dtype=object).where(ok, None)})  # fmt: skip
    cx = card.merge(cx, on="team", how="outer")
    merged = teams.rename(columns={"group": "team"}).merge(cx, on="team", how="outer")
    merged = merged.sort_values("team").reset_index(drop=True)
    both = merged.dropna(subset=["enps", "csat"])
    both = both[both["suppressed"] == False]  # noqa: E712  (NaN for teams with tickets but no pulse)
    corr: dict[str, Any] = {"x": "enps", "y": "csat", "teams": len(both), "r": None, "ci_low": None, "ci_high": None}
    if len(both) >= 4 and both["enps"].std() > 0 and both["csat"].std() > 0:
        r = float(np.corrcoef(both["enps"].astype(float), both["csat"].astype(float))[0, 1])
        z, se = math.atanh(max(min(r, 0.999999), -0.999999)), 1 / math.sqrt(len(both) - 3)
        corr |= {"r": r, "ci_low": math.tanh(z - 1.959964 * se), "ci_high": math.tanh(z + 1.959964 * se)}
    return {"teams": merged, "correlation": corr, "days": days, "note": NOTE}
