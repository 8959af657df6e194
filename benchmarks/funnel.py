"""``cxlens bench funnel``: a 5-step, 14-day sequential funnel, cxlens (DuckDB) vs pandas.

The event log is generated vectorised with NumPy: every customer runs a few journeys that
start at a random moment over ~60 days and walk the funnel ``visit → product_view →
add_to_cart → checkout → purchase`` with a chance to stop at each step and exponential gaps
(minutes to days) between steps, mixed with noise events (``ad_click``, ``search``,
``support_contact``, ``delivery``) and with timestamps rounded to the second (so ties happen).
Loading into in-memory DuckDB is not timed; the two timed computations implement the same
semantics (``docs/funnels.md``) and must agree on every step's count.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import REPEAT, timed

__all__ = ["FUNNEL_STEPS", "bench_funnel", "make_funnel_events", "pandas_funnel"]

FUNNEL_STEPS = ["visit", "product_view", "add_to_cart", "checkout", "purchase"]
NOISE = ["ad_click", "search", "support_contact", "delivery"]
_T0 = np.datetime64("2024-01-01T00:00:00", "s")
_DAYS = 60


def make_funnel_events(events: int = 10_000_000, customers: int = 1_000_000, seed: int = 0) -> pd.DataFrame:
    """About ``events`` events for ``customers`` customers: ``customer_id``, ``ts``, ``name``.

    Roughly 60 % of events are funnel steps, the rest noise; ids are strings like ``c123``.
    """
    rng = np.random.default_rng(seed)
    n_funnel = int(events * 0.6)
    # a journey walks k steps with P(continue) = 0.6 → mean length ≈ 2.3 steps
    cont = 0.6
    mean_len = sum(cont**i for i in range(len(FUNNEL_STEPS)))
    n_j = max(1, int(n_funnel / mean_len))
    lengths = np.minimum(rng.geometric(1 - cont, n_j), len(FUNNEL_STEPS))
    j_cust = rng.integers(0, customers, n_j)
    j_start = rng.random(n_j) * _DAYS * 86400
    rep = np.repeat(np.arange(n_j), lengths)
    pos = np.arange(rep.size) - np.repeat(np.cumsum(lengths) - lengths, lengths)
    # gaps: mostly minutes to hours, sometimes days (some exceed the 14-day window)
    gaps = np.where(rng.random(rep.size) < 0.8, rng.exponential(3600, rep.size), rng.exponential(6 * 86400, rep.size))
    gaps[pos == 0] = 0
    off = np.cumsum(gaps)
    off -= np.repeat(off[np.cumsum(lengths) - lengths], lengths)
    f_ts = j_start[rep] + off
    f_name = pos
    f_cust = j_cust[rep]
    n_noise = max(0, events - rep.size)
    n_cust = rng.integers(0, customers, n_noise)
    n_ts = rng.random(n_noise) * _DAYS * 86400
    n_name = len(FUNNEL_STEPS) + rng.integers(0, len(NOISE), n_noise)
    cust = np.concatenate([f_cust, n_cust])
    secs = np.concatenate([f_ts, n_ts]).astype(np.int64)
    names = np.array(FUNNEL_STEPS + NOISE, dtype=object)[np.concatenate([f_name, n_name])]
    ids = np.char.add("c", np.arange(customers).astype(str)).astype(object)
    return pd.DataFrame(
        {
            "customer_id": ids[cust],
            "ts": _T0 + secs.astype("timedelta64[s]"),
            "name": names,
        }
    )


def pandas_funnel(df: pd.DataFrame, steps: list[str], window: pd.Timedelta) -> list[int]:
    """Customers reaching each step (sequential order, strictly increasing times), in vectorised
    pandas: for each step, the latest chain start reachable before each of its events."""
    d = df.loc[df["name"].isin(steps), ["customer_id", "ts", "name"]]
    cid = pd.factorize(d["customer_id"])[0]
    t = d["ts"].to_numpy().astype("datetime64[us]").astype(np.int64)
    name = d["name"].to_numpy()
    w = int(window / pd.Timedelta(microseconds=1))

    def moments(k: int) -> pd.DataFrame:
        m = name == steps[k]
        return pd.DataFrame({"cid": cid[m], "ts": t[m]}).drop_duplicates()

    valid = moments(0).assign(start=lambda x: x["ts"].astype(np.float64))
    counts = [valid["cid"].nunique()]
    for k in range(1, len(steps)):
        cur = moments(k).assign(start=np.nan, o=0)
        u = pd.concat([valid.assign(o=2), cur], ignore_index=True)
        u = u.sort_values(["cid", "ts", "o"], kind="stable")
        best = u.groupby("cid", sort=False)["start"].cummax()
        best = best.groupby(u["cid"], sort=False).ffill()
        u = u.assign(best=best)
        keep = (u["o"] == 0) & u["best"].notna() & (u["ts"] - u["best"] <= w)
        # a current row's own start is NaN, so the running max up to it covers earlier rows only
        valid = u.loc[keep, ["cid", "ts"]].assign(start=u.loc[keep, "best"])
        counts.append(valid["cid"].nunique())
    return counts


def bench_funnel(
    events: int = 10_000_000, customers: int = 1_000_000, seed: int = 0, repeat: int = REPEAT
) -> dict[str, Any]:
    """Time a 5-step sequential funnel with a 14-day window: cxlens on DuckDB vs pandas.

    Returns
    -------
    dict
        ``events``, ``customers``, ``cxlens_seconds`` (full output: counts, conversions, median
        and p90 times), ``cxlens_cpu_seconds`` (CPU time of that run, all threads: a figure
        less sensitive to other load on a shared machine), ``cxlens_counts_seconds`` (without
        the times), ``pandas_seconds``, ``ratio`` (pandas / cxlens), ``agree``, the per-step
        ``counts`` and ``load_average`` (1-minute, when the cxlens run started).
    """
    import duckdb
    import ibis

    from cxlens.journeys.funnels import funnel

    df = make_funnel_events(events, customers, seed)
    raw = duckdb.connect(":memory:")
    raw.execute("SET enable_progress_bar = false")
    raw.register("_src", df)
    raw.execute(
        "CREATE TABLE events AS SELECT customer_id, NULL::VARCHAR AS anonymous_id, ts::TIMESTAMP AS ts, name FROM _src"
    )
    raw.unregister("_src")
    con = ibis.duckdb.from_connection(raw)
    table = con.table("events")

    load = os.getloadavg()[0]
    out, cx_first, cx, cx_cpu = timed(lambda: funnel(table, FUNNEL_STEPS, window="14d"), repeat)
    counts_only, _, cx_counts, _ = timed(lambda: funnel(table, FUNNEL_STEPS, window="14d", times=False), repeat)
    pd_counts, pd_first, pdt, _ = timed(lambda: pandas_funnel(df, FUNNEL_STEPS, pd.Timedelta(days=14)), repeat)
    raw.close()
    counts = out["customers"].tolist()
    return {
        "events": int(len(df)),
        "customers": int(customers),
        "cxlens_seconds": round(cx, 3),
        "cxlens_cpu_seconds": round(cx_cpu, 3),
        "cxlens_first_run_seconds": round(cx_first, 3),
        "cxlens_counts_seconds": round(cx_counts, 3),
        "pandas_seconds": round(pdt, 3),
        "pandas_first_run_seconds": round(pd_first, 3),
        "runs": repeat,
        "ratio": round(pdt / cx, 2),
        "agree": counts == pd_counts and counts_only["customers"].tolist() == pd_counts,
        "counts": counts,
        "pandas_counts": pd_counts,
        "load_average": round(load, 2),
    }
