"""Saved segments' one owner: reusable customer groups stored in the workspace table ``segments``.

A saved segment is a name and its members (``segment, customer_id, kind, created_at``): RFM
segments, clusters, rule segments and drop-off lists saved from a funnel. Metrics, journeys, voice
and the dashboard filter by one through :func:`restrict_to_segment`, which works on any backend (a
semi-join on the members). How segments are *computed* lives in :mod:`cxlens.customers.segments`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

import ibis
import pandas as pd

from cxlens.errors import ConfigError, NotFoundError
from cxlens.schema.ddl import SEGMENTS_TABLE

__all__ = [
    "KINDS",
    "SEGMENTS_TABLE",
    "delete_segment",
    "list_segments",
    "restrict_to_segment",
    "save_segment",
    "save_segments",
    "saved_segment_names",
    "segment_members",
    "segment_table",
]

#: how a segment was made
KINDS = ("rfm", "cluster", "rule", "manual", "churn")


def save_segment(store: Any, name: str, customer_ids: Iterable[str], kind: str = "manual") -> int:
    """Store (or replace) segment ``name`` with these members; returns the members written."""
    if not name:
        raise ConfigError("segment name is empty; pass a name such as 'vip_de'")
    if kind not in KINDS:
        raise ConfigError(f"segment kind {kind!r} is not known; expected one of {', '.join(KINDS)}")
    ids = pd.Index(pd.Series(list(customer_ids), dtype=object).dropna().astype(str)).unique()
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    frame = pd.DataFrame({"segment": name, "customer_id": ids, "kind": kind, "created_at": now})
    with store.transaction(changes=[SEGMENTS_TABLE]) as cur:
        cur.execute(f"DELETE FROM {SEGMENTS_TABLE} WHERE segment = ?", [name])
        cur.register("_cx_segment_rows", frame)
        try:
            cur.execute(
                f"INSERT INTO {SEGMENTS_TABLE} SELECT segment, customer_id, kind, created_at FROM _cx_segment_rows"
            )
        finally:
            cur.unregister("_cx_segment_rows")
    return len(ids)


def save_segments(store: Any, labels: pd.Series, kind: str, *, prefix: str = "") -> dict[str, int]:
    """Store each value of ``labels`` (indexed by customer id) as its own segment ``prefix + value``, in one transaction."""
    out = {}
    with store.transaction(changes=[SEGMENTS_TABLE]):
        for value, members in labels.groupby(labels, sort=True):
            out[f"{prefix}{value}"] = save_segment(store, f"{prefix}{value}", members.index, kind=kind)
    return out


def segment_members(store: Any, name: str) -> pd.Index:
    """Customer ids of stored segment ``name`` (sorted)."""
    df = store.read(f"SELECT customer_id FROM {SEGMENTS_TABLE} WHERE segment = ? ORDER BY customer_id", [name])
    if df.empty:
        _unknown(store, name)
    return pd.Index(df["customer_id"].tolist(), name=name)


def list_segments(store: Any) -> pd.DataFrame:
    """Stored segments: ``segment, kind, customers, created_at``."""
    return store.read(
        f"SELECT segment, any_value(kind) AS kind, count(*) AS customers, max(created_at) AS created_at "
        f"FROM {SEGMENTS_TABLE} GROUP BY segment ORDER BY segment"
    )


def delete_segment(store: Any, name: str) -> None:
    """Remove stored segment ``name`` (nothing happens when it does not exist)."""
    with store.transaction(changes=[SEGMENTS_TABLE]) as cur:
        cur.execute(f"DELETE FROM {SEGMENTS_TABLE} WHERE segment = ?", [name])


def saved_segment_names(store: Any) -> list[str]:
    """Names of the stored segments, sorted (empty when none was saved)."""
    try:
        seg = store.table(SEGMENTS_TABLE)
    except NotFoundError:
        return []
    df = store.read(seg.select("segment").distinct())
    return sorted(df["segment"].dropna().astype(str).tolist())


def _unknown(store: Any, name: str) -> None:
    known = saved_segment_names(store)
    if name in known:
        return
    shown = ", ".join(repr(k) for k in known[:10]) or "none yet"
    raise NotFoundError(
        f"no stored segment {name!r}; expected one of the saved segments ({shown}); "
        "save one with 'cxlens segments rfm --save' or save_segment()"
    )


def segment_table(store: Any, name: str) -> ibis.Table:
    """The members of stored segment ``name`` as an Ibis table (one distinct ``customer_id`` column).

    Raises :class:`~cxlens.errors.NotFoundError` naming the stored segments when ``name`` is not one.
    """
    try:
        seg = store.table(SEGMENTS_TABLE)
    except NotFoundError:
        seg = None
    if seg is None:
        _unknown(store, name)
    hit = seg.filter(seg.segment == name)
    if int(store.read(hit.count())) == 0:
        _unknown(store, name)
    return hit.select(customer_id=hit.customer_id.cast("string")).distinct()


def restrict_to_segment(store: Any, table: ibis.Table, name: str | None) -> ibis.Table:
    """``table`` limited to rows whose ``customer_id`` is a member of stored segment ``name`` (``None``: as is)."""
    if name is None:
        return table
    members = segment_table(store, name)
    return table.semi_join(members, table.customer_id.cast("string") == members.customer_id)
