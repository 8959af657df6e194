"""``cxlens experiment …``: define, read out and size A/B tests (JSON on stdout, warnings on stderr)."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer

from cxlens.cli._app import Fmt, app, as_frame, err, jsonable_tree, open, print_frame

experiment_app = typer.Typer(help="A/B tests: sticky assignment, read-outs with honest statistics, sample size.",
                             no_args_is_help=True)  # fmt: skip
app.add_typer(experiment_app, name="experiment", rich_help_panel="Analyse")

SUMMARY = ("variant", "exposed", "converted", "rate", "uplift", "ci_low", "ci_high", "p_value", "p_value_holm",
           "chance_to_beat_control", "seq_ci_low", "seq_ci_high", "seq_p_value", "seq_looks")  # fmt: skip


def _split(text: str, option: str) -> list[str]:
    items = [x.strip() for x in text.split(",") if x.strip()]
    if not items:
        raise typer.BadParameter(f"{option} is empty; give comma-separated values")
    return items


@experiment_app.command("create")
def experiment_create(
    name: str,
    variants: Annotated[str, typer.Option(help="Comma-separated variants, control first.")] = "control,treatment",
    weights: Annotated[str | None, typer.Option(help="Comma-separated split, e.g. 50,50 (equal by default).")] = None,
    planned: Annotated[
        int | None, typer.Option(help="Planned sample size per variant (from `experiment size`).")
    ] = None,
) -> None:
    """Define an experiment: its variants and the split the SRM check expects."""
    w = [float(x) for x in _split(weights, "--weights")] if weights else None
    with open() as ws:
        d = ws.experiments.define(name, _split(variants, "--variants"), w, planned_per_variant=planned)
    err.print(f"experiment {name!r}: {', '.join(d['variants'])} (control {d.control!r})", markup=False)


@experiment_app.command("list")
def experiment_list(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """Defined experiments with the people exposed so far."""
    with open(read_only=True) as ws:
        print_frame(ws.experiments.list(), fmt)


@experiment_app.command("results")
def experiment_results(
    name: str,
    goal: Annotated[
        list[str],
        typer.Option(
            "--goal",
            help="Goal event, or a funnel 'view>cart>purchase' completed in the window "
            "(repeat for several; the first is primary).",
        ),
    ],
    guardrail: Annotated[
        list[str] | None, typer.Option("--guardrail", help="Event that must not become more frequent; repeatable.")
    ] = None,
    window: Annotated[int, typer.Option(help="Days after first exposure a conversion counts.")] = 14,
    alpha: Annotated[float, typer.Option(help="1 − confidence level.")] = 0.05,
    ci: Annotated[
        str,
        typer.Option(
            help="CI of a difference of rates: unpooled (Wald, default), newcombe, or auto "
            "(newcombe where a variant has 0 or all conversions)."
        ),
    ] = "unpooled",
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Read out an experiment: SRM check first, then per variant the difference with control."""
    with open() as ws:  # writable: the read-out records its look (the always-valid figures span all looks)
        res = ws.experiments.results(name, goal, window_days=window, alpha=alpha, guardrails=guardrail or (),
                                     ci=ci)  # fmt: skip
    for w in res["warnings"]:
        err.print(f"warning: {w}", markup=False, highlight=False)
    if fmt is Fmt.json:
        sys.stdout.write(json.dumps(jsonable_tree(res), indent=1, ensure_ascii=False, allow_nan=False) + "\n")
        return
    if fmt is Fmt.table:
        flag = "  MISMATCH" if res["srm_flag"] else ""
        err.print(f"SRM p-value {res['srm_p_value']:.4g}{flag}; window {window} days", markup=False)
    for g, rows in res["by_goal"].items():
        frame = as_frame(rows)
        frame.insert(0, "goal", g)
        if fmt is Fmt.table:
            frame = frame[["goal", *[c for c in SUMMARY if c in frame.columns]]]
        print_frame(frame, fmt)
    if res["guardrails"] and fmt is not Fmt.json:
        print_frame(as_frame(res["guardrails"]), fmt)


@experiment_app.command("size")
def experiment_size(
    baseline: Annotated[float, typer.Option(help="Control conversion rate, e.g. 0.1.")],
    mde: Annotated[float, typer.Option(help="Minimum detectable absolute change, e.g. 0.02.")],
    power: Annotated[float, typer.Option(help="Power.")] = 0.8,
    alpha: Annotated[float, typer.Option(help="Two-sided significance level.")] = 0.05,
    variants: Annotated[int, typer.Option(help="Variants, control included.")] = 2,
    traffic: Annotated[float | None, typer.Option(help="Eligible visitors per day (all variants).")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Sample size per variant and duration in days."""
    from cxlens.experiments import sample_size

    res = sample_size(baseline, mde, power, alpha, variants, traffic)
    if fmt is Fmt.json:
        sys.stdout.write(json.dumps(jsonable_tree(res)) + "\n")
    else:
        print_frame(as_frame(res), fmt)
