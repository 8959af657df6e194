"""Overview page and its htmx fragment: figures from ws.metrics, customer text escaped."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from cxlens.web import create_app
from cxlens.web.pages import nav

XSS_COMMENT = "<script>alert(1)</script>"
XSS_TOUCHPOINT = "<img src=x onerror=alert(2)>"


@pytest.fixture()
def client(sample_ws):
    with TestClient(create_app(sample_ws)) as c:
        yield c


def _tile(html: str, key: str) -> str:
    m = re.search(rf'<article[^>]*data-kpi="{key}".*?</article>', html, re.S)
    assert m, f"no tile {key}"
    return m.group(0)


def _field(tile: str, field: str) -> str:
    m = re.search(rf'data-field="{field}"[^>]*>(.*?)</', tile, re.S)
    assert m, f"no field {field}"
    return " ".join(m.group(1).split())


def test_overview_tiles_show_library_values_with_n_and_ci(client, sample_ws):
    html = client.get("/").text
    nps = sample_ws.metrics.nps().iloc[0]
    tile = _tile(html, "nps")
    assert _field(tile, "value") == f"{nps['nps']:.1f}"
    assert _field(tile, "n") == f"n = {nps['n']:,}"
    assert _field(tile, "ci") == f"95% CI {nps['ci_low']:.1f} – {nps['ci_high']:.1f}"
    csat = sample_ws.metrics.csat().iloc[0]
    assert _field(_tile(html, "csat"), "value") == f"{csat['csat']:.1f}%"
    carts = sample_ws.metrics.carts().iloc[0]
    assert _field(_tile(html, "cart_abandonment"), "value") == f"{carts['abandonment_rate']:.1f}%"
    sup = sample_ws.metrics.support().iloc[0]
    assert _field(_tile(html, "first_response"), "value") == f"{sup['first_response_median_h']:.1f} h"


def test_change_arrow_reports_last_month_test(client, sample_ws):
    ch = sample_ws.metrics.change("nps", period="month").iloc[-1]
    tile = _tile(client.get("/").text, "nps")
    m = re.search(r'data-direction="(\w+)" data-significant="(\w+)"', tile)
    assert m.group(1) == ("up" if ch["delta"] > 0 else "down")
    assert m.group(2) == ("true" if ch["significant"] else "false")
    assert f"{ch['delta']:+.1f} pts" in tile


def test_filtered_partial_matches_filtered_metrics(client, sample_ws, sample_facts):
    ch, start = sample_facts["channel"], sample_facts["start"]
    r = client.get(f"/partials/overview?channel={ch}&start={start}")
    assert r.status_code == 200
    assert r.headers["HX-Replace-Url"] == f"/?start={start}&channel={ch}"
    assert "<html" not in r.text  # a fragment
    nps = sample_ws.metrics.nps(start=start, filters={"channel": ch}).iloc[0]
    assert nps["n"] > 0
    tile = _tile(r.text, "nps")
    assert _field(tile, "value") == f"{nps['nps']:.1f}"
    assert _field(tile, "n") == f"n = {nps['n']:,}"


def test_kpi_a_filter_does_not_apply_to_is_marked_unavailable(client):
    tile = _tile(client.get("/?touchpoint=checkout").text, "aov")
    assert 'class="tile unavailable"' in tile
    assert "Not available" in tile


def test_breakdown_rows_follow_journey_order(client, sample_ws):
    html = client.get("/").text
    stages = re.findall(r'<tr data-group="([^"]+)">', html.split('data-breakdown="stage"')[1].split("</table>")[0])
    order = [s.id for s in sample_ws.journey.stages]
    assert stages == sorted(stages, key=order.index)
    present = set()
    for metric in ("nps", "csat", "ces"):
        df = getattr(sample_ws.metrics, metric)(by="stage")
        present |= set(df.loc[df["n"] > 0, "stage"].dropna())
    assert set(stages) == present


@pytest.mark.parametrize("path", ["/", "/partials/overview", "/?touchpoint=<img src=x onerror=alert(2)>"])
def test_customer_text_is_escaped_everywhere(client, path):
    html = client.get(path).text
    assert XSS_COMMENT not in html
    assert XSS_TOUCHPOINT not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html  # the comment, shown as text
    assert "&lt;img src=x onerror=alert(2)&gt;" in html  # the touchpoint, in tables (and menus)
    # inside chart specs (JSON in <script type="application/json">) "<" is \u003c, so no tag can close
    for spec in re.findall(r'<script type="application/json"[^>]*>(.*?)</script>', html, re.S):
        assert "<" not in spec


def test_page_errors_render_html_with_escaped_message(client):
    r = client.get("/?start=<b>soon</b>")
    assert r.status_code == 400
    assert r.headers["content-type"].startswith("text/html")
    assert "&lt;b&gt;soon&lt;/b&gt;" in r.text and "<b>soon</b>" not in r.text
    r = client.get("/no-such-page")
    assert r.status_code == 404 and 'data-status="404"' in r.text


def test_navigation_lists_registered_pages(client):
    html = client.get("/").text
    assert [i.id for i in nav()][0] == "overview"
    assert 'data-nav="overview" aria-current="page"' in html


def test_static_vendor_files_are_served(client):
    for name in ("htmx-2.0.11.min.js", "vega-6.4.0.min.js", "vega-lite-6.4.3.min.js", "vega-embed-7.3.0.min.js"):
        r = client.get(f"/static/vendor/{name}")
        assert r.status_code == 200 and len(r.content) > 40_000
