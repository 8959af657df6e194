"""The browser tracker in Chromium: page views, track, identify, stitching and the unload beacon.

The test page is served from a second origin (a tiny static server on another port), so every
call crosses CORS exactly as on a customer's site.
"""

from __future__ import annotations

import orjson
import pandas as pd
import pytest
from tests.conftest import html_server, wait_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SNIPPET = """<!doctype html><html><head><title>{title}</title><script>
!function(w,d,u){{var c=w.cxlens=w.cxlens||[];if(c.loaded)return;
["init","track","page","identify","on","reset","flush"].forEach(function(m){{c[m]=function(){{
var a=[].slice.call(arguments);a.unshift(m);c.push(a);return c}}}});
var s=d.createElement("script");s.async=true;s.src=u;d.head.appendChild(s)}}(window,document,"{host}/sdk/cxlens.js");
cxlens.init({{writeKey: "{key}", host: "{host}", flushInterval: {interval}, flushAt: {at}}});
cxlens.track("Early Event", {{queued: "before the tracker loaded"}});
</script></head><body><p>shop</p></body></html>"""


def _site(collect_url: str, key: str):
    def render(path: str) -> str:
        slow = "slow" in path  # a page whose tracker never flushes on its own: only the beacon sends
        return SNIPPET.format(
            title="Leaving" if slow else "Shop home",
            host=collect_url,
            key=key,
            interval=600000 if slow else 150,
            at=1000 if slow else 20,
        )

    return html_server(render)


def test_tracker_sends_page_track_identify_and_beacon(live, browser):
    srv, hub, key = live
    ws = hub.get("shop")
    static, origin = _site(srv.url, key)
    ws.set_setting("collect.allowed_origins", [origin])
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(origin + "/home")
        page.wait_for_function("window.cxlens && window.cxlens.loaded === true")
        user = page.evaluate("cxlens.user()")
        assert user["userId"] is None and len(user["anonymousId"]) == 36
        heard = page.evaluate(
            """() => { const got = []; cxlens.on("track", m => got.push([m.type, m.event, m.anonymousId]));
                       cxlens.track("Clicked", {button: "buy", n: 1}); return got; }"""
        )
        assert heard == [["track", "Clicked", user["anonymousId"]]]
        # surveys: true loads the survey widget from the same host, with a script tag
        src = page.evaluate(
            f"""() => {{ cxlens.init({{writeKey: "{key}", host: "{srv.url}", surveys: true, autoPage: false}});
                       const s = document.querySelector('script[src$="/sdk/cxlens-survey.js"]');
                       return s && s.src; }}"""
        )
        assert src == srv.url + "/sdk/cxlens-survey.js"
        page.evaluate('cxlens.identify("user-9", {email: "ann@example.com", plan: "pro"})')
        page.evaluate('cxlens.track("After Identify", {})')
        rows = wait_rows(ws, "SELECT * FROM events ORDER BY ts, event_id", 5)
        assert sorted(rows["name"]) == sorted(["Early Event", "/home", "Clicked", "identify", "After Identify"])
        assert set(rows.anonymous_id) == {user["anonymousId"]}
        by_name = rows.set_index("name")
        home = by_name.loc["/home"]
        assert (home.type, home.url, home.channel) == ("page", origin + "/home", "web")
        assert orjson.loads(by_name.loc["Clicked"].properties)["button"] == "buy"
        assert orjson.loads(by_name.loc["Early Event"].properties)["queued"] == "before the tracker loaded"
        assert by_name.loc["identify"].customer_id == "user-9"
        assert by_name.loc["After Identify"].customer_id == "user-9"
        assert pd.isna(by_name.loc["Clicked"].customer_id)
        assert ws.sql("SELECT anonymous_id, customer_id FROM collect_identities").values.tolist() == [
            [user["anonymousId"], "user-9"]
        ]
        assert ws.sql("SELECT customer_id, email, plan FROM customers").values.tolist() == [
            ["user-9", "ann@example.com", "pro"]
        ]

        # a page that never flushes by itself: what is queued at unload leaves by sendBeacon
        page.goto(origin + "/slow")
        page.wait_for_function("window.cxlens && window.cxlens.loaded === true")
        assert page.evaluate("cxlens.user()") == {"anonymousId": user["anonymousId"], "userId": "user-9",
                                                  "userHash": None}  # fmt: skip
        page.evaluate('cxlens.track("Queued At Unload", {last: true})')
        page.goto("about:blank")
        beacon = wait_rows(ws, "SELECT * FROM events WHERE name IN ('Queued At Unload', '/slow')", 2)
        assert sorted(beacon["name"]) == ["/slow", "Queued At Unload"]
        assert set(beacon.customer_id) == {"user-9"} and set(beacon.anonymous_id) == {user["anonymousId"]}
        assert errors == []
    finally:
        page.close()
        static.shutdown()


def test_an_origin_not_allowed_gets_nothing_written(live, browser):
    srv, hub, key = live
    ws = hub.get("shop")
    static, origin = _site(srv.url, key)
    ws.set_setting("collect.allowed_origins", ["https://somewhere-else.example"])
    page = browser.new_page()
    try:
        page.goto(origin + "/home")
        page.wait_for_function("window.cxlens && window.cxlens.loaded === true")
        page.evaluate('cxlens.track("Blocked", {})')
        page.wait_for_timeout(1500)  # several flush intervals: retries are refused as well
        assert ws.sql("SELECT count(*) AS n FROM events")["n"][0] == 0
    finally:
        page.close()
        static.shutdown()
