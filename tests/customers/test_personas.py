"""Personas: cards on a hand-built workspace checked by hand, and RFM personas on the demo against pandas."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.customers.personas import PERSONA_COLUMNS, personas
from cxlens.customers.segments import rfm_segments
from cxlens.errors import ConfigError
from cxlens.ingest.simulate import write_demo

SEGMENTS = pd.Series({"a": "g1", "b": "g1", "c": "g2", "d": "g2"})


def _fb(cid, ts, metric, score, tp, theme=None):
    return (cid, ts, metric, score, tp, json.dumps({"theme": theme}) if theme else None)


@pytest.fixture()
def hws(ws):
    ws.load("customers", pd.DataFrame({"customer_id": list("abcde")}))
    ws.load(
        "orders",
        pd.DataFrame(
            {
                "order_id": ["o1", "o2", "o3", "o4", "o5"],
                "customer_id": ["a", "a", "b", "c", "e"],
                "ts": ["2024-01-01", "2024-01-02", "2024-01-03", "2024-01-04", "2024-01-05"],
                "amount": [100.0, 50.0, 30.0, 200.0, 999.0],
                "status": ["completed", "cancelled", "completed", None, "completed"],
            }
        ),
    )
    ev = [
        ("a", "web", "home"), ("a", "web", "home"), ("a", "web", "checkout"), ("a", "mobile_app", "home"),
        ("b", "web", "checkout"), ("c", "store", "store"), ("c", "store", "store"),
    ] + [("e", "web", "home")] * 10  # fmt: skip
    ws.load(
        "events",
        pd.DataFrame(
            {
                "customer_id": [e[0] for e in ev],
                "channel": [e[1] for e in ev],
                "touchpoint": [e[2] for e in ev],
                "ts": pd.date_range("2024-01-01", periods=len(ev), freq="h"),
                "name": "visit",
            }
        ),
    )
    rows = [
        _fb("a", "2024-02-01", "nps", 10, "delivery", "fast_delivery"),
        _fb("a", "2024-02-02", "nps", 3, "delivery", "delivery_delay"),
        _fb("b", "2024-02-03", "nps", 9, "store"),
        _fb("b", "2024-02-04", "csat", 2, "delivery", "delivery_delay"),
        _fb("b", "2024-03-05", "csat", 5, "store"),
        _fb("c", "2024-02-06", "nps", 0, "store", "price"),
        _fb("d", "2024-03-07", "nps", 8, "store"),
        _fb("e", "2024-02-08", "nps", 0, "store", "price"),  # not in a segment
    ]
    ws.load(
        "feedback",
        pd.DataFrame(rows, columns=["customer_id", "ts", "metric", "score", "touchpoint", "properties"]),
    )
    return ws


CLV = pd.DataFrame({"customer_id": ["a", "b", "c"], "clv": [10.0, 30.0, 5.0]})
RISK = pd.DataFrame({"customer_id": ["a", "b", "c", "d", "e"], "churn_risk": [0.2, 0.4, 0.5, 0.7, 0.99]})


def test_persona_cards_by_hand(hws):
    p = personas(hws, SEGMENTS, clv=CLV, risk=RISK)
    assert list(p.columns) == PERSONA_COLUMNS
    assert p["segment"].tolist() == ["g1", "g2"]
    g1, g2 = (r for r in p.to_dict("records"))
    assert (g1["size"], g1["share"]) == (2, 50.0)
    # a: 100 (the cancelled 50 is not revenue), b: 30; c: 200, d: no orders
    assert (g1["revenue_mean"], g1["orders_mean"]) == (65.0, 1.0)
    assert (g2["revenue_mean"], g2["orders_mean"]) == (100.0, 0.5)
    assert (g1["clv_mean"], g1["clv_total"], g2["clv_mean"], g2["clv_total"]) == (20.0, 40.0, 5.0, 5.0)
    assert g1["churn_risk"] == pytest.approx(0.3) and g2["churn_risk"] == pytest.approx(0.6)
    # NPS of g1: 10, 3, 9 → 2 promoters, 1 detractor; SE = 100·sqrt((p + d − (p − d)²)/n)
    se = 100 * math.sqrt((1 - (1 / 3) ** 2) / 3)
    assert (g1["nps"], g1["nps_n"]) == (pytest.approx(100 / 3), 3)
    assert g1["nps_ci_low"] == pytest.approx(100 / 3 - 1.96 * se, abs=1e-9) and g1["nps_ci_high"] == 100.0
    assert (g2["nps"], g2["nps_n"]) == (-50.0, 2)
    assert (g1["csat"], g1["csat_n"]) == (50.0, 2) and g2["csat_n"] == 0 and math.isnan(g2["csat"])
    # e's ten web events are not g1's
    assert g1["channels"] == [
        {"channel": "web", "share": 80.0, "n": 4},
        {"channel": "mobile_app", "share": 20.0, "n": 1},
    ]
    assert g1["touchpoints"] == [
        {"touchpoint": "home", "share": 60.0, "n": 3},
        {"touchpoint": "checkout", "share": 40.0, "n": 2},
    ]
    assert [(t["theme"], round(t["share"], 6)) for t in g1["themes"]] == [
        ("delivery_delay", round(200 / 3, 6)),
        ("fast_delivery", round(100 / 3, 6)),
    ]
    assert g2["themes"] == [{"theme": "price", "share": 100.0, "n": 1}]
    # g1 at delivery: NPS 10, NPS 3, CSAT 2 → 2 of 3 unhappy; store (NPS 9, CSAT 5) has none
    assert g1["pain_points"] == [{"touchpoint": "delivery", "unhappy": pytest.approx(200 / 3), "answers": 3}]
    assert g2["pain_points"] == []  # store has 2 answers, under min_answers=3
    d = g1["description"]
    for text in ("g1: 2 customers (50.0%", "65.00", "predicted CLV of 20.00", "NPS +33", "CSAT 50%", "web (80%)",
                 "delivery delay", "worst touchpoint is delivery (67% unhappy of 3 answers)", "churn risk: 30%"):  # fmt: skip
        assert text in d, text
    assert "have not answered" not in d


def test_pain_points_rank_touchpoints_by_shrunk_unhappy_share(hws):
    p = personas(hws, SEGMENTS, min_answers=1).set_index("segment")
    assert p.loc["g2", "pain_points"] == [{"touchpoint": "store", "unhappy": 50.0, "answers": 2}]


def test_as_of_drops_later_rows(hws):
    p = personas(hws, SEGMENTS, as_of="2024-03-01").set_index("segment")
    assert p.loc["g1", "csat_n"] == 1 and p.loc["g1", "csat"] == 0.0  # b's CSAT 5 is on 5 March
    assert p.loc["g2", "nps_n"] == 1 and p.loc["g2", "nps"] == -100.0  # d's NPS 8 is on 7 March


def test_segments_must_be_a_series_with_one_segment_per_customer(hws):
    with pytest.raises(ConfigError, match="'a' appears twice"):
        personas(hws, pd.Series(["g1", "g2"], index=["a", "a"]))
    with pytest.raises(ConfigError, match="DataFrame"):
        personas(hws, SEGMENTS.to_frame())


def test_rfm_personas_on_the_demo_match_pandas(tmp_path):
    with cxlens.open(tmp_path / "d.duckdb") as w:
        write_demo(w, 300, seed=1)
        p = personas(w).set_index("segment")
        rfm = rfm_segments(w)
        sizes = rfm["segment"].value_counts()
        assert p["size"].to_dict() == sizes.to_dict()
        assert p["share"].sum() == pytest.approx(100.0)
        # every RFM member has counted orders: mean revenue is the mean RFM monetary
        pd.testing.assert_series_equal(
            p["revenue_mean"], rfm.groupby("segment")["monetary"].mean().loc[p.index], check_names=False
        )
        fb = w.sql("SELECT customer_id, metric, score FROM feedback WHERE metric = 'nps'")
        fb = fb.merge(rfm[["customer_id", "segment"]], on="customer_id")
        ref = fb.groupby("segment")["score"].agg(lambda s: 100 * ((s >= 9).mean() - (s <= 6).mean()))
        np.testing.assert_allclose(p.loc[ref.index, "nps"], ref, rtol=1e-12)
        assert (p.loc[ref.index, "nps_n"] == fb.groupby("segment").size().loc[ref.index]).all()
        assert p["description"].str.startswith(tuple(p.index)).all()


def test_goals_and_frustrations_never_show_the_verbatims_without_a_theme(tmp_path):
    """The other group is not an issue: the persona page and API name only themes as goals and
    frustrations, with the shares of all the segment's positive/negative verbatims (oracle: SQL)."""
    from fastapi.testclient import TestClient

    from cxlens.web import create_app

    from ..pages import cells
    from ..voice.unthemed import THEMED, write_unthemed

    # the five remarks without a theme belong to co1 (two), co2, ct0 and nobody; co1 and co2 wrote nothing else
    path = tmp_path / "o.duckdb"
    write_unthemed(path, [f"ct{i % 12}" for i in range(len(THEMED))] + ["co1", "co1", "co2", "ct0", None])
    orders = [{"order_id": f"{c}-{k}", "customer_id": c, "ts": pd.Timestamp("2026-01-20") - pd.Timedelta(days=k),
               "amount": 50.0} for c in [f"ct{i}" for i in range(12)] for k in range(2 + int(c[2:]) % 4)]  # fmt: skip
    # co1, co2 and cq0 (who wrote nothing) ordered once, long before the others: RFM's cell R = 1, F = 1 (Lost)
    orders += [{"order_id": f"{c}-0", "customer_id": c, "ts": pd.Timestamp("2025-01-01"), "amount": 5.0}
               for c in ("co1", "co2", "cq0")]  # fmt: skip
    with cxlens.open(path) as ws:
        ws.load("orders", pd.DataFrame(orders))
        member = rfm_segments(ws).set_index("customer_id")["segment"]
        v = ws.sql("SELECT f.customer_id, a.sentiment_score AS s, t.theme FROM verbatim_analysis a "
                   "JOIN verbatim_themes t USING (verbatim_id) JOIN feedback f ON a.verbatim_id = 'feedback:' || "
                   "f.feedback_id WHERE f.customer_id IS NOT NULL")  # fmt: skip
    v["segment"] = v["customer_id"].map(member)
    lonely = member[["co1", "co2"]]
    assert lonely.nunique() == 1 and set(member[member == lonely.iloc[0]].index) == {"co1", "co2", "cq0"}
    # co1 and co2's segment wrote only remarks without a theme, some of them negative
    assert v.loc[v["segment"] == lonely.iloc[0], "theme"].isna().all()
    assert (v.loc[v["segment"] == lonely.iloc[0], "s"] < -0.05).any()

    def expected(g: pd.DataFrame) -> list[tuple[str, int, float]]:
        n = g["theme"].value_counts()  # NULL (no theme) is not counted, but is in the share's denominator
        top = sorted(n.items(), key=lambda kv: (-kv[1], kv[0]))[:3]
        return [(t, int(k), pytest.approx(100 * k / len(g))) for t, k in top]

    with TestClient(create_app(path)) as c:
        rows = {r["segment"]: r for r in c.get("/api/v1/personas").json()["rows"]}
        page = c.get("/personas").text
    assert set(rows) == set(member)
    for seg, r in rows.items():
        g = v[v["segment"] == seg]
        for field, mine in (("goals", g[g["s"] > 0.05]), ("frustrations", g[g["s"] < -0.05])):
            assert [(x["theme"], x["n"], x["share"]) for x in r[field]] == expected(mine), (seg, field)
    assert rows[lonely.iloc[0]]["frustrations"] == [] and rows[lonely.iloc[0]]["goals"] == []
    shown = cells(page, "goals") + cells(page, "frustrations")
    assert len(shown) == 2 * len(rows) and not any("Other" in s or "other" in s for s in shown)
