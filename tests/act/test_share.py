"""Shared report links through a real server: made by the API, the dashboard and the CLI, opened
without an account; signed, stored hashed, expiring, revocable, per workspace; showing what the
creator's role may see with personal data masked as for it; reaching nothing else."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re

import httpx
import pandas as pd
import pytest

from cxlens.access import users
from cxlens.act.schedule import run_schedule
from cxlens.act.share import create_link
from cxlens.web import create_app
from cxlens.web.deps import CSRF_COOKIE
from cxlens.web.hub import WorkspaceHub

from ..conftest import running
from ..conftest import signed_in as login
from .conftest import cli

PW = "correct horse battery staple"
EMAIL = "jane.doe@example.com"
XSS = "<script>alert(1)</script>"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    d = tmp_path_factory.mktemp("share")
    hub = WorkspaceHub.open([d / "shop.duckdb", d / "other.duckdb"])
    ws, other = hub.get("shop"), hub.get("other")
    for email, role in (("admin@x.example", "admin"), ("analyst@x.example", "analyst"), ("agent@x.example", "agent")):
        users.create_user(ws, email, PW, role=role)
    users.create_user(other, "admin@other.example", PW, role="admin")
    now = pd.Timestamp.now(tz="UTC").tz_localize(None).floor("h")
    fb = pd.DataFrame({"feedback_id": [f"f{i}" for i in range(6)], "customer_id": [f"C{i}" for i in range(6)],
                       "ts": [now - pd.Timedelta(days=1, hours=i) for i in range(6)], "metric": "nps",
                       "score": [0, 3, 9, 10, 6, 8], "touchpoint": "checkout",
                       "comment": [f"Write to me at {EMAIL}, the refund never came", "slow delivery", "great",
                                   "great", "meh", "ok"]})  # fmt: skip
    ws.load("feedback", fb)
    with ws.transaction(changes=["verbatim_themes"]) as cur:  # as the themes job stores them
        cur.execute("INSERT INTO verbatim_themes VALUES ('feedback:f0', ?, NULL, 't'), "
                    "('feedback:f1', 'delivery', NULL, 't'), ('feedback:f2', 'delivery', NULL, 't')", [XSS])  # fmt: skip
    ws.act.allow_host("hooks.example.com")
    ws.act.load_rules({"rules": [{"name": "morning", "when": {"schedule": {"every": "day", "at": "08:00",
                                                                           "metrics": ["nps"]}},
                                  "do": [{"webhook": {"url": "https://hooks.example.com/d"}}]}]})  # fmt: skip
    run_schedule(ws, ws.act.rule("morning"), dt.datetime.now(dt.UTC).replace(tzinfo=None))
    ws.set_setting("act.base_url", "https://cx.example.com")
    with running(create_app(hub)) as url:
        yield {"url": url, "ws": ws, "other": other}
    hub.close()


def _path(url: str) -> str:
    return url.removeprefix("https://cx.example.com")


def test_an_analyst_link_to_the_themes_masks_personal_data_escapes_and_stores_only_a_hash(env):
    c = login(env["url"], "analyst@x.example")
    r = c.post("/api/v1/shares", json={"view": "themes", "expires": "7d"})
    assert r.status_code == 201, r.text
    link = r.json()
    assert link["role"] == "analyst" and link["url"].startswith("https://cx.example.com/shared/shop/")
    token = link["token"]
    page = httpx.get(env["url"] + _path(link["url"]), timeout=60)  # no account, no cookie
    assert page.status_code == 200, page.text[:500]
    assert EMAIL not in page.text and "[EMAIL]" in page.text and "the refund never came" in page.text
    assert XSS not in page.text and "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
    assert "delivery" in page.text and "Customer text is redacted" in page.text
    csp = page.headers["content-security-policy"]
    assert "connect-src 'none'" in csp and "form-action 'none'" in csp and "frame-ancestors 'none'" in csp
    assert page.headers["referrer-policy"] == "no-referrer" and page.headers["cache-control"] == "no-store"
    # stored: the SHA-256 of the token, never the token (nor its signature) in any column
    rows = env["ws"].store.read("SELECT * FROM act_shares WHERE link_id = ?", [link["link_id"]])
    assert rows["token_hash"].iloc[0] == hashlib.sha256(token.encode()).hexdigest()
    assert not any(token.split(".")[1] in str(v) for v in rows.iloc[0].tolist())
    assert rows["created_by"].iloc[0] == "analyst@x.example"
    # an admin's link shows what an admin sees (personal data revealed: docs say so)
    a = login(env["url"], "admin@x.example").post("/api/v1/shares", json={"view": "themes"}).json()
    assert EMAIL in httpx.get(env["url"] + a["path"], timeout=60).text


def test_an_agent_may_not_share_and_bad_views_are_named(env):
    agent = login(env["url"], "agent@x.example")
    assert agent.post("/api/v1/shares", json={"view": "overview"}).status_code == 403
    analyst = login(env["url"], "analyst@x.example")
    r = analyst.post("/api/v1/shares", json={"view": "secrets"})
    assert r.status_code == 400 and "view 'secrets' cannot be shared" in r.text
    r = analyst.post("/api/v1/shares", json={"view": "themes", "expires": "365d"})
    assert r.status_code == 400 and "at most 90d" in r.text
    r = analyst.post("/api/v1/shares", json={"view": "digest:nope"})
    assert r.status_code == 404
    assert cli(env["ws"], "share", "create", "overview", "--role", "agent", ok=False).message.startswith(
        "role 'agent' may not share the overview view"
    )


def test_tampered_expired_revoked_and_another_workspaces_links_answer_404_or_410(env):
    ws, url = env["ws"], env["url"]
    link = create_link(ws.store, "themes", role="analyst")
    token = link["token"]
    ok = httpx.get(f"{url}/shared/shop/{token}", timeout=60)
    assert ok.status_code == 200
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for bad in (flipped, token.replace("sh_", "sd_", 1), token.split(".")[0], "x" * 40, token + "x"):
        r = httpx.get(f"{url}/shared/shop/{bad}", timeout=60)
        assert r.status_code == 404 and "does not exist" in r.text, bad
    # the same token under another workspace of the server, or an unknown one
    for name in ("other", "nope"):
        r = httpx.get(f"{url}/shared/{name}/{token}", timeout=60)
        assert r.status_code == 404 and "does not exist" in r.text
    other = create_link(env["other"].store, "themes", role="admin")
    assert httpx.get(f"{url}/shared/shop/{other['token']}", timeout=60).status_code == 404
    assert httpx.get(f"{url}{other['path']}", timeout=60).status_code == 200
    # expired: made two hours ago for one hour
    old = create_link(ws.store, "themes", role="analyst", expires="1h",
                      now=dt.datetime.now(dt.UTC).replace(tzinfo=None) - dt.timedelta(hours=2))  # fmt: skip
    r = httpx.get(f"{url}{old['path']}", timeout=60)
    assert r.status_code == 410 and "expired on" in r.text and "can no longer be used" in r.text
    # revoked with the CLI: at once 410; the list says so (and never shows a token)
    cli(ws, "share", "revoke", link["link_id"])
    r = httpx.get(f"{url}/shared/shop/{token}", timeout=60)
    assert r.status_code == 410 and "was revoked" in r.text
    listed = json.loads(cli(ws, "share", "list", "--format", "json").stdout)
    by_id = {x["link_id"]: x for x in listed}
    assert by_id[link["link_id"]]["status"] == "revoked" and by_id[old["link_id"]]["status"] == "expired"
    assert "token" not in by_id[link["link_id"]] and "token_hash" not in by_id[link["link_id"]]
    with pytest.raises(Exception, match="does not exist"):
        ws.act.revoke_share("sh_nope")


def test_the_cli_prints_a_link_that_opens_and_the_api_revokes_it(env):
    ws, url = env["ws"], env["url"]
    printed = cli(ws, "share", "create", "overview", "--expires", "7d").stdout
    address = re.search(r"https://cx\.example\.com/shared/shop/\S+", printed).group(0)
    assert "expires" in printed and "admin view" in printed
    assert httpx.get(url + _path(address), timeout=120).status_code == 200
    link_id = _path(address).rsplit("/", 1)[1].split(".")[0]
    admin = login(url, "admin@x.example")
    assert admin.delete(f"/api/v1/shares/{link_id}").json() == {"link_id": link_id, "status": "revoked"}
    assert httpx.get(url + _path(address), timeout=60).status_code == 410
    listed = {x["link_id"]: x for x in admin.get("/api/v1/shares").json()}
    assert listed[link_id]["status"] == "revoked" and listed[link_id]["revoked_by"] == "admin@x.example"
    assert all("token" not in x and "token_hash" not in x for x in listed.values())


def test_a_token_reaches_its_page_and_nothing_else(env):
    ws, url = env["ws"], env["url"]
    link = create_link(ws.store, "themes", role="admin")
    token = link["token"]
    with httpx.Client(base_url=url, timeout=60, follow_redirects=False) as c:
        assert c.get(link["path"]).status_code == 200
        # the API and the dashboard still need a session or a key, whatever the visitor holds
        for path in ("/api/v1/shares", "/api/v1/metrics/nps", "/api/v1/rules"):
            assert c.get(path, headers={"authorization": f"Bearer {token}"}).status_code == 401
            assert c.get(path).status_code == 401
        assert c.get("/").status_code == 303 and c.get("/shares").status_code == 303
        assert c.post("/api/v1/shares", json={"view": "themes"}).status_code == 401
        # nothing under the link's own address but its page (and a digest's charts)
        assert c.get(f"{link['path']}/charts/kpi.png").status_code == 404
        assert c.get(f"{link['path']}/api/v1/shares").status_code == 404
        assert c.get(f"{link['path']}/../../api/v1/shares").status_code in (401, 404)


def test_the_overview_journey_and_digest_views_are_self_contained_pages(env):
    ws, url = env["ws"], env["url"]
    for view in ("overview", "journey"):
        link = create_link(ws.store, view, role="analyst")
        r = httpx.get(url + link["path"], timeout=120)
        assert r.status_code == 200 and r.text.startswith("<!doctype html>"), view
        scripts = re.findall(r"<script>(.*?)</script>", r.text, re.S)
        assert scripts  # the chart libraries inline, each allowed by its hash and nothing else
        csp = r.headers["content-security-policy"]
        assert csp.count("'sha256-") == len(set(scripts)) and "'unsafe-inline'" not in csp.split("style-src")[0]
        assert not re.search(r"""(src|href)=["']/(?!/)""", r.text)  # no address on the dashboard
        assert EMAIL not in r.text and "C0" not in re.sub(r"<script>.*?</script>", "", r.text, flags=re.S)
    d = create_link(ws.store, "digest:morning", role="analyst")
    r = httpx.get(url + d["path"], timeout=120)
    assert r.status_code == 200 and "Digest of rule morning" in r.text
    assert "NPS" in r.text and "data:image/png;base64," in r.text  # the KPI trend inline
    png = httpx.get(f"{url}{d['path']}/charts/kpi.png", timeout=120)
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    assert png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_dashboard_page_makes_lists_and_revokes_links(env):
    c = login(env["url"], "analyst@x.example")
    page = c.get("/shares")
    assert page.status_code == 200 and "digest:morning" in page.text  # the schedule rule can be shared
    r = c.post("/shares", data={"view": "journey", "expires": "1d", "csrf_token": c.cookies.get(CSRF_COOKIE)})
    assert r.status_code == 201
    shared = re.search(r'id="new-url" value="([^"]+)"', r.text).group(1)
    assert shared.startswith("https://cx.example.com/shared/shop/sh_")
    link_id = shared.rsplit("/", 1)[1].split(".")[0]
    assert f'data-link="{link_id}" data-status="active"' in r.text
    forged = c.post(f"/shares/{link_id}/revoke", data={"csrf_token": "forged"}, headers={"x-csrf-token": "forged"})
    assert forged.status_code == 403
    done = c.post(f"/shares/{link_id}/revoke", data={"csrf_token": c.cookies.get(CSRF_COOKIE)})
    assert done.status_code == 303
    assert f'data-link="{link_id}" data-status="revoked"' in c.get("/shares").text
    assert httpx.get(env["url"] + _path(shared), timeout=60).status_code == 410
    agent = login(env["url"], "agent@x.example")
    assert agent.get("/shares", follow_redirects=False).status_code == 403


def test_in_chromium_the_shared_overview_draws_its_charts_under_its_own_csp(env, browser):
    from ..conftest import new_page

    link = create_link(env["ws"].store, "overview", role="analyst")
    page = new_page(browser, 1280, 1000, bypass_csp=False)
    blocked: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: blocked.append(m.text) if "Content Security Policy" in m.text else None)
    page.on("request", lambda r: requests.append(r.url))
    try:
        page.goto(env["url"] + link["path"])
        page.wait_for_selector(".vega-embed svg, .vega-embed canvas", state="attached", timeout=30000)
        charts = page.locator("[data-chart]")
        assert charts.count() >= 1
        assert {charts.nth(i).get_attribute("data-rendered") for i in range(charts.count())} == {"true"}
    finally:
        page.close()
    assert blocked == [] and page.errors == []
    assert [r for r in requests if not r.startswith(("data:", env["url"] + link["path"]))] == []


def test_each_shareable_page_links_to_the_share_form_with_its_view_and_dates(env):
    """Overview, journey map and themes carry "Share this view…" for admins and analysts; the link fills
    in the form, and the link made from it opens that view."""
    c = login(env["url"], "analyst@x.example")
    day = (pd.Timestamp.now() - pd.Timedelta(days=30)).date().isoformat()
    for page, view in (("/", "overview"), ("/journey", "journey"), ("/themes", "themes")):
        html = c.get(f"{page}?start={day}").text
        href = re.search(r'<a href="([^"]+)" id="share-this" data-share-view="([^"]+)"', html)
        assert href is not None, page
        assert href.group(2) == view
        form = c.get(href.group(1).replace("&amp;", "&"))
        assert form.status_code == 200
        assert f'<option value="{view}" selected>' in form.text
        assert f'id="s-start" name="start" value="{day}"' in form.text
        made = c.post("/shares", data={"view": view, "start": day, "expires": "1d",
                                       "csrf_token": c.cookies.get(CSRF_COOKIE)})  # fmt: skip
        assert made.status_code == 201
        shared = re.search(r'id="new-url" value="([^"]+)"', made.text).group(1)
        assert httpx.get(env["url"] + _path(shared), timeout=60).status_code == 200
    # a garbled date in the link is refused, naming it, as on every other page
    bad = c.get("/shares?view=themes&start=31/12/2025")
    assert bad.status_code == 400 and "start" in bad.text and "2024-01-31" in bad.text
