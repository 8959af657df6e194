"""Segments: RFM scores against a pandas reference, the named grid, clusters on known blobs, rules and storage."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_blobs
from sklearn.metrics import adjusted_rand_score

from cxlens.customers.segments import (
    RFM_SEGMENTS,
    cluster_segments,
    delete_segment,
    list_segments,
    rfm_segments,
    rule_segment,
    save_segment,
    save_segments,
    segment_members,
    segment_name,
)
from cxlens.errors import ConfigError, NotFoundError
from cxlens.metrics.value import EXCLUDED_STATUSES


def _ref_score(values: pd.Series, higher_is_better: bool) -> pd.Series:
    """Reference: 0-based minimum rank r among n, score = floor(5 r / n) + 1."""
    v = values if higher_is_better else -values
    r = v.rank(method="min") - 1
    return (np.floor(5 * r / len(v)) + 1).astype("int64")


def test_rfm_matches_a_pandas_reference_on_the_demo(sample_ws):
    got = rfm_segments(sample_ws).set_index("customer_id")
    o = sample_ws.sql("SELECT customer_id, ts, amount, status FROM orders")
    o = o[o.status.isna() | ~o.status.str.lower().isin(EXCLUDED_STATUSES)]
    as_of = pd.Timestamp(sample_ws.sql("SELECT max(ts) AS t FROM orders")["t"].iloc[0]).normalize() + pd.Timedelta(
        days=1
    )
    per = o.groupby("customer_id").agg(last=("ts", "max"), frequency=("ts", "size"), monetary=("amount", "sum"))
    per["recency_days"] = (as_of - per["last"]).dt.total_seconds() / 86400
    per["r_score"] = _ref_score(per["recency_days"], higher_is_better=False)
    per["f_score"] = _ref_score(per["frequency"], True)
    per["m_score"] = _ref_score(per["monetary"], True)
    per["segment"] = [segment_name(r, f) for r, f in zip(per.r_score, per.f_score, strict=True)]
    per = per.loc[got.index]
    assert len(got) == len(per) > 500
    np.testing.assert_allclose(got["recency_days"], per["recency_days"], rtol=1e-9)
    np.testing.assert_allclose(got["monetary"], per["monetary"], rtol=1e-9)
    for c in ("frequency", "r_score", "f_score", "m_score", "segment"):
        assert (got[c] == per[c]).all(), c
    assert (got["rfm"] == got.r_score.astype(str) + got.f_score.astype(str) + got.m_score.astype(str)).all()
    # ties share a score: every customer with one order has the same F
    assert got.loc[got.frequency == 1, "f_score"].nunique() == 1


def test_rfm_scores_distinct_values_into_equal_fifths_and_ties_share_the_lowest(ws):
    # 10 customers, one order each on a different day and amount; c10 also orders twice more
    days = pd.date_range("2024-01-01", periods=10, freq="D")
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(10)],
            "customer_id": [f"c{i:02d}" for i in range(10)],
            "ts": days,
            "amount": [float(10 * (i + 1)) for i in range(10)],
        }
    )
    extra = pd.DataFrame({"order_id": ["x1", "x2"], "customer_id": ["c09", "c09"], "ts": days[:2], "amount": 0.0})
    ws.load("orders", pd.concat([orders, extra]))
    rfm = rfm_segments(ws, as_of="2024-01-11").set_index("customer_id")
    # most recent last order -> R 5; 10 distinct recencies -> 1,1,2,2,3,3,4,4,5,5
    assert rfm["r_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    # nine customers tie at 1 order (min rank 0 -> F 1); c09 has rank 9 of 10 -> F 5
    assert rfm["f_score"].tolist() == [1] * 9 + [5]
    assert rfm["m_score"].tolist() == [1, 1, 2, 2, 3, 3, 4, 4, 5, 5]
    assert rfm.loc["c09", "segment"] == "Champions" and rfm.loc["c00", "segment"] == "Lost"
    assert rfm.loc["c08", "segment"] == "New" and rfm.loc["c06", "segment"] == "Promising"
    assert rfm.loc["c09", "recency_days"] == pytest.approx(1.0)


def test_rfm_grid_names_every_cell_once():
    names = {(r, f): segment_name(r, f) for r in range(1, 6) for f in range(1, 6)}
    assert "Other" not in names.values()
    assert set(names.values()) == {n for n, _, _ in RFM_SEGMENTS} and len(RFM_SEGMENTS) == 11
    assert names[(5, 5)] == names[(5, 4)] == "Champions"
    assert names[(2, 5)] == names[(1, 5)] == "Can't lose them"
    assert names[(1, 3)] == names[(2, 4)] == "At risk"
    assert names[(3, 3)] == "Need attention" and names[(3, 1)] == names[(3, 2)] == "About to sleep"
    assert names[(1, 1)] == "Lost" and names[(1, 2)] == names[(2, 1)] == names[(2, 2)] == "Hibernating"
    assert names[(5, 1)] == "New" and names[(4, 1)] == "Promising" and names[(4, 3)] == "Potential loyalists"


@pytest.fixture(scope="module")
def blobs():
    X, truth = make_blobs(n_samples=800, centers=4, n_features=3, cluster_std=0.8, random_state=1)
    X = pd.DataFrame(X * [1.0, 50.0, 0.01], columns=["a", "b", "c"])  # scales differ: standardising matters
    X.loc[5, "a"] = np.nan  # a missing value is imputed, not fatal
    return X, truth


@pytest.mark.parametrize("method", ["kmeans", "gmm"])
def test_clustering_chooses_the_true_number_of_blobs(blobs, method):
    X, truth = blobs
    c = cluster_segments(X, method=method, k_range=range(2, 8))
    assert c.k == 4
    crit = c.criterion.set_index("k")
    if method == "kmeans":
        assert crit["silhouette"].idxmax() == 4
    else:
        assert crit["bic"].idxmin() == 4
    assert adjusted_rand_score(truth, c.labels) > 0.95
    assert c.profile["size"].sum() == len(X) and list(c.labels.index) == list(X.index)


def test_clustering_with_fixed_k_and_bad_method():
    X = pd.DataFrame({"a": np.r_[np.zeros(20), np.ones(20) * 10], "b": 1.0})
    c = cluster_segments(X, k=2)
    assert c.columns == ["a"]  # the constant column is left out
    assert c.labels.iloc[:20].nunique() == 1 and c.labels.iloc[0] != c.labels.iloc[-1]
    with pytest.raises(ConfigError, match="'dbscan'"):
        cluster_segments(X, method="dbscan")


def test_rule_segments_match_a_pandas_filter_and_are_stored(sample_ws):
    cu = sample_ws.sql("SELECT * FROM customers")
    ids = rule_segment(sample_ws, "vip_de_fr", {"plan": "vip", "country": ["DE", "FR"]})
    want = sorted(cu[(cu.plan == "vip") & cu.country.isin(["DE", "FR"])].customer_id)
    assert list(ids) == want and len(want) > 0 and ids.name == "vip_de_fr"
    traits = cu.traits.map(lambda s: json.loads(s) if s else {})
    band = traits.map(lambda t: t.get("age_band")).dropna().iloc[0]
    got = rule_segment(sample_ws, "band", {"traits.age_band": band})
    assert list(got) == sorted(cu[traits.map(lambda t: t.get("age_band")) == band].customer_id)
    with pytest.raises(ConfigError, match="'colour'"):
        rule_segment(sample_ws, "x", {"colour": "red"})


def test_saved_segments_replace_by_name_and_list(ws):
    ws.load("customers", pd.DataFrame({"customer_id": ["a", "b", "c"], "plan": ["pro", "pro", "free"]}))
    assert list(rule_segment(ws, "pro", {"plan": "pro"}, save=True)) == ["a", "b"]
    assert list(segment_members(ws, "pro")) == ["a", "b"]
    delete_segment(ws, "pro")
    assert save_segment(ws, "s1", ["a", "b", "b", None], kind="manual") == 2
    assert save_segment(ws, "s1", ["c"], kind="manual") == 1  # replaces
    save_segments(ws, pd.Series(["x", "y", "x"], index=["a", "b", "c"]), kind="cluster", prefix="k:")
    listed = list_segments(ws).set_index("segment")
    assert listed["customers"].to_dict() == {"k:x": 2, "k:y": 1, "s1": 1}
    assert listed.loc["k:x", "kind"] == "cluster"
    assert list(segment_members(ws, "s1")) == ["c"]
    rows = ws.sql("SELECT * FROM segments WHERE segment = 'k:x' ORDER BY customer_id")
    assert rows.columns.tolist() == ["segment", "customer_id", "kind", "created_at"]
    assert rows.customer_id.tolist() == ["a", "c"]
    with pytest.raises(NotFoundError, match="'nope'"):
        segment_members(ws, "nope")
    with pytest.raises(ConfigError, match="'weird'"):
        save_segment(ws, "s2", ["a"], kind="weird")
