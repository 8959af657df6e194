"""The dashboard in a real browser: Chromium (Debian's) driven by Playwright over a live uvicorn."""

from __future__ import annotations

import pytest

import cxlens

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _tile(pg, key: str) -> dict[str, str]:
    tile = pg.locator(f'[data-kpi="{key}"]')
    return {f: " ".join(tile.locator(f'[data-field="{f}"]').inner_text().split()) for f in ("value", "n", "ci")}


def _expected(row) -> dict[str, str]:
    return {
        "value": f"{row['nps']:.1f}",
        "n": f"n = {row['n']:,}",
        "ci": f"95% CI {row['ci_low']:.1f} – {row['ci_high']:.1f}",
    }


def test_overview_filters_update_tiles_and_charts(page, server, sample_path, sample_facts):
    channel = sample_facts["channel"]  # "web" unless the data has too few web NPS answers
    with cxlens.open(sample_path) as ws:
        overall = ws.metrics.nps().iloc[0]
        web = ws.metrics.nps(filters={"channel": channel}).iloc[0]
    assert 0 < web["n"] < overall["n"]

    page.goto(server + "/")
    page.wait_for_selector('[data-chart="nps-trend"][data-rendered="true"]', timeout=20_000)
    assert _tile(page, "nps") == _expected(overall)
    assert page.locator('[data-chart="nps-trend"] svg').count() == 1

    page.select_option("#f-channel", channel)
    page.wait_for_selector(f'#overview-body .overview[data-query="channel={channel}"]', timeout=20_000)
    page.wait_for_selector('[data-chart="nps-trend"][data-rendered="true"]', timeout=20_000)
    assert _tile(page, "nps") == _expected(web)
    assert page.locator('[data-chart="nps-trend"] svg').count() == 1
    assert page.url.endswith(f"/?channel={channel}")  # HX-Replace-Url: the filtered view can be bookmarked
    assert page.errors == []


def test_customer_text_is_shown_as_text_and_never_runs(page, server):
    page.goto(server + "/?channel=web")
    page.wait_for_selector("#comments")
    # the injected comment is visible as text; no alert dialog opened (the page fixture records one)
    assert page.locator("#comments").inner_text().count("<script>alert(1)</script>") == 1
    assert page.locator("#comments script").count() == 0
    assert page.locator("img[src=x]").count() == 0
    assert page.errors == []
