"""CLV estimators: published CDNOW tables, simulated-parameter recovery, the estimator contract."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy.special import gammaln

import cxlens.customers as cc
from cxlens.customers import (
    BetaGeoModel,
    GammaGammaModel,
    NotFittedError,
    ParetoNBDModel,
    simulate_bgnbd,
    simulate_gamma_gamma,
)
from cxlens.customers.clv_models import paretonbd_loglik


def sig3(v: float) -> str:
    return f"{v:.3g}"


@pytest.fixture(scope="module")
def cdnow(real_data):
    return pd.read_csv(real_data / "cdnow" / "cdnow_customers_summary_with_transactions.csv")


@pytest.fixture(scope="module")
def bg(cdnow):
    return BetaGeoModel().fit(cdnow.x, cdnow.t_x, cdnow["T"])


def test_customers_public_names_are_pinned():
    assert cc.__all__ == [
        "MODELS",
        "BetaGeoModel",
        "ChurnModel",
        "ChurnTraining",
        "Clustering",
        "GammaGammaModel",
        "ItemItemRecommender",
        "NotFittedError",
        "ParetoNBDModel",
        "PopularityRecommender",
        "calibration_chart",
        "churn_labels",
        "cluster_segments",
        "clv_holdout",
        "customer_features",
        "customer_features_expr",
        "customer_lifetime_value",
        "customer_list",
        "customer_profile",
        "delete_segment",
        "erase_customer",
        "evaluate_recommender",
        "evaluate_scores",
        "export_customer",
        "fit_clv",
        "fitted_models",
        "holdout_chart",
        "holdout_table",
        "interactions_from_workspace",
        "list_segments",
        "load_model",
        "load_summary",
        "logistic_baseline",
        "negative_verbatim_pairs",
        "next_best_action",
        "personas",
        "predict_clv",
        "revenue_at_risk",
        "rfm_segments",
        "rfm_summary",
        "rule_segment",
        "save_model",
        "save_segment",
        "save_segments",
        "score_churn",
        "segment_map_chart",
        "segment_members",
        "segment_summary",
        "segment_table",
        "simulate_bgnbd",
        "simulate_gamma_gamma",
        "summary_counts",
        "summary_for",
        "temporal_split",
        "train_churn",
        "workspace_revenue_at_risk",
    ]
    for name in cc.__all__:
        assert hasattr(cc, name)


def test_bgnbd_reproduces_fader_hardie_lee_2005_cdnow(bg):
    # Fader, Hardie & Lee (2005), Marketing Science, Table/section 4: r=0.243, α=4.414, a=0.793, b=2.426, LL=-9582.4
    p = bg.params_
    assert [sig3(p["r"]), sig3(p["alpha"]), sig3(p["a"]), sig3(p["b"])] == ["0.243", "4.41", "0.793", "2.43"]
    assert round(p["alpha"], 3) == 4.414 and round(p["b"], 3) == 2.426
    assert round(bg.log_likelihood_, 1) == -9582.4
    assert bg.n_customers_ == 2357


def test_bgnbd_conditional_expectation_matches_paper_example(bg):
    # the paper's worked example: x=2, t_x=30.43, T=38.86 → 1.226 purchases in the next 39 weeks
    assert round(float(bg.expected_purchases(39, [2], [30.43], [38.86])[0]), 3) == 1.226


def test_paretonbd_reproduces_published_cdnow_estimates(cdnow):
    # Fader, Hardie & Lee (2005) Table 1 (Pareto/NBD on the same data): 0.553, 10.578, 0.606, 11.669, LL -9595.0
    m = ParetoNBDModel().fit(cdnow.x, cdnow.t_x, cdnow["T"])
    assert [sig3(v) for v in m.params_.values()] == ["0.553", "10.6", "0.606", "11.7"]
    assert round(m.log_likelihood_, 0) == -9595


def test_gamma_gamma_reproduces_rfm_and_clv_paper(cdnow):
    # Fader, Hardie & Lee (2005), JMR: p=6.25, q=3.74, γ=15.44 on the 946 repeat customers
    rep = cdnow[cdnow.x > 0]
    m = GammaGammaModel().fit(rep.x, rep.zbar)
    assert m.n_customers_ == 946
    assert [sig3(v) for v in m.params_.values()] == ["6.25", "3.74", "15.4"]
    # conditional expectation by hand: (γ + x zbar) p / (p x + q − 1)
    p, q, g = m.params_.values()
    assert m.conditional_expected_value([2], [22.35])[0] == pytest.approx((g + 2 * 22.35) * p / (p * 2 + q - 1))


def test_paretonbd_loglik_equals_direct_integral():
    # hypergeometric form vs the defining integral of the Pareto/NBD likelihood (numerical quadrature)
    r, alpha, s, beta = 0.55, 10.6, 0.61, 11.7
    for x, tx, T in [(0, 0.0, 38.0), (3, 20.0, 35.0), (7, 34.0, 36.0)]:
        for a_, b_ in [(alpha, beta), (beta, alpha)]:
            got = paretonbd_loglik([r, a_, s, b_], np.array([x]), np.array([tx]), np.array([T]))[0]
            c = np.exp(gammaln(r + x) - gammaln(r) + r * np.log(a_) + s * np.log(b_))
            integral = integrate.quad(lambda u, a_=a_, b_=b_, x=x: (a_ + u) ** -(r + x) * (b_ + u) ** -(s + 1), tx, T)[
                0
            ]
            direct = c * ((a_ + T) ** -(r + x) * (b_ + T) ** -s + s * integral)
            assert got == pytest.approx(np.log(direct), rel=1e-9)


def test_weights_equal_expanded_rows(cdnow):
    counts = cdnow.groupby(["x", "t_x", "T"]).size().rename("w").reset_index()
    m1 = BetaGeoModel().fit(counts.x, counts.t_x, counts["T"], weights=counts.w)
    m2 = BetaGeoModel().fit(cdnow.x, cdnow.t_x, cdnow["T"])
    assert m1.n_customers_ == 2357 and m1.n_distinct_ == len(counts)
    for k in m1.params_:
        assert m1.params_[k] == pytest.approx(m2.params_[k], rel=1e-5)
    assert m1.log_likelihood_ == pytest.approx(m2.log_likelihood_, rel=1e-9)


def test_bgnbd_recovers_simulated_parameters():
    true = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
    x, tx, T = simulate_bgnbd(40_000, **true, seed=0)
    m = BetaGeoModel().fit(x, tx, T)
    for k, v in true.items():
        assert abs(m.params_[k] - v) < 4 * m.standard_errors_[k], (k, m.params_[k], m.standard_errors_[k])
        assert m.params_[k] == pytest.approx(v, rel=0.15)


def test_bgnbd_population_expectation_matches_simulation():
    # E[X(t)] of a new customer vs the mean repeat count of simulated customers all observed for t=30
    true = {"r": 0.5, "alpha": 6.0, "a": 0.9, "b": 3.0}
    x, _, _ = simulate_bgnbd(200_000, **true, T=30.0, seed=3)
    m = BetaGeoModel()
    m.log_params_ = np.log(list(true.values()))
    m.params_ = true
    assert float(m.expected_purchases_new(30.0)) == pytest.approx(x.mean(), rel=0.02)


def test_gamma_gamma_recovers_simulated_parameters():
    x, _, _ = simulate_bgnbd(30_000, r=0.5, alpha=4.0, a=0.8, b=2.5, seed=5)
    z = simulate_gamma_gamma(x, p=6.0, q=4.0, gamma=35.0, seed=6)
    m = GammaGammaModel().fit(x, z)
    for k, v in {"p": 6.0, "q": 4.0, "gamma": 35.0}.items():
        assert abs(m.params_[k] - v) < 4 * m.standard_errors_[k]
        assert m.params_[k] == pytest.approx(v, rel=0.15)


def test_paretonbd_probability_alive_is_one_minus_death_share():
    # P(alive) for x=0 at T=0 is 1; it falls with T for a customer who never returns
    m = ParetoNBDModel()
    m.log_params_ = np.log([0.55, 10.6, 0.61, 11.7])
    m.params_ = dict(zip("r alpha s beta".split(), np.exp(m.log_params_), strict=True))
    pa = m.probability_alive([0, 0, 0], [0, 0, 0], [1e-9, 10, 40])
    assert pa[0] == pytest.approx(1.0) and pa[0] > pa[1] > pa[2] > 0


def test_unfitted_model_raises_sklearn_message():
    for cls in (BetaGeoModel, ParetoNBDModel, GammaGammaModel):
        with pytest.raises(NotFittedError, match=f"This {cls.__name__} instance is not fitted yet. Call 'fit' first."):
            cls().sample_params(2, np.random.default_rng(0))
    m = BetaGeoModel(penalizer=0.0)
    assert m.penalizer == 0.0 and not hasattr(m, "params_")
    assert BetaGeoModel().fit([0, 1, 2], [0, 1, 2], [3, 3, 3]) is not None


def test_bad_summary_row_names_the_row():
    with pytest.raises(ValueError, match="customer row 1 has frequency 1.0, recency 5.0, T 3.0"):
        BetaGeoModel().fit([0, 1], [0, 5], [3, 3])
