"""``cxlens survey …``: create, list, show, update, pause/resume surveys, personal links, results."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from cxlens.cli._app import Fmt, app, err, jsonable_tree, open, print_frame, state

survey_app = typer.Typer(help="Surveys: definitions, targeting, personal links, results.", no_args_is_help=True)
app.add_typer(survey_app, name="survey")

FromFile = Annotated[Path, typer.Option("--from", help="Survey definition (YAML or JSON).", exists=False)]


@survey_app.command("create")
def survey_create(source: FromFile) -> None:
    """Validate a definition file and add the survey to the workspace."""
    from cxlens.surveys import create_survey

    with open() as ws:
        d = create_survey(ws, source)
    err.print(f"survey {d.id!r} created ({d.metric}, {d.status})", markup=False)


@survey_app.command("update")
def survey_update(survey_id: str, source: FromFile) -> None:
    """Replace a survey's definition (same id)."""
    from cxlens.surveys import update_survey

    with open() as ws:
        d = update_survey(ws, survey_id, source)
    err.print(f"survey {d.id!r} updated ({d.status})", markup=False)


@survey_app.command("list")
def survey_list(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """Surveys with status and response counts."""
    from cxlens.surveys import list_surveys

    with open() as ws:
        df = list_surveys(ws)
    if fmt is Fmt.table:  # the headline columns; json/csv carry everything
        df = df[["survey_id", "metric", "status", "responses", "impressions"]]
    print_frame(df, fmt)


@survey_app.command("show")
def survey_show(survey_id: str, fmt: Annotated[str, typer.Option("--format", help="yaml or json.")] = "yaml") -> None:
    """Print a survey's definition."""
    from cxlens.surveys import get_survey

    with open() as ws:
        d = get_survey(ws, survey_id)
    sys.stdout.write(json.dumps(d.to_dict(), indent=1, ensure_ascii=False) + "\n" if fmt == "json" else d.to_yaml())


def _status(survey_id: str, status: str) -> None:
    from cxlens.surveys import set_status

    with open() as ws:
        set_status(ws, survey_id, status)
    err.print(f"survey {survey_id!r} is {status}", markup=False)


@survey_app.command("pause")
def survey_pause(survey_id: str) -> None:
    """Stop showing a survey (answers already given stay)."""
    _status(survey_id, "paused")


@survey_app.command("resume")
def survey_resume(survey_id: str) -> None:
    """Activate a draft or paused survey."""
    _status(survey_id, "active")


@survey_app.command("links")
def survey_links(
    survey_id: str,
    customers: Annotated[Path, typer.Option("--customers", help="CSV with a customer_id column (email optional).")],
    out_path: Annotated[Path, typer.Option("--out", help="Where to write the links CSV.")] = Path("survey-links.csv"),
    expires_days: Annotated[float, typer.Option("--expires-days", help="Days until the links expire.")] = 30,
    base_url: Annotated[
        str, typer.Option("--base-url", help="Public address of the cxlens server.")
    ] = "http://127.0.0.1:8000",
    workspace: Annotated[
        str | None, typer.Option("--workspace-name", help="Name the server serves this workspace under.")
    ] = None,
) -> None:
    """Write signed, single-use, expiring personal links (customer_id,email,url) for an email survey."""
    from cxlens.surveys import write_links
    from cxlens.web.hub import workspace_name  # lazy: the web stack loads only to serve

    name = workspace or workspace_name(state.workspace)
    with open() as ws:
        n = write_links(
            ws, survey_id, customers, out_path, workspace=name, base_url=base_url, expires_days=expires_days
        )
    err.print(f"{n:,} personal links written to {out_path} (expire in {expires_days:g} days)", markup=False)


@survey_app.command("results")
def survey_results(
    survey_id: str,
    period: Annotated[str, typer.Option(help="day, week, month, quarter or year.")] = "month",
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """The survey's metric by period with 95% CIs, its answer breakdown and counts."""
    from cxlens.surveys import survey_results as results

    with open() as ws:
        res = results(ws, survey_id, period=period)
    if fmt is Fmt.json:
        data = {
            "overall": None if res["overall"] is None else res["overall"].to_dict("records"),
            "trend": None if res["trend"] is None else res["trend"].to_dict("records"),
            "breakdown": res["breakdown"].to_dict("records"),
            "counts": res["counts"],
        }
        sys.stdout.write(json.dumps(jsonable_tree(data), indent=1, ensure_ascii=False) + "\n")
        return
    if res["trend"] is not None and len(res["trend"]):
        print_frame(res["trend"], fmt)
    if fmt is Fmt.table:
        print_frame(res["breakdown"], fmt)
        print_frame(pd.DataFrame([res["counts"]]), fmt)
