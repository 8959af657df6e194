"""Journey pages and /api/v1/journeys: figures equal ws.journeys, bad parameters named, text escaped."""

from __future__ import annotations

import csv
import io
import json
import math
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from cxlens.web import create_app
from cxlens.web.pages import nav

XSS_COMMENT = "<script>alert(1)</script>"
XSS_TOUCHPOINT = "<img src=x onerror=alert(2)>"
STEPS = ["visit", "add_to_cart", "purchase"]


@pytest.fixture()
def client(sample_ws):
    with TestClient(create_app(sample_ws)) as c:
        yield c


def _esc(text: str) -> str:
    return str(escape(text))


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(b, float) and math.isnan(b)):
        return a is None and (b is None or (isinstance(b, float) and math.isnan(b)))
    return a == pytest.approx(b) if isinstance(b, float) else a == b


def _assert_rows_equal(rows: list[dict], df, columns: list[str]) -> None:
    assert len(rows) == len(df)
    for row, (_, expected) in zip(rows, df.iterrows(), strict=True):
        for c in columns:
            assert _same(row[c], None if expected[c] is None else expected[c]), (c, row[c], expected[c])


# -- JSON API ---------------------------------------------------------------------------------------
def test_funnel_endpoint_equals_library_funnel(client, sample_ws):
    r = client.get("/api/v1/journeys/funnel", params={"steps": ">".join(STEPS), "window": "7d", "by": "channel"})
    assert r.status_code == 200
    expected = sample_ws.journeys.funnel(STEPS, window="7d", by="channel")
    cols = ["channel", "step", "event", "customers", "conversion", "step_conversion", "dropped", "median_seconds"]
    _assert_rows_equal(r.json()["rows"], expected, cols)
    # repeated steps parameters and the order parameter reach the library too
    r = client.get("/api/v1/journeys/funnel", params=[("steps", s) for s in STEPS] + [("order", "strict")])
    strict = sample_ws.journeys.funnel(STEPS, order="strict")
    assert [row["customers"] for row in r.json()["rows"]] == strict["customers"].tolist()


def test_funnel_filters_apply_like_the_library(client, sample_ws, sample_facts):
    start, end, channel = sample_facts["start"], sample_facts["end"], sample_facts["channel"]
    r = client.get("/api/v1/journeys/funnel", params={"steps": ">".join(STEPS), "start": start, "end": end,
                                                      "channel": channel})  # fmt: skip
    expected = sample_ws.journeys.funnel(STEPS, start=start, end=end, filters={"channel": channel})
    assert [row["customers"] for row in r.json()["rows"]] == expected["customers"].tolist()
    assert expected["customers"].iloc[0] < sample_ws.journeys.funnel(STEPS)["customers"].iloc[0]


@pytest.mark.parametrize("window", ["2x", "fortnight", "0d", "-3d"])
def test_bad_window_is_400_naming_window(client, window):
    r = client.get("/api/v1/journeys/funnel", params={"steps": "visit>purchase", "window": window})
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["param"] == "window"
    assert repr(window) in err["message"]


@pytest.mark.parametrize(
    ("params", "param", "status"),
    [
        ({"steps": "visit>purchase", "by": "favourite_colour"}, "by", 400),
        ({"steps": "visit>purchase", "order": "random"}, "order", 422),
        ({"steps": ""}, "steps", 400),
    ],
)
def test_bad_funnel_parameters_name_the_parameter(client, params, param, status):
    r = client.get("/api/v1/journeys/funnel", params=params)
    assert r.status_code == status
    assert r.json()["error"]["param"] == param


def test_unknown_event_names_give_zero_counts_not_errors(client, sample_ws):
    first = int(sample_ws.journeys.funnel(["visit"])["customers"].iloc[0])
    r = client.get("/api/v1/journeys/funnel", params={"steps": "visit>no_such_event>purchase"})
    assert r.status_code == 200
    assert [row["customers"] for row in r.json()["rows"]] == [first, 0, 0]
    r = client.get("/api/v1/journeys/funnel", params={"steps": "nope>nada"})
    assert [row["customers"] for row in r.json()["rows"]] == [0, 0]


def test_dropped_endpoint_counts_equal_funnel_drop(client, sample_ws):
    f = sample_ws.journeys.funnel(STEPS)
    r = client.get("/api/v1/journeys/funnel/dropped", params={"steps": ">".join(STEPS), "step": 2, "limit": 5})
    body = r.json()
    assert body["params"]["total"] == int(f["customers"].iloc[1] - f["customers"].iloc[2])
    assert len(body["rows"]) == 5
    ids = [row["customer_id"] for row in body["rows"]]
    assert ids == sorted(ids)
    r = client.get("/api/v1/journeys/funnel/dropped", params={"steps": ">".join(STEPS), "step": 3})
    assert r.status_code == 400 and r.json()["error"]["param"] == "step"


def test_paths_flows_dropoff_endpoints_equal_library(client, sample_ws):
    r = client.get("/api/v1/journeys/paths", params={"from": "visit", "steps": 3, "top": 5, "goal": "purchase"})
    expected = sample_ws.journeys.paths("visit", steps=3, top=5, goal="purchase")
    _assert_rows_equal(r.json()["rows"], expected, ["path", "customers", "share", "conversion"])

    r = client.get("/api/v1/journeys/paths", params={"to": "purchase", "steps": 2, "field": "touchpoint"})
    expected = sample_ws.journeys.paths(None, "purchase", steps=2, field="touchpoint")
    _assert_rows_equal(r.json()["rows"], expected, ["path", "customers", "share"])

    r = client.get("/api/v1/journeys/flows", params={"from": "visit", "steps": 3})
    expected = sample_ws.journeys.flows("visit", steps=3)
    _assert_rows_equal(r.json()["rows"], expected, ["source_step", "source", "target_step", "target", "customers"])

    r = client.get("/api/v1/journeys/dropoff", params={"goal": "purchase", "top": 5})
    expected = sample_ws.journeys.last_before_dropoff("purchase", top=5)
    _assert_rows_equal(r.json()["rows"], expected, ["name", "touchpoint", "customers", "share", "dropped"])
    assert client.get("/api/v1/journeys/paths", params={"steps": 0}).json()["error"]["param"] == "steps"
    assert client.get("/api/v1/journeys/dropoff").json()["error"]["param"] == "goal"


def test_map_and_consistency_endpoints_equal_library(client, sample_ws, sample_facts):
    ch = sample_facts["channel"]
    r = client.get("/api/v1/journeys/map", params={"channel": ch})
    expected = sample_ws.journeys.map(filters={"channel": ch})
    _assert_rows_equal(r.json()["rows"], expected, ["stage", "touchpoint", "volume", "reach", "nps", "csat",
                                                   "ces", "pain_score"])  # fmt: skip
    r = client.get("/api/v1/journeys/consistency", params={"metric": "ces"})
    expected = sample_ws.journeys.channel_consistency(metrics=["ces"])
    _assert_rows_equal(r.json()["rows"], expected, ["touchpoint", "channel", "value", "n", "p_value", "consistent"])
    assert client.get("/api/v1/journeys/map", params={"window": "soon"}).json()["error"]["param"] == "window"


# -- pages --------------------------------------------------------------------------------------
def test_journey_pages_are_in_the_navigation(client):
    assert [i.id for i in nav()][:4] == ["overview", "funnels", "paths", "journey"]
    page = client.get("/").text
    for path in ("/funnels", "/paths", "/journey"):
        assert f'href="{path}"' in page


def _cells(html_text: str, field: str) -> list[str]:
    return [" ".join(m.split()) for m in re.findall(rf'data-field="{field}">([^<]*)<', html_text)]


def test_funnel_page_shows_library_numbers_and_chart(client, sample_ws):
    r = client.get("/funnels", params=[("steps", s) for s in [*STEPS, ""]] + [("window", "7d")])
    assert r.status_code == 200
    f = sample_ws.journeys.funnel(STEPS, window="7d")
    table = r.text.split('id="funnel-table"')[1].split("</table>")[0]
    assert _cells(table, "customers") == [f"{n:,}" for n in f["customers"]]
    assert _cells(table, "conversion") == [f"{100 * c:.1f}%" for c in f["conversion"]]
    assert _cells(table, "step_conversion") == [f"{100 * c:.1f}%" for c in f["step_conversion"]]
    spec = json.loads(re.search(r'id="chart-funnel-spec">(.*?)</script>', r.text, re.S).group(1))
    bars = next(iter(spec["datasets"].values()))
    assert [d["customers"] for d in bars] == f["customers"].tolist()


def test_funnel_partial_breakdown_and_inline_error(client, sample_ws):
    r = client.get("/partials/funnels", params=[("steps", s) for s in STEPS] + [("by", "channel")])
    assert "<html" not in r.text
    assert (
        r.headers["HX-Replace-Url"]
        == "/funnels?steps=visit&steps=add_to_cart&steps=purchase&window=14d&order=sequential&by=channel"
    )
    f = sample_ws.journeys.funnel(STEPS, by="channel")
    groups = re.findall(r'<tr data-step="1" data-group="([^"]+)">', r.text)
    assert groups == [_esc(str(g)) for g in f.loc[f["step"] == 1, "channel"]]
    r = client.get("/partials/funnels", params={"steps": "visit>purchase", "window": "2x"})
    assert 'data-param="window"' in r.text and "&#39;2x&#39;" in r.text


def test_dropped_list_and_csv_segment(client, sample_ws):
    f = sample_ws.journeys.funnel(STEPS)
    expected = int(f["customers"].iloc[0] - f["customers"].iloc[1])
    q = [("steps", s) for s in STEPS] + [("step", "1")]
    part = client.get("/partials/funnels/dropped", params=q).text
    assert f'data-total="{expected}"' in part
    r = client.get("/funnels/dropped.csv", params=q)
    assert r.headers["content-type"].startswith("text/csv")
    assert "attachment" in r.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["customer_id"]
    ids = [row[0] for row in rows[1:]]
    assert len(ids) == len(set(ids)) == expected
    # the ids on the page are the first of the CSV
    shown = _cells(part, "customer_id")
    assert shown == ids[: len(shown)] and len(shown) == min(50, expected)


def test_paths_page_shows_top_paths_sankey_and_leaving(client, sample_ws):
    r = client.get("/paths", params={"from": "visit", "steps": 3, "top": 5, "goal": "purchase"})
    assert r.status_code == 200
    top = sample_ws.journeys.paths("visit", steps=3, top=5, goal="purchase")
    assert _cells(r.text, "path") == [_esc(p) for p in top["path"]]
    assert _cells(r.text, "count")[:5] == [f"{n:,}" for n in top["customers"]]
    assert 'id="chart-sankey-spec"' in r.text
    last = sample_ws.journeys.last_before_dropoff("purchase", from_event="visit", top=10)
    leaving = r.text.split('id="leaving-table"')[1]
    assert _cells(leaving, "what")[0] == f"{last['name'].iloc[0]} @ {last['touchpoint'].iloc[0]}"


def test_journey_map_page_ranks_pain_like_the_library(client, sample_ws):
    r = client.get("/journey")
    assert r.status_code == 200
    m = sample_ws.journeys.map().sort_values("pain_score", ascending=False, na_position="last")
    top = re.search(r'<ol id="pain-top">\s*<li data-stage="([^"]*)" data-touchpoint="([^"]*)"', r.text)
    assert (top.group(1), top.group(2)) == (m["stage"].iloc[0], m["touchpoint"].iloc[0])
    assert 'id="chart-journey-map-spec"' in r.text and 'id="consistency-table"' in r.text
    # the planted XSS touchpoint is listed as text
    assert _esc(XSS_TOUCHPOINT) in r.text and XSS_TOUCHPOINT not in r.text


def test_cell_drilldown_counts_answers_and_escapes_quotes(client, sample_ws):
    m = sample_ws.journeys.map()
    row = m.sort_values("pain_score", ascending=False).iloc[0]
    r = client.get("/partials/journey/cell", params={"stage": row["stage"], "touchpoint": row["touchpoint"]})
    assert f'data-n="{int(row["survey_n"])}"' in r.text
    fb = sample_ws.table("feedback").to_pandas()
    cell = fb[(fb["stage"] == row["stage"]) & (fb["touchpoint"] == row["touchpoint"])]
    cell = cell[cell["comment"].fillna("").str.strip() != ""].sort_values(
        ["ts", "feedback_id"], ascending=[False, True]
    )
    quotes = re.findall(r"<blockquote>(.*?)</blockquote>", r.text, re.S)
    assert quotes == [_esc(c) for c in cell["comment"].head(20)]

    # the injected payload: no stage, an <img onerror> touchpoint, a <script> comment
    r = client.get("/partials/journey/cell", params={"touchpoint": XSS_TOUCHPOINT})
    assert 'data-n="1"' in r.text
    assert _esc(XSS_COMMENT) in r.text
    assert XSS_COMMENT not in r.text and XSS_TOUCHPOINT not in r.text
