"""``cxlens bench threads``: read-only library calls from 1 and 2 threads on one workspace.

The store gives every thread its own cursor (docs/store.md), so reads run in parallel: on this
2-core machine two threads should do ≥ 1.6× the work of one (issue 10's goal). The same mix of
calls (metrics by rollup and by scan, funnel, paths, ``ws.sql``) runs ``calls`` times on one
thread, then split over two, timed in wall-clock seconds; the answers are checked equal.

DuckDB runs each query on every core, so one thread already keeps most of the machine busy and the
ratio cannot exceed cores ÷ cores busy with one thread (``ratio_ceiling``). The mix is then run again
with DuckDB at one core per query (``SET threads = 1``): that ratio is the library's own concurrency.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from typing import Any

import pandas as pd

GOAL = 1.6


def _mix(ws: Any) -> list[Any]:
    from cxlens.metrics import Metrics

    scan = Metrics(ws.store, use_rollup=False)
    return [
        lambda: ws.metrics.nps(by="touchpoint", period="month"),
        lambda: scan.csat(by="channel"),
        lambda: scan.ces(by="stage", period="quarter"),
        lambda: ws.journeys.funnel("visit>add_to_cart>checkout>purchase", window="7d"),
        lambda: ws.journeys.paths("visit"),
        lambda: ws.sql("SELECT touchpoint, count(*) AS n, avg(score) AS s FROM feedback GROUP BY 1 ORDER BY 1"),
    ]


def bench_threads(size: str | int = "medium", *, seed: int = 0, calls: int = 60) -> dict[str, Any]:
    import cxlens
    from cxlens.ingest import write_demo

    ws = cxlens.open(":memory:")
    write_demo(ws, size, seed=seed)
    mix = _mix(ws)
    reference = [fn() for fn in mix]  # warm-up, and the answers every thread must give

    def run(n_threads: int) -> tuple[float, float]:
        """Wall seconds and cores busy (this process's CPU seconds per wall second) of the mix."""
        bad: list[str] = []

        todo = queue.SimpleQueue()  # each thread takes the next call: a fixed split (thread t doing calls
        for i in range(calls):  # t, t + 2, …) gave one thread every paths call and capped the ratio at 1.4
            todo.put(i)

        def worker(t: int) -> None:
            while True:
                try:
                    i = todo.get_nowait()
                except queue.Empty:
                    return
                got = mix[i % len(mix)]()
                want = reference[i % len(mix)]
                try:
                    pd.testing.assert_frame_equal(got, want)
                except AssertionError:
                    bad.append(f"call {i % len(mix)}")

        threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
        t0, c0 = time.perf_counter(), time.process_time()
        for th in threads:
            th.start()
        for th in threads:
            th.join()
        elapsed, cpu = time.perf_counter() - t0, time.process_time() - c0
        if bad:
            raise AssertionError(f"{len(bad)} answers differed from a lone call, e.g. {bad[0]}")
        return elapsed, cpu / elapsed

    one, busy_one = min(run(1) for _ in range(2))
    two, busy_two = min(run(2) for _ in range(2))
    # the same with DuckDB running each query on one core: what the library's own concurrency gives
    # (no lock of cxlens's serialises the threads), without DuckDB's parallelism within a query
    threads_setting = ws.store.cursor().execute("SELECT current_setting('threads')").fetchone()[0]
    ws.store.cursor().execute("SET GLOBAL threads = 1")
    one_1, _ = min(run(1) for _ in range(2))
    two_1, busy_two_1 = min(run(2) for _ in range(2))
    ws.store.cursor().execute(f"SET GLOBAL threads = {int(threads_setting)}")
    customers = ws.scalar("SELECT count(*) FROM customers")
    ws.close()
    ratio = (calls / two) / (calls / one)
    return {
        "customers": customers,
        "calls": calls,
        "one_thread_s": round(one, 3),
        "two_threads_s": round(two, 3),
        "one_thread_calls_per_s": round(calls / one, 2),
        "two_threads_calls_per_s": round(calls / two, 2),
        "throughput_ratio": round(ratio, 2),
        # DuckDB runs each query on every core: when one thread already keeps the cores busy, a second
        # thread can only share them (the ratio's ceiling is cores / cores busy with one thread)
        "cores_busy_one_thread": round(busy_one, 2),
        "cores_busy_two_threads": round(busy_two, 2),
        f"goal ≥ {GOAL}×": ratio >= GOAL,
        "ratio_ceiling": round((os.cpu_count() or 1) / max(busy_one, 1.0), 2),
        "one_core_queries_one_thread_s": round(one_1, 3),
        "one_core_queries_two_threads_s": round(two_1, 3),
        "one_core_queries_ratio": round(one_1 / two_1, 2),
        "one_core_queries_cores_busy_two_threads": round(busy_two_1, 2),
        "cores": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }
