"""Session replay in Chromium, on a shop page served from a second local server (a real cross origin).

Replay on: the session is recorded and stored in compressed blocks, a masked input's value, cx-mask
text and a cx-block element's content never reach the server (checked on the wire and in storage),
the rage click is in the recording, and the dashboard's player (under its real CSP) plays it with the
rage click on its timeline and jumps to it. Replay off, consent withheld or withdrawn, and a visit
shorter than minimumDuration send nothing.
"""

from __future__ import annotations

import gzip
import time
import zlib

import orjson
import pytest

from cxlens.web.hub import WorkspaceHub

from ..conftest import html_server, new_page, running, wait_rows
from . import navclock

pytestmark = [pytest.mark.browser, pytest.mark.slow]

SECRET_CARD = "4111111111111111"
OPTIONS = {
    "/checkout": "replay: {flushInterval: 400}",
    "/off": "",
    "/remote": "",
    "/beacon": "replay: {flushInterval: 600000}",
    "/consent": "replay: {flushInterval: 300}, requireConsent: true",
    "/withdraw": "replay: {flushInterval: 300}",
    "/short": "replay: {flushInterval: 300, minimumDuration: 60000}",
    "/sampled-out": "replay: {flushInterval: 300, sampleRate: 0}",
    "/qb-a": "replay: {flushInterval: 300}",
    "/qb-b": "replay: {flushInterval: 300}",
}
PAGE = """<!doctype html><html><head><title>Checkout</title><script>
!function(w,d,u){{var c=w.cxlens=w.cxlens||[];if(c.loaded)return;
["init","track","page","identify","on","reset","flush","consent"].forEach(function(m){{c[m]=function(){{
var a=[].slice.call(arguments);a.unshift(m);c.push(a);return c}}}});
var s=d.createElement("script");s.async=true;s.src=u;d.head.appendChild(s)}}(window,document,"{host}/sdk/cxlens.js");
cxlens.init({{writeKey: "{key}", host: "{host}", flushInterval: 100, frustration: true, {options}}});
</script><style>body{{margin:0;font:16px sans-serif}} button{{margin:20px;padding:10px 30px}}</style></head><body>
<main id="checkout">
  <h1>Checkout</h1>
  <button type="button" id="pay">Pay now</button>
  <button type="button" id="apply" onclick="var p=document.createElement('p');p.textContent='applied';this.after(p)">Apply coupon</button>
  <form><label>Card <input id="card" autocomplete="off"></label> <span class="cx-mask" id="name">Ann Secretname</span></form>
  <div class="cx-block" id="blocked">Blockedcontent here</div>
</main></body></html>"""


@pytest.fixture(scope="module")
def shop(tmp_path_factory, browser):
    from cxlens.web.app import create_app

    hub = WorkspaceHub.open({"shop": tmp_path_factory.mktemp("r") / "shop.duckdb"})
    _, key = hub.create_key("shop", "write")
    with running(create_app(hub)) as url:

        def render(path: str) -> str:
            return PAGE.format(host=url, key=key, options=OPTIONS.get(path.split("?")[0], ""))

        static, origin = html_server(render)
        hub.get("shop").set_setting("collect.allowed_origins", [origin])
        yield hub.get("shop"), origin, url
        static.shutdown()
    hub.close()


def _watch(page) -> list[bytes]:
    """Every replay request body the page sends, decompressed (what reaches the server)."""
    bodies: list[bytes] = []

    def on_request(req):
        if req.url.split("?")[0].endswith("/v1/replay") and req.method == "POST":
            body = req.post_data_buffer or b""
            bodies.append(gzip.decompress(body) if body[:2] == b"\x1f\x8b" else body)

    page.on("request", on_request)
    return bodies


def _stored(ws, session_id: str) -> bytes:
    rows = ws.sql(f"SELECT data FROM replay_chunks WHERE session_id = '{session_id}' ORDER BY seq")
    return b"".join(zlib.decompress(bytes(d)) for d in rows["data"])


def _has(ws, table: str) -> bool:
    return len(ws.sql(f"SELECT 1 FROM information_schema.tables WHERE table_name = '{table}'")) == 1


def test_replay_recorded_masked_stored_and_played_with_the_rage_click(shop, browser):
    ws, origin, url = shop
    page = new_page(browser, 1280, 900)
    sent = _watch(page)
    try:
        page.goto(origin + "/checkout")
        page.wait_for_function("window.cxlens && window.cxlens.replayLoaded === true")
        assert page.evaluate("typeof window.rrwebRecord") == "object"  # the replay bundle, loaded lazily
        page.fill("#card", SECRET_CARD)
        page.click("#apply")
        page.click("#pay", click_count=3)  # rage click (and dead: no handler)
        page.wait_for_timeout(2900)
        page.evaluate("cxlens.flush()")
        sid = page.evaluate("cxlens.session()")
        wait_rows(ws, "SELECT name FROM events WHERE name = '$rageclick'", 1)
        deadline = time.monotonic() + 15
        while b'"$rageclick"' not in _stored(ws, sid) and time.monotonic() < deadline:
            time.sleep(0.2)
        stored = _stored(ws, sid)
        assert b'"$rageclick"' in stored and b'"selector":"#pay"' in stored
        # nothing masked reached the server: not on the wire, not in storage
        wire = b"".join(sent)
        assert wire and sent[0].startswith(b"{") and b'"sessionId":"' + sid.encode() + b'"' in sent[0]
        for secret in (SECRET_CARD.encode(), b"Secretname", b"Blockedcontent"):
            assert secret not in wire and secret not in stored
        assert b"Pay now" in stored  # the page itself is recorded
        assert b"*" * len(SECRET_CARD) in stored  # the input, recorded masked
        # the replay and the events are one session
        assert set(ws.sql("SELECT DISTINCT session_id FROM events WHERE name = '$rageclick'")["session_id"]) == {sid}
        # chunks are flushed every 400 ms and by flush(); on a loaded machine the last one may still be
        # on its way when the rage click's chunk is stored: wait for it rather than a fixed time
        chunks = f"SELECT chunks FROM replay_sessions WHERE session_id = '{sid}'"
        deadline = time.monotonic() + 15
        while ws.sql(chunks)["chunks"].iloc[0] < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
        meta = ws.sql(f"SELECT * FROM replay_sessions WHERE session_id = '{sid}'").iloc[0]
        assert meta["url"] == origin + "/checkout" and meta["chunks"] >= 2
        assert meta["stored_bytes"] < meta["raw_bytes"]
        page.goto("about:blank")
    finally:
        page.close()
    assert page.errors == []

    # the dashboard's player, under its real Content-Security-Policy
    player = new_page(browser, 1280, 1000, bypass_csp=False)
    csp: list[str] = []
    player.on("console", lambda m: csp.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        player.goto(f"{url}/frustration")  # the frustrated session links to its replay
        assert player.locator("#frustration-sessions a[data-field=replay]").get_attribute("href") == f"/replays/{sid}"
        player.goto(f"{url}/replays?frustrated=1")
        assert player.locator("#replays a[data-field=session]").all_inner_texts() == [sid]
        player.click(f"#replays a:has-text('{sid}')")
        player.wait_for_selector("#replay-player[data-state=ready]", state="attached", timeout=15000)
        player.wait_for_selector(".rr-player iframe", state="attached")
        player.screenshot(path="/tmp/replay-player.png")
        # the timeline marks the rage click, and the signal list jumps the player to it
        assert player.locator('.rr-progress div[title="$rageclick"]').count() == 1
        rage = player.locator('#replay-signals button[data-signal="$rageclick"]')
        assert "Rage click on #pay" in rage.inner_text()
        offset = int(rage.get_attribute("data-offset"))
        rage.click()
        want = max(0, offset - 1000) // 1000
        shown = player.locator(".rr-timeline__time").first
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            m, s = shown.inner_text().split(":")
            if int(m) * 60 + int(s) == want:
                break
            time.sleep(0.1)
        assert int(m) * 60 + int(s) == want
        # the rebuilt page is in a sandboxed iframe without scripts, its input masked
        frame = player.locator(".rr-player iframe")
        assert "allow-scripts" not in (frame.get_attribute("sandbox") or "")
    finally:
        player.close()
    assert csp == [] and player.errors == []


def test_replay_off_consent_and_minimum_duration_send_nothing(shop, browser):
    ws, origin, _ = shop
    before = len(ws.sql("SELECT * FROM replay_chunks")) if _has(ws, "replay_chunks") else 0
    for path in ("/off", "/consent", "/short", "/sampled-out"):
        page = new_page(browser, 1024, 700)
        sent = _watch(page)
        scripts: list[str] = []
        page.on("request", lambda r, s=scripts: s.append(r.url) if "cxlens-replay.js" in r.url else None)
        try:
            page.goto(origin + path)
            page.wait_for_function("window.cxlens && window.cxlens.loaded === true")
            page.wait_for_timeout(400)
            page.click("#pay")
            page.fill("#card", "1234")
            page.wait_for_timeout(900)
            page.goto("about:blank")  # page hide: the beacon would go now
            page.wait_for_timeout(300)
        finally:
            page.close()
        assert sent == [], path
        if path in ("/off", "/consent"):
            assert scripts == [], path  # the replay bundle is not even loaded
    # consent withdrawn during a recording: nothing after it
    page = new_page(browser, 1024, 700)
    sent = _watch(page)
    try:
        page.goto(origin + "/withdraw")
        page.wait_for_function("window.cxlens && window.cxlens.replayLoaded === true")
        page.click("#apply")
        deadline = time.monotonic() + 10
        while not sent and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        assert sent  # it was recording
        page.evaluate("cxlens.consent(false)")
        n = len(sent)
        page.click("#apply")
        page.fill("#card", "after opt out")
        page.wait_for_timeout(900)
        page.goto("about:blank")
        page.wait_for_timeout(300)
        assert len(sent) == n
    finally:
        page.close()
    after = len(ws.sql("SELECT * FROM replay_chunks"))
    assert after - before == n


def test_remote_config_turns_replay_on_and_off_without_touching_the_page(shop, browser):
    ws, origin, _ = shop
    try:
        for setting, path, want in ((True, "/remote", True), (False, "/checkout", False)):
            ws.set_setting("behaviour.replay", setting)
            page = new_page(browser, 1024, 700)
            sent = _watch(page)
            try:
                page.goto(origin + path + "?remote")
                page.wait_for_function("window.cxlens && window.cxlens.loaded === true")
                page.wait_for_timeout(700)  # the remote config (cached 60 s by the browser: a new page each time)
                page.click("#apply")
                deadline = time.monotonic() + (8 if want else 1.5)
                while not sent and time.monotonic() < deadline:
                    page.wait_for_timeout(100)
                assert bool(sent) is want, path
                assert page.evaluate("cxlens.behaviourConfig().replay") is want
            finally:
                page.close()
    finally:
        ws.set_setting("behaviour.replay", None)


def test_page_hide_sends_what_is_left_with_a_beacon(shop, browser):
    ws, origin, _ = shop
    page = new_page(browser, 1024, 700)
    sent: list[tuple[str, bytes]] = []
    page.on("request", lambda r: sent.append((r.url, r.post_data_buffer or b"")) if "/v1/replay" in r.url else None)
    try:
        page.goto(origin + "/beacon")
        page.wait_for_function("window.cxlens && window.cxlens.replayLoaded === true")
        page.click("#apply")
        page.fill("#card", SECRET_CARD)
        sid = page.evaluate("cxlens.session()")
        page.wait_for_timeout(300)
        assert sent == []  # the next flush is 10 minutes away
        page.goto("about:blank")  # page hide
    finally:
        page.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not len(_rows := ws.sql(
            f"SELECT events FROM replay_sessions WHERE session_id = '{sid}'")):  # fmt: skip
        time.sleep(0.1)
    assert len(_rows) == 1 and _rows["events"][0] >= 3  # meta, full snapshot and the interactions
    stored = _stored(ws, sid)
    assert b"applied" in stored and SECRET_CARD.encode() not in stored  # the click's DOM change; masked
    # nothing went by fetch (whose URL has no key): what is stored came with the beacon (Playwright does
    # not always report requests of a page being unloaded)
    assert all("writeKey=" in u and b.startswith(b"{") for u, b in sent)


def _goto(page, url: str, start: int | None) -> None:
    """Open ``url``; ``start``: the page view's start (ms, :mod:`navclock`), else the real clock's."""
    if start is None:
        page.goto(url)
    else:
        navclock.at(page, start, lambda: page.goto(url))


def test_a_quick_back_is_marked_in_the_recording(shop, browser):
    """The page left quickly is named in the recording's custom event (the player lists it)."""
    ws, origin, _ = shop
    page = new_page(browser, 1280, 900)
    t0 = navclock.install(page)  # the dwell on /qb-b is set, not raced against the scripts' loading
    try:
        for path, start in (("/qb-a", None), ("/qb-b", t0)):
            _goto(page, origin + path, start)
            page.wait_for_function("window.cxlens && window.cxlens.replayLoaded && window.cxlens.behaviourLoaded")
        _goto(page, origin + "/qb-a", t0 + 1000)  # back within the 5 s default: a quick back from /qb-b
        page.wait_for_function("window.cxlens && window.cxlens.replayLoaded && window.cxlens.behaviourLoaded")
        sid = page.evaluate("cxlens.session()")
        qb = wait_rows(ws, f"SELECT properties FROM events WHERE name = '$quickback' AND session_id = '{sid}'", 1)
        assert orjson.loads(qb["properties"][0])["$dwell_ms"] == 1000  # the start times set above
        deadline = time.monotonic() + 15
        while b'"$quickback"' not in _stored(ws, sid) and time.monotonic() < deadline:
            time.sleep(0.2)
        stored = _stored(ws, sid)
        assert b'"tag":"$quickback"' in stored and f'"url":"{origin}/qb-b"'.encode() in stored
    finally:
        page.close()


def test_a_quick_back_is_marked_when_the_recorder_loads_late_and_the_page_is_left(shop, browser):
    """The race behind the old xfail, made certain: the replay script arrives late on every page.

    Before: the behaviour script waited (≤ 2 s) for the recorder before noting the page view, so a page
    left before its recorder loaded was never a page to come back to, and on the returning page the
    wait counted as dwell time; a quick back tracked before the recorder started was not marked at all.
    Now the page view is noted at once from the page's own start, and the recorder marks the signals
    tracked before it (cx.signals) when it starts; the page is then left, so a beacon carries the mark."""
    ws, origin, _ = shop
    page = new_page(browser, 1280, 900)
    visit, held = {"n": 0}, []

    def slow_recorder(route):
        if visit["n"] == 3:  # the returning page's recorder waits until the test lets it go (below)
            held.append(route)
            return
        time.sleep(0.4)
        route.continue_()

    page.route("**/sdk/cxlens-replay.js", slow_recorder)
    t0 = navclock.install(page)  # the dwell on /qb-b is set (1 s), not raced against the scripts' loading
    try:
        for path, start in (("/qb-a", None), ("/qb-b", t0), ("/qb-a", t0 + 1000)):
            visit["n"] += 1
            _goto(page, origin + path, start)
            page.wait_for_function("window.cxlens && window.cxlens.behaviourLoaded")  # the recorder not yet
        # held, not slept on: a 2.5 s sleep in the handler let the recorder load before this check under load
        deadline = time.monotonic() + 30
        while not held and time.monotonic() < deadline:  # the page asks for its recorder
            page.wait_for_timeout(50)
        page.wait_for_timeout(2500)  # past the old 2 s wait on the returning page
        assert len(held) == 1 and page.evaluate("!window.cxlens.replayLoaded")
        sid, aid = page.evaluate("[cxlens.session(), cxlens.user().anonymousId]")
        held[0].continue_()
        page.wait_for_function("window.cxlens.replayLoaded === true")
        page.wait_for_timeout(100)
        page.goto("about:blank")  # page hide: the rest of the recording goes with a beacon
        # the page stays open until the beacon has landed (closing it at once raced the beacon under load)
        events = wait_rows(
            ws, f"SELECT url, properties FROM events WHERE name = '$quickback' AND anonymous_id = '{aid}'", 1
        )
        deadline = time.monotonic() + 15
        while b'"$quickback"' not in _stored(ws, sid) and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        page.close()
    assert list(events["url"]) == [origin + "/qb-b"]
    assert orjson.loads(events["properties"][0])["$dwell_ms"] == 1000  # the start times set above
    stored = _stored(ws, sid)
    assert stored.count(b'"tag":"$quickback"') == 1 and f'"url":"{origin}/qb-b"'.encode() in stored
