"""Sign-in, sessions, CSRF, throttling, the role policy and the admin pages/API (web/auth.py)."""

from __future__ import annotations

import hashlib
import re
from urllib.parse import unquote

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens.access import LoginThrottle, users
from cxlens.customers.profile import export_customer
from cxlens.errors import ConfigError
from cxlens.web import create_app
from cxlens.web.api.metrics import jsonable
from cxlens.web.auth import SESSION_COOKIE, check_bind, safe_next
from cxlens.web.deps import CSRF_COOKIE
from cxlens.web.hub import WorkspaceHub

PW = "correct horse battery"
XSS = "<script>alert('x')</script>"


def _fill(ws) -> None:
    ws.load("customers", pd.DataFrame({
        "customer_id": ["CA1", "CA2"], "created_at": pd.to_datetime(["2024-01-01", "2024-01-01"]),
        "email": ["ann@customer.example", "bob@customer.example"], "name": [f"Ann {XSS}", "Bob"]}))  # fmt: skip
    ws.load("feedback", pd.DataFrame({
        "feedback_id": ["f1", "f2", "f3", "f4"], "customer_id": ["CA1", "CA1", "CA2", "CA2"],
        "ts": pd.to_datetime(["2024-01-02"] * 4), "metric": "nps", "score": [10, 10, 9, 0],
        "comment": ["great", "fast", "ok", "slow"]}))  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = tmp_path_factory.mktemp("auth") / "shop.duckdb"
    ws = cxlens.open(path)
    _fill(ws)
    for role in ("admin", "analyst", "agent"):
        users.create_user(ws, f"{role}@shop.example", PW, role=role)
    app = create_app(ws)
    yield app, ws
    ws.close()


def csrf(client: TestClient) -> str:
    if CSRF_COOKIE not in client.cookies:
        client.get("/login")
    return client.cookies.get(CSRF_COOKIE)


def login(client: TestClient, email: str, password: str = PW, **extra):
    client.get("/login")
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf(client), **extra},
                       follow_redirects=False)  # fmt: skip


def signed_in(app, role: str) -> TestClient:
    c = TestClient(app)
    r = login(c, f"{role}@shop.example")
    assert r.status_code == 303, r.text
    return c


# -- open mode ----------------------------------------------------------------------------------
def test_open_mode_lasts_until_the_first_user_is_created_on_the_admin_page():
    app = create_app(":memory:")
    c = TestClient(app)
    assert app.state.open_mode and c.get("/").status_code == 200 and c.get("/api/v1/metrics/nps").status_code == 200
    assert c.get("/login", follow_redirects=False).headers["location"] == "/"  # nothing to sign in to
    page = c.get("/admin/users")
    assert "Open mode" in page.text
    r = c.post("/admin/users", data={"email": "boss@shop.example", "password": PW, "role": "admin",
                                     "csrf_token": c.cookies.get(CSRF_COOKIE)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303 and app.state.open_mode is False
    assert c.get("/", follow_redirects=False).headers["location"] == "/login?next=/"
    assert c.get("/api/v1/metrics/nps").status_code == 401


# -- pages and public paths ---------------------------------------------------------------------
def test_pages_redirect_to_login_with_a_relative_next_and_public_paths_stay_open(site):
    app, _ = site
    c = TestClient(app)
    r = c.get("/journey?stage=purchase&x=1", follow_redirects=False)
    assert r.status_code == 303 and unquote(r.headers["location"]) == "/login?next=/journey?stage=purchase&x=1"
    hx = c.get("/partials/overview", headers={"HX-Request": "true"}, follow_redirects=False)
    assert hx.status_code == 401 and hx.headers["HX-Redirect"] == "/login?next=/partials/overview"
    api = c.get("/api/v1/metrics/nps")
    assert api.status_code == 401 and api.json()["error"]["type"] == "AuthError"
    assert c.get("/health").json() == {"status": "ok"}
    assert c.get("/static/app.css").status_code == 200
    assert c.get("/login").status_code == 200
    assert c.get("/openapi.json").status_code == 200


def test_safe_next_refuses_anything_but_a_relative_path():
    assert safe_next("/journey?x=1") == "/journey?x=1"
    for bad in ("//evil.example/x", "https://evil.example", "/\\evil.example", "journey", "/login", "/ok\r\nX: y", ""):
        assert safe_next(bad) is None, bad


def test_sign_in_sets_a_hashed_server_side_session_and_sign_out_deletes_it(site):
    app, ws = site
    c = TestClient(app)
    before = csrf(c)
    r = login(c, "admin@shop.example", next="/journey")
    assert r.status_code == 303 and r.headers["location"] == "/journey"
    cookie = next(h for h in r.headers.get_list("set-cookie") if h.startswith(SESSION_COOKIE))
    assert "httponly" in cookie.lower() and "samesite=lax" in cookie.lower() and "secure" not in cookie.lower()
    name, _, token = c.cookies.get(SESSION_COOKIE).strip('"').rpartition(":")
    assert name == "shop"
    stored = {h for (h,) in ws.rows("SELECT token_hash FROM sessions")}
    assert hashlib.sha256(token.encode()).hexdigest() in stored and token not in str(stored)
    assert c.cookies.get(CSRF_COOKIE) != before  # CSRF token rotated at sign-in
    page = c.get("/")
    assert page.status_code == 200 and 'data-field="email">admin@shop.example<' in page.text
    # sign-out needs the (new) CSRF token; the old one is refused
    assert c.post("/logout", data={"csrf_token": before}).status_code == 403
    out = c.post("/logout", data={"csrf_token": c.cookies.get(CSRF_COOKIE)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert hashlib.sha256(token.encode()).hexdigest() not in {h for (h,) in ws.rows("SELECT token_hash FROM sessions")}
    # replaying the old cookie does not work: the session is gone on the server
    replay = TestClient(app, cookies={SESSION_COOKIE: f"shop:{token}"})
    assert replay.get("/", follow_redirects=False).status_code == 303


def test_cookies_are_secure_over_https_and_with_secure_cookies(site, tmp_path):
    app, _ = site
    c = TestClient(app, base_url="https://testserver")
    r = login(c, "analyst@shop.example")
    assert all("secure" in h.lower() for h in r.headers.get_list("set-cookie"))
    with cxlens.open(tmp_path / "w.duckdb") as ws:
        users.create_user(ws, "a@shop.example", PW, role="admin")
        c2 = TestClient(create_app(ws, secure_cookies=True))  # plain http, e.g. behind a TLS proxy
        first = c2.get("/login")
        assert "secure" in first.headers["set-cookie"].lower()
        tok = first.cookies.get(CSRF_COOKIE)  # a client does not send a Secure cookie over http: pass it by hand
        r2 = c2.post("/login", data={"email": "a@shop.example", "password": PW, "csrf_token": tok},
                     headers={"Cookie": f"{CSRF_COOKIE}={tok}"}, follow_redirects=False)  # fmt: skip
        assert r2.status_code == 303
        assert all("secure" in h.lower() for h in r2.headers.get_list("set-cookie"))


def test_every_sign_in_gets_a_new_token_no_fixation(site):
    app, _ = site
    c = TestClient(app)
    c.cookies.set(SESSION_COOKIE, "shop:attacker-chosen-token", domain="testserver.local")
    login(c, "agent@shop.example")
    first = c.cookies.get(SESSION_COOKIE)
    assert "attacker-chosen-token" not in first
    login(c, "agent@shop.example")
    second = c.cookies.get(SESSION_COOKIE)
    assert second != first
    assert TestClient(app, cookies={SESSION_COOKIE: first}).get("/feedback", follow_redirects=False).status_code == 303


def test_wrong_password_and_unknown_email_get_the_same_message(site):
    app, _ = site
    c = TestClient(app)
    wrong = login(c, "admin@shop.example", "not the password")
    unknown = login(c, "nobody@shop.example", PW)
    msg = re.compile(r'id="login-error" role="alert">([^<]+)<')
    assert wrong.status_code == unknown.status_code == 401
    assert msg.search(wrong.text).group(1) == msg.search(unknown.text).group(1) == "Incorrect e-mail or password."
    assert SESSION_COOKIE not in c.cookies


def test_failed_sign_ins_are_throttled_per_email_and_client(site):
    app, _ = site
    saved = app.state.login_throttle
    app.state.login_throttle = LoginThrottle(limit=3, window=900)
    try:
        c = TestClient(app)
        assert [login(c, "analyst@shop.example", "nope nope nope").status_code for _ in range(3)] == [401] * 3
        blocked = login(c, "analyst@shop.example")  # even the right password, now
        assert blocked.status_code == 429 and int(blocked.headers["Retry-After"]) > 800
        assert "Too many failed sign-ins" in blocked.text and SESSION_COOKIE not in c.cookies
        assert login(c, "agent@shop.example").status_code == 303  # another e-mail is not blocked
    finally:
        app.state.login_throttle = saved


def test_login_logout_and_admin_forms_without_csrf_are_403(site):
    app, ws = site
    c = TestClient(app)
    c.get("/login")
    assert c.post("/login", data={"email": "admin@shop.example", "password": PW}).status_code == 403
    c = signed_in(app, "admin")
    n_users, n_keys = len(users.list_users(ws)), ws.scalar("SELECT count(*) FROM api_keys")
    assert c.post("/admin/users", data={"email": "x@shop.example", "password": PW, "role": "agent"}).status_code == 403
    assert c.post("/admin/keys", data={"kind": "secret"}).status_code == 403
    assert c.post("/logout").status_code == 403
    assert c.get("/").status_code == 200  # still signed in
    # a session's JSON calls need the header too
    assert c.post("/api/v1/keys", json={"kind": "write"}).status_code == 403
    assert len(users.list_users(ws)) == n_users
    assert ws.scalar("SELECT count(*) FROM api_keys") == n_keys


# -- roles ----------------------------------------------------------------------------------------
ROLE_MATRIX = [
    ("agent", "/journey", 403), ("agent", "/journeys", 403), ("agent", "/funnels", 403),
    ("agent", "/feedback", 200), ("agent", "/customers/CA1", 200), ("agent", "/customers", 403),
    ("agent", "/api/v1/voice/feedback", 200), ("agent", "/api/v1/metrics/nps", 403), ("agent", "/admin/users", 403),
    ("analyst", "/", 200), ("analyst", "/journey", 200), ("analyst", "/feedback", 200),
    ("analyst", "/customers/CA1", 200), ("analyst", "/api/v1/metrics/nps", 200),
    ("analyst", "/admin/users", 403), ("analyst", "/admin/keys", 403), ("analyst", "/api/v1/keys", 403),
    ("admin", "/", 200), ("admin", "/journey", 200), ("admin", "/admin/users", 200), ("admin", "/admin/keys", 200),
    ("admin", "/api/v1/keys", 200), ("admin", "/api/v1/users", 200), ("admin", "/customers/CA1/export", 200),
    ("analyst", "/customers/CA1/export", 403), ("agent", "/customers/CA1/export", 403),
]  # fmt: skip


@pytest.fixture(scope="module")
def clients(site):
    app, _ = site
    return {role: signed_in(app, role) for role in ("admin", "analyst", "agent")}


@pytest.mark.parametrize(("role", "path", "status"), ROLE_MATRIX)
def test_role_matrix(clients, role, path, status):
    r = clients[role].get(path, follow_redirects=False)
    assert r.status_code == status, (role, path, r.text[:300])


def test_agent_lands_on_feedback_and_sees_only_its_pages_in_the_navigation(clients):
    agent = clients["agent"]
    assert agent.get("/", follow_redirects=False).headers["location"] == "/feedback"
    nav = re.search(r'<ul id="nav".*?</ul>', agent.get("/feedback").text, re.S).group(0)
    assert 'href="/feedback"' in nav and 'href="/journey"' not in nav and 'href="/admin/users"' not in nav
    admin_nav = re.search(r'<ul id="nav".*?</ul>', clients["admin"].get("/").text, re.S).group(0)
    assert 'href="/admin/users"' in admin_nav and 'href="/journey"' in admin_nav


def test_analyst_may_not_write_admin_paths(clients):
    c = clients["analyst"]
    r = c.post("/admin/keys", data={"kind": "secret", "csrf_token": c.cookies.get(CSRF_COOKIE)})
    assert r.status_code == 403 and "needs admin" in r.text


# -- PII on the customer 360, export and erase --------------------------------------------------------
def test_pii_is_masked_for_analysts_and_shown_escaped_to_admins_and_agents(clients):
    analyst = clients["analyst"].get("/customers/CA1").text
    assert "ann@customer.example" not in analyst
    assert re.search(r'data-trait="email"><th scope="row">email</th><td>\*\*\*</td>', analyst)
    assert "masked for the analyst role" in analyst and 'id="erase-form"' not in analyst
    for role in ("admin", "agent"):
        html = clients[role].get("/customers/CA1").text
        assert re.search(r'data-trait="email"><th scope="row">email</th><td>ann@customer.example</td>', html)
        assert "Ann &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;" in html and XSS not in html
    assert 'id="erase-form"' in clients["admin"].get("/customers/CA1").text
    assert 'id="erase-form"' not in clients["agent"].get("/customers/CA1").text


def test_admin_export_is_the_library_export_as_a_download(clients, site):
    _, ws = site
    r = clients["admin"].get("/customers/CA2/export")
    assert r.headers["content-disposition"] == 'attachment; filename="customer-CA2.json"'
    got, want = r.json(), jsonable(export_customer(ws, "CA2"))
    assert got["customer_id"] == "CA2" and got["tables"] == want["tables"]
    assert sorted(x["feedback_id"] for x in got["tables"]["feedback"]) == ["f3", "f4"]
    assert got["tables"]["customers"][0]["email"] == "bob@customer.example"


def test_erase_via_the_ui_needs_admin_csrf_and_the_typed_id(tmp_path):
    with cxlens.open(tmp_path / "shop.duckdb") as ws:
        _fill(ws)
        users.create_user(ws, "admin@shop.example", PW, role="admin")
        users.create_user(ws, "analyst@shop.example", PW, role="analyst")
        app = create_app(ws)
        admin, analyst = signed_in(app, "admin"), signed_in(app, "analyst")
        a_tok = analyst.cookies.get(CSRF_COOKIE)
        assert analyst.post("/customers/CA2/erase", data={"confirm": "CA2", "csrf_token": a_tok}).status_code == 403
        assert admin.post("/customers/CA2/erase", data={"confirm": "CA2"}).status_code == 403  # no CSRF token
        tok = admin.cookies.get(CSRF_COOKIE)
        wrong = admin.post("/customers/CA2/erase", data={"confirm": "CA1", "csrf_token": tok})
        assert wrong.status_code == 400 and "does not match" in wrong.text
        assert ws.sql("SELECT count(*) AS n FROM feedback WHERE customer_id = 'CA2'")["n"][0] == 2
        done = admin.post("/customers/CA2/erase", data={"confirm": "CA2", "csrf_token": tok})
        assert done.status_code == 200 and 'data-table="feedback"' in done.text
        counts = ws.sql("SELECT (SELECT count(*) FROM customers WHERE customer_id = 'CA2') AS c, "
                        "(SELECT count(*) FROM feedback WHERE customer_id = 'CA2') AS f")  # fmt: skip
        assert (int(counts["c"][0]), int(counts["f"][0])) == (0, 0)
        assert admin.get("/customers/CA2").status_code == 404
        # NPS now counts CA1's two promoters only: 100
        assert admin.get("/api/v1/metrics/nps").json()["rows"][0]["nps"] == 100.0


# -- admin pages and API -------------------------------------------------------------------------------
def test_keys_page_shows_a_new_key_once_and_revoking_it_stops_it(site):
    app, _ = site
    admin = signed_in(app, "admin")
    tok = admin.cookies.get(CSRF_COOKIE)
    r = admin.post("/admin/keys", data={"kind": "secret", "name": "etl", "csrf_token": tok})
    key = re.search(r'id="new-key-value"[^>]*>([^<]+)<', r.text).group(1)
    assert key.startswith("cxs_") and r.headers["cache-control"] == "no-store"
    listing = admin.get("/admin/keys").text
    assert key not in listing and key[:10] in listing
    api = TestClient(app, headers={"Authorization": f"Bearer {key}"})
    assert api.get("/api/v1/metrics/nps").json()["rows"][0]["n"] == 4
    key_id = re.search(r'data-key="(key_[0-9a-f]+)" data-kind="secret" data-revoked="no"', listing).group(1)
    assert (
        admin.post(f"/admin/keys/{key_id}/revoke", data={"csrf_token": tok}, follow_redirects=False).status_code == 303
    )
    assert api.get("/api/v1/metrics/nps").status_code == 401


def test_users_page_creates_changes_and_disables_users(site):
    app, ws = site
    admin = signed_in(app, "admin")
    tok = admin.cookies.get(CSRF_COOKIE)
    short = admin.post("/admin/users", data={"email": "new@shop.example", "password": "short", "role": "agent",
                                             "csrf_token": tok})  # fmt: skip
    assert short.status_code == 400 and "expected at least 10" in short.text
    ok = admin.post("/admin/users", data={"email": "New@Shop.example", "password": PW, "role": "agent",
                                          "csrf_token": tok}, follow_redirects=False)  # fmt: skip
    assert ok.status_code == 303
    new = users.get_user(ws, "new@shop.example")
    assert new.role == "agent"
    newbie = signed_in(app, "new")  # e-mail new@shop.example
    assert newbie.get("/feedback").status_code == 200
    admin.post(f"/admin/users/{new.user_id}/role", data={"role": "analyst", "csrf_token": tok})
    assert users.get_user(ws, new.user_id).role == "analyst"
    assert newbie.get("/feedback", follow_redirects=False).status_code == 303  # role change ended the session
    newbie = signed_in(app, "new")
    admin.post(f"/admin/users/{new.user_id}/disable", data={"csrf_token": tok})
    assert users.get_user(ws, new.user_id).disabled
    assert newbie.get("/", follow_redirects=False).status_code == 303
    assert login(TestClient(app), "new@shop.example").status_code == 401


def test_admin_api_with_a_secret_key_and_with_a_session(site):
    app, ws = site
    admin = signed_in(app, "admin")
    hdr = {"X-CSRF-Token": admin.cookies.get(CSRF_COOKIE)}
    made = admin.post("/api/v1/keys", json={"kind": "secret", "name": "api"}, headers=hdr)
    assert made.status_code == 201 and made.json()["created_by"] == "admin@shop.example"
    secret = made.json()["key"]
    api = TestClient(app, headers={"Authorization": f"Bearer {secret}"})
    write = api.post("/api/v1/keys", json={"kind": "write"}).json()
    assert write["key"].startswith("cxw_") and write["created_by"] == f"key:{made.json()['key_id']}"
    ids = {k["key_id"] for k in api.get("/api/v1/keys").json()["keys"]}
    assert {made.json()["key_id"], write["key_id"]} <= ids
    as_write = TestClient(app, headers={"Authorization": f"Bearer {write['key']}"})
    r = as_write.get("/api/v1/metrics/nps")
    assert r.status_code == 403 and "a write key may not call /api/v1/metrics/nps" in r.json()["error"]["message"]
    assert as_write.get("/api/v1/keys").status_code == 403
    assert TestClient(app, headers={"Authorization": "Bearer cxs_unknown"}).get("/api/v1/keys").status_code == 401
    u = api.post("/api/v1/users", json={"email": "api@shop.example", "password": PW, "role": "agent"})
    assert u.status_code == 201 and users.get_user(ws, "api@shop.example").role == "agent"
    bad = api.post("/api/v1/users", json={"email": "api2@shop.example", "password": "short", "role": "agent"})
    assert bad.status_code == 400 and "expected at least 10" in bad.json()["error"]["message"]
    assert api.patch("/api/v1/users/api@shop.example", json={"role": "analyst"}).json()["role"] == "analyst"
    assert api.post(f"/api/v1/keys/{write['key_id']}/revoke").json()["revoked_at"] is not None
    assert as_write.get("/api/v1/keys").status_code == 401


# -- serve -------------------------------------------------------------------------------------------
def test_serving_a_public_address_needs_a_user(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    hub = WorkspaceHub.open([a, b])
    try:
        for host in ("127.0.0.1", "localhost", "::1", "127.0.0.2"):
            check_bind(host, hub)  # loopback: fine without users
        with pytest.raises(ConfigError, match=r"refusing to serve on '0\.0\.0\.0'.*cxlens users create"):
            check_bind("0.0.0.0", hub)
        with pytest.raises(ConfigError, match="refusing"):
            check_bind("192.168.1.10", hub)
        users.create_user(hub.get("b"), "boss@b.example", PW, role="admin")  # a user in any workspace
        check_bind("0.0.0.0", hub)
        check_bind("::", hub)
    finally:
        hub.close()


def test_sign_in_never_redirects_off_site_and_a_single_workspace_has_no_chooser(site):
    app, _ = site
    c = TestClient(app)
    assert 'name="workspace"' not in c.get("/login").text
    for evil in ("//evil.example/x", "https://evil.example/"):
        r = login(c, "analyst@shop.example", next=evil)
        assert r.status_code == 303 and r.headers["location"] == "/"
    assert login(c, "agent@shop.example", next="").headers["location"] == "/feedback"
