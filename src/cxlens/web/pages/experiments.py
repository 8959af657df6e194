"""Experiment pages: ``/experiments`` (defined experiments and a read-out form) and
``/experiments/{name}?goal=…&window=14`` (the SRM check first, then the results per goal)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse

from cxlens.errors import CxlensError
from cxlens.web.deps import require_role, run_on_workspace
from cxlens.web.pages import register

router = register(APIRouter(include_in_schema=False), id="experiments", label="Experiments", path="/experiments",
                  order=47)  # fmt: skip
Reader = Depends(require_role("admin", "analyst"))


def _render(request: Request, ctx: dict[str, Any]) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, "experiments/page.html",
                                                        {"nav_active": "experiments", **ctx})  # fmt: skip


@router.get("/experiments", response_class=HTMLResponse, dependencies=[Reader])
async def experiment_list(
    request: Request,
    name: Annotated[str, Query()] = "",
    goal: Annotated[str, Query()] = "",
    window: Annotated[int, Query(ge=1, le=365)] = 14,
    ci: Annotated[str, Query(pattern="^(unpooled|newcombe|auto)$")] = "unpooled",
) -> HTMLResponse:
    return await experiment_page(request, name, goal, window, ci)


@router.get("/experiments/{name}", response_class=HTMLResponse, dependencies=[Reader])
async def experiment_page(
    request: Request,
    name: str,
    goal: Annotated[str, Query()] = "",
    window: Annotated[int, Query(ge=1, le=365)] = 14,
    ci: Annotated[str, Query(pattern="^(unpooled|newcombe|auto)$")] = "unpooled",
) -> HTMLResponse:
    goals = [g.strip() for g in goal.split(",") if g.strip()]
    res, error = None, None
    if goals and name:
        try:
            res = await run_on_workspace(
                request, lambda ws: ws.experiments.results(name, goals, window_days=window, ci=ci)
            )
        except CxlensError as e:
            error = str(e)
    df = await run_on_workspace(request, lambda ws: ws.experiments.list())
    return _render(request, {"rows": df.to_dict("records"), "res": res, "name": name, "goal": goal,
                             "window": window, "ci": ci, "error": error})  # fmt: skip
