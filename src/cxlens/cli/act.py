"""``cxlens rules …``, ``cxlens act …`` and ``cxlens cases …``: rules that alert, destinations,
deliveries and the follow-up case queue (docs/act.md)."""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli._app import Fmt, app, bench_app, benchmarks, err, jsonable_tree, open, out, print_bench, print_frame

rules_app = typer.Typer(help="Rules: when a customer signal arrives, alert and open a case.", no_args_is_help=True)
act_app = typer.Typer(help="Alert destinations and deliveries: allowed hosts, dead letters, retry.",
                      no_args_is_help=True)  # fmt: skip
cases_app = typer.Typer(help="Cases: the follow-up queue (status, owner, notes, outcome, teams).", no_args_is_help=True)
app.add_typer(rules_app, name="rules", rich_help_panel="Act")
app.add_typer(act_app, name="act", rich_help_panel="Act")
app.add_typer(cases_app, name="cases", rich_help_panel="Act")

FmtOpt = Annotated[Fmt, typer.Option("--format", help="table, json or csv.")]


def _who() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no user name in this environment
        return "cli"


# -- rules ---------------------------------------------------------------------------------
@rules_app.command("load")
def rules_load(path: Annotated[Path, typer.Argument(help="Rules file (YAML).")], fmt: FmtOpt = Fmt.table) -> None:
    """Check a rules file and store its rules (a new version of each changed rule)."""
    with open() as ws:
        print_frame(ws.act.load_rules(path, who=_who()), fmt)


@rules_app.command("list")
def rules_list(fmt: FmtOpt = Fmt.table) -> None:
    """Rules of the workspace with their status and current version."""
    with open(read_only=False) as ws:
        print_frame(ws.act.rules(), fmt)


@rules_app.command("show")
def rules_show(
    name: str,
    history: Annotated[bool, typer.Option("--history", help="Every version: who changed what, when.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="yaml or json (with --history: table, json or csv).")] = "yaml",
) -> None:
    """Print a rule as stored (or its history)."""
    with open() as ws:
        if history:
            print_frame(ws.act.history(name), Fmt(fmt if fmt in ("table", "json", "csv") else "table"))
            return
        r = ws.act.rule(name)
    doc = {"version": r.version, "status": r.status, "changed_by": r.changed_by,
           "changed_at": str(r.changed_at), "rule": r.to_dict()}  # fmt: skip
    if fmt == "json":
        out.print_json(json.dumps(jsonable_tree(doc)))
    else:
        import yaml

        typer.echo(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True))


@rules_app.command("test")
def rules_test(
    name: str,
    answer: Annotated[str | None, typer.Option(help='An answer to test, JSON: {"metric": "nps", "score": 3}.')] = None,
    limit: Annotated[int, typer.Option(help="Without --answer: at most this many stored answers it matches.")] = 20,
    fmt: FmtOpt = Fmt.table,
) -> None:
    """Show which answers a rule fires on, sending nothing."""
    parsed = None
    if answer is not None:
        try:
            parsed = json.loads(answer)
        except json.JSONDecodeError as e:
            raise typer.BadParameter(f"--answer is not JSON: {e}") from None
        if not isinstance(parsed, dict):
            raise typer.BadParameter('--answer must be a JSON object such as {"metric": "nps", "score": 3}')
    with open() as ws:
        print_frame(ws.act.test(name, parsed, limit=limit), fmt)


def _status_command(verb: str, status: str) -> None:
    def command(name: str) -> None:
        with open() as ws:
            if status == "deleted":
                ws.act.delete(name, who=_who())
            else:
                getattr(ws.act, verb)(name, who=_who())
        err.print(f"rule {name!r} {status if status != 'active' else 'resumed'}", markup=False)

    command.__doc__ = f"{verb.capitalize()} a rule (recorded as a new version)."
    rules_app.command(verb)(command)


_status_command("pause", "paused")
_status_command("resume", "active")
_status_command("delete", "deleted")


# -- destinations and deliveries ------------------------------------------------------------------
@act_app.command("allow-host")
def act_allow_host(
    host: str,
    private: Annotated[
        bool,
        typer.Option("--private", help="Allow it even when it resolves to a private, loopback or link-local address."),
    ] = False,  # fmt: skip
) -> None:
    """Allow alerts to be sent to HOST (http(s) webhooks, ticket APIs, SMTP)."""
    with open() as ws:
        h = ws.act.allow_host(host, private=private, who=_who())
    err.print(f"host {h!r} allowed" + (" (private addresses too)" if private else ""), markup=False)


@act_app.command("send-test")
def act_send_test(rule: str, fmt: FmtOpt = Fmt.table) -> None:
    """Send a test alert to every destination of RULE (delivered by the job runner)."""
    with open() as ws:
        print_frame(ws.act.send_test(rule), fmt)


@act_app.command("forbid-host")
def act_forbid_host(host: str) -> None:
    """Stop sending alerts to HOST."""
    with open() as ws:
        ws.act.forbid_host(host)
    err.print(f"host {host!r} no longer allowed", markup=False)


@act_app.command("hosts")
def act_hosts(fmt: FmtOpt = Fmt.table) -> None:
    """Allowed destination hosts."""
    with open() as ws:
        print_frame(ws.act.hosts(), fmt)


@act_app.command("alerts")
def act_alerts(rule: Annotated[str | None, typer.Option(help="Only this rule.")] = None,
               limit: int = 100, fmt: FmtOpt = Fmt.table) -> None:  # fmt: skip
    """Alerts the rules raised, newest first."""
    with open() as ws:
        print_frame(ws.act.alerts(rule=rule, limit=limit), fmt)


@act_app.command("deliveries")
def act_deliveries(
    status: Annotated[str | None, typer.Option(help="queued, running, sent, dead or refused.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only this rule.")] = None,
    limit: int = 100,
    fmt: FmtOpt = Fmt.table,
) -> None:
    """Deliveries of alerts (one per message action), newest first."""
    with open() as ws:
        print_frame(ws.act.deliveries(status=status, rule=rule, limit=limit), fmt)


@act_app.command("dead")
def act_dead(fmt: FmtOpt = Fmt.table) -> None:
    """The dead-letter list: deliveries that ran out of attempts or were refused."""
    with open() as ws:
        print_frame(ws.act.dead_letters(), fmt)


@act_app.command("retry")
def act_retry(delivery_id: str) -> None:
    """Queue a dead or refused delivery again (same idempotency key, fresh attempts)."""
    with open() as ws:
        res = ws.act.retry(delivery_id)
    err.print(f"delivery {res['delivery_id']!r} queued again (job {res['job_id']})", markup=False)


# -- cases -------------------------------------------------------------------------------------
CASE_COLUMNS = ["case_id", "customer_id", "rule", "status", "team", "owner", "priority", "due_at", "created_at"]


@cases_app.command("list")
def cases_list(
    status: Annotated[list[str] | None, typer.Option(help="new, in_progress, waiting or closed (repeatable).")] = None,
    team: Annotated[str | None, typer.Option(help="Only this team's cases.")] = None,
    owner: Annotated[str | None, typer.Option(help="Only this owner's cases.")] = None,
    customer: Annotated[str | None, typer.Option(help="Only this customer's cases.")] = None,
    limit: int = 1000,
    fmt: FmtOpt = Fmt.table,
) -> None:
    """Cases, newest first."""
    with open() as ws:
        df = ws.act.cases(status=status or None, team=team, owner=owner, customer_id=customer, limit=limit)
    print_frame(df[CASE_COLUMNS] if fmt is Fmt.table else df, fmt)


@cases_app.command("recovery")
def cases_recovery(
    by: Annotated[str | None, typer.Option(help="team or owner (default: all cases together).")] = None,
    fmt: FmtOpt = Fmt.table,
) -> None:
    """The recovery rate of re-surveyed cases (a rule's survey action): n, the share scoring higher than
    before with its 95 % CI, the mean scores before and after."""
    with open() as ws:
        print_frame(ws.act.recovery(by=by), fmt)


@cases_app.command("loop")
def cases_loop(
    by: Annotated[str | None, typer.Option(help="team or owner (default: all cases together).")] = None,
    fmt: FmtOpt = Fmt.table,
) -> None:
    """Closed-loop metrics: detractor cases contacted within the SLA (share, 95 % CI), time to first
    contact and to close (median with its 95 % interval, p90, hours), per team or owner."""
    with open() as ws:
        print_frame(ws.metrics.closed_loop(by=by), fmt)


@cases_app.command("show")
def cases_show(case_id: str) -> None:
    """A case with its audit trail (JSON)."""
    with open() as ws:
        out.print_json(json.dumps(jsonable_tree(ws.act.case(case_id))))


@cases_app.command("open")
def cases_open(
    customer: Annotated[str, typer.Option(help="The customer id.")],
    team: Annotated[str | None, typer.Option(help="Team whose queue it joins.")] = None,
    priority: Annotated[str, typer.Option(help="urgent, high, normal or low.")] = "normal",
    owner: Annotated[str | None, typer.Option(help="Owner (e-mail).")] = None,
    note: Annotated[str | None, typer.Option(help="A first note.")] = None,
) -> None:
    """Open a case by hand."""
    with open() as ws:
        c = ws.act.open_case(customer, team=team, priority=priority, owner=owner, note=note, actor=_who())
    typer.echo(c["case_id"])


@cases_app.command("update")
def cases_update(
    case_id: str,
    status: Annotated[str | None, typer.Option(help="new, in_progress, waiting or closed.")] = None,
    owner: Annotated[str | None, typer.Option(help="New owner (e-mail).")] = None,
    team: Annotated[str | None, typer.Option(help="Move to this team.")] = None,
    priority: Annotated[str | None, typer.Option(help="urgent, high, normal or low.")] = None,
    outcome: Annotated[str | None, typer.Option(help="resolved, compensated, no_answer, not_reached, other.")] = None,
    note: Annotated[str | None, typer.Option(help="Add a note.")] = None,
) -> None:
    """Change a case (each change lands in its audit trail)."""
    with open() as ws:
        c = ws.act.update_case(case_id, status=status, owner=owner, team=team, priority=priority, outcome=outcome,
                               note=note, actor=_who())  # fmt: skip
    err.print(f"case {case_id!r}: {c['status']}, team {c['team']}, owner {c['owner']}", markup=False)


@cases_app.command("team-add")
def cases_team_add(team: str, email: str) -> None:
    """Put a dashboard user (e-mail) in a team: an agent sees the cases of their teams."""
    with open() as ws:
        ws.act.add_member(team, email)
    err.print(f"{email} is in team {team!r}", markup=False)


@cases_app.command("team-remove")
def cases_team_remove(team: str, email: str) -> None:
    """Take a user out of a team."""
    with open() as ws:
        ws.act.remove_member(team, email)
    err.print(f"{email} is no longer in team {team!r}", markup=False)


@bench_app.command("act")
def bench_act(
    rules: Annotated[int, typer.Option(help="Rules in the workspace (at most 100).")] = 100,
    rate: Annotated[float, typer.Option(help="Survey answers a second sent to the real server.")] = 200.0,
    seconds: Annotated[float, typer.Option(help="Seconds of load.")] = 10.0,
    kill: Annotated[bool, typer.Option("--kill", help="SIGKILL the server half-way and restart it.")] = False,
) -> None:
    """Answers through the real server → alerts at a local webhook receiver: p95 commit→delivery, lost, duplicated."""
    benchmarks()
    from benchmarks.act import bench_act as run

    with err.status(f"{rate:g} answers/s for {seconds:g} s through `cxlens serve`…"):
        res = run(rules=rules, rate=rate, seconds=seconds, kill=kill)
    print_bench(f"bench act: {rules} rules, {rate:g} answers/s" + (", SIGKILL + restart" if kill else ""), res)


__all__ = ["CASE_COLUMNS", "act_app", "bench_act", "cases_app", "rules_app"]
