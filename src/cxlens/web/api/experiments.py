"""Experiment endpoints (dashboard users; in open mode everyone)::

    GET  /api/v1/experiments                         defined experiments, people exposed so far
    POST /api/v1/experiments                         {name, variants, weights?, planned_per_variant?} (admin)
    GET  /api/v1/experiments/size?baseline=&mde=&power=&alpha=&variants=&traffic=
    GET  /api/v1/experiments/{name}/results?goal=purchase[&goal=view>cart>purchase…]&window=14&alpha=0.05
                                                     [&ci=unpooled|newcombe|auto][&guardrail=…]

``results`` is :func:`cxlens.experiments.results` as JSON: ``srm_p_value``, ``variants`` (control
first) and the extra fields; warnings are in ``warnings``.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel

from cxlens.experiments import sample_size
from cxlens.web.api.surveys import JsonOnly  # the same JSON-only rule as the survey admin API
from cxlens.web.deps import require_role, run_on_workspace

__all__ = ["router"]

router = APIRouter()
Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))


def _clean(v: Any) -> Any:
    if isinstance(v, dict):
        return {str(k): _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "item"):
        return _clean(v.item())
    if hasattr(v, "isoformat"):
        return v.isoformat()
    return v


@router.get("/api/v1/experiments", tags=["experiments"], summary="Defined experiments", dependencies=[Reader])
async def api_list(request: Request) -> list[dict[str, Any]]:
    df = await run_on_workspace(request, lambda ws: ws.experiments.list())
    return _clean(df.to_dict("records"))


class DefineBody(BaseModel):
    name: str
    variants: list[str]
    weights: list[float] | None = None
    planned_per_variant: int | None = None


@router.post("/api/v1/experiments", tags=["experiments"], summary="Define an experiment",
             dependencies=[Admin, JsonOnly])  # fmt: skip
async def api_define(request: Request, body: DefineBody) -> dict[str, Any]:
    d = await run_on_workspace(
        request,
        lambda ws: ws.experiments.define(
            body.name, body.variants, body.weights, planned_per_variant=body.planned_per_variant
        ),  # fmt: skip
    )
    return dict(d)


@router.get("/api/v1/experiments/size", tags=["experiments"], summary="Sample size and duration",
            dependencies=[Reader])  # fmt: skip
async def api_size(
    baseline: float, mde: float, power: float = 0.8, alpha: float = 0.05, variants: int = 2,
    traffic: float | None = None,
) -> dict[str, Any]:  # fmt: skip
    return _clean(sample_size(baseline, mde, power, alpha, variants, traffic))


@router.get("/api/v1/experiments/{name}/results", tags=["experiments"], summary="Read-out of an experiment",
            dependencies=[Reader])  # fmt: skip
async def api_results(
    request: Request,
    name: str,
    goal: Annotated[list[str], Query(description="Goal event(s); the first is primary.")],
    guardrail: Annotated[list[str] | None, Query(description="Events that must not get more frequent.")] = None,
    window: Annotated[int, Query(ge=1, le=365)] = 14,
    alpha: Annotated[float, Query(gt=0, lt=1)] = 0.05,
    ci: Annotated[
        str, Query(pattern="^(unpooled|newcombe|auto)$", description="CI of a rate difference.")
    ] = "unpooled",
) -> dict[str, Any]:
    res = await run_on_workspace(
        request,
        lambda ws: ws.experiments.results(
            name, goal, window_days=window, alpha=alpha, guardrails=guardrail or (), ci=ci
        ),
    )
    return _clean(res)
