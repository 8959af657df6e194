"""One Filters value on every page: dates, dimensions and a saved segment, kept in the URL."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens import Filters
from cxlens.customers.segments import rfm_segments, save_segments
from cxlens.ingest import write_demo
from cxlens.web import create_app

PAGES = ["/", "/funnels?steps=visit&steps=purchase", "/paths?from_event=visit", "/journey", "/feedback", "/themes",
         "/drivers"]  # fmt: skip


@pytest.fixture(scope="module")
def fws(tmp_path_factory):
    w = cxlens.open(tmp_path_factory.mktemp("filters") / "f.duckdb")
    write_demo(w, 500, seed=4)
    rfm = rfm_segments(w)
    save_segments(w, rfm.set_index("customer_id")["segment"], "rfm", prefix="rfm:")
    w.refresh()
    yield w
    w.close()


@pytest.fixture(scope="module")
def client(fws):
    return TestClient(create_app(fws))


@pytest.mark.parametrize("page", PAGES)
def test_every_page_offers_and_keeps_the_saved_segment(client, page):
    sep = "&" if "?" in page else "?"
    r = client.get(f"{page}{sep}saved_segment=rfm:Lost&channel=web")
    assert r.status_code == 200, r.text[:300]
    assert re.search(r'<select[^>]*name="saved_segment"', r.text)
    assert re.search(r'<option value="rfm:Lost" selected', r.text)
    bad = client.get(f"{page}{sep}saved_segment=no-such-segment")
    assert bad.status_code == 400 and "saved_segment" in bad.text and "rfm:Lost" in bad.text


def test_a_filters_value_round_trips_through_the_query_string():
    f = Filters.of(start="2026-01-01", end="2026-03-01", filters={"channel": ["web", "app"], "stage": "purchase"},
                   segment="rfm:Lost")  # fmt: skip
    from urllib.parse import parse_qsl

    pairs = parse_qsl(f.query_string())
    back = Filters.of(
        start=dict(pairs)["start"], end=dict(pairs)["end"],
        filters={"channel": [v for k, v in pairs if k == "channel"], "stage": dict(pairs)["stage"]},
        segment=dict(pairs)["saved_segment"],
    )  # fmt: skip
    assert back == f and hash(back) == hash(f)
    with pytest.raises(ValueError, match="not after start"):
        Filters.of(start="2026-03-01", end="2026-01-01")


def test_apis_restrict_to_the_members_of_the_saved_segment(fws, client):
    members = set(fws.sql("SELECT customer_id FROM segments WHERE segment = 'rfm:Lost'")["customer_id"])
    fb = fws.sql("SELECT customer_id, score FROM feedback WHERE metric = 'nps' AND score IS NOT NULL")
    mine = fb[fb.customer_id.isin(members)]
    want = 100 * ((mine.score >= 9).mean() - (mine.score <= 6).mean())
    got = client.get("/api/v1/metrics/nps", params={"saved_segment": "rfm:Lost"}).json()["rows"][0]
    assert got["n"] == len(mine) and got["nps"] == pytest.approx(want)
    where = Filters.of(segment="rfm:Lost")
    f = client.get("/api/v1/journeys/funnel", params={"steps": "visit>purchase", "saved_segment": "rfm:Lost"}).json()
    lib = fws.journeys.funnel("visit>purchase", where=where)
    assert [r["customers"] for r in f["rows"]] == lib["customers"].tolist()
    ev = fws.sql("SELECT DISTINCT customer_id FROM events WHERE name = 'visit'")
    assert lib["customers"].iloc[0] == len(set(ev.customer_id) & members)  # only members, identified events
    d_all = client.get("/api/v1/voice/drivers").json()["rows"]
    d_seg = client.get("/api/v1/voice/drivers", params={"saved_segment": "rfm:Lost"}).json()["rows"]
    from cxlens.voice import key_drivers

    lib_seg = key_drivers(fws, "nps", "touchpoints", n_boot=50, where=where)
    assert [r["driver"] for r in d_seg] == lib_seg["driver"].tolist()
    assert pd.Series([r["share"] for r in d_seg]).round(6).tolist() == lib_seg["share"].round(6).tolist()
    assert [r["share"] for r in d_all] != [r["share"] for r in d_seg]
