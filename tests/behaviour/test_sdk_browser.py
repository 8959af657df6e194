"""The behaviour capture in Chromium, on a shop page served from a second local server (a real cross origin).

Dead button → ``$deadclick`` (and ``$rageclick`` after three rapid clicks); a working button →
neither; a throwing button → ``$errorclick``; a masked input's value and masked text never reach
the server; the workspace's remote config turns frustration off without touching the page;
``consent(false)`` sends nothing.
"""

from __future__ import annotations

import orjson
import pytest

from ..conftest import new_page, shop_site, wait_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECRET_CARD = "4111111111111111"
PAGE = """<!doctype html><html><head><title>Checkout</title><script>
!function(w,d,u){{var c=w.cxlens=w.cxlens||[];if(c.loaded)return;
["init","track","page","identify","on","reset","flush","consent"].forEach(function(m){{c[m]=function(){{
var a=[].slice.call(arguments);a.unshift(m);c.push(a);return c}}}});
var s=d.createElement("script");s.async=true;s.src=u;d.head.appendChild(s)}}(window,document,"{host}/sdk/cxlens.js");
cxlens.init({{writeKey: "{key}", host: "{host}", flushInterval: 100, heatmaps: true, frustration: true}});
</script><style>body{{margin:0;font:16px sans-serif}} button{{margin:20px;padding:10px 30px}}</style></head><body>
<main id="checkout">
  <h1>Checkout</h1>
  <div class="actions">
    <button type="button" id="pay">Pay now</button>
    <button type="button" id="apply" onclick="var p=document.createElement('p');p.textContent='applied';this.after(p)">Apply coupon</button>
    <button type="button" id="broken" onclick="window.notDefinedAnywhere()">Estimate delivery</button>
  </div>
  <form><input id="card" class="cx-mask" autocomplete="off"> <span class="cx-mask" id="name">Ann Secretname</span></form>
  <div class="cx-no-capture"><button type="button" id="private">Private</button></div>
</main></body></html>"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory, browser):
    with shop_site(tmp_path_factory.mktemp("b"), PAGE) as (ws, origin, _):
        yield ws, origin


def _events(ws, where: str = "TRUE"):
    return ws.sql(f"SELECT name, url, session_id, properties FROM events WHERE {where} ORDER BY ts")


def _wait(ws, where: str, n: int, timeout: float = 10.0):
    return wait_rows(ws, f"SELECT name, url, session_id, properties FROM events WHERE {where} ORDER BY ts", n, timeout)


def _props(rows) -> list[dict]:
    return [orjson.loads(p) for p in rows["properties"]]


def test_dead_rage_error_clicks_and_masking(shop, browser):
    ws, origin = shop
    page = new_page(browser, 1280, 900)
    try:
        page.goto(origin + "/checkout?step=2")
        page.wait_for_function("window.cxlens && window.cxlens.behaviourLoaded === true")
        page.fill("#card", SECRET_CARD)
        page.click("#card")
        page.click("#name")
        page.click("#apply")  # works: changes the DOM
        page.click("#private")  # inside cx-no-capture: nothing at all
        page.click("#pay", click_count=3)  # no handler, clicked three times in a row
        page.click("#broken")  # throws
        page.wait_for_timeout(2900)  # the dead-click window (2.5 s) has passed for every click
        page.evaluate("cxlens.flush()")
        rows = _wait(ws, "name IN ('$deadclick', '$rageclick', '$errorclick', '$exception')", 4)
        signals = sorted(zip(rows["name"], (p["$selector"] if "$selector" in p else None for p in _props(rows)),
                             strict=True))  # fmt: skip
        assert signals == [
            ("$deadclick", "#pay"),
            ("$errorclick", "#broken"),
            ("$exception", None),
            ("$rageclick", "#pay"),
        ]
        assert set(rows["url"]) == {origin + "/checkout?step=2"}
        exc = _props(rows[rows["name"] == "$exception"])[0]
        assert "notDefinedAnywhere" in exc["$message"]
        err = _props(rows[rows["name"] == "$errorclick"])[0]
        assert "notDefinedAnywhere" in err["$message"] and err["$text"] == "Estimate delivery"

        clicks = _wait(ws, "name = '$click'", 6)
        got = _props(clicks)
        assert [c["$selector"] for c in got] == ["#card", "#name", "#apply", "#pay", "#pay", "#pay", "#broken"]
        pay = got[3]
        box = page.eval_on_selector(
            "#pay", "e => { const r = e.getBoundingClientRect(); return [r.left, r.top, r.width, r.height] }"
        )
        # page coordinates inside the button, and the same point relative to it
        assert box[0] <= pay["$x"] <= box[0] + box[2] and box[1] <= pay["$y"] <= box[1] + box[3]
        assert pay["$rel_x"] == pytest.approx((pay["$x"] - box[0]) / box[2], abs=0.01)
        assert (pay["$viewport_width"], pay["$viewport_height"], pay["$text"]) == (1280, 900, "Pay now")
        assert pay["$hesitation_ms"] >= 0 and pay["$pageview_id"] == got[0]["$pageview_id"]
        # every selector finds exactly its element
        for c in got:
            assert page.evaluate("s => document.querySelectorAll(s).length", c["$selector"]) == 1
        # masked: no text for marked elements, and no input value anywhere in what was stored
        assert got[0].get("$text") is None and got[0]["$masked"] is True
        assert got[1].get("$text") is None and got[1]["$masked"] is True
        everything = " ".join(_events(ws)["properties"])
        assert SECRET_CARD not in everything and "Secretname" not in everything
        assert "#private" not in everything
        # every message of the visit is in one session
        assert _events(ws)["session_id"].nunique() == 1 and _events(ws)["session_id"].notna().all()

        # the working button got neither signal
        assert not any(s == "#apply" for _, s in signals)

        # scroll depth leaves with the page
        page.goto("about:blank")
        depth = _props(_wait(ws, "name = '$scroll_depth'", 1))
        assert depth and depth[0]["$viewport_height"] == 900 and 0 < depth[0]["$percent"] <= 100
    finally:
        page.close()
    assert len(page.errors) == 1 and "notDefinedAnywhere" in page.errors[0]  # only the planted error


def test_remote_config_turns_frustration_off_and_consent_stops_everything(shop, browser):
    ws, origin = shop
    ws.set_setting("behaviour.frustration", False)
    page = new_page(browser, 1280, 900)
    try:
        page.goto(origin + "/remote")
        page.wait_for_function("window.cxlens && window.cxlens.behaviourLoaded === true")
        assert page.evaluate("cxlens.behaviourConfig()")["frustration"] is False
        page.click("#pay", click_count=3)
        page.wait_for_timeout(2800)
        page.evaluate("cxlens.flush()")
        clicks = _wait(ws, "name = '$click' AND url LIKE '%/remote'", 3)
        assert len(clicks) == 3
        assert len(_events(ws, "url LIKE '%/remote' AND name IN ('$deadclick', '$rageclick')")) == 0

        page.evaluate("cxlens.consent(false)")
        before = len(_events(ws))
        page.click("#apply")
        page.evaluate('cxlens.track("After Opt Out", {})')
        page.wait_for_timeout(600)
        page.evaluate("cxlens.flush()")
        page.goto("about:blank")
        page.wait_for_timeout(500)
        assert len(_events(ws)) == before
    finally:
        ws.set_setting("behaviour.frustration", None)
        page.close()
