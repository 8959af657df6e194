"""Employee engagement endpoints (admins and analysts)::

    GET /api/v1/engagement/summary?by=team&team=…&role=…&location=…&manager_id=…
    GET /api/v1/engagement/cx?days=7
    GET /api/v1/engagement/trend?period=month&by=team&team=…
    GET /api/v1/engagement/comments?by=team&team=…
    GET /api/v1/engagement/scorecard?by=agent|team&period=month&days=7  (days: 7, 14, 30 or 90)
    GET /api/v1/employees/{employee_id}/export  (admin: GDPR access, the employee's own rows)
    POST /api/v1/employees/{employee_id}/erase  (admin: GDPR erasure)
    POST /api/v1/engagement/pulse/{pulse}/send  {"base_url", "smtp_host", "smtp_port", "from", "team"…}  (admin)

Both go through :func:`cxlens.engagement.summary`: groups under the workspace's minimum size
(setting ``engagement.min_group``, default 5, never below 3) come back with ``suppressed: true`` and
no figures, filters that would single people out are refused the same way, and no endpoint returns
an individual answer or an employee.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import current_workspace_name, require_role, run_on_workspace

__all__ = ["router"]

router = APIRouter()
Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))


@router.get("/api/v1/engagement/summary", tags=["engagement"], summary="eNPS and engagement by group",
            dependencies=[Reader])  # fmt: skip
async def api_summary(
    request: Request,
    by: str | None = None,
    team: Annotated[list[str] | None, Query()] = None,
    role: Annotated[list[str] | None, Query()] = None,
    location: Annotated[list[str] | None, Query()] = None,
    manager_id: Annotated[list[str] | None, Query()] = None,
    min_group: Annotated[int | None, Query(ge=3)] = None,
) -> list[dict[str, Any]]:
    f = {"team": team, "role": role, "location": location, "manager_id": manager_id}
    df = await run_on_workspace(request, lambda ws: ws.engagement.summary(by, f, min_group=min_group))
    return jsonable(df)


@router.get("/api/v1/engagement/cx", tags=["engagement"], summary="Per-team eNPS beside customer CSAT/NPS",
            dependencies=[Reader])  # fmt: skip
async def api_cx(request: Request, days: Annotated[int, Query(ge=1, le=90)] = 7) -> dict[str, Any]:
    res = await run_on_workspace(request, lambda ws: ws.engagement.beside_cx(days=days))
    corr = {k: (None if isinstance(v, float) and not math.isfinite(v) else v) for k, v in res["correlation"].items()}
    return {"teams": jsonable(res["teams"]), "correlation": corr, "days": res["days"], "note": res["note"]}


@router.get("/api/v1/engagement/trend", tags=["engagement"], summary="eNPS and engagement per period",
            dependencies=[Reader])  # fmt: skip
async def api_trend(
    request: Request,
    period: Annotated[str, Query(pattern="^(week|month|quarter)$")] = "month",
    by: str | None = None,
    team: Annotated[list[str] | None, Query()] = None,
    role: Annotated[list[str] | None, Query()] = None,
    location: Annotated[list[str] | None, Query()] = None,
    manager_id: Annotated[list[str] | None, Query()] = None,
    min_group: Annotated[int | None, Query(ge=3)] = None,
) -> list[dict[str, Any]]:
    f = {"team": team, "role": role, "location": location, "manager_id": manager_id}
    df = await run_on_workspace(request, lambda ws: ws.engagement.trend(period, by, f, min_group=min_group))
    return jsonable(df)


@router.get("/api/v1/engagement/comments", tags=["engagement"], summary="Redacted pulse comments of shown groups",
            dependencies=[Reader])  # fmt: skip
async def api_comments(
    request: Request,
    by: str | None = None,
    team: Annotated[list[str] | None, Query()] = None,
    role: Annotated[list[str] | None, Query()] = None,
    location: Annotated[list[str] | None, Query()] = None,
    manager_id: Annotated[list[str] | None, Query()] = None,
    min_group: Annotated[int | None, Query(ge=3)] = None,
) -> list[dict[str, Any]]:
    f = {"team": team, "role": role, "location": location, "manager_id": manager_id}
    df = await run_on_workspace(request, lambda ws: ws.engagement.comments(by, f, min_group=min_group))
    return jsonable(df)


@router.get("/api/v1/engagement/scorecard", tags=["engagement"], summary="Agent/team CX scorecard",
            dependencies=[Reader])  # fmt: skip
async def api_scorecard(
    request: Request,
    by: Annotated[str, Query(pattern="^(agent|team)$")] = "team",
    period: Annotated[str | None, Query(pattern="^(week|month|quarter)$")] = None,
    days: Annotated[int, Query(ge=1, le=90)] = 7,
    min_group: Annotated[int | None, Query(ge=3)] = None,
) -> list[dict[str, Any]]:
    df = await run_on_workspace(
        request, lambda ws: ws.engagement.scorecard(by, period=period, days=days, min_group=min_group)
    )
    return jsonable(df)


class PulseSendBody(BaseModel):
    base_url: str = Field(description="The dashboard's public address the links point to.")
    smtp_host: str = Field(description="SMTP server (allowed with `cxlens act allow-host`).")
    smtp_port: int = Field(25, ge=1, le=65535)
    sender: str | None = Field(None, alias="from")
    starttls: bool = False
    username: str | None = None
    password_env: str | None = Field(None, description="Environment variable holding the SMTP password.")
    team: str | None = None
    expires_days: float = Field(14, gt=0, le=365)


@router.post("/api/v1/engagement/pulse/{pulse}/send", tags=["engagement"], dependencies=[Admin],
             summary="E-mail each employee their anonymous single-use pulse link (once per pulse)")  # fmt: skip
async def api_pulse_send(request: Request, pulse: str, body: PulseSendBody) -> dict[str, Any]:
    smtp = {"host": body.smtp_host, "port": body.smtp_port, "from": body.sender, "starttls": body.starttls,
            "username": body.username, "password_env": body.password_env}  # fmt: skip
    name = current_workspace_name(request)
    return await run_on_workspace(
        request,
        lambda ws: ws.engagement.send_pulse(
            pulse, base_url=body.base_url, workspace=name, smtp=smtp, team=body.team, expires_days=body.expires_days
        ),  # fmt: skip
    )


@router.get("/api/v1/employees/{employee_id}/export", tags=["engagement"], dependencies=[Admin],
            summary="GDPR export: every row about an employee")  # fmt: skip
async def api_employee_export(request: Request, employee_id: str) -> dict[str, Any]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.engagement.export_employee(employee_id)))


@router.post("/api/v1/employees/{employee_id}/erase", tags=["engagement"], dependencies=[Admin],
             summary="GDPR erasure: delete an employee's rows, pseudonymise references to them")  # fmt: skip
async def api_employee_erase(request: Request, employee_id: str) -> dict[str, Any]:
    return await run_on_workspace(request, lambda ws: ws.engagement.erase_employee(employee_id))
