"""JSON endpoints of the customers area: revenue at risk, saved segments, list filters — equal to the library."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from cxlens.customers.listing import customer_list
from cxlens.customers.risk import workspace_revenue_at_risk
from cxlens.web import create_app


@pytest.fixture()
def client(sample_ws):
    with TestClient(create_app(sample_ws)) as c:
        yield c


def test_revenue_at_risk_endpoint_equals_the_library(client, sample_ws):
    r = client.get("/api/v1/revenue-at-risk?by=touchpoint")
    assert r.status_code == 200
    body = r.json()
    ref = workspace_revenue_at_risk(sample_ws, "touchpoint")
    assert body["params"] == {"by": "touchpoint"}
    assert [x["touchpoint"] for x in body["rows"]] == ref["touchpoint"].tolist()
    assert [x["revenue_at_risk"] for x in body["rows"]] == pytest.approx(ref["revenue_at_risk"].tolist())
    assert [x["ci_high"] for x in body["rows"]] == pytest.approx(ref["ci_high"].tolist())
    bad = client.get("/api/v1/revenue-at-risk?by=channel")
    assert bad.status_code == 400 and "'channel'" in bad.json()["error"]["message"]


def test_list_endpoint_filters_by_risk_band_and_clv(client, sample_ws):
    r = client.get("/api/v1/customers?risk=medium&clv_min=20&sort=clv")
    assert r.status_code == 200
    ref = customer_list(sample_ws, risk="medium", clv_min=20, sort="clv")
    assert r.json()["total"] == ref["total"]
    assert [x["customer_id"] for x in r.json()["rows"]] == ref["rows"]["customer_id"].tolist()
    assert all(x["clv"] >= 20 and 0.1 <= x["churn_risk"] < 0.3 for x in r.json()["rows"])
    for q, param in (("risk=extreme", "risk"), ("clv_max=abc", "clv_max"), ("sort=age", "sort")):
        bad = client.get(f"/api/v1/customers?{q}")
        assert bad.status_code == 400 and bad.json()["error"]["param"] == param


def test_segments_endpoint_lists_the_saved_segments(client, sample_ws):
    r = client.get("/api/v1/segments")
    assert r.status_code == 200
    saved = (
        sample_ws.rows("SELECT segment, count(*) AS n FROM segments GROUP BY 1")
        if sample_ws.scalar("SELECT count(*) FROM duckdb_tables() WHERE table_name = 'segments'")
        else []
    )
    assert sorted((x["segment"], x["size"]) for x in r.json()["rows"]) == sorted(saved)
