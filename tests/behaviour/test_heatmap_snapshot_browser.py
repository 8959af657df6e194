"""The heatmap drawn over the page as recorded, in Chromium: a responsive shop page (a second local
server, a real cross origin) is visited at desktop and at mobile width with session replay on; the
dashboard's heatmap page rebuilds the recorded page from its full snapshot in the replayer's
sandboxed iframe and puts each click on the element it hit — at desktop width and, after the layout
changes to mobile width, where the mobile layout moved the button. The masked input never reaches
the snapshot."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from ..conftest import new_page, shop_site, wait_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECRET = "4111111111111111"
PAGE = """<!doctype html><html><head><title>Shop</title><script>
!function(w,d,u){{var c=w.cxlens=w.cxlens||[];if(c.loaded)return;
["init","track","page","identify","on","reset","flush","consent"].forEach(function(m){{c[m]=function(){{
var a=[].slice.call(arguments);a.unshift(m);c.push(a);return c}}}});
var s=d.createElement("script");s.async=true;s.src=u;d.head.appendChild(s)}}(window,document,"{host}/sdk/cxlens.js");
cxlens.init({{writeKey: "{key}", host: "{host}", flushInterval: 100, heatmaps: true, replay: {{flushInterval: 300}}}});
</script><style>
body{{margin:0;font:16px sans-serif}} .row{{display:flex;gap:20px;padding:20px}}
.info{{width:600px;height:300px;background:#eee}} #buy{{width:160px;height:50px;flex:none;border:0;padding:0}}
@media (max-width: 700px) {{ .row{{flex-direction:column}} .info{{width:auto;height:500px}} }}
</style></head><body>
<div class="row"><div class="info">Product <label>Card <input id="card" autocomplete="off"></label></div>
<button type="button" id="buy" onclick="this.textContent='Added'">Buy</button></div>
</body></html>"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory, browser):
    with shop_site(tmp_path_factory.mktemp("hs"), PAGE) as site:
        yield site


def _visit(browser, ws, origin, width, height, position, clicks_before):
    page = new_page(browser, width, height)
    try:
        page.goto(origin + "/shop?from=ad")
        page.wait_for_function("window.cxlens && window.cxlens.replayLoaded === true")
        page.fill("#card", SECRET)
        page.click("#buy", position=position)
        page.wait_for_timeout(1200)
        page.evaluate("cxlens.flush()")
        sid = page.evaluate("cxlens.session()")
        wait_rows(ws, "SELECT 1 FROM events WHERE name = '$click'", clicks_before + 1)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not ws.scalar(
            f"SELECT count(*) FROM replay_chunks WHERE session_id = '{sid}'"
        ):
            time.sleep(0.2)
    finally:
        page.close()


def _dot_and_button(page):
    """The drawn dot and #buy's box, both in the rebuilt page's coordinates."""
    return page.evaluate(
        """() => {
          const doc = document.querySelector('#heatmap-page iframe').contentDocument;
          const dots = [...doc.querySelectorAll('.cx-heat-dot')].map(d => [+d.dataset.x, +d.dataset.y, d.dataset.selector]);
          const r = doc.querySelector('#buy').getBoundingClientRect();
          return {dots, box: [r.left + doc.defaultView.scrollX, r.top + doc.defaultView.scrollY, r.width, r.height],
                  width: doc.documentElement.clientWidth};
        }"""
    )


def test_clicks_are_drawn_on_their_element_over_the_recorded_page_at_each_width(shop, browser):
    ws, origin, url = shop
    _visit(browser, ws, origin, 1280, 900, {"x": 40, "y": 10}, 0)  # rel (0.25, 0.2) of a 160×50 button
    _visit(browser, ws, origin, 390, 844, {"x": 120, "y": 40}, 1)  # rel (0.75, 0.8)
    base = url
    if True:
        snap = httpx.get(base + "/api/v1/behaviour/snapshot", params={"url": "/shop"}, timeout=30).json()
        assert [e["type"] for e in snap["events"]] == [4, 2] and snap["session_id"]
        assert SECRET not in json.dumps(snap) and "Buy" in json.dumps(snap)
        page = new_page(browser, 1366, 900)
        try:
            page.goto(base + "/heatmap?url=/shop")
            page.wait_for_selector('#heatmap-page[data-state="ready"][data-width="desktop"]', timeout=20000)
            desk = _dot_and_button(page)
            assert desk["width"] == 1280 and len(desk["dots"]) == 1
            (x, y, sel), (left, top, w, h) = desk["dots"][0], desk["box"]
            assert sel == "#buy" and abs(x - (left + 0.25 * w)) < 1.5 and abs(y - (top + 0.2 * h)) < 1.5
            page.click('[data-heat-width="mobile"]')
            page.wait_for_selector('#heatmap-page[data-state="ready"][data-width="mobile"]', timeout=20000)
            mob = _dot_and_button(page)
            assert mob["width"] == 390 and len(mob["dots"]) == 1
            (x, y, _), (left2, top2, w2, h2) = mob["dots"][0], mob["box"]
            assert abs(x - (left2 + 0.75 * w2)) < 1.5 and abs(y - (top2 + 0.8 * h2)) < 1.5
            assert top2 > top + 300 and left2 < left  # the mobile layout moved the button below the product
            assert page.errors == []
        finally:
            page.close()
