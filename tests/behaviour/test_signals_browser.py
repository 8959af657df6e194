"""Quick backs and excessive scrolling in Chromium, against each page's own baseline served by the
remote config (a shop on a second local server, as a customer's site is).

The baselines are planted as history in the workspace and the expected thresholds worked out here
independently (NumPy's interpolated quartiles, the median by hand)."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import numpy as np
import orjson
import pandas as pd
import pytest

from cxlens.web.hub import WorkspaceHub

from ..conftest import html_server, new_page, running, wait_rows
from . import navclock

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGE = """<!doctype html><html><head><title>{path}</title><script>
!function(w,d,u){{var c=w.cxlens=w.cxlens||[];if(c.loaded)return;
["init","track","page","identify","on","reset","flush","consent"].forEach(function(m){{c[m]=function(){{
var a=[].slice.call(arguments);a.unshift(m);c.push(a);return c}}}});
var s=d.createElement("script");s.async=true;s.src=u;d.head.appendChild(s)}}(window,document,"{host}/sdk/cxlens.js");
cxlens.init({{writeKey: "{key}", host: "{host}", flushInterval: 100, frustration: true}});
</script></head><body style="margin:0"><h1>{path}</h1><div style="height:6000px">tall</div></body></html>"""

#: planted history: /slow is left after 4 s (median dwell 4 s → threshold ½ × 4 s = 2 s); /long's
#: page views turned 2, 4, 6, 8, 2, 4, … times
SLOW_DWELL_S, HISTORY = 4.0, 24
TURNS = [2, 4, 6, 8] * 6


def _history(origin: str) -> pd.DataFrame:
    t0, rows = datetime.now() - timedelta(days=1), []
    for i in range(HISTORY):
        sid, t = f"hist-{i}", t0 + timedelta(minutes=i)
        for j, (path, dt) in enumerate([("/slow", 0.0), ("/next", SLOW_DWELL_S)]):
            rows.append({"event_id": f"h{i}-{j}", "session_id": sid, "anonymous_id": sid, "ts": t + timedelta(seconds=dt),
                         "type": "page", "name": path, "url": origin + path, "properties": "{}"})  # fmt: skip
        rows.append({"event_id": f"h{i}-s", "session_id": sid, "anonymous_id": sid, "ts": t + timedelta(seconds=9),
                     "type": "track", "name": "$scroll_depth", "url": origin + "/long",
                     "properties": json.dumps({"$direction_changes": TURNS[i], "$percent": 50})})  # fmt: skip
    return pd.DataFrame(rows).assign(channel="web")


def expected_fence() -> int:
    q1, q3 = np.percentile(TURNS, [25, 75])  # linear interpolation, as DuckDB's quantile_cont
    return max(6, math.ceil(q3 + 1.5 * (q3 - q1)))


@pytest.fixture(scope="module")
def site(tmp_path_factory, browser):
    from cxlens.web.app import create_app

    hub = WorkspaceHub.open({"shop": tmp_path_factory.mktemp("q") / "shop.duckdb"})
    _, key = hub.create_key("shop", "write")
    with running(create_app(hub)) as url:
        static, origin = html_server(lambda path: PAGE.format(host=url, key=key, path=path.split("?")[0]))
        ws = hub.get("shop")
        ws.set_setting("collect.allowed_origins", [origin])
        ws.insert("events", _history(origin))
        ws.behaviour.refresh_baselines()  # what the behaviour.baselines job stores for the remote config
        yield ws, origin
        static.shutdown()
    hub.close()


def _signals(ws, name: str, n: int, timeout: float = 10.0) -> list[dict]:
    rows = wait_rows(ws, f"SELECT url, properties FROM events WHERE name = '{name}' ORDER BY ts", n, timeout)
    return [{"url": u, **orjson.loads(p)} for u, p in zip(rows["url"], rows["properties"], strict=True)]


def _open(page, url: str, threshold: int | None = None, fence: int | None = None, *, at: int | None = None) -> None:
    """Open ``url``; ``at``: the page view's start (ms, :mod:`navclock`) instead of the real clock's."""
    if at is None:
        page.goto(url)
    else:
        navclock.at(page, at, lambda: page.goto(url))
    page.wait_for_function("window.cxlens && window.cxlens.behaviourLoaded === true")
    last = "JSON.parse(sessionStorage.getItem('cxlens_qb')).v.slice(-1)[0]"
    if threshold is not None:  # the page's baseline has arrived from the remote config
        page.wait_for_function(f"{last}.th === {threshold}", timeout=10000)
    if fence is not None:
        page.wait_for_function(f"{last}.f === {fence}", timeout=10000)


def test_quick_back_uses_the_pages_own_threshold(site, browser):
    """Each dwell is set by the test (:mod:`navclock`), not measured on the real clock: under load the
    "quick" visit to /slow (scripts and remote config awaited) used to outlast its 2 s threshold."""
    ws, origin = site
    page = new_page(browser)
    t0 = navclock.install(page)
    try:
        # a page without history: the 5 s default; back within it (the browser's Back button)
        _open(page, origin + "/a")
        _open(page, origin + "/b", threshold=5000, at=t0)
        navclock.at(page, t0 + 4999, page.go_back)
        got = _signals(ws, "$quickback", 1)
        assert len(got) == 1
        qb = got[0]
        assert (qb["url"], qb["$from_url"], qb["$to_url"]) == (origin + "/b", origin + "/b", origin + "/a")
        assert qb["$threshold_ms"] == 5000 and qb["$dwell_ms"] == 4999
        assert "$selector" not in qb and qb["$pageview_id"]

        # /slow's visitors usually stay 4 s: its threshold is 2 s, so 2 s there is not a quick back
        # (the 5 s default would have called it one) …
        _open(page, origin + "/slow", threshold=round(SLOW_DWELL_S / 2 * 1000), at=t0 + 10_000)
        _open(page, origin + "/a", at=t0 + 12_000)
        # … and 1.999 s is
        _open(page, origin + "/c", at=t0 + 20_000)
        _open(page, origin + "/slow", threshold=2000, at=t0 + 30_000)
        _open(page, origin + "/c", at=t0 + 31_999)
        got = _signals(ws, "$quickback", 2)
        assert [(g["url"], g["$threshold_ms"]) for g in got] == [(origin + "/b", 5000), (origin + "/slow", 2000)]
        assert got[1]["$dwell_ms"] == 1999 and got[1]["$to_url"] == origin + "/c"
        page.wait_for_timeout(500)
        assert len(_signals(ws, "$quickback", 2)) == 2  # no other
        # the event is an ordinary one: the analyses count it on the page left
        fr = ws.behaviour.frustration(by="url").set_index("url")
        assert fr.loc[origin + "/slow"].quick_backs == 1 and fr.loc[origin + "/b"].quick_backs == 1
        assert fr.loc[origin + "/a"].quick_backs == 0
    finally:
        page.close()


def _scroll(page, turns: int) -> None:
    for i in range(turns + 1):
        page.evaluate("y => window.scrollTo(0, y)", 1200 if i % 2 == 0 else 200)
        page.wait_for_timeout(80)


def test_excessive_scrolling_above_the_pages_fence(site, browser):
    ws, origin = site
    fence = expected_fence()
    assert fence > 6  # the planted history sets it, not the minimum
    page = new_page(browser, 1280, 800)
    try:
        _open(page, origin + "/long", fence=fence)
        _open(page, origin + "/long?calm=1", fence=fence)
        _scroll(page, 3)  # three turns: usual here
        _open(page, origin + "/long?busy=1", fence=fence)
        _scroll(page, fence + 3)
        got = _signals(ws, "$excessive_scroll", 1)
        assert len(got) == 1  # once per page view
        ex = got[0]
        assert ex["url"] == origin + "/long?busy=1"
        assert (ex["$fence"], ex["$direction_changes"]) == (fence, fence + 1)
        page.goto("about:blank")
        rows = wait_rows(
            ws, "SELECT url, properties FROM events WHERE name = '$scroll_depth' AND url LIKE '%/long?%' ORDER BY ts", 2
        )
        assert [orjson.loads(p)["$direction_changes"] for p in rows["properties"]] == [3, fence + 3]
        # the typed copy holds them, and the baseline counts the new page views
        base = ws.behaviour.baselines().set_index("page").loc[origin + "/long"]
        assert base.scroll_n == HISTORY + 3
    finally:
        page.close()
