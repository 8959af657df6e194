"""Customer pages (/customers, /customers/{id}, /personas) and /api/v1/customers: figures equal
the cxlens.customers library, PII masked, bad parameters named, text escaped."""

from __future__ import annotations

import html
import re
import shutil

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

import cxlens
from cxlens.customers.personas import personas
from cxlens.customers.profile import customer_profile
from cxlens.customers.segments import rfm_segments
from cxlens.web import create_app
from cxlens.web.api.customers import PER_PAGE, TIMELINE_SHOWN

XSS_COMMENT = "<script>alert(1)</script>"
XSS_TOUCHPOINT = "<img src=x onerror=alert(2)>"


@pytest.fixture()
def client(sample_ws):
    with TestClient(create_app(sample_ws)) as c:
        yield c


def _busiest(ws) -> str:
    """The customer with the most events (more than TIMELINE_SHOWN items in the sample)."""
    return str(ws.sql("SELECT customer_id FROM events WHERE customer_id IS NOT NULL "
                      "GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")["customer_id"].iloc[0])  # fmt: skip


def _list_rows(html: str) -> list[tuple[str, str, str]]:
    """(customer id, segment, monetary) of each row of the customers table."""
    rows = re.findall(r'<tr data-customer="([^"]+)">(.*?)</tr>', html, flags=re.S)
    out = []
    for cid, body in rows:
        seg = re.search(r'data-field="segment">([^<]*)<', body).group(1)
        mon = re.search(r'data-field="monetary">([^<]*)<', body).group(1)
        out.append((cid, seg, mon))
    return out


def _expected(rfm: pd.DataFrame, col: str, ascending: bool) -> pd.DataFrame:
    return rfm.sort_values([col, "customer_id"], ascending=[ascending, True], kind="mergesort")


# -- list -----------------------------------------------------------------------------------------
def test_list_first_page_equals_rfm_segments(client, sample_ws):
    r = client.get("/customers")
    assert r.status_code == 200
    rows = _list_rows(r.text)
    rfm = rfm_segments(sample_ws)
    exp = _expected(rfm, "monetary", False).head(PER_PAGE)
    assert [x[0] for x in rows] == exp["customer_id"].tolist()
    assert [x[1] for x in rows] == [str(escape(s)) for s in exp["segment"]]
    assert [x[2] for x in rows] == [f"{m:,.2f}" for m in exp["monetary"]]
    assert f'of <span data-field="total">{len(rfm):,}</span>' in r.text
    # each id links to its 360 page
    assert f'href="/customers/{exp["customer_id"].iloc[0]}"' in r.text


def test_list_filters_sort_and_pages_like_the_library(client, sample_ws):
    rfm = rfm_segments(sample_ws).merge(sample_ws.table("customers").select("customer_id", "country").execute(),
                                        on="customer_id")  # fmt: skip
    seg = rfm["segment"].value_counts().index[0]
    country = rfm.loc[rfm["segment"] == seg, "country"].value_counts().index[0]
    sub = _expected(rfm[(rfm["segment"] == seg) & (rfm["country"] == country)], "recency_days", True)
    r = client.get("/api/v1/customers", params={"segment": seg, "country": country, "sort": "recency"})
    assert r.status_code == 200
    body = r.json()
    assert body["total"] == len(sub)
    assert [row["customer_id"] for row in body["rows"]] == sub["customer_id"].head(PER_PAGE).tolist()
    # page 2 of the whole list is rows 51-100
    html = client.get("/customers", params={"page": 2}).text
    exp = _expected(rfm, "monetary", False)["customer_id"].iloc[PER_PAGE : 2 * PER_PAGE].tolist()
    assert [x[0] for x in _list_rows(html)] == exp
    # the htmx partial answers the same rows and a bookmarkable URL
    p = client.get("/partials/customers", params={"page": 2})
    assert [x[0] for x in _list_rows(p.text)] == exp
    assert p.headers["HX-Replace-Url"].startswith("/customers?") and "page=2" in p.headers["HX-Replace-Url"]


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"page": 0}, "page"),
        ({"page": "-1"}, "page"),
        ({"page": "two"}, "page"),
        ({"sort": "name"}, "sort"),
        ({"order": "up"}, "order"),
    ],  # fmt: skip
)
def test_bad_list_parameters_are_400_naming_the_parameter(client, params, param):
    r = client.get("/api/v1/customers", params=params)
    assert r.status_code == 400
    assert r.json()["error"]["param"] == param
    assert f"'{param}'" in r.json()["error"]["message"]
    page = client.get("/customers", params=params)
    assert page.status_code == 400
    assert f"query parameter &#39;{param}&#39;" in page.text


# -- customer 360 ---------------------------------------------------------------------------------
def test_profile_page_timeline_count_and_masked_email(client, sample_ws):
    cid = _busiest(sample_ws)
    full = customer_profile(sample_ws, cid, show_pii=True)
    n = len(full["timeline"])
    assert n > TIMELINE_SHOWN  # the cap is exercised
    r = client.get(f"/customers/{cid}")
    assert r.status_code == 200
    html = r.text
    assert f'<span data-field="shown">{min(n, TIMELINE_SHOWN)}</span>' in html
    assert f'<span data-field="total">{n}</span>' in html
    assert len(re.findall(r"<tr data-kind=", html)) == min(n, TIMELINE_SHOWN)
    # newest first: the first row is the latest item
    latest = full["timeline"].iloc[-1]
    assert re.search(r'<tr data-kind="([^"]+)" data-id="([^"]*)">', html).groups() == (
        latest["kind"],
        str(latest["id"]),
    )
    email, name = full["traits"]["email"], full["traits"]["name"]
    assert email and email != "***"
    assert email not in html and str(escape(email)) not in html
    assert name not in html and str(escape(name)) not in html
    assert re.search(r'data-trait="email"><th scope="row">email</th><td>\*\*\*</td>', html)
    assert "always masked" in html and "erase" in html.lower()
    # the JSON API masks too
    api = client.get(f"/api/v1/customers/{cid}")
    assert api.status_code == 200 and email not in api.text
    assert api.json()["traits"]["email"] == "***"


def test_profile_summary_value_and_segment(client, sample_ws):
    rfm = rfm_segments(sample_ws)
    row = rfm.iloc[0]
    p = customer_profile(sample_ws, row["customer_id"])
    html = client.get(f"/customers/{row['customer_id']}").text
    assert 'RFM: <a href="/customers?segment=' in html and f">{escape(row['segment'])}</a>" in html
    assert f'<th scope="row">Orders</th><td class="num">{p["summary"]["orders"]:,}</td>' in html
    assert f'<th scope="row">Revenue</th><td class="num">{p["value"]["revenue"]:,.2f}</td>' in html


@pytest.mark.parametrize("cid", ["NOPE-42", XSS_COMMENT])
def test_unknown_customer_is_404_naming_the_id(client, cid):
    r = client.get("/customers/" + cid.replace("/", "%2F"))
    assert r.status_code == 404
    assert str(escape(repr(cid))) in r.text
    assert XSS_COMMENT not in r.text
    api = client.get("/api/v1/customers/" + cid.replace("/", "%2F"))
    assert api.status_code == 404 and repr(cid) in api.json()["error"]["message"]


# -- personas -------------------------------------------------------------------------------------
def test_personas_page_sizes_equal_library(client, sample_ws):
    from cxlens.customers.scores import stored_scores

    scores = stored_scores(sample_ws)  # the page shows the stored CLV and churn scores
    cards = personas(sample_ws, clv=scores.clv, risk=scores.risk)
    html = client.get("/personas").text
    shown = dict(re.findall(r'data-persona="([^"]+)".*?data-field="size">([^<]+)<', html, flags=re.S))
    assert {k.replace("&#39;", "'"): v for k, v in shown.items()} == {
        r["segment"]: f"{int(r['size']):,}" for _, r in cards.iterrows()
    }
    for _, r in cards.iterrows():
        assert str(escape(r["description"])) in html
    api = client.get("/api/v1/personas").json()["rows"]
    assert [x["size"] for x in api] == cards["size"].tolist()
    # the cards as a grid: churn risk and CLV from the stored scores, a quote, goals and frustrations
    for _, r in cards.iterrows():
        assert f"{100 * r['churn_risk']:.1f}%" in html
    assert html.count('class="persona-quote"') == len(cards)
    assert html.count('data-field="frustrations"') == len(cards)
    assert all(x["quote"] and x["quote"]["text"] for x in api)


# -- escaping -------------------------------------------------------------------------------------
def test_xss_payloads_never_appear_unescaped(sample_path, sample_ws, tmp_path):
    for c in [TestClient(create_app(sample_ws))]:
        for url in ("/customers", "/personas", f"/customers/{_busiest(sample_ws)}"):
            assert XSS_COMMENT not in c.get(url).text and XSS_TOUCHPOINT not in c.get(url).text
    # a copy where a real customer owns the payloads: they reach the 360 page, escaped
    copy = tmp_path / "xss.duckdb"
    shutil.copy(sample_path, copy)
    with cxlens.open(copy) as ws:
        cid = str(rfm_segments(ws)["customer_id"].iloc[0])
        last = pd.Timestamp(ws.sql("SELECT max(ts) AS t FROM feedback")["t"].iloc[0])
        ws.load("feedback", pd.DataFrame({
            "feedback_id": ["xss-owned"], "customer_id": [cid], "ts": [last + pd.Timedelta(minutes=2)],
            "metric": ["nps"], "score": [2.0], "comment": [XSS_COMMENT], "touchpoint": [XSS_TOUCHPOINT],
            "channel": ["web"],
        }))  # fmt: skip
        with TestClient(create_app(ws)) as c:
            html = c.get(f"/customers/{cid}").text
            assert str(escape(XSS_COMMENT)) in html and str(escape(XSS_TOUCHPOINT)) in html
            for url in (f"/customers/{cid}", "/personas", "/customers"):
                text = c.get(url).text
                assert XSS_COMMENT not in text and XSS_TOUCHPOINT not in text


# -- browser --------------------------------------------------------------------------------------
def test_browser_filter_then_open_a_customer(page, server, sample_ws):
    seg = rfm_segments(sample_ws)["segment"].value_counts().index[-1]
    page.goto(server + "/customers")
    page.wait_for_selector("#customers-table")
    page.select_option("#c-segment", seg)
    page.wait_for_function("location.search.includes('segment=')")
    page.wait_for_selector('#customers-table tbody tr[data-customer] td[data-field="segment"]')
    page.wait_for_function(
        "s => [...document.querySelectorAll('#customers-table td[data-field=segment]')]"
        ".every(td => td.textContent === s)", arg=seg)  # fmt: skip
    first = page.locator("#customers-table tbody tr[data-customer] a").first
    cid = first.inner_text()
    first.click()
    page.wait_for_selector("#timeline-count")
    assert page.inner_text("#customer-id") == cid
    assert page.locator('#nav a[data-nav="customers"]').get_attribute("aria-current") == "page"
    page.goto(server + "/personas")
    page.wait_for_selector("#personas article")
    assert page.errors == []


def test_customer_360_shows_predicted_clv_and_churn_risk_with_reasons_from_the_models(client, sample_ws):
    from cxlens.customers.churn_model import score_churn, train_churn
    from cxlens.customers.clv import predict_clv

    # independently fitted (no cache): the page must show the same figures
    clv = predict_clv(sample_ws, 52, draws=0)
    risk = score_churn(sample_ws, train_churn(sample_ws, horizon_days=90).model, top=3)
    cid = str(risk.sort_values(["churn_risk", "customer_id"]).customer_id.iloc[-1])
    html = client.get(f"/customers/{cid}").text
    section = html[html.index('id="predictions"') : html.index('id="segments-title"')]
    cells = dict(re.findall(r"<tr><th scope=\"row\">([^<]+)</th><td class=\"num\">([^<]+)</td></tr>", section))
    exp_clv = clv.set_index("customer_id").loc[cid]
    assert cells["Predicted CLV, 52 weeks"] == f"{exp_clv['clv']:,.2f}"
    assert cells["Probability alive"] == f"{100 * exp_clv['p_alive']:.0f}%"
    exp_risk = risk.set_index("customer_id").loc[cid, "churn_risk"]
    assert cells["Churn risk, next 90 days"] == f"{100 * exp_risk:.0f}%"
    features = re.findall(r'<tr data-feature="([^"]+)">', section)
    assert features and features[0] == risk.set_index("customer_id").loc[cid, "reasons"].split(" ")[0]


def test_overview_loads_revenue_at_risk_after_the_tiles_with_the_library_figures(client, sample_ws):
    from cxlens.customers.risk import revenue_at_risk_panel

    home = client.get("/", params={"start": "2024-01-01"}).text
    assert re.search(r'id="revenue-risk-slot" hx-get="/partials/overview/revenue-risk\?[^"]*start=2024-01-01"', home)
    assert 'id="revenue-risk-table"' not in home  # not computed with the tiles
    expected = revenue_at_risk_panel(sample_ws)
    part = client.get("/partials/overview/revenue-risk").text
    names = [html.unescape(n) for n in re.findall(r'<tr data-risk="([^"]*)">', part)]
    assert names and names == [r["name"] for r in expected["rows"]]
