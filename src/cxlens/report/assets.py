"""Presentation assets shared by the dashboard, the HTML report and exported pages.

The vendored scripts (vega, vega-lite, vega-embed, htmx), the stylesheet and the templates ship
inside the package (``cxlens/web/static``, ``cxlens/web/templates``); this module finds them and
builds the Jinja environment every renderer starts from (autoescape on, the display formats of
:mod:`cxlens.report.format` as filters). The dashboard adds its request globals on top.
"""

from __future__ import annotations

from pathlib import Path

from jinja2 import Environment, FileSystemLoader, select_autoescape

from cxlens.report.format import FILTERS

__all__ = ["REPORT_TEMPLATES", "SCRIPTS", "STATIC", "TEMPLATES", "VENDOR", "base_env", "inline_js", "inline_scripts"]

PACKAGE = Path(__file__).resolve().parent.parent
STATIC = PACKAGE / "web" / "static"
VENDOR = STATIC / "vendor"
TEMPLATES = PACKAGE / "web" / "templates"
REPORT_TEMPLATES = PACKAGE / "report" / "templates"
#: inlined in this order (vega-embed needs vega and vega-lite)
SCRIPTS = ("vega-6.4.0.min.js", "vega-lite-6.4.3.min.js", "vega-embed-7.3.0.min.js")


def inline_js(text: str) -> str:
    """Script text safe inside an inline ``<script>`` element."""
    # "</script" would end the inline element early; "<\/script" means the same inside JS.
    return text.replace("</script", "<\\/script").replace("</SCRIPT", "<\\/SCRIPT")


def inline_scripts() -> list[str]:
    """The chart scripts and the dashboard's app.js, ready to inline in a self-contained page."""
    scripts = [inline_js((VENDOR / name).read_text(encoding="utf-8")) for name in SCRIPTS]
    scripts.append(inline_js((STATIC / "app.js").read_text(encoding="utf-8")))
    return scripts


def base_env(*extra_dirs: Path) -> Environment:
    """A Jinja2 environment over ``extra_dirs`` and the dashboard templates, autoescaping everything."""
    env = Environment(
        loader=FileSystemLoader([str(d) for d in (*extra_dirs, TEMPLATES)]),
        autoescape=select_autoescape(default=True, default_for_string=True),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(FILTERS)
    return env
