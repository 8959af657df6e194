"""Shared report links: ``/shared/{workspace}/{token}`` (public: the link is the credential) and the
``/shares`` page where admins and analysts make, list and revoke them (docs/act.md, "Shared links").

A shared page is self-contained (styles, chart scripts and data inline) and served with a
Content-Security-Policy of its own: only its own inline scripts run (by hash), it can fetch nothing
(``connect-src 'none'``), submit nothing, load nothing from elsewhere, and is never framed; the token
in its address is never sent on as a referrer. A token opens that page and a digest's chart images,
nothing else: every other page and the API still need a session or a key.
"""

from __future__ import annotations

import base64
import hashlib
import re
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from cxlens.act.share import VIEWS, SharedLink, render_chart, resolve
from cxlens.errors import CxlensError, NotFoundError
from cxlens.web.api.share import make_link
from cxlens.web.deps import csrf_protect, hub, require_role, run_on_workspace
from cxlens.web.pages import register
from cxlens.web.params import parse_date

__all__ = ["public_router", "router", "shared_csp"]

router = register(APIRouter(include_in_schema=False), id="shares", label="Shared links", path="/shares", order=73)
public_router = router  # the /shared routes ride on the same router (their path is public in web/auth.py)
STAFF = Depends(require_role("admin", "analyst"))
CSRF = Depends(csrf_protect)
_SCRIPT = re.compile(r"<script>(.*?)</script>", re.S)


def shared_csp(page: str) -> str:
    """The CSP of a shared page: its own inline scripts by SHA-256, nothing fetched or submitted."""
    hashes = sorted({"'sha256-" + base64.b64encode(hashlib.sha256(s.encode()).digest()).decode() + "'"
                     for s in _SCRIPT.findall(page)})  # fmt: skip
    script = " ".join(hashes) or "'none'"
    return (f"default-src 'none'; script-src {script}; style-src 'unsafe-inline'; img-src data:; font-src data:; "
            "connect-src 'none'; form-action 'none'; base-uri 'none'; frame-ancestors 'none'")  # fmt: skip


_HEADERS = {"referrer-policy": "no-referrer", "x-robots-tag": "noindex, nofollow", "cache-control": "no-store"}


def _gone(request: Request, exc: CxlensError) -> HTMLResponse:
    status = 410 if exc.http_status == 410 else 404
    message = str(exc) if status == 410 else "This shared link does not exist; check that it was copied whole."
    resp = request.app.state.templates.TemplateResponse(request, "share/gone.html",
                                                        {"status": status, "message": message}, status_code=status)  # fmt: skip
    resp.headers.update(_HEADERS)
    return resp


def _open(request: Request, workspace: str) -> Any:
    h = hub(request)
    if workspace not in h.names:
        raise NotFoundError("no such shared link")
    return h.get(workspace)


@router.get("/shared/{workspace}/{token}", response_class=HTMLResponse)
async def shared_page(request: Request, workspace: str, token: str) -> Response:
    from starlette.concurrency import run_in_threadpool

    from cxlens.report.shared import render_view

    try:
        ws = _open(request, workspace)

        def work() -> str:
            return render_view(ws, resolve(ws.store, token))

        page = await run_in_threadpool(work)
    except CxlensError as exc:
        if exc.http_status not in (404, 410):
            raise
        return _gone(request, exc)
    return HTMLResponse(page, headers={**_HEADERS, "content-security-policy": shared_csp(page),
                                       "x-frame-options": "DENY"})  # fmt: skip


@router.get("/shared/{workspace}/{token}/charts/{name}.png")
async def shared_chart(request: Request, workspace: str, token: str, name: str) -> Response:
    from starlette.concurrency import run_in_threadpool

    try:
        ws = _open(request, workspace)

        def work() -> bytes:
            link: SharedLink = resolve(ws.store, token)
            return render_chart(ws.store, link, name)

        png = await run_in_threadpool(work)
    except CxlensError as exc:
        if exc.http_status not in (404, 410):
            raise
        return _gone(request, exc)
    # Slack and Teams fetch the image once and keep it; a short private cache spares repeated renders
    return Response(png, media_type="image/png", headers={"referrer-policy": "no-referrer",
                                                          "cache-control": "private, max-age=300"})  # fmt: skip


# -- the dashboard page ------------------------------------------------------------------------------
def _view_options(ws: Any) -> list[tuple[str, str]]:
    out = [(v, VIEWS[v][1]) for v in ("overview", "journey", "themes")]
    rules = ws.act.rules()
    for r in rules.to_dict("records") if len(rules) else []:
        if r.get("trigger") == "schedule":
            out.append((f"digest:{r['name']}", f"Digest of rule {r['name']}"))
    return out


def _text(v: Any) -> str:
    import pandas as pd

    if v is None or v is pd.NaT or (isinstance(v, float) and v != v):
        return ""
    return v.strftime("%Y-%m-%d %H:%M") if hasattr(v, "strftime") else str(v)


async def _render(request: Request, *, created: dict[str, Any] | None = None, error: str | None = None,
                  notice: str | None = None, status: int = 200,
                  prefill: dict[str, str] | None = None) -> HTMLResponse:  # fmt: skip
    def work(ws: Any) -> dict[str, Any]:
        links = [{k: _text(v) for k, v in r.items()} for r in ws.act.shares().to_dict("records")]
        return {"links": links, "views": _view_options(ws)}

    ctx = await run_on_workspace(request, work)
    ctx.update(nav_active="shares", created=created, error=error, notice=notice, prefill=prefill or {})
    return request.app.state.templates.TemplateResponse(request, "share/shares.html", ctx, status_code=status)


@router.get("/shares", response_class=HTMLResponse, dependencies=[STAFF])
async def shares_page(request: Request, done: str = "", view: str = "", start: str = "", end: str = "") -> HTMLResponse:
    """The page; ``view``, ``start`` and ``end`` fill in the form (a page's "Share this view" link)."""
    dates = {k: parse_date(k, v) for k, v in (("start", start), ("end", end))}  # a 400 naming a bad one
    prefill = {"view": view, **{k: d.isoformat() if d else "" for k, d in dates.items()}}
    notice = "Link revoked: it answers 410 from now on." if done == "revoked" else None
    return await _render(request, notice=notice, prefill=prefill)


@router.post("/shares", response_class=HTMLResponse, dependencies=[STAFF, CSRF])
async def shares_create(request: Request, view: str = Form(""), expires: str = Form("7d"), start: str = Form(""),
                        end: str = Form("")) -> HTMLResponse:  # fmt: skip
    body = {"view": view, "expires": expires or "7d", "start": start or None, "end": end or None}
    try:
        created = await run_on_workspace(request, lambda ws: make_link(request, ws, body))
    except CxlensError as exc:
        if exc.http_status >= 500:
            raise
        return await _render(request, error=str(exc), status=exc.http_status)
    created["expires_at"] = _text(created["expires_at"])
    return await _render(request, created=created, status=201)


@router.post("/shares/{link_id}/revoke", dependencies=[STAFF, CSRF])
async def shares_revoke(request: Request, link_id: str) -> Response:
    from cxlens.web.deps import who as changed_by

    who = changed_by(request)
    await run_on_workspace(request, lambda ws: ws.act.revoke_share(link_id, who=who))
    return RedirectResponse(f"/shares?done=revoked#link-{quote(link_id)}", status_code=303)
