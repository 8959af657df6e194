"""ws.behaviour on hand-made events whose answers are worked out by hand below (library, CLI and HTTP API)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

import cxlens
from cxlens.cli import app
from cxlens.errors import ParameterError

T0 = datetime(2026, 11, 2, 10, 0, 0)
SHOP = "https://shop.example"
TOUCHPOINTS = {"/home": "homepage", "/checkout": "checkout", "/cart": "cart"}


def _ev(rows: list[tuple]) -> pd.DataFrame:
    """(session, seconds after T0, name, url, properties) → events rows (page views when name is None)."""
    out = []
    for i, (sid, sec, name, url, props) in enumerate(rows):
        out.append(
            {
                "event_id": f"e{i}",
                "customer_id": f"c-{sid}",
                "anonymous_id": f"a-{sid}",
                "session_id": sid,
                "ts": T0 + timedelta(seconds=sec),
                "type": "page" if name is None else "track",
                "name": url.replace(SHOP, "") if name is None else name,
                "channel": "web",
                "touchpoint": TOUCHPOINTS.get(url.replace(SHOP, "").split("?")[0]) if name is None else None,
                "url": url,
                "properties": json.dumps(props or {}),
            }
        )
    return pd.DataFrame(out)


def _frustration_events() -> pd.DataFrame:
    """Three sessions. s1: home → checkout (2 s) → home again = a quick back on checkout (the SDK's event), where it
    rage- and dead-clicks #pay. s2: home → checkout (60 s, the page's usual dwell) → cart, a dead
    click on #pay. s3: cart only, an error click on #coupon."""
    co, home, cart = SHOP + "/checkout?step=1", SHOP + "/home", SHOP + "/cart"
    pay = {"$selector": "#pay"}
    return _ev(
        [
            ("s1", 0, None, home, {}),
            ("s1", 10, None, co, {}),
            ("s1", 11, "$rageclick", co, pay),
            ("s1", 11.5, "$deadclick", co, pay),
            ("s1", 12, None, home, {}),
            ("s1", 12, "$quickback", co, {"$dwell_ms": 2000, "$threshold_ms": 5000, "$to_url": home}),
            ("s2", 100, None, home, {}),
            ("s2", 105, None, SHOP + "/checkout", {}),
            ("s2", 110, "$deadclick", SHOP + "/checkout", pay),
            ("s2", 165, None, cart, {}),
            ("s3", 200, None, cart, {}),
            ("s3", 201, "$errorclick", cart, {"$selector": "#coupon", "$message": "boom"}),
        ]
    )


@pytest.fixture(scope="module")
def fws(tmp_path_factory):
    path = tmp_path_factory.mktemp("f") / "f.duckdb"
    with cxlens.open(path) as ws:
        ws.insert("events", _frustration_events())
    return path


def test_frustration_by_url_counts_signals_and_quick_backs(fws):
    with cxlens.open(fws, read_only=True) as ws:
        df = ws.behaviour.frustration(by="url").set_index("url")
    co, cart, home = df.loc[SHOP + "/checkout"], df.loc[SHOP + "/cart"], df.loc[SHOP + "/home"]
    assert (co.pageviews, co.sessions, co.rage_clicks, co.dead_clicks, co.error_clicks, co.quick_backs) == (
        2, 2, 1, 2, 0, 1,
    )  # fmt: skip
    # 100 × (3·1 rage + 2·2 dead + 3·0 error + 1·1 quick back) / 2 page views
    assert co.frustration_score == pytest.approx(400.0)
    assert cart.frustration_score == pytest.approx(100 * 3 / 2) and cart.pageviews == 2
    assert (home.pageviews, home.quick_backs, home.frustration_score) == (3, 0, 0.0)
    assert list(df.index[:2]) == [SHOP + "/checkout", SHOP + "/cart"]  # worst first
    assert co.frustrated_sessions == 2 and co.frustrated_share == 1.0 and co.frustrated_ci_low < 1.0


def test_frustration_by_selector_and_touchpoint(fws):
    with cxlens.open(fws, read_only=True) as ws:
        sel = ws.behaviour.frustration(by="selector")
        tp = ws.behaviour.frustration(by="touchpoint").set_index("touchpoint")
        only = ws.behaviour.frustration(by="url", url="/cart")
    top = sel.iloc[0]
    assert (top.url, top.selector, top.rage_clicks, top.dead_clicks) == (SHOP + "/checkout", "#pay", 1, 2)
    assert top.frustration_score == pytest.approx(100 * (3 + 4) / 2)
    assert sel.set_index("selector").loc["#coupon"].error_clicks == 1
    assert tp.loc["checkout"].dead_clicks == 2 and tp.loc["checkout"].pageviews == 2
    assert tp.loc["cart"].error_clicks == 1 and tp.loc["homepage"].pageviews == 3
    assert list(only["url"]) == [SHOP + "/cart"]


def test_a_path_filter_matches_pages_whose_scheme_is_upper_case(tmp_path):
    """``url="/cart"`` compares the path of every page, whatever the case of its scheme: the page views
    and the signals of HTTPS://… are both found (the page views once used a lower-case-only pattern)."""
    page = "HTTPS://shop.example/cart"
    rows = [("u1", 0, None, page, None), ("u1", 5, "$rageclick", page, {"$selector": "#buy"}),
            ("u2", 0, None, page, None)]  # fmt: skip
    with cxlens.open(tmp_path / "u.duckdb") as ws:
        ws.insert("events", _ev(rows))
        df = ws.behaviour.frustration(by="url", url="/cart")
    assert list(df["url"]) == [page]
    assert (df.iloc[0].pageviews, df.iloc[0].rage_clicks) == (2, 1)
    assert df.iloc[0].frustration_score == pytest.approx(100 * 3 / 2)


def test_sessions_are_scored_and_filtered(fws):
    with cxlens.open(fws, read_only=True) as ws:
        all_ = ws.behaviour.sessions()
        err = ws.behaviour.sessions(signal="error_clicks")
        co = ws.behaviour.sessions(url="/checkout")
        hi = ws.behaviour.sessions(min_score=3)
        with pytest.raises(ParameterError, match="signal"):
            ws.behaviour.sessions(signal="angry")
    # s1: 3 rage + 2 dead + 1 quick back = 6; s3: 3 error = 3; s2: 2 dead = 2
    assert list(all_["session_id"]) == ["s1", "s3", "s2"]
    assert list(all_["frustration_score"]) == [6.0, 3.0, 2.0]
    s1 = all_.iloc[0]
    assert (s1.customer_id, s1.pages, s1.quick_backs, s1.duration_s) == ("c-s1", 3, 1, 12)
    assert list(err["session_id"]) == ["s3"]
    assert sorted(co["session_id"]) == ["s1", "s2"]
    assert list(hi["session_id"]) == ["s1", "s3"]


def _click(pv, sec, x, y, vw, zones=(), hes=None, since=None, sel="#b"):
    return {"$pageview_id": pv, "$x": x, "$y": y, "$viewport_width": vw, "$selector": sel, "$zones": list(zones),
            "$hesitation_ms": hes, "$since_load_ms": since}  # fmt: skip


@pytest.fixture(scope="module")
def zws(tmp_path_factory):
    """Page /p, four page views. pv1: hero and cta exposed, hero clicked twice (first: hesitation 200 ms,
    1 s after load), cta once (100 ms, 5 s). pv2: hero exposed and clicked (400 ms, 2 s). pv3: both
    exposed, no click. pv4: nothing exposed, cta clicked (1000 ms, 8 s). Plus a tablet click and
    scroll depths 100, 50, 30 and 0 %."""
    p = SHOP + "/p"
    rows = []
    for i in range(1, 5):
        rows.append((f"s{i}", i * 100, None, p, {"$pageview_id": f"pv{i}"}))
    rows += [
        ("s1", 101, "$zone_exposed", p, {"$pageview_id": "pv1", "$zone": "hero"}),
        ("s1", 101, "$zone_exposed", p, {"$pageview_id": "pv1", "$zone": "cta"}),
        ("s1", 102, "$click", p, _click("pv1", 102, 640, 100, 1280, ["hero"], 200, 1000)),
        ("s1", 104, "$click", p, _click("pv1", 104, 640, 110, 1280, ["hero"], 500, 3000)),
        ("s1", 106, "$click", p, _click("pv1", 106, 0, 15, 1280, ["cta"], 100, 5000, sel="#cta")),
        ("s2", 201, "$zone_exposed", p, {"$pageview_id": "pv2", "$zone": "hero"}),
        ("s2", 202, "$click", p, _click("pv2", 202, 400, 100, 800, ["hero"], 400, 2000)),
        ("s3", 301, "$zone_exposed", p, {"$pageview_id": "pv3", "$zone": "hero"}),
        ("s3", 301, "$zone_exposed", p, {"$pageview_id": "pv3", "$zone": "cta"}),
        ("s4", 408, "$click", p, _click("pv4", 408, 10, 900, 390, ["cta"], 1000, 8000, sel="#cta")),
    ]
    for i, pct in enumerate([100, 50, 30, 0], start=1):
        rows.append((f"s{i}", i * 100 + 50, "$scroll_depth", p, {"$percent": pct, "$viewport_width": 1280,
                                                                   "$viewport_height": 900, "$pageview_id": f"pv{i}"}))  # fmt: skip
    path = tmp_path_factory.mktemp("z") / "z.duckdb"
    with cxlens.open(path) as ws:
        ws.insert("events", _ev(rows).assign(touchpoint=None))
        ws.set_setting("behaviour.zones", [{"name": "hero", "selector": "#hero"}, {"name": "cta", "selector": "#cta"}])
    return path


def test_zones_follow_contentsquare_definitions(zws):
    with cxlens.open(zws, read_only=True) as ws:
        z = ws.behaviour.zones(SHOP + "/p?utm=x").set_index("zone")
    hero, cta = z.loc["hero"], z.loc["cta"]
    assert list(z.index) == ["hero", "cta"] and hero.pageviews == 4
    # hero: clicked in pv1, pv2 (2/4); 3 clicks over 2 page views; exposed in pv1-3 (3/4); exposed and clicked 2/3
    assert (hero.click_rate, hero.click_recurrence, hero.exposure_rate) == (0.5, 1.5, 0.75)
    assert hero.attractiveness == pytest.approx(2 / 3)
    # first click per page view: hesitations 200, 400 ms; 1 s, 2 s after load (interpolated percentiles)
    assert (hero.hesitation_p50, hero.hesitation_p75) == (300, 350)
    assert (hero.first_click_p50, hero.first_click_p75) == (1.5, 1.75)
    # cta: clicked in pv1, pv4 (2/4), once each; exposed pv1, pv3 (2/4); exposed and clicked pv1 only (1/2)
    assert (cta.click_rate, cta.click_recurrence, cta.exposure_rate, cta.attractiveness) == (0.5, 1.0, 0.5, 0.5)
    assert (cta.hesitation_p50, cta.hesitation_p75, cta.first_click_p50, cta.first_click_p75) == (550, 775, 6.5, 7.25)


def test_heatmap_cells_widths_and_scroll_reach(zws):
    with cxlens.open(zws, read_only=True) as ws:
        desk = ws.behaviour.heatmap("/p", x_bins=10, y_px=20)
        tab = ws.behaviour.heatmap("/p", width="tablet", x_bins=10)
        mob = ws.behaviour.heatmap("/p", width="mobile", x_bins=10)
        scroll = ws.behaviour.heatmap("/p", kind="scroll").set_index("depth")
        cm = ws.behaviour.clickmap("/p").set_index("selector")
        with pytest.raises(ParameterError, match="width"):
            ws.behaviour.heatmap("/p", width="watch")
        with pytest.raises(ParameterError, match="kind"):
            ws.behaviour.heatmap("/p", kind="hover")
    # desktop: (640,100), (640,110) → cell x 0.5, y 100; (0,15) → x 0, y 0
    assert desk[["x", "y", "clicks"]].values.tolist() == [[0.5, 100, 2], [0.0, 0, 1]]
    assert desk["n"].iloc[0] == 3 and desk["share"].iloc[0] == pytest.approx(2 / 3)
    assert tab[["x", "y", "clicks"]].values.tolist() == [[0.5, 100, 1]]
    assert mob[["x", "y", "clicks"]].values.tolist() == [[0.0, 900, 1]]
    assert scroll.loc[0, "reach"] == 1.0 and scroll.loc[5, "reach"] == 0.75 and scroll.loc[30, "reach"] == 0.75
    assert scroll.loc[35, "reach"] == 0.5 and scroll.loc[55, "reach"] == 0.25 and scroll.loc[100, "reach"] == 0.25
    assert scroll.loc[100, "n"] == 4 and scroll.loc[35, "ci_low"] < 0.5 < scroll.loc[35, "ci_high"]
    assert (cm.loc["#b", "clicks"], cm.loc["#b", "pageviews_clicked"], cm.loc["#cta", "clicks"]) == (3, 2, 2)
    assert cm.loc["#b", "click_rate"] == 0.5


def test_cli_frustration_zones_and_heatmap_png(fws, zws, tmp_path):
    runner = CliRunner()
    res = runner.invoke(app, ["-w", str(fws), "behaviour", "frustration", "--by", "url", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert rows[0]["url"] == SHOP + "/checkout" and rows[0]["frustration_score"] == 400.0
    res = runner.invoke(app, ["-w", str(fws), "behaviour", "frustration", "--by", "selector", "--format", "csv"])
    assert res.exit_code == 0 and res.stdout.splitlines()[1].startswith(SHOP + "/checkout,#pay,2,")
    res = runner.invoke(app, ["-w", str(fws), "behaviour", "frustration", "--by", "page"])
    assert res.exit_code != 0 and isinstance(res.exception, ParameterError) and "by is 'page'" in str(res.exception)
    res = runner.invoke(app, ["-w", str(zws), "behaviour", "zones", "/p", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)[0]["attractiveness"] == pytest.approx(2 / 3)
    out = tmp_path / "heatmap.png"
    res = runner.invoke(app, ["-w", str(zws), "behaviour", "heatmap", "/p", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and out.stat().st_size > 2000
    res = runner.invoke(app, ["-w", str(zws), "behaviour", "heatmap", "/p", "--kind", "scroll", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout)[0]["reach"] == 1.0


def test_http_api_and_remote_config(zws):
    from fastapi.testclient import TestClient

    from cxlens.web.app import create_app
    from cxlens.web.hub import WorkspaceHub

    hub = WorkspaceHub.open({"z": zws})
    _, key = hub.create_key("z", "write")
    try:
        with TestClient(create_app(hub)) as c:
            r = c.get("/api/v1/behaviour/zones", params={"url": "/p"})
            assert r.status_code == 200 and r.json()[0]["zone"] == "hero" and r.json()[0]["click_rate"] == 0.5
            r = c.get("/api/v1/behaviour/heatmap", params={"url": "/p", "width": "tablet"})
            assert r.json() == [{"x": 0.5, "y": 100, "clicks": 1, "share": 1.0, "n": 1}]
            r = c.get("/api/v1/behaviour/heatmap", params={"url": "/p", "width": "watch"})
            assert r.status_code == 400 and "width" in r.text
            assert c.get("/api/v1/behaviour/frustration", params={"by": "selector"}).status_code == 200
            # the public remote config needs the write key
            assert c.get("/v1/behaviour/config").status_code == 401
            cfg = c.get("/v1/behaviour/config", params={"writeKey": key}).json()
            assert cfg == {"heatmaps": None, "frustration": None, "replay": None, "maskSelector": None,
                           "zones": [{"name": "hero", "selector": "#hero"}, {"name": "cta", "selector": "#cta"}]}  # fmt: skip
            r = c.put("/api/v1/behaviour/zone-definitions", content=orjson.dumps([{"name": "x", "selector": ""}]),
                      headers={"content-type": "application/json"})  # fmt: skip
            assert r.status_code == 400 and "zones[0].selector" in r.text
            assert c.get("/sdk/cxlens-behaviour.js").text.startswith("/*! cxlens-behaviour.js")
    finally:
        hub.close()


def test_the_collect_only_server_serves_the_config_and_the_script(tmp_path):
    from fastapi.testclient import TestClient

    from cxlens.web.api.collect import create_collect_app
    from cxlens.web.hub import WorkspaceHub

    hub = WorkspaceHub.open({"s": tmp_path / "s.duckdb"})
    _, key = hub.create_key("s", "write")
    hub.get("s").set_setting("behaviour.heatmaps", False)
    hub.get("s").set_setting("collect.allowed_origins", ["https://shop.example"])
    with TestClient(create_collect_app(hub)) as c:
        r = c.get("/v1/behaviour/config", params={"writeKey": key}, headers={"origin": "https://shop.example"})
        assert r.json()["heatmaps"] is False and r.headers["access-control-allow-origin"] == "https://shop.example"
        r = c.get("/v1/behaviour/config", params={"writeKey": key}, headers={"origin": "https://evil.example"})
        assert r.status_code == 403 and "access-control-allow-origin" not in r.headers
        assert c.get("/sdk/cxlens-behaviour.js").status_code == 200
        hub.get("s").set_setting("behaviour.heatmaps", "yes")
        r = c.get("/v1/behaviour/config", params={"writeKey": key})
        assert r.status_code == 400 and "behaviour.heatmaps" in r.text


def test_gdpr_erase_removes_a_customers_behaviour(tmp_path):
    from cxlens.customers.profile import erase_customer

    with cxlens.open(tmp_path / "e.duckdb") as ws:
        ws.insert("events", _frustration_events())
        assert "s1" in set(ws.behaviour.sessions()["session_id"])
        assert ws.scalar("SELECT count(*) FROM behaviour_events WHERE customer_id = 'c-s1'") == 6
        erase_customer(ws, "c-s1")
        assert ws.scalar("SELECT count(*) FROM behaviour_events WHERE customer_id = 'c-s1'") == 0
        assert set(ws.behaviour.sessions()["session_id"]) == {"s2", "s3"}
        co = ws.behaviour.frustration(by="url").set_index("url").loc[SHOP + "/checkout"]
        assert (co.rage_clicks, co.dead_clicks, co.quick_backs) == (0, 1, 0)


def test_typed_copy_follows_events_and_matches_the_read_only_path(tmp_path):
    from cxlens.behaviour.sync import sync

    path = tmp_path / "s.duckdb"
    events = _frustration_events()
    with cxlens.open(path) as ws:
        ws.insert("events", events.iloc[:6])
        first = ws.behaviour.frustration(by="url")
        assert first.set_index("url").loc[SHOP + "/checkout"].dead_clicks == 1
        assert sync(ws.store) == 0  # unchanged events: nothing to copy
        ws.insert("events", events.iloc[6:])  # more events arrive
        typed = ws.behaviour.frustration(by="selector")
        assert ws.scalar("SELECT count(*) FROM behaviour_events") == len(events)
        # an older event imported later is found too (the full check)
        ws.insert(
            "events",
            _ev([("s9", -86400 * 30, "$deadclick", SHOP + "/old", {"$selector": "#x"})]).assign(event_id="old"),
        )
        assert ws.behaviour.clickmap("/old", kind="deadclick")["clicks"].tolist() == [1]
    with cxlens.open(path, read_only=True) as ro:
        parsed = ro.behaviour.frustration(by="selector")
    pd.testing.assert_frame_equal(typed, parsed[parsed["url"] != SHOP + "/old"].reset_index(drop=True))
