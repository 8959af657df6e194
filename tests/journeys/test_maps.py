"""Journey map, channel consistency, journey charts and the HTML export — checked against pandas and demo truth."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import cxlens
from cxlens.charts import to_vega_lite
from cxlens.ingest.simulate import write_demo
from cxlens.journeys.charts import journey_map_chart, sankey_chart
from cxlens.journeys.maps import MAP_COLUMNS, channel_consistency, journey_map, voice_available
from cxlens.journeys.paths import flows
from cxlens.report import journey_map_html


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    ws = cxlens.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    write_demo(ws, "small", seed=0)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def demo_map(demo):
    return journey_map(demo)


def test_friction_touchpoints_planted_by_the_generator_rank_top_in_pain(demo, demo_map):
    truth = json.loads(demo.sql("SELECT value FROM demo_truth WHERE key = 'friction_touchpoints'")["value"][0])
    planted = {f["touchpoint"] for f in truth}
    assert planted == {"checkout", "delivery"}
    ranks = dict(zip(demo_map["touchpoint"], demo_map["pain_rank"], strict=True))
    k = len(planted) + 1
    assert all(ranks[t] <= k for t in planted), ranks
    # observed with seed 0: delivery 1, checkout 2, store 3
    assert {t for t, r in ranks.items() if pd.notna(r) and r <= len(planted)} == planted


def test_journey_map_volume_reach_and_conversion_match_pandas(demo, demo_map):
    ev = demo.sql("SELECT customer_id, ts, stage, touchpoint FROM events")
    stages = demo.journey.stage_ids
    total = ev["customer_id"].nunique()
    first = ev.groupby(["stage", "touchpoint", "customer_id"])["ts"].min().rename("first").reset_index()
    first["next"] = first["stage"].map({s: stages[i + 1] for i, s in enumerate(stages[:-1])})
    latest = ev.groupby(["customer_id", "stage"])["ts"].max().rename("last").reset_index()
    j = first.merge(latest, left_on=["customer_id", "next"], right_on=["customer_id", "stage"], how="left",
                    suffixes=("", "_n"))  # fmt: skip
    j["conv"] = j["last"] > j["first"]
    exp = j.groupby(["stage", "touchpoint"]).agg(customers=("customer_id", "size"), conv=("conv", "mean"))
    vol = ev.groupby(["stage", "touchpoint"]).size()
    got = demo_map.dropna(subset=["touchpoint"]).set_index(["stage", "touchpoint"])
    for key, row in exp.iterrows():
        assert got.loc[key, "volume"] == vol[key]
        assert got.loc[key, "customers"] == row["customers"]
        assert got.loc[key, "reach"] == pytest.approx(100 * row["customers"] / total)
        if key[0] == stages[-1]:
            assert math.isnan(got.loc[key, "conversion"])
        else:
            assert got.loc[key, "conversion"] == pytest.approx(100 * row["conv"])
            assert got.loc[key, "drop_off"] == pytest.approx(100 - 100 * row["conv"])


def test_journey_map_rows_follow_the_journey_and_scores_come_from_metrics(demo, demo_map):
    assert list(demo_map.columns) == MAP_COLUMNS
    journey = demo.journey
    configured = [(t.stage, t.id) for t in journey.touchpoints]
    rows = [(s, t) for s, t in zip(demo_map["stage"], demo_map["touchpoint"], strict=True) if t is not None]
    assert rows == configured  # every configured touchpoint, in stage then journey order
    pos = [journey.stage_ids.index(s) for s in demo_map["stage"]]
    assert pos == sorted(pos)
    nps = demo.metrics.nps(by=["stage", "touchpoint"]).dropna(subset=["touchpoint"]).set_index(["stage", "touchpoint"])
    got = demo_map.dropna(subset=["touchpoint"]).set_index(["stage", "touchpoint"])
    for key, row in nps.iterrows():
        assert got.loc[key, "nps"] == pytest.approx(row["nps"])
        assert got.loc[key, "nps_n"] == row["n"]
        assert got.loc[key, "nps_ci_low"] == pytest.approx(row["ci_low"])
    # unhappy answers at checkout are CES 1-4, counted straight from the feedback rows
    fb = demo.sql("SELECT score FROM feedback WHERE touchpoint = 'checkout' AND metric = 'ces'")["score"]
    assert got.loc[("purchase", "checkout"), "unhappy"] == pytest.approx(100 * (fb < 5).mean())
    fb = demo.sql("SELECT score FROM feedback WHERE touchpoint = 'delivery' AND metric = 'csat'")["score"]
    assert got.loc[("service", "delivery"), "unhappy"] == pytest.approx(100 * (fb < 4).mean())
    assert got.loc[("service", "delivery"), "csat"] == pytest.approx(100 * (fb >= 4).mean())
    if not voice_available():
        assert demo_map["sentiment"].isna().all() and demo_map["negative_themes"].isna().all()


def test_pain_score_follows_its_definition(demo_map):
    m = demo_map
    n = m["survey_n"].astype(float)
    bad = m["unhappy"].fillna(0) * n / 100
    p0 = bad.sum() / n.sum()
    d = (bad + 30 * p0) / (n + 30)
    scored = m["drop_off"].notna() & (m["customers"] > 0)
    mean_drop = np.average(m.loc[scored, "drop_off"], weights=m.loc[scored, "customers"])
    drop = m["drop_off"].where(m["next_stage"].notna(), mean_drop).fillna(0)
    raw = (m["volume"] / m["volume"].sum()) * d * drop / 100
    raw = raw.where(n > 0)
    expected = 100 * raw / raw.max()
    assert m["pain_score"].to_numpy() == pytest.approx(expected.to_numpy(), nan_ok=True)
    assert m["pain_score"].max() == pytest.approx(100)
    assert m.loc[m["survey_n"] == 0, "pain_score"].isna().all()
    assert m.loc[m["pain_rank"] == 1, "pain_score"].iloc[0] == pytest.approx(100)


def test_journey_map_filters_and_window(demo):
    web = journey_map(demo, filters={"channel": "web"})
    ev = demo.sql("SELECT touchpoint, count(*) n FROM events WHERE channel = 'web' GROUP BY 1")
    got = web.dropna(subset=["touchpoint"]).set_index("touchpoint")["volume"]
    for r in ev.itertuples():
        assert got[r.touchpoint] == r.n
    assert web.set_index("touchpoint").loc["checkout", "ces_n"] == 209  # web answers only (demo-data.md)
    short = journey_map(demo, window="1d").set_index("touchpoint")
    full = journey_map(demo).set_index("touchpoint")
    assert (short["conversion"].fillna(0) <= full["conversion"].fillna(0) + 1e-9).all()


def test_channel_consistency_flags_the_app_checkout_and_matches_welch(demo):
    cc = channel_consistency(demo)
    ces = cc[(cc["touchpoint"] == "checkout") & (cc["metric"] == "ces")].set_index("channel")
    assert set(ces.index) == {"web", "mobile_app"}
    assert ces.loc["mobile_app", "significant"] and not ces.loc["mobile_app", "consistent"]
    assert ces.loc["mobile_app", "delta"] < -1
    fb = demo.sql("SELECT channel, score FROM feedback WHERE touchpoint = 'checkout' AND metric = 'ces'")
    app, web = fb[fb.channel == "mobile_app"]["score"], fb[fb.channel == "web"]["score"]
    t, p = stats.ttest_ind(app, web, equal_var=False)
    assert ces.loc["mobile_app", "statistic"] == pytest.approx(t)
    assert ces.loc["mobile_app", "p_value"] == pytest.approx(min(1.0, 2 * p), rel=1e-6, abs=1e-300)
    single = cc[cc["touchpoint"] == "delivery"]
    assert single["consistent"].all() and single["p_value"].isna().all()


def test_channel_consistency_nps_and_csat_tests_on_hand_data(ws):
    rows = pd.DataFrame({
        "ts": "2024-05-01", "touchpoint": "store",
        "metric": ["nps"] * 8 + ["csat"] * 8,
        "channel": ["a"] * 4 + ["b"] * 4 + ["a"] * 4 + ["b"] * 4,
        "score": [10, 10, 9, 3, 2, 3, 8, 9, 5, 5, 4, 2, 1, 2, 4, 3],
        "feedback_id": [f"f{i}" for i in range(16)],
    })  # fmt: skip
    ws.load("feedback", rows)
    cc = channel_consistency(ws, min_n=1).set_index(["metric", "channel"])
    # NPS a = 50 (3 promoters, 1 detractor), b = -25 (1 promoter, 2 detractors)
    va = 100**2 * (1.0 - 0.5**2) / 4
    vb = 100**2 * (0.75 - 0.25**2) / 4
    z = (50 - -25) / math.sqrt(va + vb)
    assert cc.loc[("nps", "a"), "statistic"] == pytest.approx(z)
    assert cc.loc[("nps", "a"), "p_value"] == pytest.approx(min(1, 2 * 2 * stats.norm.sf(abs(z))))
    # CSAT a = 3/4 satisfied, b = 1/4: pooled two-proportion z
    pooled = 0.5
    z = (0.75 - 0.25) / math.sqrt(pooled * (1 - pooled) * (1 / 4 + 1 / 4))
    assert cc.loc[("csat", "a"), "statistic"] == pytest.approx(z)
    assert cc.loc[("csat", "b"), "delta"] == pytest.approx(-50)


def test_journey_map_on_an_empty_workspace_has_every_touchpoint_and_no_scores(ws):
    m = journey_map(ws)
    assert len(m) == len(ws.journey.touchpoints)
    assert (m["volume"] == 0).all() and m["pain_score"].isna().all()
    # the first survey answers show at once (the no-feedback shortcut is cached only until feedback changes)
    ws.load("feedback", pd.DataFrame({"ts": "2024-05-01", "touchpoint": "checkout", "stage": "purchase",
                                      "metric": "nps", "score": [10, 9, 2], "feedback_id": ["a", "b", "c"]}))  # fmt: skip
    row = journey_map(ws, min_n=1).set_index("touchpoint").loc["checkout"]
    assert row["nps_n"] == 3 and row["nps"] == pytest.approx(100 * (2 - 1) / 3)


def test_heat_grid_and_sankey_specs(demo, demo_map):
    spec = to_vega_lite(journey_map_chart(demo_map))
    assert spec["$schema"].startswith("https://vega.github.io/schema/vega-lite/v6")
    values = spec["datasets"][next(iter(spec["datasets"]))]
    pain = {v["row"]: v["text"] for v in values if v["measure"] == "Pain"}
    assert pain["Service · Delivery"] == "100"
    # empty cells (no events, no answers) are left out
    assert not any(v["row"].endswith("· Packaging") for v in values)
    edges = flows(demo.table("events"), "checkout", 3)
    sk = to_vega_lite(sankey_chart(edges))
    nodes = next(d for d in sk["datasets"].values() if d and "node" in d[0])
    step1 = [n for n in nodes if n["step"] == 1]
    assert [(n["node"], n["value"]) for n in step1] == [("checkout", edges[edges.source_step == 1].customers.sum())]
    json.dumps(sk, allow_nan=False)


def test_journey_map_html_is_self_contained(demo, tmp_path):
    out = journey_map_html(demo, tmp_path / "map.html", title="Map <Q3>")
    html = out.read_text()
    assert html.startswith("<!doctype html>")
    assert "Map &lt;Q3&gt;" in html and "<script src" not in html and "http://" not in html.split("<script>")[0]
    assert "vegaEmbed" in html and 'data-spec-id="chart-journey-map-spec"' in html
    assert "Delivery" in html and "checkout</b> CES on mobile_app" in html


@pytest.mark.browser
@pytest.mark.slow
def test_exported_map_and_sankey_render_in_chromium(demo, tmp_path, blank_page):
    m = journey_map(demo)
    sankey = to_vega_lite(sankey_chart(flows(demo.table("events"), "checkout", 4)))
    # the export's page with a Sankey added next to the heat grid: both must draw without errors
    from cxlens.report import render_journey_map

    html = render_journey_map(m).replace(
        "<h2>Where it hurts most</h2>",
        '<div data-chart="sankey" data-spec-id="sankey-spec"></div><script type="application/json" id="sankey-spec">'
        + json.dumps(sankey).replace("</", "<\\/")
        + "</script><h2>Where it hurts most</h2>",
    )
    page_path = tmp_path / "page.html"
    page_path.write_text(html)
    pg = blank_page
    pg.goto(page_path.as_uri())
    pg.wait_for_function("[...document.querySelectorAll('[data-chart]')].every(e => e.dataset.rendered)")
    states = pg.eval_on_selector_all("[data-chart]", "els => els.map(e => e.dataset.rendered)")
    marks = pg.eval_on_selector_all("[data-chart] svg path, [data-chart] svg rect", "els => els.length")
    assert states == ["true", "true"] and not pg.errors
    assert marks > 50


def test_one_pass_flow_equals_the_joined_flow(demo, monkeypatch, tmp_path):
    # the one-pass flow (no window, few cells) against the cell/customer join it replaces, on the
    # demo and on hand events with missing stages and touchpoints, a stage outside the journey,
    # anonymous events and events without any id
    import sys

    maps_mod = sys.modules["cxlens.journeys.maps"]
    from cxlens.journeys.maps import stage_flow

    ws = cxlens.open(tmp_path / "odd.duckdb")
    try:
        stages = ws.journey.stage_ids
        rows = []
        for i in range(60):
            st = [stages[i % len(stages)], stages[(i + 1) % len(stages)], None, "elsewhere"][i % 4]
            rows.append({
                "event_id": f"e{i:03d}", "customer_id": None if i % 9 == 0 else f"c{i % 7}",
                "anonymous_id": f"a{i % 3}" if i % 9 == 0 and i % 2 == 0 else None,
                "ts": pd.Timestamp("2024-05-01") + pd.Timedelta(hours=(i * 37) % 50), "name": f"n{i % 5}",
                "stage": st, "touchpoint": None if i % 5 == 0 else f"tp{i % 4}",
            })  # fmt: skip
        ws.load("events", pd.DataFrame(rows))
        for store in (demo, ws):
            fast_map, fast_flow = journey_map(store), stage_flow(store)
            monkeypatch.setattr(maps_mod, "WIDE_FLOW", False)
            slow_map, slow_flow = journey_map(store), stage_flow(store)
            monkeypatch.setattr(maps_mod, "WIDE_FLOW", True)
            assert fast_map["volume"].sum() > 0

            def cells(m):  # unknown cells that tie in the journey order come in the backend's order
                return m.sort_values(["stage", "touchpoint"], na_position="last", kind="mergesort").reset_index(
                    drop=True
                )

            pd.testing.assert_frame_equal(cells(fast_map), cells(slow_map), check_dtype=False)
            pd.testing.assert_frame_equal(fast_flow, slow_flow, check_dtype=False)
    finally:
        ws.close()
