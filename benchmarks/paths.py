"""``cxlens bench paths``: top 3-step paths from ``visit`` (one per customer), cxlens (DuckDB) vs pandas.

The log is the funnel benchmark's (:func:`benchmarks.funnel.make_funnel_events`) with an
``event_id`` (the row number, zero-padded so text order is number order) as the tie-breaker of
equal timestamps. Both sides implement :func:`cxlens.journeys.paths.paths` with
``collapse_repeats=True``: each customer's events ordered by ``(ts, event_id)``, consecutive
repeats of a name dropped, the first ``visit`` and the next two names; counts per path. They
must agree on every path's count.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import REPEAT, timed
from benchmarks.funnel import make_funnel_events

__all__ = ["bench_paths", "pandas_paths"]


def pandas_paths(df: pd.DataFrame, start: str, steps: int) -> dict[tuple, int]:
    """Customers per path (a tuple of ``steps`` names, None where it ended), in vectorised pandas."""
    d = df[["customer_id", "ts", "name"]].assign(eid=np.arange(len(df)))
    d = d.sort_values(["customer_id", "ts", "eid"], kind="stable")
    cust = d["customer_id"].to_numpy()
    name = d["name"].to_numpy()
    same = np.r_[False, cust[1:] == cust[:-1]]
    keep = ~(same & np.r_[False, name[1:] == name[:-1]])  # drop consecutive repeats
    cust, name = cust[keep], name[keep]
    is_start = name == start
    idx = np.flatnonzero(is_start)
    first = idx[np.r_[True, cust[idx[1:]] != cust[idx[:-1]]]]  # each customer's first `start`
    cols = [name[first]]
    for k in range(1, steps):
        j = first + k
        ok = j < len(name)
        jj = np.where(ok, j, 0)
        ok &= cust[jj] == cust[first]
        cols.append(np.where(ok, name[jj], None))
    counts = pd.DataFrame({f"s{i}": c for i, c in enumerate(cols)}).value_counts(dropna=False)
    return {tuple(None if pd.isna(v) else v for v in k): int(n) for k, n in counts.items()}


def bench_paths(
    events: int = 10_000_000, customers: int = 1_000_000, seed: int = 0, repeat: int = REPEAT
) -> dict[str, Any]:
    """Time ``paths(events, start="visit", steps=3, top=None)``: cxlens on DuckDB vs pandas.

    Returns ``events``, ``customers``, ``cxlens_seconds``, ``cxlens_cpu_seconds``,
    ``pandas_seconds``, ``ratio`` (pandas / cxlens), ``agree``, ``paths`` (distinct paths) and
    ``load_average`` (1-minute, when the cxlens run started: the machine may be shared).
    """
    import duckdb
    import ibis

    from cxlens.journeys.paths import paths

    df = make_funnel_events(events, customers, seed)
    raw = duckdb.connect(":memory:")
    raw.execute("SET enable_progress_bar = false")
    raw.register("_src", df)
    raw.execute(
        "CREATE TABLE events AS SELECT lpad((row_number() OVER () - 1)::VARCHAR, 10, '0') AS event_id, "
        "customer_id, NULL::VARCHAR AS anonymous_id, ts::TIMESTAMP AS ts, name FROM _src"
    )
    raw.unregister("_src")
    table = ibis.duckdb.from_connection(raw).table("events")
    load = os.getloadavg()[0]
    out, cx_first, cx, cx_cpu = timed(lambda: paths(table, start="visit", steps=3, top=None), repeat)
    ref, pd_first, pdt, _ = timed(lambda: pandas_paths(df, "visit", 3), repeat)
    raw.close()
    got = {tuple(r[:3]): int(r[3]) for r in out[["step_1", "step_2", "step_3", "customers"]].itertuples(index=False)}
    return {
        "events": int(len(df)),
        "customers": int(customers),
        "cxlens_seconds": round(cx, 3),
        "cxlens_cpu_seconds": round(cx_cpu, 3),
        "cxlens_first_run_seconds": round(cx_first, 3),
        "pandas_seconds": round(pdt, 3),
        "pandas_first_run_seconds": round(pd_first, 3),
        "runs": repeat,
        "ratio": round(pdt / cx, 2),
        "agree": got == ref,
        "paths": len(got),
        "load_average": round(load, 2),
    }
