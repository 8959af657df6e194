"""A single-page app in Chromium (init({spa: true})): every history.pushState to another path and
every Back (popstate) is a page view of its own, and each page view gets its own scroll depth — the
page view left sends it, with its own URL and $pageview_id, when the next one starts (the last one on
page hide)."""

from __future__ import annotations

import orjson
import pytest

from cxlens.web.hub import WorkspaceHub

from ..conftest import html_server, new_page, running, wait_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = """<!doctype html><html><head><title>App</title><script>
!function(w,d,u){{var c=w.cxlens=w.cxlens||[];if(c.loaded)return;
["init","track","page","identify","on","reset","flush","consent"].forEach(function(m){{c[m]=function(){{
var a=[].slice.call(arguments);a.unshift(m);c.push(a);return c}}}});
var s=d.createElement("script");s.async=true;s.src=u;d.head.appendChild(s)}}(window,document,"{host}/sdk/cxlens.js");
cxlens.init({{writeKey: "{key}", host: "{host}", flushInterval: 100, heatmaps: true, spa: true}});
history.scrollRestoration = "manual";
function go(path) {{ window.scrollTo(0, 0); history.pushState({{}}, "", path); document.querySelector("h1").textContent = path; }}
</script><style>body{{margin:0}} #tall{{height:4000px}}</style></head><body>
<h1>App</h1><div id="tall"></div></body></html>"""


@pytest.fixture(scope="module")
def app(tmp_path_factory, browser):
    from cxlens.web.app import create_app

    hub = WorkspaceHub.open({"spa": tmp_path_factory.mktemp("spa") / "spa.duckdb"})
    _, key = hub.create_key("spa", "write")
    with running(create_app(hub)) as url:
        static, origin = html_server(lambda _: PAGE.format(host=url, key=key))
        hub.get("spa").set_setting("collect.allowed_origins", [origin])
        yield hub.get("spa"), origin
        static.shutdown()
    hub.close()


def _scroll(page, y: int) -> None:
    page.evaluate("y => window.scrollTo(0, y)", y)
    page.wait_for_timeout(150)  # the scroll event


def test_each_spa_page_view_has_its_own_page_event_and_scroll_depth(app, browser):
    ws, origin = app
    page = new_page(browser, 1280, 800)
    try:
        page.goto(origin + "/app")
        page.wait_for_function("window.cxlens && window.cxlens.behaviourLoaded === true")
        _scroll(page, 1000)  # deepest: 1000 + 800
        page.evaluate("go('/app/items?x=1')")  # pushState: a new page view, the depth starts again at the top
        page.wait_for_timeout(150)
        _scroll(page, 400)  # 400 + 800
        page.evaluate("history.replaceState({}, '', '/app/items?x=1#tab')")  # not a navigation
        page.go_back()  # popstate: back on /app, a third page view (scroll restoration is manual)
        page.wait_for_function("location.pathname === '/app'")
        page.wait_for_timeout(150)
        _scroll(page, 2000)  # 2000 + 800
        page.goto("about:blank")  # page hide: the last page view's depth
    finally:
        page.close()
    pages = wait_rows(ws, "SELECT url, properties FROM events WHERE type = 'page' ORDER BY ts", 3)
    depths = wait_rows(ws, "SELECT url, properties FROM events WHERE name = '$scroll_depth' ORDER BY ts", 3)
    assert list(pages["url"]) == [origin + "/app", origin + "/app/items?x=1", origin + "/app"]
    views = [orjson.loads(p)["$pageview_id"] for p in pages["properties"]]
    assert len(set(views)) == 3
    got = [orjson.loads(p) for p in depths["properties"]]
    assert list(depths["url"]) == list(pages["url"])  # each depth is about the page view it was measured on
    assert [d["$pageview_id"] for d in got] == views
    assert [d["$max_y"] for d in got] == [1800, 1200, 2800]
    assert all(d["$page_height"] >= 4000 for d in got)


def test_a_zone_is_exposed_once_per_spa_page_view(app, browser):
    """Zone exposure (mid-height line visible ≥ 150 ms) is counted per page view: the zone on the next
    SPA page view is reported again, with that page view's id, and only once within a page view."""
    ws, origin = app
    ws.set_setting("behaviour.zones", [{"name": "title", "selector": "h1"}])
    before = len(ws.sql("SELECT 1 FROM events WHERE name = '$zone_exposed'"))
    page = new_page(browser, 1280, 800)
    try:
        page.goto(origin + "/zoned")
        page.wait_for_function("window.cxlens && window.cxlens.behaviourLoaded === true")
        page.wait_for_timeout(500)  # the title stays in view: exposed once, not again
        page.evaluate("go('/zoned/next')")
        page.wait_for_timeout(500)
        page.goto("about:blank")
    finally:
        page.close()
        ws.set_setting("behaviour.zones", [])
    pages = wait_rows(ws, "SELECT properties FROM events WHERE type = 'page' AND url LIKE '%/zoned%' ORDER BY ts", 2)
    got = wait_rows(ws, "SELECT url, properties FROM events WHERE name = '$zone_exposed' ORDER BY ts", before + 2)
    got = got.iloc[before:]
    assert [orjson.loads(p)["$zone"] for p in got["properties"]] == ["title", "title"]
    assert [orjson.loads(p)["$pageview_id"] for p in got["properties"]] == [
        orjson.loads(p)["$pageview_id"] for p in pages["properties"]
    ]
    assert list(got["url"]) == [origin + "/zoned", origin + "/zoned/next"]
