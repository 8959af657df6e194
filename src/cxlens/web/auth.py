"""Who may reach what: sign-in, sessions, API keys and the role policy of the dashboard.

:func:`install` adds one middleware and the ``/login`` and ``/logout`` routes to an app.

* **Open mode.** While no workspace of the server has a user, everything is open on the default
  workspace (the local single-operator mode; ``cxlens serve`` then refuses a public address).
  It ends as soon as a user exists.
* **Public paths** (:data:`PUBLIC`): collection (``/v1``), the SDK, hosted surveys (``/s``),
  static files, ``/health``, the API docs and ``/login`` apply their own authentication.
* **API** (``/api/…``): a session cookie, or ``Authorization: Bearer cxs_…`` (a secret key acts on
  its own workspace, with the rights of an admin there). A write key gets 403, an unknown or
  revoked key 401. A session's non-GET API calls must send its CSRF token in ``X-CSRF-Token``.
* **Pages**: a session, else a redirect to ``/login?next=<path>``.
* **Roles**: :data:`POLICY`, the one table of which role may read (GET/HEAD) or write (other
  methods) which path; a path it does not name is for admins and analysts.

A session belongs to one workspace: the middleware puts it in ``request.state.ws`` (and
``workspace_name``, ``user``, ``session``), so :func:`~cxlens.web.deps.current_workspace` and
every route act on that workspace and no other.
"""

from __future__ import annotations

import ipaddress
import secrets
from datetime import timedelta
from fnmatch import fnmatchcase
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from cxlens.access import sessions as _sessions
from cxlens.access.sessions import LoginThrottle, Session
from cxlens.access.users import authenticate, count_users
from cxlens.errors import AuthError, ConfigError, CxlensError, ForbiddenError, NotFoundError
from cxlens.schema.pii import policy_for, set_policy
from cxlens.web.deps import CSRF_HEADER, authenticate_key, csrf_protect, hub, key_from_headers, same_token
from cxlens.web.errors import handle_error
from cxlens.web.security import check_request_target

__all__ = [
    "POLICY",
    "PUBLIC",
    "SESSION_COOKIE",
    "allowed",
    "can_see",
    "check_bind",
    "count_all_users",
    "home_for",
    "install",
    "is_loopback",
    "refresh_open_mode",
    "roles_for",
    "safe_next",
]

SESSION_COOKIE = "cxlens_session"
ALL = ("admin", "analyst", "agent")
STAFF = ("admin", "analyst")
ADMIN = ("admin",)
SAFE_METHODS = ("GET", "HEAD", "OPTIONS")

#: paths with their own authentication (or none needed); a prefix covers the path and below it
#: (``/shared``: report links, whose signed token is the credential — web/pages/share.py)
PUBLIC = ("/v1", "/sdk", "/s", "/static", "/health", "/login", "/docs", "/redoc", "/openapi.json", "/shared")

#: (path pattern, roles that may read with GET/HEAD, roles that may write) — the first match wins.
#: A pattern without ``*`` covers the path and everything below it; ``*`` matches any characters.
POLICY: list[tuple[str, tuple[str, ...], tuple[str, ...]]] = [
    ("/admin", ADMIN, ADMIN),
    ("/api/v1/keys", ADMIN, ADMIN),
    ("/api/v1/users", ADMIN, ADMIN),
    ("/customers/*/export", ADMIN, ADMIN),
    ("/customers/*/erase", ADMIN, ADMIN),
    ("/surveys", STAFF, ADMIN),
    ("/api/v1/surveys", STAFF, ADMIN),
    # agents: the feedback explorer, the customer 360, the verbatims API and follow-ups (cases)
    ("/feedback", ALL, STAFF),
    ("/partials/feedback", ALL, STAFF),  # the explorer's filters (htmx)
    ("/api/v1/voice/feedback", ALL, STAFF),
    ("/customers/*", ALL, STAFF),
    ("/cases", ALL, ALL),
    ("/api/v1/cases", ALL, ALL),
]
#: every other path: admins and analysts (analysts run analyses, so they may also POST)
DEFAULT = (STAFF, STAFF)
HOME = {"admin": "/", "analyst": "/", "agent": "/feedback"}


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith(prefix.rstrip("/") + "/")


def _matches(path: str, pattern: str) -> bool:
    if "*" in pattern:
        return fnmatchcase(path, pattern) or fnmatchcase(path, pattern + "/*")
    return _under(path, pattern)


def is_public(path: str) -> bool:
    return any(_under(path, p) for p in PUBLIC)


def roles_for(path: str, method: str = "GET") -> tuple[str, ...]:
    """The roles that may call ``method path`` (from :data:`POLICY`)."""
    read, write = next(((r, w) for pat, r, w in POLICY if _matches(path, pat)), DEFAULT)
    return read if method.upper() in SAFE_METHODS else write


def allowed(role: str | None, path: str, method: str = "GET") -> bool:
    return role in roles_for(path, method)


def home_for(role: str) -> str:
    """Where a role lands after sign-in."""
    return HOME.get(role, "/")


def can_see(request: Any, path: str) -> bool:
    """Whether the navigation shows a link to ``path`` to this request's user (templates)."""
    if getattr(request.app.state, "open_mode", True):
        return True
    user = getattr(request.state, "user", None)
    if user is None:
        return getattr(request.state, "api_key", None) is not None
    return allowed(user.role, path)


def safe_next(target: str | None) -> str | None:
    """A relative path on this site to return to after sign-in, or None (open redirects refused)."""
    t = (target or "").strip()
    if not t.startswith("/") or t.startswith(("//", "/\\")) or any(ord(c) < 32 for c in t) or "\\" in t:
        return None
    if _under(t.split("?")[0], "/login") or _under(t.split("?")[0], "/logout"):
        return None
    return t


def count_all_users(hub: Any) -> int:
    """Dashboard users over every workspace of the server (disabled ones included)."""
    total = 0
    for _, ws in hub.items():
        try:
            total += count_users(ws)
        except Exception:  # noqa: BLE001, S112 — a workspace without the users table has no users
            continue
    return total


def refresh_open_mode(app: FastAPI) -> bool:
    """Recompute ``app.state.open_mode``: true while no workspace of the server has a user."""
    app.state.open_mode = count_all_users(app.state.hub) == 0
    return bool(app.state.open_mode)


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, hub: Any) -> None:
    """Refuse a non-loopback ``host`` while no workspace of ``hub`` has a dashboard user.

    Without users the dashboard is in open mode (no sign-in): on a public address it would hand
    every metric and customer comment to anyone who can reach it.
    """
    if not is_loopback(host) and count_all_users(hub) == 0:
        raise ConfigError(
            f"refusing to serve on {host!r}: no dashboard user exists, so anyone reaching that address could read "
            "everything; create one first with `cxlens users create EMAIL --role admin`, or bind 127.0.0.1"
        )


# -- sessions -----------------------------------------------------------------------------------
def _secure(request: Request) -> bool:
    return bool(getattr(request.app.state, "secure_cookies", False)) or request.url.scheme == "https"


def _cookie_parts(request: Request) -> tuple[str, str] | None:
    value = request.cookies.get(SESSION_COOKIE) or ""
    name, sep, token = value.rpartition(":")
    return (name, token) if sep and name and token else None


async def _load_session(request: Request) -> Session | None:
    parts = _cookie_parts(request)
    if parts is None:
        return None
    name, token = parts
    try:
        ws = hub(request).get(name)
    except NotFoundError:
        return None
    cfg = request.app.state
    session = await run_in_threadpool(
        _sessions.get_session, ws, token, idle=cfg.session_idle, absolute=cfg.session_absolute
    )
    if session is not None:
        request.state.ws = ws
        request.state.workspace_name = name
        request.state.user = session.user
        request.state.session = session
        request.state.csrf_token = session.csrf_token  # templates and the CSRF cookie use the session's
    return session


def _to_login(request: Request) -> Response:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    location = "/login?next=" + quote(target, safe="/")
    if request.headers.get("hx-request"):  # an htmx fragment: make the whole page go to the login
        return Response(status_code=401, headers={"HX-Redirect": location})
    return RedirectResponse(location, status_code=303)


async def _decide(request: Request) -> Response | None:
    """The gate's answer to a request: a response (redirect, error) or None to let the route answer."""
    path, method = request.url.path, request.method
    try:
        check_request_target(request.scope)  # NUL bytes, huge query strings: 400/413 before any route
        if is_public(path):
            set_policy(policy_for(None, public=True))  # hosted surveys, collection, docs: PII masked
            return None
        is_api = _under(path, "/api")
        if is_api and key_from_headers(request) is not None:
            authenticate_key(request, kinds=("secret",))  # 401 unknown/revoked, 403 a write key
            set_policy(policy_for(None, key=True))  # a secret key acts as an admin of its workspace
            return None
        if "users" in request.app.state.hub.refresh():  # a user added by the CLI beside the server
            refresh_open_mode(request.app)
        session = await _load_session(request)
        if session is None:
            if request.app.state.open_mode:
                set_policy(policy_for(None))  # the open mode sees personal data masked
                return None
            if is_api:
                raise AuthError("sign in first, or send a secret key as 'Authorization: Bearer cxs_…'")
            return _to_login(request)
        role = session.user.role
        # the one PII rule of this request (cxlens.schema.pii): breakdowns, filters and text follow it
        set_policy(policy_for(role))
        if not allowed(role, path, method):
            if path == "/" and method in SAFE_METHODS:
                return RedirectResponse(home_for(role), status_code=303)
            raise ForbiddenError(f"role {role!r} may not {'open' if method in SAFE_METHODS else 'change'} {path}; "
                                 f"it needs {' or '.join(roles_for(path, method))} (ask an admin)")  # fmt: skip
        if is_api and method not in SAFE_METHODS:
            if not same_token(session.csrf_token, request.headers.get(CSRF_HEADER)):
                raise ForbiddenError("the X-CSRF-Token header is missing or wrong; send the page's CSRF token")
        return None
    except CxlensError as exc:
        return await handle_error(request, exc)


class Gate:
    """Pure ASGI middleware in front of every route: request-target checks, keys, sessions, the role
    policy and the CSRF header (:func:`_decide`). Pure ASGI, not ``BaseHTTPMiddleware``: that one runs
    the route in a task of its own and streams its response through a queue, a large share of the CPU
    of a small request such as a survey answer."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        response = await _decide(Request(scope, receive))
        if response is None:
            await self.app(scope, receive, send)
        else:
            await response(scope, receive, send)


def _set_session_cookie(request: Request, response: Response, value: str) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        value,
        max_age=int(request.app.state.session_absolute.total_seconds()),
        httponly=True,
        samesite="lax",
        secure=_secure(request),
        path="/",
    )


# -- login / logout -------------------------------------------------------------------------------
router = APIRouter(include_in_schema=False)
GENERIC_ERROR = "Incorrect e-mail or password."


def _login_page(
    request: Request, *, error: str | None = None, email: str = "", next_: str = "", status: int = 200, ws: str = ""
) -> HTMLResponse:
    h = hub(request)
    # several workspaces: a text field, never a list of their names (anonymous visitors see this page)
    ctx = {"nav_active": None, "error": error, "email": email, "next": safe_next(next_) or "",
           "ask_workspace": len(h) > 1, "chosen": ws if len(h) > 1 else ""}  # fmt: skip
    resp = request.app.state.templates.TemplateResponse(request, "login.html", ctx, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/login", response_class=HTMLResponse)
async def login_form(request: Request, next: str = "", workspace: str = "") -> Response:  # noqa: A002
    if request.app.state.open_mode:
        return RedirectResponse(safe_next(next) or "/", status_code=303)
    return _login_page(request, next_=next, ws=workspace[:200])


def _client(request: Request) -> str:
    """The client's address (taken from X-Forwarded-For only behind a trusted proxy: web/security.py)."""
    return request.client.host if request.client else "-"


@router.post("/login", dependencies=[Depends(csrf_protect)])
async def login(
    request: Request,
    email: str = Form(""),
    password: str = Form(""),
    workspace: str = Form(""),
    next: str = Form(""),  # noqa: A002
) -> Response:
    h, throttle = hub(request), request.app.state.login_throttle
    client = _client(request)
    # one atomic step: count this attempt as a failure now, or refuse it without checking the password
    # (parallel attempts cannot all pass a check made before the ~100 ms verification)
    wait = throttle.attempt(email, client)
    if wait:
        resp = _login_page(request, error=f"Too many failed sign-ins; try again in {max(1, round(wait / 60))} "
                           "minute(s).", email=email, next_=next, status=429, ws=workspace)  # fmt: skip
        resp.headers["Retry-After"] = str(wait)
        return resp
    name = (workspace.strip() or h.default) if len(h) > 1 else h.default
    # an unknown workspace costs the same verification as a wrong password (no oracle for names)
    target, probe = (h.get(name), email) if name in h.names else (h.get(h.default), "\x00unknown")
    user = await run_in_threadpool(authenticate, target, probe, password)
    if user is None:
        return _login_page(request, error=GENERIC_ERROR, email=email, next_=next, status=401, ws=workspace)
    throttle.success(email, client)
    ws = h.get(name)
    old = _cookie_parts(request)
    if old is not None and old[0] in h.names:  # never keep a session id across sign-in
        await run_in_threadpool(_sessions.delete_session, h.get(old[0]), old[1])
    cfg = request.app.state
    token, session = await run_in_threadpool(
        _sessions.create_session, ws, user, idle=cfg.session_idle, absolute=cfg.session_absolute
    )
    request.state.csrf_token = session.csrf_token  # a new CSRF token with the new session
    resp = RedirectResponse(safe_next(next) or home_for(user.role), status_code=303)
    _set_session_cookie(request, resp, f"{name}:{token}")
    return resp


@router.post("/logout", dependencies=[Depends(csrf_protect)])
async def logout(request: Request) -> Response:
    parts = _cookie_parts(request)
    h = hub(request)
    if parts is not None and parts[0] in h.names:
        await run_in_threadpool(_sessions.delete_session, h.get(parts[0]), parts[1])
    request.state.csrf_token = secrets.token_urlsafe(24)
    resp = RedirectResponse("/login", status_code=303)
    resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax", secure=_secure(request))
    return resp


def install(
    app: FastAPI,
    *,
    secure_cookies: bool = False,
    idle: timedelta = _sessions.IDLE_TIMEOUT,
    absolute: timedelta = _sessions.ABSOLUTE_TIMEOUT,
    throttle: LoginThrottle | None = None,
) -> None:
    """Add sign-in, sessions, key authentication and the role policy to ``app`` (see the module doc)."""
    app.state.secure_cookies = secure_cookies
    app.state.session_idle = idle
    app.state.session_absolute = absolute
    app.state.login_throttle = throttle or LoginThrottle()
    refresh_open_mode(app)
    app.include_router(router)
    app.add_middleware(Gate)
