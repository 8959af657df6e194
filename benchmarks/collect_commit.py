"""The collection server's two busy threads in one process, without HTTP: where a group commit's wall time goes.

A *parser* thread stands in for the server's event loop: it parses ``/v1/batch`` bodies shaped as the bench's
behaviour phase (:class:`benchmarks.collect.BatchBodies`, unique ids), seals them (:meth:`Messages.seal`, as
the handler does) and hands them to the workspace's :class:`~cxlens.collect.writer.Collector`, keeping up to
``inflight`` requests waiting for their commit (the bench's 16 connections). Like the event loop, it holds the
GIL while it parses, so the writer thread pays for every DuckDB call that gives the GIL back.

``python -m benchmarks.collect_commit --seconds 8`` prints events/s, each thread's CPU µs an event
(``/proc/self/task/<tid>/stat``), the groups' sizes and the writer's wall and CPU time per group split by DuckDB
call (``--calls``: every call on the writer's cursor is timed, wall and thread CPU). Run it with another
checkout's ``src`` first on ``PYTHONPATH`` for an A/B of the writer (the parser is the same code).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from collections import defaultdict
from concurrent.futures import Future
from datetime import datetime
from pathlib import Path
from typing import Any

__all__ = ["main", "run"]


def _thread_cpu(tid: int) -> float:
    with open(f"/proc/self/task/{tid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class _PerfControl:
    """``perf stat|record --control fifo:CTL,ACK -D -1`` counts only inside the commits when the fifos'
    paths are in ``CXLENS_PERF_CTL``/``CXLENS_PERF_ACK`` (exact counts of the GIL's acquisitions: uprobes on
    ``PyEval_RestoreThread`` and ``PyGILState_Ensure``; see the module docstring)."""

    def __init__(self) -> None:
        ctl, ack = os.environ.get("CXLENS_PERF_CTL"), os.environ.get("CXLENS_PERF_ACK")
        self._ctl = open(ctl, "w", buffering=1) if ctl else None  # noqa: SIM115
        self._ack = open(ack) if ack else None  # noqa: SIM115

    def __call__(self, command: str) -> None:
        if self._ctl is not None:
            self._ctl.write(command + "\n")
            if self._ack is not None:
                self._ack.readline()


def _switches() -> int:
    """Voluntary context switches of the calling thread so far: each wait for the GIL is one (and each wait
    for a lock, DuckDB's worker threads or the disk); a count, which a busy machine does not blur as it
    blurs times."""
    with open("/proc/thread-self/status") as f:
        for line in f:
            if line.startswith("voluntary_ctxt_switches"):
                return int(line.split()[1])
    return 0


class _TimedCursor:
    """A DuckDB cursor whose calls are timed (wall and the calling thread's CPU) into ``calls``."""

    def __init__(self, cur: Any, calls: dict[str, list[tuple[float, float, int]]]):
        self._cur, self._calls = cur, calls

    def __getattr__(self, name: str) -> Any:
        fn = getattr(self._cur, name)
        if not callable(fn):
            return fn

        def timed(*a: Any, **k: Any) -> Any:
            label = name
            if name in ("execute", "executemany") and a:
                label = f"{name}: {' '.join(str(a[0]).split())[:48]}"
            w0, c0, s0 = time.perf_counter(), time.thread_time(), _switches()
            try:
                out = fn(*a, **k)
            finally:
                self._calls[label].append((time.perf_counter() - w0, time.thread_time() - c0, _switches() - s0))
            return self if out is self._cur else out

        return timed


def _pipeline(collector: Any, built: list[bytes], received: datetime, seconds: float, inflight: int, perf: Any) -> Any:
    """The parser thread feeding the collector for ``seconds``: (wall, events, CPU by thread, acknowledged)."""
    from cxlens.collect.messages import parse_body, parse_messages

    acked = 0
    stop = threading.Event()
    slots = threading.Semaphore(inflight)
    parser_tid = 0

    def done(fut: Future[Any]) -> None:
        nonlocal acked
        acked += fut.result().inserted
        slots.release()

    def parse() -> None:
        nonlocal parser_tid
        parser_tid = threading.get_native_id()
        for body in built:
            slots.acquire()
            if stop.is_set():
                return
            m = parse_messages(parse_body(body), "batch", received).seal()
            collector.submit(m).add_done_callback(done)

    writer_tid = collector._thread.native_id or 0
    t = threading.Thread(target=parse, name="parser")
    cpu0 = {"writer": _thread_cpu(writer_tid), "process": time.process_time()}
    w0 = time.perf_counter()
    t.start()
    time.sleep(0.05)
    cpu0["parser"] = _thread_cpu(parser_tid)
    acked0, groups0 = acked, collector.groups
    perf("enable")
    time.sleep(seconds)
    perf("disable")
    groups = collector.groups - groups0
    wall = time.perf_counter() - w0 - 0.05
    n = acked - acked0
    cpu = {
        "parser": _thread_cpu(parser_tid) - cpu0["parser"],
        "writer": _thread_cpu(writer_tid) - cpu0["writer"],
        "process": time.process_time() - cpu0["process"],
    }
    stop.set()
    for _ in range(inflight + 1):
        slots.release()
    t.join()
    cpu["tids"] = {"parser": parser_tid, "writer": writer_tid}
    cpu["groups"] = groups
    return wall, n, cpu, acked


def run(
    seconds: float = 8.0,
    inflight: int = 16,
    batch: int = 500,
    calls: bool = False,
    serial: int | None = None,
    hog: bool = False,
) -> dict[str, Any]:
    """Parse and commit behaviour batches for ``seconds``; the figures (see the module docstring)."""
    import cxlens
    from benchmarks.collect import BatchBodies
    from cxlens.cli.collect import tune_gc
    from cxlens.collect.messages import parse_body, parse_messages
    from cxlens.collect.writer import Collector

    tune_gc()  # as the server does
    received = datetime(2026, 11, 24, 10, 0, 2)
    bodies = BatchBodies("behaviour", "c")
    with tempfile.TemporaryDirectory(prefix="cxlens-commit-") as tmp:
        ws = cxlens.open(Path(tmp) / "c.duckdb")
        collector = Collector(ws.store)
        timed: dict[str, list[tuple[float, float, int]]] = defaultdict(list)
        group_wall: list[float] = []
        group_cpu: list[float] = []
        group_rows: list[int] = []
        group_switches: list[int] = []
        commit = collector._commit

        committing = threading.local()

        perf = _PerfControl()

        def commit_timed(jobs: list[Any]) -> Any:
            s0 = _switches()
            if serial is not None:
                perf("enable")
            w0, c0 = time.perf_counter(), time.thread_time()
            committing.on = True
            try:
                return commit(jobs)
            finally:
                committing.on = False
                group_wall.append(time.perf_counter() - w0)
                group_cpu.append(time.thread_time() - c0)
                if serial is not None:
                    perf("disable")
                group_switches.append(_switches() - s0)
                group_rows.append(sum(j.messages.count for j in jobs))

        collector._commit = commit_timed  # type: ignore[method-assign]
        if calls:
            store = collector.store
            plain = store.cursor
            wrapped: dict[int, _TimedCursor] = {}

            def cursor() -> Any:
                cur = plain()
                if not getattr(committing, "on", False):
                    return cur
                return wrapped.setdefault(id(cur), _TimedCursor(cur, timed))

            store.cursor = cursor  # type: ignore[method-assign]
        # the bodies are built before the clock starts (the load generator's work, not the server's)
        n_bodies = int(seconds * 200) + 64
        built = [bodies.body(list(range(k * batch, (k + 1) * batch))) for k in range(n_bodies)]
        if serial is not None:  # no parser competing for the GIL: the writer's calls uncontended
            from cxlens.collect.writer import _Job

            jobs = [
                _Job(parse_messages(parse_body(b), "batch", received).seal(), None)
                for b in built[: 6 * max(serial, 30)]
            ]
            stop = threading.Event()

            def spin() -> None:  # pure Python, never gives the GIL up by itself (as the parse of a body)
                x = 0
                while not stop.is_set():
                    x += 1

            hogging = threading.Thread(target=spin) if hog else None
            if hogging is not None:
                hogging.start()
            w0 = time.perf_counter()
            for k in range(serial):
                commit_timed(jobs[6 * k : 6 * k + 6])
            wall, n = time.perf_counter() - w0, 6 * batch * serial
            stop.set()
            if hogging is not None:
                hogging.join()
            cpu = {"parser": 0.0, "writer": sum(group_cpu), "process": 0.0}
            acked = n
        else:
            wall, n, cpu, acked = _pipeline(collector, built, received, seconds, inflight, perf)
        collector.close()
        stored = ws.one("SELECT count(*) FROM events")[0]
        ws.close()
    groups = len(group_wall)
    out: dict[str, Any] = {
        "events/s": round(n / wall),
        "load average": f"{os.getloadavg()[0]:.2f}",
        "CPU µs/event (parser thread, writer thread, whole process)": [
            round(1e6 * cpu[k] / max(1, n), 1) for k in ("parser", "writer", "process")
        ],
        "groups": groups,
        "median events a group": statistics.median(group_rows) if groups else 0,
        "median group commit wall / writer CPU ms": [
            round(1e3 * statistics.median(group_wall), 1),
            round(1e3 * statistics.median(group_cpu), 1),
        ],
        "writer's voluntary context switches a group (mean)": round(statistics.mean(group_switches), 1)
        if groups
        else 0,
        "acked = stored": [acked, stored],
        "thread ids": cpu.get("tids"),
        "groups committed in the measured seconds": cpu.get("groups"),
    }
    if calls:
        out["per group: calls, wall ms, CPU ms (median of each call), switches (mean)"] = {
            label: [round(len(v) / max(1, groups), 2), round(1e3 * statistics.median(w for w, _, _ in v), 2),
                    round(1e3 * statistics.median(c for _, c, _ in v), 2), round(statistics.mean(x for _, _, x in v), 2)]
            for label, v in timed.items()
        }  # fmt: skip
    return out


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.collect_commit")
    p.add_argument("--seconds", type=float, default=8)
    p.add_argument("--inflight", type=int, default=16)
    p.add_argument("--serial", type=int, default=None, help="commit this many groups of 6 parsed requests, no parser")
    p.add_argument("--hog", action="store_true", help="with --serial: a pure-Python thread holds the GIL meanwhile")
    p.add_argument("--switch-ms", type=float, default=5.0, help="sys.setswitchinterval (5 ms: CPython's default)")
    p.add_argument("--calls", action="store_true", help="time every DuckDB call of the writer")
    args = p.parse_args(argv)
    sys.setswitchinterval(args.switch_ms / 1000)
    res = run(args.seconds, args.inflight, calls=args.calls, serial=args.serial, hog=args.hog)
    sys.stdout.write(json.dumps(res, ensure_ascii=False, indent=1) + "\n")


if __name__ == "__main__":
    main()
