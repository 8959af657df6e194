"""Getting data in and configuring: import, demo, info, journey show/load/export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer
from rich.table import Table as RichTable

import cxlens
from cxlens.cli._app import (
    ADAPTER_KINDS,
    app,
    as_frame,
    cell,
    err,
    exists,
    journey_app,
    open,
    out,
    pairs,
    progress_bar,
    serve_dashboard,
    state,
)
from cxlens.errors import ConfigError
from cxlens.schema.tables import TABLES


# -- import ------------------------------------------------------------------------
@app.command("import")
def import_(
    kind: Annotated[str, typer.Argument(help=f"Table ({', '.join(TABLES)}) or adapter ({', '.join(ADAPTER_KINDS)}).")],
    path: Annotated[Path, typer.Argument(help="File (CSV, Parquet, JSON Lines) or, for olist, the folder.")],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", "-m", help="canonical=source column names, repeatable or comma-separated."),
    ] = None,
    fmt: Annotated[str | None, typer.Option("--format", help="csv, parquet or jsonl (default: by extension).")] = None,
    dayfirst: Annotated[bool, typer.Option("--dayfirst", help="Read 04/05/2024 as 4 May.")] = False,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="column=value for every row, e.g. --set metric=nps; repeatable.")
    ] = None,
) -> None:
    """Import a file into the workspace: validated, all-or-nothing, duplicates skipped."""
    with open() as ws:
        if kind in ("rees46", "olist-funnel"):
            from cxlens.journeys.real import olist_marketing_events, rees46_events

            frame = rees46_events(path) if kind == "rees46" else olist_marketing_events(path)
            result = ws.load("events", frame)
            out.print(f"events: {result.inserted:,} rows added ({result.skipped:,} already present)")
            return
        if kind in ADAPTER_KINDS:
            from cxlens.ingest.adapters import ADAPTERS
            from cxlens.voice.sources import SOURCE_ADAPTERS

            counts = {**ADAPTERS, **SOURCE_ADAPTERS}[kind](ws, path)
            for table, n in counts.items():
                out.print(f"{table}: {n:,} rows added")
            return
        if kind not in TABLES:
            raise ConfigError(f"unknown import kind {kind!r}; expected one of {', '.join((*TABLES, *ADAPTER_KINDS))}")
        bar, update = progress_bar(f"reading {path.name}")
        try:
            result = ws.load(
                kind,
                path,
                mapping=map_,
                format=fmt,
                dayfirst=dayfirst,
                constants=pairs(set_, "--set"),
                progress=update,
            )
        finally:
            if bar.live.is_started:
                bar.stop()
        out.print(
            f"{result.table}: {result.inserted:,} rows added from {result.source} "
            f"({result.skipped:,} already present or repeated)"
        )


# -- demo --------------------------------------------------------------------------
@app.command()
def demo(
    size: Annotated[str, typer.Option(help="small, medium, large or a number of customers.")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards.")] = False,
    host: Annotated[str, typer.Option(help="Host to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CXLENS_PORT", help="Port to serve on.")] = 8000,
) -> None:
    """Build a demo workspace from the bundled generator and print its KPIs."""
    from cxlens.ingest.simulate import write_demo

    sz: str | int = int(size) if size.isdigit() else size
    with open() as ws:
        with err.status(f"generating the {size} demo business (seed {seed})…"):
            counts = write_demo(ws, size=sz, seed=seed)
        summary = RichTable(title=f"demo workspace {state.workspace}")
        summary.add_column("table")
        summary.add_column("rows added", justify="right")
        for table, n in counts.items():
            summary.add_row(table, f"{n:,}")
        out.print(summary)
        _print_kpis(ws)
    if serve:
        serve_dashboard(host, port)


_KPI_LABELS = {
    "nps": "NPS",
    "csat": "CSAT",
    "ces": "CES",
    "churn_rate": "Churn rate (last full month)",
    "aov": "Average order value",
    "repeat_purchase_rate": "Repeat-purchase rate",
    "abandonment_rate": "Cart abandonment",
    "first_response_median_h": "First response (median)",
}


def _print_kpis(ws: cxlens.Workspace) -> None:
    kpis = as_frame(ws.metrics.summary())
    table = RichTable(title="KPI summary")
    table.add_column("KPI")
    table.add_column("value", justify="right")
    table.add_column("95% CI", justify="right")
    table.add_column("n", justify="right")
    table.add_column("note")
    for r in kpis.to_dict("records"):
        unit = {"%": "%", "hours": " h", "points": ""}.get(str(r.get("unit")), "")
        ci = "–" if pd.isna(r.get("ci_low")) else f"{r['ci_low']:.1f} – {r['ci_high']:.1f}"
        note = "small sample" if r.get("small_sample") else (r.get("note") or "")
        value = "–" if pd.isna(r.get("value")) else f"{r['value']:.1f}{unit}"
        table.add_row(_KPI_LABELS.get(r["kpi"], r["kpi"]), value, ci, cell(r.get("n")), str(note))
    out.print(table)


# -- info / journey ----------------------------------------------------------------
@app.command()
def info() -> None:
    """Show the workspace's tables, row counts and schema version."""
    with open(read_only=exists()) as ws:
        table = RichTable(title=f"{state.workspace} (schema version {ws.schema_version})")
        table.add_column("table")
        table.add_column("rows", justify="right")
        table.add_column("PII columns")
        for name, n in ws.counts().items():
            table.add_row(name, f"{n:,}", ", ".join(TABLES[name].pii_columns) or "–")
        out.print(table)


@journey_app.command("show")
def journey_show() -> None:
    """Print the workspace's journey (stages and touchpoints)."""
    with open(read_only=exists()) as ws:
        j = ws.journey
        table = RichTable(title=f"journey {j.name!r}")
        for col in ("stage", "touchpoint", "channel"):
            table.add_column(col)
        stage_of = {t.id: t for t in j.touchpoints}
        for s in j.stages:
            tps = [t for t in stage_of.values() if t.stage == s.id] or [None]
            for t in tps:
                table.add_row(s.label, t.label if t else "–", t.channel if t else "–")
        out.print(table)


@journey_app.command("load")
def journey_load(path: Annotated[Path, typer.Argument(help="Journey YAML file.")]) -> None:
    """Load a journey YAML file into the workspace (replacing the current one)."""
    j = cxlens.Journey.load(path)
    with open() as ws:
        ws.set_journey(j)
    out.print(f"journey {j.name!r}: {len(j.stages)} stages, {len(j.touchpoints)} touchpoints loaded")


@journey_app.command("export")
def journey_export(
    out_path: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export the workspace's journey as YAML."""
    with open(read_only=exists()) as ws:
        text = ws.journey.to_yaml()
    if out_path:
        out_path.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
