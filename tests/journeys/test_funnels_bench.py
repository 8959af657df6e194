"""The funnel benchmark's generator and pandas baseline agree with the engine on a small run."""

from __future__ import annotations

import pandas as pd
from benchmarks.funnel import FUNNEL_STEPS, bench_funnel, make_funnel_events, pandas_funnel

from cxlens.journeys.funnel_reference import reference_funnel


def test_bench_runs_small_and_both_implementations_agree():
    r = bench_funnel(events=20_000, customers=2_000, seed=3)
    assert r["agree"] and r["counts"] == r["pandas_counts"]
    assert r["counts"][0] > r["counts"][-1] > 0
    assert r["cxlens_seconds"] > 0 and r["ratio"] > 0


def test_pandas_baseline_matches_the_reference():
    df = make_funnel_events(3_000, 300, seed=1)
    exp = reference_funnel(df.assign(anonymous_id=None), FUNNEL_STEPS[:3], window="14d")
    assert pandas_funnel(df, FUNNEL_STEPS[:3], pd.Timedelta(days=14)) == exp["customers"].tolist()


def test_paths_bench_runs_small_and_agrees():
    from benchmarks.paths import bench_paths

    r = bench_paths(events=20_000, customers=2_000, seed=3)
    assert r["agree"] and r["paths"] > 5
    assert r["cxlens_seconds"] > 0 and r["ratio"] > 0


def test_journey_map_bench_runs_small_and_agrees():
    from benchmarks.journey_map import bench_journey_map

    r = bench_journey_map(events=20_000, customers=2_000, seed=3)
    assert r["agree"] and r["cells"] == 9
    assert r["cxlens_seconds"] > 0 and r["ratio"] > 0
