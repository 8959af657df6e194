"""Saved segments as filters: ``segment=`` in ``ws.metrics.*`` and ``ws.journeys.funnel``, checked against
pandas/SQL restricted to the members."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.customers.segments import rfm_segments, rule_segment, save_segment, save_segments
from cxlens.errors import NotFoundError
from cxlens.ingest import write_demo


@pytest.fixture(scope="module")
def seg_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("segfilter") / "demo.duckdb"
    with cxlens.open(path) as w:
        write_demo(w, "small", seed=3)
        rfm = rfm_segments(w)
        save_segments(w, rfm.set_index("customer_id")["segment"], "rfm", prefix="rfm:")
        rule_segment(w, "vip", {"plan": "vip"}, save=True)
    return path


@pytest.fixture()
def sws(seg_path):
    w = cxlens.open(seg_path)
    yield w
    w.close()


def _members(ws, name):
    return set(ws.sql("SELECT customer_id FROM segments WHERE segment = ?", [name])["customer_id"])


def _nps(scores: pd.Series) -> float:
    return 100 * ((scores >= 9).mean() - (scores <= 6).mean())


@pytest.mark.parametrize("name", ["vip", "rfm:Champions", "rfm:At risk"])
def test_nps_by_touchpoint_in_a_segment_matches_pandas(sws, name):
    members = _members(sws, name)
    fb = sws.sql("SELECT customer_id, touchpoint, score FROM feedback WHERE metric = 'nps'")
    fb = fb[fb["customer_id"].isin(members)]
    got = sws.metrics.nps(by="touchpoint", segment=name).set_index("touchpoint")
    ref = fb.groupby("touchpoint", dropna=False)["score"].agg([_nps, "size"])
    assert sorted(got.index.fillna("-")) == sorted(ref.index.fillna("-"))
    for tp, row in ref.iterrows():
        g = got.loc[tp] if isinstance(tp, str) else got[got.index.isna()].iloc[0]
        assert g["n"] == row["size"]
        assert g["nps"] == pytest.approx(row["_nps"])
    # and it is a real restriction: the whole base differs
    assert int(sws.metrics.nps()["n"].iloc[0]) > len(fb)


def test_csat_value_and_summary_in_a_segment_match_sql(sws):
    members = _members(sws, "vip")
    csat = sws.sql("SELECT customer_id, score FROM feedback WHERE metric = 'csat'")
    csat = csat[csat["customer_id"].isin(members)]
    got = sws.metrics.csat(segment="vip").iloc[0]
    assert got["n"] == len(csat)
    assert got["csat"] == pytest.approx(100 * (csat["score"] >= 4).mean())
    orders = sws.sql("SELECT customer_id, amount, status FROM orders")
    orders = orders[orders["customer_id"].isin(members)]
    value = sws.metrics.value(segment="vip").iloc[0]
    counted = orders[~orders["status"].isin(["cancelled", "canceled", "returned", "unavailable"])]
    assert value["customers"] == counted["customer_id"].nunique()
    assert value["aov"] == pytest.approx(counted["amount"].mean())
    summary = sws.metrics.summary(segment="vip").set_index("kpi")
    assert summary.loc["nps", "n"] == int(sws.metrics.nps(segment="vip")["n"].iloc[0])
    assert summary.loc["csat", "value"] == pytest.approx(got["csat"])


def test_unknown_segment_is_a_not_found_error_naming_the_saved_ones(sws):
    with pytest.raises(NotFoundError, match=r"no stored segment 'nope'.*'rfm:At risk'"):
        sws.metrics.nps(segment="nope")
    with pytest.raises(NotFoundError, match="no stored segment 'nope'"):
        sws.journeys.funnel("visit>purchase", segment="nope")


def test_trait_filter_and_saved_segment_are_different_things(sws):
    # filters={"segment": …} is the customers' segment column; segment= a saved segment
    save_segment(sws, "premium", [])  # an empty saved segment of the same name as a trait value
    assert sws.metrics.nps(filters={"segment": "premium"})["n"].iloc[0] > 0
    got = sws.metrics.nps(segment="vip")
    assert int(got["n"].iloc[0]) == len(
        sws.rows(
            "SELECT 1 FROM feedback f JOIN segments s ON s.customer_id = f.customer_id "
            "WHERE s.segment = 'vip' AND f.metric = 'nps'"
        )
    )


def test_funnel_in_a_segment_equals_the_funnel_on_a_copy_holding_only_members(sws, seg_path, tmp_path):
    steps = "visit>add_to_cart>purchase"
    got = sws.journeys.funnel(steps, segment="rfm:Loyal", times=False)
    copy = tmp_path / "members.duckdb"
    sws.close()
    shutil.copy(seg_path, copy)
    with cxlens.open(copy) as c:
        c.store.execute(
            "DELETE FROM events WHERE customer_id IS NULL OR customer_id NOT IN "
            "(SELECT customer_id FROM segments WHERE segment = 'rfm:Loyal')"
        )
        ref = c.journeys.funnel(steps, times=False)
        visitors = c.scalar("SELECT count(DISTINCT customer_id) FROM events WHERE name = 'visit'")
    pd.testing.assert_frame_equal(got.reset_index(drop=True), ref.reset_index(drop=True))
    count_col = [c for c in got.columns if c in ("customers", "count", "n")][0]
    assert got[count_col].iloc[0] == visitors
    assert np.all(np.diff(got[count_col].to_numpy()) <= 0)
