"""Benchmark: NPS and CSAT by touchpoint × month with CIs on 10M feedback rows, cxlens vs pandas.

Run ``python -m cxlens.metrics.bench [rows]``. Building the data and loading it into the in-memory
DuckDB workspace is not timed. Timed:

(a) cxlens: ``ws.metrics.nps(by="touchpoint", period="month")`` and
    ``ws.metrics.csat(by="touchpoint", period="month")`` (query build, execution, tidy frames);
(b) pandas: the same two tables computed with ``groupby`` on the in-memory DataFrame, including
    the month truncation and the interval arithmetic.

The results are compared (same rows, values within 1e-9) before the timings are reported.
"""

from __future__ import annotations

import os
import sys
import time

import numpy as np
import pandas as pd

TOUCHPOINTS = np.array(["homepage", "search", "product", "cart", "checkout", "delivery", "support_chat",
                        "returns", "email", "store"], dtype=object)


def make_feedback(rows: int, seed: int = 0) -> pd.DataFrame:
    """Vectorised random feedback: nps/csat/ces answers over 18 months at 10 touchpoints."""
    rng = np.random.default_rng(seed)
    metric_codes = rng.choice(3, rows, p=[0.5, 0.3, 0.2])
    metrics = np.array(["nps", "csat", "ces"], dtype=object)[metric_codes]
    hi = np.array([11, 5, 7])[metric_codes]
    lo = np.array([0, 1, 1])[metric_codes]
    score = (lo + np.floor(rng.random(rows) * (hi - lo + (metric_codes > 0)))).astype("float64")
    ts = np.datetime64("2024-01-01T00:00:00", "s") + rng.integers(0, 548 * 86400, rows).astype("timedelta64[s]")
    return pd.DataFrame({
        "feedback_id": np.arange(rows).astype(str),
        "ts": ts.astype("datetime64[us]"),
        "metric": metrics,
        "score": score,
        "touchpoint": TOUCHPOINTS[rng.integers(0, len(TOUCHPOINTS), rows)],
    })


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
    """Time cxlens against pandas on ``rows`` random feedback rows; best of ``repeat`` runs each.

    Returns
    -------
    dict
        ``rows, cxlens_s, pandas_s, speedup, groups, agree`` and the load time (untimed part).

    Examples
    --------
    >>> r = bench_metrics(rows=20_000, repeat=1)
    >>> r["agree"], sorted(r)[:3]
    (True, ['agree', 'cpus', 'cxlens_s'])
    """
    import cxlens
    from cxlens.schema.tables import FEEDBACK

    df = make_feedback(rows, seed)
    t0 = time.perf_counter()
    ws = cxlens.open(":memory:")
    raw = ws._require_raw()
    full = df.reindex(columns=FEEDBACK.column_names)
    raw.register("_bench", full)
    raw.execute("INSERT INTO feedback SELECT * FROM _bench")
    raw.unregister("_bench")
    load_s = time.perf_counter() - t0

    def run_cxlens():
        return ws.metrics.nps(by="touchpoint", period="month"), ws.metrics.csat(by="touchpoint", period="month")

    def timed(fn):
        best, out = float("inf"), None
        for _ in range(repeat):
            t = time.perf_counter()
            out = fn()
            best = min(best, time.perf_counter() - t)
        return best, out

    cx_s, (cx_nps, cx_csat) = timed(run_cxlens)
    pd_s, (pd_nps, pd_csat) = timed(lambda: pandas_nps_csat(df))

    def agree(got, want, cols):
        if len(got) != len(want):
            return False
        want = want.sort_values(["touchpoint", "period"]).reset_index(drop=True)
        if got["touchpoint"].tolist() != want["touchpoint"].tolist():
            return False
        return all(np.allclose(got[c].astype(float), want[c].astype(float), rtol=1e-9, atol=1e-9) for c in cols)

    ok = agree(cx_nps, pd_nps, ["n", "nps", "ci_low", "ci_high"]) and agree(
        cx_csat, pd_csat, ["n", "csat", "ci_low", "ci_high", "mean_score"])
    ws.close()
    return {"rows": rows, "cxlens_s": round(cx_s, 4), "pandas_s": round(pd_s, 4),
            "speedup": round(pd_s / cx_s, 1), "groups": int(len(cx_nps) + len(cx_csat)), "agree": bool(ok),
            "load_s": round(load_s, 2), "cpus": os.cpu_count()}


if __name__ == "__main__":  # pragma: no cover
    print(bench_metrics(int(sys.argv[1]) if len(sys.argv) > 1 else 10_000_000))
