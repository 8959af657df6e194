"""``cxlens.variant`` in Chromium: the same variant as Python, sticky across page loads and sign-in,
one ``$exposure`` per page load reaching the read-out. The shop page is served from another origin."""

from __future__ import annotations

import orjson
import pytest

from cxlens.collect import close_collectors
from cxlens.experiments import assign
from cxlens.web.hub import WorkspaceHub

from ..conftest import html_server, new_page, running, wait_rows

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = """<!doctype html><html><head><title>shop</title>
<script src="{host}/sdk/cxlens.js"></script>
<script>cxlens.init({{writeKey: "{key}", host: "{host}", flushInterval: 100, autoPage: false}});</script>
</head><body><p>shop</p></body></html>"""


def test_variant_is_sticky_matches_python_and_records_exposures(tmp_path, browser):
    from cxlens.web.app import create_app

    hub = WorkspaceHub.open({"shop": tmp_path / "shop.duckdb"})
    _, key = hub.create_key("shop", "write")
    ws = hub.get("shop")
    ws.experiments.define("checkout-v2", ["control", "one-page"])
    page = new_page(browser)
    try:
        with running(create_app(hub)) as url:
            static, origin = html_server(lambda _: PAGE.format(host=url, key=key))
            ws.set_setting("collect.allowed_origins", [origin])
            page.goto(origin + "/shop")
            page.wait_for_function("window.cxlens && window.cxlens.loaded === true")
            aid = page.evaluate("cxlens.user().anonymousId")
            first = page.evaluate('cxlens.variant("checkout-v2", ["control", "one-page"])')
            assert first == assign("checkout-v2", aid, ["control", "one-page"])
            # the browser's hash is Python's, for many visitors, unicode and unequal splits included
            ids = [f"visitor-{i}" for i in range(300)] + ["ünïcødé-7", "用户-3", "a b@c.d"]
            js = page.evaluate(
                """(ids) => ids.map(v => cxlens._assign("hero", v, ["control", "big", "small"], [50, 25, 25]))""", ids
            )
            assert js == [assign("hero", v, ["control", "big", "small"], [50, 25, 25]) for v in ids]
            for _ in range(2):  # new page loads: the same variant, one exposure each
                page.reload()
                page.wait_for_function("window.cxlens && window.cxlens.loaded === true")
                assert page.evaluate('cxlens.variant("checkout-v2", ["control", "one-page"])') == first
                assert page.evaluate('cxlens.variant("checkout-v2", ["control", "one-page"])') == first
            # signing in does not move the visitor to another variant
            page.evaluate('cxlens.identify("user-1")')
            assert page.evaluate('cxlens.variant("checkout-v2", ["control", "one-page"])') == first
            page.evaluate("cxlens.flush()")
            rows = wait_rows(ws, "SELECT * FROM events WHERE name = '$exposure' ORDER BY ts", 3)
            assert page.errors == []
            static.shutdown()
            assert len(rows) == 3  # one per page load, none for the repeated calls
            assert {orjson.loads(p)["variant"] for p in rows.properties} == {first}
            assert set(rows.anonymous_id) == {aid}
            res = ws.experiments.results("checkout-v2", ["purchase"])
            exposed = {v["variant"]: v["exposed"] for v in res["variants"]}
            assert exposed[first] == 1 and sum(exposed.values()) == 1 and res["excluded_multiple_variants"] == 0
            for name in hub.names:
                close_collectors(hub.get(name))
    finally:
        page.close()
