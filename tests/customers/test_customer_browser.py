"""Customer pages in Chromium (Playwright over a live uvicorn): the list's filters, the segments,
personas and models pages, revenue at risk on the overview and the journey map, saved segments as
the overview filter. Expected figures come from the library and pandas, computed before the server starts."""

from __future__ import annotations

import shutil

import pytest

import cxlens
from cxlens.customers.personas import personas
from cxlens.customers.risk import model_inputs, workspace_revenue_at_risk
from cxlens.customers.segments import rfm_segments, rule_segment, save_segment, save_segments

from ..conftest import running

pytestmark = [pytest.mark.browser]

XSS_SEGMENT = "<script>alert(3)</script>"


@pytest.fixture(scope="module")
def facts(sample_path, tmp_path_factory):
    """A copy of the sample with saved segments, and the figures the pages must show."""
    path = tmp_path_factory.mktemp("custbrowser") / "sample.duckdb"
    shutil.copy(sample_path, path)
    with cxlens.open(path) as ws:
        rfm = rfm_segments(ws)
        save_segments(ws, rfm.set_index("customer_id")["segment"], "rfm", prefix="rfm:")
        vip = rule_segment(ws, "vip", {"plan": "vip"}, save=True)
        save_segment(ws, XSS_SEGMENT, list(vip[:5]))
        clv, risk = model_inputs(ws, cache=False)
        df = rfm.assign(customer_id=rfm["customer_id"].astype(str))
        df["clv"] = df["customer_id"].map(clv.set_index("customer_id")["clv"])
        df["risk"] = df["customer_id"].map(risk.set_index("customer_id")["churn_risk"])
        nps_vip = ws.metrics.nps(segment="vip").iloc[0]
        return {
            "path": path,
            "customers": len(df),
            "high": int((df["risk"] >= 0.3).sum()),
            "high_clv50": int(((df["risk"] >= 0.3) & (df["clv"] >= 50)).sum()),
            "vip_listed": int(df["customer_id"].isin(set(map(str, vip))).sum()),
            "segments": 1 + 1 + rfm["segment"].nunique(),
            "personas": len(personas(ws)),
            "nps_vip": f"{nps_vip['nps']:.1f}",
            "nps_vip_n": f"n = {int(nps_vip['n']):,}",
            "nps_vip_cell": f"{nps_vip['nps']:+.0f} ({nps_vip['ci_low']:+.0f} to {nps_vip['ci_high']:+.0f}) "
            f"n={int(nps_vip['n']):,}",
            "risk_theme": workspace_revenue_at_risk(ws, cache=False)["theme"].iloc[0],
            "risk_touchpoint": workspace_revenue_at_risk(ws, "touchpoint", cache=False).iloc[0],
        }


@pytest.fixture(scope="module")
def cserver(facts, browser):
    from cxlens.web import create_app

    with running(create_app(facts["path"])) as url:
        yield url


@pytest.fixture()
def cpage(browser):
    """A page recording script errors and dialogs in ``page.errors`` (as conftest's ``new_page``)."""
    p = browser.new_page(viewport={"width": 1280, "height": 1000}, bypass_csp=True)  # string predicates use eval
    errors: list[str] = []
    p.on("pageerror", lambda e: errors.append(str(e)))
    p.on("dialog", lambda d: (errors.append(f"dialog opened: {d.message}"), d.dismiss()))
    p.errors = errors
    yield p
    p.close()


def _total(p) -> int:
    return int(p.locator('#customers-count [data-field="total"]').inner_text().replace(",", ""))


def test_list_filters_change_the_list(cpage, cserver, facts):
    p = cpage
    p.goto(cserver + "/customers", timeout=60_000)
    assert _total(p) == facts["customers"]
    p.select_option("#c-risk", "high")
    p.wait_for_function(
        f"document.querySelector('#customers-count [data-field=total]').innerText == '{facts['high']:,}'"
    )
    assert _total(p) == facts["high"]
    bands = p.locator("#customers-table [data-band]").evaluate_all("els => els.map(e => e.dataset.band)")
    assert bands and set(bands) == {"high"}
    p.fill("#c-clv_min", "50")
    p.locator("#c-clv_min").dispatch_event("change")
    want = f"{facts['high_clv50']:,}"
    p.wait_for_function(f"document.querySelector('#customers-count [data-field=total]').innerText == '{want}'")
    assert "risk=high" in p.url and "clv_min=50" in p.url
    p.goto(cserver + "/customers", timeout=60_000)
    p.select_option("#c-saved_segment", "vip")
    want = f"{facts['vip_listed']:,}"
    p.wait_for_function(f"document.querySelector('#customers-count [data-field=total]').innerText == '{want}'")
    assert p.errors == []


def test_segments_page_lists_saved_segments_escaped_with_the_map(cpage, cserver, facts):
    p = cpage
    p.goto(cserver + "/segments", timeout=60_000)
    p.wait_for_selector('[data-chart="segment-map"][data-rendered="true"]', timeout=30_000)
    assert p.locator("#segments-table tbody tr").count() == facts["segments"]
    assert p.locator('[data-chart="segment-map"] svg').count() == 1
    # the hostile segment name is text, not markup
    assert p.locator("#segments-table").inner_text().count(XSS_SEGMENT) == 1
    assert p.locator("#segments-table script").count() == 0
    nps = p.locator('#segments-table tr[data-segment="vip"] [data-field="nps"]').inner_text()
    assert " ".join(nps.split()) == facts["nps_vip_cell"]
    assert p.errors == []


def test_personas_and_models_pages_render(cpage, cserver, facts):
    p = cpage
    p.goto(cserver + "/personas", timeout=60_000)
    assert p.locator("#personas article").count() == facts["personas"]
    p.goto(cserver + "/models", timeout=60_000)
    p.wait_for_selector('[data-chart="clv-holdout"][data-rendered="true"]', timeout=30_000)
    p.wait_for_selector('[data-chart="churn-calibration"][data-rendered="true"]', timeout=30_000)
    assert p.locator("#holdout-table tbody tr").count() == 8
    assert "ROC-AUC" in p.locator("#churn-figures").inner_text()
    assert p.errors == []


def test_overview_shows_revenue_at_risk_and_filters_by_saved_segment(cpage, cserver, facts):
    p = cpage
    p.goto(cserver + "/", timeout=60_000)
    first = p.locator("#revenue-risk-table tbody tr").first
    assert first.get_attribute("data-risk") == facts["risk_theme"]
    p.select_option("#f-saved_segment", "vip")
    p.wait_for_selector('#overview-body .overview[data-query="saved_segment=vip"]', timeout=30_000)
    tile = p.locator('[data-kpi="nps"]')
    assert tile.locator('[data-field="value"]').inner_text().strip() == facts["nps_vip"]
    assert " ".join(tile.locator('[data-field="n"]').inner_text().split()) == facts["nps_vip_n"]
    assert p.url.endswith("/?saved_segment=vip")
    assert p.errors == []


def test_journey_map_has_a_revenue_at_risk_column(cpage, cserver, facts):
    p = cpage
    p.goto(cserver + "/journey", timeout=60_000)
    top = facts["risk_touchpoint"]
    cell = p.locator(f'#map-table tr[data-touchpoint="{top["touchpoint"]}"] [data-field="revenue-risk"]').first
    assert cell.inner_text().startswith(f"{top['revenue_at_risk']:,.0f} (")
    assert p.errors == []
