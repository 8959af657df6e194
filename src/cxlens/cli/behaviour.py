"""``cxlens behaviour …``: heatmaps, zoning and frustration over the behaviour events."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli._app import Fmt, behaviour_app, err, open, print_frame


@behaviour_app.command("heatmap")
def heatmap(
    url: Annotated[str, typer.Argument(help="The page: a URL, or a path such as /checkout (query string ignored).")],
    kind: Annotated[str, typer.Option(help="click, rageclick, deadclick, errorclick or scroll.")] = "click",
    width: Annotated[str, typer.Option(help="Viewport bucket: desktop (≥1024 px), tablet (768-1023), mobile.")] = (
        "desktop"
    ),
    out_: Annotated[Path | None, typer.Option("--out", help="Write the chart: .png, .svg or .json.")] = None,
    start: Annotated[str | None, typer.Option(help="Events from this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Events until this date (exclusive).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Click density of a page per width bucket (or its scroll reach); --out draws it."""
    from cxlens.behaviour.charts import heatmap_chart, save_chart, scroll_chart

    with open() as ws:  # writable: the analyses keep behaviour_events in step (docs/behaviour.md)
        frame = ws.behaviour.heatmap(url, kind=kind, width=width, start=start, end=end)
    title = f"{kind} · {url} · {width}"
    if out_ is not None:
        spec = scroll_chart(frame, title=title) if kind == "scroll" else heatmap_chart(frame, title=title)
        path = save_chart(spec, out_)
        n = int(frame["n"].iloc[0]) if len(frame) else 0
        err.print(f"wrote {path} ({n:,} {'page views' if kind == 'scroll' else 'clicks'})", markup=False)
        return
    print_frame(frame, fmt)


@behaviour_app.command("clickmap")
def clickmap(
    url: Annotated[str, typer.Argument(help="The page (URL or path).")],
    kind: Annotated[str, typer.Option(help="click, rageclick, deadclick or errorclick.")] = "click",
    width: Annotated[str | None, typer.Option(help="desktop, tablet or mobile (default: all).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Clicks per element (CSS selector) of a page."""
    with open() as ws:  # writable: the analyses keep behaviour_events in step (docs/behaviour.md)
        print_frame(ws.behaviour.clickmap(url, kind=kind, width=width), fmt)


@behaviour_app.command("zones")
def zones(
    url: Annotated[str, typer.Argument(help="The page (URL or path).")],
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Zoning metrics of a page: click rate, recurrence, exposure, attractiveness, hesitation, time to first click."""
    with open() as ws:  # writable: the analyses keep behaviour_events in step (docs/behaviour.md)
        print_frame(ws.behaviour.zones(url), fmt)


@behaviour_app.command("frustration")
def frustration(
    by: Annotated[str, typer.Option(help="url, selector or touchpoint.")] = "url",
    url: Annotated[str | None, typer.Option(help="Only this page.")] = None,
    top: Annotated[int, typer.Option(help="How many rows (worst first).")] = 20,
    min_pageviews: Annotated[
        int, typer.Option(min=0, help="Drop groups seen fewer times (a score on 2 page views is noise).")
    ] = 0,
    start: Annotated[str | None, typer.Option(help="Events from this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Events until this date (exclusive).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Rage, dead and error clicks, quick backs and excessive scrolling per page, element or touchpoint, with the
    frustration score."""
    with open() as ws:  # writable: the analyses keep behaviour_events in step (docs/behaviour.md)
        print_frame(
            ws.behaviour.frustration(by=by, url=url, start=start, end=end, min_pageviews=min_pageviews).head(top), fmt
        )


@behaviour_app.command("sessions")
def sessions(
    min_score: Annotated[float | None, typer.Option(help="Only sessions scoring at least this.")] = None,
    signal: Annotated[
        str | None,
        typer.Option(
            help="Only sessions with this signal: rage_clicks, dead_clicks, error_clicks, quick_backs, excessive_scrolls."
        ),
    ] = None,
    url: Annotated[str | None, typer.Option(help="Only sessions that viewed this page.")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's sessions.")] = None,
    limit: Annotated[int, typer.Option(help="How many sessions.")] = 50,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Sessions with their signals and frustration score, most frustrated first."""
    with open() as ws:  # writable: the analyses keep behaviour_events in step (docs/behaviour.md)
        frame = ws.behaviour.sessions(min_score=min_score, signal=signal, url=url, customer_id=customer, limit=limit)
        print_frame(frame, fmt)


@behaviour_app.command("exit-pages")
def exit_pages(
    min_pageviews: Annotated[int, typer.Option(help="Only pages seen at least this many times.")] = 0,
    limit: Annotated[int, typer.Option(help="How many pages.")] = 50,
    start: Annotated[str | None, typer.Option(help="Events from this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Events until this date (exclusive).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Pages where sessions end: exits, exit rate with its Wilson 95 % CI, exits after a frustration signal."""
    with open() as ws:  # writable: the analyses keep behaviour_events in step (docs/behaviour.md)
        frame = ws.behaviour.exit_pages(min_pageviews=min_pageviews, limit=limit, start=start, end=end)
        print_frame(frame, fmt)


@behaviour_app.command("baselines")
def baselines(
    store: Annotated[
        bool,
        typer.Option(
            "--store",
            help="Also store them for the remote config now (the behaviour.baselines job does it every 5 min).",
        ),
    ] = False,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Each page's quick-back threshold and excessive-scrolling fence (what the SDK is told)."""
    with open() as ws:
        if store:
            done = ws.behaviour.refresh_baselines()
            err.print(f"stored the baselines of {done['pages']:,} pages for the remote config ({done['seconds']} s)")
        print_frame(ws.behaviour.baselines(), fmt)


@behaviour_app.command("zones-set")
def zones_set(
    definitions: Annotated[
        list[str], typer.Argument(help='Zones as name=selector, e.g. hero=#hero "cta=.actions button".')
    ],
) -> None:
    """Replace the workspace's zones (the SDK reports their exposure; clicks carry them)."""
    from cxlens.behaviour import set_zones
    from cxlens.errors import ParameterError

    zs = []
    for d in definitions:
        name, sep, sel = d.partition("=")
        if not sep:
            raise ParameterError("definitions", f"zone {d!r} has no '='; expected name=selector, e.g. hero=#hero")
        zs.append({"name": name.strip(), "selector": sel.strip()})
    with open() as ws:
        saved = set_zones(ws, zs)
    err.print(f"{len(saved)} zone(s) saved", markup=False)
