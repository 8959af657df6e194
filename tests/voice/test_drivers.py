"""Key drivers: relative weights and Shapley R² against independent computations and the demo truth."""

from __future__ import annotations

import json
from itertools import permutations

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.charts import to_vega_lite
from cxlens.errors import ConfigError
from cxlens.ingest import write_demo
from cxlens.voice.drivers import (
    MAX_SHAPLEY_PREDICTORS,
    QUADRANTS,
    driver_quadrant_chart,
    key_drivers,
    relative_weights,
    shapley_importance,
)


def _r2(X: np.ndarray, y: np.ndarray) -> float:
    """R² of an OLS fit with intercept, by least squares on the raw data."""
    A = np.column_stack([np.ones(len(y)), X]) if X.shape[1] else np.ones((len(y), 1))
    coef, *_ = np.linalg.lstsq(A, y, rcond=None)
    resid = y - A @ coef
    return 1 - (resid @ resid) / ((y - y.mean()) @ (y - y.mean()))


@pytest.fixture(scope="module")
def correlated():
    rng = np.random.default_rng(11)
    n = 300
    cov = np.array([[1.0, 0.6, 0.3, 0.0], [0.6, 1.0, 0.4, 0.2], [0.3, 0.4, 1.0, -0.3], [0.0, 0.2, -0.3, 1.0]])
    X = rng.multivariate_normal(np.zeros(4), cov, n) * [1.0, 3.0, 0.5, 2.0] + [5, -1, 0, 10]
    y = X @ [0.8, 0.2, -1.5, 0.1] + rng.standard_normal(n) * 2
    return X, y


def test_relative_weights_sum_to_r2_of_least_squares(correlated):
    X, y = correlated
    rw = relative_weights(X, y, n_boot=0)
    assert rw.weight.sum() == pytest.approx(_r2(X, y), abs=1e-10)
    assert rw.attrs["r2"] == pytest.approx(_r2(X, y), abs=1e-10)
    assert rw.share.sum() == pytest.approx(100.0)


def test_relative_weights_match_johnsons_svd_procedure(correlated):
    # Johnson (2000): Z = P Q' from X = P Δ Q' (standardized X), regress y on Z and X on Z.
    X, y = correlated
    n = len(y)
    Xs = (X - X.mean(0)) / X.std(0, ddof=1) / np.sqrt(n - 1)
    ys = (y - y.mean()) / y.std(ddof=1) / np.sqrt(n - 1)
    P, _, Qt = np.linalg.svd(Xs, full_matrices=False)
    Z = P @ Qt
    beta = np.linalg.lstsq(Z, ys, rcond=None)[0]
    lam = np.linalg.lstsq(Z, Xs, rcond=None)[0]  # lam[k, j]: weight of Z_k in X_j
    expected = (lam.T**2) @ (beta**2)
    got = relative_weights(X, y, n_boot=0).weight.to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-10)


def test_shapley_equals_brute_force_average_over_orderings(correlated):
    X, y = correlated
    p = X.shape[1]
    total = np.zeros(p)
    orders = list(permutations(range(p)))
    for order in orders:
        for k, j in enumerate(order):
            before = list(order[:k])
            total[j] += _r2(X[:, before + [j]], y) - _r2(X[:, before], y)
    expected = total / len(orders)
    got = shapley_importance(X, y, n_boot=0).weight.to_numpy()
    np.testing.assert_allclose(got, expected, atol=1e-10)
    assert got.sum() == pytest.approx(_r2(X, y), abs=1e-10)


def test_shapley_two_predictors_closed_form():
    # p = 2: φ1 = (r1² + R² - r2²) / 2
    rng = np.random.default_rng(3)
    x1 = rng.standard_normal(200)
    x2 = 0.7 * x1 + rng.standard_normal(200)
    y = x1 - 0.5 * x2 + rng.standard_normal(200)
    r1, r2 = np.corrcoef(x1, y)[0, 1], np.corrcoef(x2, y)[0, 1]
    R2 = _r2(np.column_stack([x1, x2]), y)
    got = shapley_importance(pd.DataFrame({"a": x1, "b": x2}), y, n_boot=0)
    assert list(got.driver) == ["a", "b"]
    assert got.weight.tolist() == pytest.approx([(r1**2 + R2 - r2**2) / 2, (r2**2 + R2 - r1**2) / 2], abs=1e-12)


def test_uncorrelated_predictors_weights_equal_squared_standardized_betas():
    # exactly orthogonal, centred predictors: both methods give r_j² = β*_j²
    rng = np.random.default_rng(5)
    n = 500
    Q, _ = np.linalg.qr(np.column_stack([np.ones(n), rng.standard_normal((n, 3))]))
    X = Q[:, 1:] * np.sqrt(n)
    y = X @ [0.5, 0.3, 0.1] + rng.standard_normal(n) * 0.5
    ys = (y - y.mean()) / y.std()
    beta_std = np.linalg.lstsq(X / X.std(0), ys, rcond=None)[0]
    for fn in (relative_weights, shapley_importance):
        out = fn(X, y, n_boot=0)
        np.testing.assert_allclose(out.weight, beta_std**2, atol=1e-10)
        np.testing.assert_allclose(out.beta, beta_std, atol=1e-10)


def test_recovers_known_standardized_coefficients_from_simulation():
    # independent predictors, true standardized betas b: population weights are b_j², R² = Σ b_j²
    rng = np.random.default_rng(7)
    n = 40_000
    b = np.array([0.6, 0.4, 0.2, 0.0])
    X = rng.standard_normal((n, 4))
    y = X @ b + rng.standard_normal(n) * np.sqrt(1 - (b**2).sum())
    rw = relative_weights(X, y, n_boot=0)
    lmg = shapley_importance(X, y, n_boot=0)
    np.testing.assert_allclose(rw.weight, b**2, atol=0.01)
    np.testing.assert_allclose(lmg.weight, b**2, atol=0.01)
    assert rw["rank"].tolist() == [1, 2, 3, 4]


def test_bootstrap_intervals_are_seeded_and_cover_the_estimate(correlated):
    X, y = correlated
    a = relative_weights(X, y, n_boot=100, seed=4)
    b = relative_weights(X, y, n_boot=100, seed=4)
    pd.testing.assert_frame_equal(a, b)
    assert ((a.weight_ci_low <= a.weight) & (a.weight <= a.weight_ci_high)).all()
    assert ((a.share_ci_low <= a.share) & (a.share <= a.share_ci_high)).all()
    assert relative_weights(X, y, n_boot=0).weight_ci_low.isna().all()


def test_shapley_refuses_too_many_predictors():
    X = np.random.default_rng(0).standard_normal((100, MAX_SHAPLEY_PREDICTORS + 1))
    with pytest.raises(ConfigError, match="2\\^16"):
        shapley_importance(X, X.sum(1), n_boot=0)


def test_missing_rows_are_dropped():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((100, 2))
    y = X @ [1.0, 0.5] + rng.standard_normal(100)
    X2 = X.copy()
    X2[0, 1] = np.nan
    got = relative_weights(X2, y, n_boot=0)
    want = relative_weights(X[1:], y[1:], n_boot=0)
    np.testing.assert_allclose(got.weight, want.weight)
    assert got.attrs["n"] == 99


# -- demo data: the planted drivers ----------------------------------------------------------------
@pytest.fixture(scope="module")
def demo():
    ws = cxlens.open(":memory:")
    write_demo(ws, 5000, seed=0)
    truth = json.loads(ws.sql("SELECT value FROM demo_truth WHERE key = 'drivers'").value[0])
    yield ws, truth
    ws.close()


#: planted cause in truth["drivers"] → the observable driver key_drivers builds for it
OBSERVABLE = {
    "late_delivery": "late_delivery",
    "damaged_packaging": "return:damaged",
    "product_defect": "return:defective",
    "store_purchase": "touchpoint:store",
}


def test_delivery_csat_drivers_rank_as_planted(demo):
    ws, truth = demo
    planted = truth["configured_effect_points"]["csat_delivery"]  # late -1.8, damaged -1.6
    order = sorted(planted, key=lambda k: -abs(planted[k]))
    kd = key_drivers(ws, "csat", survey="csat_delivery", level="response", n_boot=50)
    assert kd.driver.tolist()[:2] == [OBSERVABLE[k] for k in order]
    # causes with no planted effect on delivery CSAT carry (almost) nothing
    rest = kd[~kd.driver.isin([OBSERVABLE[k] for k in planted])]
    assert (rest.share < 5).all()
    assert (kd.set_index("driver").loc[["late_delivery", "return:damaged"], "beta"] < 0).all()


def test_purchase_nps_strongest_observed_cause_ranks_first(demo):
    ws, truth = demo
    planted = truth["configured_effect_points"]["nps_purchase"]
    kd = key_drivers(ws, "nps", survey="nps_purchase", level="response", method="shapley", n_boot=50)
    assert kd.driver.iloc[0] == "late_delivery"
    by = kd.set_index("driver")
    # every planted cause is above the placebo (returns for a change of mind) and signed as planted
    for cause, effect in planted.items():
        assert by.loc[OBSERVABLE[cause], "share"] > by.loc["return:changed_mind", "share"]
        assert np.sign(by.loc[OBSERVABLE[cause], "beta"]) == np.sign(effect)
    assert by.loc["late_delivery", "share_ci_low"] > by.loc["return:changed_mind", "share_ci_high"]


def test_relationship_nps_quadrants_follow_stated_thresholds(demo):
    ws, _ = demo
    kd = key_drivers(ws, "nps", "touchpoints", n_boot=0)
    assert set(kd.driver) >= {"delivery", "checkout", "support", "late_delivery"}
    assert kd.attrs["importance_threshold"] == pytest.approx(100 / len(kd))
    assert kd.attrs["performance_threshold"] == pytest.approx(kd.performance.mean())
    for row in kd.itertuples():
        hi_i = row.share > kd.attrs["importance_threshold"]
        hi_p = row.performance >= kd.attrs["performance_threshold"]
        assert row.quadrant == QUADRANTS[(hi_i, hi_p)]
    # delivery: planted late-delivery effect, lowest touchpoint satisfaction → an important weak spot
    assert kd.set_index("driver").loc["delivery", "quadrant"] == "fix first"
    # touchpoint performance is the mean 0-100 satisfaction there, by SQL
    mean_csat = ws.sql("SELECT avg((score - 1) * 25) AS v FROM feedback WHERE touchpoint = 'delivery'").v[0]
    assert kd.set_index("driver").loc["delivery", "performance"] == pytest.approx(mean_csat)


def test_theme_drivers_are_signed_by_polarity(demo):
    ws, _ = demo
    kd = key_drivers(ws, "nps", "themes", n_boot=0).set_index("driver")
    for neg in ("theme:rude_support", "theme:website_bug", "theme:delivery_delay"):
        assert kd.loc[neg, "beta"] < 0
    for pos in ("theme:fast_delivery", "theme:helpful_support"):
        assert kd.loc[pos, "beta"] > 0
    # performance = mean 0-100 relationship NPS of customers who mentioned the theme (pandas)
    fb = ws.sql(
        "SELECT customer_id, score, comment, touchpoint, json_extract_string(properties, '$.theme') AS theme "
        "FROM feedback WHERE metric = 'nps' OR comment IS NOT NULL"
    )
    y = fb[(fb.touchpoint.isna())].groupby("customer_id").score.mean() * 10
    said = set(fb[fb.comment.notna() & (fb.theme == "long_wait")].customer_id)
    assert kd.loc["theme:long_wait", "performance"] == pytest.approx(y[y.index.isin(said)].mean())


def test_unknown_driver_names_the_valid_ones(demo):
    ws, _ = demo
    with pytest.raises(ConfigError, match="unknown driver 'delivry'.*delivery"):
        key_drivers(ws, "nps", ["delivry"], n_boot=0)
    kd = key_drivers(ws, "nps", ["delivery", "theme:long_wait"], n_boot=0)
    assert sorted(kd.driver) == ["delivery", "theme:long_wait"]


def test_quadrant_chart_spec_has_threshold_lines_and_points(demo):
    ws, _ = demo
    kd = key_drivers(ws, "nps", "touchpoints", n_boot=0)
    spec = to_vega_lite(driver_quadrant_chart(kd))
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    rules = [layer for layer in spec["layer"] if layer["mark"]["type"] == "rule"]
    datasets = spec["datasets"]
    values = sorted(v for r in rules for row in datasets[r["data"]["name"]] for v in row.values())
    assert values == pytest.approx(sorted([kd.attrs["importance_threshold"], kd.attrs["performance_threshold"]]))
    points = next(layer for layer in spec["layer"] if layer["mark"]["type"] == "circle")
    rows = datasets[points["data"]["name"]] if "data" in points else datasets[spec["data"]["name"]]
    assert sorted(r["driver"] for r in rows) == sorted(kd.driver)


def test_theme_drivers_of_unlabelled_comments_carry_the_discovered_theme_names():
    import cxlens
    from cxlens.ingest.simulate import write_demo
    from cxlens.voice.tasks import theme_model

    ws = cxlens.open(":memory:")
    write_demo(ws, 400, seed=3)
    ws.sql("UPDATE feedback SET properties = json_object('channel', 'web')")  # drop the generator's themes
    assert key_drivers(ws, "nps", "touchpoints", n_boot=0) is not None  # no theme model yet: nothing fitted here
    ws.refresh(["voice.analyse", "voice.themes"])  # the background jobs store the theme model
    kd = key_drivers(ws, "nps", "themes", n_boot=0, min_coverage=0.0)
    names = {t["name"] for t in theme_model(ws)[0].themes_}
    drivers = {d.removeprefix("theme:") for d in kd["driver"]}
    assert drivers and drivers <= names
