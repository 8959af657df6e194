"""The Import page (admins and analysts): upload a file, preview it, map columns or pick a preset,
dry-run, confirm.

``GET /import`` shows the upload form. ``POST /import/upload`` streams the file to a private
temporary folder under a random token (the browser's file name is kept only for messages and its
extension) and shows the file as read: dialect, first rows, and — for a table — a column mapping
prefilled where names match. ``POST /import/{token}`` runs :func:`cxlens.ingest.registry.run_import`
with the form's mapping and options, as a dry run or for real, and shows the report; a real
import deletes the upload. Uploads older than :data:`KEEP_SECONDS` are removed. Every form
carries the CSRF token. The import itself is the library's: the same validation and
all-or-nothing guarantee as the CLI and the HTTP endpoint.
"""

from __future__ import annotations

import json
import re
import secrets
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from cxlens.errors import CxlensError, NotFoundError
from cxlens.ingest.files import SourceFile
from cxlens.ingest.registry import IMPORTERS, run_import
from cxlens.ingest.spec import ImportSpec
from cxlens.schema.tables import TABLES
from cxlens.web.api.imports import DEFAULT_MAX_BYTES, receive_upload, spec_from_query
from cxlens.web.deps import csrf_protect, current_workspace, current_workspace_name, require_role, run_on_workspace
from cxlens.web.pages import register

router = register(APIRouter(include_in_schema=False), id="import", label="Import", path="/import", order=85)
Staff = Depends(require_role("admin", "analyst"))
CSRF = Depends(csrf_protect)
KEEP_SECONDS = 3600
_ROOT = Path(tempfile.gettempdir()) / "cxlens-import-uploads"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{20,40}$")
#: form fields that are options (the rest of ImportSpec's fields are not offered on the page)
OPTIONS = ("delimiter", "encoding", "decimal", "thousands", "timezone", "dayfirst", "monthfirst", "epoch",
           "any_date", "header_row", "skip_rows", "skip_incomplete", "sheet", "records", "score", "comment", "metric")  # fmt: skip


def _render(request: Request, template: str, ctx: dict[str, Any], status: int = 200) -> HTMLResponse:
    base = {"nav_active": "import", "tables": list(TABLES), "presets": _presets()}
    return request.app.state.templates.TemplateResponse(request, template, {**base, **ctx}, status_code=status)


def _presets() -> list[tuple[str, str]]:
    return sorted((i.name, i.description) for i in IMPORTERS.values() if i.preset)


def _folder(token: str) -> Path:
    if not _TOKEN.match(token):
        raise NotFoundError("no such upload; upload the file again")
    d = _ROOT / token
    if not (d / "meta.json").is_file():
        raise NotFoundError("this upload is gone (imported, or older than an hour); upload the file again")
    return d


def _cleanup() -> None:
    if not _ROOT.is_dir():
        return
    cutoff = time.time() - KEEP_SECONDS
    for d in _ROOT.iterdir():
        try:
            if d.stat().st_mtime < cutoff:
                shutil.rmtree(d, ignore_errors=True)
        except OSError:
            continue


#: other names a column often has in exports (compared without case, spaces, _ or -)
SYNONYMS = {
    "ts": ("date", "timestamp", "time", "created", "createdat", "submitted", "submittedat", "submitdate",
           "recordeddate", "responsedate", "enddate"),
    "created_at": ("created", "createdtime", "date", "opened", "openedat"),
    "score": ("rating", "stars", "nps", "npsscore", "csat", "ces"),
    "rating": ("stars", "score", "starrating"),
    "comment": ("why", "feedback", "text", "verbatim", "reason", "comments"),
    "body": ("text", "review", "content", "reviewtext", "description"),
    "feedback_id": ("responseid", "id", "respondentid"),
    "review_id": ("id", "reviewid"),
    "ticket_id": ("id", "ticketid", "ticketnumber"),
    "order_id": ("id", "orderid", "ordernumber", "name"),
    "customer_id": ("customer", "customerid", "userid", "contactid", "email"),
    "amount": ("total", "totalprice", "value"),
}  # fmt: skip


def _suggest(columns: list[str], kind: str) -> dict[str, str]:
    """Canonical column → source column where the names match (case, spaces, _ and - ignored),
    by name first, then by a common synonym; each source column is suggested once."""
    norm = {re.sub(r"[\s_?-]+", "", c.lower()): c for c in columns}
    out: dict[str, str] = {}
    for canon in TABLES[kind].column_names:
        hit = norm.get(canon.replace("_", ""))
        if hit is not None:
            out[canon] = hit
    taken = set(out.values())
    for canon in TABLES[kind].column_names:
        if canon in out:
            continue
        hit = next((norm[s] for s in SYNONYMS.get(canon, ()) if s in norm and norm[s] not in taken), None)
        if hit is not None:
            out[canon] = hit
            taken.add(hit)
    return out


def _spec(form: dict[str, Any], kind: str) -> ImportSpec:
    pairs: list[tuple[str, str]] = [(k, str(v)) for k, v in form.items() if k in OPTIONS and str(v).strip()]
    if kind in TABLES:
        for canon in TABLES[kind].column_names:
            src = str(form.get(f"map_{canon}") or "").strip()
            if src:
                pairs.append(("map", f"{canon}={src}"))
        for item in str(form.get("set") or "").splitlines():
            if item.strip():
                pairs.append(("set", item.strip()))
    return spec_from_query(pairs)


@router.get("/import", response_class=HTMLResponse, dependencies=[Staff])
async def import_page(request: Request) -> HTMLResponse:
    return _render(request, "imports/index.html", {"workspace": current_workspace_name(request)})


@router.post("/import/upload", response_class=HTMLResponse, dependencies=[Staff, CSRF])
async def upload(request: Request) -> HTMLResponse:
    limit = int(current_workspace(request).setting("import.max_bytes", DEFAULT_MAX_BYTES))
    up, fields = await receive_upload(request, limit)
    kind = (fields.get("kind") or [""])[0]
    try:
        if kind not in TABLES and kind not in IMPORTERS:
            raise NotFoundError(f"choose what the file is: a table ({', '.join(TABLES)}) or a preset")
        _cleanup()
        token = secrets.token_urlsafe(18)
        folder = _ROOT / token
        _ROOT.mkdir(mode=0o700, exist_ok=True)
        folder.mkdir(mode=0o700)
        stored = folder / up.path.name
        shutil.move(str(up.path), stored)
        meta = {"name": up.name, "file": stored.name, "kind": kind, "workspace": current_workspace_name(request),
                "size": up.size}  # fmt: skip
        (folder / "meta.json").write_text(json.dumps(meta), encoding="utf-8")
    finally:
        up.close()
    return await _preview(request, token, meta, {})


async def _preview(request: Request, token: str, meta: dict[str, Any], form: dict[str, Any],
                   error: str | None = None) -> HTMLResponse:  # fmt: skip
    kind = meta["kind"]
    spec = None
    try:
        spec = _spec(form, kind)
        src = await run_in_threadpool(SourceFile, _ROOT / token / meta["file"], spec.read_options(), name=meta["name"])
        head = await run_in_threadpool(src.head, 10)
        dialect, columns = src.describe(), src.columns
    except CxlensError as e:
        error = error or str(e)
        head, dialect, columns = None, {}, []
    rows = (
        []
        if head is None
        else [
            [("" if v is None else str(v))[:80] for v in r]
            for r in head.astype(object).where(head.notna(), None).values.tolist()
        ]
    )
    mapping = (
        {k[4:]: v for k, v in form.items() if k.startswith("map_") and v}
        if form
        else _suggest(columns, kind)
        if kind in TABLES
        else {}
    )
    return _render(request, "imports/preview.html", {
        "token": token, "meta": meta, "kind": kind, "is_table": kind in TABLES, "dialect": dialect, "columns": columns,
        "rows": rows, "mapping": mapping, "form": form, "error": error,
        "canonical": TABLES[kind].columns if kind in TABLES else [],
    }, status=200 if error is None else 422)  # fmt: skip


@router.post("/import/{token}", response_class=HTMLResponse, dependencies=[Staff, CSRF])
async def run(request: Request, token: str) -> HTMLResponse:
    folder = _folder(token)
    meta = json.loads((folder / "meta.json").read_text(encoding="utf-8"))
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and k != "csrf_token"}
    action = form.pop("action", "dry_run")
    if meta["workspace"] != current_workspace_name(request):
        raise NotFoundError("this upload belongs to another workspace; upload the file again")
    if action == "preview":
        return await _preview(request, token, meta, form)
    dry = action != "import"
    try:
        spec = _spec(form, meta["kind"])
        reports = await run_on_workspace(
            request, lambda ws: run_import(ws.store, meta["kind"], folder / meta["file"], spec, dry_run=dry, name=meta["name"])
        )  # fmt: skip
    except CxlensError as e:
        return await _preview(request, token, meta, form, error=str(e))
    if not dry:
        shutil.rmtree(folder, ignore_errors=True)
    views = []
    for r in reports.values():
        prev = r.preview
        views.append({
            "report": r, "summary": r.summary(),
            "head": list(prev.columns) if prev is not None else [],
            "rows": [] if prev is None else [[("" if v is None else str(v))[:60] for v in row]
                                             for row in prev.astype(object).where(prev.notna(), None).values.tolist()],
        })  # fmt: skip
    ok = all(not r.problems for r in reports.values())
    return _render(request, "imports/report.html", {"token": token, "meta": meta, "views": views, "dry_run": dry,
                                                   "ok": ok, "form": form})  # fmt: skip
