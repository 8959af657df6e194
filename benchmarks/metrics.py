"""Benchmark: NPS and CSAT by touchpoint × month with CIs on 10M feedback rows, cxlens vs pandas.

Run ``python -m benchmarks.metrics [rows]``. The rows are loaded with ``ws.insert("feedback", ...)``,
the normal write path, which also maintains the ``feedback_rollup`` cube in the same transaction;
that load is timed and reported separately (``load_s``) but is not part of the comparison. Timed,
best of ``repeat`` runs each:

(a) cxlens: ``ws.metrics.nps(by="touchpoint", period="month")`` and
    ``ws.metrics.csat(by="touchpoint", period="month")`` (query, interval arithmetic, tidy frames),
    answered from the rollup (``cxlens_s``);
(b) the same two calls forced to scan ``feedback`` through Ibis (``Metrics(ws, use_rollup=False)``,
    ``cxlens_scan_s``) — what a backend without the rollup (Spark, a warehouse) does;
(c) pandas: the same two tables computed with ``groupby`` on the in-memory DataFrame, including
    the month truncation and the interval arithmetic (``pandas_s``).

The results are compared (same rows, values within 1e-9; rollup and scan results equal) before the
timings are reported.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

TOUCHPOINTS = np.array(
    ["homepage", "search", "product", "cart", "checkout", "delivery", "support_chat", "returns", "email", "store"],
    dtype=object,
)


def make_feedback(rows: int, seed: int = 0) -> pd.DataFrame:
    """Vectorised random feedback: nps/csat/ces answers over 18 months at 10 touchpoints."""
    rng = np.random.default_rng(seed)
    metric_codes = rng.choice(3, rows, p=[0.5, 0.3, 0.2])
    metrics = np.array(["nps", "csat", "ces"], dtype=object)[metric_codes]
    hi = np.array([11, 5, 7])[metric_codes]
    lo = np.array([0, 1, 1])[metric_codes]
    score = (lo + np.floor(rng.random(rows) * (hi - lo + (metric_codes > 0)))).astype("float64")
    ts = np.datetime64("2024-01-01T00:00:00", "s") + rng.integers(0, 548 * 86400, rows).astype("timedelta64[s]")
    return pd.DataFrame(
        {
            "feedback_id": np.arange(rows).astype(str),
            "ts": ts.astype("datetime64[us]"),
            "metric": metrics,
            "score": score,
            "touchpoint": TOUCHPOINTS[rng.integers(0, len(TOUCHPOINTS), rows)],
        }
    )


def pandas_nps_csat(df: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The reference computation in plain pandas (what an analyst would write)."""
    z = 1.96
    month = df["ts"].dt.to_period("M").dt.start_time
    d = df.assign(period=month)
    nps = d[d["metric"] == "nps"]
    g = nps.assign(pro=nps["score"] >= 9, det=nps["score"] <= 6).groupby(["touchpoint", "period"])
    a = g.agg(n=("score", "size"), promoters=("pro", "sum"), detractors=("det", "sum")).reset_index()
    p, q = a["promoters"] / a["n"], a["detractors"] / a["n"]
    a["nps"] = 100 * (p - q)
    se = 100 * np.sqrt(((p + q) - (p - q) ** 2) / a["n"])
    a["ci_low"], a["ci_high"] = (a["nps"] - z * se).clip(lower=-100), (a["nps"] + z * se).clip(upper=100)
    cs = d[d["metric"] == "csat"]
    g = cs.assign(sat=cs["score"] >= 4).groupby(["touchpoint", "period"])
    b = g.agg(n=("score", "size"), satisfied=("sat", "sum"), mean_score=("score", "mean")).reset_index()
    n, ph = b["n"], b["satisfied"] / b["n"]
    centre = (ph + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * np.sqrt(ph * (1 - ph) / n + z * z / (4 * n * n))
    b["csat"] = 100 * ph
    b["ci_low"], b["ci_high"] = 100 * (centre - half), 100 * (centre + half)
    return a, b


def bench_metrics(rows: int = 10_000_000, seed: int = 0, repeat: int = 3) -> dict:
    """Time cxlens (rollup and scan) against pandas on ``rows`` random feedback rows; best of ``repeat``.

    Returns
    -------
    dict
        ``rows, cxlens_s, cxlens_scan_s, pandas_s, speedup`` (pandas / rollup), ``speedup_scan``
        (pandas / scan), ``groups, agree, load_s`` (the untimed insert, rollup maintenance
        included), ``rollup_rows`` and ``cpus``.

    Examples
    --------
    >>> r = bench_metrics(rows=5_000, repeat=1)
    >>> r["agree"], r["groups"], sorted(r)[:4]
    (True, 366, ['agree', 'cpus', 'cxlens_s', 'cxlens_scan_s'])
    """
    import cxlens
    from cxlens.metrics import Metrics

    df = make_feedback(rows, seed)
    ws = cxlens.open(":memory:")
    t0 = time.perf_counter()
    inserted = ws.insert("feedback", df).inserted
    load_s = time.perf_counter() - t0
    assert inserted == rows
    rollup_rows = int(ws.sql("SELECT count(*) AS n FROM feedback_rollup")["n"].iloc[0])
    fast, scan = Metrics(ws), Metrics(ws, use_rollup=False)

    def run(m):
        return lambda: (m.nps(by="touchpoint", period="month"), m.csat(by="touchpoint", period="month"))

    def timed(fn):
        best, out = float("inf"), None
        for _ in range(repeat):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        return best, out

    cx_s, (cx_nps, cx_csat) = timed(run(fast))
    scan_s, (sc_nps, sc_csat) = timed(run(scan))
    pd_s, (pd_nps, pd_csat) = timed(lambda: pandas_nps_csat(df))

    def agree(got, want, cols):
        if len(got) != len(want):
            return False
        want = want.sort_values(["touchpoint", "period"]).reset_index(drop=True)
        if got["touchpoint"].tolist() != want["touchpoint"].tolist():
            return False
        return all(np.allclose(got[c].astype(float), want[c].astype(float), rtol=1e-9, atol=1e-9) for c in cols)

    ok = True
    for n_, c_ in ((cx_nps, cx_csat), (sc_nps, sc_csat)):
        ok = (
            ok
            and agree(n_, pd_nps, ["n", "nps", "ci_low", "ci_high"])
            and agree(c_, pd_csat, ["n", "csat", "ci_low", "ci_high", "mean_score"])
        )
    ok = ok and cx_nps.equals(sc_nps) and cx_csat.equals(sc_csat)
    ws.close()
    return {
        "rows": rows,
        "cxlens_s": round(cx_s, 4),
        "cxlens_scan_s": round(scan_s, 4),
        "pandas_s": round(pd_s, 4),
        "speedup": round(pd_s / cx_s, 1),
        "speedup_scan": round(pd_s / scan_s, 1),
        "groups": int(len(cx_nps) + len(cx_csat)),
        "agree": bool(ok),
        "load_s": round(load_s, 2),
        "rollup_rows": rollup_rows,
        "cpus": os.cpu_count(),
    }


if __name__ == "__main__":  # pragma: no cover
    r = bench_metrics(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000)
    print(
        f"{r['rows']:,} feedback rows; loaded with ws.insert (rollup maintained, not timed): {r['load_s']} s, "
        f"{r['rollup_rows']:,} rollup rows"
    )
    print(f"cxlens (rollup)  {r['cxlens_s']:.4f} s   {r['speedup']}x pandas")
    print(f"cxlens (scan)    {r['cxlens_scan_s']:.4f} s   {r['speedup_scan']}x pandas")
    print(f"pandas           {r['pandas_s']:.4f} s")
    print(f"results agree: {r['agree']}   groups: {r['groups']}   cpus: {r['cpus']}")
    print(r)
