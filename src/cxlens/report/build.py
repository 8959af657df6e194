"""Writing the self-contained HTML report."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import cxlens
from cxlens.errors import ConfigError
from cxlens.report.overview import build_overview

HERE = Path(__file__).resolve().parent
VENDOR = HERE.parent / "web" / "static" / "vendor"
STATIC = HERE.parent / "web" / "static"
#: Inlined in this order (vega-embed needs vega and vega-lite).
SCRIPTS = ("vega-6.4.0.min.js", "vega-lite-6.4.3.min.js", "vega-embed-7.3.0.min.js")


def _inline_js(text: str) -> str:
    # "</script" would end the inline element early; "<\/script" means the same inside JS.
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


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
    from cxlens.web.app import template_env

    ov = build_overview(ws, start=start, end=end, filters=filters, comments=comments)
    env = template_env(HERE / "templates")
    scripts = [_inline_js((VENDOR / name).read_text(encoding="utf-8")) for name in SCRIPTS]
    scripts.append(_inline_js((STATIC / "app.js").read_text(encoding="utf-8")))
    return env.get_template("report.html").render(
        ov=ov,
        title=title,
        css=(STATIC / "app.css").read_text(encoding="utf-8"),
        scripts=scripts,
        generated=dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        workspace=os.path.basename(str(getattr(ws, "path", "") or "")) or "workspace",
        version=cxlens.__version__,
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
