"""Churn features (values by hand, no leakage), the ChurnModel contract, Telco vs a logistic baseline,
and the demo generator's planted churn."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.model_selection import train_test_split

import cxlens
from cxlens.customers.churn_model import (
    ChurnModel,
    _as_text,
    churn_labels,
    evaluate_scores,
    logistic_baseline,
    score_churn,
    train_churn,
)
from cxlens.customers.clv_models import NotFittedError
from cxlens.customers.features import NUMERIC_FEATURES, customer_features, trait_frame
from cxlens.ingest.adapters import import_telco_churn
from cxlens.ingest.simulate import write_demo

AS_OF = "2024-06-01"


def _ts(s):
    return pd.Timestamp(s)


@pytest.fixture()
def tiny(ws):
    ws.load(
        "customers",
        pd.DataFrame(
            {
                "customer_id": ["c1", "c2", "c3", "c4"],
                "created_at": [_ts("2024-01-01"), _ts("2024-05-01"), _ts("2024-07-01"), _ts("2023-01-01")],
                "plan": ["pro", "free", "pro", "free"],
                "country": ["DE", "FR", "DE", "FR"],
                "segment": "a",
                "churned_at": [None, None, None, _ts("2024-03-01")],
            }
        ),
    )
    ws.load(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3", "o4", "o5"],
                "customer_id": ["c1", "c1", "c1", "c1", "c2"],
                "ts": [_ts("2024-02-01"), _ts("2024-05-20"), _ts("2024-05-25"), _ts("2024-06-02"), _ts("2024-05-10")],
                "amount": [10.0, 20.0, 99.0, 1000.0, 5.0],
                "status": ["paid", "paid", "cancelled", "paid", "paid"],
            }
        ),
    )
    ws.load(
        "events",
        pd.DataFrame(
            {
                "event_id": [f"e{i}" for i in range(7)],
                "customer_id": ["c1"] * 6 + ["c2"],
                "session_id": ["s1", "s1", "s2", "s2", "s2", "s3", "s4"],
                "ts": [
                    _ts("2024-05-30 10:00"),
                    _ts("2024-05-30 10:01"),
                    _ts("2024-04-01"),
                    _ts("2024-04-01 00:01"),
                    _ts("2024-04-01 00:02"),
                    _ts("2024-06-05"),
                    _ts("2024-05-11"),
                ],
                "name": ["add_to_cart", "checkout", "add_to_cart", "checkout", "purchase", "add_to_cart", "visit"],
                "touchpoint": ["cart", "checkout", "cart", "checkout", "checkout", "cart", "homepage"],
            }
        ),
    )
    ws.load(
        "feedback",
        pd.DataFrame(
            {
                "feedback_id": [f"f{i}" for i in range(7)],
                "customer_id": ["c1"] * 6 + ["c2"],
                "ts": [
                    _ts("2024-01-10"),
                    _ts("2024-02-10"),
                    _ts("2024-03-10"),
                    _ts("2024-04-10"),
                    _ts("2024-06-10"),
                    _ts("2024-05-05"),
                    _ts("2024-05-12"),
                ],
                "metric": ["nps", "nps", "nps", "nps", "nps", "csat", "csat"],
                "score": [10.0, 8.0, 4.0, 2.0, 10.0, 1.0, 5.0],
                "comment": [None, "ok", "bad", "   ", "great", "awful", "fine"],
            }
        ),
    )
    ws.load(
        "tickets",
        pd.DataFrame(
            {
                "ticket_id": ["t1", "t2", "t3"],
                "customer_id": ["c1", "c1", "c1"],
                "created_at": [_ts("2024-05-01"), _ts("2024-01-01"), _ts("2024-06-03")],
                "first_response_at": [_ts("2024-05-01 03:00"), _ts("2024-01-01 01:00"), None],
                "resolved_at": [_ts("2024-06-15"), _ts("2024-01-02"), None],
                "status": ["closed", "closed", "open"],
            }
        ),
    )
    return ws


def test_features_match_values_computed_by_hand(tiny):
    X = customer_features(tiny, AS_OF, lookback_days=365)
    # c3 is created after as_of, c4 churned before it: neither is known at as_of
    assert list(X.index) == ["c1", "c2"]
    c1, c2 = X.loc["c1"], X.loc["c2"]
    # last activity before 2024-06-01 is the event at 2024-05-30 10:01 (the order of 06-02 is later)
    assert c1["recency_days"] == pytest.approx(1 + 13 / 24 + 59 / 1440)
    assert c1["frequency"] == 2 and c1["monetary"] == 30.0  # o3 cancelled, o4 after as_of
    assert c1["tenure_days"] == pytest.approx(152.0)  # 2024-01-01 -> 2024-06-01
    assert c1["events_30d"] == 2 and c1["events_90d"] == 5 and c1["touchpoints"] == 2  # cart, checkout
    # NPS before as_of: 10, 8, 4, 2 -> last 2 mean 3, earlier mean 9; the 06-10 answer is ignored
    assert c1["nps_answers"] == 4 and c1["last_nps"] == 2 and c1["nps_trend"] == pytest.approx(3 - 9)
    assert c1["detractor"] == 1 and c1["csat_mean"] == 1.0
    # comments on NPS <= 6 or CSAT <= 2: "bad" (nps 4) and "awful" (csat 1); blank comment skipped
    assert c1["negative_comments"] == 2
    # t1 open at as_of (resolved 06-15), t2 resolved, t3 created later
    assert c1["open_tickets"] == 1 and c1["tickets_90d"] == 1
    assert c1["first_response_median_h"] == pytest.approx((3 + 1) / 2)
    # s1: cart + checkout, no purchase -> abandonment and drop-off; s2 bought; s3 after as_of
    assert c1["cart_abandonments"] == 1 and c1["drop_offs"] == 1
    assert (c1["plan"], c1["country"]) == ("pro", "DE")
    assert c2["recency_days"] == pytest.approx(21.0)  # visit 05-11 and c2["frequency"] == 1 and c2["monetary"] == 5.0
    assert np.isnan(c2["last_nps"]) and c2["detractor"] == 0 and c2["csat_mean"] == 5.0
    assert c2["open_tickets"] == 0 and np.isnan(c2["first_response_median_h"])


def test_features_ignore_every_row_at_or_after_as_of(sample_path, tmp_path):
    """Features on the full demo equal features on a copy with the future deleted."""
    as_of = "2026-02-01"
    path = tmp_path / "cut.duckdb"
    shutil.copy(sample_path, path)
    with cxlens.open(sample_path) as full:
        X_full = customer_features(full, as_of)
    with cxlens.open(path) as cut:
        for table, col in [
            ("orders", "ts"),
            ("events", "ts"),
            ("feedback", "ts"),
            ("reviews", "ts"),
            ("tickets", "created_at"),
            ("customers", "created_at"),
        ]:
            cut.sql(f"DELETE FROM {table} WHERE {col} >= ?", [pd.Timestamp(as_of)])
        cut.sql("UPDATE tickets SET resolved_at = NULL WHERE resolved_at >= ?", [pd.Timestamp(as_of)])
        cut.sql("UPDATE tickets SET first_response_at = NULL WHERE first_response_at >= ?", [pd.Timestamp(as_of)])
        cut.sql("UPDATE customers SET churned_at = NULL WHERE churned_at > ?", [pd.Timestamp(as_of)])
        X_cut = customer_features(cut, as_of)
    assert len(X_full) > 500
    pd.testing.assert_frame_equal(X_full, X_cut)


def test_evaluate_scores_matches_hand_computation():
    y = [0, 0, 1, 1, 0, 1, 0, 0, 0, 0]
    p = [0.1, 0.4, 0.35, 0.8, 0.2, 0.9, 0.05, 0.3, 0.15, 0.6]
    r = evaluate_scores(y, p)
    # positives 0.35, 0.8, 0.9 vs 7 negatives: 0.35 beats 0.05, 0.1, 0.15, 0.2, 0.3: pairs won 5 + 7 + 7 = 19 of 21
    assert r["roc_auc"] == pytest.approx(19 / 21)
    assert r["brier"] == pytest.approx(np.mean((np.array(p) - np.array(y)) ** 2))
    # top decile = the single highest score (0.9, a churner): rate 1 / base 0.3
    assert r["lift_top_decile"] == pytest.approx(1 / 0.3)
    # average precision: ranks 0.9 (1), 0.8 (1), 0.6, 0.4, 0.35 (1) -> (1 + 1 + 3/5) / 3
    assert r["pr_auc"] == pytest.approx((1 + 1 + 3 / 5) / 3)
    cal = r["calibration"]
    assert cal["n"].tolist() == [1] * 10 and cal["observed_rate"].iloc[-1] == 1.0


def _synthetic(n=3000, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"a": rng.normal(size=n), "noise": rng.normal(size=n), "plan": rng.choice(["free", "pro"], n)})
    logit = -1.5 + 2.0 * X["a"] + 1.0 * (X["plan"] == "free")
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int)
    return X, y


def test_churn_model_follows_the_sklearn_contract():
    X, y = _synthetic()
    m = ChurnModel(max_iter=50, cv=2)
    with pytest.raises(NotFittedError, match="is not fitted yet. Call 'fit' first."):
        m.predict_proba(X)
    assert m.get_params()["max_iter"] == 50 and clone(m).get_params() == m.get_params()
    assert m.fit(X, y) is m
    assert m.feature_names_in_ == ["a", "noise", "plan"] and m.categories_ == {"plan": ["free", "pro"]}
    p = m.predict_proba(X)
    assert p.shape == (len(X), 2) and np.allclose(p.sum(axis=1), 1)
    # calibrated: the mean probability is the churn rate within a point
    assert abs(p[:, 1].mean() - y.mean()) < 0.01


def test_explain_contributions_are_deltas_against_typical_values():
    X, y = _synthetic()
    m = ChurnModel(max_iter=80, cv=2).fit(X, y)
    assert m.typical_["a"] == pytest.approx(X["a"].median()) and m.typical_["plan"] == X["plan"].mode()[0]
    rows = X.nlargest(20, "a")
    ex = m.explain(rows, top=2)
    # the planted driver is the first reason of the customers with the highest 'a'
    firsts = ex[ex["rank"] == 1]["feature"]
    assert (firsts == "a").mean() >= 0.9
    # recompute one contribution independently
    cid = ex.index[0]
    one = rows.loc[[cid]]
    typical = one.assign(a=X["a"].median())
    want = m.predict_proba(one)[0, 1] - m.predict_proba(typical)[0, 1]
    got = ex.loc[[cid]].query("feature == 'a'")["contribution"].iloc[0]
    assert got == pytest.approx(want)
    assert (ex["contribution"] > 0).all()


def test_telco_gradient_boosting_is_on_par_with_logistic_baseline(real_data):
    """IBM Telco churn (no dates): stratified 75/25 holdout, seed 0. Published ballpark ~0.84 AUC."""
    ws = cxlens.open(":memory:")
    import_telco_churn(ws, real_data / "telco-churn" / "WA_Fn-UseC_-Telco-Customer-Churn.csv")
    F = trait_frame(ws)
    y = (F.pop("traits.churn") == "Yes").astype(int)
    assert len(F) == 7043 and int(y.sum()) == 1869  # the published class balance
    X = F.drop(columns=["country", "traits.contract", "traits.internet_service"])  # constant / = segment, plan
    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.25, stratify=y, random_state=0)
    model = ChurnModel().fit(Xtr, ytr).evaluate(Xte, yte)
    base = logistic_baseline(Xtr).fit(_as_text(Xtr), ytr)
    baseline = evaluate_scores(yte, base.predict_proba(_as_text(Xte))[:, 1])
    print(
        f"telco gbm auc={model['roc_auc']:.3f} pr={model['pr_auc']:.3f} "
        f"logit auc={baseline['roc_auc']:.3f} pr={baseline['pr_auc']:.3f}"
    )
    assert model["roc_auc"] > 0.80
    assert model["roc_auc"] >= baseline["roc_auc"] - 0.02
    assert model["pr_auc"] >= baseline["pr_auc"] - 0.03


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    w = cxlens.open(tmp_path_factory.mktemp("churn") / "demo.duckdb")
    write_demo(w, 5000, seed=0)
    yield w
    w.close()


def test_demo_holdout_recovers_the_generators_churn(demo):
    r = train_churn(demo, horizon_days=90)
    last = demo.sql(
        "SELECT max(ts) AS t FROM (SELECT ts FROM orders UNION ALL SELECT ts FROM events WHERE customer_id IS NOT NULL)"
    )["t"].iloc[0]
    end = pd.Timestamp(last).normalize() + pd.Timedelta(days=1)
    assert r.test_as_of == end - pd.Timedelta(days=90) and r.train_as_of == end - pd.Timedelta(days=180)
    assert r.label == "churned_at"
    # labels: churned_at planted by the generator, counted independently in pandas
    cu = demo.sql("SELECT customer_id, created_at, churned_at FROM customers")
    t0, t1 = r.test_as_of, r.test_as_of + pd.Timedelta(days=90)
    known = cu[(cu.created_at < t0) & (cu.churned_at.isna() | (cu.churned_at > t0))]
    churners = ((known.churned_at > t0) & (known.churned_at <= t1)).sum()
    assert r.n_test == len(known) and r.metrics["churners"] == churners
    m = r.metrics
    print(
        f"demo auc={m['roc_auc']:.3f} pr={m['pr_auc']:.3f} lift={m['lift_top_decile']:.2f} "
        f"brier={m['brier']:.4f} base={m['base_rate']:.3f} logit auc={r.baseline['roc_auc']:.3f}"
    )
    assert m["roc_auc"] > 0.8 and m["lift_top_decile"] > 3
    assert m["roc_auc"] >= r.baseline["roc_auc"] - 0.02

    scores = score_churn(demo, r.model)
    assert scores["churn_risk"].is_monotonic_decreasing
    assert scores["churn_risk"].between(0, 1).all()
    assert (scores.head(20)["reasons"].str.len() > 0).all()
    X_end = customer_features(demo, end)
    assert sorted(scores["customer_id"]) == sorted(X_end.index)


def test_inactivity_label_marks_customers_without_activity(tiny):
    y = churn_labels(tiny, ["c1", "c2"], AS_OF, 10, label="inactivity")
    # c1 orders on 06-02 and has an event on 06-05; c2 has nothing after 05-11
    assert y.to_dict() == {"c1": 0, "c2": 1}
    assert set(NUMERIC_FEATURES) <= set(customer_features(tiny, AS_OF).columns)
