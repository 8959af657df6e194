"""``cxlens.variant`` in Chromium: the same variant as Python, sticky across page loads and sign-in,
one ``$exposure`` per page load reaching the read-out. The shop page is served from another origin."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import orjson
import pytest

from cxlens.collect import close_collectors
from cxlens.experiments import assign
from cxlens.web.hub import WorkspaceHub

from ..conftest import new_page, running

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = """<!doctype html><html><head><title>shop</title>
<script src="{host}/sdk/cxlens.js"></script>
<script>cxlens.init({{writeKey: "{key}", host: "{host}", flushInterval: 100, autoPage: false}});</script>
</head><body><p>shop</p></body></html>"""


def _static(host: str, key: str) -> tuple[ThreadingHTTPServer, str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            html = PAGE.format(host=host, key=key).encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(html)))
            self.end_headers()
            self.wfile.write(html)

        def log_message(self, *args):
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, f"http://127.0.0.1:{srv.server_address[1]}"


def _wait(ws, sql: str, n: int, timeout: float = 15.0):
    deadline = time.monotonic() + timeout
    while True:
        rows = ws.sql(sql)
        if len(rows) >= n or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_variant_is_sticky_matches_python_and_records_exposures(tmp_path, browser):
    from cxlens.web.app import create_app

    hub = WorkspaceHub.open({"shop": tmp_path / "shop.duckdb"})
    _, key = hub.create_key("shop", "write")
    ws = hub.get("shop")
    ws.experiments.define("checkout-v2", ["control", "one-page"])
    page = new_page(browser)
    try:
        with running(create_app(hub)) as url:
            static, origin = _static(url, key)
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
            rows = _wait(ws, "SELECT * FROM events WHERE name = '$exposure' ORDER BY ts", 3)
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
