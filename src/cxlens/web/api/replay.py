"""Session replay endpoints: collection of rrweb chunks, the replay script, and replays for the dashboard.

Public (write key; browsers call them cross-origin)::

    POST /v1/replay                 one chunk (gzip or plain JSON, ≤ 1 MB; cxlens.behaviour.replay)
    GET  /sdk/cxlens-replay.js      @rrweb/record (vendored) + the cxlens glue, loaded only when replay is on

The write key comes as HTTP Basic user name or Bearer (fetch), or as ``?writeKey=`` (sendBeacon
cannot set headers). The same origin check as ``/v1/batch`` applies (``collect.allowed_origins``);
the answer ``{"success": true, "stored": …}`` comes only after the commit; a chunk sent again is
acknowledged and not stored twice.

Dashboard (analyst or admin)::

    GET /api/v1/replays?frustrated=&nps_max=&url=&customer_id=&segment=&theme=&funnel=&dropped_at=&limit=
    GET /api/v1/replays/near?customer_id=&at=&max_hours=24   the person's session nearest to a moment
    GET /api/v1/replays/{session_id}          metadata
    GET /api/v1/replays/{session_id}/events   the rrweb events (inputs were masked at capture)
    DELETE /api/v1/replays/{session_id}       admin
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from cxlens.behaviour.replay import MAX_BODY, parse_chunk, store_chunk
from cxlens.collect.identity import REQUIRED_SETTING, SECRET_SETTING, verify
from cxlens.collect.origins import SETTING as ORIGINS
from cxlens.collect.origins import origin_allowed
from cxlens.errors import CxlensError, ForbiddenError, NotFoundError, PayloadTooLargeError
from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import authenticate_key, require_role, run_on_workspace

__all__ = ["SDK_FILES", "public_router", "replay_script", "router"]

_STATIC = Path(__file__).resolve().parents[1] / "static"
#: the replay script is these files, concatenated: the vendored recorder, then the cxlens glue
SDK_FILES = (_STATIC / "vendor" / "rrweb-record-2.1.6.min.js", _STATIC / "sdk" / "cxlens-replay.js")
public_router = APIRouter(tags=["collect"])
router = APIRouter(prefix="/api/v1/replays", tags=["behaviour"])
Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))


@functools.cache
def replay_script() -> bytes:
    """What ``/sdk/cxlens-replay.js`` serves (read once)."""
    return b"\n;\n".join(p.read_bytes() for p in SDK_FILES)


def _error(exc: CxlensError, headers: dict[str, str]) -> JSONResponse:
    body: dict[str, Any] = {"status": exc.http_status, "type": type(exc).__name__, "message": str(exc)}
    if getattr(exc, "param", None):
        body["param"] = exc.param
    return JSONResponse({"error": body}, status_code=exc.http_status, headers=headers)


async def _body(request: Request) -> bytes:
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > MAX_BODY:
        raise PayloadTooLargeError(
            f"replay chunk is {int(length):,} bytes, over the limit of {MAX_BODY:,}; send smaller chunks"
        )
    chunks, size = [], 0
    async for part in request.stream():
        size += len(part)
        if size > MAX_BODY:
            raise PayloadTooLargeError(f"replay chunk is over the limit of {MAX_BODY:,} bytes; send smaller chunks")
        chunks.append(part)
    return b"".join(chunks)


@public_router.post("/v1/replay", summary="Record one chunk of a session replay (rrweb events)")
async def collect_replay(request: Request, writeKey: str | None = None) -> Response:  # noqa: N803
    headers: dict[str, str] = {"Vary": "Origin"}
    try:
        ctx = authenticate_key(request, body_key=writeKey, kinds=("write", "secret"))
        ws = ctx.ws
        origin = request.headers.get("origin")
        if origin is not None:
            if not origin_allowed(ws.setting(ORIGINS, []), origin):
                raise ForbiddenError(
                    f"origin {origin!r} may not send to this workspace; add it to the workspace setting {ORIGINS!r}"
                )
            headers["Access-Control-Allow-Origin"] = origin
        body = await _body(request)
        chunk, _ = await run_in_threadpool(parse_chunk, body)
        customer_id = chunk.user_id
        if customer_id is not None and ctx.key.kind != "secret":
            ok = verify(ws.setting(SECRET_SETTING), customer_id, chunk.user_hash) if chunk.user_hash else False
            if not ok and ws.setting(REQUIRED_SETTING, False):
                raise ForbiddenError(
                    f"field 'userHash' is missing or wrong for userId {customer_id!r}; this workspace requires "
                    "identity verification (HMAC-SHA256 of the user id with the workspace's identity secret)"
                )
        out = await run_in_threadpool(store_chunk, ws, chunk, customer_id=customer_id)
    except CxlensError as e:
        return _error(e, headers)
    return Response(
        orjson.dumps({"success": True, "stored": out["stored"]}), media_type="application/json", headers=headers
    )


@public_router.get("/sdk/cxlens-replay.js", include_in_schema=False)
async def sdk() -> Response:
    """The replay script: @rrweb/record 2.1.6 (MIT, static/vendor/licenses) and its cxlens glue."""
    return Response(
        replay_script(), media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "public, max-age=300"}
    )


@router.get("", summary="Recorded sessions with their frustration signals and feedback score", dependencies=[Reader])
async def replays(
    request: Request,
    frustrated: bool = False,
    nps_max: Annotated[float | None, Query(ge=0, le=10)] = None,
    url: str | None = None,
    customer_id: str | None = None,
    segment: str | None = None,
    theme: str | None = None,
    funnel: Annotated[str | None, Query(description="Funnel steps, e.g. visit>add_to_cart>purchase")] = None,
    dropped_at: Annotated[int | None, Query(ge=1, description="Reached this funnel step but not the next")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    frame = await run_on_workspace(
        request,
        lambda ws: ws.behaviour.replays(
            frustrated=frustrated,
            nps_max=nps_max,
            url=url,
            customer_id=customer_id,
            segment=segment,
            theme=theme,
            funnel=funnel,
            dropped_at=dropped_at,
            limit=limit,
        ),
    )
    return jsonable(frame)


@router.get("/near", summary="A person's recorded session nearest to a moment", dependencies=[Reader])
async def near(
    request: Request,
    customer_id: str,
    at: str,
    max_hours: Annotated[float, Query(ge=0, le=8760)] = 24.0,
) -> dict[str, Any]:
    meta = await run_on_workspace(request, lambda ws: ws.behaviour.replay_near(customer_id, at, max_hours))
    if meta is None:
        raise NotFoundError(f"no replay of customer {customer_id!r} within {max_hours:g} h of {at}")
    return jsonable(meta)


@router.get("/{session_id}", summary="One recorded session's metadata", dependencies=[Reader])
async def replay(request: Request, session_id: str) -> dict[str, Any]:
    meta = await run_on_workspace(request, lambda ws: ws.behaviour.replay(session_id))
    return jsonable(meta)


@router.get("/{session_id}/events", summary="One recorded session's rrweb events", dependencies=[Reader])
async def replay_events(request: Request, session_id: str) -> Response:
    events = await run_on_workspace(request, lambda ws: ws.behaviour.replay_events(session_id))
    return Response(orjson.dumps(events), media_type="application/json", headers={"Cache-Control": "no-store"})


@router.delete("/{session_id}", summary="Delete one session's replay", dependencies=[Admin])
async def delete(request: Request, session_id: str) -> dict[str, Any]:
    from cxlens.behaviour.replay import delete_replay

    n = await run_on_workspace(request, lambda ws: delete_replay(ws, session_id))
    return {"deleted_blocks": n}
