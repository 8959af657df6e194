"""Item-item recommendations, the popularity baseline, offline evaluation and next best actions."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from cxlens.customers.clv_models import NotFittedError
from cxlens.customers.recommend import (
    ItemItemRecommender,
    PopularityRecommender,
    evaluate_recommender,
    interactions_from_workspace,
    next_best_action,
    temporal_split,
)
from cxlens.errors import ConfigError, NotFoundError

# users a..d x items x, y, z; columns x=[1,1,1,0], y=[1,1,0,0], z=[0,1,0,2]
TOY = pd.DataFrame(
    {
        "user": ["a", "a", "b", "b", "b", "c", "d", "d"],
        "item": ["x", "y", "x", "y", "z", "x", "z", "z"],
        "weight": [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],  # d's two z rows sum to 2
    }
)
SIM_XY, SIM_XZ, SIM_YZ = 2 / math.sqrt(6), 1 / math.sqrt(15), 1 / math.sqrt(10)


def test_item_item_similarity_is_cosine_with_shrinkage_in_the_denominator():
    plain = ItemItemRecommender(k=None, shrinkage=0).fit(TOY)
    S = plain.similarity_.toarray()
    assert list(plain.items_) == ["x", "y", "z"]
    np.testing.assert_allclose(S, [[0, SIM_XY, SIM_XZ], [SIM_XY, 0, SIM_YZ], [SIM_XZ, SIM_YZ, 0]])
    shrunk = ItemItemRecommender(k=None, shrinkage=1.0).fit(TOY).similarity_.toarray()
    assert shrunk[0, 1] == pytest.approx(2 / (math.sqrt(3) * math.sqrt(2) + 1))
    assert shrunk[1, 2] == pytest.approx(1 / (math.sqrt(2) * math.sqrt(5) + 1))


def test_recommend_scores_are_the_users_weights_times_similarities():
    model = ItemItemRecommender(k=None, shrinkage=0).fit(TOY)
    recs = model.recommend(["c", "d"], n=2)
    assert recs.columns.tolist() == ["user", "item", "score", "rank", "source", "cold_start"]
    c = recs[recs.user == "c"]
    assert c["item"].tolist() == ["y", "z"]
    np.testing.assert_allclose(c["score"], [SIM_XY, SIM_XZ])
    d = recs[recs.user == "d"]  # d holds z twice: scores 2 * sim
    assert d["item"].tolist() == ["y", "x"]
    np.testing.assert_allclose(d["score"], [2 * SIM_YZ, 2 * SIM_XZ])
    assert recs["rank"].tolist() == [1, 2, 1, 2]
    assert set(recs["source"]) == {"item_item"} and not recs["cold_start"].any()


def test_recommend_excludes_seen_items_unless_asked_not_to():
    model = ItemItemRecommender(k=None, shrinkage=0).fit(TOY)
    assert model.recommend("a", n=5)["item"].tolist() == ["z"]
    kept = model.recommend("a", n=3, exclude_seen=False)
    # a = x + y: x scores sim(y,x), y scores sim(x,y), z scores sim(x,z) + sim(y,z)
    scores = dict(zip(kept["item"], kept["score"], strict=True))
    assert scores == pytest.approx({"x": SIM_XY, "y": SIM_XY, "z": SIM_XZ + SIM_YZ})


def test_k_keeps_only_the_nearest_neighbours_and_popularity_fills_the_rest():
    model = ItemItemRecommender(k=1, shrinkage=0).fit(TOY)
    S = model.similarity_.toarray()
    # x's nearest is y, y's nearest is x, z's nearest is y (1/sqrt(10) > 1/sqrt(15))
    np.testing.assert_allclose(S, [[0, SIM_XY, 0], [SIM_XY, 0, 0], [0, SIM_YZ, 0]])
    d = model.recommend("d", n=2)
    assert d["item"].tolist() == ["y", "x"]
    assert d["source"].tolist() == ["item_item", "popularity"]
    # x is held by 3 of the 4 users
    assert d["score"].tolist() == pytest.approx([2 * SIM_YZ, 0.75])


def test_unknown_users_get_popularity_and_are_flagged_cold_start():
    model = ItemItemRecommender().fit(TOY)
    e = model.recommend(["e"], n=3)
    # users per item: x 3, y 2, z 2 -> x first, then the tie y, z in id order
    assert e["item"].tolist() == ["x", "y", "z"]
    assert e["score"].tolist() == pytest.approx([0.75, 0.5, 0.5])
    assert e["cold_start"].all() and set(e["source"]) == {"popularity"}


def test_user_ids_are_matched_as_strings():
    rows = pd.DataFrame({"customer_id": [1, 1, 2], "product_id": [10, 11, 10]})
    model = ItemItemRecommender(shrinkage=0).fit(rows)
    assert model.recommend(2, n=1)[["user", "item"]].values.tolist() == [["2", "11"]]


def test_popularity_counts_distinct_users_not_weight():
    rows = pd.DataFrame({"user": ["a", "a", "b", "c"], "item": ["y", "y", "x", "x"], "weight": [50.0, 50.0, 1.0, 1.0]})
    model = PopularityRecommender().fit(rows)
    assert model.popularity_.to_dict() == {"x": 2.0, "y": 1.0}
    assert model.recommend("z", n=2)["item"].tolist() == ["x", "y"]
    assert model.recommend("b", n=2)["item"].tolist() == ["y"]  # x already seen


def test_similar_items_ranks_neighbours_by_similarity():
    model = ItemItemRecommender(k=None, shrinkage=0).fit(TOY)
    sim = model.similar_items("z", n=5)
    assert sim["similar_item"].tolist() == ["y", "x"]
    assert sim["score"].tolist() == pytest.approx([SIM_YZ, SIM_XZ])
    assert sim["rank"].tolist() == [1, 2]
    assert PopularityRecommender().fit(TOY).similar_items("y", n=1)["similar_item"].tolist() == ["x"]
    with pytest.raises(NotFoundError, match="item 'w' was not in the training interactions"):
        model.similar_items("w")


def test_models_follow_the_scikit_learn_contract():
    model = ItemItemRecommender(k=7, shrinkage=2.5, similarity="bm25")
    assert model.get_params() == {"k": 7, "shrinkage": 2.5, "similarity": "bm25"}
    assert clone(model).get_params() == model.get_params()
    assert model.fit(TOY) is model
    with pytest.raises(NotFittedError, match="This ItemItemRecommender is not fitted yet. Call 'fit' first."):
        ItemItemRecommender().recommend("a")
    with pytest.raises(NotFittedError, match="PopularityRecommender is not fitted yet"):
        PopularityRecommender().similar_items("x")
    with pytest.raises(ConfigError, match="similarity='jaccard'; expected one of cosine, bm25, tfidf"):
        ItemItemRecommender(similarity="jaccard").fit(TOY)
    with pytest.raises(ConfigError, match="no item column"):
        ItemItemRecommender().fit(TOY.rename(columns={"item": "sku"}))


def test_reweighted_similarities_still_rank_co_bought_items_first():
    for sim in ("bm25", "tfidf"):
        model = ItemItemRecommender(similarity=sim, shrinkage=0).fit(TOY)
        assert model.recommend("c", n=1)["item"].tolist() == ["y"], sim


# -- evaluation ------------------------------------------------------------------------------
EVAL = pd.DataFrame(
    [
        ("u1", "A", "2024-01-01"),
        ("u2", "A", "2024-01-01"),
        ("u2", "B", "2024-01-01"),
        ("u3", "A", "2024-01-01"),
        ("u3", "B", "2024-01-01"),
        ("u3", "C", "2024-01-01"),
        ("u4", "D", "2024-01-01"),
        ("u1", "B", "2024-01-02"),
        ("u1", "C", "2024-01-02"),
        ("u2", "D", "2024-01-02"),
        ("u3", "A", "2024-01-02"),  # seen in training: not relevant, u3 drops out
        ("u5", "A", "2024-01-02"),  # unknown in training: not evaluated
    ],
    columns=["user", "item", "ts"],
).assign(ts=lambda d: pd.to_datetime(d["ts"]))


def test_evaluate_matches_hand_computed_metrics():
    r = evaluate_recommender(PopularityRecommender(), EVAL, split_time="2024-01-02", k=2)
    # popularity A3 B2 C1 D1; u1 gets [B, C] (2 hits of 2), u2 (saw A, B) gets [C, D] (hit at rank 2)
    assert r["users"] == 2 and r["train_rows"] == 7 and r["test_rows"] == 5 and r["items"] == 4
    assert r["precision"] == pytest.approx((1.0 + 0.5) / 2)
    assert r["recall"] == pytest.approx(1.0)
    assert r["map"] == pytest.approx((1.0 + 0.5) / 2)
    assert r["ndcg"] == pytest.approx((1.0 + 1 / math.log2(3)) / 2)
    assert r["hit_rate"] == 1.0
    assert r["coverage"] == pytest.approx(3 / 4)


def test_temporal_split_by_user_holds_out_each_users_latest_interactions():
    train, test = temporal_split(EVAL, by_user=True, test_size=0.5)
    # every user with two timestamps loses the later one; u4 and u5 have one and stay in train
    assert sorted(map(tuple, test[["user", "item"]].values)) == [("u1", "B"), ("u1", "C"), ("u2", "D"), ("u3", "A")]
    assert len(train) == len(EVAL) - 4
    q_train, q_test = temporal_split(EVAL, test_size=0.2)
    assert q_train["ts"].max() < q_test["ts"].min()


# -- workspace -------------------------------------------------------------------------------
@pytest.fixture()
def shop(ws):
    orders = pd.DataFrame(
        [
            ("o1", "c1", "2024-01-10", 10.0, "delivered"),
            ("o2", "c2", "2024-06-01", 10.0, "delivered"),
            ("o3", "c3", "2024-06-10", 10.0, "delivered"),
            ("o4", "c4", "2024-01-05", 10.0, "delivered"),
            ("o5", "c5", "2024-06-20", 10.0, "delivered"),
            ("o6", "c4", "2024-06-15", 10.0, "cancelled"),
            ("o7", "c5", "2024-05-01", 10.0, "delivered"),
        ],
        columns=["order_id", "customer_id", "ts", "amount", "status"],
    )
    items = pd.DataFrame(
        [
            ("o1", "1", "p1"),
            ("o1", "2", "p2"),
            ("o2", "1", "p1"),
            ("o2", "2", "p3"),
            ("o3", "1", "p2"),
            ("o3", "2", "p3"),
            ("o4", "1", "p1"),
            ("o5", "1", "p1"),
            ("o5", "2", "p2"),
            ("o5", "3", "p3"),
            ("o6", "1", "p4"),
            ("o7", "1", "p1"),
        ],
        columns=["order_id", "item_id", "product_id"],
    )
    tickets = pd.DataFrame(
        [
            ("t1", "c1", "2024-06-01", None, "open"),
            ("t2", "c2", "2024-06-02", "2024-06-03", "closed"),
        ],
        columns=["ticket_id", "customer_id", "created_at", "resolved_at", "status"],
    )
    feedback = pd.DataFrame(
        [
            ("c2", "2024-03-01", "nps", 9.0),
            ("c2", "2024-06-05", "nps", 3.0),
            ("c3", "2024-03-01", "nps", 3.0),
            ("c3", "2024-06-12", "nps", 10.0),
        ],
        columns=["customer_id", "ts", "metric", "score"],
    )
    ws.load("orders", orders)
    ws.load("order_items", items)
    ws.load("tickets", tickets)
    ws.load("feedback", feedback)
    return ws


def test_interactions_count_orders_per_product_and_skip_cancelled_orders(shop):
    df = interactions_from_workspace(shop)
    got = {(r.customer_id, r.product_id): r.weight for r in df.itertuples()}
    assert got == {
        ("c1", "p1"): 1.0,
        ("c1", "p2"): 1.0,
        ("c2", "p1"): 1.0,
        ("c2", "p3"): 1.0,
        ("c3", "p2"): 1.0,
        ("c3", "p3"): 1.0,
        ("c4", "p1"): 1.0,
        ("c5", "p1"): 2.0,  # o5 and o7
        ("c5", "p2"): 1.0,
        ("c5", "p3"): 1.0,
    }
    assert df.loc[(df.customer_id == "c5") & (df.product_id == "p1"), "ts"].iloc[0] == pd.Timestamp("2024-06-20")
    recent = interactions_from_workspace(shop, since="2024-06-01")
    assert set(recent["customer_id"]) == {"c2", "c3", "c5"} and recent["weight"].eq(1.0).all()


def test_next_best_action_applies_the_rules_in_priority_order(shop):
    nba = next_best_action(shop, ["c1", "c2", "c3", "c4", "c5", "c9"], risk={"c3": 0.8, "c5": 0.1}).set_index(
        "customer_id"
    )
    assert nba["action"].to_dict() == {
        "c1": "resolve open ticket",
        "c2": "service follow-up",  # closed ticket, latest NPS 3
        "c3": "win-back offer",  # latest NPS 10 but risk 0.8
        "c4": "win-back offer",  # last valid order 2024-01-05, 167 days before 2024-06-20
        "c5": "cross-sell",
        "c9": "win-back offer",  # never ordered
    }
    assert nba.loc["c2", "reason"] == "latest NPS answer was 3 (detractor)"
    assert nba.loc["c4", "reason"] == "no order for 167 days (> 90)"
    assert nba.loc["c9", "reason"] == "no order yet"
    assert nba.loc["c3", "churn_risk"] == 0.8 and math.isnan(nba.loc["c1", "churn_risk"])
    # items are products not yet bought: c4 bought p1 -> its neighbours p2, p3; c5 bought everything
    assert sorted(nba.loc["c4", "items"]) == ["p2", "p3"]
    assert nba.loc["c5", "items"] == []
    # c9 is unknown: the most popular products (p1 bought by 4 customers)
    assert nba.loc["c9", "items"][0] == "p1"


def test_next_best_action_accepts_a_score_churn_table(shop):
    risk = pd.DataFrame({"customer_id": ["c5"], "churn_risk": [0.9], "reasons": [""]})
    nba = next_best_action(shop, ["c5"], risk=risk)
    assert nba["action"].tolist() == ["win-back offer"]
    assert nba["reason"].tolist() == ["churn risk 0.90 >= 0.5"]


# -- real data: item-item against popularity on time splits (figures in docs/recommendations.md) ----
def _online_retail(root) -> pd.DataFrame:
    df = pd.read_csv(
        root / "online-retail-head" / "online_retail_first8000.csv", dtype={"InvoiceNo": str, "StockCode": str}
    )
    df = df[~df["InvoiceNo"].str.startswith("C") & df["CustomerID"].notna()]
    return pd.DataFrame(
        {
            "user": df["CustomerID"].astype(int).astype(str),
            "item": df["StockCode"],
            "weight": 1.0,
            "ts": pd.to_datetime(df["InvoiceDate"]),
        }
    )


def _rees46(root) -> pd.DataFrame:
    df = pd.read_csv(root / "rees46-events-head" / "2019-Oct_first17434rows.csv")
    return pd.DataFrame(
        {
            "user": df["user_id"].astype(str),
            "item": df["product_id"].astype(str),
            "weight": df["event_type"].map({"view": 1.0, "cart": 3.0, "purchase": 5.0}),
            "ts": pd.to_datetime(df["event_time"].str.removesuffix(" UTC")),
        }
    )


def _fine_food(root) -> pd.DataFrame:
    df = pd.read_csv(
        root / "amazon-fine-food-reviews-head" / "amazon_fine_food_reviews_first7567.csv",
        usecols=["UserId", "ProductId", "Time"],
    )
    return pd.DataFrame(
        {"user": df["UserId"], "item": df["ProductId"], "weight": 1.0, "ts": pd.to_datetime(df["Time"], unit="s")}
    )


def _both(x: pd.DataFrame, **split) -> tuple[dict, dict]:
    return (
        evaluate_recommender(ItemItemRecommender(), x, k=10, **split),
        evaluate_recommender(PopularityRecommender(), x, k=10, **split),
    )


@pytest.mark.realdata
def test_online_retail_popularity_beats_item_item_on_each_customers_latest_invoice(real_data):
    x = _online_retail(real_data)
    assert (len(x), x["user"].nunique(), x["item"].nunique()) == (5621, 256, 1529)
    ii, pop = _both(x, by_user=True)
    assert ii["users"] == pop["users"] == 29
    assert pop["precision"] == pytest.approx(0.0621, abs=0.002) and ii["precision"] == pytest.approx(0.0172, abs=0.002)
    assert pop["precision"] > ii["precision"] + 0.03 and pop["recall"] > ii["recall"] + 0.05
    assert ii["coverage"] > 5 * pop["coverage"]


@pytest.mark.realdata
def test_rees46_item_item_beats_popularity_on_a_time_split_within_the_three_hours(real_data):
    x = _rees46(real_data)
    ii, pop = _both(x, test_size=0.2)  # cutoff: the 80th percentile of event_time
    assert ii["users"] == pop["users"] == 378
    assert ii["precision"] == pytest.approx(0.0116, abs=0.002) and pop["precision"] == pytest.approx(0.0061, abs=0.002)
    assert ii["precision"] > 1.5 * pop["precision"] and ii["recall"] > 1.5 * pop["recall"]
    assert ii["ndcg"] > 2 * pop["ndcg"]
    ii_u, pop_u = _both(x, by_user=True)
    assert ii_u["users"] == 1637
    assert ii_u["precision"] > 1.5 * pop_u["precision"] and ii_u["recall"] > 1.5 * pop_u["recall"]


@pytest.mark.realdata
def test_fine_food_item_item_ties_popularity_by_time_and_loses_on_latest_review(real_data):
    x = _fine_food(real_data)
    ii, pop = _both(x, test_size=0.2)
    assert ii["users"] == 39
    assert ii["precision"] == pytest.approx(pop["precision"], abs=0.003)
    assert ii["recall"] == pytest.approx(pop["recall"], abs=0.03)
    ii_u, pop_u = _both(x, by_user=True)
    assert ii_u["users"] == 195
    assert pop_u["precision"] == pytest.approx(0.0292, abs=0.002) and ii_u["precision"] == pytest.approx(
        0.0241, abs=0.002
    )
    assert pop_u["precision"] >= ii_u["precision"] and pop_u["recall"] >= ii_u["recall"]
