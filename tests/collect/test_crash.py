"""SIGKILL the collection server under load: every acknowledged event survives, exactly once."""

from __future__ import annotations

import json
import time

import pytest
from benchmarks.collect import free_port, run_loadgen, start_server, stop_server

import cxlens
from cxlens.access import keys

pytestmark = pytest.mark.slow


def test_acknowledged_events_survive_sigkill_exactly_once(tmp_path):
    path = tmp_path / "crash.duckdb"
    with cxlens.open(path) as ws:
        _, key = keys.create_key(ws, "write")
        ws.set_setting("collect.rate_limit", 1e9)
    acked_file = tmp_path / "acked.txt"
    port = free_port()
    server = start_server(path, port)
    load = run_loadgen(port, key, "batch", seconds=30, connections=4, batch_size=50, run="c", acked=str(acked_file))
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and (not acked_file.exists() or acked_file.stat().st_size < 20_000):
        time.sleep(0.05)
    stop_server(server, kill=True)  # SIGKILL mid-load
    out, _ = load.communicate(timeout=60)
    first = json.loads(out)
    assert first["errors"], "the load generator should have seen the server die"
    acked = acked_file.read_text().split()
    assert len(acked) == first["acked_events"] > 0

    # restart; the client retries everything from the start (same messageIds), acknowledged or not
    server = start_server(path, port)
    retry = run_loadgen(port, key, "batch", seconds=30, connections=2, batch_size=50, run="c", max_requests=20)
    second = json.loads(retry.communicate(timeout=60)[0])
    stop_server(server)
    assert second["errors"] == {}

    with cxlens.open(path, read_only=True) as ws:
        stored = ws.sql("SELECT event_id, count(*) AS n FROM events GROUP BY 1")
    per_id = dict(zip(stored.event_id, stored.n, strict=True))
    missing = [i for i in acked if i not in per_id]
    assert missing == []
    assert stored.n.max() == 1  # nothing duplicated, acknowledged, retried or otherwise
    assert len(set(acked)) == len(acked)
