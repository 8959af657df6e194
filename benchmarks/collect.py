"""``cxlens bench collect``: the real server in one process, a bounded load generator in another.

The load generator (``python -m benchmarks.collect loadgen ...``) keeps a few HTTP/1.1
keep-alive connections over raw asyncio sockets (so the client costs little CPU next to the
server), sends unique ``messageId``s, counts a message as acknowledged only on a
``{"success":true}`` 200, and can append every acknowledged id to a file (the crash test
reads it). After the load the server is stopped and the workspace is opened again to check
that the rows on disk are exactly the acknowledged ones.

Three phases: batches of plain ``track`` events, batches shaped as the behaviour SDK sends them
(clicks with their ``$``-keyed details, scroll depths, rage and dead clicks, the page in ``url``),
and single ``/v1/track`` calls.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from operator import itemgetter
from pathlib import Path
from typing import Any

import numpy as np
import orjson

__all__ = ["BatchBodies", "bench_collect", "bench_phase", "free_port", "start_server", "stop_server", "run_loadgen"]


#: the repository root (for ``benchmarks``) and its ``src`` (for ``cxlens``), for child processes
_ROOT = Path(__file__).resolve().parents[1]
_PATH = os.pathsep.join([str(_ROOT / "src"), str(_ROOT)])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_server(
    path: str | Path,
    port: int,
    *,
    env: dict[str, str] | None = None,
    parse_workers: int = 0,
    server_first: bool = False,
) -> subprocess.Popen[bytes]:
    """``cxlens collect`` over ``path`` in a child process; returns once ``/health`` answers
    (``server_first``: ``env``'s PYTHONPATH goes before this checkout's, to run another checkout's server)."""
    e = {**os.environ, **(env or {})}
    given = e.get("PYTHONPATH", "")
    e["PYTHONPATH"] = given + os.pathsep + _PATH if server_first else _PATH + os.pathsep + given
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cxlens",
            "-w",
            str(path),
            "collect",
            "--port",
            str(port),
            "--parse-workers",
            str(parse_workers),
        ],
        env=e,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return wait_healthy(
        proc,
        port,
        60,
        "collection server",
        lambda: proc.stderr.read().decode(errors="replace"),  # type: ignore[union-attr]
    )


def wait_healthy(
    proc: subprocess.Popen[bytes], port: int, seconds: float, what: str, log: Any
) -> subprocess.Popen[bytes]:
    """``proc`` once ``/health`` on ``port`` answers 200; raises with the tail of ``log()`` if it exits,
    and kills it if it does not answer within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited: {log()[-2000:]}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as r:
                if r.status == 200:
                    return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError(f"{what} did not answer /health within {seconds:g} s")


def stop_server(proc: subprocess.Popen[bytes], *, kill: bool = False) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
    try:
        proc.wait(30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


# -- the load generator (runs in its own process) ----------------------------------------------
def _plain_values(i: int) -> dict[str, int]:
    """What varies from one plain message to the next (the rest follows ``i % 3``)."""
    return {"i": i, "u": i % 5000, "p": i % 977}


def _message(i: int, run: str, kind: str, v: dict[str, Any] | None = None) -> dict[str, Any]:
    """A plain ``track``-like message (``v``: :func:`_plain_values`, or markers to build a template)."""
    v = _plain_values(i) if v is None else v
    return {
        "type": kind,
        "messageId": f"{run}-{v['i']}",
        "userId" if i % 3 else "anonymousId": f"u{v['u']}",
        "event": "Product Viewed",
        "timestamp": "2026-11-24T10:00:00.000Z",
        "properties": {"product_id": f"p{v['p']}", "price": 19.99, "touchpoint": "product_page", "i": v["i"]},
        "context": {"library": {"name": "cxlens-bench", "version": "1"}},
    }


_SELECTORS = ("#pay", "#apply", "nav > a:nth-of-type(2)", "main .card:nth-of-type(3) button", "#search")
_PAGES = ("https://shop.example.com/", "https://shop.example.com/checkout", "https://shop.example.com/cart?step=2")


def _behaviour_values(i: int) -> dict[str, int]:
    """What varies from one behaviour message to the next (the rest follows ``i % 30``)."""
    return {"i": i, "u": i % 5000, "pv": i // 20, "pct": i % 101, "max_y": 900 + i % 3000, "dir": i % 7,
            "x": i % 1280, "y": i % 4000, "hes": i % 900, "since": 1000 + i % 60000}  # fmt: skip


def _behaviour_message(i: int, run: str, v: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the behaviour SDK sends: mostly clicks with their $-keyed details, some scroll depths and
    frustration signals, the page in ``url`` (as cxlens-behaviour.js does). ``v``: :func:`_behaviour_values`,
    or markers to build a template."""
    v = _behaviour_values(i) if v is None else v
    kind = ("$click", "$click", "$click", "$click", "$scroll_depth", "$click", "$rageclick", "$click", "$deadclick",
            "$click")[i % 10]  # fmt: skip
    url = _PAGES[i % 3]
    props: dict[str, Any] = {"url": url, "$pageview_id": f"pv{v['pv']}", "$viewport_width": (1280, 390, 800)[i % 3],
                             "$viewport_height": 900}  # fmt: skip
    if kind == "$scroll_depth":
        props |= {"$percent": v["pct"], "$max_y": v["max_y"], "$page_height": 4000, "$direction_changes": v["dir"]}
    else:
        props |= {"$selector": _SELECTORS[i % 5], "$x": v["x"], "$y": v["y"], "$rel_x": 0.25, "$rel_y": 0.5,
                  "$text": "Pay now", "$hesitation_ms": v["hes"], "$since_load_ms": v["since"]}  # fmt: skip
    return {
        "type": "track", "messageId": f"{run}-{v['i']}", "userId" if i % 3 else "anonymousId": f"u{v['u']}",
        "event": kind, "timestamp": "2026-11-24T10:00:00.000Z", "properties": props,
        "context": {"library": {"name": "cxlens-behaviour", "version": "1"}, "page": {"url": url}},
    }  # fmt: skip


SENT_AT = "2026-11-24T10:00:01.000Z"


class BatchBodies:
    """``/v1/batch`` bodies of the ``batch`` or ``behaviour`` phase, from templates.

    ``body(ids)`` is byte for byte ``orjson.dumps({"batch": [message(i) for i in ids], "sentAt": SENT_AT})``
    (``tests/collect/test_bench_phase.py`` checks it), so the server sees the same JSON; but where building
    fresh dicts and serialising them cost the load generator ≈ 4 µs of CPU a behaviour message (≈ 2.4 a
    plain one) — CPU taken from the server it measures on a 2-core machine, where real clients are other
    machines — a message is one ``bytes %`` of the template of its shape (``i`` modulo the period of every
    choice the message makes) with its varying integers: ≈ 1.3 µs (0.7 plain).
    """

    _MARK = "\ue000{}\ue001"  # private-use characters: orjson writes them as they are, nothing else does

    def __init__(self, mode: str, run: str):
        if mode == "behaviour":
            self._make, self._values, self._period = (lambda i, v: _behaviour_message(i, run, v)), _behaviour_values, 30
        elif mode == "batch":
            self._make, self._values, self._period = (lambda i, v: _message(i, run, "track", v)), _plain_values, 3
        else:
            raise ValueError(f"no batch bodies for mode {mode!r}; expected 'batch' or 'behaviour'")
        self._names = list(self._values(0))
        self._templates = [self._template(r) for r in range(self._period)]
        self._tail = b"]," + orjson.dumps({"sentAt": SENT_AT})[1:]

    def _template(self, r: int) -> tuple[bytes, Any]:
        """Message ``r`` (mod the period) as a ``bytes %`` format, and the getter that picks its values, in
        the order the format writes them, from the tuple of all of them (in ``self._names`` order)."""
        names = self._names
        text = orjson.dumps(self._make(r, {k: self._MARK.format(k) for k in names})).replace(b"%", b"%%")
        found = []  # (position, index of the value), every place a value is written
        for n, k in enumerate(names):
            mark = self._MARK.format(k).encode()
            at = text.find(mark)
            while at >= 0:
                found.append((at, n))
                at = text.find(mark, at + 1)
        for k in names:  # a number is written as a quoted marker, a number inside a string as the marker
            mark = self._MARK.format(k).encode()
            text = text.replace(b'"' + mark + b'"', b"%d").replace(mark, b"%d")
        order = [n for _, n in sorted(found)]
        if not order:
            return text, lambda v: ()
        get = itemgetter(*order)
        return text, get if len(order) > 1 else (lambda v: (get(v),))

    def body(self, ids: list[int]) -> bytes:
        """The request body carrying messages ``ids`` (the values of all of them computed at once, as
        NumPy columns: :meth:`_values` is plain arithmetic)."""
        at = np.asarray(ids, dtype=np.int64)
        columns = [np.broadcast_to(c, at.shape).tolist() for c in self._values(at).values()]
        templates, period = self._templates, self._period
        messages = []
        for r, row in zip((at % period).tolist(), zip(*columns, strict=True), strict=True):
            fmt, get = templates[r]
            messages.append(fmt % get(row))
        return b'{"batch":[' + b",".join(messages) + self._tail


def _request(path: str, auth: str, body: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Basic {auth}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode() + body


async def _read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    body = await reader.readexactly(length) if length else b""
    return status, body


async def _loadgen(args: argparse.Namespace) -> dict[str, Any]:
    auth = base64.b64encode(f"{args.key}:".encode()).decode()
    path = "/v1/track" if args.mode == "single" else "/v1/batch"
    per_request = 1 if args.mode == "single" else args.batch_size
    counter = iter(range(10**12))
    lat: list[float] = []
    acked = 0
    errors: dict[str, int] = {}
    acked_file = open(args.acked, "a", buffering=1) if args.acked else None  # noqa: SIM115
    stop_at = time.perf_counter() + args.seconds
    budget = args.max_requests
    bodies = BatchBodies(args.mode, args.run) if args.mode in ("batch", "behaviour") else None

    async def conn() -> None:
        nonlocal acked, budget
        reader, writer = await asyncio.open_connection("127.0.0.1", args.port)
        try:
            while time.perf_counter() < stop_at and (budget is None or budget > 0):
                if budget is not None:
                    budget -= 1
                ids = [next(counter) for _ in range(per_request)]
                if bodies is not None:
                    body = bodies.body(ids)
                else:
                    m = _message(ids[0], args.run, "track")
                    del m["type"]
                    body = orjson.dumps(m)
                t0 = time.perf_counter()
                try:
                    writer.write(_request(path, auth, body))
                    status, resp = await _read_response(reader)
                except (OSError, asyncio.IncompleteReadError) as e:
                    errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1
                    return
                lat.append(time.perf_counter() - t0)
                if status == 200 and resp == b'{"success":true}':
                    acked += per_request
                    if acked_file:
                        acked_file.write("".join(f"{args.run}-{i}\n" for i in ids))
                else:
                    errors[str(status)] = errors.get(str(status), 0) + 1
        finally:
            writer.close()

    t_start = time.perf_counter()
    cpu_start = time.process_time()
    await asyncio.gather(*(conn() for _ in range(args.connections)), return_exceptions=False)
    elapsed = time.perf_counter() - t_start
    cpu = time.process_time() - cpu_start
    if acked_file:
        acked_file.close()
    lat.sort()

    def pct(p: float) -> float:
        return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else float("nan")

    return {
        "requests": len(lat),
        "acked_events": acked,
        "seconds": round(elapsed, 2),
        "events_per_s": round(acked / elapsed),
        "requests_per_s": round(len(lat) / elapsed),
        "p50_ms": pct(0.50),
        "p99_ms": pct(0.99),
        "errors": errors,
        # the generator's own CPU (it shares the machine with the server in the bench)
        "loadgen_cpu_s": round(cpu, 3),
    }


def run_loadgen(
    port: int,
    key: str,
    mode: str,
    *,
    seconds: float,
    connections: int,
    batch_size: int = 100,
    run: str = "r",
    acked: str | None = None,
    max_requests: int | None = None,
) -> subprocess.Popen[bytes]:
    """Start the load generator process (read its JSON result from stdout when it exits)."""
    cmd = [
        sys.executable,
        "-m",
        "benchmarks.collect",
        "loadgen",
        "--port",
        str(port),
        "--key",
        key,
        "--mode",
        mode,
        "--seconds",
        str(seconds),
        "--connections",
        str(connections),
        "--batch-size",
        str(batch_size),
        "--run",
        run,
    ]
    if acked:
        cmd += ["--acked", acked]
    if max_requests:
        cmd += ["--max-requests", str(max_requests)]
    env = {**os.environ, "PYTHONPATH": _PATH + os.pathsep + os.environ.get("PYTHONPATH", "")}
    return subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def _result(proc: subprocess.Popen[bytes]) -> dict[str, Any]:
    stdout, stderr = proc.communicate(timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"load generator failed: {stderr.decode()[-2000:]}")
    return json.loads(stdout)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process and of its live descendants (the server's parse workers) (Linux
    /proc), or NaN elsewhere. A descendant that has exited is not counted."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        total = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")
    for child in _children(pid):
        sub = _cpu_seconds(child)
        if sub == sub:  # not NaN: it may have exited meanwhile
            total += sub
    return total


def _thread_cpu_seconds(pid: int, tid: int) -> float:
    """User + system CPU seconds of one thread of a process (Linux /proc), or NaN. The server's event-loop
    thread is its main thread (``tid == pid``): HTTP, JSON parsing, validation, a big request's Arrow table;
    the rest of the process is the writer and DuckDB."""
    try:
        with open(f"/proc/{pid}/task/{tid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return float("nan")


def _children(pid: int) -> list[int]:
    """Child process ids of ``pid`` (every thread's ``children`` file)."""
    out: list[int] = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/children") as f:
                out += [int(c) for c in f.read().split()]
    except OSError:
        pass
    return out


def _phase(server: subprocess.Popen[bytes], gen: subprocess.Popen[bytes]) -> dict[str, Any]:
    before, loop_before = _cpu_seconds(server.pid), _thread_cpu_seconds(server.pid, server.pid)
    res = _result(gen)
    res["server_cpu_s"] = _cpu_seconds(server.pid) - before
    res["event_loop_cpu_s"] = _thread_cpu_seconds(server.pid, server.pid) - loop_before
    return res


def _preload(path: Path, n: int) -> None:
    """``n`` events already in the workspace (so the dedupe index has something to search)."""
    import cxlens

    with cxlens.open(path) as ws, ws.transaction(changes=["events", "collect_ids"]) as cur:
        cur.execute(
            "INSERT INTO events (event_id, customer_id, ts, type, name, channel, properties) "
            f"SELECT 'pre-' || i, 'c' || (i % 100000), TIMESTAMP '2026-01-01' + INTERVAL (i % 86400) SECOND, "
            f"'track', 'Product Viewed', 'web', '{{}}' FROM range({int(n)}) t(i)"
        )
        # what the collector would have recorded for them (see cxlens.collect.writer)
        cur.execute("INSERT INTO collect_ids SELECT md5_number_lower(event_id) FROM events")


def bench_collect(
    *,
    seconds: float = 10.0,
    batch_size: int = 500,
    batch_connections: int = 16,
    single_connections: int = 256,
    preload: int = 0,
    parse_workers: int = 0,
) -> dict[str, Any]:
    """Run both phases and check the rows on disk; returns the figures (see module docstring)."""
    import cxlens
    from cxlens.access import keys

    with tempfile.TemporaryDirectory(prefix="cxlens-bench-collect-") as tmp:
        path = Path(tmp) / "bench.duckdb"
        with cxlens.open(path) as ws:
            _, key = keys.create_key(ws, "write", name="bench")
            ws.set_setting("collect.rate_limit", 1e9)
        if preload:
            _preload(path, preload)
        port = free_port()
        t0 = time.perf_counter()
        server = start_server(path, port, parse_workers=parse_workers)
        startup = time.perf_counter() - t0
        load_before = os.getloadavg()
        try:
            batch = _phase(
                server,
                run_loadgen(
                    port, key, "batch", seconds=seconds, connections=batch_connections, batch_size=batch_size, run="b"
                ),
            )
            behaviour = _phase(
                server,
                run_loadgen(
                    port, key, "behaviour", seconds=seconds, connections=batch_connections, batch_size=batch_size,
                    run="h",
                ),
            )  # fmt: skip
            single = _phase(
                server, run_loadgen(port, key, "single", seconds=seconds, connections=single_connections, run="s")
            )
        finally:
            stop_server(server)
        load_after = os.getloadavg()
        with cxlens.open(path, read_only=True) as ws:
            stored = int(ws.sql("SELECT count(*) AS n FROM events WHERE event_id NOT LIKE 'pre-%'")["n"][0])
    acked = batch["acked_events"] + behaviour["acked_events"] + single["acked_events"]
    return {
        "events already in workspace": preload,
        "parse worker processes": parse_workers,
        "server start (s, incl. id index)": round(startup, 2),
        f"batch ({batch_size}/request, {batch_connections} conns): events/s": batch["events_per_s"],
        "batch: goal events/s": 50_000,
        "batch: p50 / p99 ms per request": f"{batch['p50_ms']} / {batch['p99_ms']}",
        f"behaviour SDK events, batch ({batch_size}/request): events/s": behaviour["events_per_s"],
        "behaviour: goal events/s": 50_000,
        "behaviour: p50 / p99 ms per request": f"{behaviour['p50_ms']} / {behaviour['p99_ms']}",
        "behaviour: server CPU µs per event": round(
            1e6 * behaviour["server_cpu_s"] / max(1, behaviour["acked_events"]), 1
        ),
        # the event-loop thread's share of it: the rest (writer, DuckDB) can run on the other core
        "behaviour: server event-loop thread CPU µs per event": round(
            1e6 * behaviour["event_loop_cpu_s"] / max(1, behaviour["acked_events"]), 1
        ),
        "behaviour: load generator CPU µs per event": round(
            1e6 * behaviour["loadgen_cpu_s"] / max(1, behaviour["acked_events"]), 1
        ),
        f"single /v1/track ({single_connections} conns): requests/s": single["requests_per_s"],
        "single: goal requests/s": 3_000,
        "single: p50 / p99 ms": f"{single['p50_ms']} / {single['p99_ms']}",
        # machine-independent: CPU the server spent (all its threads) per event / request
        "batch: server CPU µs per event": round(1e6 * batch["server_cpu_s"] / max(1, batch["acked_events"]), 1),
        "batch: load generator CPU µs per event": round(
            1e6 * batch["loadgen_cpu_s"] / max(1, batch["acked_events"]), 1
        ),
        "single: server CPU µs per request": round(1e6 * single["server_cpu_s"] / max(1, single["requests"]), 1),
        "batch: server CPU share of the wall time": round(batch["server_cpu_s"] / batch["seconds"], 2),
        "single: server CPU share of the wall time": round(single["server_cpu_s"] / single["seconds"], 2),
        "errors": {"batch": batch["errors"], "behaviour": behaviour["errors"], "single": single["errors"]},
        "acknowledged events": acked,
        "rows on disk after restart": stored,
        "lost or duplicated": stored - acked,
        "load average before / after": f"{load_before[0]:.2f} / {load_after[0]:.2f}",
        "cores": os.cpu_count(),
    }


def bench_phase(
    mode: str, *, seconds: float = 6.0, connections: int = 16, batch_size: int = 500, server_src: str | None = None
) -> dict[str, Any]:
    """One phase (``batch``, ``behaviour`` or ``single``) against a fresh server over an empty workspace:
    events/s, the server's CPU µs an event, p50/p99, and acknowledged = stored. ``server_src``: run the
    server from another checkout's ``src`` (an A/B: ``python -m benchmarks.collect phase behaviour
    --server-src /work/main/src``, then without it, back to back)."""
    import cxlens
    from cxlens.access import keys

    with tempfile.TemporaryDirectory(prefix="cxlens-bench-phase-") as tmp:
        path = Path(tmp) / "bench.duckdb"
        with cxlens.open(path) as ws:
            _, key = keys.create_key(ws, "write", name="bench")
            ws.set_setting("collect.rate_limit", 1e9)
        port = free_port()
        env = {"PYTHONPATH": server_src} if server_src else None  # put before this checkout's src
        server = start_server(path, port, env=env, server_first=bool(server_src))
        load_before = os.getloadavg()[0]
        try:
            res = _phase(
                server,
                run_loadgen(port, key, mode, seconds=seconds, connections=connections, batch_size=batch_size, run="a"),
            )
        finally:
            stop_server(server)
        load_after = os.getloadavg()[0]
        with cxlens.open(path, read_only=True) as ws:
            stored = int(ws.sql("SELECT count(*) AS n FROM events")["n"][0])
    acked = res["acked_events"]
    return {
        "phase": mode,
        "events/s": res["events_per_s"],
        "server CPU µs per event": round(1e6 * res["server_cpu_s"] / max(1, acked), 1),
        "server event-loop thread CPU µs per event": round(1e6 * res["event_loop_cpu_s"] / max(1, acked), 1),
        "load generator CPU µs per event": round(1e6 * res["loadgen_cpu_s"] / max(1, acked), 1),
        "p50 / p99 ms per request": f"{res['p50_ms']} / {res['p99_ms']}",
        "acknowledged events": acked,
        "rows on disk after restart": stored,
        "errors": res["errors"],
        "load average before / after": f"{load_before:.2f} / {load_after:.2f}",
    }


def _main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.collect")
    sub = p.add_subparsers(dest="cmd", required=True)
    g = sub.add_parser("loadgen")
    g.add_argument("--port", type=int, required=True)
    g.add_argument("--key", required=True)
    g.add_argument("--mode", choices=("batch", "behaviour", "single"), required=True)
    g.add_argument("--seconds", type=float, default=10)
    g.add_argument("--connections", type=int, default=8)
    g.add_argument("--batch-size", type=int, default=100)
    g.add_argument("--run", default="r")
    g.add_argument("--acked")
    g.add_argument("--max-requests", type=int)
    o = sub.add_parser("phase", help="one phase alone against a fresh server (an A/B of the server's CPU an event)")
    o.add_argument("mode", choices=("batch", "behaviour", "single"))
    o.add_argument("--seconds", type=float, default=6)
    o.add_argument("--server-src", help="run the server from this src directory (another checkout's)")
    args = p.parse_args(argv)
    if args.cmd == "phase":
        res = bench_phase(args.mode, seconds=args.seconds, server_src=args.server_src)
        sys.stdout.write(json.dumps(res, ensure_ascii=False) + "\n")
        return
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    res = asyncio.run(_loadgen(args))
    sys.stdout.write(json.dumps(res) + "\n")


if __name__ == "__main__":
    _main()
