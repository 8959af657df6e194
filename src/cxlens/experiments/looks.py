"""The looks at an experiment: always-valid statistics are reported over ALL looks, not just this one.

An always-valid p-value is valid at any stopping time only as the running minimum over the looks
(Johari et al. 2017, "Peeking at A/B tests", §4: ``p_n = min(p_{n-1}, 1/Λ_n)``), and a confidence
sequence as the running intersection of the intervals (Howard et al. 2021, "Time-uniform,
nonparametric, nonasymptotic confidence sequences", Lemma 3 / Waudby-Smith et al. 2023 §2): the
per-look value of a later look can be LARGER than an earlier one (the difference shrank) and
reporting it would let a reader who looked yesterday and today pick either.

Each read-out records its look in ``experiment_looks`` (experiment × goal × variant × settings:
``window``, ``alpha``, CI method) unless the same counts were already recorded (re-reading unchanged
data adds nothing; a look with no finite statistic is not recorded), then reports ``seq_p_value`` = the minimum over the stored looks and this one,
``seq_ci_low``/``seq_ci_high`` = the intersection, and this look's own values as ``*_look``. A
read-only workspace reports over the stored looks without recording.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from typing import Any

import pandas as pd

__all__ = ["TABLE", "history", "params_key", "running"]

TABLE = "experiment_looks"


def params_key(window_days: int, alpha: float, ci: str) -> str:
    """The read-out settings a sequence of looks belongs to (another window or alpha is another sequence)."""
    return f"window={window_days};alpha={alpha!r};ci={ci}"


def history(store: Any, experiment: str) -> pd.DataFrame:
    """Every recorded look of ``experiment``, oldest first."""
    return store.read(f"SELECT * FROM {TABLE} WHERE experiment = ? ORDER BY looked_at, n_variant", [experiment])


def _f(x: Any) -> float:
    return float(x) if x is not None and not pd.isna(x) else math.nan


_PAST = ["goal", "variant", "n_control", "x_control", "n_variant", "x_variant", "seq_p_value", "seq_ci_low",
         "seq_ci_high"]  # fmt: skip


def _past(store: Any, experiment: str, params: str) -> pd.DataFrame:
    """The stored looks of ``experiment`` under ``params``. The table is in the schema's learn DDL
    (migration 7 creates it on older workspaces); over Spark or a warehouse (``cxlens.connect``) it
    is read when there, else there are no past looks."""
    if store.is_duckdb:
        return store.read(f"SELECT {', '.join(_PAST)} FROM {TABLE} WHERE experiment = ? AND params = ?",
                          [experiment, params])  # fmt: skip
    if not store.has_table(TABLE):
        return pd.DataFrame(columns=_PAST)
    t = store.table(TABLE)
    return store.read(t.filter(t.experiment == experiment, t.params == params).select(*_PAST))


def running(store: Any, experiment: str, params: str, looks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Record ``looks`` (dicts: goal, variant, n_control, x_control, n_variant, x_variant, estimate, se,
    seq_p_value, seq_ci_low, seq_ci_high) and return, per look, the running figures:
    ``seq_p_value`` (min), ``seq_ci_low`` (max), ``seq_ci_high`` (min), ``seq_looks`` (how many)."""
    if not looks:
        return []
    past = _past(store, experiment, params)
    counts = ("n_control", "x_control", "n_variant", "x_variant")
    seen = {(r.goal, r.variant, *(int(getattr(r, c)) for c in counts)) for r in past.itertuples(index=False)}
    new = [
        lk
        for lk in looks
        if math.isfinite(_f(lk["seq_p_value"]))
        and (lk["goal"], lk["variant"], *(int(lk[c]) for c in counts)) not in seen
    ]
    if new and not getattr(store, "read_only", False):
        now = datetime.now(UTC).replace(tzinfo=None)
        with store.transaction(changes=[TABLE]) as cur:
            # writes run one at a time: check again inside, so two read-outs at once record one look
            again = store.read(
                f"SELECT goal, variant, n_control, x_control, n_variant, x_variant FROM {TABLE} "
                "WHERE experiment = ? AND params = ?", [experiment, params])  # fmt: skip
            taken = {(r.goal, r.variant, *(int(getattr(r, c)) for c in counts)) for r in again.itertuples(index=False)}
            new = [lk for lk in new if (lk["goal"], lk["variant"], *(int(lk[c]) for c in counts)) not in taken]
            rows = [[experiment, lk["goal"], lk["variant"], params, *(int(lk[c]) for c in counts),
                     *(None if math.isnan(_f(lk[k])) else _f(lk[k])
                       for k in ("estimate", "se", "seq_p_value", "seq_ci_low", "seq_ci_high")), now]
                    for lk in new]  # fmt: skip
            if rows:
                cur.executemany(f"INSERT INTO {TABLE} VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
    out = []
    for lk in looks:
        mine = past[(past["goal"] == lk["goal"]) & (past["variant"] == lk["variant"])] if len(past) else past
        ps = [_f(v) for v in mine.get("seq_p_value", [])] + [_f(lk["seq_p_value"])]
        lows = [_f(v) for v in mine.get("seq_ci_low", [])] + [_f(lk["seq_ci_low"])]
        highs = [_f(v) for v in mine.get("seq_ci_high", [])] + [_f(lk["seq_ci_high"])]
        ps, lows, highs = ([v for v in xs if math.isfinite(v)] for xs in (ps, lows, highs))
        n_looks = len(mine) + (1 if lk in new else 0)
        out.append({"seq_p_value": min(ps) if ps else math.nan, "seq_ci_low": max(lows) if lows else math.nan,
                    "seq_ci_high": min(highs) if highs else math.nan, "seq_looks": max(n_looks, 1)})  # fmt: skip
    return out
