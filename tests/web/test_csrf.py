"""CSRF protection: the double-submit token every dashboard form and htmx request carries."""

from __future__ import annotations

import re

from fastapi import Depends
from fastapi.testclient import TestClient

from cxlens.web import create_app
from cxlens.web.deps import CSRF_COOKIE, csrf_protect


def _app():
    app = create_app(":memory:")

    @app.post("/_test/form", dependencies=[Depends(csrf_protect)])
    def form() -> dict[str, str]:
        return {"ok": "yes"}

    return app


def test_page_sets_csrf_cookie_and_htmx_header_with_the_same_token():
    client = TestClient(_app())
    r = client.get("/journeys")
    token = r.cookies.get(CSRF_COOKIE)
    assert token and len(token) >= 32
    assert re.search(r'hx-headers=\'\{"X-CSRF-Token": "([^"]+)"\}\'', r.text).group(1) == token
    assert "samesite=strict" in r.headers["set-cookie"].lower() and "httponly" in r.headers["set-cookie"].lower()
    # the cookie is kept: a second page shows the same token and sets no new cookie
    r2 = client.get("/journeys")
    assert CSRF_COOKIE not in r2.cookies and token in r2.text


def test_post_without_or_with_wrong_token_is_403_and_with_it_passes():
    client = TestClient(_app())
    client.get("/journeys")
    token = client.cookies.get(CSRF_COOKIE)
    assert client.post("/_test/form", data={"x": "1"}).status_code == 403
    bad = client.post("/_test/form", data={"csrf_token": token + "x"})
    assert bad.status_code == 403 and "CSRF token is missing or does not match" in bad.text
    assert client.post("/_test/form", data={"csrf_token": token}).json() == {"ok": "yes"}
    assert client.post("/_test/form", headers={"X-CSRF-Token": token}).json() == {"ok": "yes"}


def test_a_cross_site_request_without_the_cookie_is_refused_even_with_a_token():
    app = _app()
    victim = TestClient(app)
    victim.get("/journeys")
    token = victim.cookies.get(CSRF_COOKIE)
    attacker = TestClient(app)  # no cookie: SameSite=Strict keeps it off cross-site requests
    assert attacker.post("/_test/form", data={"csrf_token": token}).status_code == 403
