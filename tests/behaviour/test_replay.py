"""Session replay storage, list, retention, erase — through the library, a real HTTP server and the CLI.

Chunks are posted as the SDK posts them (gzip or plain JSON); the oracles are the bodies sent (the
events read back must be exactly those), hand-made signals and NPS answers, and byte counts.
"""

from __future__ import annotations

import contextlib
import gzip
import json
from datetime import UTC, datetime, timedelta

import httpx
import orjson
import pandas as pd
import pytest
from typer.testing import CliRunner

import cxlens
from cxlens.access import users
from cxlens.behaviour.replay import MAX_SESSION, compact, parse_chunk, purge, store_chunk
from cxlens.cli import app as cli_app
from cxlens.customers.profile import erase_customer
from cxlens.errors import NotFoundError, ParameterError, PayloadTooLargeError
from cxlens.web.hub import WorkspaceHub

from ..conftest import running
from ..conftest import signed_in as _login

PW = "correct horse battery staple"
T0 = 1_764_000_000_000  # 2025-11-24 16:00 UTC, in ms
SHOP = "https://shop.example"


def events(n: int, start: int = T0, page: str = "/checkout") -> list[dict]:
    """rrweb-shaped events: a meta and a full snapshot, then mouse moves."""
    out: list[dict] = [
        {"type": 4, "timestamp": start, "data": {"href": SHOP + page, "width": 1280, "height": 800}},
        {"type": 2, "timestamp": start + 1, "data": {"node": {"type": 0, "childNodes": [], "id": 1}}},
    ]
    for i in range(n):
        out.append({"type": 3, "timestamp": start + 100 * (i + 1), "data": {"source": 1, "positions": [
            {"x": 10 + i % 50, "y": 20 + i % 30, "id": 5, "timeOffset": 0}]}})  # fmt: skip
    return out


def body(sid: str, seq: int, evs: list[dict], *, gz: bool = True, **extra) -> bytes:
    raw = orjson.dumps({"sessionId": sid, "seq": seq, "anonymousId": "anon-" + sid, "url": SHOP + "/checkout",
                        "events": evs, **extra})  # fmt: skip
    return gzip.compress(raw) if gz else raw


def put(ws, sid: str, seq: int, evs: list[dict], customer: str | None = None, **extra) -> dict:
    chunk, _ = parse_chunk(body(sid, seq, evs, **({"userId": customer} if customer else {}), **extra))
    return store_chunk(ws, chunk, customer_id=customer)


def signal(ws, sid: str, customer: str | None, name: str, ts: datetime, url: str = SHOP + "/checkout") -> None:
    ws.load("events", pd.DataFrame({
        "event_id": [f"{sid}-{name}-{ts.isoformat()}"], "customer_id": [customer], "anonymous_id": ["anon-" + sid],
        "session_id": [sid], "ts": [ts], "type": ["track"], "name": [name], "url": [url],
        "properties": [json.dumps({"$selector": "#pay", "$pageview_id": "pv-" + sid})]}))  # fmt: skip


@pytest.fixture()
def rws(tmp_path):
    ws = cxlens.open(tmp_path / "r.duckdb")
    yield ws
    ws.close()


def test_chunks_round_trip_idempotent_and_compact(rws):
    a0, a1 = events(400), events(400, start=T0 + 60_000)
    assert put(rws, "s-a", 1, a1)["stored"] and put(rws, "s-a", 0, a0)["stored"]
    assert put(rws, "s-a", 1, a1) == {"stored": False, "sessionId": "s-a", "seq": 1}  # a retry: kept once
    put(rws, "s-b", 0, events(10, start=T0 + 5))
    assert rws.behaviour.replay_events("s-a") == a0 + a1  # exactly what was sent, in order
    meta = rws.behaviour.replay("s-a")
    raw = len(orjson.dumps(a0)) + len(orjson.dumps(a1))
    assert (meta["chunks"], meta["events"], meta["raw_bytes"]) == (2, 804, raw)
    assert meta["duration_s"] == pytest.approx(100.0) and meta["url"] == SHOP + "/checkout"
    assert meta["stored_bytes"] == rws.sql("SELECT sum(octet_length(data)) AS n FROM replay_chunks "
                                           "WHERE session_id = 's-a'")["n"][0]  # fmt: skip
    assert meta["stored_bytes"] / raw < 0.15
    assert len(rws.sql("SELECT * FROM replay_chunks")) == 3
    with pytest.raises(NotFoundError, match="no replay of session 'nope'"):
        rws.behaviour.replay_events("nope")


def test_compaction_merges_a_finished_session_and_keeps_resends_idempotent(rws):
    chunks = [events(300, start=T0 + 30_000 * i) for i in range(6)]
    for i, evs in enumerate(chunks):
        put(rws, "s-c", i, evs)
    put(rws, "s-live", 0, events(5))
    before = rws.behaviour.replay("s-c")["stored_bytes"]
    put(rws, "s-live", 1, events(5, start=T0 + 1000))  # two blocks, but still receiving: left alone
    now = datetime.now(UTC).replace(tzinfo=None) + timedelta(minutes=31)
    assert compact(rws, 30, now=now - timedelta(minutes=2)) == {"sessions": 0, "blocks_before": 0, "blocks_after": 0}
    assert compact(rws, 30, now=now) == {"sessions": 2, "blocks_before": 8, "blocks_after": 2}
    assert rws.behaviour.replay_events("s-c") == [e for c in chunks for e in c]
    after = rws.behaviour.replay("s-c")["stored_bytes"]
    assert after < before and after == rws.sql("SELECT sum(octet_length(data)) AS n FROM replay_chunks "
                                               "WHERE session_id = 's-c'")["n"][0]  # fmt: skip
    assert put(rws, "s-c", 3, chunks[3])["stored"] is False  # a late re-send is still recognised
    late = events(3, start=T0 + 400_000)
    assert put(rws, "s-c", 6, late)["stored"] is True  # a late chunk is its own block, read with the rest
    assert rws.behaviour.replay_events("s-c") == [e for c in chunks for e in c] + late
    assert compact(rws, 30, now=now + timedelta(hours=2))["sessions"] == 1  # and merged next time


def test_bad_chunks_name_the_field(rws):
    with pytest.raises(ParameterError) as e:
        parse_chunk(body("bad'id", 0, events(1)))
    assert e.value.param == "sessionId"
    with pytest.raises(ParameterError) as e:
        parse_chunk(body("s", -1, events(1)))
    assert e.value.param == "seq"
    with pytest.raises(ParameterError) as e:
        parse_chunk(body("s", 0, [{"type": 3, "timestamp": "soon"}]))
    assert e.value.param == "events[0].timestamp"
    with pytest.raises(PayloadTooLargeError, match="over the limit of 1,048,576"):
        parse_chunk(b" " * 1_048_577)


def test_size_cap_refuses_the_chunk_that_passes_it(rws):
    rws.set_setting(MAX_SESSION, 30_000)
    first = events(200)
    assert len(orjson.dumps(first)) < 30_000
    put(rws, "s-cap", 0, first)
    with pytest.raises(PayloadTooLargeError, match="over the cap of 30,000 \\(setting 'replay.max_session_bytes'\\)"):
        put(rws, "s-cap", 1, events(200, start=T0 + 60_000))
    assert rws.behaviour.replay("s-cap")["chunks"] == 1  # nothing of the refused chunk was kept
    put(rws, "s-other", 0, events(200))  # the cap is per session


def test_retention_purge(rws):
    put(rws, "old", 0, events(5))
    put(rws, "new", 0, events(5, start=T0 + 20 * 86_400_000))
    now = datetime(2025, 11, 24, 16) + timedelta(days=31)  # 'old' ended 31 days ago, 'new' 11
    # received today by the server's clock: not expired, whatever the browser's timestamps say
    assert purge(rws, now=now) == {"sessions": 0, "blocks": 0}
    assert purge(rws, now=datetime.now(UTC).replace(tzinfo=None) + timedelta(days=1)) == {"sessions": 0, "blocks": 0}
    with rws.store.transaction(changes=["replay_sessions"]) as cur:  # as if received when recorded
        cur.execute("UPDATE replay_sessions SET received_at = ended_at")
    assert purge(rws, now=now) == {"sessions": 1, "blocks": 1}  # default retention: 30 days
    assert list(rws.sql("SELECT session_id FROM replay_sessions")["session_id"]) == ["new"]
    rws.set_setting("replay.retention_days", 5)
    assert purge(rws, now=now) == {"sessions": 1, "blocks": 1}
    assert len(rws.sql("SELECT * FROM replay_chunks")) == 0


def test_erase_removes_a_customers_recordings(rws):
    put(rws, "s-ann", 0, events(5), customer="ann")
    put(rws, "s-ann", 1, events(5, start=T0 + 10_000))  # a later chunk without the user id: same session
    put(rws, "s-bob", 0, events(5), customer="bob")
    rws.load("customers", pd.DataFrame({"customer_id": ["ann", "bob"]}))
    erase_customer(rws, "ann")
    assert list(rws.sql("SELECT DISTINCT session_id FROM replay_chunks")["session_id"]) == ["s-bob"]
    assert list(rws.sql("SELECT session_id FROM replay_sessions")["session_id"]) == ["s-bob"]


@pytest.fixture()
def listed(rws):
    """Three sessions: ann rage-clicked on checkout and gave NPS 3 (after a 9), bob dead-clicked and
    gave 9, an anonymous visitor on /home had no signal."""
    put(rws, "s-ann", 0, events(5), customer="ann")
    put(rws, "s-bob", 0, events(5, start=T0 + 60_000), customer="bob")
    put(rws, "s-anon", 0, events(5, start=T0 + 120_000, page="/home"), url=SHOP + "/home")
    t = datetime(2025, 11, 24, 16, 0, 1)
    for _ in range(2):
        signal(rws, "s-ann", "ann", "$rageclick", t)
        t += timedelta(seconds=1)
    signal(rws, "s-bob", "bob", "$deadclick", t)
    rws.load("feedback", pd.DataFrame({
        "feedback_id": ["f1", "f2", "f3"], "customer_id": ["ann", "ann", "bob"], "metric": ["nps"] * 3,
        "score": [9, 3, 9], "ts": [t - timedelta(days=30), t, t]}))  # fmt: skip
    return rws


def test_list_joins_signals_and_feedback(listed):
    df = listed.behaviour.replays()
    assert list(df["session_id"]) == ["s-anon", "s-bob", "s-ann"]  # newest first
    ann = df.set_index("session_id").loc["s-ann"]
    assert (ann["rage_clicks"], ann["dead_clicks"], ann["frustration_score"], ann["nps"], ann["feedback"]) == (
        2, 0, 6.0, 3, 2)  # fmt: skip
    assert list(listed.behaviour.replays(frustrated=True)["session_id"]) == ["s-bob", "s-ann"]
    assert list(listed.behaviour.replays(frustrated=True, nps_max=6)["session_id"]) == ["s-ann"]
    assert list(listed.behaviour.replays(url="/home")["session_id"]) == ["s-anon"]
    assert list(listed.behaviour.replays(customer_id="bob")["session_id"]) == ["s-bob"]
    with pytest.raises(ParameterError, match="limit is 0"):
        listed.behaviour.replays(limit=0)


def test_cli_list_show_purge(listed, tmp_path):
    path = str(listed.path)
    listed.close()
    runner = CliRunner()
    res = runner.invoke(cli_app, ["-w", path, "replays", "list", "--frustrated", "--nps-max", "6", "--format", "json"])
    assert res.exit_code == 0, res.output
    rows = json.loads(res.stdout)
    assert [(r["session_id"], r["customer_id"], r["rage_clicks"], r["nps"]) for r in rows] == [("s-ann", "ann", 2, 3)]
    res = runner.invoke(cli_app, ["-w", path, "replays", "list", "--format", "csv"])
    assert res.exit_code == 0 and len(res.stdout.strip().splitlines()) == 4
    res = runner.invoke(cli_app, ["-w", path, "replays", "show", "s-bob", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["customer_id"] == "bob" and json.loads(res.stdout)[0]["events"] == 7
    res = runner.invoke(cli_app, ["-w", path, "replays", "show", "nope"])
    assert res.exit_code != 0 and "no replay of session 'nope'" in str(res.exception or res.output)
    res = runner.invoke(cli_app, ["-w", path, "replays", "compact", "--idle-minutes", "0", "--format", "json"])
    assert res.exit_code == 0 and json.loads(res.stdout) == [{"sessions": 0, "blocks_before": 0, "blocks_after": 0}]
    res = runner.invoke(cli_app, ["-w", path, "replays", "purge", "--older-than", "0", "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout) == [{"sessions": 3, "blocks": 3}]


@contextlib.contextmanager
def analyst_and_agent(path):
    """The workspace at ``path`` on a real server with an analyst and an agent signed in; yields their
    clients ``(analyst, agent)`` (for the checks that only roles that may open replays see links)."""
    from cxlens.web.app import create_app

    hub = WorkspaceHub.open({"shop": path})
    ws = hub.get("shop")
    for email, role in (("an@x.example", "analyst"), ("ag@x.example", "agent")):
        users.create_user(ws, email, PW, role=role)
    try:
        with running(create_app(hub)) as url:
            yield _login(url, "an@x.example"), _login(url, "ag@x.example")
    finally:
        hub.close()


def test_http_collect_and_read_through_the_real_server(tmp_path):
    from cxlens.web.app import create_app

    hub = WorkspaceHub.open({"shop": tmp_path / "shop.duckdb"})
    ws = hub.get("shop")
    for email, role in (("an@x.example", "analyst"), ("ag@x.example", "agent")):
        users.create_user(ws, email, PW, role=role)
    _, key = hub.create_key("shop", "write")
    ws.set_setting("collect.allowed_origins", [SHOP])
    evs = events(50)
    try:
        with running(create_app(hub)) as url, httpx.Client(base_url=url, timeout=30) as c:
            auth = (key, "")
            assert c.post("/v1/replay", content=body("h1", 0, evs)).status_code == 401
            r = c.post("/v1/replay", content=body("h1", 0, evs), auth=auth, headers={"origin": "https://evil.example"})
            assert r.status_code == 403 and "allowed_origins" in r.text
            r = c.post("/v1/replay", content=body("h1", 0, evs), auth=auth, headers={"origin": SHOP})
            assert r.status_code == 200 and r.json() == {"success": True, "stored": True}
            assert r.headers["access-control-allow-origin"] == SHOP
            # sendBeacon's form: plain JSON, the key in the query string; then a re-send of chunk 0
            r = c.post("/v1/replay", params={"writeKey": key}, content=body("h1", 1, events(5, T0 + 9000), gz=False))
            assert r.json() == {"success": True, "stored": True}
            assert c.post("/v1/replay", content=body("h1", 0, evs), auth=auth).json()["stored"] is False
            r = c.post("/v1/replay", content=body("h1", 2, [{"type": "x"}]), auth=auth)
            assert r.status_code == 400 and r.json()["error"]["param"] == "events[0].type"
            ws.set_setting(MAX_SESSION, 1000)
            r = c.post("/v1/replay", content=body("h1", 3, evs), auth=auth)
            assert r.status_code == 413 and "replay.max_session_bytes" in r.json()["error"]["message"]
            ws.set_setting(MAX_SESSION, None)
            # preflight for the SDK's fetch
            r = c.options("/v1/replay", headers={"origin": SHOP, "access-control-request-method": "POST"})
            assert r.status_code == 204 and r.headers["access-control-allow-origin"] == SHOP
            assert c.get("/sdk/cxlens-replay.js").text.count("rrwebRecord") >= 1

            analyst = _login(url, "an@x.example")
            rows = analyst.get("/api/v1/replays").json()
            assert [(r["session_id"], r["chunks"], r["events"]) for r in rows] == [("h1", 2, 59)]
            got = analyst.get("/api/v1/replays/h1/events").json()
            assert got == evs + events(5, T0 + 9000)
            assert analyst.get("/api/v1/replays/h1").json()["customer_id"] is None
            assert analyst.get("/api/v1/replays/zzz/events").status_code == 404
            assert analyst.get("/api/v1/replays/bad'id").status_code == 400
            assert analyst.delete("/api/v1/replays/h1").status_code == 403  # admin only
            page = analyst.get("/replays")
            assert page.status_code == 200 and 'href="/replays/h1"' in page.text
            assert analyst.get("/replays/h1").status_code == 200
            ws.load("customers", pd.DataFrame({"customer_id": ["C1"]}))
            assert 'href="/replays?customer=C1"' in analyst.get("/customers/C1").text  # the customer 360 links
            agent = _login(url, "ag@x.example")
            assert agent.get("/api/v1/replays").status_code == 403
            assert agent.get("/api/v1/replays/h1/events").status_code == 403
    finally:
        hub.close()


def test_a_job_runner_compacts_idle_sessions_and_purges_old_ones_every_15_minutes(rws, tmp_path):
    import time

    from cxlens.jobs import JobRunner

    with cxlens.open(tmp_path / "none.duckdb") as other:  # no replays recorded: nothing scheduled
        idle = JobRunner(other, refresh=False, kinds=["replay.maintain"])
        assert idle.tick(idle.started_at + timedelta(hours=1)) == []
    chunks = [events(200, start=T0 + 30_000 * i) for i in range(4)]
    for i, evs in enumerate(chunks):
        put(rws, "s-done", i, evs)
    put(rws, "s-old", 0, events(5))
    rws.set_setting("replay.compact_idle_minutes", 0)
    with rws.store.transaction(changes=["replay_sessions"]) as cur:  # recorded and received 40 days ago
        cur.execute("UPDATE replay_sessions SET ended_at = ended_at - INTERVAL 4000 DAY, "
                    "received_at = received_at - INTERVAL 40 DAY WHERE session_id = 's-old'")  # fmt: skip
    runner = JobRunner(rws, refresh=False, kinds=["replay.maintain"], poll=0.05)
    assert runner.tick(runner.started_at) == []  # a slot before the runner started is never run
    # the slots are on the clock's quarter hours (cron */15): the first one after the runner started
    # (ticks relative to the start flaked when a quarter hour fell between them)
    start = runner.started_at
    b = start.replace(second=0, microsecond=0) + timedelta(minutes=15 - start.minute % 15)
    queued = runner.tick(b + timedelta(seconds=1))
    assert len(queued) == 1 and runner.tick(b + timedelta(minutes=14)) == []  # once per slot
    runner.start()
    try:
        deadline = time.monotonic() + 60
        while rws.scalar("SELECT status FROM jobs WHERE job_id = ?", [queued[0]]) != "done":
            assert time.monotonic() < deadline, rws.sql("SELECT status, error FROM jobs")
            time.sleep(0.1)
    finally:
        runner.stop()
    codecs = dict(rws.rows("SELECT codec, count(*) FROM replay_chunks WHERE session_id = 's-done' GROUP BY 1"))
    assert codecs == {"xz": 1, "merged": 3}
    assert rws.behaviour.replay_events("s-done") == [e for c in chunks for e in c]
    assert rws.scalar("SELECT count(*) FROM replay_sessions WHERE session_id = 's-old'") == 0
