"""``cxlens bench pages``: how fast every dashboard page and API route answers on a real server.

Builds the demo business at ``size`` (``medium``: 50,000 customers) in a temporary workspace, fits
the stored models once (``ws.refresh()``, as ``cxlens models fit``), starts the real server
(``cxlens serve`` in a child process, its job runner on), then, over loopback:

1. **cold**: the first request to each page and route after the start;
2. **warm**: ``repeat`` more requests each → p50 and p95;
3. **head of line**: 4 clients load the slowest pages in a loop while a fifth measures
   ``/api/v1/metrics/nps``: its p95 must stay low however slow the others are.

Goals (issue 10): every page warm p95 < 0.5 s and cold < 2 s; the NPS API p95 < 0.3 s under load.
Only the standard library talks HTTP, so the timings are the server's plus loopback.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import numpy as np

GOAL_WARM_P95, GOAL_COLD, GOAL_NPS_P95 = 0.5, 2.0, 0.3


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str, timeout: float = 120.0) -> tuple[float, int]:
    t0 = time.perf_counter()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback only
            r.read()
            status = r.status
    except urllib.error.HTTPError as e:
        e.read()
        status = e.code
    return time.perf_counter() - t0, status


def urls(ws: Any) -> dict[str, str]:
    """Every page and API route of the dashboard, with parameters that make them do real work."""
    cid = ws.scalar("SELECT customer_id FROM orders GROUP BY 1 ORDER BY count(*) DESC, 1 LIMIT 1")
    steps = "steps=visit&steps=add_to_cart&steps=checkout&steps=purchase"
    return {
        "/ (overview)": "/",
        "/partials/overview/painpoints": "/partials/overview/painpoints",
        "/partials/overview/revenue-risk": "/partials/overview/revenue-risk",
        "/funnels": f"/funnels?{steps}&window=7d",
        "/paths": "/paths?from_event=checkout",
        "/journey": "/journey",
        "/partials/journey/canvas": "/partials/journey/canvas",
        "/feedback": "/feedback",
        "/themes": "/themes",
        "/drivers": "/drivers",
        "/customers": "/customers",
        "/customers/{id}": f"/customers/{cid}",
        "/personas": "/personas",
        "/segments": "/segments",
        "/models": "/models",
        "/surveys": "/surveys",
        "api nps": "/api/v1/metrics/nps",
        "api nps by touchpoint × month": "/api/v1/metrics/nps?by=touchpoint&period=month",
        "api csat by stage": "/api/v1/metrics/csat?by=stage",
        "api summary": "/api/v1/metrics/summary",
        "api funnel": f"/api/v1/journeys/funnel?{steps}&window=7d",
        "api journey map": "/api/v1/journeys/map",
        "api paths": "/api/v1/journeys/paths?from_event=checkout",
        "api voice feedback": "/api/v1/voice/feedback",
        "api voice themes": "/api/v1/voice/themes",
        "api customers": "/api/v1/customers",
        "api revenue at risk": "/api/v1/revenue-at-risk",
    }


def bench_pages(
    size: str | int = "medium",
    *,
    seed: int = 0,
    repeat: int = 20,
    load_seconds: float = 20.0,
    keep: str | None = None,
    reuse: str | None = None,
) -> dict[str, Any]:
    import cxlens
    from cxlens.ingest import write_demo

    work = Path(tempfile.mkdtemp(prefix="cxlens-bench-pages-"))
    path = work / "bench.duckdb"
    t0 = time.perf_counter()
    build = fit = 0.0
    if reuse:  # a workspace built and refreshed before (``keep``): time the server only
        shutil.copy(reuse, path)
    with cxlens.open(path) as ws:
        if not reuse:
            write_demo(ws, size, seed=seed)
            build = time.perf_counter() - t0
            t1 = time.perf_counter()
            ws.refresh()
            fit = time.perf_counter() - t1
        routes = urls(ws)
        customers = ws.scalar("SELECT count(*) FROM customers")
    port = _port()
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")])}
    server = subprocess.Popen(
        [sys.executable, "-m", "cxlens", "-w", str(path), "serve", "--port", str(port)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if _get(base + "/health", 2)[1] == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError(f"the server did not start: {server.stderr.read().decode()[-2000:]}")
            time.sleep(0.2)
        rows = []
        for name, url in routes.items():
            cold, status = _get(base + url)
            warm = [_get(base + url)[0] for _ in range(repeat)]
            rows.append({"route": name, "status": status, "cold_s": cold,
                         "warm_p50_s": float(np.percentile(warm, 50)), "warm_p95_s": float(np.percentile(warm, 95))})  # fmt: skip
        slow = sorted((r for r in rows if not r["route"].startswith("api nps")), key=lambda r: -r["warm_p95_s"])[:4]
        stop = threading.Event()
        loads = [0]

        def loader(url: str) -> None:
            while not stop.is_set():
                _get(base + url)
                loads[0] += 1

        threads = [threading.Thread(target=loader, args=(routes[r["route"]],), daemon=True) for r in slow]
        for t in threads:
            t.start()
        time.sleep(1.0)  # the slow pages are in flight
        nps = []
        end = time.monotonic() + load_seconds
        while time.monotonic() < end:
            nps.append(_get(base + routes["api nps"])[0])
            time.sleep(0.05)
        stop.set()
        for t in threads:
            t.join(timeout=120)
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()
        if keep and not reuse:
            shutil.copy(path, keep)
        shutil.rmtree(work, ignore_errors=True)
    worst_warm = max(r["warm_p95_s"] for r in rows)
    worst_cold = max(r["cold_s"] for r in rows)
    nps_p95 = float(np.percentile(nps, 95))
    return {
        "customers": customers,
        "build_s": round(build, 1),
        "reused": reuse,
        "models_fit_s": round(fit, 1),
        "routes": rows,
        "slow_pages_loaded": [r["route"] for r in slow],
        "slow_requests_served": loads[0],
        "nps_under_load_n": len(nps),
        "nps_under_load_p50_s": float(np.percentile(nps, 50)),
        "nps_under_load_p95_s": nps_p95,
        "worst_warm_p95_s": worst_warm,
        "worst_cold_s": worst_cold,
        "goals": {
            f"every warm p95 < {GOAL_WARM_P95} s": worst_warm < GOAL_WARM_P95,
            f"every cold < {GOAL_COLD} s": worst_cold < GOAL_COLD,
            f"nps p95 under load < {GOAL_NPS_P95} s": nps_p95 < GOAL_NPS_P95,
            "every status 200": all(r["status"] == 200 for r in rows),
        },
        "load_average": os.getloadavg(),
    }


def format_pages(res: dict[str, Any]) -> str:
    """The result as a plain-text table."""
    lines = [
        f"bench pages: {res['customers']:,} customers ("
        + (
            f"a copy of {res['reused']}"
            if res.get("reused")
            else f"demo built in {res['build_s']} s, models fitted in {res['models_fit_s']} s"
        )
        + f"), load average {', '.join(f'{x:.1f}' for x in res['load_average'])}",
        f"{'route':38} {'status':>6} {'cold s':>8} {'warm p50':>9} {'warm p95':>9}",
    ]
    for r in res["routes"]:
        lines.append(
            f"{r['route']:38} {r['status']:>6} {r['cold_s']:>8.3f} {r['warm_p50_s']:>9.3f} {r['warm_p95_s']:>9.3f}"
        )
    lines.append(
        f"/api/v1/metrics/nps while 4 clients load {', '.join(res['slow_pages_loaded'])} "
        f"({res['slow_requests_served']} slow requests served): n={res['nps_under_load_n']}, "
        f"p50 {res['nps_under_load_p50_s']:.3f} s, p95 {res['nps_under_load_p95_s']:.3f} s"
    )
    for goal, ok in res["goals"].items():
        lines.append(f"  {'met ' if ok else 'MISSED'} {goal}")
    return "\n".join(lines)
