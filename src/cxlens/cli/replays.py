"""``cxlens replays …``: the session replays the browser SDK recorded (list, show, purge)."""

from __future__ import annotations

from typing import Annotated

import pandas as pd
import typer

from cxlens.cli._app import Fmt, app, err, open, print_frame

replays_app = typer.Typer(
    help="Session replays: list with frustration and feedback, show, purge.", no_args_is_help=True
)
app.add_typer(replays_app, name="replays", rich_help_panel="Analyse")


@replays_app.command("list")
def list_(
    frustrated: Annotated[
        bool, typer.Option("--frustrated", help="Only sessions with a rage, dead or error click.")
    ] = False,
    nps_max: Annotated[
        float | None, typer.Option(min=0, max=10, help="Only people whose latest NPS is at most this (6: detractors).")
    ] = None,
    url: Annotated[str | None, typer.Option(help="Only sessions that viewed this page (URL or path).")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's sessions.")] = None,
    segment: Annotated[str | None, typer.Option(help="Only people in this saved segment.")] = None,
    theme: Annotated[
        str | None, typer.Option(help="Only people whose feedback or tickets carry this theme (id).")
    ] = None,
    funnel: Annotated[
        str | None, typer.Option(help="Funnel steps, e.g. visit>add_to_cart>purchase (with --dropped-at).")
    ] = None,
    dropped_at: Annotated[
        int | None, typer.Option(min=1, help="Only people who reached this step but not the next.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=100_000, help="How many (newest first).")] = 100,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Recorded sessions, newest first, with their frustration signals and the person's feedback."""
    with open() as ws:  # writable: the signal counts keep behaviour_events in step
        frame = ws.behaviour.replays(
            frustrated=frustrated, nps_max=nps_max, url=url, customer_id=customer, segment=segment, theme=theme,
            funnel=funnel, dropped_at=dropped_at, limit=limit,
        )  # fmt: skip
        print_frame(frame, fmt)


@replays_app.command("show")
def show(
    session: Annotated[str, typer.Argument(help="The session id (from `cxlens replays list`).")],
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """One recorded session's metadata: customer, times, first page, chunks, events, bytes."""
    with open(read_only=True) as ws:
        meta = ws.behaviour.replay(session)
    print_frame(pd.DataFrame([meta]), fmt)


@replays_app.command("near")
def near(
    customer: Annotated[str, typer.Argument(help="The customer id.")],
    at: Annotated[str, typer.Argument(help="The moment (ISO 8601), e.g. a survey answer's or a ticket's time.")],
    max_hours: Annotated[float, typer.Option(min=0, help="How far the session may be from the moment.")] = 24.0,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """The person's recorded session nearest to a moment (inside it, or the smallest gap within --max-hours)."""
    with open(read_only=True) as ws:
        meta = ws.behaviour.replay_near(customer, at, max_hours)
    if meta is None:
        err.print(f"no replay of {customer!r} within {max_hours:g} h of {at}", markup=False)
        raise typer.Exit(1)
    print_frame(pd.DataFrame([meta]), fmt)


@replays_app.command("purge")
def purge(
    older_than: Annotated[
        float | None,
        typer.Option(
            min=0,
            help="Delete replays of sessions that ended more than this many days ago "
            "(default: the workspace's replay.retention_days, 30).",
        ),
    ] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Delete old replays (the retention rule; run it daily, e.g. from cron)."""
    with open() as ws:
        res = ws.behaviour.purge_replays(older_than)
    if fmt is Fmt.table:
        err.print(f"deleted {res['sessions']:,} replays ({res['blocks']:,} blocks)", markup=False)
    else:
        print_frame(pd.DataFrame([res]), fmt)


@replays_app.command("compact")
def compact(
    idle_minutes: Annotated[
        float, typer.Option(min=0, help="Compact sessions that received no chunk for this many minutes.")
    ] = 30,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Merge each finished session's chunks into one xz block (about half the bytes; run it with purge)."""
    with open() as ws:
        res = ws.behaviour.compact_replays(idle_minutes)
    if fmt is Fmt.table:
        err.print(
            f"compacted {res['sessions']:,} sessions ({res['blocks_before']:,} blocks → {res['blocks_after']:,})",
            markup=False,
        )
    else:
        print_frame(pd.DataFrame([res]), fmt)
