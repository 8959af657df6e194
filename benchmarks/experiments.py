"""``cxlens bench experiments``: the read-out's statistics checked by simulation.

Four checks, each over ``tests`` simulated experiments drawn with NumPy (fixed seed), every one
analysed with the library's own functions (:mod:`cxlens.experiments.stats`):

1. **Coverage** — A/A tests (both arms at ``baseline``) of ``n`` people per arm: the share whose
   fixed-horizon 95% CI (unpooled SE) covers the true difference 0; and the same for A/B tests
   with a true difference ``mde``. Goal 94–96 %.
2. **Peeking** — A/A tests looked at every day for ``days`` days (``daily`` people per arm per
   day): the share ever declared significant by the sequential always-valid CI and by the
   always-valid p-value ≤ 0.05 (goal ≤ 5 %), beside the naive fixed-horizon CI looked at daily
   (which inflates it). Then A/A tests at a rate of 0.5 % with 200 per arm: how often the
   unpooled (Wald) and Newcombe CIs cover 0 (the Wald CI collapses to a point when both arms
   have no conversion).
3. **Power** — A/B tests with a true absolute uplift ``mde`` at the sample size the calculator
   gives for ``power``: the share with p < 0.05 (goal: the promised power ± 3 points).
4. **CUPED** — tests of a continuous metric whose pre-period covariate explains ``rho²`` of its
   variance: the CUPED CI width ÷ the raw width (theory √(1 − ρ²)) and the CUPED CI's coverage.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from cxlens.experiments import stats

__all__ = ["bench_experiments", "bench_readout"]


def coverage(rng: np.random.Generator, tests: int, n: int, p_a: float, p_b: float) -> float:
    xa = rng.binomial(n, p_a, tests)
    xb = rng.binomial(n, p_b, tests)
    hit = 0
    for a, b in zip(xa, xb, strict=True):
        d = stats.proportion_diff(int(a), n, int(b), n)
        hit += d.ci_low <= p_b - p_a <= d.ci_high
    return hit / tests


def peeking(rng: np.random.Generator, tests: int, days: int, daily: int, p: float) -> dict[str, float]:
    """Share of A/A tests ever 'significant' over daily looks: sequential vs naive fixed-horizon."""
    ca = rng.binomial(daily, p, (tests, days)).cumsum(axis=1)
    cb = rng.binomial(daily, p, (tests, days)).cumsum(axis=1)
    n = daily * np.arange(1, days + 1)
    pa, pb = ca / n, cb / n
    se = np.sqrt(pa * (1 - pa) / n + pb * (1 - pb) / n)
    d = pb - pa
    half = stats.sequential_halfwidth_array(se, 2 * n)
    seq = (np.abs(d) > half).any(axis=1).mean()
    seq_p = stats.sequential_p_value_array(d, se, 2 * n)
    seq_p_fp = (seq_p <= 0.05).any(axis=1).mean()
    naive = (np.abs(d) > 1.959964 * se).any(axis=1).mean()
    last = (np.abs(d[:, -1]) > 1.959964 * se[:, -1]).mean()
    # the library's scalar function must agree with the vectorised one used here
    assert math.isclose(float(half[0, -1]), stats.sequential_halfwidth(float(se[0, -1]), float(2 * n[-1])))
    i = int(np.argmin(seq_p[:, -1]))
    assert math.isclose(
        float(seq_p[i, -1]), stats.sequential_p_value(float(d[i, -1]), float(se[i, -1]), float(2 * n[-1]))
    )
    return {
        "sequential": float(seq),
        "sequential_p": float(seq_p_fp),
        "naive_daily": float(naive),
        "fixed_once": float(last),
    }


def small_rate_coverage(rng: np.random.Generator, tests: int, n: int, p: float) -> dict[str, float]:
    """A/A tests at a rate so low that arms often have 0 conversions: coverage of the true difference
    0 by the unpooled (Wald) CI and by Newcombe's score interval."""
    xa = rng.binomial(n, p, tests)
    xb = rng.binomial(n, p, tests)
    wald = newc = 0
    for a, b in zip(xa, xb, strict=True):
        w = stats.proportion_diff(int(a), n, int(b), n)
        c = stats.newcombe_diff(int(a), n, int(b), n)
        wald += w.ci_low <= 0 <= w.ci_high and w.ci_high > w.ci_low  # a zero-width CI "at 0" covers nothing
        newc += c.ci_low <= 0 <= c.ci_high
    return {"wald": wald / tests, "newcombe": newc / tests}


def power(rng: np.random.Generator, tests: int, baseline: float, mde: float, target: float) -> dict[str, float]:
    size = stats.sample_size(baseline, mde, target)
    n = int(size["per_variant"])
    xa = rng.binomial(n, baseline, tests)
    xb = rng.binomial(n, baseline + mde, tests)
    sig = sum(stats.proportion_diff(int(a), n, int(b), n).p_value < 0.05 for a, b in zip(xa, xb, strict=True))
    return {"per_variant": n, "promised": target, "observed": sig / tests}


def cuped(rng: np.random.Generator, tests: int, n: int, rho: float) -> dict[str, float]:
    widths_raw, widths_cuped, cover, reduction = [], [], 0, []
    for _ in range(tests):
        x = rng.normal(0, 1, (2, n))
        y = 10 + rho * x + math.sqrt(1 - rho * rho) * rng.normal(0, 1, (2, n))
        raw = stats.mean_diff(n, y[0].sum(), (y[0] ** 2).sum(), n, y[1].sum(), (y[1] ** 2).sum())
        cd, red = stats.cuped_diff(y[0], x[0], y[1], x[1])
        widths_raw.append(raw.ci_high - raw.ci_low)
        widths_cuped.append(cd.ci_high - cd.ci_low)
        cover += cd.ci_low <= 0 <= cd.ci_high
        reduction.append(red)
    return {
        "width_ratio": float(np.mean(widths_cuped) / np.mean(widths_raw)),
        "theory": math.sqrt(1 - rho * rho),
        "variance_reduction": float(np.mean(reduction)),
        "coverage": cover / tests,
    }


def bench_experiments(tests: int = 2000, seed: int = 0, n: int = 5000, baseline: float = 0.1, mde: float = 0.02,
                      days: int = 28, daily: int = 500, rho: float = 0.7) -> dict[str, Any]:  # fmt: skip
    """All four checks; figures as a flat dict (rates as fractions)."""
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    out: dict[str, Any] = {"tests": tests, "seed": seed}
    out["aa_ci_coverage"] = coverage(rng, tests, n, baseline, baseline)
    out["ab_ci_coverage"] = coverage(rng, tests, n, baseline, baseline + mde)
    pk = peeking(rng, tests, days, daily, baseline)
    out["peeking_days"] = days
    out["sequential_false_positive_daily_peeking"] = pk["sequential"]
    out["sequential_p_false_positive_daily_peeking"] = pk["sequential_p"]
    out["naive_false_positive_daily_peeking"] = pk["naive_daily"]
    out["fixed_horizon_false_positive_one_look"] = pk["fixed_once"]
    pw = power(rng, tests, baseline, mde, 0.8)
    out["power_per_variant"] = pw["per_variant"]
    out["power_promised"] = pw["promised"]
    out["power_observed"] = pw["observed"]
    cu = cuped(rng, tests, 1000, rho)
    out["cuped_rho"] = rho
    out["cuped_ci_width_ratio"] = cu["width_ratio"]
    out["cuped_width_ratio_theory"] = cu["theory"]
    out["cuped_variance_reduction"] = cu["variance_reduction"]
    out["cuped_ci_coverage"] = cu["coverage"]
    sr = small_rate_coverage(rng, tests, 200, 0.005)
    out["small_rate_wald_coverage"] = sr["wald"]
    out["small_rate_newcombe_coverage"] = sr["newcombe"]
    out["seconds"] = round(time.perf_counter() - t, 2)
    return out


def bench_readout(people: int = 100_000, seed: int = 0, repeat: int = 5) -> dict[str, Any]:
    """The read-out on a synthetic experiment of ``people`` exposed people (a quarter convert in the
    window, a fifth before exposure, some revenue, NPS answers), on an in-memory workspace: the
    per-variant aggregates (first call, which compiles the query, and the best of ``repeat`` after),
    the whole ``results()`` (best of ``repeat``), wall and process CPU (DuckDB's threads included);
    beside pulling the per-person frame into pandas (what the read-out did before it aggregated in
    the database), whose counts must agree."""
    import pandas as pd

    import cxlens
    from cxlens.experiments.readout import aggregates, person_frame

    rng = np.random.default_rng(seed)
    t0 = pd.Timestamp("2026-03-01")
    ids = np.array([f"p{i}" for i in range(people)])
    variant = np.where(rng.random(people) < 0.5, "control", "b")
    ts = t0 + pd.to_timedelta(rng.integers(0, 86400 * 7, people), unit="s")
    exp = pd.DataFrame({"event_id": [f"x{i}" for i in range(people)], "customer_id": ids, "type": "track", "ts": ts,
                        "name": "$exposure",
                        "properties": [f'{{"experiment": "e", "variant": "{v}"}}' for v in variant]})  # fmt: skip

    def buys(mask: np.ndarray, prefix: str, shift: pd.Timedelta) -> pd.DataFrame:
        k = int(mask.sum())
        return pd.DataFrame({"event_id": [f"{prefix}{i}" for i in range(k)], "customer_id": ids[mask], "type": "track",
                             "ts": ts[mask] + shift, "name": "purchase", "revenue": rng.gamma(2, 30, k)})  # fmt: skip

    conv, pre, asked = rng.random(people) < 0.25, rng.random(people) < 0.2, rng.random(people) < 0.3
    fb = pd.DataFrame({"feedback_id": [f"f{i}" for i in range(int(asked.sum()))], "customer_id": ids[asked],
                       "ts": ts[asked] + pd.Timedelta(days=1), "metric": "nps",
                       "score": rng.integers(0, 11, int(asked.sum())).astype(float)})  # fmt: skip

    def timed(fn: Any) -> tuple[float, float, Any]:
        w, c = time.perf_counter(), time.process_time()
        out = fn()
        return time.perf_counter() - w, time.process_time() - c, out

    with cxlens.open(":memory:") as ws:
        ws.load("events", pd.concat([exp, buys(conv, "b", pd.Timedelta(days=2)),
                                     buys(pre, "q", -pd.Timedelta(days=3))], ignore_index=True))  # fmt: skip
        ws.load("feedback", fb)
        ws.experiments.define("e", ["control", "b"])
        run = lambda: aggregates(ws.store, "e", ["purchase"], 14, ["control", "b"])  # noqa: E731
        first_s, first_cpu, agg = timed(run)
        warm = [timed(run)[:2] for _ in range(repeat)]
        full = [timed(lambda: ws.experiments.results("e", ["purchase"]))[:2] for _ in range(repeat)]
        frame_s, _, per = timed(lambda: person_frame(ws.store, "e", ["purchase"], 14))
    grouped = per.groupby("variant").agg(n=("person", "size"), y=("y_0", "sum"))
    same = bool((grouped.loc[["control", "b"], "y"].to_numpy() == agg["y0"].to_numpy()).all())
    sql_s = min(w for w, _ in warm)
    return {"people": people, "aggregates_first_s": round(first_s, 3), "aggregates_first_cpu_s": round(first_cpu, 3),
            "sql_aggregates_s": round(sql_s, 3), "aggregates_cpu_s": round(min(c for _, c in warm), 3),
            "results_s": round(min(w for w, _ in full), 3), "results_cpu_s": round(min(c for _, c in full), 3),
            "per_person_frame_s": round(frame_s, 3), "ratio": round(frame_s / sql_s, 2) if sql_s else None,
            "same_counts": same}  # fmt: skip
