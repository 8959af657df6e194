"""Every non-survey metric against a plain pandas reference on a seeded random dataset."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from cxlens.metrics import wilson

EXCLUDED = {"cancelled", "canceled", "returned", "unavailable"}


def _assert_frame(got: pd.DataFrame, want: pd.DataFrame, cols, rtol=1e-9):
    assert len(got) == len(want), (len(got), len(want))
    for c in cols:
        g, w = got[c].to_numpy(), want[c].to_numpy()
        if np.issubdtype(np.asarray(w).dtype, np.number):
            np.testing.assert_allclose(g.astype(float), w.astype(float), rtol=rtol, atol=1e-9, err_msg=c)
        else:
            assert list(g) == list(w), c


def _valid(orders):
    return orders[orders["status"].isna() | ~orders["status"].str.lower().isin(EXCLUDED)]


def _month(s):
    return s.dt.to_period("M").dt.start_time.astype("datetime64[s]")


def test_value_by_channel_matches_pandas(data_ws, tables):
    o = _valid(tables["orders"])
    rows = []
    for ch, g in o.groupby("channel"):
        k = g.groupby("customer_id").size()
        x = g["amount"]
        half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
        lo, hi = wilson((k >= 2).sum(), len(k))
        rows.append(
            {
                "channel": ch,
                "orders": len(g),
                "customers": len(k),
                "revenue": x.sum(),
                "aov": x.mean(),
                "aov_ci_low": x.mean() - half,
                "aov_ci_high": x.mean() + half,
                "purchase_frequency": len(g) / len(k),
                "repeat_customers": (k >= 2).sum(),
                "repeat_purchase_rate": 100 * (k >= 2).mean(),
                "repeat_ci_low": lo,
                "repeat_ci_high": hi,
            }
        )
    want = pd.DataFrame(rows)
    _assert_frame(data_ws.metrics.value(by="channel"), want, want.columns)


def test_value_by_month_counts_repeat_within_period(data_ws, tables):
    o = _valid(tables["orders"]).assign(period=lambda d: _month(d["ts"]))
    want = (
        o.groupby("period")
        .apply(
            lambda g: pd.Series({"orders": len(g), "repeat": 100 * (g.groupby("customer_id").size() >= 2).mean()}),
            include_groups=False,
        )
        .reset_index()
    )
    got = data_ws.metrics.value(period="month")
    assert got["period"].tolist() == want["period"].tolist()
    np.testing.assert_allclose(got["repeat_purchase_rate"], want["repeat"])
    np.testing.assert_array_equal(got["orders"], want["orders"])


def test_clv_by_trait_matches_pandas(data_ws, tables):
    o = _valid(tables["orders"])
    rev = o.groupby("customer_id")["amount"].sum().rename("rev").reset_index()
    c = tables["customers"]
    tier = dict(zip(c["customer_id"], [json.loads(t)["tier"] for t in c["traits"]], strict=True))
    rev["tier"] = rev["customer_id"].map(tier)
    want = rev.groupby("tier", dropna=False)["rev"].agg(["mean", "count", "median", "sum", "std"]).reset_index()
    want = want.sort_values("tier", na_position="last").reset_index(drop=True)
    got = data_ws.metrics.clv(by="traits.tier")
    assert got["traits.tier"].tolist()[:3] == want["tier"].tolist()[:3] and pd.isna(got["traits.tier"].iloc[3])
    for g, w in [("clv", "mean"), ("n", "count"), ("median", "median"), ("total", "sum"), ("sd", "std")]:
        np.testing.assert_allclose(got[g].astype(float), want[w].astype(float), rtol=1e-9, err_msg=g)


def test_carts_match_pandas(data_ws, tables):
    e = tables["events"].copy()
    who = e["customer_id"].fillna(e["anonymous_id"])
    e["cart"] = e["session_id"].fillna("~" + who + "|" + e["ts"].dt.strftime("%Y-%m-%d"))
    starts = e[e["name"] == "add_to_cart"]
    done = e[e["name"] == "purchase"].groupby("cart")["ts"].max()
    rows = []
    for tp, g in starts.groupby("touchpoint"):
        first = g.groupby("cart")["ts"].min()
        completed = int((done.reindex(first.index) >= first).sum())
        lo, hi = wilson(len(first) - completed, len(first))
        rows.append(
            {
                "touchpoint": tp,
                "carts": len(first),
                "completed": completed,
                "abandoned": len(first) - completed,
                "abandonment_rate": 100 * (len(first) - completed) / len(first),
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    want = pd.DataFrame(rows)
    _assert_frame(data_ws.metrics.carts(by="touchpoint"), want, want.columns)


def test_support_by_team_and_quarter_matches_pandas(data_ws, tables):
    t = tables["tickets"].copy()
    t["period"] = t["created_at"].dt.to_period("Q").dt.start_time.astype("datetime64[s]")
    t["frt"] = (t["first_response_at"] - t["created_at"]).dt.total_seconds() / 3600
    t["res"] = (t["resolved_at"] - t["created_at"]).dt.total_seconds() / 3600
    rows = []
    for (team, p), g in t.groupby(["team", "period"]):
        known = g[g["resolved_at"].notna() & g["contacts"].notna()]
        fcr = int((known["contacts"] == 1).sum())
        lo, hi = wilson(fcr, len(known))
        rows.append(
            {
                "team": team,
                "period": p,
                "n": len(g),
                "first_response_median_h": g["frt"].median(),
                "first_response_p90_h": g["frt"].quantile(0.9),
                "resolution_median_h": g["res"].median(),
                "resolution_p90_h": g["res"].quantile(0.9),
                "fcr": fcr,
                "fcr_n": len(known),
                "fcr_rate": 100 * fcr / len(known),
                "ci_low": lo,
                "ci_high": hi,
            }
        )
    want = pd.DataFrame(rows)
    _assert_frame(data_ws.metrics.support(by="team", period="quarter"), want, want.columns)


def _activity(tables):
    o = tables["orders"][["customer_id", "ts"]]
    e = tables["events"][["customer_id", "ts"]]
    return pd.concat([o, e]).dropna(subset=["customer_id"])


@pytest.mark.parametrize("period, days", [("month", 90), ("quarter", 60), ("week", 30)])
def test_churn_matches_pandas(data_ws, tables, period, days):
    act = _activity(tables)
    churned_at = dict(zip(tables["customers"]["customer_id"], tables["customers"]["churned_at"], strict=True))
    as_of = act["ts"].max().normalize() + pd.Timedelta(days=1)
    off = {"month": pd.DateOffset(months=1), "quarter": pd.DateOffset(months=3), "week": pd.DateOffset(weeks=1)}[period]
    p = act["ts"].min().to_period({"month": "M", "quarter": "Q", "week": "W-SUN"}[period]).start_time
    D = pd.Timedelta(days=days)
    rows = []
    while p < as_of:
        nxt = p + off
        e = min(nxt, as_of)
        at_start = set(act.loc[(act["ts"] >= p - D) & (act["ts"] < p), "customer_id"])
        at_end = set(act.loc[(act["ts"] >= e - D) & (act["ts"] < e), "customer_id"])
        n = churned = 0
        for c in at_start:
            ca = churned_at.get(c, pd.NaT)
            if pd.notna(ca) and ca < p:
                continue
            n += 1
            churned += (p <= ca < nxt) if pd.notna(ca) else (c not in at_end)
        if n:
            lo, hi = wilson(churned, n)
            rows.append(
                {
                    "period": p,
                    "n": n,
                    "churned": churned,
                    "churn_rate": 100 * churned / n,
                    "ci_low": lo,
                    "ci_high": hi,
                    "complete": nxt <= as_of,
                }
            )
        p = nxt
    want = pd.DataFrame(rows)
    got = data_ws.metrics.churn(period=period, inactivity_days=days)
    assert got["period"].tolist() == want["period"].tolist()
    _assert_frame(got, want, ["n", "churned", "churn_rate", "ci_low", "ci_high", "complete"])
    tail = data_ws.metrics.churn(period=period, inactivity_days=days, last=2)  # only the last periods, same figures
    _assert_frame(tail, want.tail(2).reset_index(drop=True), ["n", "churned", "churn_rate", "ci_low", "ci_high"])


def test_churn_by_segment_sums_to_total(data_ws):
    tot = data_ws.metrics.churn()
    seg = data_ws.metrics.churn(by="segment")
    s = seg.groupby("period")[["n", "churned"]].sum()
    # customers not in the customers table (x999) have no segment and form a NaN group
    assert (s["n"].to_numpy() == tot.set_index("period").loc[s.index, "n"].to_numpy()).all()
    with pytest.raises(ValueError, match="'touchpoint'"):
        data_ws.metrics.churn(by="touchpoint")


def test_retention_matches_pandas(data_ws, tables):
    o = _valid(tables["orders"]).copy()
    o["p"] = o["ts"].dt.to_period("M")
    first = o.groupby("customer_id")["p"].min().rename("cohort")
    o = o.join(first, on="customer_id")
    o["k"] = (o["p"] - o["cohort"]).apply(lambda x: x.n)
    last = o["p"].max()
    rows = []
    for cohort, g in o.groupby("cohort"):
        size = g["customer_id"].nunique()
        for k in range((last - cohort).n + 1):
            r = g.loc[g["k"] == k, "customer_id"].nunique()
            rows.append(
                {
                    "cohort": cohort.start_time,
                    "period_index": k,
                    "customers": size,
                    "retained": r,
                    "retention_rate": 100 * r / size,
                }
            )
    want = pd.DataFrame(rows)
    got = data_ws.metrics.retention()
    assert got["cohort"].tolist() == want["cohort"].tolist()
    _assert_frame(got, want, ["period_index", "customers", "retained", "retention_rate"])


def test_change_p_values_match_scipy(data_ws, tables):
    f = tables["feedback"]
    f = f.assign(period=f["ts"].dt.to_period("Q").dt.start_time)
    q = sorted(f["period"].unique())
    cur, prev = q[-2], q[-3]

    # CES: Welch t-test on the raw scores
    ces = f[f["metric"] == "ces"]
    a, b = ces.loc[ces["period"] == cur, "score"], ces.loc[ces["period"] == prev, "score"]
    ch = data_ws.metrics.change("ces", period="quarter")
    row = ch[ch["period"] == cur].iloc[0]
    want = stats.ttest_ind(a, b, equal_var=False)
    assert row["p_value"] == pytest.approx(want.pvalue, rel=1e-9)
    assert row["statistic"] == pytest.approx(want.statistic, rel=1e-9)
    assert row["delta"] == pytest.approx(a.mean() - b.mean()) and row["previous_period"] == prev

    # CSAT: pooled two-proportion z-test
    cs = f[f["metric"] == "csat"]
    x1, n1 = (cs.loc[cs["period"] == cur, "score"] >= 4).sum(), (cs["period"] == cur).sum()
    x0, n0 = (cs.loc[cs["period"] == prev, "score"] >= 4).sum(), (cs["period"] == prev).sum()
    pool = (x1 + x0) / (n1 + n0)
    z = (x1 / n1 - x0 / n0) / np.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n0))
    row = data_ws.metrics.change("csat", period="quarter").set_index("period").loc[cur]
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    assert bool(row["significant"]) == (2 * stats.norm.sf(abs(z)) < 0.05)

    # NPS: z-test, variance of the +1/0/-1 score over n (population variance)
    ns = f[f["metric"] == "nps"]
    s1 = np.sign(ns.loc[ns["period"] == cur, "score"].map(lambda s: 1 if s >= 9 else (-1 if s <= 6 else 0)))
    s0 = np.sign(ns.loc[ns["period"] == prev, "score"].map(lambda s: 1 if s >= 9 else (-1 if s <= 6 else 0)))
    se = 100 * np.sqrt(s1.var(ddof=0) / len(s1) + s0.var(ddof=0) / len(s0))
    z = 100 * (s1.mean() - s0.mean()) / se
    row = data_ws.metrics.change("nps", period="quarter").set_index("period").loc[cur]
    assert row["statistic"] == pytest.approx(z, rel=1e-9)
    assert row["p_value"] == pytest.approx(2 * stats.norm.sf(abs(z)), rel=1e-9)
    first = data_ws.metrics.change("nps", period="quarter").iloc[0]
    assert np.isnan(first["previous"]) and not first["significant"]


def test_change_by_group_and_unknown_metric(data_ws):
    ch = data_ws.metrics.change("csat", period="quarter", by="channel")
    assert ch.columns[:3].tolist() == ["channel", "period", "previous_period"]
    web = ch[ch["channel"] == "web"].reset_index(drop=True)
    assert web["previous"].iloc[1:].tolist() == web["value"].iloc[:-1].tolist()
    with pytest.raises(ValueError, match="'churn'"):
        data_ws.metrics.change("churn")


def test_summary_tiles_agree_with_metric_methods(data_ws):
    s = data_ws.metrics.summary(start="2024-06-01", end="2025-01-01").set_index("kpi")
    m = data_ws.metrics
    nps = m.nps(start="2024-06-01", end="2025-01-01").iloc[0]
    assert s.loc["nps", "value"] == pytest.approx(nps["nps"]) and s.loc["nps", "n"] == nps["n"]
    assert s.loc["csat", "ci_low"] == pytest.approx(m.csat(start="2024-06-01", end="2025-01-01")["ci_low"].iloc[0])
    assert s.loc["aov", "value"] == pytest.approx(m.value(start="2024-06-01", end="2025-01-01")["aov"].iloc[0])
    assert list(s.index) == [
        "nps",
        "csat",
        "ces",
        "churn_rate",
        "aov",
        "repeat_purchase_rate",
        "abandonment_rate",
        "first_response_median_h",
    ]
    # a filter on a feedback-only dimension leaves other tiles empty with a note, not wrong
    f = data_ws.metrics.summary(filters={"survey_id": "s1"}).set_index("kpi")
    assert f.loc["nps", "n"] == m.nps(filters={"survey_id": "s1"})["n"].iloc[0]
    assert np.isnan(f.loc["aov", "value"]) and "survey_id" in f.loc["aov", "note"]
