"""Shared report links (docs/act.md, "Shared links"): admins and analysts make, list and revoke them::

    GET    /api/v1/shares                 every link (never a token), with its status
    POST   /api/v1/shares                 {"view": "overview" | "journey" | "themes" | "digest:RULE",
                                           "expires": "7d", "start": "2026-01-01", "end": "2026-03-31"}
                                          → the link with its token and url (shown this once)
    POST   /api/v1/shares/{id}/revoke     DELETE /api/v1/shares/{id}

A link shows what its creator's role may see: the signed-in user's role, ``admin`` for a secret key,
``analyst`` (personal data masked) in the local open mode. Opening a link is ``/shared/…`` (pages).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request

from cxlens.act.share import DEFAULT_EXPIRY
from cxlens.errors import ConfigError, ForbiddenError
from cxlens.web.api.metrics import jsonable
from cxlens.web.auth import allowed
from cxlens.web.deps import current_user, json_body, json_only, require_role, run_on_workspace
from cxlens.web.deps import who as changed_by

__all__ = ["creator_role", "make_link", "router", "share_url"]

router = APIRouter(prefix="/api/v1", tags=["act"])
Staff = Depends(require_role("admin", "analyst"))


JsonOnly = Depends(json_only)


async def _body(request: Request) -> dict[str, Any]:
    return await json_body(request)


def creator_role(request: Request) -> str:
    """The role a link made by this request carries."""
    user = current_user(request)
    if user is not None:
        return str(user.role)
    return "admin" if getattr(request.state, "api_key", None) is not None else "analyst"


def share_url(request: Request, ws: Any, path: str) -> str:
    """The link's full address: the workspace's public base URL (``act.base_url``/``CXLENS_BASE_URL``)
    when set, else this request's own."""
    import os

    base = ws.store.setting("act.base_url", None) or os.environ.get("CXLENS_BASE_URL")
    return (str(base).rstrip("/") if base else str(request.base_url).rstrip("/")) + path


def make_link(request: Request, ws: Any, body: dict[str, Any]) -> dict[str, Any]:
    """Check and make a link for this request's user (the dashboard form and the API)."""
    from cxlens.act.share import VIEWS, parse_view

    view = body.get("view")
    if not isinstance(view, str):
        raise ConfigError("field 'view' is missing; expected overview, journey, themes or digest:RULE")
    name, params = parse_view(view)
    role = creator_role(request)
    page = VIEWS[name][0].format(rule=params.get("rule", ""))
    if current_user(request) is not None and not allowed(role, page):  # the dashboard's own policy too
        raise ForbiddenError(f"role {role!r} may not open {page}, so it may not share it")
    for k in ("start", "end", "expires"):
        if body.get(k) is not None and not isinstance(body[k], str):
            raise ConfigError(f"field {k!r} must be text such as '7d' or '2026-01-31'")
    extra = set(body) - {"view", "expires", "start", "end"}
    if extra:
        raise ConfigError(f"unknown field {sorted(extra)[0]!r}; expected view, expires, start, end")
    out = ws.act.share(view, role=role, expires=body.get("expires") or DEFAULT_EXPIRY, created_by=changed_by(request),
                       start=body.get("start") or None, end=body.get("end") or None)  # fmt: skip
    out["url"] = share_url(request, ws, out["path"])
    return out


@router.get("/shares", summary="Shared report links", dependencies=[Staff])
async def shares_list(request: Request) -> list[dict[str, Any]]:
    return jsonable(await run_on_workspace(request, lambda ws: ws.act.shares()))  # type: ignore[no-any-return]


@router.post("/shares", summary="Make a shared report link", status_code=201, dependencies=[Staff, JsonOnly])
async def shares_create(request: Request) -> dict[str, Any]:
    body = await _body(request)
    return jsonable(await run_on_workspace(request, lambda ws: make_link(request, ws, body)))  # type: ignore[no-any-return]


async def _revoke(request: Request, link_id: str) -> dict[str, Any]:
    who = changed_by(request)
    return await run_on_workspace(request, lambda ws: ws.act.revoke_share(link_id, who=who))


@router.post("/shares/{link_id}/revoke", summary="Revoke a shared link", dependencies=[Staff, JsonOnly])
async def shares_revoke(request: Request, link_id: str) -> dict[str, Any]:
    return await _revoke(request, link_id)


@router.delete("/shares/{link_id}", summary="Revoke a shared link", dependencies=[Staff])
async def shares_delete(request: Request, link_id: str) -> dict[str, Any]:
    return await _revoke(request, link_id)
