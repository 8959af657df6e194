"""NPS, CSAT, CES and rating against hand-computed values."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cxlens
from cxlens.errors import ConfigError
from cxlens.metrics import Metrics, nps_expr, wilson


def _feedback(ws, rows):
    df = pd.DataFrame(rows, columns=["ts", "metric", "score", "touchpoint", "customer_id"])
    df["feedback_id"] = [f"f{len(ws.sql('select 1 from feedback'))}-{i}" for i in range(len(df))]
    ws.load("feedback", df)


@pytest.fixture()
def nps_ws(ws):
    # web: 5 promoters, 2 passives, 3 detractors; app: 1 promoter, 1 detractor
    rows = [("2024-03-04", "nps", s, "web", f"c{i % 3}") for i, s in enumerate([10, 9, 9, 10, 9, 8, 7, 6, 0, 3])]
    rows += [("2024-03-10", "nps", 10, "app", "c0"), ("2024-03-11", "nps", 4, "app", "c1")]
    rows += [("2024-03-05", "csat", 5, "web", "c0")]  # other metrics are ignored
    _feedback(ws, rows)
    ws.load(
        "customers",
        pd.DataFrame(
            {
                "customer_id": ["c0", "c1", "c2"],
                "segment": ["smb", "ent", "smb"],
                "tier": ["gold", "silver", "gold"],  # not canonical: lands in traits
            }
        ),
    )
    return ws


def test_nps_counts_passives_in_denominator(nps_ws):
    r = nps_ws.metrics.nps(filters={"touchpoint": "web"}).iloc[0]
    # p = 0.5, d = 0.3 -> NPS 20; SE = 100*sqrt((0.8 - 0.04)/10)
    se = 100 * math.sqrt((0.8 - 0.2**2) / 10)
    assert r["nps"] == pytest.approx(20.0)
    assert (r["n"], r["promoters"], r["passives"], r["detractors"]) == (10, 5, 2, 3)
    assert r["promoter_share"] == pytest.approx(50) and r["passive_share"] == pytest.approx(20)
    assert r["detractor_share"] == pytest.approx(30)
    assert r["ci_low"] == pytest.approx(20 - 1.96 * se)
    assert r["ci_high"] == pytest.approx(20 + 1.96 * se)
    assert bool(r["small_sample"]) is True


def test_nps_by_touchpoint_sorted_and_ci_clipped(nps_ws):
    df = nps_ws.metrics.nps(by="touchpoint")
    assert list(df.columns) == [
        "touchpoint",
        "nps",
        "n",
        "promoters",
        "passives",
        "detractors",
        "promoter_share",
        "passive_share",
        "detractor_share",
        "ci_low",
        "ci_high",
        "small_sample",
    ]
    assert df["touchpoint"].tolist() == ["app", "web"]
    app = df.iloc[0]
    # p = d = 0.5 -> NPS 0, SE = 100*sqrt(1/2) = 70.7 -> CI ±138.6 clipped to ±100
    assert app["nps"] == 0 and app["ci_low"] == -100 and app["ci_high"] == 100


def test_nps_all_promoters_has_zero_width_interval(ws):
    _feedback(ws, [("2024-01-01", "nps", 10, "web", None)] * 1 + [("2024-01-02", "nps", 9, "web", None)])
    r = ws.metrics.nps().iloc[0]
    assert (r["nps"], r["ci_low"], r["ci_high"]) == (100, 100, 100)


def test_enps_uses_metric_parameter(ws):
    _feedback(
        ws,
        [
            ("2024-01-01", "enps", 9, None, None),
            ("2024-01-01", "enps", 2, None, None),
            ("2024-01-01", "nps", 10, None, None),
        ],
    )
    r = ws.metrics.nps(metric="enps").iloc[0]
    assert (r["n"], r["nps"]) == (2, 0)


def test_nps_by_customer_segment_and_trait(nps_ws):
    # web rows i=0..9 -> customer c{i%3}; c0: i=0,3,6,9 scores 10,10,7,3 ; c1: 9,9,6 ; c2: 9,8,0
    # app: c0 10, c1 4.  segment smb = c0 + c2, ent = c1
    df = nps_ws.metrics.nps(by="segment")
    got = dict(zip(df["segment"], df["nps"], strict=True))
    smb = [10, 10, 7, 3, 9, 8, 0, 10]
    ent = [9, 9, 6, 4]

    def nps(xs):
        return 100 * (sum(x >= 9 for x in xs) - sum(x <= 6 for x in xs)) / len(xs)

    assert got == pytest.approx({"ent": nps(ent), "smb": nps(smb)})
    t = nps_ws.metrics.nps(by="traits.tier")
    assert t.columns[0] == "traits.tier"
    assert dict(zip(t["traits.tier"], t["n"], strict=True)) == {"gold": 8, "silver": 4}
    f = nps_ws.metrics.nps(filters={"traits.tier": "silver", "touchpoint": ["web", "app"]})
    assert f["n"].tolist() == [4] and f["nps"].iloc[0] == pytest.approx(nps(ent))


def test_unknown_dimension_names_it_and_lists_valid_ones(nps_ws):
    with pytest.raises(ConfigError) as e:
        nps_ws.metrics.nps(by="touchpont")
    msg = str(e.value)
    assert "'touchpont'" in msg and "touchpoint" in msg and "segment" in msg and "traits.<key>" in msg
    with pytest.raises(ConfigError, match="'colour'"):
        nps_ws.metrics.csat(filters={"colour": "red"})
    with pytest.raises(ConfigError, match="'fortnight'"):
        nps_ws.metrics.nps(period="fortnight")


def test_period_week_starts_monday_and_quarter(ws):
    # 2024-03-03 is a Sunday, 2024-03-04 a Monday; 2024-04-01 starts Q2
    _feedback(
        ws,
        [
            ("2024-03-03 23:59:59", "nps", 10, "web", None),
            ("2024-03-04 00:00:00", "nps", 0, "web", None),
            ("2024-03-10 12:00:00", "nps", 10, "web", None),
            ("2024-04-01 00:00:00", "nps", 10, "web", None),
        ],
    )
    w = ws.metrics.nps(period="week")
    assert w["period"].tolist() == [pd.Timestamp("2024-02-26"), pd.Timestamp("2024-03-04"), pd.Timestamp("2024-04-01")]
    assert w["n"].tolist() == [1, 2, 1] and w["nps"].tolist() == [100, 0, 100]
    q = ws.metrics.nps(period="quarter", by="touchpoint")
    assert q.columns[:2].tolist() == ["touchpoint", "period"]
    assert q["period"].tolist() == [pd.Timestamp("2024-01-01"), pd.Timestamp("2024-04-01")]
    assert q["n"].tolist() == [3, 1]
    m = ws.metrics.nps(period="month", start="2024-03-04", end="2024-04-01")  # end exclusive
    assert m["n"].tolist() == [2]


def test_csat_wilson_interval_by_hand(ws):
    _feedback(ws, [("2024-01-01", "csat", s, "web", None) for s in [5, 5, 4, 4, 4, 4, 4, 4, 3, 1]])
    r = ws.metrics.csat().iloc[0]
    n, p, z = 10, 0.8, 1.96
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * math.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    assert (r["csat"], r["n"], r["satisfied"]) == (pytest.approx(80), 10, 8)
    assert r["ci_low"] == pytest.approx(100 * (centre - half))
    assert r["ci_high"] == pytest.approx(100 * (centre + half))
    assert r["mean_score"] == pytest.approx(3.8)
    lo, hi = wilson(8, 10)
    assert (lo, hi) == (pytest.approx(r["ci_low"]), pytest.approx(r["ci_high"]))


def test_ces_t_interval_and_share_easy(ws):
    scores = [7, 6, 5, 5, 3, 2]
    _feedback(ws, [("2024-01-01", "ces", s, "chat", None) for s in scores])
    r = ws.metrics.ces().iloc[0]
    x = np.array(scores, float)
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x))
    assert r["ces"] == pytest.approx(x.mean()) and r["n"] == 6
    assert r["ci_low"] == pytest.approx(x.mean() - half) and r["ci_high"] == pytest.approx(x.mean() + half)
    assert r["share_easy"] == pytest.approx(100 * 4 / 6)
    assert r["sd"] == pytest.approx(x.std(ddof=1))


def test_single_answer_has_nan_mean_interval(ws):
    _feedback(ws, [("2024-01-01", "rating", 4, "web", None)])
    r = ws.metrics.rating().iloc[0]
    assert r["rating"] == 4 and r["n"] == 1 and np.isnan(r["ci_low"]) and np.isnan(r["ci_high"])


def test_expression_runs_on_a_plain_ibis_table():
    import ibis

    fb = ibis.memtable(
        pd.DataFrame(
            {
                "ts": pd.to_datetime(["2024-01-01"] * 3),
                "metric": "nps",
                "score": [10.0, 9.0, 1.0],
                "touchpoint": "web",
                "customer_id": None,
            }
        )
    )
    out = nps_expr(fb, by="touchpoint").execute()
    assert out["nps"].iloc[0] == pytest.approx(100 * (2 - 1) / 3)


def test_metrics_object_is_workspace_entry_point(ws):
    assert isinstance(ws.metrics, Metrics) and isinstance(cxlens.open(":memory:").metrics, Metrics)


def test_public_names_are_pinned():
    import cxlens.metrics as m

    assert sorted(m.__all__) == [
        "EXCLUDED_STATUSES",
        "MIN_N",
        "Metrics",
        "PERIODS",
        "Z",
        "activity_expr",
        "add_mean_ci",
        "carts_expr",
        "ces_expr",
        "churn_expr",
        "churn_periods",
        "clv_expr",
        "csat_expr",
        "nps_expr",
        "period_change",
        "prepare",
        "rating_expr",
        "retention_expr",
        "support_expr",
        "valid_dimensions",
        "valid_orders",
        "value_expr",
        "wilson",
    ]
    assert all(hasattr(m, n) for n in m.__all__)
