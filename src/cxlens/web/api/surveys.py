"""Survey endpoints: the public ones the widget calls, and the admin API.

Public (write key; browsers call them cross-origin)::

    GET  /v1/surveys/eligible?writeKey=&anonymousId=&userId=&url=&event=&lang=
    POST /v1/surveys/{id}/responses      {writeKey, responseId, anonymousId|userId, score?, comment?, answers?}
    POST /v1/surveys/{id}/impression     {writeKey, anonymousId|userId}
    POST /v1/surveys/{id}/dismiss        {writeKey, anonymousId|userId}
    GET  /sdk/cxlens-survey.js           the widget

POST bodies are JSON whatever the ``Content-Type`` says, so the widget can send ``text/plain``
(a CORS "simple request": no preflight round trip). A ``userId`` counts only when it is verified —
``userHash`` (the HMAC the site's server made with the workspace's identity secret,
:mod:`cxlens.collect.identity`) or a secret key; otherwise the call counts for the ``anonymousId``
alone. Writes are limited per client address and workspace (settings ``surveys.rate_limit``
requests a second, ``surveys.rate_burst``; 429 with ``Retry-After`` over it). A request whose ``Origin`` is neither the
server's own nor listed in the workspace setting ``collect.allowed_origins`` is refused (403);
an allowed origin is echoed in ``Access-Control-Allow-Origin``.

Admin (dashboard users; in open mode everyone): ``/api/v1/surveys`` list/create, ``/{id}``
show/update, ``/{id}/pause``, ``/{id}/resume``, ``/{id}/results``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from cxlens import surveys
from cxlens.collect.identity import verified_user
from cxlens.collect.origins import SETTING as ORIGINS
from cxlens.collect.origins import origin_allowed
from cxlens.collect.ratelimit import TokenBuckets
from cxlens.errors import ForbiddenError, RateLimitError
from cxlens.web.deps import authenticate_key, hub, json_body, json_only, require_role, run_on_workspace

__all__ = ["MAX_BODY", "check_survey_rate", "router"]

router = APIRouter()
MAX_BODY = 64 * 1024
SDK_FILE = Path(__file__).resolve().parents[1] / "static" / "sdk" / "cxlens-survey.js"
ORIGINS_SETTING = ORIGINS  # the one setting both endpoints read (cxlens.collect.origins)


Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))
JsonOnly = Depends(json_only)


# -- CORS -------------------------------------------------------------------------------------
def _same_origin(request: Request, origin: str) -> bool:
    return origin.rstrip("/") == f"{request.url.scheme}://{request.headers.get('host', '')}"


def _allowed(ws: Any, origin: str) -> bool:
    return origin_allowed(ws.setting(ORIGINS_SETTING, []), origin)


def _cors(request: Request, ws: Any) -> dict[str, str]:
    """CORS headers for this request, or a 403 when its origin is not allowed for the workspace."""
    origin = request.headers.get("origin")
    if not origin or _same_origin(request, origin):
        return {}
    if not _allowed(ws, origin):
        raise ForbiddenError(
            f"origin {origin!r} may not send to this workspace; add it to the setting {ORIGINS_SETTING!r}"
        )
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


@router.options("/v1/surveys/{rest:path}", include_in_schema=False)
def preflight(request: Request, rest: str) -> Response:
    """Answer CORS preflights for origins allowed by any workspace of this server (the key is not sent yet)."""
    origin = request.headers.get("origin", "")
    headers = {"Vary": "Origin"}
    if origin and any(_allowed(ws, origin) for _, ws in hub(request).items()):
        headers |= {
            "Access-Control-Allow-Origin": origin,
            "Access-Control-Allow-Methods": "GET, POST, OPTIONS",
            "Access-Control-Allow-Headers": "Content-Type, Authorization",
            "Access-Control-Max-Age": "600",
        }
    return Response(status_code=204, headers=headers)


# -- public endpoints ---------------------------------------------------------------------------
async def _body(request: Request) -> dict[str, Any]:
    return await json_body(request, MAX_BODY)


def _body_doc(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    """OpenAPI for a body read by :func:`_body` (JSON, sent as application/json or text/plain)."""
    schema = {"type": "object", "properties": properties, "required": required}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema},
                                                          "text/plain": {"schema": schema}}}}  # fmt: skip


_WHO = {
    "writeKey": {"type": "string", "description": "write key (or send it as HTTP Basic user name)"},
    "anonymousId": {"type": "string", "maxLength": 200},
    "userId": {"type": "string", "maxLength": 200, "description": "customer id, when known (counts only if verified)"},
    "userHash": {"type": "string", "description": "HMAC-SHA256 hex of userId with the identity secret"},
}
RESPONSE_DOC = _body_doc(
    {
        **_WHO,
        "responseId": {"type": "string", "maxLength": 200, "description": "client id; partials share it"},
        "score": {"type": "number"},
        "comment": {"type": "string", "maxLength": 5000},
        "answers": {"type": "object", "description": "extra question id → answer"},
        "language": {"type": "string"},
        "url": {"type": "string"},
    },
    ["responseId"],
)
EXPOSURE_DOC = _body_doc(_WHO, [])


def _json(data: Any, headers: dict[str, str], status: int = 200) -> JSONResponse:
    return JSONResponse(data, status_code=status, headers=headers)


#: survey writes a client address may make per second, and in a burst, per workspace (settings override)
SURVEY_RATE, SURVEY_BURST = 1.0, 60.0


def check_survey_rate(request: Request, ws: Any, what: str) -> None:
    """429 with ``Retry-After`` when this client address is over the survey write rate of ``ws``."""
    buckets = getattr(request.app.state, "survey_buckets", None)
    if buckets is None:
        buckets = request.app.state.survey_buckets = TokenBuckets()
    rate = float(ws.setting("surveys.rate_limit", SURVEY_RATE))
    burst = float(ws.setting("surveys.rate_burst", SURVEY_BURST))
    client = request.client.host if request.client else "-"
    wait = buckets.take(f"{id(ws)}/{client}", rate=rate, burst=burst)
    if wait:
        raise RateLimitError(f"too many survey {what} requests from this address; retry in {wait:.0f} s", wait)


def _who(ws: Any, ctx: Any, user_id: Any, signed: Any, anonymous_id: Any) -> dict[str, Any]:
    """The ids a widget call counts for: the user id only when verified, else the anonymous id alone."""
    cid = verified_user(ws, user_id, signed, trusted=ctx.key.kind == "secret")
    if user_id and cid is None and not anonymous_id:
        raise ForbiddenError(
            "field 'userHash' is missing or wrong for 'userId', and no 'anonymousId' was sent; send the visitor's "
            "anonymous id, or the HMAC-SHA256 of the user id made by your server with the identity secret"
        )
    return {"customer_id": cid, "anonymous_id": anonymous_id}


@router.get("/v1/surveys/eligible", tags=["collect"], summary="Surveys to show this visitor now")
async def eligible(
    request: Request,
    writeKey: str | None = None,  # noqa: N803  (the Segment-style name the widget sends)
    anonymousId: str | None = None,  # noqa: N803
    userId: str | None = None,  # noqa: N803
    userHash: str | None = None,  # noqa: N803
    url: str | None = None,
    event: str | None = None,
    lang: str | None = None,
) -> JSONResponse:
    ctx = authenticate_key(request, body_key=writeKey)
    headers = _cors(request, ctx.ws)
    language = lang or request.headers.get("accept-language")
    out = await run_on_workspace(
        request,
        lambda ws: surveys.eligible_surveys(
            ws, **_who(ws, ctx, userId, userHash, anonymousId), url=url, event=event, language=language
        ),
    )
    return _json(out, headers | {"Cache-Control": "no-store"})


@router.post(
    "/v1/surveys/{survey_id}/responses",
    tags=["collect"],
    summary="Add or complete a survey response",
    openapi_extra=RESPONSE_DOC,
)
async def respond(request: Request, survey_id: str) -> JSONResponse:
    body = await _body(request)
    ctx = authenticate_key(request, body_key=body.get("writeKey"))
    headers = _cors(request, ctx.ws)
    check_survey_rate(request, ctx.ws, "answer")
    out = await run_on_workspace(
        request,
        lambda ws: surveys.submit_response(
            ws,
            survey_id,
            response_id=body.get("responseId"),
            **_who(ws, ctx, body.get("userId"), body.get("userHash"), body.get("anonymousId")),
            score=body.get("score"),
            comment=body.get("comment"),
            answers=body.get("answers"),
            language=body.get("language"),
            url=body.get("url"),
        ),
    )
    return _json(out, headers, 201 if out["created"] else 200)


async def _exposure(request: Request, survey_id: str, kind: str) -> JSONResponse:
    body = await _body(request)
    ctx = authenticate_key(request, body_key=body.get("writeKey"))
    headers = _cors(request, ctx.ws)
    check_survey_rate(request, ctx.ws, kind)
    await run_on_workspace(
        request,
        lambda ws: surveys.record_exposure(
            ws, survey_id, kind, **_who(ws, ctx, body.get("userId"), body.get("userHash"), body.get("anonymousId"))
        ),
    )
    return _json({"ok": True}, headers)


@router.post(
    "/v1/surveys/{survey_id}/impression", tags=["collect"], summary="The survey was shown", openapi_extra=EXPOSURE_DOC
)
async def impression(request: Request, survey_id: str) -> JSONResponse:
    return await _exposure(request, survey_id, "impression")


@router.post(
    "/v1/surveys/{survey_id}/dismiss",
    tags=["collect"],
    summary="The survey was closed unanswered",
    openapi_extra=EXPOSURE_DOC,
)
async def dismiss(request: Request, survey_id: str) -> JSONResponse:
    return await _exposure(request, survey_id, "dismiss")


@router.get("/sdk/cxlens-survey.js", include_in_schema=False)
def widget_script() -> FileResponse:
    return FileResponse(
        SDK_FILE,
        media_type="application/javascript",
        headers={"Cache-Control": "public, max-age=300", "Access-Control-Allow-Origin": "*"},
    )


# -- admin API -----------------------------------------------------------------------------------
def _clean(v: Any) -> Any:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if hasattr(v, "isoformat"):
        return v.isoformat()
    if hasattr(v, "item"):
        return _clean(v.item())
    return v


def _records(df: Any) -> list[dict[str, Any]] | None:
    if df is None:
        return None
    return [{str(k): _clean(v) for k, v in r.items()} for r in df.to_dict("records")]


def results_json(res: dict[str, Any]) -> dict[str, Any]:
    """:func:`cxlens.surveys.survey_results` as JSON-ready data."""
    return {
        "survey": res["survey"].to_dict(),
        "value_column": res["value_column"],
        "overall": _records(res["overall"]),
        "trend": _records(res["trend"]),
        "breakdown": _records(res["breakdown"]),
        "counts": {k: _clean(v) for k, v in res["counts"].items()},
        "comments": _records(res["comments"]),
    }


@router.get("/api/v1/surveys", tags=["surveys"], summary="List surveys with response counts", dependencies=[Reader])
async def api_list(request: Request) -> list[dict[str, Any]]:
    return _records(await run_on_workspace(request, surveys.list_surveys)) or []


@router.post(
    "/api/v1/surveys", tags=["surveys"], summary="Create a survey", status_code=201, dependencies=[Admin, JsonOnly]
)
async def api_create(request: Request) -> dict[str, Any]:
    body = await _body(request)
    return (await run_on_workspace(request, lambda ws: surveys.create_survey(ws, body))).to_dict()


@router.get("/api/v1/surveys/{survey_id}", tags=["surveys"], summary="A survey's definition", dependencies=[Reader])
async def api_show(request: Request, survey_id: str) -> dict[str, Any]:
    return (await run_on_workspace(request, lambda ws: surveys.get_survey(ws, survey_id))).to_dict()


@router.put(
    "/api/v1/surveys/{survey_id}", tags=["surveys"], summary="Replace a definition", dependencies=[Admin, JsonOnly]
)
async def api_update(request: Request, survey_id: str) -> dict[str, Any]:
    body = await _body(request)
    return (await run_on_workspace(request, lambda ws: surveys.update_survey(ws, survey_id, body))).to_dict()


@router.post("/api/v1/surveys/{survey_id}/pause", tags=["surveys"], summary="Pause", dependencies=[Admin, JsonOnly])
async def api_pause(request: Request, survey_id: str) -> dict[str, Any]:
    return (await run_on_workspace(request, lambda ws: surveys.set_status(ws, survey_id, "paused"))).to_dict()


@router.post(
    "/api/v1/surveys/{survey_id}/resume", tags=["surveys"], summary="Resume (activate)", dependencies=[Admin, JsonOnly]
)
async def api_resume(request: Request, survey_id: str) -> dict[str, Any]:
    return (await run_on_workspace(request, lambda ws: surveys.set_status(ws, survey_id, "active"))).to_dict()


@router.get("/api/v1/surveys/{survey_id}/results", tags=["surveys"], summary="Results", dependencies=[Reader])
async def api_results(
    request: Request,
    survey_id: str,
    period: Annotated[str, Query(description="day, week, month, quarter or year")] = "month",
) -> dict[str, Any]:
    return results_json(
        await run_on_workspace(request, lambda ws: surveys.survey_results(ws, survey_id, period=period))
    )
