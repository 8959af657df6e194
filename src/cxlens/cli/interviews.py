"""``cxlens interviews …`` (list, show, candidates) and ``cxlens import interviews DIR``."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli._app import Fmt, app, err, open, print_frame, state

interviews_app = typer.Typer(help="Customer interviews: transcripts as verbatims, recruit lists.", no_args_is_help=True)
app.add_typer(interviews_app, name="interviews", rich_help_panel="Get data in")


def import_interviews(folder: Path, interviewers: list[str] | None = None, manifest: Path | None = None) -> None:
    """What ``cxlens import interviews DIR`` runs."""
    with open() as ws:
        df = ws.interviews.import_dir(folder, interviewers=interviewers, manifest=manifest)
    linked = int(df["customer_id"].notna().sum())
    err.print(f"{len(df)} interviews imported ({int(df['turns'].sum())} turns, "
              f"{int(df['customer_turns'].sum())} customer turns; {linked} linked to a customer)", markup=False)  # fmt: skip
    print_frame(df, Fmt.table)


@interviews_app.command("list")
def interviews_list(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """Imported interviews with their participant and customer."""
    with open(read_only=True) as ws:
        print_frame(ws.interviews.list(), fmt)


@interviews_app.command("show")
def interviews_show(
    interview_id: str, fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table
) -> None:
    """An interview's turns: speaker, role, start time, text."""
    with open(read_only=True) as ws:
        df = ws.interviews.turns(interview_id)
    if df.empty:
        from cxlens.errors import NotFoundError

        raise NotFoundError(f"interview {interview_id!r} not found; see `cxlens interviews list`")
    print_frame(df[["turn", "speaker", "role", "start_s", "text"]] if fmt is Fmt.table else df, fmt)


@interviews_app.command("themes")
def interviews_themes(
    quotes: Annotated[int, typer.Option(help="Supporting quotes per theme.")] = 3,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Themes across interviews: how many participants raised each, with supporting quotes."""
    with open(read_only=True) as ws:
        df = ws.interviews.themes(quotes)
    if fmt is not Fmt.json:
        df = df.assign(quotes=df["quotes"].map(lambda q: " | ".join(q)))
    print_frame(df, fmt)


@interviews_app.command("candidates")
def interviews_candidates(
    segment: Annotated[list[str] | None, typer.Option(help="Customer segment; repeatable.")] = None,
    theme: Annotated[str | None, typer.Option(help="Only customers whose verbatims carry this theme.")] = None,
    min_churn_risk: Annotated[float | None, typer.Option(help="Only customers at or above this churn risk.")] = None,
    per_segment: Annotated[int | None, typer.Option(help="Quota per segment.")] = None,
    survey: Annotated[str | None, typer.Option(help="Only opt-ins from this survey.")] = None,
    opt_in: Annotated[str, typer.Option(help="Id of the opt-in question.")] = "interview_opt_in",
    limit: Annotated[int, typer.Option(help="At most this many.")] = 100,
    persona: Annotated[
        list[str] | None, typer.Option(help="Persona (RFM segment, as on /personas); repeatable.")
    ] = None,
    frustrated: Annotated[
        int | None,
        typer.Option(help="Only customers with at least this many frustrated sessions (rage/dead/error clicks)."),
    ] = None,
    frustrated_days: Annotated[int, typer.Option(help="…within this many days before the latest event.")] = 90,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Opted-in customers to invite, highest churn risk first within each segment."""
    with open(read_only=True) as ws:
        df = ws.interviews.candidates(segment=segment, theme=theme, min_churn_risk=min_churn_risk,
                                      per_segment=per_segment, survey_id=survey, opt_in=opt_in, limit=limit,
                                      persona=persona, frustrated=frustrated, frustrated_days=frustrated_days)  # fmt: skip
    print_frame(df, fmt)


@interviews_app.command("tag")
def interviews_tag(
    interview_id: str,
    turn: Annotated[int, typer.Argument(help="Turn number (0-based, as `interviews show` lists them).")],
    tag: Annotated[str, typer.Argument(help="Tag name, e.g. 'late delivery'.")],
    start: Annotated[int | None, typer.Option(help="First character of the passage in the turn's text.")] = None,
    end: Annotated[int | None, typer.Option(help="Character after the passage.")] = None,
    note: Annotated[str | None, typer.Option(help="A note (personal data redacted).")] = None,
    highlight: Annotated[bool, typer.Option("--highlight", help="Mark the passage as a key quote.")] = False,
) -> None:
    """Tag (or highlight) a passage of an interview: a whole turn or characters --start..--end of it."""
    with open() as ws:
        t = ws.interviews.tag(interview_id, turn, tag, start=start, end=end, note=note, highlight=highlight)
    err.print(f"tag {t['tag_id']} {t['tag']!r} on {interview_id} turn {turn}: {t['passage']!r}", markup=False)


@interviews_app.command("tags")
def interviews_tags(
    interview: Annotated[str | None, typer.Option(help="Only this interview.")] = None,
    tag: Annotated[str | None, typer.Option(help="Only this tag.")] = None,
    highlights: Annotated[bool, typer.Option("--highlights", help="Only highlights.")] = False,
    summary: Annotated[bool, typer.Option("--summary", help="Per tag: participants, passages, quotes.")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Tagged passages, or (--summary) the tags across interviews."""
    with open(read_only=True) as ws:
        df = ws.interviews.tag_summary() if summary else ws.interviews.tags(
            interview_id=interview, name=tag, highlights=highlights
        )  # fmt: skip
    print_frame(df, fmt)


@interviews_app.command("untag")
def interviews_untag(tag_id: str) -> None:
    """Delete a tag."""
    with open() as ws:
        ws.interviews.untag(tag_id)
    err.print(f"tag {tag_id} deleted", markup=False)


@interviews_app.command("invite")
def interviews_invite(
    study: Annotated[str, typer.Argument(help="The interview study; each customer is invited once per study.")],
    scheduling_url: Annotated[str, typer.Option(help="Your scheduling page (Calendly, Cal.com…).")],
    base_url: Annotated[str, typer.Option(help="The dashboard's public address (for the opt-out link).")],
    smtp_host: Annotated[str, typer.Option(help="SMTP server (allowed with `cxlens act allow-host`).")],
    smtp_port: Annotated[int, typer.Option(help="SMTP port.")] = 25,
    sender: Annotated[str | None, typer.Option("--from", help="From address.")] = None,
    starttls: Annotated[bool, typer.Option(help="Use STARTTLS.")] = False,
    username: Annotated[str | None, typer.Option(help="SMTP user name.")] = None,
    password_env: Annotated[str | None, typer.Option(help="Environment variable holding the SMTP password.")] = None,
    segment: Annotated[list[str] | None, typer.Option(help="Customer segment; repeatable.")] = None,
    persona: Annotated[list[str] | None, typer.Option(help="Persona (RFM segment); repeatable.")] = None,
    theme: Annotated[str | None, typer.Option(help="Only customers whose verbatims carry this theme.")] = None,
    min_churn_risk: Annotated[float | None, typer.Option(help="Only customers at or above this churn risk.")] = None,
    per_segment: Annotated[int | None, typer.Option(help="Quota per segment.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many candidates.")] = 20,
    minutes: Annotated[int, typer.Option(help="Length of the conversation, in the message.")] = 20,
    name: Annotated[str | None, typer.Option(help="The workspace's name on the server (default: file name).")] = None,
) -> None:
    """E-mail recruit candidates your scheduling link, once per study, with an opt-out link that is respected."""
    smtp = {"host": smtp_host, "port": smtp_port, "from": sender, "starttls": starttls, "username": username,
            "password_env": password_env}  # fmt: skip
    with open() as ws:
        out = ws.interviews.invite(study, scheduling_url=scheduling_url, base_url=base_url,
                                   workspace=name or Path(state.workspace).stem, smtp=smtp, segment=segment,
                                   persona=persona, theme=theme, min_churn_risk=min_churn_risk,
                                   per_segment=per_segment, limit=limit, minutes=minutes)  # fmt: skip
    for f in out["failed"]:
        err.print(f"warning: {f}", markup=False, highlight=False)
    sys.stdout.write(json.dumps(out) + "\n")
    if out["failed"] and not out["sent"]:
        raise typer.Exit(1)


@interviews_app.command("opt-out")
def interviews_opt_out(customer_id: str) -> None:
    """Record that a customer declined interview invitations (never a candidate again)."""
    with open() as ws:
        ws.interviews.opt_out(customer_id, "cli")
    err.print(f"{customer_id} will not be invited to interviews again", markup=False, highlight=False)
