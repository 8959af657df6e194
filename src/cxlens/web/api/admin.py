"""``/api/v1/keys`` and ``/api/v1/users``: manage a workspace's API keys and dashboard users.

Admin only (an admin's session, whose non-GET calls carry ``X-CSRF-Token``, or a secret key of
the workspace: ``Authorization: Bearer cxs_…``). Every call acts on the caller's own workspace;
ids of another workspace's keys or users are simply not found (404). Keys go through the
server's :class:`~cxlens.web.hub.WorkspaceHub`, so a new or revoked key works or stops at once.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from cxlens.access import users as _users
from cxlens.web.deps import current_workspace, current_workspace_name, hub, require_role

__all__ = ["KeyCreate", "UserCreate", "UserUpdate", "actor", "router"]

router = APIRouter(prefix="/api/v1", tags=["admin"], dependencies=[Depends(require_role("admin"))])


class KeyCreate(BaseModel):
    kind: Literal["write", "secret"] = Field(description="write (browsers: send data only) or secret (servers).")
    name: str | None = Field(default=None, max_length=200, description="A label, e.g. 'website'.")


class UserCreate(BaseModel):
    email: str = Field(max_length=254)
    password: str = Field(description=f"At least {_users.MIN_PASSWORD_LENGTH} characters.")
    role: Literal["admin", "analyst", "agent"]
    name: str | None = Field(default=None, max_length=200)


class UserUpdate(BaseModel):
    role: Literal["admin", "analyst", "agent"] | None = None
    disabled: bool | None = None
    password: str | None = None


def actor(request: Request) -> str | None:
    """Who is acting: the signed-in user's e-mail, or the secret key's id."""
    user = getattr(request.state, "user", None)
    if user is not None:
        return str(user.email)
    key = getattr(request.state, "api_key", None)
    return f"key:{key.key_id}" if key is not None else None


# -- keys -----------------------------------------------------------------------------------------
@router.get("/keys", summary="List API keys", description="Every key of the workspace (never the key itself).")
async def list_keys(request: Request) -> dict[str, Any]:
    from cxlens.access.keys import list_keys as _list

    ws = current_workspace(request)
    keys = await run_in_threadpool(_list, ws)
    return {"workspace": current_workspace_name(request), "keys": [k.to_dict() for k in keys]}


@router.post("/keys", status_code=201, summary="Create an API key", description="Returns the key once, in `key`.")
async def create_key(request: Request, body: KeyCreate) -> dict[str, Any]:
    name = current_workspace_name(request)
    info, plaintext = await run_in_threadpool(
        lambda: hub(request).create_key(name, body.kind, label=body.name, created_by=actor(request))
    )
    return {**info.to_dict(), "key": plaintext}


@router.post("/keys/{key_id}/revoke", summary="Revoke an API key", description="It stops working at once.")
async def revoke_key(request: Request, key_id: str) -> dict[str, Any]:
    name = current_workspace_name(request)
    info = await run_in_threadpool(lambda: hub(request).revoke_key(name, key_id))
    return info.to_dict()


@router.delete("/keys/{key_id}", summary="Revoke an API key (same as POST …/revoke)")
async def delete_key(request: Request, key_id: str) -> dict[str, Any]:
    return await revoke_key(request, key_id)


# -- users ----------------------------------------------------------------------------------------
@router.get("/users", summary="List dashboard users")
async def list_users(request: Request) -> dict[str, Any]:
    users = await run_in_threadpool(_users.list_users, current_workspace(request))
    return {"workspace": current_workspace_name(request), "users": [u.to_dict() for u in users]}


@router.post("/users", status_code=201, summary="Create a dashboard user")
async def create_user(request: Request, body: UserCreate) -> dict[str, Any]:
    from cxlens.web.auth import refresh_open_mode

    ws = current_workspace(request)
    user = await run_in_threadpool(
        lambda: _users.create_user(ws, body.email, body.password, role=body.role, name=body.name)
    )
    refresh_open_mode(request.app)
    return user.to_dict()


@router.patch("/users/{user}", summary="Change a user's role, password or disabled state")
async def update_user(request: Request, user: str, body: UserUpdate) -> dict[str, Any]:
    ws = current_workspace(request)

    def work() -> _users.User:
        found = _users.get_user(ws, user)
        if body.role is not None:
            found = _users.set_role(ws, found.user_id, body.role)
        if body.password is not None:
            found = _users.set_password(ws, found.user_id, body.password)
        if body.disabled is True:
            found = _users.disable_user(ws, found.user_id)
        elif body.disabled is False:
            found = _users.enable_user(ws, found.user_id)
        return found

    return (await run_in_threadpool(work)).to_dict()
