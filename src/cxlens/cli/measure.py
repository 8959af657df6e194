"""Measuring and showing: metrics, serve, report."""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Annotated, Any

import typer

from cxlens.cli._app import (
    METRICS,
    Fmt,
    app,
    as_frame,
    exists,
    filters,
    open,
    out,
    print_frame,
    serve_dashboard,
)
from cxlens.errors import ConfigError


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
    segment: Annotated[
        str | None, typer.Option(help="Only members of this saved segment (cxlens segments list), e.g. rfm:Champions.")
    ] = None,
) -> None:
    """Compute a CX metric with n and 95% confidence intervals."""
    if name not in METRICS:
        raise ConfigError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    with open(read_only=exists()) as ws:
        fn = getattr(ws.metrics, name)
        kwargs: dict[str, Any] = {
            "by": [b.strip() for b in by.split(",") if b.strip()] if by else None,
            "period": period,
            "start": start,
            "end": end,
            "filters": filters(filter_),
            "metric": metric,
            "segment": segment,
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
        print_frame(as_frame(result), fmt)


# -- serve / report ----------------------------------------------------------------
@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Interface to bind (a public one needs a dashboard user).")] = "127.0.0.1",
    port: Annotated[int, typer.Option(envvar="CXLENS_PORT", help="Port.")] = 8000,
    add: Annotated[
        list[str] | None,
        typer.Option("--add", help="Another workspace file to serve (named by its file stem); repeatable."),
    ] = None,
    secure_cookies: Annotated[
        bool, typer.Option("--secure-cookies", help="Mark cookies Secure (behind a TLS proxy).")
    ] = False,
    trusted_proxy: Annotated[
        list[str] | None,
        typer.Option(
            "--trusted-proxy",
            envvar="CXLENS_TRUSTED_PROXIES",
            help="Address or network of a reverse proxy whose X-Forwarded-For/-Proto are believed; repeatable.",
        ),
    ] = None,
) -> None:
    """Serve the dashboard and the JSON API (GET /health answers once ready)."""
    serve_dashboard(host, port, add=add, secure_cookies=secure_cookies, trusted_proxies=trusted_proxy or [])


@app.command()
def report(
    out_path: Annotated[Path, typer.Option("--out", help="HTML file to write.")] = Path("report.html"),
    start: Annotated[str | None, typer.Option(help="From this date.")] = None,
    end: Annotated[str | None, typer.Option(help="Until this date (exclusive).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
) -> None:
    """Write a self-contained HTML report (KPIs with CIs, trends, breakdowns, movers)."""
    from cxlens.report import build_report

    with open(read_only=exists()) as ws:
        path = build_report(ws, out_path, start=start, end=end, filters=filters(filter_))
    out.print(f"report written to {path}")
