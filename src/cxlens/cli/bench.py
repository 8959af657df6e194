"""Benchmarks: cxlens against a plain baseline, side by side, in one run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli._app import bench_app, benchmarks, err, out, print_bench


# -- bench -------------------------------------------------------------------------
@bench_app.command("metrics")
def bench_metrics(
    rows: Annotated[int, typer.Option(help="Feedback rows to generate.")] = 10_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """NPS/CSAT by touchpoint × month with CIs: cxlens (DuckDB) vs plain pandas, in one run."""
    benchmarks()
    from benchmarks.metrics import bench_metrics as run

    with err.status(f"building {rows:,} feedback rows and timing both…"):
        res = run(rows=rows, seed=seed)
    print_bench(f"bench metrics: {rows:,} feedback rows", res)


@bench_app.command("funnel")
def bench_funnel(
    events: Annotated[int, typer.Option(help="Events to generate.")] = 10_000_000,
    customers: Annotated[int, typer.Option(help="Customers to spread them over.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    repeat: Annotated[int, typer.Option(help="Runs of each side; the ratio uses the best (the first is shown).")] = 3,
) -> None:
    """5-step sequential funnel, 14-day window: cxlens (DuckDB) vs pandas, in one run."""
    benchmarks()
    from benchmarks.funnel import bench_funnel as run

    with err.status(f"building {events:,} events and timing both…"):
        res = run(events=events, customers=customers, seed=seed, repeat=repeat)
    print_bench(f"bench funnel: {events:,} events, {customers:,} customers", res)


@bench_app.command("paths")
def bench_paths(
    events: Annotated[int, typer.Option(help="Events to generate.")] = 10_000_000,
    customers: Annotated[int, typer.Option(help="Customers to spread them over.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    repeat: Annotated[int, typer.Option(help="Runs of each side; the ratio uses the best (the first is shown).")] = 3,
) -> None:
    """Top 3-step paths from 'visit', one per customer: cxlens (DuckDB) vs pandas, in one run."""
    benchmarks()
    from benchmarks.paths import bench_paths as run

    with err.status(f"building {events:,} events and timing both…"):
        res = run(events=events, customers=customers, seed=seed, repeat=repeat)
    print_bench(f"bench paths: {events:,} events, {customers:,} customers", res)


@bench_app.command("journey-map")
def bench_journey_map(
    events: Annotated[int, typer.Option(help="Events to generate.")] = 2_000_000,
    customers: Annotated[int, typer.Option(help="Customers to spread them over.")] = 200_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    repeat: Annotated[int, typer.Option(help="Runs of each side; the ratio uses the best (the first is shown).")] = 3,
) -> None:
    """The journey map's flow per stage × touchpoint on a workspace: cxlens vs pandas, in one run."""
    benchmarks()
    from benchmarks.journey_map import bench_journey_map as run

    with err.status(f"building {events:,} events, loading a workspace and timing both…"):
        res = run(events=events, customers=customers, seed=seed, repeat=repeat)
    print_bench(f"bench journey-map: {events:,} events, {customers:,} customers", res)


@bench_app.command("clv")
def bench_clv(
    customers: Annotated[int, typer.Option(help="Simulated BG/NBD customers.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """BG/NBD fit on simulated customers: cxlens vs lifetimes (if installed), same estimates, in one run."""
    benchmarks()
    from benchmarks.clv import bench_clv as run
    from benchmarks.clv import format_bench

    with err.status(f"simulating {customers:,} customers and fitting…"):
        res = run(customers, seed)
    out.print(format_bench(res), markup=False, highlight=False)


@bench_app.command("sentiment")
def bench_sentiment(
    limit: Annotated[int | None, typer.Option(help="At most this many texts per evaluation set.")] = None,
    embeddings: Annotated[
        int, typer.Option(help="Also evaluate the cxlens[embeddings] head on this many texts per set.")
    ] = 0,
) -> None:
    """Default sentiment model vs VADER: accuracy, macro-F1 and one-core throughput, in one run."""
    benchmarks()
    from benchmarks.sentiment import bench_sentiment as run

    from cxlens.voice.sentiment import DEFAULT_WEIGHTS

    with err.status("scoring the evaluation sets with cxlens and VADER…"):
        res = run(limit=limit, embeddings=embeddings)
    print_bench(f"bench sentiment: cxlens {DEFAULT_WEIGHTS.stem} vs VADER", res)


@bench_app.command("pages")
def bench_pages(
    size: Annotated[str, typer.Option(help="Demo size: small, medium (50k customers), large or a number.")] = "medium",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    repeat: Annotated[int, typer.Option(help="Warm requests per page.")] = 20,
    load_seconds: Annotated[float, typer.Option(help="Seconds of NPS calls while slow pages load.")] = 20.0,
    keep: Annotated[
        Path | None, typer.Option(help="Keep the built workspace (after the run) at this path, to --reuse it.")
    ] = None,
    reuse: Annotated[
        Path | None,
        typer.Option(
            help="Time a copy of this workspace (built and refreshed, e.g. by --keep) instead of building one."
        ),
    ] = None,
) -> None:
    """Every page and API route on a real server: cold and warm p50/p95, and the NPS API under load."""
    benchmarks()
    from benchmarks.pages import bench_pages as run
    from benchmarks.pages import format_pages

    sz: str | int = int(size) if size.isdigit() else size
    with err.status(f"building the {size} demo, starting the server and timing every page…"):
        res = run(sz, seed=seed, repeat=repeat, load_seconds=load_seconds,
                  keep=str(keep) if keep else None, reuse=str(reuse) if reuse else None)  # fmt: skip
    out.print(format_pages(res), markup=False, highlight=False)


@bench_app.command("threads")
def bench_threads(
    size: Annotated[str, typer.Option(help="Demo size: small, medium, large or a number of customers.")] = "medium",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    calls: Annotated[int, typer.Option(help="Library calls per run.")] = 60,
) -> None:
    """Read-only library calls from 1 and 2 threads on one workspace: throughput ratio (goal ≥ 1.6×)."""
    benchmarks()
    from benchmarks.threads import bench_threads as run

    sz: str | int = int(size) if size.isdigit() else size
    with err.status(f"building the {size} demo and timing 1 and 2 threads…"):
        res = run(sz, seed=seed, calls=calls)
    print_bench(f"bench threads: {res['customers']:,} customers, {calls} mixed read-only calls", res)


@bench_app.command("themes")
def bench_themes(
    seeds: Annotated[
        str, typer.Option(help="Clustering seeds (random_state), comma-separated: one fit per set and seed.")
    ] = "0",
) -> None:
    """Default theme pipeline on labelled airline tweets and clothing reviews: AMI, label check, CPU-s per 10k."""
    benchmarks()
    from benchmarks.themes import bench_themes as run
    from benchmarks.themes import parse_seeds

    chosen = parse_seeds(seeds)  # a bad --seeds fails before any fit
    with err.status(f"fitting themes on the labelled sets (seeds {', '.join(map(str, chosen))})…"):
        res = run(seeds=chosen)
    print_bench(f"bench themes: default pipeline (k chosen automatically) vs the human labels, seeds {seeds}", res)


@bench_app.command("import")
def bench_import(
    rows: Annotated[int, typer.Option(help="Feedback rows to generate (2.7M ≈ 200 MB).")] = 2_700_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Import a feedback CSV end to end: first import, re-import and pandas.read_csv, time and peak memory."""
    benchmarks()
    from benchmarks.imports import bench_import as run

    with err.status(f"writing {rows:,} feedback rows and importing them…"):
        res = run(rows=rows, seed=seed)
    print_bench(f"bench import: {rows:,} feedback rows", res)


@bench_app.command("experiments")
def bench_experiments(
    tests: Annotated[int, typer.Option(help="Simulated experiments per check.")] = 2000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Simulated A/A and A/B tests: CI coverage, sequential false positives under daily peeking, power, CUPED."""
    benchmarks()
    from benchmarks.experiments import bench_experiments as run

    with err.status(f"simulating {tests:,} experiments per check…"):
        res = run(tests=tests, seed=seed)
    print_bench(f"bench experiments: {tests:,} simulated tests per check (seed {seed})", res)


@bench_app.command("experiment-readout")
def bench_experiment_readout(
    people: Annotated[int, typer.Option(help="Exposed people (half control).")] = 100_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    repeat: Annotated[int, typer.Option(help="Runs after the first (the best is shown).")] = 5,
) -> None:
    """The experiment read-out on DuckDB: the aggregation query (first call and warm), the whole read-out."""
    benchmarks()
    from benchmarks.experiments import bench_readout as run

    with err.status(f"reading out an experiment of {people:,} people…"):
        res = run(people=people, seed=seed, repeat=repeat)
    print_bench(f"bench experiment-readout: {people:,} exposed people (seed {seed})", res)


@bench_app.command("behaviour")
def bench_behaviour(
    clicks: Annotated[int, typer.Option(help="Click events to generate (plus one page view per ten).")] = 10_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    repeat: Annotated[int, typer.Option(help="Runs per query (the best is shown).")] = 3,
    replay_sessions: Annotated[
        int, typer.Option(min=0, help="Two-minute replay sessions to store for the replay figures (0: skip).")
    ] = 300,
) -> None:
    """Heatmap, zoning and frustration queries over 10M click events: seconds vs the goal (< 1 s each);
    replay storage ratio (goal ≤ 15 % of the raw JSON) and the time to open one replay among many."""
    benchmarks()
    from benchmarks.behaviour import bench_behaviour as run
    from benchmarks.replay import bench_replay

    with err.status(f"building {clicks:,} click events and timing the queries…"):
        res = run(clicks=clicks, seed=seed, repeat=repeat)
    print_bench(f"bench behaviour: {clicks:,} click events", res)
    if replay_sessions:
        with err.status(f"storing {replay_sessions:,} replay sessions…"):
            rep = bench_replay(sessions=replay_sessions, seed=seed)
        print_bench(f"bench behaviour: session replay, {replay_sessions:,} sessions", rep)
