"""Interview endpoints (dashboard admins and analysts)::

    GET /api/v1/interviews                          imported interviews
    GET /api/v1/interviews/candidates?segment=&theme=&min_churn_risk=&per_segment=&survey=&limit=
                                     &persona=&frustrated=&frustrated_days=
    GET /api/v1/interviews/{interview_id}           its turns (speaker, role, times, text)
    GET    /api/v1/interview-tags?interview=&tag=&highlights=   tagged passages (redacted)
    GET    /api/v1/interview-tags/summary               tags across interviews: participants, quotes
    POST   /api/v1/interviews/{interview_id}/tags       {turn, tag, start?, end?, note?, highlight?}
    DELETE /api/v1/interview-tags/{tag_id}

Turn texts are redacted of e-mail addresses, phone and card numbers and street addresses
(:func:`cxlens.schema.redact.redact`) whatever the role; the library keeps the originals.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from cxlens.errors import NotFoundError
from cxlens.schema.redact import redact
from cxlens.web.api.metrics import jsonable
from cxlens.web.api.surveys import JsonOnly  # the same JSON-only rule as the other write APIs
from cxlens.web.deps import current_workspace_name, require_role, run_on_workspace

__all__ = ["router"]

router = APIRouter()
Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))


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
    persona: Annotated[list[str] | None, Query(description="Persona (RFM segment).")] = None,
    frustrated: Annotated[int | None, Query(ge=1, description="At least this many frustrated sessions.")] = None,
    frustrated_days: Annotated[int, Query(ge=1, le=3650)] = 90,
) -> list[dict[str, Any]]:
    df = await run_on_workspace(
        request,
        lambda ws: ws.interviews.candidates(
            segment=segment,
            theme=theme,
            min_churn_risk=min_churn_risk,
            per_segment=per_segment,
            persona=persona,
            frustrated=frustrated,
            frustrated_days=frustrated_days,
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


class TagBody(BaseModel):
    turn: int = Field(ge=0)
    tag: str
    start: int | None = Field(default=None, ge=0)
    end: int | None = Field(default=None, ge=1)
    note: str | None = None
    highlight: bool = False


def _redacted(df: Any) -> Any:
    df["passage"] = df["passage"].map(redact)
    return df


@router.post("/api/v1/interviews/{interview_id}/tags", tags=["interviews"], summary="Tag or highlight a passage",
             status_code=201, dependencies=[Reader, JsonOnly])  # fmt: skip
async def api_tag(request: Request, interview_id: str, body: TagBody) -> dict[str, Any]:
    t = await run_on_workspace(
        request,
        lambda ws: ws.interviews.tag(
            interview_id, body.turn, body.tag, start=body.start, end=body.end, note=body.note, highlight=body.highlight
        ),  # fmt: skip
    )
    t["passage"] = redact(t["passage"])
    return jsonable(t)


@router.get("/api/v1/interview-tags", tags=["interviews"], summary="Tagged passages", dependencies=[Reader])
async def api_tags(
    request: Request, interview: str | None = None, tag: str | None = None, highlights: bool = False
) -> list[dict[str, Any]]:
    df = await run_on_workspace(request, lambda ws: ws.interviews.tags(interview_id=interview, name=tag,
                                                                        highlights=highlights))  # fmt: skip
    return jsonable(_redacted(df))


@router.get("/api/v1/interview-tags/summary", tags=["interviews"], summary="Tags across interviews",
            dependencies=[Reader])  # fmt: skip
async def api_tag_summary(request: Request, quotes: Annotated[int, Query(ge=1, le=20)] = 3) -> list[dict[str, Any]]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.interviews.tag_summary(quotes)))


@router.delete("/api/v1/interview-tags/{tag_id}", tags=["interviews"], summary="Delete a tag", status_code=204,
               dependencies=[Reader])  # fmt: skip
async def api_untag(request: Request, tag_id: str) -> None:
    await run_on_workspace(request, lambda ws: ws.interviews.untag(tag_id))


class InviteBody(BaseModel):
    study: str = Field(description="The interview study; each customer is invited once per study.")
    scheduling_url: str = Field(description="The researcher's scheduling page (Calendly, Cal.com…).")
    base_url: str = Field(description="The dashboard's public address (for the opt-out link).")
    smtp_host: str
    smtp_port: int = Field(25, ge=1, le=65535)
    sender: str | None = Field(None, alias="from")
    starttls: bool = False
    username: str | None = None
    password_env: str | None = None
    segment: list[str] | None = None
    persona: list[str] | None = None
    theme: str | None = None
    min_churn_risk: float | None = Field(None, ge=0, le=1)
    per_segment: int | None = Field(None, ge=1)
    limit: int = Field(20, ge=1, le=1000)
    minutes: int = Field(20, ge=5, le=240)


@router.post("/api/v1/interviews/invite", tags=["interviews"], dependencies=[Admin, JsonOnly],
             summary="E-mail recruit candidates the scheduling link (once per study; opt-outs respected)")  # fmt: skip
async def api_invite(request: Request, body: InviteBody) -> dict[str, Any]:
    smtp = {"host": body.smtp_host, "port": body.smtp_port, "from": body.sender, "starttls": body.starttls,
            "username": body.username, "password_env": body.password_env}  # fmt: skip
    name = current_workspace_name(request)
    return await run_on_workspace(
        request,
        lambda ws: ws.interviews.invite(
            body.study,
            scheduling_url=body.scheduling_url,
            base_url=body.base_url,
            workspace=name,
            smtp=smtp,
            segment=body.segment,
            persona=body.persona,
            theme=body.theme,
            min_churn_risk=body.min_churn_risk,
            per_segment=body.per_segment,
            limit=body.limit,
            minutes=body.minutes,
        ),  # fmt: skip
    )
