"""Stored results: what a job computed, with the data versions it was computed on.

A page that shows a model's output or a slow analysis reads the stored result and says how fresh
it is ("as of 10:42"); it never computes it inside the request. A result is *stale* when a table it
was computed from has changed since (its recorded data versions differ from the current ones, see
:meth:`cxlens.store.Store.data_version`); the job runner then queues a refresh.

Frames are stored as Parquet bytes (types kept exactly); other payloads as JSON in ``meta``.
"""

from __future__ import annotations

import datetime as dt
import io
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

__all__ = ["StoredResult", "load_result", "write_result"]


@dataclass(frozen=True)
class StoredResult:
    """One row of ``results``."""

    name: str
    kind: str
    versions: dict[str, int]
    computed_at: dt.datetime
    seconds: float | None
    payload: bytes | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def frame(self) -> pd.DataFrame | None:
        """The stored DataFrame (None when the result holds no frame)."""
        if not self.payload:
            return None
        return pd.read_parquet(io.BytesIO(self.payload))

    def is_stale(self, store: Any) -> bool:
        """True when a table it was computed from has changed since."""
        if not self.versions:
            return False
        return store.data_version(list(self.versions)) != self.versions

    def age_label(self) -> str:
        """``"as of 2026-12-02 10:42 UTC"``, for pages."""
        return f"as of {self.computed_at:%Y-%m-%d %H:%M} UTC"


def write_result(
    cur: Any,
    name: str,
    kind: str,
    *,
    versions: dict[str, int],
    seconds: float | None = None,
    frame: pd.DataFrame | None = None,
    meta: dict[str, Any] | None = None,
    computed_at: dt.datetime | None = None,
) -> None:
    """Store (replace) result ``name`` inside the caller's transaction (a job's completion)."""
    payload = None
    if frame is not None:
        buf = io.BytesIO()
        frame.to_parquet(buf, index=False)
        payload = buf.getvalue()
    cur.execute(
        "INSERT OR REPLACE INTO results (name, kind, versions, computed_at, seconds, payload, meta) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        [
            name,
            kind,
            json.dumps(versions, sort_keys=True),
            computed_at or dt.datetime.now(dt.UTC).replace(tzinfo=None),
            seconds,
            payload,
            json.dumps(meta or {}, default=str),
        ],
    )


def load_result(store: Any, name: str) -> StoredResult | None:
    """The stored result ``name``, or None when it was never computed."""
    if not store.is_duckdb:
        return None
    row = store.one(
        "SELECT name, kind, versions, computed_at, seconds, payload, meta FROM results WHERE name = ?", [name]
    )
    if row is None:
        return None
    return StoredResult(
        name=row[0],
        kind=row[1],
        versions=json.loads(row[2] or "{}"),
        computed_at=row[3],
        seconds=row[4],
        payload=bytes(row[5]) if row[5] is not None else None,
        meta=json.loads(row[6] or "{}"),
    )


def results_versions(store: Any, tables: Sequence[str]) -> dict[str, int]:
    """The current data versions of ``tables`` (what a result computed now would record)."""
    return store.data_version(list(tables))
