"""Customers: CLV, churn risk, segments."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import pandas as pd
import typer

from cxlens.cli._app import (
    Fmt,
    app,
    cell,
    churn_app,
    clv_app,
    err,
    exists,
    jsonable_tree,
    open,
    out,
    print_frame,
    segments_app,
)
from cxlens.errors import ConfigError


# -- customers -----------------------------------------------------------------------
@clv_app.command("fit")
def clv_fit(
    model: Annotated[str, typer.Option(help="bgnbd, paretonbd or gammagamma.")] = "bgnbd",
    summary: Annotated[
        Path | None, typer.Option(help="Ready summary file (frequency, recency, T, monetary) instead of orders.")
    ] = None,
    map_: Annotated[
        str | None, typer.Option("--map", help="canonical=file column, e.g. frequency=x,recency=t_x.")
    ] = None,
    calibration_end: Annotated[str | None, typer.Option(help="Fit on orders up to this date (inclusive).")] = None,
    time_unit: Annotated[str, typer.Option(help="day or week.")] = "week",
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Fit a CLV model on the workspace's orders (or a summary file) and print its parameters."""
    from cxlens.customers.clv import fit_clv, summary_for
    from cxlens.customers.clv_summary import load_summary

    if summary is not None:
        frame = load_summary(summary, map_)
        result = fit_clv(model, frame)
    else:
        with open(read_only=exists()) as ws:
            result = fit_clv(model, summary_for(ws, calibration_end=calibration_end, time_unit=time_unit))
    if fmt is Fmt.json:
        sys.stdout.write(json.dumps(jsonable_tree(result)) + "\n")
        return
    title = f"{result['model']}: {result['n_customers']:,} customers, log-likelihood {result['log_likelihood']:,.1f}"
    ses = result.get("std_errors") or {}
    frame = pd.DataFrame(
        [(k, float(v), ses.get(k)) for k, v in result["params"].items()], columns=["parameter", "estimate", "std_error"]
    )
    if fmt is Fmt.table:  # four significant digits, as the models report them (CSV keeps every digit)
        frame["estimate"] = [f"{v:.4g}" for v in frame["estimate"]]
        frame["std_error"] = ["–" if pd.isna(v) else f"{v:.3g}" for v in frame["std_error"]]
    print_frame(frame, fmt, title=title)


@clv_app.command("predict")
def clv_predict(
    horizon: Annotated[int, typer.Option(help="Horizon in time units (weeks by default).")] = 52,
    model: Annotated[str, typer.Option(help="bgnbd or paretonbd for purchases (spend: Gamma-Gamma).")] = "bgnbd",
    time_unit: Annotated[str, typer.Option(help="day or week.")] = "week",
    discount_rate: Annotated[float, typer.Option(help="Discount rate per time unit.")] = 0.01,
    calibration_end: Annotated[str | None, typer.Option(help="Fit on orders up to this date.")] = None,
    out_path: Annotated[
        Path | None, typer.Option("--out", help="Write CSV (or .json/.parquet) here instead of stdout.")
    ] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.csv,
) -> None:
    """Per-customer predicted CLV with a 95% interval, P(alive) and expected purchases."""
    from cxlens.customers.clv import predict_clv

    with open(read_only=exists()) as ws:
        result = predict_clv(
            ws, horizon, model=model, time_unit=time_unit, discount_rate=discount_rate, calibration_end=calibration_end
        )
    if out_path is not None:
        suffix = out_path.suffix.lower()
        if suffix == ".parquet":
            result.to_parquet(out_path, index=False)
        elif suffix in (".json", ".jsonl"):
            result.to_json(out_path, orient="records", lines=suffix == ".jsonl", date_format="iso")
        else:
            result.to_csv(out_path, index=False)
        out.print(f"{len(result):,} customers written to {out_path}")
        return
    print_frame(result, fmt)


@churn_app.command("train")
def churn_train(
    model_path: Annotated[Path, typer.Option("--model", help="Where to save the trained model.")] = Path(
        "churn-model.joblib"
    ),
    as_of: Annotated[
        str | None, typer.Option(help="Holdout cut-off (default: one horizon before the data ends).")
    ] = None,
    horizon_days: Annotated[int, typer.Option(help="Churn within this many days.")] = 90,
    behaviour: Annotated[
        bool | None,
        typer.Option(
            "--behaviour/--no-behaviour",
            help="Use the behaviour features (rage/dead/error clicks…); default: when there is behaviour data.",
        ),
    ] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table or json.")] = Fmt.table,
) -> None:
    """Train the churn model with a time-based holdout; print ROC-AUC, PR-AUC, lift vs a logistic baseline."""
    from cxlens.customers.churn_model import save_model, train_churn

    with open(read_only=exists()) as ws:
        run = train_churn(ws, as_of, horizon_days=horizon_days, behaviour=behaviour)
    save_model(run.model, model_path)
    summary = jsonable_tree(run.summary())
    if fmt is Fmt.json:
        sys.stdout.write(json.dumps(summary, indent=1) + "\n")
    else:
        out.print_json(json.dumps(summary))
    err.print(f"model saved to {model_path}")


@churn_app.command("score")
def churn_score(
    model_path: Annotated[Path, typer.Option("--model", help="A model saved by 'cxlens churn train'.")] = Path(
        "churn-model.joblib"
    ),
    as_of: Annotated[str | None, typer.Option(help="Score as of this date (default: end of data).")] = None,
    top: Annotated[int, typer.Option(help="Reasons per customer.")] = 3,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.csv,
) -> None:
    """Churn risk per customer (highest first) with the top reasons."""
    from cxlens.customers.churn_model import load_model, score_churn

    model = load_model(model_path)
    with open(read_only=exists()) as ws:
        print_frame(score_churn(ws, model, as_of, top=top), fmt)


@segments_app.command("rfm")
def segments_rfm(
    as_of: Annotated[str | None, typer.Option(help="Score as of this date (default: end of data).")] = None,
    save: Annotated[bool, typer.Option("--save", help="Save the segments in the workspace (rfm:<name>).")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """RFM scores (1-5) and named segments (Champions, Loyal, At risk, Hibernating…)."""
    from cxlens.customers.segments import rfm_segments, save_segments

    with open(read_only=exists() and not save) as ws:
        rfm = rfm_segments(ws, as_of)
        if save:
            save_segments(ws, rfm.set_index("customer_id")["segment"], "rfm", prefix="rfm:")
    if fmt is Fmt.table:
        sizes = rfm.groupby("segment").size().sort_values(ascending=False).rename("customers").reset_index()
        print_frame(sizes, fmt)
    else:
        print_frame(rfm, fmt)


@segments_app.command("list")
def segments_list(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """Saved segments with their kind and size (use a name with --segment on metrics and funnel)."""
    from cxlens.customers.segments import list_segments

    with open() as ws:
        print_frame(list_segments(ws), fmt)


@segments_app.command("rule")
def segments_rule(
    name: Annotated[str, typer.Argument(help="Name to save the segment under.")],
    rule: Annotated[list[str], typer.Option("--rule", "-r", help="dimension=value (a|b for any of), repeatable.")],
) -> None:
    """Save a rule-based segment from customer traits, e.g. `segments rule vip_de -r plan=vip -r country=DE`."""
    from cxlens.cli._app import filters
    from cxlens.customers.segments import rule_segment

    with open() as ws:
        ids = rule_segment(ws, name, filters(rule) or {}, save=True)
    out.print(f"segment {name!r} saved: {len(ids):,} customers", markup=False, highlight=False)


@segments_app.command("cluster")
def segments_cluster(
    method: Annotated[str, typer.Option(help="kmeans (k by silhouette) or gmm (k by BIC).")] = "kmeans",
    k: Annotated[int | None, typer.Option(help="Number of clusters (default: chosen by the criterion).")] = None,
    as_of: Annotated[str | None, typer.Option(help="Features as of this date.")] = None,
    save: Annotated[bool, typer.Option("--save", help="Save the clusters in the workspace (cluster:<n>).")] = False,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Behavioural clusters on standardised customer features; prints each cluster's profile."""
    from cxlens.customers.features import customer_features, data_range
    from cxlens.customers.segments import cluster_segments, save_segments

    with open(read_only=exists() and not save) as ws:
        # features as of the day after the last activity, unless a date is given
        cutoff = as_of or (data_range(ws)[1].normalize() + pd.Timedelta(days=1))
        features = customer_features(ws, cutoff)
        result = cluster_segments(features, k=k, method=method)
        if save:
            save_segments(ws, result.labels, "cluster", prefix="cluster:")
    err.print(f"{result.method}: k = {result.k}" + (" (chosen by the criterion)" if k is None else ""))
    profile = result.profile
    # one column per cluster reads better in a terminal than one very wide row per cluster
    print_frame(profile.T.reset_index(names="feature") if fmt is Fmt.table else profile.reset_index(), fmt)


@app.command()
def recommend(
    customer: Annotated[list[str] | None, typer.Option("--customer", help="Customer id, repeatable.")] = None,
    n: Annotated[int, typer.Option(help="Products per customer.")] = 10,
    similar_to: Annotated[str | None, typer.Option(help="Instead: products similar to this product id.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Product recommendations (item-item collaborative filtering on order history) and next best action."""
    from cxlens.customers.recommend import ItemItemRecommender, interactions_from_workspace, next_best_action

    if not customer and not similar_to:
        raise ConfigError("recommend needs --customer ID (repeatable) or --similar-to PRODUCT")
    with open(read_only=exists()) as ws:
        model = ItemItemRecommender().fit(interactions_from_workspace(ws))
        if similar_to:
            print_frame(model.similar_items(similar_to, n), fmt)
            return
        print_frame(model.recommend(customer, n), fmt)
        actions = next_best_action(ws, customer, model=model)
    if fmt is Fmt.table:
        print_frame(actions, fmt)


@app.command()
def customer(
    action_or_id: Annotated[str, typer.Argument(metavar="[export|erase] ID", help="A customer id, or export / erase.")],
    customer_id: Annotated[str | None, typer.Argument(metavar="", help="The customer id after export / erase.")] = None,
    show_pii: Annotated[bool, typer.Option("--show-pii", help="Show e-mail, name and other PII columns.")] = False,
    yes: Annotated[bool, typer.Option("--yes", help="Confirm erase without asking.")] = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="export: write the JSON here.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv (the timeline).")] = Fmt.table,
) -> None:
    """Customer 360 (`cxlens customer ID`), GDPR export (`customer export ID`) and erasure (`customer erase ID`)."""
    from cxlens.customers.profile import customer_profile, erase_customer, export_customer

    action = action_or_id if action_or_id in ("export", "erase") and customer_id else "show"
    cid = customer_id if action != "show" else action_or_id
    if action == "erase":
        if not yes and not typer.confirm(f"Erase every row about customer {cid!r}? This cannot be undone"):
            raise typer.Abort()
        with open() as ws:
            counts = erase_customer(ws, cid)
        out.print(f"customer {cid!r} erased: " + ", ".join(f"{t} {n:,}" for t, n in counts.items() if n))
        return
    with open(read_only=exists()) as ws:
        if action == "export":
            text = json.dumps(jsonable_tree(export_customer(ws, cid)), indent=1, ensure_ascii=False, default=str)
            if out_path:
                out_path.write_text(text + "\n", encoding="utf-8")
                err.print(f"customer {cid!r} exported to {out_path}")
            else:
                sys.stdout.write(text + "\n")
            return
        profile = customer_profile(ws, cid, show_pii=show_pii)
    if fmt is Fmt.json:
        sys.stdout.write(json.dumps(jsonable_tree(profile), indent=1, ensure_ascii=False, default=str) + "\n")
        return
    traits = pd.DataFrame(
        [(str(k), cell(v) if not isinstance(v, (dict, list)) else json.dumps(v, default=str))
         for k, v in {**profile["traits"], **profile["summary"], **profile["value"]}.items()],
        columns=["trait", "value"],
    )  # fmt: skip
    if fmt is Fmt.table:  # CSV is the timeline alone (one table per output)
        print_frame(traits, fmt, title=f"customer {cid}")
    if profile["segments"] and fmt is Fmt.table:
        out.print("segments: " + ", ".join(map(str, profile["segments"])), markup=False)
    timeline = profile["timeline"]
    print_frame(timeline[[c for c in ("ts", "kind", "title", "score", "touchpoint") if c in timeline.columns]], fmt)


@app.command()
def personas(
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """One card per RFM segment: size, value, NPS/CSAT with CIs, channels, themes, pain points."""
    from cxlens.customers.personas import personas as build

    with open(read_only=exists()) as ws:
        cards = build(ws)
    if fmt is Fmt.table:
        for card in cards.to_dict("records"):
            out.print(f"[bold]{card.get('segment')}[/bold]", highlight=False)
            out.print(str(card.get("description", "")), markup=False, highlight=False)
            out.print()
        return
    print_frame(cards, fmt)


@app.command("revenue-at-risk")
def revenue_at_risk_cmd(
    by: Annotated[str, typer.Option(help="theme, touchpoint or auto (themes when the answers carry them).")] = "auto",
    start: Annotated[str | None, typer.Option(help="Only answers on or after this date.")] = None,
    end: Annotated[str | None, typer.Option(help="Only answers before this date.")] = None,
    horizon: Annotated[int, typer.Option(help="CLV horizon in weeks.")] = 52,
    horizon_days: Annotated[int, typer.Option(help="Churn horizon in days.")] = 90,
    top: Annotated[int, typer.Option(help="Rows shown (0: all).")] = 0,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Predicted CLV × churn risk of the customers who raised each pain point, ranked, with a 95% bootstrap CI."""
    from cxlens.customers.risk import workspace_revenue_at_risk

    with open(read_only=exists()) as ws:
        df = workspace_revenue_at_risk(ws, by, start=start, end=end, horizon=horizon, horizon_days=horizon_days)
    print_frame(df.head(top) if top > 0 else df, fmt)
