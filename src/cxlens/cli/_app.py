"""The Typer apps, output helpers and entry point shared by every cxlens command module."""

from __future__ import annotations

import json
import math
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
app.add_typer(journey_app, name="journey", rich_help_panel="Analyse")
churn_app = typer.Typer(
    help="Churn risk: train a calibrated model, score customers with reasons.", no_args_is_help=True
)
segments_app = typer.Typer(help="Segments: RFM, behavioural clusters, saved customer groups.", no_args_is_help=True)
voice_app = typer.Typer(help="Voice of the customer: sentiment of what customers write.", no_args_is_help=True)
app.add_typer(voice_app, name="voice", rich_help_panel="Analyse")
app.add_typer(clv_app, name="clv", rich_help_panel="Predict")
app.add_typer(churn_app, name="churn", rich_help_panel="Predict")
app.add_typer(segments_app, name="segments", rich_help_panel="Analyse")
app.add_typer(bench_app, name="bench", rich_help_panel="Administer")

#: ``cxlens --help`` groups commands by workflow, in this order
PANELS = ("Get data in", "Analyse", "Predict", "Act", "Administer")
#: the panel of each top-level command or sub-app registered in another module without one
COMMAND_PANELS = {
    "import": "Get data in", "demo": "Get data in", "collect": "Get data in", "survey": "Get data in",
    "metrics": "Analyse", "funnel": "Analyse", "paths": "Analyse", "personas": "Analyse", "customer": "Analyse",
    "report": "Analyse",
    "revenue-at-risk": "Predict", "models": "Predict",
    "recommend": "Act",
    "serve": "Administer", "info": "Administer", "users": "Administer", "keys": "Administer", "jobs": "Administer",
}  # fmt: skip

behaviour_app = typer.Typer(help="Behaviour: click heatmaps, zoning, frustration signals.", no_args_is_help=True)
app.add_typer(behaviour_app, name="behaviour", rich_help_panel="Analyse")

out = Console()
err = Console(stderr=True, soft_wrap=True)  # one error, one line: never wrapped at the terminal width

ADAPTER_KINDS = (
    "olist",
    "cdnow",
    "telco-churn",
    "nps-verbatims",
    "rees46",
    "olist-funnel",
    "airline-tweets",
    "clothing-reviews",
)
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


def open(read_only: bool = False) -> cxlens.Workspace:
    return cxlens.open(state.workspace, read_only=read_only)


def progress_bar(label: str) -> tuple[Progress, Any]:
    bar = Progress(TextColumn(label), BarColumn(), DownloadColumn(), TimeRemainingColumn(), console=err, transient=True)
    task = bar.add_task(label, total=None)

    def update(done: int, total: int) -> None:
        if not bar.live.is_started and total > 20 * 2**20:
            bar.start()
        bar.update(task, completed=done, total=total)

    return bar, update


def exists() -> bool:
    return Path(state.workspace).exists()


def pairs(items: list[str] | None, option: str) -> dict[str, str] | None:
    if not items:
        return None
    res: dict[str, str] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"{option} {item!r} has no '='; expected name=value, e.g. channel=web")
        k, v = (x.strip() for x in item.split("=", 1))
        res[k] = v
    return res


def filters(items: list[str] | None) -> dict[str, Any] | None:
    """``--filter channel=web --filter touchpoint=a|b`` → {"channel": "web", "touchpoint": ["a", "b"]}."""
    parsed = pairs(items, "--filter")
    if parsed is None:
        return None
    return {k: (v.split("|") if "|" in v else v) for k, v in parsed.items()}


def as_frame(result: Any) -> pd.DataFrame:
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


def cell(v: Any) -> str:
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


def _iso_columns(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamp columns as ISO text: a date where every value is a midnight, else the full timestamp
    (CSV never cuts a time off)."""
    out = frame.copy()
    for c in out.columns:
        col = out[c]
        if pd.api.types.is_datetime64_any_dtype(col):
            ts = pd.to_datetime(col)
            dates = bool((ts.dropna() == ts.dropna().dt.normalize()).all())
            text = ts.dt.strftime("%Y-%m-%d") if dates else ts.map(lambda v: v.isoformat() if pd.notna(v) else None)
            out[c] = text.where(ts.notna(), None)
    return out


def print_frame(frame: pd.DataFrame, fmt: Fmt, *, title: str | None = None) -> None:
    """Print a result: JSON (array of row objects), CSV, or a table that never cuts a value.

    On a terminal the table wraps long values inside their column; piped or redirected (not a TTY)
    it is plain text with every column as wide as its widest value, so ``cxlens … | cat`` or a file
    keeps every name and value whole. ``title`` heads the table on a terminal only (piped output
    stays one header line and the rows).
    """
    if fmt is Fmt.json:
        rows = [{str(k): _jsonable(v) for k, v in r.items()} for r in frame.to_dict("records")]
        sys.stdout.write(json.dumps(rows, indent=1, ensure_ascii=False) + "\n")
    elif fmt is Fmt.csv:  # formulas neutralised: customer text may reach a spreadsheet (report/exports.py)
        from cxlens.report.exports import csv_frame

        sys.stdout.write(csv_frame(_iso_columns(frame)))
    elif not sys.stdout.isatty():
        sys.stdout.write(plain_table(frame))
    else:
        table = RichTable(title=title)
        for col in frame.columns:
            numeric = pd.api.types.is_numeric_dtype(frame[col])
            table.add_column(str(col), justify="right" if numeric else "left", overflow="fold",
                             min_width=min(len(str(col)), 24))  # fmt: skip
        for row in frame.itertuples(index=False):
            table.add_row(*(cell(v) for v in row))
        out.print(table)


def plain_table(frame: pd.DataFrame) -> str:
    """``frame`` as aligned plain text: a header line, a rule, one line per row, nothing cut."""
    cols = [str(c) for c in frame.columns]
    cells = [[cell(v) for v in row] for row in frame.itertuples(index=False)]
    numeric = [pd.api.types.is_numeric_dtype(frame[c]) for c in frame.columns]
    widths = [max([len(c), *(len(r[i]) for r in cells)]) for i, c in enumerate(cols)]

    def line(values: list[str]) -> str:
        parts = [v.rjust(w) if num else v.ljust(w) for v, w, num in zip(values, widths, numeric, strict=True)]
        return "  ".join(parts).rstrip()

    rows = [line(cols), "  ".join("-" * w for w in widths), *(line(r) for r in cells)]
    return "\n".join(rows) + "\n"


def jsonable_tree(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): jsonable_tree(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable_tree(x) for x in v]
    return _jsonable(v)


def print_bench(title: str, res: dict[str, Any], fmt: Fmt = Fmt.table) -> None:
    """A benchmark's figures as ``what, value`` rows (plain text when piped, nothing cut).

    The machine's calibration figures (``benchmarks.machine``) are added last, so absolute rates from
    different days can be compared.
    """
    from benchmarks.machine import calibration  # importable: every bench command called benchmarks()

    res = {**res, **calibration()}
    if fmt is Fmt.json:
        sys.stdout.write(json.dumps(jsonable_tree(res), indent=1, ensure_ascii=False) + "\n")
        return
    rows = [(str(k), cell(v) if not isinstance(v, (list, dict)) else json.dumps(v)) for k, v in res.items()]
    print_frame(pd.DataFrame(rows, columns=["what", "value"]), fmt, title=title)


def serve_dashboard(
    host: str,
    port: int,
    *,
    add: list[str] | None = None,
    secure_cookies: bool = False,
    trusted_proxies: list[str] | None = None,
) -> None:
    """Serve the global ``--workspace`` plus ``add`` (each named by its file stem) on one server.

    A non-loopback ``host`` is refused while no workspace has a dashboard user
    (:func:`cxlens.web.auth.check_bind`).
    """
    import uvicorn

    from cxlens.web.app import create_app
    from cxlens.web.auth import check_bind
    from cxlens.web.hub import WorkspaceHub
    from cxlens.web.security import server_config

    hub = WorkspaceHub.open([state.workspace, *(add or [])])
    try:
        check_bind(host, hub)
        app = create_app(hub, secure_cookies=secure_cookies, jobs=True, trusted_proxies=trusted_proxies or ())
    except Exception:
        hub.close()
        raise
    hub.share()  # the CLI and notebooks keep working on these workspaces (docs/store.md)
    names = ", ".join(hub.names)
    mode = "open mode: no users, loopback only" if app.state.open_mode else "sign-in required"
    err.print(f"cxlens dashboard on http://{host}:{port}  (workspaces {names}; {mode}; Ctrl+C to stop)")
    uvicorn.Server(server_config(app, host, port)).run()  # forwarded headers: only from --trusted-proxy


def assign_panels() -> None:
    """Put every top-level command and sub-app without a ``rich_help_panel`` in its workflow panel
    (:data:`COMMAND_PANELS`); a command or sub-app that names its own panel keeps it."""
    from typer.models import DefaultPlaceholder

    def unset(v: Any) -> bool:
        return v is None or isinstance(v, DefaultPlaceholder)

    for info in app.registered_commands:
        name = info.name or (info.callback.__name__.strip("_").replace("_", "-") if info.callback else None)
        if unset(info.rich_help_panel) and name in COMMAND_PANELS:
            info.rich_help_panel = COMMAND_PANELS[name]
    for group in app.registered_groups:
        if unset(group.rich_help_panel) and group.name in COMMAND_PANELS:
            group.rich_help_panel = COMMAND_PANELS[group.name]

    def rank(info: Any) -> int:  # panels in workflow order (help lists them as they first appear)
        p = info.rich_help_panel
        return PANELS.index(p) if isinstance(p, str) and p in PANELS else len(PANELS)

    app.registered_commands.sort(key=rank)
    app.registered_groups.sort(key=rank)


def main() -> None:
    """Entry point: run the app, turning cxlens errors into one line on stderr (exit 1).

    Usage errors (unknown option, missing argument) exit with 2, as click does.
    """
    try:
        app()
    except CxlensError as e:
        err.print(f"error: {e}", markup=False, highlight=False)
        sys.exit(1)


def benchmarks() -> None:
    """Make the source repository's ``benchmarks`` package importable (``cxlens bench`` runs from a clone)."""
    import cxlens.version

    root = Path(cxlens.version.__file__).resolve().parents[2]
    if not (root / "benchmarks" / "__init__.py").is_file():
        raise ConfigError(
            "the benchmarks ship with the source repository, not the installed package; "
            "run `cxlens bench` from a clone (pip install -e .)"
        )
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
