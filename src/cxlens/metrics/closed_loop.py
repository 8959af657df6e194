"""Closed-loop metrics of the follow-up case queue (``act_cases`` and their audit trail): how fast and
how reliably the team gets back to unhappy customers.

Definitions (docs/act.md "Closed-loop metrics"):

* **First contact** of a case: its first audit event after it was opened that a person made — a
  status change away from ``new`` or a note (events by a rule, ``rule:<name>``, do not count, nor a
  note written when the case was opened).
* **Closed**: the case's first change of status to ``closed``.
* **Detractor case**: opened from an answer that is an NPS detractor (score ≤ 6) or a dissatisfied
  CSAT answer (score ≤ 2 on 1–5).
* **Contacted within the SLA**: a detractor case whose first contact came at or before its due date
  (set from the SLA of its priority when it was opened). The share is over the detractor cases that
  are decided: contacted, or past their due date without contact — a case still inside its SLA and
  not yet contacted counts in neither. Wilson 95 % interval.
* **Times** in hours from opening: median with the exact order-statistic 95 % interval (none below 6
  times: fewer cannot give a two-sided 95 % interval), and p90.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ParameterError
from cxlens.metrics.stats import median_ci, wilson

__all__ = ["COLUMNS", "closed_loop"]

#: the columns of :func:`closed_loop` after the group column
COLUMNS = [
    "cases", "detractor_cases", "sla_n", "within_sla", "within_sla_rate", "ci_low", "ci_high", "contacted",
    "first_contact_median_h", "first_contact_low_h", "first_contact_high_h", "first_contact_p90_h", "closed",
    "close_median_h", "close_low_h", "close_high_h", "close_p90_h",
]  # fmt: skip

_CASES = """
SELECT c.case_id, c.team, c.owner, c.created_at, c.due_at, f.metric, f.score,
       (SELECT min(e.ts) FROM act_case_events e
         WHERE e.case_id = c.case_id AND e.ts > c.created_at
           AND (e.actor IS NULL OR e.actor NOT LIKE 'rule:%')
           AND (e.field = 'note' OR (e.field = 'status' AND e.new_value <> 'new'))) AS first_contact,
       (SELECT min(e.ts) FROM act_case_events e
         WHERE e.case_id = c.case_id AND e.field = 'status' AND e.new_value = 'closed') AS closed_at
FROM act_cases c LEFT JOIN feedback f ON f.feedback_id = c.feedback_id
"""


def _times(hours: np.ndarray) -> tuple[float, float, float, float]:
    """(median, low, high, p90) of the finite ``hours`` (:func:`~cxlens.metrics.stats.median_ci`)."""
    v = hours[np.isfinite(hours)]
    return (*median_ci(v), float(np.quantile(v, 0.9)) if len(v) else math.nan)


def closed_loop(store: Any, *, by: str | None = None, now: dt.datetime | None = None) -> pd.DataFrame:
    """Closed-loop metrics per team (``by="team"``), per owner (``"owner"``) or for all cases (one row,
    group ``all``); see the module doc for the definitions. No case yet: no row."""
    if by not in (None, "team", "owner"):
        raise ParameterError("by", f"by is {by!r}; expected team or owner (or nothing: all cases together)")
    group = by or "group"
    if not store.has_table("act_cases"):
        return pd.DataFrame(columns=[group, *COLUMNS])
    df = store.read(_CASES)
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    df[group] = df[by] if by else "all"
    score, metric = df["score"], df["metric"]
    df["detractor"] = ((metric == "nps") & (score <= 6)) | ((metric == "csat") & (score <= 2))
    hours = 3600.0
    df["contact_h"] = (df["first_contact"] - df["created_at"]).dt.total_seconds() / hours
    df["close_h"] = (df["closed_at"] - df["created_at"]).dt.total_seconds() / hours
    contacted = df["first_contact"].notna()
    df["decided"] = df["detractor"] & (contacted | (df["due_at"].notna() & (df["due_at"] <= now)))
    df["in_sla"] = df["decided"] & contacted & (df["due_at"].isna() | (df["first_contact"] <= df["due_at"]))
    rows = []
    for g, part in df.groupby(group, dropna=False, sort=True):
        n_sla, ok = int(part["decided"].sum()), int(part["in_sla"].sum())
        lo, hi = (float(x) / 100 for x in wilson(ok, n_sla)) if n_sla else (math.nan, math.nan)
        fc = _times(part["contact_h"].to_numpy(dtype=float))
        cl = _times(part["close_h"].to_numpy(dtype=float))
        rows.append([g, len(part), int(part["detractor"].sum()), n_sla, ok, ok / n_sla if n_sla else math.nan, lo, hi,
                     int(part["first_contact"].notna().sum()), *fc, int(part["closed_at"].notna().sum()), *cl])  # fmt: skip
    return pd.DataFrame(rows, columns=[group, *COLUMNS])
