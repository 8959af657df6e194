"""Writing the self-contained HTML report."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cxlens.errors import ConfigError
from cxlens.report.assets import REPORT_TEMPLATES, STATIC, base_env, inline_scripts
from cxlens.report.overview import build_overview
from cxlens.version import __version__


def render_report(
    ws: Any,
    *,
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    filters: Mapping[str, Any] | None = None,
    title: str = "Customer experience report",
    comments: bool = False,
) -> str:
    """The report as one HTML string (see :func:`build_report`)."""
    ov = build_overview(ws, start=start, end=end, filters=filters, comments=comments)
    env = base_env(REPORT_TEMPLATES)
    scripts = inline_scripts()
    return env.get_template("report.html").render(
        ov=ov,
        title=title,
        css=(STATIC / "app.css").read_text(encoding="utf-8"),
        scripts=scripts,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        workspace=os.path.basename(str(getattr(ws, "path", "") or "")) or "workspace",
        version=__version__,
    )


def build_report(
    ws: Any,
    out_path: str | os.PathLike[str],
    start: str | dt.date | None = None,
    end: str | dt.date | None = None,
    filters: Mapping[str, Any] | None = None,
    *,
    title: str = "Customer experience report",
    comments: bool = False,
) -> Path:
    """Write a self-contained HTML report of the workspace and return its path.

    Parameters
    ----------
    ws
        A :class:`cxlens.Workspace`.
    out_path
        The HTML file to write (its folder must exist).
    start, end
        Keep rows with ``start <= ts < end`` (dates or ISO strings).
    filters
        ``{dimension: value | [values]}`` on channel, touchpoint, stage, segment.
    title
        The report's heading.
    comments
        Include the latest customer comments (off by default: reports travel by e-mail).

    Returns
    -------
    Path
        ``out_path``; the file has no external references (scripts and styles inlined).

    Examples
    --------
    >>> import cxlens, tempfile, pathlib
    >>> ws = cxlens.open(":memory:")
    >>> out = build_report(ws, pathlib.Path(tempfile.mkdtemp()) / "report.html")
    >>> out.read_text().startswith("<!doctype html>")
    True
    """
    out = Path(out_path)
    if not out.parent.exists():
        raise ConfigError(f"folder {str(out.parent)!r} for report {str(out)!r} does not exist; create it first")
    html = render_report(ws, start=start, end=end, filters=filters, title=title, comments=comments)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(html, encoding="utf-8")
    tmp.replace(out)
    return out
