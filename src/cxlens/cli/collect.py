"""``cxlens collect`` (the collection API alone) and ``cxlens bench collect``."""

from __future__ import annotations

from typing import Annotated

import typer

from cxlens.cli._app import app, bench_app, benchmarks, err, out, print_bench, state

#: how long a thread of the collection server may hold the GIL while another waits for it
#: (CPython's default is 5 ms); see :func:`tune_gc`
SWITCH_INTERVAL_S = 0.0005


def tune_gc() -> None:
    """Fewer, cheaper cyclic-GC passes and a shorter GIL switch interval in the ``cxlens collect``
    server process.

    A batch request allocates thousands of short-lived dicts and lists (rows wait in the queue for
    their commit), so CPython's default gen-0 threshold (700) ran collections that walked the
    waiting rows and, at gen 2, every object of the imported libraries: ≈ 4 µs of CPU an event
    (measured). The objects alive after start-up are moved out of the collector's sight
    (``gc.freeze``) and gen 0 is collected every 50,000 allocations; the rows themselves are
    acyclic and freed by reference counting.

    The writer thread gives the GIL back at every DuckDB call, and DuckDB's Python client takes it
    again after every query task (≈ 6 forced waits a group commit, docs/collect.md "Fifth pass"),
    each up to the switch interval while the event loop parses. At 0.5 ms instead of 5 ms, quiet
    machine, alternating (2026-12-04): plain batches 63–79k events/s against 56–62k, behaviour
    batches 45–54k against 37–48k, for ≈ 10 % more server CPU an event.

    Only the server process this module starts is tuned: an app embedded elsewhere keeps its
    host's settings.
    """
    import gc
    import sys

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
    sys.setswitchinterval(SWITCH_INTERVAL_S)


def run_collect_server(
    paths: list[str], host: str, port: int, log_level: str = "warning", parse_workers: int = 0
) -> None:
    """Serve ``/v1/*`` over the workspace files ``paths`` with uvicorn (httptools and uvloop when installed)."""
    import importlib.util

    import uvicorn

    from cxlens.web.api.collect import FastPath, create_collect_app
    from cxlens.web.hub import WorkspaceHub

    hub = WorkspaceHub.open(paths)
    hub.share()  # the CLI and notebooks keep working on these workspaces (docs/store.md)
    loop = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"
    http = "httptools" if importlib.util.find_spec("httptools") else "h11"
    front = FastPath(create_collect_app(hub, parse_workers=parse_workers))
    tune_gc()
    uvicorn.run(
        front,
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,
        loop=loop,
        http=http,
        timeout_graceful_shutdown=10,
    )


@app.command("collect")
def collect(
    workspaces: Annotated[
        list[str] | None, typer.Argument(help="Workspace files to collect into (default: --workspace).")
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind (write keys authenticate every request).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8001,
    log_level: Annotated[str, typer.Option(help="uvicorn log level.")] = "warning",
    parse_workers: Annotated[
        int,
        typer.Option(
            help="Worker processes parsing big request bodies (0: in the server process; more only helps "
            "with idle cores, see docs/collect.md)."
        ),
    ] = 0,
) -> None:
    """Run only the collection API (POST /v1/track|page|identify|screen|batch, /sdk/cxlens.js).

    Every request is authenticated by a workspace write key, so unlike the dashboard it may bind a
    public address. Create write keys with cxlens.access.keys.create_key(ws, "write").
    """
    paths = workspaces or [state.workspace]
    err.print(f"cxlens collection API on http://{host}:{port}/v1  (workspaces {', '.join(paths)}; Ctrl+C to stop)")
    run_collect_server(paths, host, port, log_level, parse_workers)


@bench_app.command("collect")
def bench_collect(
    seconds: Annotated[float, typer.Option(help="Seconds of load per phase.")] = 10.0,
    batch_size: Annotated[int, typer.Option(help="Messages per /v1/batch request.")] = 500,
    batch_connections: Annotated[int, typer.Option(help="Keep-alive connections for the batch phase.")] = 16,
    single_connections: Annotated[int, typer.Option(help="Keep-alive connections for single /v1/track.")] = 256,
    preload: Annotated[int, typer.Option(help="Events already in the workspace (dedupe index size).")] = 0,
    parse_workers: Annotated[int, typer.Option(help="The server's --parse-workers.")] = 0,
) -> None:
    """Real server in one process, load generator in another, over loopback: events/s and latency vs the goal."""
    benchmarks()
    from benchmarks.collect import bench_collect as run

    with err.status("running the collection server under load…"):
        res = run(
            seconds=seconds,
            batch_size=batch_size,
            batch_connections=batch_connections,
            single_connections=single_connections,
            preload=preload,
            parse_workers=parse_workers,
        )
    print_bench("bench collect: acknowledged only after commit", res)
    out.print("goal: ≥ 50,000 events/s via /v1/batch, ≥ 3,000 single requests/s (DESIGN.md)")
