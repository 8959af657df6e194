"""Revenue at risk: a hand-built workspace checked by hand and against a pandas computation."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.customers.risk import RISK_COLUMNS, negative_verbatim_pairs, revenue_at_risk
from cxlens.errors import ConfigError

ROWS = [
    # customer, metric, score, theme, touchpoint
    ("a", "nps", 3, "delivery_delay", "delivery"),
    ("a", "csat", 2, "delivery_delay", "delivery"),
    ("a", "ces", 4, "website_bug", "checkout"),
    ("b", "nps", 6, "delivery_delay", "delivery"),
    ("b", "nps", 7, "website_bug", "checkout"),  # passive: not unhappy
    ("c", "csat", 4, "delivery_delay", "delivery"),  # satisfied
    ("c", "ces", 5, "website_bug", "checkout"),  # easy
    ("c", "nps", 0, "price", "store"),
    ("d", "nps", 1, None, "delivery"),  # no theme
    ("e", "nps", 2, "price", "store"),  # no CLV
    (None, "nps", 0, "price", "store"),  # anonymous answer: no customer to value
    ("f", "rating", 1, "price", "store"),  # not a CX score metric
]
CLV = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "f"], "clv": [100.0, 40.0, 200.0, 10.0, 999.0]})
RISK = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e", "f"], "churn_risk": [0.5, 0.25, 0.1, 0.9, 0.3, 1.0]})


@pytest.fixture()
def ws_factory(tmp_path):
    opened = []

    def make():
        w = cxlens.open(tmp_path / f"ws{len(opened)}.duckdb")
        opened.append(w)
        return w

    yield make
    for w in opened:
        w.close()


@pytest.fixture()
def rws(ws):
    fb = pd.DataFrame(ROWS, columns=["customer_id", "metric", "score", "theme", "touchpoint"])
    fb["ts"] = pd.date_range("2024-03-01", periods=len(fb), freq="D")
    fb["properties"] = [json.dumps({"theme": t}) if isinstance(t, str) else None for t in fb["theme"]]
    ws.load("feedback", fb.drop(columns="theme"))
    return ws


def _pandas_reference(by: str) -> pd.DataFrame:
    fb = pd.DataFrame(ROWS, columns=["customer_id", "metric", "score", "theme", "touchpoint"])
    bad = (
        ((fb.metric == "nps") & (fb.score <= 6))
        | ((fb.metric == "csat") & (fb.score <= 3))
        | ((fb.metric == "ces") & (fb.score <= 4))
    )
    fb = fb[bad & fb.customer_id.notna() & fb[by].notna()]
    rows = []
    for key, grp in fb.groupby(by):
        ids = sorted(set(grp.customer_id))
        c = CLV.set_index("customer_id")["clv"].reindex(ids)
        r = RISK.set_index("customer_id")["churn_risk"].reindex(ids)
        rows.append(
            {
                by: key,
                "customers": len(ids),
                "answers": len(grp),
                "scored": int((c * r).notna().sum()),
                "clv": c.sum(),
                "churn_risk": r.mean(),
                "revenue_at_risk": (c * r).sum(),
            }
        )
    ref = pd.DataFrame(rows).sort_values(["revenue_at_risk", by], ascending=[False, True]).reset_index(drop=True)
    ref.insert(1, "rank", np.arange(1, len(ref) + 1))
    return ref


@pytest.mark.parametrize("by", ["theme", "touchpoint"])
def test_revenue_at_risk_matches_a_pandas_computation(rws, by):
    got = revenue_at_risk(rws, CLV, RISK, by=by)
    assert list(got.columns) == [by, *RISK_COLUMNS]
    pd.testing.assert_frame_equal(got.drop(columns=["ci_low", "ci_high"]), _pandas_reference(by), check_dtype=False)


def test_revenue_at_risk_by_theme_by_hand(rws):
    got = revenue_at_risk(rws, CLV, RISK, by="theme").set_index("theme")
    assert got.index.tolist() == ["delivery_delay", "website_bug", "price"]
    # delivery_delay: a (NPS 3 + CSAT 2) and b (NPS 6): 100·0.5 + 40·0.25
    assert got.loc["delivery_delay", ["customers", "answers", "clv"]].tolist() == [2, 3, 140.0]
    assert got.loc["delivery_delay", "churn_risk"] == pytest.approx(0.375)
    assert got.loc["delivery_delay", "revenue_at_risk"] == pytest.approx(60.0)
    # website_bug: only a's CES 4 (b's NPS 7 and c's CES 5 are not unhappy)
    assert got.loc["website_bug", "revenue_at_risk"] == pytest.approx(50.0)
    # price: c (200·0.1) and e (no CLV: counted, not scored); f's rating and the anonymous answer are out
    assert got.loc["price", ["customers", "scored"]].tolist() == [2, 1]
    assert got.loc["price", "churn_risk"] == pytest.approx(0.2)
    assert got.loc["price", "revenue_at_risk"] == pytest.approx(20.0)


def test_revenue_at_risk_by_touchpoint_by_hand(rws):
    got = revenue_at_risk(rws, CLV, RISK, by="touchpoint")
    # delivery: a 50 + b 10 + d 9 (d has no theme but a touchpoint)
    assert got[["touchpoint", "rank"]].values.tolist() == [["delivery", 1], ["checkout", 2], ["store", 3]]
    assert got["revenue_at_risk"].tolist() == pytest.approx([69.0, 50.0, 20.0])


def test_revenue_at_risk_respects_the_date_range_and_rejects_bad_input(rws):
    got = revenue_at_risk(rws, CLV, RISK, by="theme", end="2024-03-03")  # only a's first two answers
    assert got[["theme", "customers", "answers", "revenue_at_risk"]].values.tolist() == [["delivery_delay", 1, 2, 50.0]]
    assert revenue_at_risk(rws, CLV, RISK, start="2030-01-01").empty
    with pytest.raises(ConfigError, match="'channel'"):
        revenue_at_risk(rws, CLV, RISK, by="channel")
    with pytest.raises(ConfigError, match="'churn_risk'"):
        revenue_at_risk(rws, CLV, RISK.rename(columns={"churn_risk": "p"}))


def test_auto_uses_themes_when_answers_carry_them_and_touchpoints_otherwise(rws, ws_factory):
    assert revenue_at_risk(rws, CLV, RISK, by="auto").columns[0] == "theme"
    plain = ws_factory()
    fb = pd.DataFrame(ROWS, columns=["customer_id", "metric", "score", "theme", "touchpoint"]).drop(columns="theme")
    fb["ts"] = pd.Timestamp("2024-03-01")
    plain.load("feedback", fb)
    got = revenue_at_risk(plain, CLV, RISK, by="auto")
    assert got.columns[0] == "touchpoint"
    assert got["revenue_at_risk"].tolist() == pytest.approx([69.0, 50.0, 20.0])


def test_bootstrap_interval_is_degenerate_for_one_customer_and_normal_for_many(rws):
    got = revenue_at_risk(rws, CLV, RISK, by="theme").set_index("theme")
    # website_bug has one customer (a: 100·0.5): every resample is 50
    assert got.loc["website_bug", ["ci_low", "ci_high"]].tolist() == [50.0, 50.0]
    # delivery_delay resamples {a: 50, b: 10}: the sums of two draws are 20, 60 or 100
    assert got.loc["delivery_delay", "ci_low"] == 20.0 and got.loc["delivery_delay", "ci_high"] == 100.0
    assert revenue_at_risk(rws, CLV, RISK, by="theme", n_boot=0)[["ci_low", "ci_high"]].isna().all().all()
    # many customers: the percentile interval of the sum approaches sum ± 1.96·sqrt(n)·sd
    rng = np.random.default_rng(1)
    n = 400
    ids = [f"c{i}" for i in range(n)]
    clv, risk = rng.gamma(2.0, 50.0, n), rng.uniform(0, 0.5, n)
    raised = pd.DataFrame({"theme": "x", "customer_id": ids})
    got = revenue_at_risk(
        rws,
        pd.DataFrame({"customer_id": ids, "clv": clv}),
        pd.DataFrame({"customer_id": ids, "churn_risk": risk}),
        raised=raised,
        n_boot=2000,
    ).iloc[0]
    v = clv * risk
    half = 1.959964 * np.sqrt(n) * v.std(ddof=1)
    assert got["revenue_at_risk"] == pytest.approx(v.sum())
    assert got["ci_low"] == pytest.approx(v.sum() - half, rel=0.03)
    assert got["ci_high"] == pytest.approx(v.sum() + half, rel=0.03)


def test_negative_verbatims_count_as_raised_pain_points(rws):
    verb = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", None],
            "theme": ["late", "late", "late", "rude", "late"],
            "sentiment_label": ["negative", "negative", "positive", "negative", "negative"],
        }
    )
    pairs = negative_verbatim_pairs(verb)
    assert pairs.values.tolist() == [["late", "a", 2], ["rude", "c", 1]]
    got = revenue_at_risk(rws, CLV, RISK, raised=pairs).set_index("theme")
    assert got["revenue_at_risk"].to_dict() == pytest.approx({"late": 50.0, "rude": 20.0})
    assert got.loc["late", "answers"] == 2


def test_interval_does_not_depend_on_the_row_order_of_the_pairs(rws):
    rng = np.random.default_rng(3)
    ids = [f"c{i}" for i in range(60)]
    clv = pd.DataFrame({"customer_id": ids, "clv": rng.gamma(2.0, 40.0, 60)})
    risk = pd.DataFrame({"customer_id": ids, "churn_risk": rng.uniform(0, 0.6, 60)})
    raised = pd.DataFrame({"theme": ["x"] * 40 + ["y"] * 20, "customer_id": ids, "answers": 1})
    a = revenue_at_risk(rws, clv, risk, raised=raised)
    b = revenue_at_risk(rws, clv, risk, raised=raised.sample(frac=1.0, random_state=1))
    pd.testing.assert_frame_equal(a, b)
