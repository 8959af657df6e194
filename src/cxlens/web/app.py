"""The FastAPI application: dashboard pages, the JSON API and the one error handler.

``create_app(workspace)`` is what ``cxlens serve`` runs. Routes hold no query logic; they
parse parameters, call the library (``ws.metrics``) and render the result.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment
from markupsafe import Markup, escape
from starlette.exceptions import HTTPException as StarletteHTTPException

import cxlens
from cxlens.errors import CxlensError
from cxlens.report.assets import base_env
from cxlens.web.deps import CSRF_COOKIE
from cxlens.web.errors import handle_error
from cxlens.web.hub import WorkspaceHub, workspace_name
from cxlens.web.security import SecurityHeaders, TrustedProxies
from cxlens.workspace import Workspace

HERE = Path(__file__).resolve().parent
TEMPLATES_DIR = HERE / "templates"
STATIC_DIR = HERE / "static"

__all__ = ["CsrfCookie", "create_app", "template_env"]

#: Swagger UI, vendored (``static/vendor/swagger-ui-5.35.0``) and started by ``static/docs.js``
DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cxlens API</title>
<link rel="stylesheet" href="/static/vendor/swagger-ui-5.35.0/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="/static/vendor/swagger-ui-5.35.0/swagger-ui-bundle.js"></script>
<script src="/static/docs.js"></script></body></html>
"""


def template_env(*extra_dirs: Path) -> Environment:
    """The Jinja2 environment of the dashboard (autoescape on for every template)."""
    from cxlens.web.pages import nav

    env = base_env(*extra_dirs)

    env.globals["nav_items"] = nav
    from cxlens.web.deps import csrf_token

    # forms render {{ csrf_input(request) }}; htmx requests send the token as X-CSRF-Token
    env.globals["csrf_token"] = csrf_token
    env.globals["csrf_input"] = lambda request: Markup(
        f'<input type="hidden" name="csrf_token" value="{escape(csrf_token(request))}">'
    )
    from cxlens.web.auth import can_see

    # the navigation shows a user only what their role may open; base.html shows who is signed in
    env.globals["can_see"] = can_see
    env.globals["current_user"] = lambda request: getattr(request.state, "user", None)
    return env


class CsrfCookie:
    """Pure ASGI middleware: set the CSRF cookie when the request chose a token (``request.state.csrf_token``,
    by a page or a session) that the browser's cookie does not hold yet."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_cookie(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                token = (scope.get("state") or {}).get("csrf_token")
                if token is not None:
                    request = Request(scope)
                    if request.cookies.get(CSRF_COOKIE) != token:
                        secure = request.app.state.secure_cookies or request.url.scheme == "https"
                        cookie = Response()
                        cookie.set_cookie(CSRF_COOKIE, token, httponly=True, samesite="strict", secure=secure,
                                          path="/")  # fmt: skip
                        extra = [(k, v) for k, v in cookie.raw_headers if k == b"set-cookie"]
                        message = dict(message, headers=[*(message.get("headers") or []), *extra])
            await send(message)

        await self.app(scope, receive, send_with_cookie)


def create_app(
    workspace: Workspace | WorkspaceHub | str | os.PathLike[str],
    *,
    read_only: bool = False,
    secure_cookies: bool = False,
    jobs: bool = False,
    trusted_proxies: Sequence[str] = (),
) -> FastAPI:
    """The dashboard, JSON API and collection API over one workspace or several.

    Parameters
    ----------
    workspace
        An open :class:`~cxlens.Workspace`, a :class:`~cxlens.web.hub.WorkspaceHub` of several,
        or the path of a workspace file to open (files opened here are closed when the app
        shuts down).
    read_only
        Open a path read-only (ignored when a Workspace is given).
    secure_cookies
        Mark the session and CSRF cookies ``Secure`` even on plain-HTTP requests (behind a TLS
        proxy that does not send ``X-Forwarded-Proto``); they are always ``Secure`` over https.
    jobs
        Run the job runner of every writable workspace while the app runs (``cxlens serve`` does):
        model fits, text analysis and other refreshes happen in the background, never in a request.
    trusted_proxies
        Addresses or networks of reverse proxies whose ``X-Forwarded-For``/``-Proto`` are believed
        (:class:`~cxlens.web.security.TrustedProxies`); nobody else's are. Serve with
        :func:`~cxlens.web.security.server_config` (uvicorn's own forwarded-header handling off).

    Returns
    -------
    FastAPI
        ``GET /health``, the pages (``/``), ``/api/v1/metrics/...`` and OpenAPI at ``/docs``.

    Examples
    --------
    >>> from fastapi.testclient import TestClient
    >>> from cxlens.web import create_app
    >>> TestClient(create_app(":memory:")).get("/health").json()
    {'status': 'ok'}
    """
    if isinstance(workspace, WorkspaceHub):
        hub = workspace
    elif isinstance(workspace, Workspace):
        hub = WorkspaceHub({workspace_name(workspace.path or ":memory:"): workspace})
    else:
        hub = WorkspaceHub.open([workspace], read_only=read_only)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        runners = hub.start_jobs() if jobs else []
        app.state.job_runners = runners
        try:
            yield
        finally:
            for r in runners:
                r.stop(timeout=10)
            hub.close()  # closes only the files it opened itself

    app = FastAPI(
        title="cxlens",
        version=cxlens.__version__,
        description="Customer-experience analytics: metrics with confidence intervals, as JSON and as a dashboard.",
        lifespan=lifespan,
        docs_url=None,  # served below from the vendored Swagger UI (no CDN), under the CSP
        redoc_url=None,
    )
    # routes find their workspace through cxlens.web.deps (current_workspace, run_on_workspace); the
    # store gives each worker thread its own cursor, so requests run side by side
    app.state.hub = hub
    # no dashboard users anywhere: the local single-operator mode (serve refuses non-loopback then)
    app.state.open_mode = True
    app.state.secure_cookies = secure_cookies

    app.add_middleware(CsrfCookie)

    app.state.templates = Jinja2Templates(env=template_env())

    for exc_type in (CxlensError, RequestValidationError, StarletteHTTPException, Exception):
        app.add_exception_handler(exc_type, handle_error)

    @app.get("/health", tags=["service"], summary="Liveness: answers once the app is ready")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        """The API reference: Swagger UI from ``/static/vendor`` (see its README), started by a static script."""
        return HTMLResponse(DOCS_PAGE)

    from cxlens.web import auth
    from cxlens.web.api import act as act_api
    from cxlens.web.api import admin as admin_api
    from cxlens.web.api import behaviour as behaviour_api
    from cxlens.web.api import collect as collect_api
    from cxlens.web.api import customers as customers_api
    from cxlens.web.api import engagement as engagement_api
    from cxlens.web.api import experiments as experiments_api
    from cxlens.web.api import imports as imports_api
    from cxlens.web.api import interviews as interviews_api
    from cxlens.web.api import journeys as journeys_api
    from cxlens.web.api import metrics as metrics_api
    from cxlens.web.api import replay as replay_api
    from cxlens.web.api import share as share_api
    from cxlens.web.api import surveys as surveys_api
    from cxlens.web.api import voice as voice_api
    from cxlens.web.pages import load_pages

    app.include_router(metrics_api.router)
    app.include_router(journeys_api.router)
    app.include_router(customers_api.router)
    app.include_router(voice_api.router)
    app.include_router(admin_api.router)
    app.include_router(surveys_api.router)
    app.include_router(act_api.router)
    app.include_router(share_api.router)
    app.include_router(imports_api.router)
    app.include_router(experiments_api.router)
    app.include_router(interviews_api.router)
    app.include_router(engagement_api.router)
    app.include_router(collect_api.router)  # /v1 collection API
    app.include_router(behaviour_api.public_router)  # /v1/behaviour/config, /sdk/cxlens-behaviour.js
    app.include_router(behaviour_api.router)
    app.include_router(replay_api.public_router)  # /v1/replay, /sdk/cxlens-replay.js
    app.include_router(replay_api.router)
    for router in load_pages():
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    auth.install(app, secure_cookies=secure_cookies)  # sign-in, sessions, keys, role policy (web/auth.py)
    # outermost: every route, error and redirect gets the headers and the real client address
    app.add_middleware(SecurityHeaders)
    app.add_middleware(TrustedProxies, trusted=list(trusted_proxies))
    return app
