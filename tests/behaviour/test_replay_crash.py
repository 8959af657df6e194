"""SIGKILL ``cxlens collect`` while replay chunks arrive: every acknowledged chunk survives, exactly once."""

from __future__ import annotations

import gzip
import threading
import time

import httpx
import orjson
import pytest
from benchmarks.collect import free_port, start_server, stop_server

import cxlens
from cxlens.access import keys

pytestmark = pytest.mark.slow

T0 = 1_764_000_000_000


def chunk(s: int, seq: int) -> bytes:
    evs = [{"type": 3, "timestamp": T0 + seq * 5000 + k, "data": {"source": 1, "s": s, "seq": seq, "k": k}}
           for k in range(50)]  # fmt: skip
    return gzip.compress(orjson.dumps({"sessionId": f"k{s}", "seq": seq, "anonymousId": f"a{s}", "events": evs}))


def send_all(url: str, key: str, acked: list[tuple[int, int]], stop: threading.Event, sessions: int = 20,
             chunks: int = 30) -> int:  # fmt: skip
    errors = 0
    with httpx.Client(base_url=url, timeout=10, auth=(key, "")) as c:
        for seq in range(chunks):
            for s in range(sessions):
                if stop.is_set():
                    return errors
                try:
                    r = c.post("/v1/replay", content=chunk(s, seq))
                except httpx.HTTPError:
                    errors += 1
                    continue
                if r.status_code == 200:
                    acked.append((s, seq))
                else:
                    errors += 1
    return errors


def test_acknowledged_replay_chunks_survive_sigkill_exactly_once(tmp_path):
    path = tmp_path / "crash.duckdb"
    with cxlens.open(path) as ws:
        _, key = keys.create_key(ws, "write")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = start_server(path, port)
    acked: list[tuple[int, int]] = []
    stop = threading.Event()
    sender = threading.Thread(target=send_all, args=(url, key, acked, stop))
    sender.start()
    deadline = time.monotonic() + 60
    while len(acked) < 60 and time.monotonic() < deadline:
        time.sleep(0.02)
    stop_server(server, kill=True)  # SIGKILL mid-stream
    stop.set()
    sender.join(30)
    first = list(acked)
    assert len(first) >= 60

    # restart; the client sends everything again (same session, same seq)
    server = start_server(path, port)
    again: list[tuple[int, int]] = []
    errors = send_all(url, key, again, threading.Event(), chunks=5)
    stop_server(server)
    assert errors == 0

    with cxlens.open(path, read_only=True) as ws:
        rows = ws.sql("SELECT session_id, seq, count(*) AS n FROM replay_chunks GROUP BY 1, 2")
        stored = {(int(s[1:]), int(q)) for s, q in zip(rows.session_id, rows.seq, strict=True)}
        assert rows.n.max() == 1
        assert [a for a in first if a not in stored] == []  # every acknowledged chunk is there
        events = ws.behaviour.replay_events("k0")
    got = [(e["data"]["seq"], e["data"]["k"]) for e in events]
    assert got == sorted(got) and len(got) == len(set(got))  # each chunk's events once, in order
