"""The ``cxlens`` command line: thin commands over the library.

Every command opens the workspace chosen by ``--workspace`` (or ``CXLENS_WORKSPACE``,
default ``./cxlens.duckdb``), calls one library function and prints its result. Errors go
to stderr with a non-zero exit status.
"""

from __future__ import annotations

import inspect
import json
import math
import os
import sys
from datetime import date, datetime
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import pandas as pd
import typer
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table as RichTable

import cxlens
from cxlens.errors import ConfigError, CxlensError
from cxlens.schema.tables import TABLES

app = typer.Typer(
    help="cxlens: customer-experience analytics on your own data (DuckDB by default).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
journey_app = typer.Typer(help="Journey stages and touchpoints.", no_args_is_help=True)
bench_app = typer.Typer(help="Benchmarks: cxlens against a plain baseline, side by side.", no_args_is_help=True)
clv_app = typer.Typer(
    help="Predictive customer lifetime value (BG/NBD, Pareto/NBD, Gamma-Gamma).", no_args_is_help=True
)
app.add_typer(journey_app, name="journey")
churn_app = typer.Typer(
    help="Churn risk: train a calibrated model, score customers with reasons.", no_args_is_help=True
)
segments_app = typer.Typer(help="Segments: RFM, behavioural clusters, saved customer groups.", no_args_is_help=True)
voice_app = typer.Typer(help="Voice of the customer: sentiment of what customers write.", no_args_is_help=True)
app.add_typer(voice_app, name="voice")
app.add_typer(clv_app, name="clv")
app.add_typer(churn_app, name="churn")
app.add_typer(segments_app, name="segments")
app.add_typer(bench_app, name="bench")

out = Console()
err = Console(stderr=True)

ADAPTER_KINDS = ("olist", "cdnow", "telco-churn", "nps-verbatims", "rees46", "olist-funnel")
METRICS = ("nps", "csat", "ces", "rating", "churn", "retention", "carts", "clv", "value", "support", "change")


class Fmt(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class _State:
    workspace: str = "cxlens.duckdb"


state = _State()


@app.callback()
def _main(
    workspace: Annotated[
        str, typer.Option("--workspace", "-w", envvar="CXLENS_WORKSPACE", help="Workspace DuckDB file.")
    ] = "cxlens.duckdb",
) -> None:
    state.workspace = workspace


def _open(read_only: bool = False) -> cxlens.Workspace:
    return cxlens.open(state.workspace, read_only=read_only)


def _progress_bar(label: str) -> tuple[Progress, Any]:
    bar = Progress(TextColumn(label), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=err, transient=True)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        if not bar.live.is_started and total > 20 * 2**20:
            bar.start()
        bar.update(task, completed=done, total=total)

    return bar, update


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
    with _open() as ws:
        if kind in ("rees46", "olist-funnel"):
            from cxlens.journeys.real import olist_marketing_events, rees46_events

            frame = rees46_events(path) if kind == "rees46" else olist_marketing_events(path)
            result = ws.load("events", frame)
            out.print(f"events: {result.inserted:,} rows added ({result.skipped:,} already present)")
            return
        if kind in ADAPTER_KINDS:
            from cxlens.ingest.adapters import ADAPTERS

            counts = ADAPTERS[kind](ws, path)
            for table, n in counts.items():
                out.print(f"{table}: {n:,} rows added")
            return
        if kind not in TABLES:
            raise ConfigError(f"unknown import kind {kind!r}; expected one of {', '.join((*TABLES, *ADAPTER_KINDS))}")
        bar, update = _progress_bar(f"reading {path.name}")
        try:
            result = ws.load(
                kind,
                path,
                mapping=map_,
                format=fmt,
                dayfirst=dayfirst,
                constants=_pairs(set_, "--set"),
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
    with _open() as ws:
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
        _serve(host, port)


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
    kpis = _frame(ws.metrics.summary())
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
        table.add_row(_KPI_LABELS.get(r["kpi"], r["kpi"]), value, ci, _cell(r.get("n")), str(note))
    out.print(table)


# -- metrics -----------------------------------------------------------------------
@app.command()
def metrics(
    name: Annotated[str, typer.Argument(help=f"One of {', '.join(METRICS)}.")],
    by: Annotated[
        str | None,
        typer.Option(help="Group by dimension(s), comma-separated (touchpoint,channel,segment,traits.plan…)."),
    ] = None,
    period: Annotated[str | None, typer.Option(help="day, week, month, quarter or year.")] = None,
    start: Annotated[str | None, typer.Option(help="From this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Until this date (exclusive).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
    metric: Annotated[str | None, typer.Option(help="For change: which metric (nps, csat, ces).")] = None,
) -> None:
    """Compute a CX metric with n and 95% confidence intervals."""
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    with _open(read_only=_exists()) as ws:
        fn = getattr(ws.metrics, name)
        kwargs: dict[str, Any] = {
            "by": [b.strip() for b in by.split(",") if b.strip()] if by else None,
            "period": period,
            "start": start,
            "end": end,
            "filters": _filters(filter_),
            "metric": metric,
        }
        accepted = inspect.signature(fn).parameters
        for k, v in kwargs.items():
            if v is not None and k not in accepted:
                raise ConfigError(
                    f"metric {name!r} does not take --{k}; it takes {', '.join('--' + p for p in accepted)}"
                )
        if name == "change" and not metric:
            raise ConfigError("metrics change needs --metric nps, csat or ces")
        result = fn(**{k: v for k, v in kwargs.items() if v is not None and k in accepted})
        _print_frame(_frame(result), fmt)


def _exists() -> bool:
    return Path(state.workspace).exists()


def _pairs(items: list[str] | None, option: str) -> dict[str, str] | None:
    if not items:
        return None
    res: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{option} {item!r} has no '='; expected name=value, e.g. channel=web")
        k, v = (x.strip() for x in item.split("=", 1))
        res[k] = v
    return res


def _filters(items: list[str] | None) -> dict[str, Any] | None:
    """``--filter channel=web --filter touchpoint=a|b`` → {"channel": "web", "touchpoint": ["a", "b"]}."""
    pairs = _pairs(items, "--filter")
    if pairs is None:
        return None
    return {k: (v.split("|") if "|" in v else v) for k, v in pairs.items()}


def _frame(result: Any) -> pd.DataFrame:
    if isinstance(result, pd.DataFrame):
        return result
    if isinstance(result, dict):
        return pd.DataFrame([result])
    return pd.DataFrame(result)


def _jsonable(v: Any) -> Any:
    if v is None or v is pd.NA or v is pd.NaT:
        return None
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    if isinstance(v, pd.Timestamp):
        return v.date().isoformat() if v == v.normalize() else v.isoformat()
    if isinstance(v, (datetime, date)):
        return v.isoformat()
    if hasattr(v, "item"):
        return _jsonable(v.item())
    return v


def _cell(v: Any) -> str:
    v = _jsonable(v)
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:,.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _print_frame(frame: pd.DataFrame, fmt: Fmt) -> None:
    if fmt is Fmt.json:
        rows = [{str(k): _jsonable(v) for k, v in r.items()} for r in frame.to_dict("records")]
        sys.stdout.write(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    elif fmt is Fmt.csv:
        frame.to_csv(sys.stdout, index=False, date_format="%Y-%m-%d")
    else:
        table = RichTable()
        for col in frame.columns:
            table.add_column(str(col), justify="right" if pd.api.types.is_numeric_dtype(frame[col]) else "left")
        for row in frame.itertuples(index=False):
            table.add_row(*(_cell(v) for v in row))
        out.print(table)


# -- journeys ----------------------------------------------------------------------
@app.command()
def funnel(
    steps: Annotated[str, typer.Argument(help='Steps separated by ">", e.g. "visit>add_to_cart>checkout>purchase".')],
    window: Annotated[str, typer.Option(help="Conversion window: 30m, 12h, 14d, 2w, 3mo.")] = "14d",
    order: Annotated[
        str, typer.Option(help="sequential (other events may come between), strict or any.")
    ] = "sequential",
    by: Annotated[str | None, typer.Option(help="Break down by dimension(s), comma-separated (first touch).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Exclusion step (event name), repeatable.")] = None,
    field: Annotated[str, typer.Option(help="Match steps on event 'name' or 'touchpoint'.")] = "name",
    attribution: Annotated[str, typer.Option(help="Breakdown value from the 'first' or 'last' touch.")] = "first",
    start: Annotated[str | None, typer.Option(help="Events from this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Events until this date (exclusive).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Ordered funnel: customers reaching each step within the window, conversion and time to convert."""
    from cxlens.journeys.funnels import parse_steps

    with _open(read_only=_exists()) as ws:
        result = ws.journeys.funnel(
            parse_steps(steps),
            window=window,
            order=order,
            exclude=exclude or None,
            by=[b.strip() for b in by.split(",") if b.strip()] if by else None,
            step_field=field,
            attribution=attribution,
            start=start,
            end=end,
            filters=_filters(filter_),
        )
        _print_frame(result, fmt)


@app.command()
def paths(
    from_: Annotated[str | None, typer.Option("--from", help="Paths starting at this event (or touchpoint).")] = None,
    to: Annotated[str | None, typer.Option("--to", help="Paths leading to this event.")] = None,
    steps: Annotated[int, typer.Option(help="Steps per path.")] = 3,
    field: Annotated[str, typer.Option(help="Steps are event 'name's or 'touchpoint's.")] = "name",
    top: Annotated[int, typer.Option(help="How many paths.")] = 20,
    goal: Annotated[str | None, typer.Option(help="Report conversion to this event after the path.")] = None,
    window: Annotated[str | None, typer.Option(help="Only steps within this time of the anchor (e.g. 7d).")] = None,
    dropoff: Annotated[
        str | None, typer.Option("--before-dropoff", help="Instead: last event of customers who never reached GOAL.")
    ] = None,
    start: Annotated[str | None, typer.Option(help="Events from this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Events until this date (exclusive).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Top paths from or to an event, or what customers did right before leaving."""
    with _open(read_only=_exists()) as ws:
        j = ws.journeys
        if dropoff:
            result = j.last_before_dropoff(
                dropoff, from_event=from_, window=window, top=top, start=start, end=end, filters=_filters(filter_)
            )
        else:
            result = j.paths(
                from_,
                to,
                steps=steps,
                field=field,
                top=top,
                window=window,
                goal=goal,
                start=start,
                end=end,
                filters=_filters(filter_),
            )
        _print_frame(result, fmt)


# -- customers -----------------------------------------------------------------------
@clv_app.command("fit")
def clv_fit(
    model: Annotated[str, typer.Option(help="bgnbd, paretonbd or gammagamma.")] = "bgnbd",
    summary: Annotated[
        Path | None, typer.Option(help="Ready summary file (frequency, recency, T, monetary) instead of orders.")
    ] = None,
    map_: Annotated[
        str | None, typer.Option("--map", help="canonical=file column, e.g. frequency=x,recency=t_x.")
    ] = None,
    calibration_end: Annotated[str | None, typer.Option(help="Fit on orders up to this date (inclusive).")] = None,
    time_unit: Annotated[str, typer.Option(help="day or week.")] = "week",
    fmt: Annotated[Fmt, typer.Option("--format", help="table or json.")] = Fmt.table,
) -> None:
    """Fit a CLV model on the workspace's orders (or a summary file) and print its parameters."""
    from cxlens.customers.clv import fit_clv, summary_for
    from cxlens.customers.clv_summary import load_summary

    if summary is not None:
        frame = load_summary(summary, map_)
        result = fit_clv(model, frame)
    else:
        with _open(read_only=_exists()) as ws:
            result = fit_clv(model, summary_for(ws, calibration_end=calibration_end, time_unit=time_unit))
    if fmt is Fmt.json:
        sys.stdout.write(json.dumps(_jsonable_tree(result)) + "\n")
        return
    table = RichTable(
        title=f"{result['model']}: {result['n_customers']:,} customers, log-likelihood {result['log_likelihood']:,.1f}"
    )
    table.add_column("parameter")
    table.add_column("estimate", justify="right")
    table.add_column("std. error", justify="right")
    for k, v in result["params"].items():
        se = (result.get("std_errors") or {}).get(k)
        table.add_row(k, f"{v:.4g}", "–" if se is None else f"{se:.3g}")
    out.print(table)


@clv_app.command("predict")
def clv_predict(
    horizon: Annotated[int, typer.Option(help="Horizon in time units (weeks by default).")] = 52,
    model: Annotated[str, typer.Option(help="bgnbd or paretonbd for purchases (spend: Gamma-Gamma).")] = "bgnbd",
    time_unit: Annotated[str, typer.Option(help="day or week.")] = "week",
    discount_rate: Annotated[float, typer.Option(help="Discount rate per time unit.")] = 0.01,
    calibration_end: Annotated[str | None, typer.Option(help="Fit on orders up to this date.")] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write CSV (or .json/.parquet) here instead of stdout.")
    ] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.csv,
) -> None:
    """Per-customer predicted CLV with a 95% interval, P(alive) and expected purchases."""
    from cxlens.customers.clv import predict_clv

    with _open(read_only=_exists()) as ws:
        result = predict_clv(
            ws, horizon, model=model, time_unit=time_unit, discount_rate=discount_rate, calibration_end=calibration_end
        )
    if out_path is not None:
        suffix = out_path.suffix.lower()
        if suffix == ".parquet":
            result.to_parquet(out_path, index=False)
        elif suffix in (".json", ".jsonl"):
            result.to_json(out_path, orient="records", lines=suffix == ".jsonl", date_format="iso")
        else:
            result.to_csv(out_path, index=False)
        out.print(f"{len(result):,} customers written to {out_path}")
        return
    _print_frame(result, fmt)


@churn_app.command("train")
def churn_train(
    model_path: Annotated[Path, typer.Option("--model", help="Where to save the trained model.")] = Path(
        "churn-model.joblib"
    ),
    as_of: Annotated[
        str | None, typer.Option(help="Holdout cut-off (default: one horizon before the data ends).")
    ] = None,
    horizon_days: Annotated[int, typer.Option(help="Churn within this many days.")] = 90,
    fmt: Annotated[Fmt, typer.Option("--format", help="table or json.")] = Fmt.table,
) -> None:
    """Train the churn model with a time-based holdout; print ROC-AUC, PR-AUC, lift vs a logistic baseline."""
    from cxlens.customers.churn_model import save_model, train_churn

    with _open(read_only=_exists()) as ws:
        run = train_churn(ws, as_of, horizon_days=horizon_days)
    save_model(run.model, model_path)
    summary = _jsonable_tree(run.summary())
    if fmt is Fmt.json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        out.print_json(json.dumps(summary))
    err.print(f"model saved to {model_path}")


@churn_app.command("score")
def churn_score(
    model_path: Annotated[Path, typer.Option("--model", help="A model saved by 'cxlens churn train'.")] = Path(
        "churn-model.joblib"
    ),
    as_of: Annotated[str | None, typer.Option(help="Score as of this date (default: end of data).")] = None,
    top: Annotated[int, typer.Option(help="Reasons per customer.")] = 3,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.csv,
) -> None:
    """Churn risk per customer (highest first) with the top reasons."""
    from cxlens.customers.churn_model import load_model, score_churn

    model = load_model(model_path)
    with _open(read_only=_exists()) as ws:
        _print_frame(score_churn(ws, model, as_of, top=top), fmt)


@segments_app.command("rfm")
def segments_rfm(
    as_of: Annotated[str | None, typer.Option(help="Score as of this date (default: end of data).")] = None,
    save: Annotated[bool, typer.Option("--save", help="Save the segments in the workspace (rfm:<name>).")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """RFM scores (1-5) and named segments (Champions, Loyal, At risk, Hibernating…)."""
    from cxlens.customers.segments import rfm_segments, save_segments

    with _open(read_only=_exists() and not save) as ws:
        rfm = rfm_segments(ws, as_of)
        if save:
            save_segments(ws, rfm.set_index("customer_id")["segment"], "rfm", prefix="rfm:")
    if fmt is Fmt.table:
        sizes = rfm.groupby("segment").size().sort_values(ascending=False).rename("customers").reset_index()
        _print_frame(sizes, fmt)
    else:
        _print_frame(rfm, fmt)


@segments_app.command("cluster")
def segments_cluster(
    method: Annotated[str, typer.Option(help="kmeans (k by silhouette) or gmm (k by BIC).")] = "kmeans",
    k: Annotated[int | None, typer.Option(help="Number of clusters (default: chosen by the criterion).")] = None,
    as_of: Annotated[str | None, typer.Option(help="Features as of this date.")] = None,
    save: Annotated[bool, typer.Option("--save", help="Save the clusters in the workspace (cluster:<n>).")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Behavioural clusters on standardised customer features; prints each cluster's profile."""
    from cxlens.customers.features import customer_features, data_range
    from cxlens.customers.segments import cluster_segments, save_segments

    with _open(read_only=_exists() and not save) as ws:
        # features as of the day after the last activity, unless a date is given
        cutoff = as_of or (data_range(ws)[1].normalize() + pd.Timedelta(days=1))
        features = customer_features(ws, cutoff)
        result = cluster_segments(features, k=k, method=method)
        if save:
            save_segments(ws, result.labels, "cluster", prefix="cluster:")
    err.print(f"{result.method}: k = {result.k}" + (" (chosen by the criterion)" if k is None else ""))
    profile = result.profile
    # one column per cluster reads better in a terminal than one very wide row per cluster
    _print_frame(profile.T.reset_index(names="feature") if fmt is Fmt.table else profile.reset_index(), fmt)


@voice_app.command("score")
def voice_score(
    path: Annotated[Path, typer.Argument(help="CSV or JSON Lines file with a text column.")],
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Add sentiment_score (-1..1) and sentiment_label to every row of a file (no workspace needed)."""
    from cxlens.voice import score_file

    result = score_file(path, text_column, fmt, out_path)
    if out_path is not None:
        err.print(f"{len(result):,} rows scored into {out_path}")
        return
    _print_frame(result, Fmt.json if fmt == "json" else Fmt.csv)


def _jsonable_tree(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _jsonable_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable_tree(x) for x in v]
    return _jsonable(v)


# -- info / journey ----------------------------------------------------------------
@app.command()
def info() -> None:
    """Show the workspace's tables, row counts and schema version."""
    with _open(read_only=_exists()) as ws:
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
    with _open(read_only=_exists()) as ws:
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


@journey_app.command("map")
def journey_map(
    out_path: Annotated[Path | None, typer.Option("--out", help="Write a self-contained HTML page instead.")] = None,
    consistency: Annotated[
        bool, typer.Option("--consistency", help="Compare each touchpoint across channels.")
    ] = False,
    start: Annotated[str | None, typer.Option(help="From this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Until this date (exclusive).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """The stage × touchpoint journey map: reach, flow, NPS/CSAT/CES with CIs and the pain score."""
    with _open(read_only=_exists()) as ws:
        j = ws.journeys
        if out_path:
            written = j.map_html(out_path, start, end, _filters(filter_))
            out.print(f"journey map written to {written}")
            return
        result = (j.channel_consistency if consistency else j.map)(start, end, _filters(filter_))
        if fmt is Fmt.table and not consistency:
            cols = [
                "stage",
                "touchpoint",
                "volume",
                "reach",
                "drop_off",
                "nps",
                "csat",
                "ces",
                "pain_score",
                "pain_rank",
            ]
            result = result[[c for c in cols if c in result.columns]]
        _print_frame(result, fmt)


@journey_app.command("load")
def journey_load(path: Annotated[Path, typer.Argument(help="Journey YAML file.")]) -> None:
    """Load a journey YAML file into the workspace (replacing the current one)."""
    j = cxlens.Journey.load(path)
    with _open() as ws:
        ws.set_journey(j)
    out.print(f"journey {j.name!r}: {len(j.stages)} stages, {len(j.touchpoints)} touchpoints loaded")


@journey_app.command("export")
def journey_export(
    out_path: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of stdout.")] = None,
) -> None:
    """Export the workspace's journey as YAML."""
    with _open(read_only=_exists()) as ws:
        text = ws.journey.to_yaml()
    if out_path:
        out_path.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)


# -- serve / report ----------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CXLENS_PORT", help="Port.")] = 8000,
) -> None:
    """Serve the dashboard and the JSON API (GET /health answers once ready)."""
    _serve(host, port)


def _serve(host: str, port: int) -> None:
    import uvicorn

    from cxlens.web.app import create_app

    ws = _open()
    err.print(f"cxlens dashboard on http://{host}:{port}  (workspace {state.workspace}; Ctrl+C to stop)")
    uvicorn.run(create_app(ws), host=host, port=port, log_level="warning")


@app.command()
def report(
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    start: Annotated[str | None, typer.Option(help="From this date.")] = None,
    end: Annotated[str | None, typer.Option(help="Until this date (exclusive).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
) -> None:
    """Write a self-contained HTML report (KPIs with CIs, trends, breakdowns, movers)."""
    from cxlens.report import build_report

    with _open(read_only=_exists()) as ws:
        path = build_report(ws, out_path, start=start, end=end, filters=_filters(filter_))
    out.print(f"report written to {path}")


# -- bench -------------------------------------------------------------------------
@bench_app.command("metrics")
def bench_metrics(
    rows: Annotated[int, typer.Option(help="Feedback rows to generate.")] = 10_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """NPS/CSAT by touchpoint × month with CIs: cxlens (DuckDB) vs plain pandas, in one run."""
    from cxlens.metrics.bench import bench_metrics as run

    with err.status(f"building {rows:,} feedback rows and timing both…"):
        res = run(rows=rows, seed=seed)
    _print_bench(f"bench metrics: {rows:,} feedback rows", res)


@bench_app.command("funnel")
def bench_funnel(
    events: Annotated[int, typer.Option(help="Events to generate.")] = 10_000_000,
    customers: Annotated[int, typer.Option(help="Customers to spread them over.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """5-step sequential funnel, 14-day window: cxlens (DuckDB) vs pandas, in one run."""
    from cxlens.journeys.bench import bench_funnel as run

    with err.status(f"building {events:,} events and timing both…"):
        res = run(events=events, customers=customers, seed=seed)
    _print_bench(f"bench funnel: {events:,} events, {customers:,} customers", res)


@bench_app.command("clv")
def bench_clv(
    customers: Annotated[int, typer.Option(help="Simulated BG/NBD customers.")] = 1_000_000,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """BG/NBD fit on simulated customers: cxlens vs lifetimes (if installed), same estimates, in one run."""
    from cxlens.customers.bench import bench_clv as run
    from cxlens.customers.bench import format_bench

    with err.status(f"simulating {customers:,} customers and fitting…"):
        res = run(customers, seed)
    out.print(format_bench(res), markup=False, highlight=False)


@bench_app.command("sentiment")
def bench_sentiment(
    limit: Annotated[int | None, typer.Option(help="At most this many texts per evaluation set.")] = None,
) -> None:
    """Default sentiment model vs VADER: accuracy, macro-F1 and one-core throughput, in one run."""
    from cxlens.voice.bench import bench_sentiment as run

    with err.status("scoring the evaluation sets with cxlens and VADER…"):
        res = run(limit=limit)
    _print_bench("bench sentiment: cxlens sentiment-v1 vs VADER", res)


def _print_bench(title: str, res: dict[str, Any]) -> None:
    table = RichTable(title=title)
    table.add_column("what")
    table.add_column("value", justify="right")
    for k, v in res.items():
        table.add_row(str(k), _cell(v) if not isinstance(v, (list, dict)) else json.dumps(v))
    out.print(table)


def main() -> None:
    """Entry point: run the app, turning cxlens errors into one line on stderr (exit 1).

    Usage errors (unknown option, missing argument) exit with 2, as click does.
    """
    try:
        app()
    except CxlensError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        sys.exit(1)


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
