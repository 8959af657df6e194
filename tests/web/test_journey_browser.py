"""The journey pages in a real browser: Chromium (Debian's) driven by Playwright over a live uvicorn.

Same set-up as ``test_browser.py``: skips without ``/usr/bin/chromium`` or Playwright, and
fails instead under ``CXLENS_REQUIRE_BROWSER=1``.
"""

from __future__ import annotations

import pytest

import cxlens

STEPS = ["visit", "add_to_cart", "purchase"]
TIMEOUT = 20_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


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
