"""``POST /v1/track|page|identify|screen|batch``: the Segment-compatible collection API.

A thin shell over :mod:`cxlens.collect`: read the body (size-capped before reading), find the
key's workspace (:func:`cxlens.web.deps.authenticate_key`: Basic auth with the write key as user
name, Bearer, or ``writeKey`` in the body for ``navigator.sendBeacon``), check the browser
origin and the key's request rate, validate (:func:`cxlens.collect.parse_messages`), hand the
rows to the workspace's writer and answer ``{"success": true}`` only once they are committed.

Browsers: ``Origin`` must be listed in the workspace setting ``collect.allowed_origins``
(``["https://shop.example"]``, or ``["*"]``); an origin not listed gets no CORS grant and a
403, and nothing is written. Requests without ``Origin`` (servers, mobile apps) are not
affected. ``GET /sdk/cxlens.js`` serves the browser tracker.
"""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import zlib
from collections.abc import AsyncIterator
from concurrent.futures import ProcessPoolExecutor
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

import cxlens
from cxlens.collect import (
    DEFAULT_LIMITS,
    Limits,
    TokenBuckets,
    collector_for,
    parse_body,
)
from cxlens.collect.columns import parse_data, parse_request
from cxlens.collect.identity import REQUIRED_SETTING, SECRET_SETTING
from cxlens.collect.origins import SETTING as ORIGINS
from cxlens.collect.origins import origin_allowed
from cxlens.collect.writer import Collector, close_collectors
from cxlens.errors import ConfigError, CxlensError, ForbiddenError, PayloadTooLargeError, RateLimitError
from cxlens.web.api.behaviour import public_router as behaviour_public_router
from cxlens.web.api.replay import public_router as replay_public_router
from cxlens.web.deps import authenticate_key, hub
from cxlens.web.errors import handle_error
from cxlens.web.hub import WorkspaceHub

__all__ = ["FastPath", "create_collect_app", "router"]

log = logging.getLogger("cxlens.collect")

SDK_FILE = Path(__file__).resolve().parents[1] / "static" / "sdk" / "cxlens.js"
ACK = b'{"success":true}'
#: bodies at least this big are parsed in a worker process when the app has a ``parse_pool``
PARSE_IN_WORKER_BYTES = 16 * 1024
#: requests of at least this many messages get their Arrow table in the request (:meth:`Messages.seal`);
#: smaller ones leave their rows to the writer, which makes one table of a whole group (a table has a
#: fixed cost of ≈ 40-80 µs: 80 µs an event for a single message, 1 µs at 256 messages, measured)
SEAL_MESSAGES = 200
DEFAULT_RATE = 1000.0  # requests a second per key (Segment's HTTP API allows 1,000 a second per source)


# -- OpenAPI documentation of the bodies (the hot path validates by hand, not with these) ----------
_ONE_ID = {"anyOf": [{"required": ["userId"]}, {"required": ["anonymousId"]}]}


class _Message(BaseModel):
    model_config = ConfigDict(json_schema_extra=_ONE_ID)

    userId: str | None = Field(None, min_length=1, max_length=256, description="Your id of the customer (customer_id).")
    anonymousId: str | None = Field(
        None, min_length=1, max_length=256, description="Device/browser id; userId or anonymousId is required."
    )
    messageId: str | None = Field(
        None, min_length=1, max_length=256, description="Unique id: a retry with it is never counted twice."
    )
    timestamp: datetime | None = Field(None, description="ISO-8601 time of the event (device clock).")
    sentAt: datetime | None = Field(None, description="ISO-8601 time of sending (device clock), corrects clock skew.")
    context: dict[str, Any] | None = Field(None, description="Segment context (page, userAgent, channel, library…).")
    integrations: dict[str, Any] | None = None


class TrackMessage(_Message):
    event: str = Field(..., min_length=1, max_length=10_000, description="Event name, e.g. 'Order Completed'.")
    properties: dict[str, Any] | None = Field(
        None, description="Anything; touchpoint, stage, url, revenue and session_id are read into columns."
    )


class PageMessage(_Message):
    name: str | None = Field(None, max_length=10_000, description="Page name.")
    category: str | None = None
    properties: dict[str, Any] | None = None


class ScreenMessage(PageMessage):
    pass


class IdentifyMessage(_Message):
    traits: dict[str, Any] | None = Field(None, description="Traits; email and name go to the customer's PII columns.")
    userHash: str | None = Field(
        None,
        description="HMAC-SHA256 (hex) of userId with the workspace's identity secret, made by your server. "
        "Without it a write key may add traits but not change an existing customer's PII or protected traits.",
    )


class TrackItem(TrackMessage):
    type: Literal["track"]


class PageItem(PageMessage):
    type: Literal["page"]


class ScreenItem(ScreenMessage):
    type: Literal["screen"]


class IdentifyItem(IdentifyMessage):
    type: Literal["identify"]


class BatchBody(BaseModel):
    batch: list[TrackItem | PageItem | ScreenItem | IdentifyItem] = Field(
        ..., min_length=1, max_length=DEFAULT_LIMITS.max_batch
    )
    sentAt: datetime | None = None
    context: dict[str, Any] | None = None
    writeKey: str | None = Field(None, description="The write key, for clients that cannot set headers (sendBeacon).")


class Ack(BaseModel):
    success: bool = True


class _ErrorDetail(BaseModel):
    status: int
    type: str
    message: str
    param: str | None = None


class ErrorBody(BaseModel):
    error: _ErrorDetail


def _inline(schema: Any, defs: dict[str, Any]) -> Any:
    if isinstance(schema, dict):
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.rsplit("/", 1)[1]], defs)
        return {k: _inline(v, defs) for k, v in schema.items() if k != "$defs"}
    if isinstance(schema, list):
        return [_inline(v, defs) for v in schema]
    return schema


def _body_doc(model: type[BaseModel]) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema = _inline(schema, schema.get("$defs", {}))
    if model is not BatchBody:  # single messages may carry the key in the body too
        schema["properties"]["writeKey"] = {"type": "string", "description": "The write key (sendBeacon)."}
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


_RESPONSES: dict[int | str, dict[str, Any]] = {
    400: {"model": ErrorBody, "description": "Malformed JSON or a bad field (the message names its path)."},
    401: {"model": ErrorBody, "description": "No key, or an unknown or revoked key."},
    403: {"model": ErrorBody, "description": "A key that may not write, or a browser origin not allowed."},
    413: {"model": ErrorBody, "description": "Body, batch, string or nesting over the limits."},
    429: {"model": ErrorBody, "description": "Over the key's request rate; retry after `Retry-After` seconds."},
}

router = APIRouter(tags=["collect"])
_buckets = TokenBuckets()


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


async def _read_body(request: Request, limits: Limits) -> bytes:
    """The (decompressed) body, refusing anything over the limit before reading it."""
    cap = limits.max_body_bytes
    length = request.headers.get("content-length")
    if length is not None and length.isdigit() and int(length) > cap:
        raise PayloadTooLargeError(
            f"request body is {int(length):,} bytes, over the limit of {cap:,}; send smaller batches"
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > cap:
            raise PayloadTooLargeError(f"request body is over the limit of {cap:,} bytes; send smaller batches")
        chunks.append(chunk)
    body = b"".join(chunks)
    if request.headers.get("content-encoding", "").lower() == "gzip":
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            body = d.decompress(body, cap + 1)
        except zlib.error:
            raise ConfigError(
                "request body is not valid gzip although Content-Encoding says so; send gzip or plain JSON"
            ) from None
        if len(body) > cap or d.unconsumed_tail:
            raise PayloadTooLargeError(f"decompressed body is over the limit of {cap:,} bytes; send smaller batches")
    return body


def _allowed(collector: Collector, origin: str) -> bool:
    return origin_allowed(collector.setting(ORIGINS, []), origin)


def _warm() -> int:
    import cxlens.collect.messages  # noqa: F401  (imports orjson and pyarrow in the worker)

    return 0


def _origin_allowed_in(ws: Any, origin: str) -> bool:
    if not ws.is_duckdb or ws.read_only:
        return False
    try:
        return _allowed(collector_for(ws), origin)
    except CxlensError:  # a read-only workspace collects nothing
        return False


def _cors(origin: str) -> dict[str, str]:
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def _error(exc: CxlensError, headers: dict[str, str] | None = None) -> JSONResponse:
    body: dict[str, Any] = {"status": exc.http_status, "type": type(exc).__name__, "message": str(exc)}
    param = getattr(exc, "param", None)
    if param:
        body["param"] = param
    h = dict(headers or {})
    if isinstance(exc, RateLimitError):
        h["Retry-After"] = str(max(1, int(exc.retry_after + 0.999)))
    return JSONResponse({"error": body}, status_code=exc.http_status, headers=h)


async def collect(request: Request, kind: str) -> Response:
    """Authenticate, limit, validate and commit one request; answer only after the commit."""
    received = _now()
    headers: dict[str, str] | None = None
    try:
        limits = DEFAULT_LIMITS
        ctx = authenticate_key(request, kinds=("write", "secret")) if "authorization" in request.headers else None
        body = await _read_body(request, limits)
        data = None
        if ctx is None:  # the key may be in the body (sendBeacon)
            data = parse_body(body, limits)
            ctx = authenticate_key(request, body_key=data.get("writeKey"), kinds=("write", "secret"))
        collector = collector_for(ctx.ws)
        origin = request.headers.get("origin")
        if origin is not None:
            if not _allowed(collector, origin):
                raise ForbiddenError(
                    f"origin {origin!r} may not send to this workspace; add it to the workspace setting "
                    "'collect.allowed_origins'"
                )
            headers = _cors(origin)
        rate = float(collector.setting("collect.rate_limit", DEFAULT_RATE))
        burst = float(collector.setting("collect.rate_burst", 2 * rate))
        wait = _buckets.take(f"{ctx.workspace_name}/{ctx.key.key_id}", rate=rate, burst=burst)
        if wait:
            raise RateLimitError(
                f"key {ctx.key.prefix!r} is over its {rate:g} requests a second; retry in {wait:.2f} s", wait
            )
        pool = getattr(request.app.state, "parse_pool", None)
        if data is None and pool is not None and len(body) >= PARSE_IN_WORKER_BYTES:
            # big bodies are parsed in a worker process: this process's one core (GIL) stays free
            # for HTTP and the writer, and the writer receives a ready Arrow table
            messages = await asyncio.get_running_loop().run_in_executor(
                pool, parse_request, body, kind, received, limits
            )
        else:
            # a big batch of plain track messages goes column by column (collect/columns.py); by message,
            # a big one's Arrow table is built here, not in the writer (Messages.seal)
            data = parse_body(body, limits) if data is None else data
            messages = parse_data(data, kind, received, limits, seal_from=SEAL_MESSAGES)
        if ctx.key.kind != "secret":  # a public write key: only user ids signed by the site's server count
            required = bool(collector.setting(REQUIRED_SETTING, False))
            if messages.identifies or messages.user_hashes or required:
                messages.verify(collector.setting(SECRET_SETTING), trusted=False, required=required)
            else:
                messages.verified = frozenset()
        await collector.commit(messages)
    except CxlensError as e:
        return _error(e, headers)
    return Response(ACK, media_type="application/json", headers=headers)


def _route(kind: str, model: type[BaseModel], summary: str) -> None:
    async def endpoint(request: Request) -> Response:
        return await collect(request, kind)

    endpoint.__name__ = f"collect_{kind}"
    router.add_api_route(
        f"/v1/{kind}",
        endpoint,
        methods=["POST"],
        summary=summary,
        response_model=Ack,
        responses=_RESPONSES,
        openapi_extra=_body_doc(model),
    )


_route("track", TrackMessage, "Record an event a customer did")
_route("page", PageMessage, "Record a page view")
_route("screen", ScreenMessage, "Record a mobile screen view")
_route("identify", IdentifyMessage, "Tie a customer id to traits (and to the anonymous id)")
_route("batch", BatchBody, "Record many messages at once (up to 2,500, 512 KB)")


@router.options("/v1/{kind}", include_in_schema=False)
async def preflight(request: Request, kind: str) -> Response:
    """CORS preflight: granted to an origin some workspace of this server allows."""
    origin = request.headers.get("origin")
    if origin and any(_origin_allowed_in(ws, origin) for _, ws in hub(request).items()):
        return Response(
            status_code=204,
            headers={
                **_cors(origin),
                "Access-Control-Allow-Methods": "POST, OPTIONS",
                "Access-Control-Allow-Headers": "Authorization, Content-Type, Content-Encoding",
                "Access-Control-Max-Age": "600",
            },
        )
    return Response(status_code=204, headers={"Vary": "Origin"})


@router.get("/sdk/cxlens.js", include_in_schema=False)
async def sdk() -> Response:
    """The browser tracker."""
    return FileResponse(
        SDK_FILE, media_type="text/javascript; charset=utf-8", headers={"Cache-Control": "public, max-age=300"}
    )


_KINDS = frozenset(("track", "page", "screen", "identify", "batch"))


class FastPath:
    """ASGI front for ``cxlens collect``: ``POST /v1/<kind>`` goes straight to :func:`collect`.

    The same handler FastAPI routes to, minus FastAPI's per-request routing, dependency and
    telemetry layers (≈ 40 % of the CPU of a single-event request, measured with cProfile);
    everything else (docs, preflight, the SDK, lifespan) goes to the wrapped app.
    """

    def __init__(self, app: FastAPI):
        self.app = app
        self.state = app.state

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            path = scope["path"]
            if path.startswith("/v1/") and path[4:] in _KINDS:
                scope["app"] = self.app
                try:
                    response = await collect(Request(scope, receive), path[4:])
                except Exception:
                    log.exception("collect: unexpected error")
                    response = JSONResponse(
                        {
                            "error": {
                                "status": 500,
                                "type": "InternalError",
                                "message": "internal error; the server log has the details",
                            }
                        },
                        status_code=500,
                    )
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)


def create_collect_app(workspaces: WorkspaceHub, *, parse_workers: int = 0) -> FastAPI:
    """An app serving only the collection API (``cxlens collect``): ``/v1/*``, ``/sdk/cxlens.js``,
    ``/sdk/cxlens-behaviour.js``, ``/health``.

    Wrap it in :class:`FastPath` to serve it (``cxlens collect`` does). With ``parse_workers``,
    request bodies of 16 KB or more are parsed and turned into Arrow tables in that many worker
    processes (the one writer process stays the only one touching the DuckDB files).
    """
    pool = (
        ProcessPoolExecutor(parse_workers, mp_context=multiprocessing.get_context("spawn")) if parse_workers else None
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for _, ws in workspaces.items():
            collector_for(ws)  # rebuild the id index before the first request
        if pool is not None:  # start the workers now, not on the first request
            await asyncio.gather(
                *(asyncio.get_running_loop().run_in_executor(pool, _warm) for _ in range(parse_workers))
            )
        yield
        if pool is not None:
            pool.shutdown(wait=True)
        for _, ws in workspaces.items():
            close_collectors(ws)
        workspaces.close()

    app = FastAPI(
        title="cxlens collection API",
        version=cxlens.__version__,
        description="Segment-compatible event collection: every acknowledged message is committed.",
        lifespan=lifespan,
    )
    app.state.hub = workspaces
    app.state.open_mode = False
    app.state.parse_pool = pool
    for exc_type in (CxlensError, Exception):
        app.add_exception_handler(exc_type, handle_error)

    @app.get("/health", tags=["service"], summary="Liveness: answers once the app is ready")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    app.include_router(router)
    app.include_router(behaviour_public_router)  # the SDK's remote config and behaviour script
    app.include_router(replay_public_router)  # session replay chunks and the replay script
    return app
