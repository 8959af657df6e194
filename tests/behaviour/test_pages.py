"""The frustration and heatmap pages: served over hand-made events, escaped, and drawn in Chromium."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens.web.app import create_app

from ..conftest import new_page, running
from .test_analyses import SHOP, _click, _ev, _frustration_events

EVIL = '<img src=x onerror="alert(1)">'


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The frustration sessions, plus desktop/tablet/mobile clicks on the checkout and a hostile selector."""
    co = SHOP + "/checkout"
    rows = [
        ("s1", 10.1, "$click", co, _click("x", 0, 600, 400, 1280, sel="#pay")),
        ("s2", 105.1, "$click", co, _click("y", 0, 500, 420, 900, sel="#pay")),
        ("s2", 106, "$click", co, _click("y", 0, 100, 1400, 390, sel="#pay")),
        ("s2", 107, "$deadclick", co, {"$selector": EVIL}),
    ]
    extra = _ev(rows).assign(event_id=lambda d: "x" + d["event_id"])
    path = tmp_path_factory.mktemp("p") / "p.duckdb"
    with cxlens.open(path) as ws:
        ws.insert("events", _frustration_events())
        ws.insert("events", extra)
    return path


def test_frustration_and_heatmap_pages_over_http(site):
    with TestClient(create_app(site)) as c:
        r = c.get("/frustration")
        assert r.status_code == 200
        html = r.text
        assert 'id="frustration-pages"' in html and "https://shop.example/checkout" in html
        # the worst page first, with its score (100 × (3 + 2·3 + 1) / 2 = 500 once the planted dead click counts)
        first = html.split('id="frustration-pages"')[1].split("</tr>")[1]
        assert "https://shop.example/checkout" in first and ">500.0<" in first
        assert EVIL not in html and "&lt;img src=x" in html
        assert 'href="/heatmap?url=https%3A%2F%2Fshop.example%2Fcheckout"' in html
        # exit pages: s2 and s3 end on the cart (2 of its 2 views), s1 on the home page (1 of 3)
        exits = html.split('id="exit-pages"')[1].split("</table>")[0].split("</tr>")[1:-1]
        assert [(r.split('data-field="url">')[1].split("<")[0], r.split('data-field="exits">')[1].split("<")[0],
                 r.split('data-field="exit_rate">')[1].split("<")[0]) for r in exits][:2] == [
            ("https://shop.example/cart", "2", "100%"), ("https://shop.example/home", "1", "33%")]  # fmt: skip
        r = c.get("/heatmap", params={"url": "/checkout"})
        assert r.status_code == 200 and 'data-chart="heatmap-desktop"' in r.text
        assert 'data-chart="heatmap-tablet"' in r.text and 'data-chart="heatmap-mobile"' in r.text
        spec = json.loads(r.text.split('id="chart-heatmap-desktop-spec">')[1].split("</script>")[0])
        values = next(iter(spec["datasets"].values())) if "datasets" in spec else spec["data"]["values"]
        assert [(v["x"], v["y"], v["clicks"]) for v in values] == [(0.46, 400, 1)]  # 600 / 1280 → bin 0.46
        assert c.get("/heatmap").status_code == 200


@pytest.mark.browser
@pytest.mark.slow
def test_heatmap_page_draws_each_width_bucket(site, browser):
    with running(create_app(site)) as url:
        page = new_page(browser)
        try:
            page.goto(url + "/heatmap?url=/checkout")
            for w in ("desktop", "tablet", "mobile"):
                page.wait_for_selector(f'[data-chart="heatmap-{w}"] svg', timeout=15000)
            assert page.locator("#heatmap-elements [data-field=selector]").first.inner_text() == "#pay"
            page.goto(url + "/frustration")
            page.wait_for_selector('[data-chart="worst-pages"] svg', timeout=15000)
            assert page.errors == []
        finally:
            page.close()
