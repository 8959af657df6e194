"""Period-over-period change with a significance test, computed on per-period aggregates.

Each group's value in a period is compared with its value in the calendar period just before
(``previous`` is NaN when that period has no data). Tests, all two-sided at ``alpha = 0.05``:

- NPS: z-test on the difference, ``z = (NPS₁ - NPS₀) / sqrt(SE₁² + SE₀²)`` with
  ``SE² = 100²·((p+d) - (p-d)²)/n``;
- CSAT: pooled two-proportion z-test on the satisfied share;
- CES and rating: Welch's t-test from means, sample standard deviations and counts.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError
from cxlens.metrics.common import PERIOD_COL, period_offset
from cxlens.metrics.stats import ALPHA, MIN_N, nps_z_test, two_proportion_z_test, welch_t_test

#: metrics :func:`period_change` understands → test used
TESTS = {"nps": "z", "enps": "z", "csat": "two-proportion z", "ces": "welch t", "rating": "welch t"}
COLUMNS = [
    "previous_period",
    "value",
    "previous",
    "delta",
    "n",
    "previous_n",
    "statistic",
    "p_value",
    "significant",
    "small_sample",
]


def period_change(
    df: pd.DataFrame, metric: str, keys: list[str], period: str, *, alpha: float = ALPHA, min_n: int = MIN_N
) -> pd.DataFrame:
    """Add the previous period's value and a test to a per-period metric table.

    Parameters
    ----------
    df
        Output of ``Metrics.nps/csat/ces/rating(by=keys, period=period)``.
    metric
        ``nps``, ``enps``, ``csat``, ``ces`` or ``rating``.
    keys
        Group columns of ``df`` (without ``period``).

    Returns
    -------
    DataFrame
        ``keys, period`` then :data:`COLUMNS`; ``small_sample`` is true when either period has
        ``n < min_n``.
    """
    if metric not in TESTS:
        raise ConfigError(f"change() cannot test metric {metric!r}; expected one of {', '.join(TESTS)}")
    value = "nps" if metric in ("nps", "enps") else metric
    cur = df.copy()
    if metric in ("nps", "enps"):
        p, d = cur["promoters"] / cur["n"], cur["detractors"] / cur["n"]
        cur["_var"] = 100**2 * ((p + d) - (p - d) ** 2) / cur["n"]
    prev = cur.copy()
    prev[PERIOD_COL] = (pd.to_datetime(prev[PERIOD_COL]) + period_offset(period)).astype(cur[PERIOD_COL].dtype)
    prev = prev.rename(columns={c: f"_prev_{c}" for c in prev.columns if c not in keys + [PERIOD_COL]})
    m = cur.merge(prev, on=keys + [PERIOD_COL], how="left")  # pandas matches NaN keys with each other
    m["previous_period"] = (pd.to_datetime(m[PERIOD_COL]) - period_offset(period)).astype(cur[PERIOD_COL].dtype)
    m["value"], m["previous"] = m[value], m[f"_prev_{value}"]
    m["delta"] = m["value"] - m["previous"]
    m["previous_n"] = m["_prev_n"].astype("Int64")
    if metric in ("nps", "enps"):
        stat, pv = nps_z_test(m["nps"], m["_var"], m["_prev_nps"], m["_prev__var"])
    elif metric == "csat":
        stat, pv = two_proportion_z_test(m["satisfied"], m["n"], m["_prev_satisfied"], m["_prev_n"])
    else:
        stat, pv = welch_t_test(m[value], m["sd"], m["n"], m[f"_prev_{value}"], m["_prev_sd"], m["_prev_n"])
    m["statistic"], m["p_value"] = stat, pv
    m["significant"] = np.asarray(pv < alpha)  # NaN p-value (no previous period) → False
    m["small_sample"] = (m["n"] < min_n) | (m["previous_n"].fillna(0).astype(int) < min_n)
    return m[keys + [PERIOD_COL] + COLUMNS].reset_index(drop=True)
