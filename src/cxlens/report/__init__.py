"""Self-contained HTML reports: ``build_report(ws, "report.html")``.

The report shows what the dashboard's overview shows (KPI tiles with 95% CIs and changes,
monthly trends, breakdowns by touchpoint and stage, significant movers) in one HTML file with
the chart libraries inlined, so it opens offline and can be mailed or archived.
"""

from cxlens.report.build import build_report, render_report
from cxlens.report.journey import journey_map_html, render_journey_map
from cxlens.report.overview import Overview, build_overview

__all__ = ["Overview", "build_overview", "build_report", "journey_map_html", "render_journey_map", "render_report"]
