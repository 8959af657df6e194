"""Sign in and out in a real browser (Chromium via Playwright) over a live uvicorn with users."""

from __future__ import annotations

import pytest

import cxlens
from cxlens.access import users
from cxlens.ingest.simulate import write_demo

from ..conftest import running

pytestmark = [pytest.mark.browser, pytest.mark.slow]
PW = "correct horse battery"


@pytest.fixture(scope="module")
def signed_server(tmp_path_factory, browser):
    """uvicorn over a small demo workspace that has an admin user (so sign-in is required)."""
    from cxlens.web import create_app

    ws = cxlens.open(tmp_path_factory.mktemp("signed") / "shop.duckdb")
    write_demo(ws, 150, seed=3)
    users.create_user(ws, "boss@shop.example", PW, role="admin")
    with running(create_app(ws)) as url:
        yield url, ws
    ws.close()


def test_sign_in_see_the_overview_and_sign_out(signed_server, blank_page):
    url, ws = signed_server
    pg = blank_page
    pg.goto(url + "/")
    assert pg.url == url + "/login?next=/"  # redirected to the sign-in page
    pg.fill("#email", "boss@shop.example")
    pg.fill("#password", "a wrong password")
    pg.click("#login-form button[type=submit]")
    assert pg.locator("#login-error").inner_text() == "Incorrect e-mail or password."
    pg.fill("#email", "boss@shop.example")
    pg.fill("#password", PW)
    pg.click("#login-form button[type=submit]")
    pg.wait_for_selector('[data-kpi="nps"]', timeout=20_000)
    assert pg.url == url + "/"
    n = f"n = {int(ws.metrics.nps().iloc[0]['n']):,}"
    assert " ".join(pg.locator('[data-kpi="nps"] [data-field="n"]').inner_text().split()) == n
    assert pg.locator('#user-menu [data-field="email"]').inner_text() == "boss@shop.example"
    cookies = {c["name"]: c for c in pg.context.cookies()}
    assert cookies["cxlens_session"]["httpOnly"] and cookies["cxlens_session"]["sameSite"] == "Lax"
    pg.click("#logout-form button[type=submit]")
    pg.wait_for_selector("#login-form")
    assert pg.url == url + "/login"
    pg.goto(url + "/journey")
    assert pg.url.startswith(url + "/login?next=/journey")
    assert "cxlens_session" not in {c["name"] for c in pg.context.cookies()}
    assert pg.errors == []
