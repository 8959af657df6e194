"""The issue's simulation goals with a fixed seed (the same code as ``cxlens bench experiments``)."""

from __future__ import annotations

import pytest
from benchmarks.experiments import bench_experiments


@pytest.fixture(scope="module")
def sim():
    return bench_experiments(tests=2000, seed=7)


def test_fixed_horizon_ci_covers_the_true_difference_94_to_96_percent(sim):
    assert 0.94 <= sim["aa_ci_coverage"] <= 0.96
    assert 0.94 <= sim["ab_ci_coverage"] <= 0.96


def test_sequential_interval_keeps_false_positives_under_daily_peeking(sim):
    assert sim["sequential_false_positive_daily_peeking"] <= 0.05
    assert sim["sequential_p_false_positive_daily_peeking"] <= 0.05  # the always-valid p-value, looked at daily
    assert sim["naive_false_positive_daily_peeking"] > 0.15  # the inflation the sequential method prevents


def test_power_matches_the_calculator_within_3_points(sim):
    assert sim["power_per_variant"] == 3841
    assert abs(sim["power_observed"] - sim["power_promised"]) <= 0.03


def test_cuped_narrows_by_the_explained_variance(sim):
    assert sim["cuped_ci_width_ratio"] == pytest.approx(sim["cuped_width_ratio_theory"], abs=0.02)
    assert sim["cuped_variance_reduction"] == pytest.approx(sim["cuped_rho"] ** 2, abs=0.03)
    assert 0.93 <= sim["cuped_ci_coverage"] <= 0.97


def test_newcombe_covers_where_the_unpooled_ci_collapses(sim):
    assert sim["small_rate_wald_coverage"] < 0.9  # both arms at 0 conversions: a zero-width Wald CI
    assert sim["small_rate_newcombe_coverage"] >= 0.95
