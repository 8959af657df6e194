"""Request-scoped helpers every router uses: which workspace a request acts on, and key auth.

A server serves one or more workspaces (:class:`~cxlens.web.hub.WorkspaceHub`, in
``app.state.hub``). A request acts on exactly one: the one its API key or session belongs to
(set in ``request.state.ws`` by authentication), or the hub's default workspace on a
single-workspace server without users.

Keys are read the way Segment reads them: HTTP Basic with the key as user name and an empty
password, ``Authorization: Bearer <key>``, or (for ``navigator.sendBeacon``, which cannot set
headers) a ``writeKey`` field in the JSON body.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from cxlens.access.keys import ApiKey
from cxlens.errors import AuthError, ForbiddenError, PayloadTooLargeError, SchemaError
from cxlens.schema.pii import current_policy
from cxlens.web.hub import WorkspaceHub
from cxlens.workspace import Workspace

__all__ = [
    "CSRF_COOKIE",
    "CSRF_FIELD",
    "CSRF_HEADER",
    "KeyContext",
    "authenticate_key",
    "csrf_protect",
    "ALL_DATA",
    "EVENT_DATA",
    "VIEWS",
    "ViewCache",
    "cached_view",
    "csrf_token",
    "current_user",
    "current_workspace",
    "current_workspace_name",
    "hub",
    "json_body",
    "json_only",
    "key_from_headers",
    "require_role",
    "run_on_workspace",
    "same_token",
    "who",
]

#: CSRF: a random token in a SameSite=Strict cookie, echoed by every form (hidden field) and
#: htmx request (header); a cross-site page can neither read the cookie nor guess the token
CSRF_COOKIE = "cxlens_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"

T = TypeVar("T")


def hub(request: Request) -> WorkspaceHub:
    """The server's workspaces."""
    return request.app.state.hub  # type: ignore[no-any-return]


def current_workspace(request: Request) -> Workspace:
    """The workspace this request acts on (set by authentication, else the default one)."""
    ws = getattr(request.state, "ws", None)
    if ws is not None:
        return ws  # type: ignore[no-any-return]
    h = hub(request)
    return h.get(h.default)


def current_workspace_name(request: Request) -> str:
    """The name of the workspace this request acts on."""
    return getattr(request.state, "workspace_name", None) or hub(request).default


async def run_on_workspace(request: Request, work: Callable[[Workspace], T]) -> T:
    """Run ``work(ws)`` in a worker thread (the store gives each thread its own cursor: requests run
    side by side, and writes take turns inside the store)."""
    ws = current_workspace(request)
    return await run_in_threadpool(work, ws)


class ViewCache:
    """Computed page views, kept while the tables they were computed from are unchanged.

    A view (a page's context: tables, charts, figures) is keyed by the workspace, the view's name, the
    viewer's role and PII policy (views mask PII and redact text by them) and the request's parameters; it is valid while the data
    versions of its tables (:meth:`cxlens.store.Store.data_version`) are those it was computed on. Two
    requests for the same view wait for one computation. Least recently used views are dropped first.
    """

    def __init__(self, max_entries: int = 256):
        self.max_entries = max_entries
        self._entries: OrderedDict[tuple, tuple[Any, Any]] = OrderedDict()
        self._lock = threading.Lock()
        self._key_locks: dict[tuple, threading.Lock] = {}
        self.hits = self.misses = 0

    def get(self, key: tuple, versions: Any, compute: Callable[[], T]) -> T:
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None and hit[0] == versions:
                    self._entries.move_to_end(key)
                    self.hits += 1
                    return hit[1]  # type: ignore[no-any-return]
            value = compute()
            with self._lock:
                self.misses += 1
                self._entries[key] = (versions, value)
                self._entries.move_to_end(key)
                while len(self._entries) > self.max_entries:
                    old, _ = self._entries.popitem(last=False)
                    self._key_locks.pop(old, None)
            return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


#: the server's view cache (one per process; keys carry the workspace name)
VIEWS = ViewCache()
#: tables analyses read: a view computed from them stays valid until one of them changes
FACTS = ("customers", "events", "feedback", "orders", "order_items", "tickets", "reviews")
CONFIG = ("segments", "journey_config", "settings")
STORED = ("verbatim_analysis", "verbatim_themes", "customer_scores", "results")
ALL_DATA = FACTS + CONFIG + STORED
#: what the event analyses (funnels, paths) read
EVENT_DATA = ("events", "customers", "segments", "journey_config")


def freeze(value: Any) -> Any:
    """A hashable form of a view key (lists → tuples, dicts → sorted item tuples, sets → frozensets)."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    if isinstance(value, set | frozenset):
        return frozenset(freeze(v) for v in value)
    return value


async def cached_view(
    request: Request, name: str, key: Any, tables: Sequence[str], work: Callable[[Workspace], T]
) -> T:
    """``work(ws)`` in a worker thread, reused while ``tables`` are unchanged (see :class:`ViewCache`).

    ``work`` must return a value nobody mutates afterwards (a page context, a frame to serialise).
    """
    ws = current_workspace(request)
    user = current_user(request)
    # the viewer's role and PII policy are part of the key: views mask personal data and redact text by them
    full = (current_workspace_name(request), id(ws), name, getattr(user, "role", None), current_policy(), freeze(key))

    def call() -> T:
        versions = tuple(sorted(ws.data_version(list(tables)).items()))
        return VIEWS.get(full, versions, lambda: work(ws))

    return await run_in_threadpool(call)


@dataclass(frozen=True)
class KeyContext:
    """An authenticated API key: the workspace it belongs to and what it is."""

    workspace_name: str
    ws: Workspace
    key: ApiKey


def key_from_headers(request: Request) -> str | None:
    """The key in ``Authorization`` (Basic with the key as user name, or Bearer), or None."""
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer":
        return value or None
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise AuthError("the Authorization header is not valid Basic credentials; send base64('<key>:')") from None
        return decoded.partition(":")[0] or None
    raise AuthError(f"authorization scheme {scheme!r} is not supported; use Basic (key as user name) or Bearer")


def authenticate_key(
    request: Request, *, body_key: Any = None, kinds: tuple[str, ...] = ("write", "secret")
) -> KeyContext:
    """The key of this request, checked against the server's workspaces.

    Raises :class:`~cxlens.errors.AuthError` (401) when no key is given or it is unknown or
    revoked, and :class:`~cxlens.errors.ForbiddenError` (403) when its kind is not in ``kinds``.
    The workspace is also put in ``request.state.ws``.
    """
    key = key_from_headers(request)
    if key is None and isinstance(body_key, str) and body_key:
        key = body_key
    if key is None:
        raise AuthError("no API key; send it as HTTP Basic user name (empty password) or as 'writeKey' in the body")
    found = hub(request).resolve_key(key)
    if found is None:
        raise AuthError("the API key is unknown or revoked; create one with `cxlens keys create`")
    name, ws, info = found
    if info.kind not in kinds:
        raise ForbiddenError(f"a {info.kind} key may not call {request.url.path}; use a {' or '.join(kinds)} key")
    request.state.ws = ws
    request.state.workspace_name = name
    request.state.api_key = info
    return KeyContext(name, ws, info)


# -- users and roles ------------------------------------------------------------------
def current_user(request: Request) -> Any:
    """The signed-in dashboard user (set by the session middleware), or None."""
    return getattr(request.state, "user", None)


def require_role(*roles: str) -> Callable[[Request], Any]:
    """A dependency admitting only signed-in users with one of ``roles``.

    On a server without users (local, loopback-only mode: ``app.state.open_mode``) everyone is
    admitted, as the single local operator. A secret API key (``request.state.api_key``) acts
    as an admin of its own workspace.
    """

    def check(request: Request) -> Any:
        user = current_user(request)
        if user is None:
            key = getattr(request.state, "api_key", None)
            if key is not None and key.kind == "secret" and "admin" in roles:
                return None
            if getattr(request.app.state, "open_mode", True):
                return None
            raise AuthError("sign in first: this page needs a dashboard user")
        if user.role not in roles:
            raise ForbiddenError(f"role {user.role!r} may not do this; it needs {' or '.join(roles)}")
        return user

    return check


# -- CSRF -------------------------------------------------------------------------------
def csrf_token(request: Request) -> str:
    """This browser's CSRF token (from its cookie, or a new one the response will set)."""
    token = getattr(request.state, "csrf_token", None)
    if token is None:
        token = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(24)
        request.state.csrf_token = token
    return token  # type: ignore[no-any-return]


def same_token(expected: str, sent: object) -> bool:
    """Constant-time comparison of a token with what the client sent (any text, or nothing)."""
    if not isinstance(sent, str) or not expected:
        return False
    return hmac.compare_digest(expected.encode("utf-8", "surrogatepass"), sent.encode("utf-8", "surrogatepass"))


async def csrf_protect(request: Request) -> None:
    """A dependency for every state-changing dashboard route: the form field ``csrf_token`` or
    the ``X-CSRF-Token`` header must equal the CSRF cookie (403 otherwise) and, for a signed-in
    user, the token of their session (rotated at every sign-in)."""
    cookie = request.cookies.get(CSRF_COOKIE)
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        sent = (await request.form()).get(CSRF_FIELD)  # type: ignore[assignment]
    session = getattr(request.state, "session", None)
    if session is not None and not same_token(session.csrf_token, sent):
        cookie = None
    if not cookie or not same_token(cookie, sent):
        raise ForbiddenError("the form's CSRF token is missing or does not match; reload the page and try again")


# -- JSON bodies of the dashboard's API ------------------------------------------------------
def json_only(request: Request) -> None:
    """A dependency: state-changing calls must be JSON — a cross-site page cannot send that without a
    preflight."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        raise ForbiddenError(
            f"{request.method} {request.url.path} needs 'Content-Type: application/json'; "
            "send the request body (or {}) as JSON"
        )


async def json_body(request: Request, limit: int = 64 * 1024) -> dict[str, Any]:
    """The request's JSON object body (an empty body is ``{}``); 413 over ``limit`` bytes, 400 when it
    is not JSON or not an object."""
    import orjson

    raw = await request.body()
    if len(raw) > limit:
        raise PayloadTooLargeError(f"request body is {len(raw):,} bytes; at most {limit:,} are accepted")
    try:
        data = orjson.loads(raw or b"{}")  # refuses nesting deeper than 1,024 levels instead of recursing
    except orjson.JSONDecodeError as e:
        raise SchemaError(f"request body is not valid JSON ({e}); send one JSON object") from None
    if not isinstance(data, dict):
        raise SchemaError(f"request body is a JSON {type(data).__name__}; expected an object")
    return data


def who(request: Request) -> str:
    """Who made a change: the signed-in user's e-mail, ``api-key``, or ``local`` (a server without users)."""
    user = current_user(request)
    if user is not None:
        return str(user.email)
    return "api-key" if getattr(request.state, "api_key", None) is not None else "local"
