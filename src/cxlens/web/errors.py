"""The one error handler of the web service: JSON under ``/api`` and ``/v1``, an HTML page elsewhere.

Every cxlens error carries its HTTP status (and, for a :class:`~cxlens.errors.ParameterError`, the
parameter it is about); FastAPI's validation errors and Starlette's HTTP errors are described the same way.
"""

from __future__ import annotations

from html import escape
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from starlette.exceptions import HTTPException as StarletteHTTPException

from cxlens.errors import CxlensError

__all__ = ["describe", "handle_error"]


def describe(exc: Exception) -> tuple[int, str, str | None]:
    """(HTTP status, one-sentence message, offending parameter or None) for any error."""
    if isinstance(exc, CxlensError):
        return exc.http_status, str(exc), getattr(exc, "param", None)
    if isinstance(exc, RequestValidationError):
        err = exc.errors()[0] if exc.errors() else {}
        loc = [str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body")]
        param = loc[0] if loc else None
        given = err.get("input")
        msg = str(err.get("msg", "invalid value")).rstrip(".")
        if param is None:
            return 422, f"invalid request: {msg}", None
        if given is None or err.get("type") == "missing":
            return 422, f"query parameter {param!r}: {msg}", param
        return 422, f"query parameter {param!r} is {given!r}; {msg[0].lower() + msg[1:]}", param
    if isinstance(exc, StarletteHTTPException):
        detail = exc.detail if isinstance(exc.detail, str) else "error"
        if exc.status_code == 404 and detail == "Not Found":
            detail = "no page or endpoint at this address"
        return exc.status_code, detail, None
    return 500, "internal error; the server log has the details", None


def _headers(exc: Exception) -> dict[str, str] | None:
    retry = getattr(exc, "retry_after", None)
    return {"Retry-After": str(max(1, round(retry)))} if retry is not None else None


async def handle_error(request: Request, exc: Exception) -> Response:
    """The one error handler: JSON under ``/api``, an HTML error page elsewhere."""
    status, message, param = describe(exc)
    if request.url.path.startswith(("/api/", "/v1/")):
        body: dict[str, Any] = {"status": status, "type": type(exc).__name__, "message": message}
        if param:
            body["param"] = param
        return JSONResponse({"error": body}, status_code=status, headers=_headers(exc))
    templates: Jinja2Templates = request.app.state.templates
    try:
        return templates.TemplateResponse(
            request,
            "error.html",
            {"status": status, "message": message, "nav_active": None},
            status_code=status,
            headers=_headers(exc),
        )
    except Exception:  # the error page must never fail
        return HTMLResponse(f"<h1>Error {status}</h1><p>{escape(message)}</p>", status_code=status)
