"""The read-out's statistics against scipy/statsmodels and hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate
from scipy import stats as st

from cxlens.errors import ParameterError
from cxlens.experiments import stats

sm_prop = pytest.importorskip("statsmodels.stats.proportion")
sm_multi = pytest.importorskip("statsmodels.stats.multitest")
sm_weights = pytest.importorskip("statsmodels.stats.weightstats")


def test_proportion_diff_by_hand():
    # control 100/1000, variant 130/1000: d = 0.03; unpooled SE = sqrt(.1*.9/1000 + .13*.87/1000)
    d = stats.proportion_diff(100, 1000, 130, 1000)
    se = math.sqrt(0.09 / 1000 + 0.1131 / 1000)
    assert d.estimate == pytest.approx(0.03)
    assert d.ci_low == pytest.approx(0.03 - 1.959964 * se, abs=1e-6)
    assert d.ci_high == pytest.approx(0.03 + 1.959964 * se, abs=1e-6)
    # pooled: p = 230/2000 = .115, SE0 = sqrt(.115*.885*2/1000) = 0.014267; z = 2.1028; p = 0.03548
    assert d.p_value == pytest.approx(0.03548, abs=5e-5)


@pytest.mark.parametrize(("xa", "na", "xb", "nb"), [(100, 1000, 130, 1000), (37, 512, 29, 480), (5, 90, 11, 85)])
def test_proportion_diff_matches_statsmodels(xa, na, xb, nb):
    d = stats.proportion_diff(xa, na, xb, nb)
    _, p = sm_prop.proportions_ztest([xb, xa], [nb, na])  # pooled two-proportion z-test
    lo, hi = sm_prop.confint_proportions_2indep(xb, nb, xa, na, method="wald", compare="diff")
    assert d.p_value == pytest.approx(p, rel=1e-9)
    assert (d.ci_low, d.ci_high) == (pytest.approx(lo, rel=1e-9), pytest.approx(hi, rel=1e-9))


def test_welch_matches_scipy_and_statsmodels():
    rng = np.random.default_rng(3)
    a, b = rng.gamma(2, 10, 300), rng.gamma(2.3, 10, 250)
    d = stats.mean_diff(len(a), a.sum(), (a * a).sum(), len(b), b.sum(), (b * b).sum())
    ref = st.ttest_ind(b, a, equal_var=False)
    lo, hi = sm_weights.CompareMeans(sm_weights.DescrStatsW(b), sm_weights.DescrStatsW(a)).tconfint_diff(
        usevar="unequal"
    )
    assert d.estimate == pytest.approx(b.mean() - a.mean())
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-8)
    assert (d.ci_low, d.ci_high) == (pytest.approx(lo, rel=1e-8), pytest.approx(hi, rel=1e-8))


def test_srm_matches_scipy_chisquare_and_flags_a_skewed_split():
    obs, w = [5120, 4880], [0.5, 0.5]
    assert stats.srm_p_value(obs, w) == pytest.approx(st.chisquare(obs, [5000, 5000]).pvalue)
    obs3, w3 = [2000, 3100, 4900], [0.2, 0.3, 0.5]
    assert stats.srm_p_value(obs3, w3) == pytest.approx(st.chisquare(obs3, [2000, 3000, 5000]).pvalue)
    assert stats.srm_p_value([5300, 4700], [1, 1]) < stats.SRM_THRESHOLD  # χ² = 36: flagged
    assert stats.srm_p_value([5050, 4950], [1, 1]) > 0.3


def test_holm_matches_statsmodels():
    p = [0.01, 0.04, 0.03, 0.005, 0.2]
    ref = sm_multi.multipletests(p, method="holm")[1]
    assert stats.holm(p) == pytest.approx(list(ref))
    assert math.isnan(stats.holm([0.01, math.nan])[1])


def test_sample_size_hand_value_and_statsmodels_power():
    res = stats.sample_size(0.1, 0.02, 0.8, traffic=1000)
    # the textbook value (e.g. Evan Miller's calculator): 3,841 per variant for 10% → 12%, α .05, power .8
    assert res["per_variant"] == 3841
    assert res["days"] == math.ceil(2 * 3841 / 1000)
    ref = sm_prop.power_proportions_2indep(0.02, 0.1, 3841, alpha=0.05)
    assert ref.power == pytest.approx(0.8, abs=0.002)
    assert stats.power_at(0.1, 0.02, 3841) == pytest.approx(0.8, abs=0.001)


@pytest.mark.parametrize(
    ("kw", "field"),
    [({"baseline": 1.2, "mde": 0.02}, "baseline"), ({"baseline": 0.1, "mde": 0.0}, "mde"),
     ({"baseline": 0.1, "mde": 0.02, "power": 1.5}, "power"), ({"baseline": 0.1, "mde": 0.02, "traffic": 0}, "traffic")],
)  # fmt: skip
def test_sample_size_refuses_bad_input_naming_the_field(kw, field):
    with pytest.raises(ParameterError, match=field):
        stats.sample_size(**kw)


def test_nps_difference_by_hand():
    # A: 50 P, 30 N, 20 D of 100 → NPS 30; B: 60/25/15 → 45; var_A = (.5+.2-.09)/100 = .0061, var_B = (.75-.2025)/100
    d = stats.nps_diff((50, 30, 20), (60, 25, 15))
    assert d.estimate == pytest.approx(15)
    se = 100 * math.sqrt(0.0061 + 0.005475)
    assert d.se == pytest.approx(se)
    assert d.p_value == pytest.approx(2 * st.norm.sf(15 / se))


def test_beta_chance_to_beat_matches_numerical_integration():
    xa, na, xb, nb = 40, 400, 55, 410
    a, b = st.beta(1 + xa, 1 + na - xa), st.beta(1 + xb, 1 + nb - xb)
    exact, _ = integrate.quad(lambda p: a.pdf(p) * b.sf(p), 0, 1, limit=200)
    ctb, loss = stats.beta_chance_to_beat(xa, na, xb, nb)
    assert ctb == pytest.approx(exact, abs=0.005)
    assert 0 < loss < 0.01


def test_normal_chance_to_beat_and_loss():
    ctb, loss = stats.normal_chance_to_beat(0.01, 0.01)
    assert ctb == pytest.approx(st.norm.cdf(1))
    # E[max(-Δ, 0)] for Δ ~ N(.01, .01²) by quadrature
    ref, _ = integrate.quad(lambda x: max(-x, 0) * st.norm.pdf(x, 0.01, 0.01), -0.1, 0.1, points=[0])
    assert loss == pytest.approx(ref, rel=1e-4)


def test_relative_uplift_delta_method_by_hand():
    r, lo, hi = stats.relative_uplift(0.1, 0.09, 1000, 0.13, 0.1131, 1000)
    v = 0.1131 / (0.01 * 1000) + 0.09 * 0.0169 / (0.0001 * 1000)
    assert r == pytest.approx(0.3)
    assert hi - r == pytest.approx(1.959964 * math.sqrt(v), rel=1e-5)


def test_sequential_interval_is_wider_than_fixed_and_tightest_near_tuning():
    se = 0.01
    fixed = 1.959964 * se
    widths = {n: stats.sequential_halfwidth(se, n) for n in (500, 5000, 50000)}
    assert all(w > fixed for w in widths.values())
    # gbstats' formula at n = N*: ρ² = (−2 ln α + ln(−2 ln α + 1))/N*, half = s·sqrt(2(nρ²+1)/(n²ρ²)·ln(sqrt(nρ²+1)/α))
    n, a = 5000, 0.05
    rho2 = (-2 * math.log(a) + math.log(-2 * math.log(a) + 1)) / 5000
    ref = math.sqrt(se * se * n) * math.sqrt(
        2 * (n * rho2 + 1) / (n * n * rho2) * math.log(math.sqrt(n * rho2 + 1) / a)
    )
    assert widths[5000] == pytest.approx(ref)


def test_cuped_removes_the_explained_variance():
    rng = np.random.default_rng(5)
    x = rng.normal(0, 1, (2, 4000))
    y = 3 + 0.8 * x + 0.6 * rng.normal(0, 1, (2, 4000)) + np.array([[0.0], [0.05]])
    d, reduction = stats.cuped_diff(y[0], x[0], y[1], x[1])
    assert reduction == pytest.approx(0.64, abs=0.03)  # ρ² = .64
    assert d.ci_low < 0.05 < d.ci_high
    # the adjusted estimate equals the OLS coefficient of the treatment with the covariate (statsmodels-free check)
    X = np.column_stack([np.ones(8000), np.r_[np.zeros(4000), np.ones(4000)], np.r_[x[0], x[1]]])
    beta = np.linalg.lstsq(X, np.r_[y[0], y[1]], rcond=None)[0]
    assert d.estimate == pytest.approx(beta[1], abs=2e-3)


def test_always_valid_p_value_is_johari_msprt_and_matches_the_sequence():
    # Johari et al. (2017): Λ = sqrt(V/(V+τ²)) exp(τ²θ²/(2V(V+τ²))), p = min(1, 1/Λ), here with
    # V = SE² and the mixing variance τ² = ρ²·SE²·n that makes it GrowthBook's e-value (eq. 155)
    alpha, tuning = 0.05, 5000
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    for est, se, n in [(0.01, 0.004, 20_000), (0.02, 0.005, 8000), (-0.03, 0.01, 3000), (0.001, 0.01, 500)]:
        v, tau2 = se * se, rho2 * se * se * n
        lam = math.sqrt(v / (v + tau2)) * math.exp(tau2 * est * est / (2 * v * (v + tau2)))
        assert stats.sequential_p_value(est, se, n) == pytest.approx(min(1.0, 1 / lam), rel=1e-9)
    # p ≤ α exactly when the always-valid interval excludes 0
    for est in np.linspace(-0.05, 0.05, 41):
        half = stats.sequential_halfwidth(0.01, 4000)
        assert (stats.sequential_p_value(float(est), 0.01, 4000) <= alpha) == (abs(est) > half)
    assert stats.sequential_p_value(0.0, 0.01, 100) == 1.0
    assert math.isnan(stats.sequential_p_value(0.1, math.nan, 100))
    arr = stats.sequential_p_value_array(np.array([0.02, 0.0]), np.array([0.005, 0.01]), np.array([8000, 100]))
    assert arr[0] == pytest.approx(stats.sequential_p_value(0.02, 0.005, 8000)) and arr[1] == 1.0


@pytest.mark.parametrize("xa,na,xb,nb", [(0, 20, 3, 20), (5, 40, 9, 38), (0, 15, 0, 12), (10, 10, 7, 12)])
def test_newcombe_matches_statsmodels_and_wilson_matches_by_hand(xa, na, xb, nb):
    lo, hi = sm_prop.confint_proportions_2indep(xb, nb, xa, na, method="newcomb", compare="diff")
    d = stats.newcombe_diff(xa, na, xb, nb)
    assert (d.ci_low, d.ci_high) == (pytest.approx(lo, abs=1e-12), pytest.approx(hi, abs=1e-12))
    wl, wh = sm_prop.proportion_confint(xb, nb, method="wilson")
    assert stats.wilson_interval(xb, nb) == (pytest.approx(wl), pytest.approx(wh))
    assert stats.wald_degenerate(xa, na, xb, nb) == (xa in (0, na) or xb in (0, nb))


def test_cuped_from_sufficient_statistics_equals_the_per_unit_adjustment():
    rng = np.random.default_rng(3)
    xa, xb = rng.normal(0, 1, 50), rng.normal(0, 1, 60)
    ya, yb = 2 + 0.8 * xa + rng.normal(0, 1, 50), 2.3 + 0.8 * xb + rng.normal(0, 1, 60)
    x, y = np.r_[xa, xb], np.r_[ya, yb]
    theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
    adj_a, adj_b = ya - theta * (xa - x.mean()), yb - theta * (xb - x.mean())
    ref = st.ttest_ind(adj_b, adj_a, equal_var=False)
    d, _ = stats.cuped_diff_stats(stats.suff_stats(ya, xa), stats.suff_stats(yb, xb))
    assert d.estimate == pytest.approx(adj_b.mean() - adj_a.mean(), rel=1e-10)
    assert d.p_value == pytest.approx(ref.pvalue, rel=1e-8)
