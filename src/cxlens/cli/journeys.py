"""Journey analyses: funnel, paths, journey map."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli._app import (
    Fmt,
    app,
    err,
    exists,
    filters,
    journey_app,
    open,
    print_frame,
)
from cxlens.errors import ConfigError


# -- journeys ----------------------------------------------------------------------
@app.command()
def funnel(
    steps: Annotated[
        str,
        typer.Argument(
            help='Steps separated by ">", e.g. "visit>add_to_cart>checkout>purchase"; or a JSON list whose items '
            'are names or {"name": ..., "where": {"$browser": "Chrome", "n": 95}} (see docs/funnels.md).'
        ),
    ],
    window: Annotated[str, typer.Option(help="Conversion window: 30m, 12h, 14d, 2w, 3mo.")] = "14d",
    order: Annotated[
        str, typer.Option(help="sequential (other events may come between), strict or any.")
    ] = "sequential",
    by: Annotated[str | None, typer.Option(help="Break down by dimension(s), comma-separated (first touch).")] = None,
    exclude: Annotated[list[str] | None, typer.Option(help="Exclusion step (event name), repeatable.")] = None,
    field: Annotated[str, typer.Option(help="Match steps on event 'name' or 'touchpoint'.")] = "name",
    attribution: Annotated[str, typer.Option(help="Breakdown value from the 'first' or 'last' touch.")] = "first",
    ties: Annotated[
        str, typer.Option(help="strict: equal timestamps never advance (ClickHouse); allow: they may (PostHog).")
    ] = "strict",
    time_basis: Annotated[
        str, typer.Option(help="Time to convert along the converting 'chain' (PostHog) or between 'first' reaches.")
    ] = "chain",
    start: Annotated[str | None, typer.Option(help="Events from this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Events until this date (exclusive).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
    segment: Annotated[
        str | None, typer.Option(help="Only members of this saved segment (cxlens segments list), e.g. rfm:Champions.")
    ] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
    dropped: Annotated[
        int | None,
        typer.Option(
            "--dropped",
            help="Instead: the drop-off list — customers who reached this step (1-based) but not the next.",
        ),
    ] = None,
    limit: Annotated[int, typer.Option(help="With --dropped: at most this many customers (0: all).")] = 1000,
) -> None:
    """Ordered funnel: customers reaching each step within the window, conversion and time to convert."""
    from cxlens.journeys.funnels import parse_steps

    parsed = parse_steps(steps)
    with open(read_only=exists()) as ws:
        if dropped is not None:
            if exclude or by or field != "name":
                raise ConfigError("--dropped takes no --exclude, --by or --field; drop them to list who dropped off")
            result = ws.journeys.dropped(
                parsed,
                dropped,
                window=window,
                order=order,
                start=start,
                end=end,
                filters=filters(filter_),
                segment=segment,
                ties=ties,
                time_basis=time_basis,
                limit=limit or None,
            )
            print_frame(result, fmt)
            return
        result = ws.journeys.funnel(
            parsed,
            window=window,
            order=order,
            exclude=exclude or None,
            by=[b.strip() for b in by.split(",") if b.strip()] if by else None,
            step_field=field,
            attribution=attribution,
            start=start,
            end=end,
            filters=filters(filter_),
            segment=segment,
            ties=ties,
            time_basis=time_basis,
        )
        print_frame(result, fmt)


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
    with open(read_only=exists()) as ws:
        j = ws.journeys
        if dropoff:
            result = j.last_before_dropoff(
                dropoff, from_event=from_, window=window, top=top, start=start, end=end, filters=filters(filter_)
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
                filters=filters(filter_),
            )
        print_frame(result, fmt)


@journey_app.command("map")
def journey_map(
    out_path: Annotated[
        Path | None,
        typer.Option(
            "--out",
            help="Write the wall journey map instead: map.png, map.svg or map.pdf (stages left to right); "
            "map.html writes the stage × touchpoint heat grid page.",
        ),
    ] = None,
    consistency: Annotated[
        bool, typer.Option("--consistency", help="Compare each touchpoint across channels.")
    ] = False,
    persona: Annotated[
        str | None, typer.Option(help="Only this persona's customers (an RFM segment saved as rfm:<name>).")
    ] = None,
    segment: Annotated[
        str | None, typer.Option(help="Only members of this saved segment (cxlens segments list).")
    ] = None,
    title: Annotated[str, typer.Option(help="Title of an exported map.")] = "Customer journey map",
    start: Annotated[str | None, typer.Option(help="From this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Until this date (exclusive).")] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """The stage × touchpoint journey map: reach, flow, NPS/CSAT/CES with CIs and the pain score.

    With --out map.png|map.svg|map.pdf: the journey map as CX teams put it on the wall — stages as
    columns; touchpoints with volume and drop-off, the emotion curve (sentiment, NPS, CSAT with
    CIs), pain points, revenue at risk and a quote per stage, and the biggest fixable gaps.
    """
    from cxlens.report.journey_canvas import FORMATS, persona_segment

    with open(read_only=exists()) as ws:
        j = ws.journeys
        if persona and segment:
            raise ConfigError("give --persona or --segment, not both")
        seg = persona_segment(ws, persona) if persona else segment
        if out_path:
            kind = out_path.suffix.lower().lstrip(".")
            if kind in ("html", "htm"):
                if seg:
                    raise ConfigError("--persona and --segment apply to map.png/.svg/.pdf, not the HTML page")
                written = j.map_html(out_path, start, end, filters(filter_))
            elif kind in FORMATS:
                who = {"persona": persona} if persona else {"segment": segment}
                written = j.export_map(out_path, start, end, filters(filter_), title=title, **who)
            else:
                raise ConfigError(
                    f"--out {str(out_path)!r}: unknown file type {out_path.suffix or '(none)'!r}; "
                    "expected .png, .svg, .pdf or .html"
                )
            err.print(f"journey map written to {written}")
            return
        result = (j.channel_consistency if consistency else j.map)(start, end, filters(filter_), segment=seg)
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
        print_frame(result, fmt)
