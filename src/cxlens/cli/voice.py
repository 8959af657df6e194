"""Voice of the customer: scoring text."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli._app import (
    Fmt,
    err,
    exists,
    filters,
    open,
    print_frame,
    voice_app,
)


@voice_app.command("score")
def voice_score(
    path: Annotated[Path, typer.Argument(help="CSV or JSON Lines file with a text column.")],
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
    analyser: Annotated[str, typer.Option(help="cxlens (default), vader, embeddings or llm (configured).")] = "cxlens",
    themes: Annotated[
        bool,
        typer.Option(
            "--themes",
            help="Also fit themes on the file: add theme, theme_name, subtheme(_name); no theme: other, Other (no theme).",
        ),
    ] = False,
    k: Annotated[str, typer.Option("--k", help="With --themes: number of themes, or auto.")] = "auto",
) -> None:
    """Add sentiment_score (-1..1) and sentiment_label to every row of a file (no workspace needed).

    With --themes, themes are fitted on the file's texts and named as `voice themes` names them.
    """
    from cxlens.voice import score_file
    from cxlens.voice.llm import analyser_by_name

    result = score_file(
        path, text_column, fmt, out_path, analyzer=analyser_by_name(analyser), themes=k if themes else None
    )
    if out_path is not None:
        err.print(f"{len(result):,} rows scored into {out_path}")
        return
    print_frame(result, Fmt.json if fmt == "json" else Fmt.csv)


@voice_app.command("drivers")
def voice_drivers(
    target: Annotated[str, typer.Option(help="nps or csat.")] = "nps",
    drivers: Annotated[str, typer.Option(help="touchpoints, themes, or a comma-separated list.")] = "touchpoints",
    survey: Annotated[str | None, typer.Option(help="Only answers to this survey_id.")] = None,
    level: Annotated[str, typer.Option(help="customer (relationship) or response (per answer).")] = "customer",
    method: Annotated[str, typer.Option(help="relative_weights (Johnson) or shapley (LMG).")] = "relative_weights",
    boot: Annotated[int, typer.Option(help="Bootstrap resamples for the intervals.")] = 200,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
    behaviour: Annotated[
        bool | None,
        typer.Option(
            "--behaviour/--no-behaviour",
            help="Add behaviour drivers (rage/dead/error clicks…); default: with touchpoints, when there is behaviour data.",
        ),
    ] = None,
    chart: Annotated[
        Path | None, typer.Option(help="Also write the importance × performance chart (Vega-Lite JSON).")
    ] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Key drivers of NPS/CSAT: relative importance with CIs and the importance × performance quadrant."""
    from cxlens.charts import to_vega_lite
    from cxlens.voice.drivers import driver_quadrant_chart, key_drivers

    spec: str | list[str] = drivers if drivers in ("touchpoints", "themes") else [d.strip() for d in drivers.split(",")]
    with open(read_only=exists()) as ws:
        df = key_drivers(
            ws, target, spec, method=method, survey=survey, level=level, n_boot=boot, seed=seed, behaviour=behaviour
        )
    if chart is not None:
        chart.write_text(json.dumps(to_vega_lite(driver_quadrant_chart(df))), encoding="utf-8")
    if fmt is Fmt.table:  # the headline columns; json/csv carry everything
        df = df[[c for c in ("rank", "driver", "share", "performance", "coverage", "quadrant") if c in df.columns]]
    print_frame(df, fmt)


@voice_app.command("analyse")
def voice_analyse(
    start: Annotated[str | None, typer.Option(help="Verbatims from this date (inclusive).")] = None,
    end: Annotated[str | None, typer.Option(help="Until this date (exclusive).")] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Only these sources (feedback:nps, ticket, review:olist…).")
    ] = None,
    filter_: Annotated[list[str] | None, typer.Option("--filter", "-f", help="dimension=value, repeatable.")] = None,
    analyser: Annotated[str, typer.Option(help="cxlens (default), vader, embeddings or llm (configured).")] = "cxlens",
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Redact PII, detect language and score sentiment of every verbatim; only new ones are analysed."""
    from cxlens.voice.llm import analyser_by_name
    from cxlens.voice.stored import load_themes
    from cxlens.voice.themes import with_other
    from cxlens.voice.verbatims import analyse_verbatims

    with open() as ws:
        model = None if analyser == "cxlens" else analyser_by_name(analyser, ws)
        df = analyse_verbatims(ws, start=start, end=end, filters=filters(filter_), sources=source or None, model=model)
        stored = load_themes(ws)
    if stored is not None:  # the workspace's theme model: stable theme ids and names
        english = df["is_english"].eq(True).to_numpy()
        df["theme"], df["theme_name"] = None, None
        if english.any():
            a = with_other(stored.assign(df.loc[english, "text"].tolist()))  # no theme: "other"
            df.loc[english, "theme"] = a["theme"].to_numpy()
            df.loc[english, "theme_name"] = a["theme_name"].to_numpy()
    err.print(
        f"{df.attrs.get('analysed', 0):,} verbatims analysed now, {df.attrs.get('scored', 0):,} scored for sentiment"
    )
    if fmt is Fmt.table:
        summary = df.groupby(["source", "sentiment_label"], dropna=False).size().rename("verbatims").reset_index()
        print_frame(summary, fmt)
    else:
        print_frame(df, fmt)


def _fit_themes(ws, k: str, rules: Path | None, sources: list[str] | None, *, refit: bool = False):
    """Analysed English verbatims and the theme model: the stored one unless ``refit`` (or none is stored)."""
    import yaml

    from cxlens.errors import ConfigError
    from cxlens.voice.stored import load_themes
    from cxlens.voice.themes import ThemeExtractor
    from cxlens.voice.verbatims import analyse_verbatims

    df = analyse_verbatims(ws, sources=sources or None)
    df = df[df["is_english"].fillna(False).astype(bool)] if "is_english" in df.columns else df
    if df.empty:
        raise ConfigError("no English verbatims to analyse; import feedback comments, tickets or reviews first")
    user_rules = None
    if rules is not None:
        if not rules.exists():
            raise ConfigError(
                f"rules file {str(rules)!r} does not exist; expected YAML of theme: [keywords or regexes]"
            )
        user_rules = yaml.safe_load(rules.read_text(encoding="utf-8"))
        if not isinstance(user_rules, dict):
            raise ConfigError(f"{rules.name} is not a mapping; expected theme name: [keywords or regexes]")
    stored = load_themes(ws)
    if stored is not None and not refit and user_rules is None:
        return df, stored
    from cxlens.voice.themes import parse_n_themes

    n_themes = parse_n_themes(k)
    if stored is not None:  # refit from the stored model: its pinned themes (and edits) survive
        stored.n_themes = n_themes
        if user_rules is not None:
            stored.rules = user_rules
        return df, stored.fit(df["text"].tolist())
    return df, ThemeExtractor(n_themes=n_themes, rules=user_rules).fit(df["text"].tolist())


def pairs(values: list[str] | None, sep: str, what: str) -> list[tuple[str, str]]:
    from cxlens.errors import ConfigError

    out = []
    for v in values or []:
        a, found, b = v.partition(sep)
        if not found or not a.strip() or not b.strip():
            raise ConfigError(f"--{what} {v!r} is not of the form A{sep}B; e.g. --{what} t1{sep}t4")
        out.append((a.strip(), b.strip()))
    return out


@voice_app.command("themes")
def voice_themes(
    k: Annotated[str, typer.Option("--k", help="Number of discovered themes, or auto (by NPMI coherence).")] = "auto",
    rules: Annotated[
        Path | None, typer.Option(help="YAML of user themes: name: [keywords or regexes] (take precedence).")
    ] = None,
    source: Annotated[
        list[str] | None, typer.Option(help="Only these sources (feedback:nps, ticket, review:olist…).")
    ] = None,
    save: Annotated[
        bool, typer.Option("--save", help="Store the theme model in the workspace (reused later).")
    ] = False,
    refit: Annotated[
        bool, typer.Option("--refit", help="Fit again even if a model is stored (pinned themes survive).")
    ] = False,
    rename: Annotated[list[str] | None, typer.Option(help="ID=NAME: rename a stored theme (repeatable).")] = None,
    merge: Annotated[list[str] | None, typer.Option(help="A,B: merge stored theme B into A (repeatable).")] = None,
    pin: Annotated[list[str] | None, typer.Option(help="Pin a stored theme so it survives --refit.")] = None,
    unpin: Annotated[list[str] | None, typer.Option(help="Unpin a stored theme.")] = None,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """Discover themes in what customers write: names, sub-themes, size, sentiment, trend and quotes.

    The verbatims without a theme are the last row, "other" / "Other (no theme)" (issue: false).

    With a stored model (--save) the themes are assigned with it; --rename/--merge/--pin edit it in place.
    """
    from cxlens.voice.painpoints import theme_summary
    from cxlens.voice.stored import edit_themes, save_themes

    with open() as ws:
        if rename or merge or pin or unpin:
            edit_themes(ws, rename=dict(pairs(rename, "=", "rename")), merge=pairs(merge, ",", "merge"),
                        pin=pin or (), unpin=unpin or ())  # fmt: skip
        df, extractor = _fit_themes(ws, k, rules, source, refit=refit)
        if save:
            save_themes(ws, extractor)
            err.print(f"stored {len(extractor.themes_)} themes in the workspace (setting voice.theme_model)")
    assigned = extractor.assign(df["text"].tolist())
    df = df.assign(**{c: assigned[c].to_numpy() for c in ("theme", "themes", "theme_score")})
    summary = theme_summary(df, extractor)
    counts = assigned["subtheme"].value_counts()
    subs = {
        t["id"]: "; ".join(f"{s['name']} ({int(counts.get(s['id'], 0))})" for s in t.get("subthemes", []))
        for t in extractor.themes_
    }
    summary["subthemes"] = summary["theme"].map(subs).fillna("")
    if fmt is Fmt.table:
        summary = summary[
            [c for c in ("theme", "name", "issue", "size", "share", "sentiment", "negative_share", "growing",
                         "pinned", "subthemes") if c in summary.columns]
        ]  # fmt: skip
    print_frame(summary, fmt)


@voice_app.command("pain-points")
def voice_pain_points(
    k: Annotated[str, typer.Option("--k", help="Number of discovered themes, or auto.")] = "auto",
    rules: Annotated[Path | None, typer.Option(help="YAML of user themes (take precedence).")] = None,
    top: Annotated[int, typer.Option(help="Themes per stage/touchpoint.")] = 3,
    fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table,
) -> None:
    """For each stage and touchpoint, the themes with the most negative verbatims and their effect on scores.

    Each stage and touchpoint also has an "other" row (issue: false) for its verbatims without a theme.
    """
    from cxlens.voice.painpoints import pain_points

    with open() as ws:
        df, extractor = _fit_themes(ws, k, rules, None)
    print_frame(pain_points(df, extractor, top=top), fmt)
