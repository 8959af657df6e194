"""Overview page (``/``) and its htmx fragment (``/partials/overview``).

Both take the metric query parameters (``start``, ``end``, ``channel``, ``touchpoint``,
``stage``, ``segment``); the fragment is what the filter form swaps into ``#overview-body``.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from cxlens.customers.risk import revenue_at_risk_panel
from cxlens.report.overview import build_overview, filter_options
from cxlens.voice.summary import overview_pain_points
from cxlens.web.api.metrics import MetricQuery, metric_query
from cxlens.web.deps import ALL_DATA, cached_view
from cxlens.web.pages import register

router = register(APIRouter(include_in_schema=False), id="overview", label="Overview", path="/", order=0)


async def _context(request: Request, q: MetricQuery, *, with_options: bool) -> dict[str, Any]:
    def work(ws: Any) -> dict[str, Any]:
        ov = build_overview(ws, where=q.where)
        options = filter_options(ws, q.where) if with_options else []
        return {"ov": ov, "options": options, "nav_active": "overview"}

    return await cached_view(request, "overview", (q.where, with_options), ALL_DATA, work)


@router.get("/", response_class=HTMLResponse)
async def overview(request: Request, q: Annotated[MetricQuery, Depends(metric_query)]) -> HTMLResponse:
    ctx = await _context(request, q, with_options=True)
    return request.app.state.templates.TemplateResponse(request, "overview.html", ctx)


@router.get("/partials/overview", response_class=HTMLResponse)
async def overview_partial(request: Request, q: Annotated[MetricQuery, Depends(metric_query)]) -> HTMLResponse:
    ctx = await _context(request, q, with_options=False)
    resp = request.app.state.templates.TemplateResponse(request, "partials/overview_body.html", ctx)
    qs = ctx["ov"].query_string
    resp.headers["HX-Replace-Url"] = "/" + (f"?{qs}" if qs else "")
    return resp


# The two model-backed sections load after the page (hx-trigger="load"); they read what background
# jobs stored (model scores, text analysis) and never fit or score inside the request.
@router.get("/partials/overview/revenue-risk", response_class=HTMLResponse)
async def overview_revenue_risk(request: Request, q: Annotated[MetricQuery, Depends(metric_query)]) -> HTMLResponse:
    risk = await cached_view(
        request,
        "revenue-risk",
        (q.where.start, q.where.end),
        ALL_DATA,
        lambda ws: revenue_at_risk_panel(ws, **q.where.dated()),
    )
    return request.app.state.templates.TemplateResponse(
        request, "partials/overview_revenue_risk.html", {"revenue_risk": risk}
    )


@router.get("/partials/overview/painpoints", response_class=HTMLResponse)
async def overview_painpoints(request: Request, q: Annotated[MetricQuery, Depends(metric_query)]) -> HTMLResponse:
    rows = await cached_view(
        request, "painpoints", q.where, ALL_DATA, lambda ws: overview_pain_points(ws, **q.where.kwargs())
    )
    return request.app.state.templates.TemplateResponse(
        request, "partials/overview_painpoints.html", {"painpoints": rows}
    )
