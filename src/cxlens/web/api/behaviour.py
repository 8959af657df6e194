"""Behaviour endpoints: the SDK's remote config, the behaviour script, and the analyses as JSON.

Public (write key; browsers call them cross-origin)::

    GET /v1/behaviour/config?writeKey=&page=   which parts to capture, the zones, the page's baselines
    GET /sdk/cxlens-behaviour.js           clicks, scroll depth, errors, frustration signals

Dashboard (analyst or admin)::

    GET /api/v1/behaviour/frustration?by=url|selector|touchpoint&url=
    GET /api/v1/behaviour/heatmap?url=&kind=click|rageclick|deadclick|scroll&width=desktop|tablet|mobile
    GET /api/v1/behaviour/clickmap?url=&kind=&width=
    GET /api/v1/behaviour/click-points?url=&kind=&width=&limit=   clicks as element + position inside it
    GET /api/v1/behaviour/snapshot?url=&width=   the page as last recorded (rrweb meta + full snapshot)
    GET /api/v1/behaviour/zones?url=
    GET /api/v1/behaviour/sessions?min_score=&signal=&url=&limit=
    GET /api/v1/behaviour/exit-pages?min_pageviews=&limit=&start=&end=
    GET /api/v1/behaviour/baselines            each page's quick-back threshold and scroll fence
    GET/PUT /api/v1/behaviour/zone-definitions   the workspace's zones (PUT: admin)

Events themselves arrive through the ordinary collection API (``POST /v1/batch``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import FileResponse, JSONResponse, Response

from cxlens.behaviour import remote_config, set_zones, zones
from cxlens.collect.origins import SETTING as ORIGINS
from cxlens.collect.origins import origin_allowed
from cxlens.errors import ForbiddenError, SchemaError
from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import authenticate_key, cached_view, require_role, run_on_workspace

__all__ = ["public_router", "router"]

SDK_FILE = Path(__file__).resolve().parents[1] / "static" / "sdk" / "cxlens-behaviour.js"
public_router = APIRouter(tags=["collect"])
router = APIRouter(prefix="/api/v1/behaviour", tags=["behaviour"])
Reader = Depends(require_role("admin", "analyst"))
Admin = Depends(require_role("admin"))
TABLES = ("events",)


@public_router.get("/v1/behaviour/config", summary="What the browser SDK should capture (remote config)")
async def config(request: Request, writeKey: str | None = None, page: str | None = None) -> JSONResponse:  # noqa: N803
    """Which parts to capture and the zones; with ``page`` also that page's quick-back threshold and
    excessive-scrolling fence (cxlens.behaviour.baselines)."""
    ctx = authenticate_key(request, body_key=writeKey)
    headers = {"Cache-Control": "public, max-age=60", "Vary": "Origin"}
    origin = request.headers.get("origin")
    if origin:
        if not origin_allowed(ctx.ws.setting(ORIGINS, []), origin):
            raise ForbiddenError(f"origin {origin!r} may not read this workspace's config; add it to {ORIGINS!r}")
        headers["Access-Control-Allow-Origin"] = origin
    out = await run_on_workspace(request, lambda ws: remote_config(ws, page))
    return JSONResponse(out, headers=headers)


@public_router.get("/sdk/cxlens-behaviour.js", include_in_schema=False)
async def sdk() -> Response:
    """The behaviour capture script (loaded by cxlens.js when a part is on)."""
    return FileResponse(
        SDK_FILE, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "public, max-age=300"}
    )


def _rows(frame: Any) -> list[dict[str, Any]]:
    return jsonable(frame)


@router.get("/frustration", summary="Frustration signals per page, element or touchpoint", dependencies=[Reader])
async def frustration(
    request: Request,
    by: Annotated[str, Query(description="url, selector or touchpoint")] = "url",
    url: Annotated[str | None, Query(description="Only this page (query string ignored).")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    min_pageviews: Annotated[
        int, Query(ge=0, description="Drop groups seen fewer times (a score on 2 page views is noise).")
    ] = 0,
) -> list[dict[str, Any]]:
    frame = await cached_view(
        request, "behaviour.frustration", (by, url, limit, min_pageviews), TABLES,
        lambda ws: ws.behaviour.frustration(by=by, url=url, min_pageviews=min_pageviews).head(limit),
    )  # fmt: skip
    return _rows(frame)


@router.get("/heatmap", summary="Click or scroll heatmap of a page, per width bucket", dependencies=[Reader])
async def heatmap(
    request: Request,
    url: str,
    kind: str = "click",
    width: str = "desktop",
) -> list[dict[str, Any]]:
    frame = await cached_view(
        request, "behaviour.heatmap", (url, kind, width), TABLES,
        lambda ws: ws.behaviour.heatmap(url, kind=kind, width=width),
    )  # fmt: skip
    return _rows(frame)


@router.get("/clickmap", summary="Clicks per element (CSS selector) of a page", dependencies=[Reader])
async def clickmap(request: Request, url: str, kind: str = "click", width: str | None = None) -> list[dict[str, Any]]:
    frame = await cached_view(
        request, "behaviour.clickmap", (url, kind, width), TABLES,
        lambda ws: ws.behaviour.clickmap(url, kind=kind, width=width),
    )  # fmt: skip
    return _rows(frame)


@router.get("/click-points", summary="A page's clicks placed on their elements (selector, rel_x, rel_y)",
            dependencies=[Reader])  # fmt: skip
async def click_points(
    request: Request,
    url: str,
    kind: str = "click",
    width: str | None = None,
    limit: Annotated[int, Query(ge=1, le=100_000)] = 5000,
) -> list[dict[str, Any]]:
    frame = await cached_view(
        request, "behaviour.click_points", (url, kind, width, limit), TABLES,
        lambda ws: ws.behaviour.click_points(url, kind=kind, width=width, limit=limit),
    )  # fmt: skip
    return _rows(frame)


@router.get("/snapshot", summary="The page as last recorded (rrweb meta + full snapshot), for heatmaps",
            dependencies=[Reader])  # fmt: skip
async def snapshot(request: Request, url: str, width: str | None = None) -> Response:
    out = await run_on_workspace(request, lambda ws: ws.behaviour.page_snapshot(url, width))
    return Response(orjson.dumps(out), media_type="application/json", headers={"Cache-Control": "no-store"})


@router.get("/zones", summary="Zoning metrics of a page (Contentsquare's definitions)", dependencies=[Reader])
async def zone_metrics(request: Request, url: str) -> list[dict[str, Any]]:
    frame = await cached_view(request, "behaviour.zones", url, TABLES, lambda ws: ws.behaviour.zones(url))
    return _rows(frame)


@router.get("/sessions", summary="Sessions with their signals and frustration score", dependencies=[Reader])
async def sessions(
    request: Request,
    min_score: float | None = None,
    signal: str | None = None,
    url: str | None = None,
    customer_id: str | None = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[dict[str, Any]]:
    frame = await run_on_workspace(
        request,
        lambda ws: ws.behaviour.sessions(
            min_score=min_score, signal=signal, url=url, customer_id=customer_id, limit=limit
        ),
    )
    return _rows(frame)


@router.get(
    "/exit-pages", summary="Pages where sessions end, with exit rate (Wilson CI) and frustration", dependencies=[Reader]
)
async def exit_pages(
    request: Request,
    min_pageviews: Annotated[int, Query(ge=0)] = 0,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    start: str | None = None,
    end: str | None = None,
) -> list[dict[str, Any]]:
    frame = await run_on_workspace(
        request, lambda ws: ws.behaviour.exit_pages(min_pageviews=min_pageviews, limit=limit, start=start, end=end)
    )
    return _rows(frame)


@router.get("/baselines", summary="Each page's quick-back threshold and scroll fence", dependencies=[Reader])
async def page_baselines(request: Request) -> list[dict[str, Any]]:
    return _rows(await run_on_workspace(request, lambda ws: ws.behaviour.baselines()))


@router.get("/zone-definitions", summary="The workspace's zones", dependencies=[Reader])
async def zone_definitions(request: Request) -> list[dict[str, str]]:
    return await run_on_workspace(request, zones)


@router.put("/zone-definitions", summary="Replace the workspace's zones", dependencies=[Admin])
async def put_zone_definitions(request: Request) -> list[dict[str, str]]:
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise ForbiddenError("PUT /api/v1/behaviour/zone-definitions needs 'Content-Type: application/json'")
    try:
        body = orjson.loads(await request.body())
    except orjson.JSONDecodeError as e:
        raise SchemaError(f"request body is not valid JSON ({e}); send a list of {{name, selector}}") from None
    return await run_on_workspace(request, lambda ws: set_zones(ws, body))
