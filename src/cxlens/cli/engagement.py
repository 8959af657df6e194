"""``cxlens employees import`` and ``cxlens engagement …`` (import pulse answers, summary, beside CX)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli._app import Fmt, app, err, filters, jsonable_tree, open, print_frame, state

employees_app = typer.Typer(help="Employees (team, role, manager, location; name and e-mail are PII).",
                            no_args_is_help=True)  # fmt: skip
engagement_app = typer.Typer(help="Employee engagement: pulse answers, eNPS, engagement index (anonymous groups).",
                             no_args_is_help=True)  # fmt: skip
app.add_typer(employees_app, name="employees", rich_help_panel="Get data in")
app.add_typer(engagement_app, name="engagement", rich_help_panel="Analyse")


@employees_app.command("import")
def employees_import(path: Path) -> None:
    """Add or update employees from a CSV/Parquet file (employee_id, team; name, email, role, manager_id, location)."""
    with open() as ws:
        n = ws.engagement.import_employees(path)
    err.print(f"{n} employees imported", markup=False)


@employees_app.command("export")
def employees_export(
    employee_id: str,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the JSON here.")] = None,
) -> None:
    """GDPR export: every row about an employee (JSON, PII included: it is their own copy)."""
    with open() as ws:
        data = ws.engagement.export_employee(employee_id)
    text = json.dumps(jsonable_tree(data), indent=1, ensure_ascii=False, default=str)
    if out_path:
        out_path.write_text(text + "\n", encoding="utf-8")
        err.print(f"employee {employee_id!r} exported to {out_path}", markup=False)
    else:
        sys.stdout.write(text + "\n")


@employees_app.command("erase")
def employees_erase(
    employee_id: str,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm erase without asking.")] = False,
) -> None:
    """GDPR erasure: delete the employee's rows; references (manager, ticket agent) become a pseudonym."""
    if not yes and not typer.confirm(f"Erase every row about employee {employee_id!r}? This cannot be undone"):
        raise typer.Abort()
    with open() as ws:
        counts = ws.engagement.erase_employee(employee_id)
    err.print(f"employee {employee_id!r} erased: " + ", ".join(f"{t} {n:,}" for t, n in counts.items() if n),
              markup=False)  # fmt: skip


@engagement_app.command("import")
def engagement_import(
    path: Path,
    dayfirst: Annotated[bool, typer.Option("--dayfirst", help="Dates like 03/04/2026 are day/month/year.")] = False,
    monthfirst: Annotated[bool, typer.Option("--monthfirst", help="Dates like 03/04/2026 are month/day/year.")] = False,
) -> None:
    """Add pulse answers (question, score, ts, employee_id or team…); the employee is not stored."""
    if dayfirst and monthfirst:
        raise typer.BadParameter("give --dayfirst or --monthfirst, not both")
    order = "dmy" if dayfirst else "mdy" if monthfirst else None
    with open() as ws:
        n = ws.engagement.import_pulse(path, order=order)
    err.print(f"{n} pulse answers imported (anonymous: stored without the employee)", markup=False)


@engagement_app.command("summary")
def engagement_summary(
    by: Annotated[str | None, typer.Option(help="Group by team, role, location or manager_id.")] = None,
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="team=support; repeatable; a|b for several.")
    ] = None,
    min_group: Annotated[int | None, typer.Option(help="Smallest group shown (default: setting, else 5; ≥ 3).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """eNPS and engagement index; groups under the minimum size are suppressed."""
    with open(read_only=True) as ws:
        df = ws.engagement.summary(by, filters(filter_), min_group=min_group)
    print_frame(df, fmt)


@engagement_app.command("trend")
def engagement_trend(
    period: Annotated[str, typer.Option(help="week, month or quarter.")] = "month",
    by: Annotated[str | None, typer.Option(help="Group by team, role, location or manager_id.")] = None,
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="team=support; repeatable; a|b for several.")
    ] = None,
    min_group: Annotated[int | None, typer.Option(help="Smallest group shown (default: setting, else 5; ≥ 3).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """eNPS and engagement per period; small groups (and periods that would reveal them) are suppressed."""
    with open(read_only=True) as ws:
        df = ws.engagement.trend(period, by, filters(filter_), min_group=min_group)
    print_frame(df, fmt)


@engagement_app.command("comments")
def engagement_comments(
    by: Annotated[str | None, typer.Option(help="Group by team, role, location or manager_id.")] = None,
    filter_: Annotated[
        list[str] | None, typer.Option("--filter", help="team=support; repeatable; a|b for several.")
    ] = None,
    min_group: Annotated[int | None, typer.Option(help="Smallest group shown (default: setting, else 5; ≥ 3).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Pulse comments (names redacted) of the groups large enough to be shown."""
    with open(read_only=True) as ws:
        df = ws.engagement.comments(by, filters(filter_), min_group=min_group)
    print_frame(df, fmt)


@engagement_app.command("scorecard")
def engagement_scorecard(
    by: Annotated[str, typer.Option(help="agent or team.")] = "team",
    period: Annotated[str | None, typer.Option(help="week, month or quarter (a trend).")] = None,
    days: Annotated[
        int, typer.Option(help="CSAT answers within this many days after the ticket: 7, 14, 30 or 90.")
    ] = 7,
    min_group: Annotated[int | None, typer.Option(help="Smallest number of tickets/answers shown (≥ 3).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Agent/team CX scorecard: CSAT, first-contact resolution, response and resolution times, sentiment,
    detractor recovery — with n and 95% CIs; small groups suppressed."""
    with open(read_only=True) as ws:
        df = ws.engagement.scorecard(by, period=period, days=days, min_group=min_group)
    print_frame(df, fmt)


@engagement_app.command("cx")
def engagement_cx(
    days: Annotated[int, typer.Option(help="Customer answers within 7, 14, 30 or 90 days after a team's ticket.")] = 7,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Per team: eNPS beside customer CSAT/NPS, and the correlation across teams (not cause)."""
    with open(read_only=True) as ws:
        res = ws.engagement.beside_cx(days=days)
    if fmt is Fmt.json:
        out = {**res, "teams": res["teams"].to_dict("records")}
        sys.stdout.write(json.dumps(jsonable_tree(out), indent=1, allow_nan=False) + "\n")
        return
    print_frame(res["teams"], fmt)
    c = res["correlation"]
    if c["r"] is None:
        err.print(f"correlation: not enough teams with both figures ({c['teams']}; at least 4)", markup=False)
    else:
        err.print(f"correlation eNPS~CSAT across {c['teams']} teams: r = {c['r']:.2f} "
                  f"(95% CI {c['ci_low']:.2f} to {c['ci_high']:.2f}). {res['note']}", markup=False)  # fmt: skip


@engagement_app.command("demo")
def engagement_demo(
    teams: Annotated[int, typer.Option(help="Teams to simulate.")] = 12,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    link: Annotated[float, typer.Option(help="Planted effect of team engagement on customer CSAT (logit).")] = 1.0,
) -> None:
    """Add demo employees, pulse answers and tickets with a planted engagement–CSAT link (truth in demo_truth)."""
    from cxlens.engagement.demo import demo_engagement

    with open() as ws:
        truth = demo_engagement(ws.store, teams=teams, seed=seed, link=link)
    err.print(f"{teams} teams written; true correlation of expected eNPS and CSAT across teams: "
              f"{truth['correlation']:.2f} (compare `cxlens engagement cx`)", markup=False)  # fmt: skip


@engagement_app.command("pulse-send")
def engagement_pulse_send(
    pulse: Annotated[str, typer.Argument(help="The pulse's name, e.g. 2026-q2.")],
    base_url: Annotated[str, typer.Option(help="The dashboard's public address the links point to.")],
    smtp_host: Annotated[str, typer.Option(help="SMTP server (allowed with `cxlens act allow-host`).")],
    smtp_port: Annotated[int, typer.Option(help="SMTP port.")] = 25,
    sender: Annotated[str | None, typer.Option("--from", help="From address.")] = None,
    starttls: Annotated[bool, typer.Option(help="Use STARTTLS.")] = False,
    username: Annotated[str | None, typer.Option(help="SMTP user name.")] = None,
    password_env: Annotated[str | None, typer.Option(help="Environment variable holding the SMTP password.")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team's employees.")] = None,
    expires_days: Annotated[float, typer.Option(help="Days the links stay valid.")] = 14,
    name: Annotated[str | None, typer.Option(help="The workspace's name on the server (default: file name).")] = None,
) -> None:
    """E-mail each employee their anonymous, single-use pulse link (once per pulse; the link carries the
    team, not the employee)."""
    smtp = {"host": smtp_host, "port": smtp_port, "from": sender, "starttls": starttls, "username": username,
            "password_env": password_env}  # fmt: skip
    with open() as ws:
        out = ws.engagement.send_pulse(pulse, base_url=base_url, workspace=name or Path(state.workspace).stem,
                                       smtp=smtp, team=team, expires_days=expires_days)  # fmt: skip
    for f in out["failed"]:
        err.print(f"warning: {f}", markup=False, highlight=False)
    sys.stdout.write(json.dumps(out) + "\n")
    if out["failed"] and not out["sent"]:
        raise typer.Exit(1)
