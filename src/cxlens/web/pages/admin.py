"""Admin pages: ``/admin/users`` (list, create, change role, disable) and ``/admin/keys`` (list,
create — the key is shown once — and revoke).

Admin only (the role policy in :mod:`cxlens.web.auth`); every form is POST with a CSRF token.
Each page acts on the signed-in admin's workspace only. Creating the first user ends open mode:
the next request asks for a sign-in.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from starlette.concurrency import run_in_threadpool

from cxlens.access import keys as _keys
from cxlens.access import users as _users
from cxlens.errors import ConfigError, NotFoundError
from cxlens.web.api.admin import actor
from cxlens.web.deps import csrf_protect, current_workspace, current_workspace_name, hub, require_role
from cxlens.web.pages import register

guard = [Depends(require_role("admin"))]
write_guard = [*guard, Depends(csrf_protect)]
router = register(APIRouter(include_in_schema=False, dependencies=guard), id="admin", label="Admin",
                  path="/admin/users", order=90)  # fmt: skip

NOTICES = {
    "created": "User created.",
    "role": "Role changed; the user's sessions ended.",
    "disabled": "User disabled; their sessions ended.",
    "enabled": "User enabled.",
    "revoked": "Key revoked; it stops working at once.",
}


def _render(request: Request, template: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    ctx = {"nav_active": "admin", "workspace": current_workspace_name(request), **ctx}
    resp = request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status)
    resp.headers["Cache-Control"] = "no-store"
    return resp


@router.get("/admin")
async def admin_home() -> Response:
    return RedirectResponse("/admin/users", status_code=303)


# -- users ----------------------------------------------------------------------------------------
async def _users_page(request: Request, *, error: str | None = None, form: dict[str, str] | None = None,
                      notice: str | None = None, status: int = 200) -> HTMLResponse:  # fmt: skip
    users = await run_in_threadpool(_users.list_users, current_workspace(request))
    me = getattr(request.state, "user", None)
    return _render(request, "admin/users.html", {
        "users": users, "roles": _users.ROLES, "error": error, "form": form or {}, "notice": notice,
        "me": me.user_id if me else None, "min_length": _users.MIN_PASSWORD_LENGTH,
        "open_mode": request.app.state.open_mode,
    }, status)  # fmt: skip


@router.get("/admin/users", response_class=HTMLResponse)
async def users_page(request: Request, done: str = "") -> HTMLResponse:
    return await _users_page(request, notice=NOTICES.get(done))


@router.post("/admin/users", dependencies=write_guard)
async def create_user(
    request: Request, email: str = Form(""), name: str = Form(""), role: str = Form(""), password: str = Form("")
) -> Response:
    from cxlens.web.auth import refresh_open_mode

    ws = current_workspace(request)
    try:
        await run_in_threadpool(lambda: _users.create_user(ws, email, password, role=role, name=name))
    except ConfigError as e:
        return await _users_page(request, error=str(e), form={"email": email, "name": name, "role": role}, status=400)
    refresh_open_mode(request.app)
    return RedirectResponse("/admin/users?done=created", status_code=303)


async def _change(request: Request, work: Any, done: str) -> Response:
    try:
        await run_in_threadpool(work, current_workspace(request))
    except (ConfigError, NotFoundError) as e:
        return await _users_page(request, error=str(e), status=e.http_status)
    return RedirectResponse(f"/admin/users?done={done}", status_code=303)


@router.post("/admin/users/{user_id}/role", dependencies=write_guard)
async def change_role(request: Request, user_id: str, role: str = Form("")) -> Response:
    return await _change(request, lambda ws: _users.set_role(ws, user_id, role), "role")


@router.post("/admin/users/{user_id}/disable", dependencies=write_guard)
async def disable(request: Request, user_id: str) -> Response:
    return await _change(request, lambda ws: _users.disable_user(ws, user_id), "disabled")


@router.post("/admin/users/{user_id}/enable", dependencies=write_guard)
async def enable(request: Request, user_id: str) -> Response:
    return await _change(request, lambda ws: _users.enable_user(ws, user_id), "enabled")


# -- keys -----------------------------------------------------------------------------------------
async def _keys_page(request: Request, *, new: dict[str, Any] | None = None, error: str | None = None,
                     notice: str | None = None, status: int = 200) -> HTMLResponse:  # fmt: skip
    keys = await run_in_threadpool(_keys.list_keys, current_workspace(request))
    return _render(request, "admin/keys.html",
                   {"keys": keys, "new": new, "error": error, "notice": notice}, status)  # fmt: skip


@router.get("/admin/keys", response_class=HTMLResponse)
async def keys_page(request: Request, done: str = "") -> HTMLResponse:
    return await _keys_page(request, notice=NOTICES.get(done))


@router.post("/admin/keys", dependencies=write_guard, response_class=HTMLResponse)
async def create_key(request: Request, kind: str = Form(""), name: str = Form("")) -> HTMLResponse:
    ws_name = current_workspace_name(request)
    try:
        info, plaintext = await run_in_threadpool(
            lambda: hub(request).create_key(ws_name, kind, label=name.strip() or None, created_by=actor(request))
        )
    except ConfigError as e:
        return await _keys_page(request, error=str(e), status=400)
    # shown on this response only (never in a URL, never stored): no redirect
    return await _keys_page(request, new={"key": plaintext, "info": info})


@router.post("/admin/keys/{key_id}/revoke", dependencies=write_guard)
async def revoke_key(request: Request, key_id: str) -> Response:
    ws_name = current_workspace_name(request)
    try:
        await run_in_threadpool(lambda: hub(request).revoke_key(ws_name, key_id))
    except NotFoundError as e:
        return await _keys_page(request, error=str(e), status=404)
    return RedirectResponse("/admin/keys?done=revoked", status_code=303)
