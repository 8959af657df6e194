"""The journey pages in a real browser: Chromium (Debian's) driven by Playwright over a live uvicorn.

Same set-up as ``test_browser.py``: skips without ``/usr/bin/chromium`` or Playwright, and
fails instead under ``CXLENS_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import os
import socket
import threading
import time
from pathlib import Path

import pytest

import cxlens

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
STEPS = ["visit", "add_to_cart", "purchase"]
TIMEOUT = 20_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _need_browser():
    missing = None
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing, sync_playwright = "playwright is not installed (pip install 'cxlens[dev]')", None
    if missing is None and not CHROMIUM.exists():
        missing = f"{CHROMIUM} not found (apt-get install chromium)"
    if missing:
        if os.environ.get("CXLENS_REQUIRE_BROWSER") == "1":
            pytest.fail(f"browser test required but {missing}")
        pytest.skip(missing)
    return sync_playwright


@pytest.fixture(scope="module")
def server(sample_path):
    _need_browser()
    import uvicorn

    from cxlens.web import create_app

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(create_app(sample_path), host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not srv.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("uvicorn did not start within 30 s")
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    srv.should_exit = True
    thread.join(timeout=10)


@pytest.fixture(scope="module")
def page(server):
    sync_playwright = _need_browser()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        pg = browser.new_page(viewport={"width": 1280, "height": 1000})
        errors: list[str] = []
        pg.on("pageerror", lambda e: errors.append(str(e)))
        pg.on("dialog", lambda d: (errors.append(f"dialog opened: {d.message}"), d.dismiss()))
        pg.errors = errors
        yield pg
        browser.close()


@pytest.fixture(scope="module")
def expected(sample_path):
    with cxlens.open(sample_path) as ws:
        return {
            "funnel": ws.journeys.funnel(STEPS),
            "map": ws.journeys.map().sort_values("pain_score", ascending=False, na_position="last"),
        }


def _texts(pg, selector: str) -> list[str]:
    return [" ".join(t.split()) for t in pg.locator(selector).all_inner_texts()]


def test_funnel_builder_shows_library_numbers_and_chart(page, server, expected):
    page.goto(server + "/funnels")
    for i, step in enumerate(STEPS, 1):
        page.select_option(f"#step-{i}", step)
    page.click("#funnel-submit")
    page.wait_for_selector('[data-chart="funnel"][data-rendered="true"]', timeout=TIMEOUT)
    f = expected["funnel"]
    assert _texts(page, '#funnel-table [data-field="customers"]') == [f"{n:,}" for n in f["customers"]]
    assert _texts(page, '#funnel-table [data-field="conversion"]') == [f"{100 * c:.1f}%" for c in f["conversion"]]
    assert page.locator('[data-chart="funnel"] svg').count() == 1
    assert "steps=visit&steps=add_to_cart&steps=purchase" in page.url  # bookmarkable (HX-Replace-Url)

    # the drop-off list after step 2 loads in place
    page.click('[data-drop-step="2"] button')
    page.wait_for_selector('#dropoff-list .dropped[data-step="2"]', timeout=TIMEOUT)
    total = int(page.locator("#dropoff-list .dropped").get_attribute("data-total"))
    assert total == int(f["customers"].iloc[1] - f["customers"].iloc[2])
    assert page.errors == []


def test_journey_map_top_pain_and_drilldown(page, server, expected):
    page.goto(server + "/journey")
    page.wait_for_selector('[data-chart="journey-map"][data-rendered="true"]', timeout=TIMEOUT)
    top = expected["map"].iloc[0]
    first = page.locator("#pain-top li").first
    assert first.get_attribute("data-touchpoint") == top["touchpoint"]
    assert first.get_attribute("data-stage") == top["stage"]
    assert " ".join(first.locator('[data-field="label"]').inner_text().split()) == top["label"]

    # clicking the table row (not its button) loads the quotes behind the cell
    row = page.locator(f'#map-table tr[data-stage="{top["stage"]}"][data-touchpoint="{top["touchpoint"]}"]')
    row.locator("td").first.click()
    page.wait_for_selector(f'#cell-panel .cell-detail[data-touchpoint="{top["touchpoint"]}"]', timeout=TIMEOUT)
    assert int(page.locator("#cell-panel .cell-detail").get_attribute("data-n")) == int(top["survey_n"])
    assert page.locator("#cell-quotes blockquote").count() > 0

    # the planted payloads are shown as text and never run
    page.locator('#map-table tr[data-touchpoint="<img src=x onerror=alert(2)>"] button').click()
    page.wait_for_selector('#cell-panel .cell-detail[data-stage=""]', timeout=TIMEOUT)
    assert page.locator("#cell-quotes").inner_text().count("<script>alert(1)</script>") == 1
    assert page.locator("img[src=x]").count() == 0
    assert page.errors == []


def test_paths_page_draws_the_sankey(page, server):
    page.goto(server + "/paths?from=visit&steps=3&top=5&goal=purchase")
    page.wait_for_selector('[data-chart="sankey"][data-rendered="true"]', timeout=TIMEOUT)
    assert page.locator("#chart-sankey svg").count() == 1
    assert page.locator("#paths-table tbody tr").count() == 5
    assert page.errors == []
