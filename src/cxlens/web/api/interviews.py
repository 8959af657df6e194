"""Interview endpoints (dashboard admins and analysts)::

    GET /api/v1/interviews                          imported interviews
    GET /api/v1/interviews/candidates?segment=&theme=&min_churn_risk=&per_segment=&survey=&limit=
    GET /api/v1/interviews/{interview_id}           its turns (speaker, role, times, text)

Turn texts are redacted of e-mail addresses, phone and card numbers and street addresses
(:func:`cxlens.schema.redact.redact`) whatever the role; the library keeps the originals.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request

from cxlens.errors import NotFoundError
from cxlens.schema.redact import redact
from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import require_role, run_on_workspace

__all__ = ["router"]

router = APIRouter()
Reader = Depends(require_role("admin", "analyst"))


@router.get("/api/v1/interviews", tags=["interviews"], summary="Imported interviews", dependencies=[Reader])
async def api_list(request: Request) -> list[dict[str, Any]]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.interviews.list()))


@router.get("/api/v1/interviews/candidates", tags=["interviews"], summary="Opted-in customers to invite",
            dependencies=[Reader])  # fmt: skip
async def api_candidates(
    request: Request,
    segment: Annotated[list[str] | None, Query()] = None,
    theme: str | None = None,
    min_churn_risk: Annotated[float | None, Query(ge=0, le=1)] = None,
    per_segment: Annotated[int | None, Query(ge=1)] = None,
    survey: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    df = await run_on_workspace(
        request,
        lambda ws: ws.interviews.candidates(
            segment=segment,
            theme=theme,
            min_churn_risk=min_churn_risk,
            per_segment=per_segment,
            survey_id=survey,
            limit=limit,
        ),  # fmt: skip
    )
    return jsonable(df)


@router.get("/api/v1/interviews/{interview_id}", tags=["interviews"], summary="An interview's turns",
            dependencies=[Reader])  # fmt: skip
async def api_turns(request: Request, interview_id: str) -> list[dict[str, Any]]:
    df = await run_on_workspace(request, lambda ws: ws.interviews.turns(interview_id))
    if df.empty:
        raise NotFoundError(f"interview {interview_id!r} not found")
    df["text"] = df["text"].map(redact)
    return jsonable(df)
