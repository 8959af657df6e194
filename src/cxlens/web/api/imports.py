"""``POST /api/v1/import/{kind}``: import a file over HTTP, with a secret key.

The same import as ``cxlens import KIND FILE`` (:func:`cxlens.ingest.registry.run_import`): the
same validation, presets and all-or-nothing guarantee, and the same report, as JSON. The file is
the request body (``curl --data-binary @export.csv -H 'Content-Type: text/csv'``) or the ``file``
part of a multipart form (``curl -F file=@export.csv``); it is streamed to a temporary file,
refused past the size limit (workspace setting ``import.max_bytes``, default 1 GiB) and deleted
afterwards. The client's file name is used only in messages and to tell the format by its
extension; it is never a path. Options are query parameters with the names of
:class:`~cxlens.ingest.spec.ImportSpec` (``?delimiter=;&dayfirst=true&map=score=Rating``;
``map``, ``set`` and ``drop`` repeat) plus ``dry_run=true``.

Answers 200 with ``{"kind", "dry_run", "reports": {table: report}}``; a rejected file is a 422
naming the row and column, nothing written; no key 401, a write key 403, too big 413.
"""

from __future__ import annotations

import os
import re
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Request

from cxlens.errors import ParameterError, PayloadTooLargeError
from cxlens.ingest.registry import run_import
from cxlens.ingest.spec import ImportSpec
from cxlens.web.deps import authenticate_key, run_on_workspace

__all__ = ["DEFAULT_MAX_BYTES", "Upload", "receive_upload", "router", "safe_name", "spec_from_query"]

router = APIRouter(tags=["import"])
DEFAULT_MAX_BYTES = 1 << 30
_TYPES = {
    "text/csv": ".csv",
    "text/tab-separated-values": ".tsv",
    "application/x-ndjson": ".jsonl",
    "application/jsonl": ".jsonl",
    "application/json": ".json",
    "application/vnd.apache.parquet": ".parquet",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
}
_REPEATED = ("map", "set", "drop")


def safe_name(name: str | None, fallback: str = "upload") -> str:
    """A client's file name reduced to a harmless base name (for messages and the extension only)."""
    base = re.split(r"[\\/]", name or "")[-1]
    base = re.sub(r"[^\w.\- ]+", "_", base).strip(" .")[:120]
    return base or fallback


class Upload:
    """An uploaded file in a private temporary folder (deleted by :meth:`close`)."""

    def __init__(self, name: str):
        self.dir = Path(tempfile.mkdtemp(prefix="cxlens-upload-"))
        os.chmod(self.dir, 0o700)
        self.name = name
        suffix = "".join(Path(name).suffixes[-2:]) if Path(name).suffix else ""
        self.path = self.dir / f"upload{suffix}"
        self.size = 0

    def close(self) -> None:
        shutil.rmtree(self.dir, ignore_errors=True)


async def _copy(chunks: AsyncIterator[bytes], up: Upload, limit: int) -> None:
    with open(up.path, "wb") as fh:
        async for chunk in chunks:
            up.size += len(chunk)
            if up.size > limit:
                raise PayloadTooLargeError(f"the file is over the import limit of {limit:,} bytes", param="file")
            fh.write(chunk)


async def receive_upload(request: Request, limit: int, *, field: str = "file") -> tuple[Upload, dict[str, Any]]:
    """Stream the request's file to a temporary file; returns it and the other form fields.

    A multipart form's ``field`` part, else the raw body (named by ``?filename=`` or by its
    Content-Type). Refused with 413 past ``limit`` bytes (by Content-Length before reading).
    """
    length = request.headers.get("content-length")
    if length and length.isdigit() and int(length) > limit + 64 * 1024:
        raise PayloadTooLargeError(f"the file is over the import limit of {limit:,} bytes", param="file")
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    fields: dict[str, Any] = {}
    if ctype == "multipart/form-data":
        form = await request.form(max_files=1, max_fields=200)
        part = form.get(field)
        if part is None or isinstance(part, str):
            raise ParameterError(field, f"the form has no file part {field!r}; send the file as {field}=@export.csv")
        up = Upload(safe_name(part.filename))

        async def parts() -> AsyncIterator[bytes]:
            while chunk := await part.read(1 << 20):
                yield chunk

        try:
            await _copy(parts(), up, limit)
        except BaseException:
            up.close()
            raise
        for k, v in form.multi_items():
            if k != field and isinstance(v, str):
                fields.setdefault(k, []).append(v)
        return up, fields
    name = request.query_params.get("filename") or ("upload" + _TYPES.get(ctype, ""))
    up = Upload(safe_name(name))
    try:
        await _copy(request.stream(), up, limit)
    except BaseException:
        up.close()
        raise
    if up.size == 0:
        up.close()
        raise ParameterError("file", "the request has no body; send the file as the body or as a multipart 'file' part")
    return up, fields


def spec_from_query(items: list[tuple[str, str]], skip: tuple[str, ...] = ()) -> ImportSpec:
    """An :class:`ImportSpec` from query or form pairs (``map``, ``set``, ``drop`` may repeat)."""
    d: dict[str, Any] = {}
    for k, v in items:
        if k in skip:
            continue
        if k in _REPEATED:
            d.setdefault(k, []).append(v)
        else:
            d[k] = v
    return ImportSpec.from_dict(d, where="the query")


@router.post(
    "/api/v1/import/{kind}",
    summary="Import a file into a table or through a preset (secret key; all or nothing)",
    responses={401: {"description": "no or unknown key"}, 403: {"description": "not a secret key"},
               413: {"description": "file over the limit"}, 422: {"description": "rejected: nothing written"}},
)  # fmt: skip
async def import_file(request: Request, kind: str) -> dict[str, Any]:
    ctx = authenticate_key(request, kinds=("secret",))
    query = list(request.query_params.multi_items())
    dry_run = request.query_params.get("dry_run", "false").lower() in ("1", "true", "yes")
    spec = spec_from_query(query, skip=("dry_run", "filename"))
    limit = int(ctx.ws.setting("import.max_bytes", DEFAULT_MAX_BYTES))
    up, _ = await receive_upload(request, limit)
    try:
        reports = await run_on_workspace(
            request, lambda ws: run_import(ws.store, kind, up.path, spec, dry_run=dry_run, name=up.name)
        )
    finally:
        up.close()
    return {"kind": kind, "dry_run": dry_run, "reports": {t: r.as_dict() for t, r in reports.items()}}
