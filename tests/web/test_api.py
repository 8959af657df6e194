"""JSON API: values equal ws.metrics computed directly; errors are JSON that name the parameter."""

from __future__ import annotations

import math

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cxlens.web import create_app
from cxlens.web.api.metrics import METRICS


@pytest.fixture()
def client(sample_ws):
    with TestClient(create_app(sample_ws)) as c:
        yield c


def _same(rows: list[dict], expected: pd.DataFrame) -> None:
    """API rows equal the DataFrame: same columns and order, NaN as null, periods as ISO dates."""
    assert len(rows) == len(expected)
    for got, (_, want) in zip(rows, expected.iterrows(), strict=True):
        assert list(got) == list(expected.columns)
        for col, w in want.items():
            g = got[col]
            if isinstance(w, pd.Timestamp):
                assert g == w.date().isoformat()
            elif isinstance(w, float) and math.isnan(w):
                assert g is None
            elif isinstance(w, float):
                assert g == pytest.approx(w, rel=1e-12)
            else:
                assert g == (w.item() if hasattr(w, "item") else w)


def test_health_answers_ok(client):
    assert client.get("/health").json() == {"status": "ok"}


def test_nps_by_touchpoint_equals_library(client, sample_ws):
    r = client.get("/api/v1/metrics/nps", params={"by": "touchpoint"})
    assert r.status_code == 200
    _same(r.json()["rows"], sample_ws.metrics.nps(by="touchpoint"))


def test_nps_by_month_with_filters_and_dates_equals_library(client, sample_ws, sample_facts):
    f = sample_facts
    r = client.get(
        f"/api/v1/metrics/nps?period=month&start={f['start']}&end={f['end']}"
        f"&channel={f['channel']}&segment={f['segment']}"
    )
    assert r.status_code == 200
    expected = sample_ws.metrics.nps(
        period="month", start=f["start"], end=f["end"], filters={"channel": f["channel"], "segment": f["segment"]}
    )
    assert len(expected) > 0
    _same(r.json()["rows"], expected)


def test_repeated_and_comma_separated_filters_mean_membership(client, sample_ws):
    a = client.get("/api/v1/metrics/ces?touchpoint=checkout&touchpoint=delivery").json()["rows"]
    b = client.get("/api/v1/metrics/ces?touchpoint=checkout,delivery").json()["rows"]
    assert a == b
    _same(a, sample_ws.metrics.ces(filters={"touchpoint": ["checkout", "delivery"]}))


@pytest.mark.parametrize("name", ["churn", "value", "carts", "support", "summary"])
def test_other_metrics_equal_library(client, sample_ws, name):
    r = client.get(f"/api/v1/metrics/{name}")
    assert r.status_code == 200, r.text
    _same(r.json()["rows"], getattr(sample_ws.metrics, name)())


def test_empty_query_values_mean_not_set(client, sample_ws):
    r = client.get("/api/v1/metrics/nps?start=&end=&channel=&segment=")
    _same(r.json()["rows"], sample_ws.metrics.nps())


@pytest.mark.parametrize(
    ("query", "param", "status"),
    [
        ("period=fortnight", "period", 422),
        ("start=yesterday", "start", 400),
        ("start=2024-05-01&end=2024-04-01", "end", 400),
    ],
)
def test_bad_parameters_are_json_errors_naming_the_parameter(client, query, param, status):
    r = client.get(f"/api/v1/metrics/nps?{query}")
    assert r.status_code == status
    err = r.json()["error"]
    assert err["param"] == param
    assert f"'{param}'" in err["message"]


def test_parameter_a_metric_does_not_take_is_rejected(client):
    r = client.get("/api/v1/metrics/summary?by=touchpoint")
    assert r.status_code == 400
    assert r.json()["error"]["param"] == "by"
    assert "not supported by metric 'summary'" in r.json()["error"]["message"]


def test_unknown_dimension_is_400_with_library_message(client):
    r = client.get("/api/v1/metrics/nps?by=colour")
    assert r.status_code == 400
    assert "unknown dimension 'colour'" in r.json()["error"]["message"]


def test_unknown_metric_is_404_listing_metrics(client):
    r = client.get("/api/v1/metrics/happiness")
    assert r.status_code == 404
    msg = r.json()["error"]["message"]
    assert "unknown metric 'happiness'" in msg and "nps" in msg


def test_openapi_documents_every_metric(client):
    paths = client.get("/openapi.json").json()["paths"]
    assert {f"/api/v1/metrics/{m}" for m in METRICS} <= set(paths)
    params = {p["name"] for p in paths["/api/v1/metrics/nps"]["get"]["parameters"]}
    assert params == {"by", "period", "start", "end", "channel", "touchpoint", "stage", "segment", "saved_segment"}
    assert client.get("/docs").status_code == 200


def test_create_app_accepts_a_path(sample_path):
    with TestClient(create_app(sample_path, read_only=True)) as c:
        assert c.get("/health").json() == {"status": "ok"}
        assert c.get("/api/v1/metrics/nps").json()["rows"][0]["n"] > 0
