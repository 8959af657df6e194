"""Sign-in and roles through the real server: an exact throttle under parallel attempts, client addresses
from trusted proxies only, no workspace names for anonymous visitors, agents' own explorer."""

from __future__ import annotations

import threading

import httpx
import pytest

from cxlens.access import users
from cxlens.access.sessions import LoginThrottle
from cxlens.web import auth as auth_mod
from cxlens.web import create_app
from cxlens.web.deps import CSRF_COOKIE
from cxlens.web.hub import WorkspaceHub

from .. import live
from .conftest import PW, login, serve


def _attempt(url: str, email: str, password: str, headers: dict | None = None) -> httpx.Response:
    with live.Client(base_url=url, timeout=60) as c:
        c.get("/login")
        return c.post("/login", data={"email": email, "password": password, "workspace": "shop",
                                      "csrf_token": c.cookies.get(CSRF_COOKIE)}, headers=headers or {})  # fmt: skip


def test_32_parallel_wrong_passwords_get_at_most_the_limit_checked(env, monkeypatch):
    users.create_user(env.hub.get("shop"), "race@shop.example", PW, role="analyst")
    checked, lock = [], threading.Lock()
    real = auth_mod.authenticate

    def counting(ws, email, password):
        with lock:
            checked.append(email)
        return real(ws, email, password)

    monkeypatch.setattr(auth_mod, "authenticate", counting)
    limit = env.app.state.login_throttle.limit
    results: list[httpx.Response] = []
    barrier = threading.Barrier(32)

    def one() -> None:
        barrier.wait()
        results.append(_attempt(env.url, "race@shop.example", "wrong password " * 2))

    threads = [threading.Thread(target=one) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in results)
    assert codes.count(401) == limit and codes.count(429) == 32 - limit, codes
    assert len(checked) == limit  # a refused attempt never reached the password check
    blocked = next(r for r in results if r.status_code == 429)
    assert 800 < int(blocked.headers["retry-after"]) <= 901
    # even the right password is refused now, without a check
    assert _attempt(env.url, "race@shop.example", PW).status_code == 429 and len(checked) == limit


def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(env, tmp_path):
    users.create_user(env.hub.get("shop"), "spoof@shop.example", PW, role="analyst")
    env.app.state.login_throttle = throttle = LoginThrottle(limit=3, window=900)
    try:
        for i in range(3):
            r = _attempt(env.url, "spoof@shop.example", "nope nope nope", {"X-Forwarded-For": f"203.0.113.{i}"})
            assert r.status_code == 401
        # a new X-Forwarded-For per try does not make a new client: the peer is not a trusted proxy
        assert _attempt(env.url, "spoof@shop.example", "x" * 12, {"X-Forwarded-For": "198.51.100.7"}).status_code == 429
        assert throttle.blocked("spoof@shop.example", "127.0.0.1")
    finally:
        env.app.state.login_throttle = LoginThrottle()

    # behind a trusted proxy (here: the loopback peer), the client is the right-most untrusted address
    hub = WorkspaceHub.open([tmp_path / "shop.duckdb"])
    users.create_user(hub.get("shop"), "spoof@shop.example", PW, role="admin")
    app = create_app(hub, trusted_proxies=["127.0.0.1", "10.0.0.0/8"])
    app.state.login_throttle = throttle = LoginThrottle(limit=2, window=900)
    with serve(app) as url:
        chain = {"X-Forwarded-For": "198.51.100.9, 203.0.113.5, 10.1.2.3"}
        for _ in range(2):
            assert _attempt(url, "spoof@shop.example", "nope nope nope", chain).status_code == 401
        assert throttle.blocked("spoof@shop.example", "203.0.113.5")
        other = {"X-Forwarded-For": "203.0.113.6"}
        assert _attempt(url, "spoof@shop.example", PW, other).status_code == 303  # another client
        # X-Forwarded-Proto from the trusted proxy marks the session cookie Secure
        r = _attempt(url, "spoof@shop.example", PW, {**other, "X-Forwarded-Proto": "https"})
        assert r.status_code == 303 and "secure" in r.headers["set-cookie"].lower()


def test_the_login_page_names_no_workspace_and_an_unknown_one_is_just_a_failed_sign_in(env):
    with live.Client(base_url=env.url) as anon:
        page = anon.get("/login").text
        assert 'name="workspace"' in page and "bank" not in page and "shop" not in page
        assert "bank" not in anon.get("/login?next=/").text
    r = _attempt(env.url, "admin@shop.example", PW)
    assert r.status_code == 303
    with live.Client(base_url=env.url) as c:
        c.get("/login")
        r = c.post("/login", data={"email": "admin@shop.example", "password": PW, "workspace": "nosuch",
                                   "csrf_token": c.cookies.get(CSRF_COOKIE)})  # fmt: skip
        assert (
            r.status_code == 401
            and "Incorrect e-mail or password." in r.text
            and "nosuch" not in r.text.split('name="workspace"')[0]
        )


def test_agents_filter_their_own_feedback_explorer(env):
    agent = env.client("agent")
    r = agent.get("/partials/feedback?sentiment=negative", headers={"HX-Request": "true"})
    assert r.status_code == 200 and "feedback-results" in agent.get("/feedback").text
    assert agent.get("/partials/overview").status_code == 403  # still only their pages


@pytest.mark.parametrize("role", ["analyst", "agent"])
def test_other_workspace_and_admin_pages_stay_closed(env, role):
    c = env.client(role)
    assert c.get("/admin/users").status_code == 403
    assert c.get("/api/v1/customers/B1").status_code in (403, 404)
    bank = login(env.url, "admin@bank.example", "bank")
    assert bank.get("/api/v1/customers/C1").status_code == 404
