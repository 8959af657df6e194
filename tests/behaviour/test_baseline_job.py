"""The page baselines are computed by a scheduled job, never inside the SDK's remote-config request.

The request reads the job's stored result (the defaults while there is none); every job runner
queues the ``behaviour.baselines`` job every 5 minutes in a workspace with SDK behaviour events; the
job recomputes only when ``events`` changed. Expected values: test_signals.py's planted history
(/p: 21 dwells, median 11 s → 5.5 s)."""

from __future__ import annotations

import json
import math
import time
from datetime import timedelta

import numpy as np
import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens.behaviour import baselines as bl
from cxlens.jobs import JobRunner
from cxlens.web.app import create_app
from cxlens.web.hub import WorkspaceHub

from .test_signals import SCROLL, S, _baseline_events, _rows

P = S + "/p?utm=1"
Q1, Q3 = np.percentile(SCROLL, [25, 75])
FENCE = math.ceil(Q3 + 1.5 * (Q3 - Q1))  # Tukey's upper fence of /p's planted scroll turns


def _more(spec: list[tuple], prefix: str):
    df = _rows(spec)
    df["event_id"] = [f"{prefix}{i}" for i in range(len(df))]  # new ids: the planted history has e0, e1 …
    return df


def _run(ws, job_id: str) -> dict:
    """Run the queued job with a worker (a runner started now: it queues no past slot itself)."""
    runner = JobRunner(ws, refresh=False, kinds=[bl.REFRESH_KIND], poll=0.05).start()
    try:
        deadline = time.monotonic() + 60
        while ws.scalar("SELECT status FROM jobs WHERE job_id = ?", [job_id]) != "done":
            assert time.monotonic() < deadline, ws.sql("SELECT kind, status, error FROM jobs")
            time.sleep(0.05)
    finally:
        runner.stop()
    return json.loads(ws.scalar("SELECT result FROM jobs WHERE job_id = ?", [job_id]))


def test_the_request_reads_the_stored_result_and_never_computes(tmp_path, monkeypatch):
    path = tmp_path / "b.duckdb"
    with cxlens.open(path) as ws:
        ws.insert("events", _baseline_events())
    hub = WorkspaceHub.open({"b": path})
    _, key = hub.create_key("b", "write")
    ws = hub.get("b")
    try:
        with TestClient(create_app(hub)) as c:
            ask = lambda: c.get("/v1/behaviour/config", params={"writeKey": key, "page": P})  # noqa: E731

            def boom(*a, **k):
                raise AssertionError("the remote-config request computed the baselines")

            monkeypatch.setattr(bl, "compute", boom)
            r = ask()  # nothing stored yet: the safe defaults, at once
            assert r.status_code == 200 and r.json()["page"] == bl.DEFAULT
            monkeypatch.undo()
            ws.behaviour.refresh_baselines()
            monkeypatch.setattr(bl, "compute", boom)
            assert ask().json()["page"] == {
                "quickBackMs": 5500,
                "dwellViews": 21,
                "scrollFence": FENCE,
                "scrollViews": 24,
            }
            # new page views do not change the answer until the job stores again
            ws.insert("events", _more([(f"n{i}", 9000 + 10 * i, None, "/p", {}) for i in range(2)], "n"))
            assert ask().json()["page"]["dwellViews"] == 21
    finally:
        hub.close()


@pytest.fixture()
def jws(tmp_path):
    with cxlens.open(tmp_path / "j.duckdb") as ws:
        yield ws


def test_a_job_runner_refreshes_them_every_5_minutes_when_events_changed(jws, tmp_path):
    with cxlens.open(tmp_path / "none.duckdb") as other:  # page views but no SDK behaviour: no schedule
        other.insert("events", _more([("x", 0, None, "/p", {}), ("x", 5, None, "/q", {})], "x"))
        idle = JobRunner(other, refresh=False, kinds=[bl.REFRESH_KIND])
        assert idle.tick(idle.started_at + timedelta(hours=1)) == []
    jws.insert("events", _baseline_events())
    runner = JobRunner(jws, refresh=False, kinds=[bl.REFRESH_KIND], poll=0.05)
    assert runner.tick(runner.started_at) == []  # a slot before the runner started is never run
    # the slots are on the clock's 5-minute marks (cron */5): the first one after the runner started
    start = runner.started_at
    b = start.replace(second=0, microsecond=0) + timedelta(minutes=5 - start.minute % 5)
    first = runner.tick(b + timedelta(seconds=1))
    assert len(first) == 1 and jws.scalar("SELECT kind FROM jobs WHERE job_id = ?", [first[0]]) == bl.REFRESH_KIND
    assert runner.tick(b + timedelta(minutes=1)) == []  # once per slot
    assert _run(jws, first[0])["pages"] == 6
    assert bl.page_baseline(jws.store, S + "/p")["quickBackMs"] == 5500
    # the next slot: events unchanged, nothing recomputed
    again = runner.tick(b + timedelta(minutes=5, seconds=1))
    assert _run(jws, again[0])["skipped"].startswith("events unchanged")
    # two more dwells on /p (40 s, 41 s: the median moves to 12 s → 6 s), then the next slot recomputes
    t = 20000
    jws.insert("events", _more([(f"m{i}", t + 100 * i + s, None, path, {}) for i, s0 in enumerate((40, 41))
                                for s, path in ((0, "/p"), (s0, "/q"))], "m"))  # fmt: skip
    assert bl.page_baseline(jws.store, S + "/p")["dwellViews"] == 21  # still the stored table
    third = runner.tick(b + timedelta(minutes=10, seconds=1))
    assert _run(jws, third[0])["pages"] == 6
    assert bl.page_baseline(jws.store, S + "/p") == {
        "quickBackMs": 6000, "dwellViews": 23, "scrollFence": FENCE, "scrollViews": 24,
    }  # fmt: skip
