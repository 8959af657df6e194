"""Paths: what customers do after (or before) a given event, and what they did right before leaving.

Every function takes the ``events`` table (an Ibis table, on any backend) and returns a small
tidy DataFrame; the work is one Ibis expression per call, built from window functions
(``row_number``, ``lag``, ``lead``) over each customer's events ordered by ``ts`` with
``event_id`` as the tie-breaker, so equal timestamps have one fixed order on every backend.

Semantics (``docs/journeys.md`` has the long form):

- A *unit* is a customer (``coalesce(customer_id, anonymous_id)``, as funnels use) or, with
  ``unit="session"``, a ``session_id``. Events without a unit id are ignored.
- A *node* is the value of ``by_field`` (``name`` or ``touchpoint``; missing values read
  ``"(none)"``). With ``collapse_repeats`` consecutive repeats of a node count once
  (``view > view > cart`` is ``view > cart``).
- The *anchor* is each unit's **first** node equal to ``start`` (paths *from*), or its first node
  equal to ``end`` (paths *to*), or its first node at all (neither given). Each unit contributes
  exactly one path, so counts are units, not occurrences.
- A path from ``start`` is the anchor and the next ``steps - 1`` nodes (``step_1`` = ``start``);
  a path to ``end`` is the ``steps - 1`` nodes before it and the anchor (``step_n`` = ``end``).
  Missing steps (the unit had no more events, or they fell outside ``window`` from the anchor)
  are ``None``.
- ``conversion`` (with ``goal``): the share of the path's units with a ``goal`` event strictly
  after the anchor (in the ``ts, event_id`` order), within ``window`` of the anchor if one is given.

Shares and conversions are fractions (0-1), as in :mod:`cxlens.journeys.funnels`.

Examples
--------
>>> import cxlens, pandas as pd
>>> ws = cxlens.open(":memory:")
>>> rows = pd.DataFrame({"customer_id": ["a", "a", "a", "b", "b", "c"],
...                      "ts": ["2024-05-01 10:00", "2024-05-01 10:01", "2024-05-01 10:02",
...                             "2024-05-02 09:00", "2024-05-02 09:05", "2024-05-03"],
...                      "name": ["visit", "cart", "purchase", "visit", "cart", "visit"]})
>>> _ = ws.load("events", rows)
>>> paths(ws.table("events"), start="visit", steps=3, goal="purchase")[["path", "customers", "share", "conversion"]]
                      path  customers     share  conversion
0                    visit          1  0.333333         0.0
1             visit > cart          1  0.333333         0.0
2  visit > cart > purchase          1  0.333333         1.0
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxlens.errors import ConfigError
from cxlens.journeys.sqlfns import epoch_us
from cxlens.store import read_snapshot

__all__ = ["EXIT", "NONE_NODE", "PATH_SEP", "UNITS", "flows", "last_before_dropoff", "paths"]

#: label of a missing ``by_field`` value
NONE_NODE = "(none)"
#: target of a flow edge for units whose path ends before the last step
EXIT = "(exit)"
#: separator of the joined ``path`` column
PATH_SEP = " > "
#: what one path is counted per: output column name of the count
UNITS = {"customer": "customers", "session": "sessions"}
_FIELDS = ("name", "touchpoint", "channel", "stage", "type", "url")


def _window(window: Any) -> dt.timedelta | None:
    if window is None:
        return None
    from cxlens.journeys.funnels import parse_window

    return parse_window(window)


def _within(later: ir.Value, earlier: ir.Value, td: dt.timedelta) -> ir.BooleanValue:
    """``later - earlier <= td`` as timestamp arithmetic every backend supports."""
    us = round(td.total_seconds() * 1_000_000)
    iv = ibis.interval(seconds=us // 1_000_000) if us % 1_000_000 == 0 else ibis.interval(microseconds=us)
    return later <= earlier + iv


def _check(events: ir.Table, by_field: str, unit: str, steps: int | None = None) -> None:
    if unit not in UNITS:
        raise ConfigError(f"unknown unit {unit!r}; expected one of {', '.join(UNITS)}")
    if by_field not in events.columns:
        raise ConfigError(
            f"events have no column {by_field!r} to build paths from; expected one of "
            f"{', '.join(c for c in _FIELDS if c in events.columns)}"
        )
    if steps is not None and (not isinstance(steps, int) or isinstance(steps, bool) or steps < 1):
        raise ConfigError(f"steps is {steps!r}; expected a whole number of path steps, at least 1")


def _base(
    events: ir.Table,
    by_field: str,
    unit: str,
    filters: Mapping[str, Any] | None,
    extra: Sequence[str] = (),
    numbered: bool = True,
) -> ir.Table:
    """Events with ``_u`` (unit), ``_ts``, ``_eid``, ``_n`` (node) and, when ``numbered``, ``_rn``
    (1-based position in the unit's ordered events)."""
    t = events
    for col, v in (filters or {}).items():
        if col not in t.columns:
            raise ConfigError(f"events have no column {col!r} to filter on; expected one of {', '.join(t.columns)}")
        if v is None:
            t = t.filter(t[col].isnull())
        elif isinstance(v, (list, tuple, set, frozenset)):
            t = t.filter(t[col].isin(list(v)))
        else:
            t = t.filter(t[col] == v)
    if unit == "session":
        u = t.session_id
    elif "anonymous_id" in t.columns:
        u = ibis.coalesce(t.customer_id, t.anonymous_id)
    else:
        u = t.customer_id
    cols = {"_u": u, "_ts": t.ts, "_eid": t.event_id, "_n": t[by_field].cast("string").fill_null(NONE_NODE)}
    for c in extra:
        cols[c] = t[c]
    b = t.select(**cols).filter(ibis._._u.notnull())
    if not numbered:
        return b
    w = ibis.window(group_by=b._u, order_by=[b._ts, b._eid])
    return b.mutate(_rn=ibis.row_number().over(w) + 1)


def _collapse(b: ir.Table) -> ir.Table:
    """Drop consecutive repeats of a node and number the rest (``_pos``, 1-based)."""
    w = ibis.window(group_by=b._u, order_by=[b._ts, b._eid])
    b = b.mutate(_prev=b._n.lag().over(w))
    b = b.filter(b._prev.isnull() | (b._prev != b._n)).drop("_prev")
    return b.mutate(_pos=ibis.row_number().over(ibis.window(group_by=b._u, order_by=[b._ts, b._eid])) + 1)


def _anchored(
    events: ir.Table,
    *,
    start: str | None,
    end: str | None,
    steps: int,
    by_field: str,
    window: Any,
    collapse_repeats: bool,
    unit: str,
    filters: Mapping[str, Any] | None,
) -> ir.Table:
    """One row per unit: ``_u, _ts, _eid`` of the anchor and ``step_1..step_n``."""
    if start is not None and end is not None:
        raise ConfigError(f"paths got both start={start!r} and end={end!r}; expected one of them (or neither)")
    _check(events, by_field, unit, steps)
    td = _window(window)
    if start is not None and end is None and collapse_repeats:
        return _anchored_from(events, start, steps, by_field, td, unit, filters)
    b = _base(events, by_field, unit, filters)
    b = _collapse(b) if collapse_repeats else b.mutate(_pos=b._rn)
    w = ibis.window(group_by=b._u, order_by=[b._ts, b._eid])
    anchor = start if start is not None else end
    if anchor is None:
        b = b.mutate(_first=ibis.literal(1, "int64"))
    else:
        b = b.mutate(_first=ibis.ifelse(b._n == anchor, b._pos, ibis.null("int64")).min().over(group_by=b._u))
    shifted: dict[str, ir.Value] = {}
    for k in range(1, steps):
        if end is None:
            node, ts = b._n.lead(k).over(w), b._ts.lead(k).over(w)
            inside = _within(ts, b._ts, td) if td is not None else None
        else:
            node, ts = b._n.lag(k).over(w), b._ts.lag(k).over(w)
            inside = _within(b._ts, ts, td) if td is not None else None
        shifted[f"_s{k}"] = node if inside is None else ibis.ifelse(inside, node, ibis.null("string"))
    b = b.mutate(**shifted).filter(b._pos == b._first)
    if end is None:
        cols = {"step_1": b._n, **{f"step_{k + 1}": b[f"_s{k}"] for k in range(1, steps)}}
    else:
        cols = {**{f"step_{steps - k}": b[f"_s{k}"] for k in range(steps - 1, 0, -1)}, f"step_{steps}": b._n}
    return b.select("_u", "_ts", "_eid", **cols)


def _anchored_from(
    events: ir.Table,
    start: str,
    steps: int,
    by_field: str,
    td: dt.timedelta | None,
    unit: str,
    filters: Mapping[str, Any] | None,
) -> ir.Table:
    """:func:`_anchored` for paths *from* ``start`` with repeats collapsed, cheaper: the anchors
    (each unit's first ``start`` event in ``(ts, event_id)`` order) come from two group-bys, and
    only the events from the anchor on (within the window) are sorted, once to collapse repeats
    and once to number the nodes. (The anchor is never collapsed away — no earlier ``start`` —
    and an event after it is collapsed against its predecessor, which is also in that tail.)"""
    b = _base(events, by_field, unit, filters, numbered=False)
    s = b.filter(b._n == start)
    first = s.group_by(_fu="_u").aggregate(_fts=s._ts.min())
    s = s.join(first, [s._u == first._fu, s._ts == first._fts])
    anchor = s.group_by(_au="_u").aggregate(_ats=s._ts.min(), _aeid=s._eid.min())
    t = b.join(anchor, b._u == anchor._au)
    after = (t._ts > t._ats) | ((t._ts == t._ats) & (t._eid >= t._aeid))
    t = t.filter(after if td is None else after & _within(t._ts, t._ats, td)).drop("_au")
    w = ibis.window(group_by=t._u, order_by=[t._ts, t._eid])
    t = t.mutate(_prev=t._n.lag().over(w))
    t = t.filter(t._prev.isnull() | (t._prev != t._n))
    t = t.mutate(_pos=ibis.row_number().over(ibis.window(group_by=t._u, order_by=[t._ts, t._eid])) + 1)
    t = t.filter(t._pos <= steps)
    cols = {f"step_{k}": t._n.max(where=t._pos == k) for k in range(1, steps + 1)}
    return t.group_by("_u").aggregate(_ts=t._ats.max(), _eid=t._aeid.max(), **cols)


def _with_goal(
    a: ir.Table,
    events: ir.Table,
    goal: str | None,
    goal_field: str,
    unit: str,
    window: Any,
    filters: Mapping[str, Any] | None,
) -> ir.Table:
    """Add ``_conv`` (1 when the unit has a goal event after its anchor, within the window)."""
    if goal is None:
        return a.mutate(_conv=ibis.literal(0, "int64"))
    _check(events, goal_field, unit)
    td = _window(window)
    g = _base(events, goal_field, unit, filters, numbered=False)
    g = g.filter(g._n == goal).select(_gu=g._u, _geid=g._eid, _gts=g._ts)
    # strictly after the anchor in the (ts, event_id) order
    cond = [a._u == g._gu, (g._gts > a._ts) | ((g._gts == a._ts) & (g._geid > a._eid))]
    if td is not None:
        cond.append(_within(g._gts, a._ts, td))
    hits = a.join(g, cond).select(_cu=a._u).distinct()
    j = a.left_join(hits, a._u == hits._cu)
    return j.mutate(_conv=ibis.ifelse(j._cu.notnull(), 1, 0).cast("int64")).drop("_cu")


#: read paths *from* a start node on DuckDB as one sorted scan (tests switch it off to compare)
FAST_SCAN = True


_EPOCH = dt.datetime(1970, 1, 1)
#: on a DuckDB connection of this process, read the tied rows' event ids after the sorted scan
#: (in its transaction) instead of carrying every event id through the sort (tests switch it off)
IDS_AFTER = True

#: on a DuckDB connection of this process, read paths *from* a start node as the packed scan
#: (:mod:`cxlens.journeys.path_scan`: an unsorted read sorted in NumPy) before DuckDB's sorted
#: scan (tests switch it off to compare)
PACKED = True

#: at most this many distinct nodes are sent from DuckDB as an ENUM (integer codes, no text per row)
_ENUM_MAX = 4096


def _sorted_scan(backend: Any, b: ir.Table, with_ids: bool = True) -> Any:
    """``u, n, us`` (and ``e`` with ``with_ids``) of the rows of ``b`` sorted by ``(unit, ts)`` as an Arrow table.

    With few distinct nodes (the usual event names or touchpoints) the node column is cast to a
    DuckDB ``ENUM`` of them, so it arrives dictionary-encoded: the sort moves and Arrow receives
    small integer codes, not 10M strings that Python would have to encode again. The event id,
    text carried through the sort for every row, cost as much as a quarter of the read; without
    it the tied rows' ids are read afterwards (:func:`_tied_ids`)."""
    import pyarrow as pa

    cols = {"u": b._u, "n": b._n, "us": epoch_us(b._ts)}
    if with_ids:
        cols["e"] = b._eid
    sel = b.select(**cols)
    empty = pa.table({c: [] for c in cols})
    nodes = b.select(b._n).distinct().limit(_ENUM_MAX + 1).to_pyarrow().column(0).to_pylist()
    if len(nodes) > _ENUM_MAX or not nodes:
        return sel.order_by(["u", "us"]).to_pyarrow()
    enum = "ENUM(" + ", ".join("'" + str(v).replace("'", "''") + "'" for v in nodes) + ")"
    sql = ibis.to_sql(sel, dialect="duckdb")
    q = f"SELECT u, CAST(n AS {enum}) AS n, us{', e' if with_ids else ''} FROM ({sql}) AS _s ORDER BY u, us"
    try:
        tbl = backend.con.sql(q).to_arrow_table()  # as ibis reads a query (a relation, streamed)
    except Exception:  # noqa: BLE001 - a node added since the distinct read fails the cast: read text
        return sel.order_by(["u", "us"]).to_pyarrow()
    return tbl if tbl.num_rows else empty


def _tied_ids(b: ir.Table, units: Any, us: np.ndarray, nodes: Any) -> Any:
    """The event ids of the tied rows (``units``, ``us``, ``nodes``: Arrow arrays, one per row) or None.

    One more read, in the same transaction as the sorted scan, of the rows at the tied moments;
    its rows are matched to the scan's by (unit, µs, node) — rows equal in all three are
    interchangeable, any of their ids fits — and a read that does not hold exactly the same rows
    gives None."""
    import pyarrow as pa
    import pyarrow.compute as pc

    moments = np.unique(us)
    if b._ts.type().timezone is None and len(moments) <= _ENUM_MAX:
        # a list of timestamps DuckDB filters the scan by (on epoch_us(ts) it would test every value)
        at = [_EPOCH + dt.timedelta(microseconds=int(v)) for v in moments]
        b = b.filter(b._ts.isin(at))
    else:
        b = b.filter(epoch_us(b._ts).isin(ibis.memtable(pa.table({"us": moments}))["us"]))
    got = b.select(u=b._u, n=b._n, us=epoch_us(b._ts), e=b._eid).to_pyarrow()
    mine = pa.table({"u": units, "us": pa.array(us), "n": pc.cast(nodes, pa.string()), "i": np.arange(len(us))})
    if got.num_rows < mine.num_rows:
        return None
    keys = [("u", "ascending"), ("us", "ascending"), ("n", "ascending")]
    got = got.select(["u", "us", "n", "e"]).cast(
        pa.schema([("u", pa.string()), ("us", pa.int64()), ("n", pa.string()), ("e", got.schema.field("e").type)])
    )
    # only the scan's (unit, µs) pairs: the read holds every row at those moments
    got = got.filter(
        pc.is_in(
            pc.binary_join_element_wise(got["u"], pc.cast(got["us"], pa.string()), "\x00"),
            value_set=pc.binary_join_element_wise(mine["u"], pc.cast(mine["us"], pa.string()), "\x00"),
        )
    )
    if got.num_rows != mine.num_rows:
        return None
    got = got.take(pc.sort_indices(got, keys))
    mine = mine.take(pc.sort_indices(mine, keys))
    for c in ("u", "us", "n"):
        if not pc.all(pc.equal(got[c], mine[c])).as_py():
            return None
    ids = got["e"].combine_chunks()
    return ids.take(pa.array(np.argsort(mine["i"].to_numpy())))


def _take(col: Any, rows: np.ndarray) -> Any:
    """``col[rows]`` for a chunked Arrow column and sorted row numbers, taken chunk by chunk
    (``pc.take`` on the whole chunked column first joins its chunks: 10M event ids copied to
    read a few hundred)."""
    import pyarrow as pa

    ends = np.cumsum([len(c) for c in col.chunks])
    which = np.searchsorted(ends, rows, side="right")
    parts = []
    for i in np.unique(which):
        sel = rows[which == i] - (ends[i - 1] if i else 0)
        parts.append(col.chunk(int(i)).take(pa.array(sel)))
    return pa.chunked_array(parts, type=col.type)


def _fast_from(
    events: ir.Table,
    start: str,
    steps: int,
    by_field: str,
    td: dt.timedelta | None,
    unit: str,
    filters: Mapping[str, Any] | None,
    goal: str | None,
) -> pd.DataFrame | None:
    """:func:`paths` from ``start`` with repeats collapsed, on DuckDB, as one sorted scan: the
    grouped counts (``step_1 …``, the count, ``converted``, ``_total``) or None when the scan
    does not apply (another backend, timestamps finer than microseconds).

    DuckDB reads each unit's events sorted by ``(unit, ts, event_id)`` — the order of the
    window passes — as ``(unit, node, µs)``; units are numbered where the sorted unit text
    changes, a row is kept when it starts a unit or its node differs from the previous row's
    (collapsing repeats), the anchor is each unit's first ``start`` row, and the path is the
    anchor and the next kept rows of the same unit (within the window). With ``goal`` (matched
    on the same field) a unit converts when a later row of it, within the window, is the goal.
    On a DuckDB connection of this process the tied rows' event ids are read afterwards in the
    same read transaction (:func:`_tied_ids`); elsewhere they travel through the sort."""
    try:
        if events._find_backend().name != "duckdb":
            return None
    except Exception:  # noqa: BLE001 - unbound tables
        return None
    ts_type = events.ts.type()
    if not ts_type.is_timestamp() or (ts_type.scale is not None and ts_type.scale > 6):
        return None
    b = _base(events, by_field, unit, filters, numbered=False)
    backend = events._find_backend()
    with read_snapshot(backend) as one_state:  # the scan and the tied rows' ids read one state
        if PACKED and one_state:
            df = _packed_from(events, by_field, filters, start, steps, td, unit, goal)
            if df is not None:
                return df
        return _scan_paths(b, backend, start, steps, td, unit, goal, ids_later=IDS_AFTER and one_state)


def _packed_from(
    events: ir.Table,
    by_field: str,
    filters: Mapping[str, Any] | None,
    start: str,
    steps: int,
    td: dt.timedelta | None,
    unit: str,
    goal: str | None,
) -> pd.DataFrame | None:
    """The grouped counts of :func:`_fast_from` from the packed scan
    (:func:`cxlens.journeys.path_scan.packed_paths`), or None when it does not apply.

    The ENUM of nodes is read from all the events, unfiltered: a superset of the filtered rows'
    nodes, for a sixth of the CPU of a distinct over the filtered ones (0.06 against 0.36 CPU-s at
    10M events, where the unit filter reads the id text)."""
    from cxlens.journeys.path_scan import packed_paths

    n = events[by_field].cast("string").fill_null(NONE_NODE)
    nodes = events.select(_n=n).distinct().limit(_ENUM_MAX + 1).to_pyarrow().column(0).to_pylist()
    if len(nodes) > _ENUM_MAX or not nodes:
        return None
    got = packed_paths(
        events, lambda ev: _base(ev, by_field, unit, filters, numbered=False), nodes, start, steps, td, goal
    )
    if got is None:
        return None
    return _grouped(*got, nodes, steps, UNITS[unit])


def _grouped(codes: list[np.ndarray], conv: np.ndarray, nodes: list[str], steps: int, count: str) -> pd.DataFrame:
    """Units and conversions per path, from each anchored unit's step codes (into ``nodes``, -1:
    ended): one integer per path (base ``len(nodes) + 1``) counted by ``bincount`` when the paths
    fit a small table, else grouped by ``np.unique``."""
    keys = [f"step_{k}" for k in range(1, steps + 1)]
    base = len(nodes) + 1
    n = len(conv)
    if base**steps < 1 << 62:
        path = np.zeros(n, np.int64)
        for c in reversed(codes):
            path *= base
            path += c + 1
        if base**steps <= 1 << 20:
            units = np.bincount(path, minlength=base**steps)
            uniq = np.flatnonzero(units)
            units = units[uniq]
            converted = np.bincount(path, weights=conv, minlength=base**steps)[uniq].astype(np.int64)
        else:
            uniq, inv, units = np.unique(path, return_inverse=True, return_counts=True)
            converted = np.bincount(inv, weights=conv, minlength=len(uniq)).astype(np.int64)
        step_codes = []
        for _ in range(steps):
            step_codes.append(uniq % base - 1)
            uniq = uniq // base
    else:  # long paths over many nodes: one row per distinct path of codes
        uniq2, inv, units = np.unique(np.stack(codes, axis=1), axis=0, return_inverse=True, return_counts=True)
        converted = np.bincount(inv.ravel(), weights=conv, minlength=len(uniq2)).astype(np.int64)
        step_codes = [uniq2[:, k] for k in range(steps)]
    names = np.array([*nodes, None], dtype=object)  # code -1 reads the last: None
    df = pd.DataFrame({k: names[c] for k, c in zip(keys, step_codes, strict=True)})
    df[count] = units.astype(np.int64)
    df["converted"] = converted
    df["_total"] = int(n)
    return df


def _scan_paths(
    b: ir.Table,
    backend: Any,
    start: str,
    steps: int,
    td: dt.timedelta | None,
    unit: str,
    goal: str | None,
    ids_later: bool,
) -> pd.DataFrame | None:
    """The body of :func:`_fast_from` (in its transaction)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    # sorting by the text event id too would double the sort's cost: sort by (unit, ts) and
    # order the rare rows of one unit at one timestamp by event id here
    tbl = _sorted_scan(backend, b, with_ids=not ids_later)
    rows = tbl.num_rows
    keys = [f"step_{k}" for k in range(1, steps + 1)]
    count = UNITS[unit]
    if rows == 0:
        return pd.DataFrame({**{k: [] for k in keys}, count: [], "converted": [], "_total": []})
    u = tbl.column("u")
    new = np.ones(rows, bool)
    if rows > 1:
        new[1:] = pc.not_equal(u.slice(1), u.slice(0, rows - 1)).to_numpy(zero_copy_only=False)
    del u
    unit_no = np.cumsum(new, dtype=np.int32 if rows < 2**31 else np.int64)
    us = tbl.column("us").to_numpy()
    # the nodes as integer codes into one dictionary
    enc = tbl.column("n")
    if not pa.types.is_dictionary(enc.type):
        enc = pc.dictionary_encode(enc)
    enc = pa.table({"n": enc}).unify_dictionaries().column("n")
    names = enc.chunk(0).dictionary.cast(pa.string())
    codes = np.concatenate([c.indices.to_numpy(zero_copy_only=False) for c in enc.chunks])
    del enc
    step = np.ones(rows, bool)  # a row starting a (unit, ts) run
    step[1:] = new[1:] | (us[1:] != us[:-1])
    if not step.all():
        tie = ~step
        tie[:-1] |= ~step[1:]  # every row of a run of two or more
        at_tie = np.flatnonzero(tie)
        run = np.cumsum(step[at_tie])  # every run among them starts with its step row
        # event id order as the backend's (binary text order, nulls last)
        if "e" in tbl.column_names:
            ids = _take(tbl.column("e"), at_tie)
        else:
            ids = _tied_ids(b, _take(tbl.column("u"), at_tie), us[at_tie], names.take(pa.array(codes[at_tie])))
            if ids is None:  # not the rows the scan read (cannot happen in one transaction)
                return None
        sub = pa.table({"r": run, "e": ids})
        perm = pc.sort_indices(sub, [("r", "ascending", "at_end"), ("e", "ascending", "at_end")]).to_numpy()
        # ``codes`` is a fresh array; ``us`` is equal within a run, so only the codes move
        codes[at_tie] = codes[at_tie[perm]]
    del tbl
    same = np.zeros(rows, bool)
    same[1:] = codes[1:] == codes[:-1]
    start_code = pc.index(names, start).as_py()
    is_start = codes == start_code if start_code >= 0 else np.zeros(rows, bool)
    idx = np.flatnonzero(is_start)
    first = np.ones(len(idx), bool)
    first[1:] = unit_no[idx[1:]] != unit_no[idx[:-1]]
    anchor = idx[first]
    kept = np.flatnonzero(new | ~same)  # the anchor is always kept: no earlier start in its unit
    at = np.searchsorted(kept, anchor)
    limit = us[anchor] + round(td.total_seconds() * 1_000_000) if td is not None else None
    cols: dict[str, Any] = {"step_1": names.take(pa.array(codes[anchor]))}
    for k in range(1, steps):
        j = at + k
        ok = j < len(kept)
        pos = kept[np.where(ok, j, 0)]
        ok &= unit_no[pos] == unit_no[anchor]
        if limit is not None:
            ok &= us[pos] <= limit
        cols[f"step_{k + 1}"] = names.take(pa.array(codes[pos], mask=~ok))
    if goal is None:
        conv = np.zeros(len(anchor), np.int64)
    else:
        goal_code = pc.index(names, goal).as_py()
        g = np.flatnonzero(codes == goal_code) if goal_code >= 0 else np.zeros(0, np.int64)
        nxt = np.searchsorted(g, anchor, side="right")  # the first goal row after the anchor
        ok = nxt < len(g)
        gp = g[np.where(ok, nxt, 0)]
        ok &= unit_no[gp] == unit_no[anchor]
        if limit is not None:
            ok &= us[gp] <= limit
        conv = ok.astype(np.int64)
    grouped = (
        pa.table({**cols, "_conv": conv})
        .group_by(keys, use_threads=False)
        .aggregate([([], "count_all"), ("_conv", "sum")])
    )
    df = pd.DataFrame(
        {
            **{k: grouped.column(k).to_pandas() for k in keys},
            count: grouped.column("count_all").to_numpy(),
            "converted": grouped.column("_conv_sum").to_numpy(),
        }
    )
    df["_total"] = int(len(anchor))
    return df


def _objects(col: pd.Series) -> pd.Series:
    """Text column with ``None`` (never NaN) for missing values, whatever the backend returned."""
    return pd.Series([None if pd.isna(v) else v for v in col], index=col.index, dtype=object)


def _sort(df: pd.DataFrame, count: str, keys: list[str]) -> pd.DataFrame:
    """Largest count first; ties by the steps in order (an ended path before its longer ones), so every backend agrees."""
    txt = df[keys].fillna("").astype(str)
    order = pd.DataFrame({"c": -df[count].to_numpy(), **{k: txt[k].to_numpy() for k in keys}})
    return df.loc[order.sort_values(["c", *keys], kind="mergesort").index].reset_index(drop=True)


def paths(
    events: ir.Table,
    start: str | None = None,
    end: str | None = None,
    *,
    steps: int = 3,
    by_field: str = "name",
    top: int | None = 20,
    window: str | dt.timedelta | int | float | None = None,
    collapse_repeats: bool = True,
    goal: str | None = None,
    goal_field: str | None = None,
    unit: str = "customer",
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Top paths from ``start`` (or to ``end``), one path per customer.

    Parameters
    ----------
    events
        The events table (``ws.table("events")``), on any Ibis backend.
    start, end
        Paths beginning at each unit's first ``start`` node, or ending at its first ``end``
        node; at most one of them. Neither: paths from each unit's first event.
    steps
        Nodes per path, anchor included.
    by_field
        ``"name"`` (event names) or ``"touchpoint"`` (or another events column).
    top
        Keep the ``top`` most frequent paths (``None``: all).
    window
        Only events within this long of the anchor count (``"30m"``, ``"7d"``, a timedelta…;
        ``None``: no limit); also bounds ``conversion``.
    collapse_repeats
        Count consecutive repeats of a node once.
    goal, goal_field
        Adds ``conversion``: share of the path's units with a ``goal`` event (matched on
        ``goal_field``, default ``by_field``) after the anchor.
    unit
        ``"customer"`` or ``"session"``: what one path belongs to and what is counted.
    filters
        ``{events column: value | [values]}`` applied to the events first.

    Returns
    -------
    DataFrame
        ``step_1 … step_n`` (``None`` where the path ended), ``path`` (the steps joined by
        ``" > "``), ``customers`` (or ``sessions``), ``share`` (of all anchored units, 0-1),
        and with ``goal`` ``converted`` and ``conversion`` (0-1); most frequent first.
    """
    if start is not None and end is not None:
        raise ConfigError(f"paths got both start={start!r} and end={end!r}; expected one of them (or neither)")
    _check(events, by_field, unit, steps)
    keys = [f"step_{k}" for k in range(1, steps + 1)]
    count = UNITS[unit]
    df = None
    if FAST_SCAN and start is not None and end is None and collapse_repeats and (goal_field or by_field) == by_field:
        df = _fast_from(events, start, steps, by_field, _window(window), unit, filters, goal)
        if df is not None and top is not None:
            # the backend's order (below): largest count first, then the steps (nulls last)
            df = df.sort_values([count, *keys], ascending=[False] + [True] * len(keys), na_position="last")
            df = df.head(int(top)).reset_index(drop=True)
    if df is None:
        a = _anchored(
            events,
            start=start,
            end=end,
            steps=steps,
            by_field=by_field,
            window=window,
            collapse_repeats=collapse_repeats,
            unit=unit,
            filters=filters,
        )
        a = _with_goal(a, events, goal, goal_field or by_field, unit, window, filters)
        agg = a.group_by(keys).aggregate(**{count: a._u.count(), "converted": a._conv.sum()})
        agg = agg.mutate(_total=agg[count].sum().over())
        if top is not None:
            agg = agg.order_by([ibis.desc(count), *keys]).limit(int(top))
        df = agg.execute()
    if df.empty:
        df = pd.DataFrame({k: pd.Series(dtype=object) for k in keys})
        df[count] = pd.Series(dtype="int64")
        df["converted"] = pd.Series(dtype="int64")
        df["_total"] = pd.Series(dtype="int64")
    for k in keys:
        df[k] = _objects(df[k])
    df[count] = df[count].astype("int64")
    df["converted"] = df["converted"].fillna(0).astype("int64")
    df["share"] = df[count] / df["_total"].astype(float)
    df["path"] = [PATH_SEP.join(s for s in row if s is not None) for row in df[keys].itertuples(index=False)]
    df = _sort(df, count, keys)
    cols = [*keys, "path", count, "share"]
    if goal is not None:
        df["conversion"] = df["converted"] / df[count]
        cols += ["converted", "conversion"]
    return df[cols]


def flows(
    events: ir.Table,
    start: str | None = None,
    steps: int = 4,
    *,
    end: str | None = None,
    by_field: str = "name",
    window: str | dt.timedelta | int | float | None = None,
    collapse_repeats: bool = True,
    exits: bool = True,
    unit: str = "customer",
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """Edges between consecutive path steps, for a Sankey (:func:`cxlens.journeys.charts.sankey_chart`).

    Paths are those of :func:`paths` (same anchor, window and collapsing, every path kept).

    Returns
    -------
    DataFrame
        ``source_step`` (1-based), ``source``, ``target_step``, ``target``, ``customers`` (or
        ``sessions``): units whose path has ``source`` at step k and ``target`` at step k+1.
        With ``exits``, units whose path ends at step k go to ``target = "(exit)"``. Sorted
        by step, then largest first.
    """
    a = _anchored(
        events,
        start=start,
        end=end,
        steps=steps,
        by_field=by_field,
        window=window,
        collapse_repeats=collapse_repeats,
        unit=unit,
        filters=filters,
    )
    count = UNITS[unit]
    parts = []
    for k in range(1, steps):
        s, t = a[f"step_{k}"], a[f"step_{k + 1}"]
        e = a.filter(s.notnull()).select(
            source_step=ibis.literal(k, "int64"),
            source=s,
            target_step=ibis.literal(k + 1, "int64"),
            target=t.fill_null(EXIT) if exits else t,
            _u=a._u,
        )
        if not exits:
            e = e.filter(e.target.notnull())
        parts.append(e.group_by(["source_step", "source", "target_step", "target"]).aggregate(**{count: e._u.count()}))
    cols = ["source_step", "source", "target_step", "target", count]
    if not parts:
        return pd.DataFrame({c: pd.Series(dtype="int64" if c.endswith("step") or c == count else object) for c in cols})
    expr = parts[0] if len(parts) == 1 else ibis.union(*parts)
    df = expr.execute()
    for c in ("source_step", "target_step", count):
        df[c] = df[c].astype("int64")
    df = df.sort_values(
        ["source_step", count, "source", "target"], ascending=[True, False, True, True], kind="mergesort"
    )
    return df[cols].reset_index(drop=True)


def last_before_dropoff(
    events: ir.Table,
    goal: str | Sequence[str],
    *,
    start: str | None = None,
    goal_field: str = "name",
    by: str | Sequence[str] = ("name", "touchpoint"),
    window: str | dt.timedelta | int | float | None = None,
    top: int | None = 20,
    unit: str = "customer",
    filters: Mapping[str, Any] | None = None,
) -> pd.DataFrame:
    """What did people do right before leaving? The last event of units that never reached ``goal``.

    Parameters
    ----------
    goal
        The goal node (matched on ``goal_field``), or a list of funnel steps: then ``start`` is
        the first step and the goal the last.
    start
        Only units with a ``start`` node count, from their first one on: a unit drops off
        when no ``goal`` follows that ``start`` (within ``window``); its last event is its last
        one after the ``start`` (within ``window``). ``None``: every unit, from its first event.
    by
        Columns describing the last event (default its ``name`` and ``touchpoint``).

    Returns
    -------
    DataFrame
        The ``by`` columns, ``customers`` (or ``sessions``) whose last event it was, ``share``
        (of all units that dropped off, 0-1) and ``dropped`` (that total); most frequent first.
    """
    if not isinstance(goal, str):
        steps_l = list(goal)
        if len(steps_l) < 2:
            raise ConfigError(f"funnel steps {steps_l!r} need at least two steps; or pass one goal event")
        if start is not None:
            raise ConfigError("pass start or funnel steps, not both")
        start, goal = steps_l[0], steps_l[-1]
    by_l = [by] if isinstance(by, str) else list(by)
    for c in by_l:
        if c not in events.columns:
            raise ConfigError(f"events have no column {c!r} to describe the last event by; expected event columns")
    _check(events, goal_field, unit)
    td = _window(window)
    b = _base(events, goal_field, unit, filters, extra=by_l)
    is_start = b._n == start if start is not None else ibis.literal(True)
    b = b.mutate(_a=ibis.ifelse(is_start, b._rn, ibis.null("int64")).min().over(group_by=b._u))
    b = b.filter(b._a.notnull() & (b._rn >= b._a))
    b = b.mutate(_ats=ibis.ifelse(b._rn == b._a, b._ts, ibis.null("timestamp")).max().over(group_by=b._u))
    if td is not None:
        b = b.filter(_within(b._ts, b._ats, td))
    b = b.mutate(
        # from a start event the goal must follow it; without one, a first event that is the goal counts
        _hit=ibis.ifelse((b._n == goal) & ((b._rn > b._a) if start is not None else ibis.literal(True)), 1, 0)
        .max()
        .over(group_by=b._u),
        _last=b._rn.max().over(group_by=b._u),
    )
    d = b.filter((b._hit == 0) & (b._rn == b._last))
    count = UNITS[unit]
    agg = d.group_by(by_l).aggregate(**{count: d._u.count()})
    agg = agg.mutate(dropped=agg[count].sum().over())
    if top is not None:
        agg = agg.order_by([ibis.desc(count), *by_l]).limit(int(top))
    df = agg.execute()
    for c in by_l:
        df[c] = _objects(df[c])
    df[count] = df[count].astype("int64")
    df["dropped"] = df["dropped"].fillna(0).astype("int64")
    df["share"] = df[count] / df["dropped"].astype(float)
    return _sort(df, count, by_l)[[*by_l, count, "share", "dropped"]]
