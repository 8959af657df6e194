"""Voice of the customer: scoring text."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cxlens.cli._app import (
    Fmt,
    _print_frame,
    err,
    voice_app,
)


@voice_app.command("score")
def voice_score(
    path: Annotated[Path, typer.Argument(help="CSV or JSON Lines file with a text column.")],
    text_column: Annotated[str, typer.Option(help="Column holding the text.")] = "text",
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write here instead of stdout.")] = None,
) -> None:
    """Add sentiment_score (-1..1) and sentiment_label to every row of a file (no workspace needed)."""
    from cxlens.voice import score_file

    result = score_file(path, text_column, fmt, out_path)
    if out_path is not None:
        err.print(f"{len(result):,} rows scored into {out_path}")
        return
    _print_frame(result, Fmt.json if fmt == "json" else Fmt.csv)
