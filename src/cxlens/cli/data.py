"""Getting data in and configuring: import, demo, info, journey show/load/export."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

import cxlens
from cxlens.cli._app import (
    Fmt,
    app,
    as_frame,
    cell,
    err,
    exists,
    journey_app,
    open,
    out,
    print_frame,
    progress_bar,
    serve_dashboard,
    state,
)
from cxlens.ingest.load import ImportReport
from cxlens.schema.tables import TABLES


# -- import ------------------------------------------------------------------------
@app.command("import")
def import_(
    kind: Annotated[
        str, typer.Argument(help="A table (feedback, orders…), a preset (qualtrics, zendesk…) or an adapter.")
    ],
    path: Annotated[
        Path, typer.Argument(help="File (CSV/TSV, JSON Lines, JSON, Parquet, Excel) or, for olist, the folder.")
    ],
    map_: Annotated[
        list[str] | None,
        typer.Option("--map", "-m", help="canonical=source column (or dotted JSON path); repeatable, taken verbatim."),
    ] = None,
    mapping: Annotated[
        Path | None, typer.Option("--mapping", help="A YAML mapping file (map:, set:, drop: and any option below).")
    ] = None,
    save_mapping: Annotated[
        Path | None, typer.Option("--save-mapping", help="Write the mapping and options used to this YAML file.")
    ] = None,
    fmt: Annotated[
        str | None, typer.Option("--format", help="csv, jsonl, json, parquet or xlsx (default: by extension).")
    ] = None,
    delimiter: Annotated[
        str | None, typer.Option("--delimiter", help="Field separator: , ; tab | (default: sniffed).")
    ] = None,
    encoding: Annotated[
        str | None, typer.Option("--encoding", help="Text encoding, e.g. cp1252 (default: UTF-8 or by BOM).")
    ] = None,
    decimal: Annotated[str, typer.Option("--decimal", help="Decimal mark: . or ,")] = ".",
    thousands: Annotated[
        str | None, typer.Option("--thousands", help="Thousands separator to accept: , . ' or space.")
    ] = None,
    timezone: Annotated[
        str, typer.Option("--timezone", help="Zone of times without an offset, e.g. Europe/Paris.")
    ] = "UTC",
    dayfirst: Annotated[
        bool, typer.Option("--dayfirst", help="Read 04/05/2024 as 4 May (ISO dates are never affected).")
    ] = False,
    monthfirst: Annotated[bool, typer.Option("--monthfirst", help="Read 04/05/2024 as 5 April.")] = False,
    epoch: Annotated[str | None, typer.Option("--epoch", help="Unit of numeric times: s, ms, us or ns.")] = None,
    any_date: Annotated[bool, typer.Option("--any-date", help="Accept dates before 1990 or after next year.")] = False,
    header_row: Annotated[int, typer.Option("--header-row", help="Line of the header (1-based).")] = 1,
    skip_rows: Annotated[int, typer.Option("--skip-rows", help="Rows after the header that are not data.")] = 0,
    skip_incomplete: Annotated[
        bool, typer.Option("--skip-incomplete", help="Skip (and count) rows missing a required value.")
    ] = False,
    drop: Annotated[list[str] | None, typer.Option("--drop", help="Source column to leave out; repeatable.")] = None,
    records: Annotated[
        str | None, typer.Option("--records", help="Key of the records in a JSON response object.")
    ] = None,
    sheet: Annotated[str | None, typer.Option("--sheet", help="Excel sheet name (default: the first).")] = None,
    score: Annotated[str | None, typer.Option("--score", help="Survey presets: the score question's column.")] = None,
    comment: Annotated[str | None, typer.Option("--comment", help="Survey presets: the comment column.")] = None,
    metric: Annotated[str | None, typer.Option("--metric", help="Survey presets: nps, csat, ces… of --score.")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="column=value for every row, e.g. --set metric=nps; repeatable.")
    ] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the mapping, the first rows and every problem; write nothing.")
    ] = False,
) -> None:
    """Import a file: validated, all-or-nothing, duplicates skipped, with a report (docs/import-presets.md).

    ``cxlens import interviews DIR`` imports a folder of interview transcripts (docs/interviews.md).
    """
    if kind == "interviews":
        from cxlens.cli.interviews import import_interviews

        return import_interviews(path)
    from cxlens.ingest.registry import run_import
    from cxlens.ingest.spec import ImportSpec

    given = ImportSpec.from_dict(
        {
            "map": list(map_ or []), "set": list(set_ or []), "drop": list(drop or []), "format": fmt,
            "delimiter": delimiter, "encoding": encoding, "decimal": decimal, "thousands": thousands,
            "timezone": timezone, "dayfirst": dayfirst, "monthfirst": monthfirst, "epoch": epoch,
            "any_date": any_date, "header_row": header_row, "skip_rows": skip_rows,
            "skip_incomplete": skip_incomplete, "records": records, "sheet": sheet, "score": score,
            "comment": comment, "metric": metric,
        },
        where="the command line",
    )  # fmt: skip
    spec = ImportSpec.load_yaml(mapping).merged(given) if mapping else given
    with open() as ws:
        bar, update = progress_bar(f"importing {path.name}")
        try:
            reports = run_import(ws.store, kind, path, spec, dry_run=dry_run, progress=update)
        finally:
            if bar.live.is_started:
                bar.stop()
    if save_mapping:
        save_mapping.write_text(spec.to_yaml(), encoding="utf-8")
    problems = False
    for report in reports.values():
        if dry_run:
            _print_dry_run(report)
        out.print(report.summary(), markup=False, highlight=False)
        problems = problems or bool(report.problems)
    if dry_run:
        out.print("dry run: nothing was written", markup=False)
    if problems:
        raise typer.Exit(1)


def _print_dry_run(report: ImportReport) -> None:
    dialect = ", ".join(f"{k} {v!r}" for k, v in report.dialect.items() if k not in ("columns", "file"))
    out.print(f"{report.source}: {dialect}", markup=False, highlight=False)
    cols = pd.DataFrame(
        [(canon, src, report.date_formats.get(canon, "")) for canon, src in report.columns.items()],
        columns=["column", "from", "date format"],
    )
    print_frame(cols, Fmt.table, title=f"{report.table}: columns")
    if report.preview is not None and len(report.preview):  # whole values: wrapped on a terminal, plain when piped
        print_frame(report.preview.dropna(axis=1, how="all"), Fmt.table, title="preview")
    for p in report.problems:
        err.print(f"problem: {p}", markup=False, highlight=False)


# -- demo --------------------------------------------------------------------------
@app.command()
def demo(
    size: Annotated[str, typer.Option(help="small, medium, large or a number of customers.")] = "small",
    seed: Annotated[int, typer.Option(help="Random seed (same seed, same data).")] = 0,
    serve: Annotated[bool, typer.Option("--serve/--no-serve", help="Serve the dashboard afterwards.")] = False,
    host: Annotated[str, typer.Option(help="Host to serve on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CXLENS_PORT", help="Port to serve on.")] = 8000,
    behaviour: Annotated[
        bool, typer.Option("--behaviour/--no-behaviour", help="Also web behaviour: clicks, rage/dead/error clicks.")
    ] = False,
    engagement: Annotated[
        bool,
        typer.Option(
            "--engagement/--no-engagement",
            help="Also employee engagement: 8 support teams, agents, pulse answers and comments, "
            "their tickets and CSAT with a planted engagement–CSAT link (truth in demo_truth).",
        ),
    ] = False,
) -> None:
    """Build a demo workspace from the bundled generator and print its KPIs."""
    from cxlens.ingest.simulate import write_demo

    sz: str | int = int(size) if size.isdigit() else size
    with open() as ws:
        with err.status(f"generating the {size} demo business (seed {seed})…"):
            counts = write_demo(ws, size=sz, seed=seed, behaviour=behaviour)
        if engagement:
            from cxlens.engagement.demo import demo_engagement

            tables = ("employees", "pulse_answers", "pulse_comments", "tickets", "feedback", "customers")
            rows = lambda: {t: int(ws.store.scalar(f"SELECT count(*) FROM {t}")) for t in tables}  # noqa: E731
            before = rows()
            with err.status("adding employees, pulse answers and support teams…"):
                demo_engagement(ws.store, teams=8, seed=seed, tickets_per_team=40)
            for t, n in rows().items():
                counts[t] = counts.get(t, 0) + n - before[t]
        summary = pd.DataFrame(list(counts.items()), columns=["table", "rows added"])
        print_frame(summary, Fmt.table, title=f"demo workspace {state.workspace}")
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
    rows = []
    for r in kpis.to_dict("records"):
        unit = {"%": "%", "hours": " h", "points": ""}.get(str(r.get("unit")), "")
        ci = "–" if pd.isna(r.get("ci_low")) else f"{r['ci_low']:.1f} – {r['ci_high']:.1f}"
        note = "small sample" if r.get("small_sample") else (r.get("note") or "")
        value = "–" if pd.isna(r.get("value")) else f"{r['value']:.1f}{unit}"
        rows.append((_KPI_LABELS.get(r["kpi"], r["kpi"]), value, ci, cell(r.get("n")), str(note)))
    print_frame(pd.DataFrame(rows, columns=["KPI", "value", "95% CI", "n", "note"]), Fmt.table, title="KPI summary")


# -- info / journey ----------------------------------------------------------------
@app.command()
def info(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """Show the workspace's tables, row counts and schema version."""
    with open(read_only=exists()) as ws:
        rows = [(name, n, ", ".join(TABLES[name].pii_columns) or "–") for name, n in ws.counts().items()]
        title = f"{state.workspace} (schema version {ws.schema_version})"
    print_frame(pd.DataFrame(rows, columns=["table", "rows", "PII columns"]), fmt, title=title)


@journey_app.command("show")
def journey_show(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """Print the workspace's journey (stages and touchpoints)."""
    with open(read_only=exists()) as ws:
        j = ws.journey
    rows = []
    for s in j.stages:
        tps = [t for t in j.touchpoints if t.stage == s.id] or [None]
        for t in tps:
            rows.append((s.id, s.label, t.id if t else None, t.label if t else None, t.channel if t else None))
    frame = pd.DataFrame(rows, columns=["stage", "stage_label", "touchpoint", "touchpoint_label", "channel"])
    print_frame(frame, fmt, title=f"journey {j.name!r}")


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
