"""The survey widget and the hosted link page in a real Chromium (Playwright).

A scratch workspace is served by uvicorn on one loopback port; the shop page that embeds the
widget is served from another origin (a plain static server), so the widget's calls are real
cross-origin requests checked against ``collect.allowed_origins``.
"""

from __future__ import annotations

import functools
import http.server
import threading
import time
from pathlib import Path

import pandas as pd
import pytest

import cxlens
from cxlens.collect.identity import identity_secret, rotate_identity_secret, user_hash
from cxlens.surveys import create_survey, make_token
from cxlens.web.hub import WorkspaceHub

from ..conftest import free_port, new_page, running

pytestmark = pytest.mark.browser

SURVEY = {
    "id": "order-nps",
    "name": "Order NPS",
    "metric": "nps",
    "question": "How likely are you to recommend us?",
    "status": "active",
    "touchpoint": "checkout",
    "follow_up": {"promoter": "What did you love?", "detractor": "What went wrong?"},
    "targeting": {"trigger": {"event": "order_completed", "delay_seconds": 0.3}, "recontact_days": 30},
    "appearance": {"colors": {"primary": "#0f766e"}},
}


TAB_SURVEY = {
    "id": "site-csat",
    "name": "Site CSAT",
    "metric": "csat",
    "display": "stars",
    "question": "How do you like our site?",
    "status": "active",
    "targeting": {"url": "/tab.html", "sample_rate": 0.0},
    "appearance": {"feedback_tab": True, "tab_label": "Feedback"},
}


def _wait_for(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = fn()
        if value is not None and (not value.empty if isinstance(value, pd.DataFrame) else bool(value)):
            return value
        time.sleep(0.05)
    pytest.fail("condition not met within the time limit")


@pytest.fixture(scope="module")
def site(tmp_path_factory, browser):
    """(api base URL, shop page URL, workspace, write key) with uvicorn and a static server running."""
    from cxlens.web import create_app

    tmp = tmp_path_factory.mktemp("surveys-browser")
    ws = cxlens.open(tmp / "shop.duckdb")
    hub = WorkspaceHub({"shop": ws})
    _, key = hub.create_key("shop", "write")
    create_survey(ws, SURVEY)
    create_survey(ws, TAB_SURVEY)
    secret = rotate_identity_secret(ws)  # the sites below sign their user ids (identity verification)
    api_port, page_port = free_port(), free_port()
    api = f"http://127.0.0.1:{api_port}"
    ws.set_setting("collect.allowed_origins", [f"http://localhost:{page_port}"])
    (tmp / "shop.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'><title>Shop</title></head>"
        "<body><h1>Thanks for your order</h1><p id='para'>Your order is on its way.</p>"
        "<button id='other'>Something else</button>"
        f"<script src='{api}/sdk/cxlens-survey.js'></script>"
        f"<script>window.ready = cxlensSurvey.init({{writeKey: '{key}', host: '{api}'}});</script>"
        "</body></html>"
    )
    (tmp / "tab.html").write_text((tmp / "shop.html").read_text().replace("<title>Shop", "<title>Tab"))
    (tmp / "tracker.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Tracker</title></head><body>"
        "<p>with the tracker</p><script>"
        # a stand-in for /sdk/cxlens.js: the same user()/on()/config() surface, loading the widget like it does
        "window.cxlens = (function () { var ls = {}; return {"
        "  user: function () { return {anonymousId: 'trk-anon-1', userId: 'cust-77', "
        f"userHash: '{user_hash(secret, 'cust-77')}'}}; }},"
        "  on: function (t, cb) { (ls[t] = ls[t] || []).push(cb); return this; },"
        f"  config: function () {{ return {{writeKey: '{key}', host: '{api}'}}; }},"
        "  track: function (e) { (ls.track || []).forEach(function (cb) { cb({type: 'track', event: e}); }); }"
        "}; })();"
        f"var s = document.createElement('script'); s.async = true; s.src = '{api}/sdk/cxlens-survey.js';"
        "document.head.appendChild(s);</script></body></html>"
    )
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp))
    handler.log_message = lambda *a, **k: None
    static = http.server.ThreadingHTTPServer(("127.0.0.1", page_port), handler)
    t2 = threading.Thread(target=static.serve_forever, daemon=True)
    t2.start()
    with running(create_app(hub), port=api_port):
        yield api, f"http://localhost:{page_port}/shop.html", ws, key
    static.shutdown()
    ws.close()


def _open_shop(browser, url, width=1280, height=900):
    pg = new_page(browser, width, height)
    pg.goto(url)
    pg.wait_for_function("window.ready !== undefined")
    pg.evaluate("window.ready")  # the page-load eligibility call has answered
    return pg


def _feedback(ws, anon):
    return ws.sql(
        "SELECT score, comment, survey_id FROM feedback WHERE json_extract_string(properties, '$.anonymous_id') = ?",
        [anon],
    )


def test_widget_shows_after_the_event_records_one_response_and_respects_fatigue(site, browser):
    api, url, ws, key = site
    pg = _open_shop(browser, url)
    try:
        assert pg.locator("[role=dialog]").count() == 0  # event-triggered: nothing on page load
        layout = pg.evaluate(
            "[document.documentElement.scrollHeight, document.getElementById('para').getBoundingClientRect().top]"
        )
        pg.evaluate("cxlensSurvey.track('order_completed')")
        dialog = pg.get_by_role("dialog", name="How likely are you to recommend us?")
        dialog.wait_for(state="visible")
        assert (
            pg.evaluate(
                "[document.documentElement.scrollHeight, document.getElementById('para').getBoundingClientRect().top]"
            )
            == layout
        )
        assert pg.evaluate("getComputedStyle(document.querySelector('.cxs-root')).position") == "fixed"
        assert dialog.evaluate("e => getComputedStyle(e).getPropertyValue('--cxs-primary')").strip() == "#0f766e"
        dialog.get_by_role("button", name="9 out of 10", exact=True).click()
        box = dialog.get_by_label("What did you love?")
        box.fill("Fast <script>alert(1)</script> delivery")
        dialog.get_by_role("button", name="Send").click()
        dialog.get_by_text("Thank you for your feedback!").wait_for()
        anon = pg.evaluate("localStorage.getItem('cxlens_survey_aid')")
        fb = _wait_for(lambda: (lambda d: d if len(d) and d.comment[0] else None)(_feedback(ws, anon)))
        assert fb.values.tolist() == [[9.0, "Fast <script>alert(1)</script> delivery", "order-nps"]]
        assert pg.errors == []

        pg.reload()
        pg.wait_for_function("window.ready !== undefined")
        pg.evaluate("window.ready")
        pg.evaluate("cxlensSurvey.track('order_completed')")
        again = pg.evaluate(
            f"fetch('{api}/v1/surveys/eligible?writeKey={key}&event=order_completed&anonymousId=' + "
            "localStorage.getItem('cxlens_survey_aid')).then(r => r.json())"
        )
        assert again["surveys"] == []
        pg.wait_for_timeout(1000)  # longer than the 0.3 s delay
        assert pg.locator("[role=dialog]").count() == 0
        assert len(_feedback(ws, anon)) == 1
    finally:
        pg.close()


def test_keyboard_only_answering_and_escape(site, browser):
    _, url, ws, _ = site
    pg = _open_shop(browser, url)
    try:
        pg.focus("#other")
        pg.evaluate("cxlensSurvey.track('order_completed')")
        pg.get_by_role("dialog").wait_for(state="visible")
        focused = lambda: pg.evaluate("document.activeElement.getAttribute('aria-label')")  # noqa: E731
        assert focused().startswith("0 out of 10")  # focus moved into the dialog
        pg.keyboard.press("End")
        assert focused() == "10 out of 10, Extremely likely"
        pg.keyboard.press("ArrowLeft")
        pg.keyboard.press("ArrowLeft")
        pg.keyboard.press("ArrowRight")
        assert focused() == "9 out of 10"
        pg.keyboard.press("Enter")
        pg.get_by_role("textbox").wait_for()
        assert pg.evaluate("document.activeElement.tagName") == "TEXTAREA"
        pg.keyboard.type("Typed with keys")
        pg.keyboard.press("Tab")  # Skip
        pg.keyboard.press("Tab")  # Send
        pg.keyboard.press("Enter")
        pg.get_by_text("Thank you for your feedback!").wait_for()
        anon = pg.evaluate("localStorage.getItem('cxlens_survey_aid')")
        fb = _wait_for(lambda: (lambda d: d if len(d) and d.comment[0] else None)(_feedback(ws, anon)))
        assert fb[["score", "comment"]].values.tolist() == [[9.0, "Typed with keys"]]
    finally:
        pg.close()

    pg = _open_shop(browser, url)
    try:
        pg.focus("#other")
        pg.evaluate("cxlensSurvey.track('order_completed')")
        pg.get_by_role("dialog").wait_for(state="visible")
        pg.keyboard.press("Escape")
        pg.get_by_role("dialog").wait_for(state="detached")
        assert pg.evaluate("document.activeElement.id") == "other"  # focus returned
        anon = pg.evaluate("localStorage.getItem('cxlens_survey_aid')")
        _wait_for(
            lambda: len(
                ws.sql("SELECT 1 FROM survey_exposures WHERE person = 'anon:' || ? AND kind = 'dismiss'", [anon])
            )
        )
        assert len(_feedback(ws, anon)) == 0
    finally:
        pg.close()


def test_bottom_sheet_on_a_narrow_screen(site, browser):
    _, url, _, _ = site
    pg = _open_shop(browser, url, width=375, height=700)
    try:
        pg.evaluate("cxlensSurvey.track('order_completed')")
        dialog = pg.get_by_role("dialog")
        dialog.wait_for(state="visible")
        box = dialog.bounding_box()
        assert (box["x"], box["width"]) == (0, 375) and box["y"] + box["height"] == pytest.approx(700, abs=1)
    finally:
        pg.close()


def test_hosted_link_answer_once_then_refused(site, browser):
    api, _, ws, _ = site
    token = make_token(ws, "order-nps", "cust-7")
    link = f"{api}/s/shop/order-nps?t={token}"
    pg = new_page(browser, 390, 800)
    try:
        assert pg.goto(link).status == 200
        pg.get_by_label("3 out of 10").check()
        pg.get_by_role("button", name="Send").click()
        pg.get_by_label("What went wrong?").fill("Late <b>parcel</b>")
        pg.get_by_role("button", name="Send").click()
        pg.locator("#thanks").wait_for()
        fb = ws.sql("SELECT score, comment, channel FROM feedback WHERE customer_id = 'cust-7'")
        assert fb.values.tolist() == [[3.0, "Late <b>parcel</b>", "email"]]
        second = pg.goto(link)
        assert second.status == 410 and "already answered" in pg.locator("#link-error").inner_text()
        expired = pg.goto(f"{api}/s/shop/order-nps?t={make_token(ws, 'order-nps', 'cust-8', expires_days=-0.01)}")
        assert expired.status == 410 and "expired" in pg.locator("#link-error").inner_text()
        other = make_token(ws, "order-nps", "cust-9")
        forged = other.split(".")[0][:-4] + "AAAA." + other.split(".")[1]
        tampered = pg.goto(f"{api}/s/shop/order-nps?t={forged}")
        assert tampered.status == 403 and "not valid" in pg.locator("#link-error").inner_text()
        assert pg.errors == []
    finally:
        pg.close()


def test_feedback_tab_opens_a_star_survey(site, browser):
    _, url, ws, _ = site
    pg = _open_shop(browser, url.replace("shop.html", "tab.html"))
    try:
        assert pg.locator("[role=dialog]").count() == 0  # sample rate 0: never pops up by itself
        pg.get_by_role("button", name="Feedback").click()
        dialog = pg.get_by_role("dialog", name="How do you like our site?")
        dialog.wait_for(state="visible")
        labels = dialog.locator(".cxs-scale button").evaluate_all("bs => bs.map(b => b.getAttribute('aria-label'))")
        assert labels == [
            "1 star out of 5",
            "2 stars out of 5",
            "3 stars out of 5",
            "4 stars out of 5",
            "5 stars out of 5",
        ]
        dialog.get_by_role("button", name="4 stars out of 5").click()
        pg.get_by_text("Thank you for your feedback!").wait_for()
        anon = pg.evaluate("localStorage.getItem('cxlens_survey_aid')")
        fb = _wait_for(lambda: (lambda d: d if len(d) else None)(_feedback(ws, anon)))
        assert fb.values.tolist() == [[4.0, None, "site-csat"]]
        pg.get_by_role("dialog").wait_for(state="detached", timeout=10000)  # thanks closes by itself
        assert pg.locator(".cxs-tab").count() == 0  # answered: the tab is gone
    finally:
        pg.close()


def test_builder_live_preview_renders_the_form(site, browser):
    api, _, _, _ = site
    pg = new_page(browser)
    try:
        pg.goto(f"{api}/surveys/new")
        pg.select_option("#sv-metric", "csat")
        pg.select_option("#sv-display", "faces")
        pg.fill("#sv-question", "Rate <em>us</em>")
        preview = pg.locator("#survey-preview [role=dialog]")
        pg.wait_for_function(
            "document.querySelector('#survey-preview .cxs-q') && "
            "document.querySelector('#survey-preview .cxs-q').textContent === 'Rate <em>us</em>'"
        )
        assert preview.locator(".cxs-scale button").count() == 5
        assert pg.locator("#survey-preview em").count() == 0  # the wording is text, not markup
        pg.fill("#sv-sample_rate", "7")
        pg.locator("#preview-error").wait_for(state="visible")
        assert "targeting.sample_rate" in pg.locator("#preview-error").inner_text()
        assert pg.errors == []
    finally:
        pg.close()


def test_works_with_the_tracker_ids_and_events(site, browser):
    _, url, ws, _ = site
    pg = new_page(browser)
    try:
        pg.goto(url.replace("shop.html", "tracker.html"))
        pg.wait_for_function("window.cxlensSurvey && window.cxlensSurvey.ready")
        pg.evaluate("cxlensSurvey.ready")
        pg.evaluate("cxlens.track('order_completed')")  # the tracker's event, not cxlensSurvey.track
        dialog = pg.get_by_role("dialog")
        dialog.wait_for(state="visible")
        dialog.get_by_role("button", name="2 out of 10", exact=True).click()
        pg.get_by_label("What went wrong?").wait_for()
        fb = _wait_for(lambda: (lambda d: d if len(d) else None)(ws.sql(
            "SELECT customer_id, score, json_extract_string(properties, '$.anonymous_id') AS anon FROM feedback "
            "WHERE customer_id = 'cust-77'")))  # fmt: skip
        assert fb.values.tolist() == [["cust-77", 2.0, "trk-anon-1"]]
        assert pg.evaluate("localStorage.getItem('cxlens_survey_aid')") is None  # the tracker's id was used
    finally:
        pg.close()


def test_the_real_tracker_loads_the_widget_and_shares_its_ids(site, browser):
    """/sdk/cxlens.js with init({surveys: true}): the widget starts from the tracker's config(),
    answers carry the tracker's anonymous and user ids, and the tracker's own events land too."""
    api, url, ws, key = site
    folder = Path(ws.path).parent
    (folder / "real-tracker.html").write_text(
        "<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Real tracker</title></head><body>"
        f"<p>tracker + widget</p><script src='{api}/sdk/cxlens.js'></script>"
        f"<script>cxlens.init({{writeKey: '{key}', host: '{api}', surveys: true}});"
        f"cxlens.identify('cust-88', {{plan: 'gold'}}, {{userHash: '{user_hash(identity_secret(ws), 'cust-88')}'}});"
        "</script></body></html>"
    )
    pg = new_page(browser)
    try:
        pg.goto(url.replace("shop.html", "real-tracker.html"))
        pg.wait_for_function("window.cxlensSurvey && window.cxlensSurvey.ready")
        pg.evaluate("cxlensSurvey.ready")
        anon = pg.evaluate("cxlens.user().anonymousId")
        pg.evaluate("cxlens.track('order_completed')")
        dialog = pg.get_by_role("dialog")
        dialog.wait_for(state="visible")
        dialog.get_by_role("button", name="9 out of 10", exact=True).click()
        fb = _wait_for(lambda: (lambda d: d if len(d) else None)(ws.sql(
            "SELECT customer_id, score, survey_id, json_extract_string(properties, '$.anonymous_id') AS anon "
            "FROM feedback WHERE customer_id = 'cust-88'")))  # fmt: skip
        assert fb.values.tolist() == [["cust-88", 9.0, "order-nps", anon]]
        pg.evaluate("cxlens.flush && cxlens.flush()")
        ev = _wait_for(lambda: (lambda d: d if len(d) else None)(ws.sql(
            "SELECT anonymous_id, customer_id FROM events WHERE name = 'order_completed' AND anonymous_id = ?",
            [anon])))  # fmt: skip
        assert ev.values.tolist() == [[anon, "cust-88"]]
        assert pg.errors == []
    finally:
        pg.close()
