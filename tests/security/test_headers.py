"""Security headers on every route of the real server, and the dashboard under its real CSP in Chromium
(charts drawn, nothing blocked, never framed by another site; the API reference served from here)."""

from __future__ import annotations

import http.server
import re
import threading
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

from cxlens.web.security import CSP

from .. import live
from ..conftest import free_port
from .conftest import PW, all_routes

VALUES = {"customer_id": "C1", "survey_id": "s1", "workspace": "shop", "name": "nps", "key_id": "x", "user_id": "x",
          "rest": "x", "kind": "track"}  # fmt: skip


def _addresses(app) -> list[tuple[str, str]]:
    out = set()
    for route, methods in all_routes(app.routes):
        path = re.sub(r"\{(\w+)(:path)?\}", lambda m: quote(VALUES.get(m.group(1), "x")), route)
        for m in methods & {"GET", "POST"}:
            out.add((m, path))
    return sorted(out)


def _check(r: httpx.Response, where: str) -> None:
    h = r.headers
    assert h.get("x-content-type-options") == "nosniff", where
    assert h.get("referrer-policy") in ("same-origin", "no-referrer"), where
    if h.get("content-type", "").startswith("text/html"):
        assert h.get("content-security-policy") == CSP and h.get("x-frame-options") == "DENY", where
        assert "frame-ancestors 'none'" in CSP and "unsafe-eval" not in CSP and "script-src 'self';" in CSP
    if not r.url.path.startswith(("/static/", "/sdk/")):
        assert "no-store" in h.get("cache-control", ""), (where, h.get("cache-control"))


@pytest.mark.parametrize("who", ["anonymous", "analyst", "admin"])
def test_every_route_answers_with_the_security_headers(env, who):
    c = live.Client(base_url=env.url) if who == "anonymous" else env.client(who)
    seen = 0
    for method, path in _addresses(env.app):
        if path.endswith("/erase") or path in ("/logout",):
            continue  # state changes that would end the session or the data (tested elsewhere)
        r = c.request(method, path, headers={"HX-Request": "true"} if "/partials/" in path else {})
        assert r.status_code < 500, (method, path, r.status_code, r.text[:200])
        _check(r, f"{who} {method} {path} -> {r.status_code}")
        seen += 1
    assert seen > 60
    for extra in ("/static/app.js", "/sdk/cxlens.js", "/no/such/page", "/api/v1/no/such"):
        _check(c.get(extra), extra)
    # personal links never leak their token as a referrer
    assert c.get("/s/shop/s1?t=abc").headers["referrer-policy"] == "no-referrer"


def test_the_api_reference_is_served_from_this_server_only(env):
    with live.Client(base_url=env.url) as c:
        page = c.get("/docs").text
        assert "cdn." not in page and "https://" not in page
        for src in re.findall(r'(?:src|href)="([^"]+)"', page):
            assert src.startswith("/static/") and c.get(src).status_code == 200, src
        assert c.get("/redoc").status_code == 404
    licence = Path(__file__).parents[2] / "src/cxlens/web/static/vendor/licenses/swagger-ui-dist-LICENSE.txt"
    assert "Apache License" in licence.read_text()


@pytest.fixture(scope="module")
def attacker_site(tmp_path_factory, env):
    """Another origin serving a page that frames the dashboard's admin page (a clickjacking attempt)."""
    folder = tmp_path_factory.mktemp("attacker")
    (folder / "frame.html").write_text(
        f"<!doctype html><title>win a prize</title><iframe id='f' src='{env.url}/admin/users' width=800 height=600>"
        "</iframe>"
    )
    port = free_port()
    handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(folder), **k)  # noqa: E731
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    httpd.RequestHandlerClass.log_message = lambda *a, **k: None
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://localhost:{port}/frame.html"
    httpd.shutdown()


def _signed_in_page(browser, env, role: str = "admin"):
    ctx = browser.new_context(viewport={"width": 1280, "height": 1000})  # the real CSP: no bypass
    pg = ctx.new_page()
    violations: list[str] = []
    pg.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    pg.on("pageerror", lambda e: violations.append(str(e)))
    pg.goto(env.url + "/login")
    pg.fill("#email", f"{role}@shop.example")
    pg.fill("#workspace", "shop")
    pg.fill("#password", PW)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_url(re.compile(r".*/(feedback)?$"))
    return ctx, pg, violations


@pytest.mark.browser
def test_the_dashboard_works_under_its_csp_and_cannot_be_framed(browser, env, attacker_site):
    ctx, pg, violations = _signed_in_page(browser, env)
    try:
        for path in ("/", "/journey", "/surveys/s1", "/customers/C1", "/funnels?steps=visit&steps=purchase"):
            pg.goto(env.url + path)
            charts = pg.locator("[data-chart]")
            for i in range(charts.count()):
                charts.nth(i).and_(pg.locator("[data-rendered=true]")).wait_for(timeout=20000)
        # forms that ask first (no inline handlers) still ask
        pg.goto(env.url + "/admin/keys")
        asked: list[str] = []
        pg.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
        revoke = pg.locator("form[data-confirm] button")
        if revoke.count():
            revoke.first.click()
            assert asked and "Revoke" in asked[0]
        # the API reference renders from the vendored Swagger UI
        pg.goto(env.url + "/docs")
        pg.locator(".swagger-ui .opblock").first.wait_for(timeout=20000)
        assert violations == [], violations
        # and the policy is really enforced: an injected inline script does not run
        try:
            pg.add_script_tag(content="window.injected = 1")
        except Exception:  # noqa: BLE001, S110 — Playwright reports the blocked script as an error too
            pass
        assert pg.evaluate("typeof window.injected") == "undefined"
        assert any("Content Security Policy" in v for v in violations)

        # another site framing the admin page gets nothing (frame-ancestors 'none' / X-Frame-Options)
        pg.goto(attacker_site)
        pg.wait_for_timeout(1500)
        frame = pg.frame_locator("#f")
        assert frame.locator("#nav").count() == 0
        assert pg.frames[1].url in ("about:blank", "chrome-error://chromewebdata/") or not pg.frames[1].content()
    finally:
        ctx.close()
