"""Page baselines (quick-back threshold, excessive-scrolling fence), exit pages and schema version 6 —
answers worked out by hand (or by statsmodels / NumPy) below; library, CLI and HTTP API."""

from __future__ import annotations

import json
import math
from datetime import datetime, timedelta

import duckdb
import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.proportion import proportion_confint
from typer.testing import CliRunner

import cxlens
from cxlens.behaviour import baselines as bl
from cxlens.cli import app
from cxlens.errors import ParameterError
from cxlens.schema.migrations import SCHEMA_VERSION

T0 = datetime(2026, 11, 2, 10, 0, 0)
S = "https://shop.example"


def _rows(spec: list[tuple]) -> pd.DataFrame:
    """(session, seconds, name or None for a page view, path, properties) → events rows."""
    out = []
    for i, (sid, sec, name, path, props) in enumerate(spec):
        out.append({"event_id": f"e{i}", "customer_id": f"c-{sid}", "anonymous_id": f"a-{sid}", "session_id": sid,
                    "ts": T0 + timedelta(seconds=sec), "type": "page" if name is None else "track",
                    "name": path if name is None else name, "channel": "web", "url": S + path,
                    "properties": json.dumps(props or {})})  # fmt: skip
    return pd.DataFrame(out)


# /p: 21 sessions leave it for /q after 1, 2 … 21 s (median 11 s → threshold 5.5 s); one more goes
# /q → /p → /q after 0.5 s: a return, left out of the median. /few: 3 dwells (→ the 5 s default).
# /fast: 20 dwells of 1 s (½ s → the 2 s floor); /slow: 20 of 100 s (→ the 30 s ceiling).
# Scroll: /p's 24 page views turned SCROLL times (quartiles by NumPy); /flat 20 × 0 turns (→ the
# minimum fence 6); /q 5 page views (→ the default 10).
SCROLL = [0, 1, 1, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 5, 5, 6, 7, 8, 9, 12, 15, 20, 25, 40]


def _baseline_events() -> pd.DataFrame:
    spec: list[tuple] = []
    t = 0.0
    for i in range(21):
        spec += [(f"p{i}", t, None, "/p", {}), (f"p{i}", t + i + 1, None, "/q", {})]
        t += 100
    spec += [("ret", t, None, "/q", {}), ("ret", t + 3, None, "/p", {}), ("ret", t + 3.5, None, "/q", {})]
    for i in range(3):
        spec += [(f"f{i}", t + 10 * i, None, "/few", {}), (f"f{i}", t + 10 * i + 60, None, "/q", {})]
    for i in range(20):
        spec += [(f"fa{i}", t + i, None, "/fast", {}), (f"fa{i}", t + i + 1, None, "/q", {})]
        spec += [(f"sl{i}", t + i, None, "/slow", {}), (f"sl{i}", t + i + 100, None, "/q", {})]
    for i, n in enumerate(SCROLL):
        spec.append((f"p{i % 21}", t + i, "$scroll_depth", "/p?x=1", {"$direction_changes": n}))
    for i in range(20):
        spec.append((f"fa{i}", t + i, "$scroll_depth", "/flat", {"$direction_changes": 0}))
    for i in range(5):
        spec.append((f"fa{i}", t + i, "$scroll_depth", "/q", {"$direction_changes": 30}))
    return _rows(spec)


@pytest.fixture(scope="module")
def bws(tmp_path_factory):
    path = tmp_path_factory.mktemp("b") / "b.duckdb"
    with cxlens.open(path) as ws:
        ws.insert("events", _baseline_events())
    return path


def test_baselines_follow_the_documented_rules(bws):
    with cxlens.open(bws) as ws:
        df = ws.behaviour.baselines().set_index("page")
    p = df.loc[S + "/p"]
    assert (p.dwell_n, p.dwell_median_s, p.quick_back_ms) == (21, 11.0, 5500)
    q1, q3 = np.percentile(SCROLL, [25, 75])
    assert (p.scroll_n, p.scroll_q1, p.scroll_q3) == (24, pytest.approx(q1), pytest.approx(q3))
    assert p.scroll_fence == math.ceil(q3 + 1.5 * (q3 - q1)) and p.scroll_fence > bl.MIN_FENCE
    assert (df.loc[S + "/few"].dwell_n, df.loc[S + "/few"].quick_back_ms) == (3, bl.DEFAULT_QUICK_BACK_MS)
    assert df.loc[S + "/fast"].quick_back_ms == 2000 and df.loc[S + "/slow"].quick_back_ms == 30000
    assert df.loc[S + "/flat"].scroll_fence == bl.MIN_FENCE
    assert (df.loc[S + "/q"].scroll_n, df.loc[S + "/q"].scroll_fence) == (5, bl.DEFAULT_FENCE)


def test_remote_config_answers_the_pages_baseline_over_http(bws):
    from fastapi.testclient import TestClient

    from cxlens.web.app import create_app
    from cxlens.web.hub import WorkspaceHub

    hub = WorkspaceHub.open({"b": bws})
    _, key = hub.create_key("b", "write")
    hub.get("b").behaviour.refresh_baselines()  # what the behaviour.baselines job stores (test_baseline_job.py)
    try:
        with TestClient(create_app(hub)) as c:
            got = c.get("/v1/behaviour/config", params={"writeKey": key, "page": S + "/p?utm=1#top"}).json()
            assert got["page"]["quickBackMs"] == 5500 and got["page"]["dwellViews"] == 21
            assert got["page"]["scrollViews"] == 24 and got["page"]["scrollFence"] > bl.MIN_FENCE
            unknown = c.get("/v1/behaviour/config", params={"writeKey": key, "page": S + "/new"}).json()["page"]
            assert unknown == {"quickBackMs": 5000, "dwellViews": 0, "scrollFence": 10, "scrollViews": 0}
            assert "page" not in c.get("/v1/behaviour/config", params={"writeKey": key}).json()
            r = c.get("/v1/behaviour/config", params={"writeKey": key, "page": "x" * 2001})
            assert r.status_code == 400 and "page" in r.text
            rows = c.get("/api/v1/behaviour/baselines").json()
            assert {r["page"]: r["quick_back_ms"] for r in rows}[S + "/p"] == 5500
    finally:
        hub.close()


# exit pages: s1 home → checkout (rage click there, then leaves); s2 home → cart; s3 home → checkout
# (dead click) → cart; s4 home; s5 checkout. Page views carry their $pageview_id, as the SDK sends.
def _exit_events() -> pd.DataFrame:
    pv = lambda i: {"$pageview_id": i}  # noqa: E731
    return _rows(
        [
            ("s1", 0, None, "/home", pv("a1")), ("s1", 5, None, "/checkout", pv("a2")),
            ("s1", 6, "$rageclick", "/checkout", {"$pageview_id": "a2", "$selector": "#pay"}),
            ("s2", 10, None, "/home", pv("b1")), ("s2", 15, None, "/cart", pv("b2")),
            ("s3", 20, None, "/home", pv("c1")), ("s3", 25, None, "/checkout", pv("c2")),
            ("s3", 26, "$deadclick", "/checkout", {"$pageview_id": "c2", "$selector": "#pay"}),
            ("s3", 30, None, "/cart", pv("c3")),
            ("s4", 40, None, "/home", pv("d1")),
            ("s5", 50, None, "/checkout", pv("e1")),
        ]
    )  # fmt: skip


@pytest.fixture(scope="module")
def ews(tmp_path_factory):
    path = tmp_path_factory.mktemp("e") / "e.duckdb"
    with cxlens.open(path) as ws:
        ws.insert("events", _exit_events())
    return path


def test_exit_pages_count_last_page_views_with_wilson_ci(ews):
    with cxlens.open(ews) as ws:
        df = ws.behaviour.exit_pages()
        with pytest.raises(ParameterError, match="min_pageviews"):
            ws.behaviour.exit_pages(min_pageviews=-1)
    assert list(df["url"]) == [S + "/cart", S + "/checkout", S + "/home"]  # most exits, then highest rate
    d = df.set_index("url")
    assert tuple(d.loc[S + "/cart", ["pageviews", "exits", "exit_rate"]]) == (2, 2, 1.0)
    co = d.loc[S + "/checkout"]
    assert (co.pageviews, co.sessions, co.exits, co.frustrated_exits, co.frustrated_exit_share) == (3, 3, 2, 1, 0.5)
    assert co.exit_rate == pytest.approx(2 / 3)
    lo, hi = proportion_confint(2, 3, method="wilson")
    # cxlens takes z = 1.96, statsmodels 1.959964…
    assert (co.exit_ci_low, co.exit_ci_high) == (pytest.approx(lo, rel=1e-4), pytest.approx(hi, rel=1e-4))
    assert co.frustration_score == pytest.approx(100 * (3 * 1 + 2 * 1) / 3, abs=0.01)
    home = d.loc[S + "/home"]
    assert (home.pageviews, home.exits, home.exit_rate, home.frustration_score) == (4, 1, 0.25, 0.0)


def test_exit_pages_through_cli_and_http(ews):
    from fastapi.testclient import TestClient

    from cxlens.web.app import create_app
    from cxlens.web.hub import WorkspaceHub

    res = CliRunner().invoke(
        app, ["-w", str(ews), "behaviour", "exit-pages", "--min-pageviews", "3", "--format", "json"]
    )
    assert res.exit_code == 0, res.output
    assert [(r["url"], r["exits"]) for r in json.loads(res.stdout)] == [(S + "/checkout", 2), (S + "/home", 1)]
    hub = WorkspaceHub.open({"e": ews})
    try:
        with TestClient(create_app(hub)) as c:
            rows = c.get("/api/v1/behaviour/exit-pages", params={"limit": 1}).json()
            assert [(r["url"], r["exits"], r["exit_rate"]) for r in rows] == [(S + "/cart", 2, 1.0)]
            assert c.get("/api/v1/behaviour/exit-pages", params={"limit": 0}).status_code == 422
    finally:
        hub.close()


def test_a_version_5_workspace_gains_the_direction_changes_column(tmp_path):
    path = tmp_path / "old.duckdb"
    with cxlens.open(path) as ws:
        ws.insert("events", _exit_events())
        ws.behaviour.frustration()  # the typed copy is filled
    con = duckdb.connect(str(path))
    con.execute("ALTER TABLE behaviour_events DROP COLUMN direction_changes")
    con.execute("UPDATE _cxlens_meta SET value='5' WHERE key='schema_version'")
    con.close()
    with cxlens.open(path) as ws:
        assert ws.schema_version == SCHEMA_VERSION >= 6
        cols = list(ws.sql("SELECT * FROM behaviour_events LIMIT 0").columns)
        assert cols[-1] == "direction_changes"
        ws.insert(
            "events", _rows([("s9", 99, "$scroll_depth", "/home", {"$direction_changes": 7})]).assign(event_id="n")
        )
        assert ws.behaviour.baselines().set_index("page").loc[S + "/home"].scroll_n == 1
        got = ws.sql("SELECT event_id, direction_changes FROM behaviour_events WHERE direction_changes IS NOT NULL")
        assert list(got.itertuples(index=False, name=None)) == [("n", 7.0)]
        assert ws.scalar("SELECT count(*) FROM behaviour_events") == len(_exit_events()) + 1


def test_a_quick_back_is_an_ordinary_event_for_funnels(tmp_path):
    from .test_analyses import _frustration_events

    with cxlens.open(tmp_path / "q.duckdb") as ws:
        ws.insert("events", _frustration_events())
        f = ws.journeys.funnel(["/home", "$quickback"], window="1d")
    # s1 and s2 saw /home; only s1 came back from the checkout quickly
    assert [int(n) for n in f["customers"]] == [2, 1]


def test_an_unreadable_date_is_an_error_naming_the_parameter():
    """The API fuzz test found ``start=öû`` answered 500 (pandas' DateParseError) on /exit-pages."""
    import ibis

    from cxlens.behaviour.analyses import _range
    from cxlens.errors import ParameterError

    t = ibis.table({"ts": "timestamp"}, name="t")
    for name, kw in (("start", {"start": "öû", "end": None}), ("end", {"start": None, "end": "\x10F{"})):
        with pytest.raises(ParameterError, match=f"^{name} is"):
            _range(t, **kw)
    _range(t, "2025-03-01T10:00:00+02:00", "2025-03-02")  # zoned and plain dates are read
