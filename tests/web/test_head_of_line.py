"""A fast API call is not held up by slow pages or background model fits on the same workspace."""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import numpy as np

from cxlens.jobs import queue


def test_nps_api_stays_fast_while_slow_pages_load_and_models_fit(sample_path, tmp_path):
    path = tmp_path / "hol.duckdb"
    shutil.copy(sample_path, path)
    import cxlens

    with cxlens.open(path) as ws:  # background work the server's runner picks up at once
        queue.enqueue(ws, "models.fit")
        queue.enqueue(ws, "voice.themes")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "cxlens", "-w", str(path), "serve", "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(base + "/health", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline and server.poll() is None, "server did not start"
            time.sleep(0.2)
        stop = threading.Event()
        slow_done = [0]
        errors: list[str] = []

        def slow(kind: int) -> None:
            day = 0
            with httpx.Client(base_url=base, timeout=120) as c:
                while not stop.is_set():
                    day += 1
                    start = f"2025-{1 + day % 12:02d}-{1 + (day * 7 + kind) % 27:02d}"  # a new view each time: no cache
                    url = ("/journey", "/paths?from_event=visit", "/feedback", "/themes")[kind]
                    r = c.get(url, params={"start": start})
                    if r.status_code != 200:
                        errors.append(f"{url} {r.status_code}")
                    slow_done[0] += 1

        threads = [threading.Thread(target=slow, args=(k,), daemon=True) for k in range(4)]
        for t in threads:
            t.start()
        time.sleep(2.0)
        times = []
        with httpx.Client(base_url=base, timeout=60) as c:
            for _ in range(40):
                t0 = time.perf_counter()
                assert c.get("/api/v1/metrics/nps").status_code == 200
                times.append(time.perf_counter() - t0)
                time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=120)
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert not errors, errors[:3]
    assert slow_done[0] >= 4  # the slow pages really were being served meanwhile
    p95 = float(np.percentile(times, 95))
    assert p95 < 1.0, f"NPS API p95 {p95:.2f} s while slow pages load (max {max(times):.2f} s)"
