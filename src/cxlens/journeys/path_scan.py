"""The packed scan of :func:`cxlens.journeys.paths.paths` from a start node (DuckDB only).

DuckDB reads every event once, in any order (:func:`cxlens.store.unordered_reads`), as four
numbers: two independent 64-bit hashes of the unit id (of the text and of the text behind a fixed
first character, as the funnel's packed scan hashes it; the second is 0 for ids of at most 7
bytes, which the first numbers exactly: :func:`cxlens.journeys.sqlfns.second_hash`), the time in microseconds and the node's
code in an ``ENUM`` of the distinct nodes. The units are split in two halves by the top bit of the
first hash (:data:`~cxlens.journeys.numbering.SPLIT`); each half is gathered, numbered, packed and
sorted in its own thread (NumPy's sorts release the GIL): one ``int64`` per event,
``unit << (time bits + node bits) | time << node bits | node``, sorted as plain integers, which
costs a fraction of DuckDB's ``ORDER BY`` of the text unit id.

The sort orders a unit's events by time and, at one moment, by node code; the paths order them
by ``(ts, event_id)``. A run of one unit at one moment whose nodes all agree needs no order (its
rows are interchangeable); the rare runs with different nodes are put in ``event_id`` order
from a second read of their rows' ids, in the same read transaction
(:func:`cxlens.store.read_snapshot`), matched by (unit hash, µs, node). :func:`walk` then finds
each unit's paths on the sorted rows, as the sorted DuckDB scan of :mod:`cxlens.journeys.paths`
did.

None (the caller falls back to DuckDB's sorted scan) when two ids share a first hash (the second
hash differs within a number), the packed key does not fit 63 bits, a time is missing or not
finite, there are too many distinct nodes, or the second read does not hold exactly the tied rows.
"""

from __future__ import annotations

import datetime as dt
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from cxlens.journeys.numbering import customer_numbers, exact_quotient, gather, half_picks

__all__ = ["packed_paths", "walk"]

#: microsecond time units tried for the packed key, coarsest first (as the funnel's packed scan)
_KEY_UNITS = (1_000_000, 1_000, 1)
_EPOCH = dt.datetime(1970, 1, 1)


def _quote(v: str) -> str:
    return "'" + v.replace("'", "''") + "'"


def walk(
    unit: np.ndarray,
    t: np.ndarray,
    codes: np.ndarray,
    start_code: int,
    steps: int,
    limit: int | None,
    goal_code: int,
) -> tuple[list[np.ndarray], np.ndarray]:
    """The path of each unit from its first ``start_code`` row, on rows sorted by ``(unit, ts, event_id)``.

    ``unit`` is equal exactly on the rows of one unit, ``t`` the time (any unit of time),
    ``codes`` the nodes' codes; ``limit`` the window in ``t``'s unit (None: no window),
    ``goal_code`` the goal's code (-1: no goal, or no row has it). A row is kept when it starts a
    unit or its node differs from the previous row's (repeats collapsed); the anchor is each unit's
    first start row (always kept: no earlier start in its unit) and the path the anchor and the
    next kept rows of the same unit within the window. A unit converts when a later goal row of
    it, within the window, exists (the first goal row after the anchor, by a binary search).

    Returns
    -------
    (steps, converted)
        ``steps`` arrays of node codes, one per anchored unit (-1: the path ended), and 0/1 per
        anchored unit.
    """
    rows = len(codes)
    new = np.ones(rows, bool)
    np.not_equal(unit[1:], unit[:-1], out=new[1:])
    idx = np.flatnonzero(codes == start_code) if start_code >= 0 else np.zeros(0, np.intp)
    first = np.ones(len(idx), bool)
    np.not_equal(unit[idx[1:]], unit[idx[:-1]], out=first[1:])
    anchor = idx[first]
    del idx, first
    keep = new
    keep[1:] |= codes[1:] != codes[:-1]
    kept = np.flatnonzero(keep)
    del keep, new
    at = np.searchsorted(kept, anchor)
    end = t[anchor] + limit if limit is not None else None
    au = unit[anchor]
    out = [codes[anchor].astype(np.int32)]
    for k in range(1, steps):
        j = at + k
        ok = j < len(kept)
        pos = kept[np.where(ok, j, 0)]
        ok &= unit[pos] == au
        if end is not None:
            ok &= t[pos] <= end
        out.append(np.where(ok, codes[pos], -1).astype(np.int32))
    if goal_code < 0:
        return out, np.zeros(len(anchor), np.int64)
    g = np.flatnonzero(codes == goal_code)
    nxt = np.searchsorted(g, anchor, side="right")  # the first goal row after the anchor
    ok = nxt < len(g)
    gp = g[np.where(ok, nxt, 0)]
    ok &= unit[gp] == au
    if end is not None:
        ok &= t[gp] <= end
    return out, ok.astype(np.int64)


class _Half:
    """One half of the units: gathered, numbered, packed and sorted (:meth:`sort`), the tied runs
    put in event id order (:meth:`order_ties`), walked (:func:`walk`)."""

    def __init__(self, cols: dict[str, list[np.ndarray]], lower: bool, node_bits: int):
        picks = half_picks(cols["h"], lower)
        self.h = gather(cols["h"], picks)
        self.h2 = gather(cols["h2"], picks)
        self.us = gather(cols["us"], picks)
        self.c = gather(cols["c"], picks)
        self.node_bits = node_bits

    def sort(self) -> bool:
        """Pack and sort; False when the key does not fit or two ids share a first hash."""
        n = len(self.h)
        self.t0, self.unit = 0, 1
        if not n:
            self.key = np.empty(0, np.int64)
            self.shift = self.node_bits
            return True
        t = self.us
        self.t0 = int(t.min())
        t -= self.t0
        self.unit = next(u for u in _KEY_UNITS if exact_quotient(t, u))
        tb = int(t.max()).bit_length()
        self.shift = tb + self.node_bits  # the unit number's lowest bit
        bits = 63 - self.shift
        if bits < 2:
            return False
        num = customer_numbers(self.h, self.h2, bits)
        if num is None:
            return False
        self.num = num  # kept to find a tied unit's hash (:meth:`tied`)
        key = np.left_shift(num, self.shift)
        t <<= self.node_bits
        key |= t
        del t, self.us
        key |= self.c.astype(np.int64)
        del self.c, self.h2
        key.sort()
        self.key = key
        return True

    def tied(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The sorted positions of the rows of runs (one unit, one moment) with two or more nodes,
        their times (in the half's unit, from its ``t0``) and their units' numbers; None when there
        are none. Keeps the positions and the units' first hashes for :meth:`order_ties`."""
        key, nb = self.key, self.node_bits
        if len(key) < 2:
            return None
        moment = key >> nb
        same = moment[1:] == moment[:-1]
        if not same.any():
            return None
        # a run's nodes are sorted: it has two nodes where a row's node differs from its tied predecessor's
        differs = same & ((key[1:] ^ key[:-1]) != 0)
        if not differs.any():
            return None
        tie = np.zeros(len(key), bool)
        tie[1:] = same
        tie[:-1] |= same
        at = np.flatnonzero(tie)
        m = moment[at]
        wanted = np.unique(moment[1:][differs])
        at = at[np.isin(m, wanted)]
        nums = np.unique(key[at] >> self.shift)
        # the first hash of each of those units: the rows holding their numbers (a 64 KiB table of
        # their low 16 bits first, so that only candidate rows are searched)
        maybe = np.zeros(1 << 16, bool)
        maybe[nums & 0xFFFF] = True
        rows = np.flatnonzero(maybe[self.num & 0xFFFF])
        rows = rows[np.isin(self.num[rows], nums)]
        _, one = np.unique(self.num[rows], return_index=True)
        hashes = {int(self.h[rows[i]]): int(self.num[rows[i]]) for i in one}
        self.tied_at, self.tied_hashes = at, hashes
        return at, (key[at] >> nb) & ((1 << (self.shift - nb)) - 1), nums

    def order_ties(self, got: dict[str, np.ndarray], ids: Any) -> bool:
        """Put the tied runs' rows in event id order from the second read (``got``: ``h``, ``us``,
        ``c`` of rows at the tied moments, ``ids`` their event ids); False when it does not hold
        exactly the tied rows."""
        import pyarrow as pa
        import pyarrow.compute as pc

        at, nb, shift = self.tied_at, self.node_bits, self.shift
        num = np.array([self.tied_hashes.get(int(v), -1) for v in got["h"]], np.int64)
        rel = got["us"] - self.t0
        mine = num >= 0
        mine &= rel >= 0
        mine &= rel % self.unit == 0
        mine &= rel // self.unit < (1 << (shift - nb))  # a time of the half's range
        gkey = (num << shift) | ((rel // self.unit) << nb) | got["c"].astype(np.int64)
        gkey = np.where(mine, gkey, -1)
        own = self.key[at]
        # the read's rows of the tied runs: every row at one of their (unit, moment) pairs
        inrun = mine & np.isin(gkey >> nb, own >> nb)
        gkey, gids = gkey[inrun], ids.filter(pa.array(inrun))
        if len(gkey) != len(own):
            return False
        order = np.argsort(gkey, kind="stable")
        if not np.array_equal(gkey[order], own):  # ``own`` is sorted: the same rows, or refuse
            return False
        # rows equal in (unit, moment, node) are interchangeable: any of their ids fits
        srt = pa.table({"k": gkey[order] >> nb, "e": gids.take(pa.array(order))})
        perm = pc.sort_indices(srt, [("k", "ascending"), ("e", "ascending", "at_end")]).to_numpy()
        self.key[at] = own[perm]
        return True

    def walk(self, start_code: int, steps: int, td: dt.timedelta | None, goal_code: int):
        """:func:`walk` over this half's sorted keys."""
        key = self.key
        limit = None if td is None else round(td.total_seconds() * 1_000_000) // self.unit
        codes = (key & ((1 << self.node_bits) - 1)).astype(np.int32)
        unit = key >> self.shift
        t = (key >> self.node_bits) & ((1 << (self.shift - self.node_bits)) - 1)
        return walk(unit, t, codes, start_code, steps, limit, goal_code)


def _read(backend: Any, sql: str, nodes: list[str]) -> dict[str, list[np.ndarray]] | None:
    """The scan's four columns as their chunks (DuckDB's batches, read without a copy); None
    when a time is missing or not finite or the cast to the nodes' ENUM fails."""
    from cxlens.journeys.sqlfns import second_hash_sql, short_hashes_exact
    from cxlens.store import unordered_reads

    enum = "ENUM(" + ", ".join(_quote(v) for v in nodes) + ")"
    # the second hash: 0 for ids of at most 7 bytes when DuckDB's hash is the known one (the
    # first hash numbers them exactly: cxlens.journeys.sqlfns.second_hash)
    h2 = second_hash_sql("_u", short_hashes_exact(backend))
    q = f"SELECT hash(_u) AS h, {h2} AS h2, epoch_us(_ts) AS us, enum_code(CAST(_n AS {enum})) AS c FROM ({sql}) AS _s"
    try:
        with unordered_reads(backend):
            tbl = backend.con.sql(q).to_arrow_table()
    except Exception:  # noqa: BLE001 - a node added since the distinct read fails the cast
        return None
    if tbl.column("us").null_count:  # no time or ±infinity (epoch_us reads it as NULL)
        return None
    return {c: [a.to_numpy() for a in tbl.column(c).chunks if len(a)] for c in ("h", "h2", "us", "c")}


def _at_moments(events: Any, moments: np.ndarray) -> Any:
    """The rows of ``events`` at the ``moments`` (µs) as an Ibis table with the same columns.

    For a table of the database with a time-zone-free ``ts``, DuckDB first finds the rows' ids
    with a scan of ``ts`` alone, then reads those rows (``rowid IN (…)``): an ``IN`` list of
    timestamps on the table itself becomes a join that reads every column of every row (0.45-0.55
    CPU-s at 10M events for 1,000 rows, against 0.25 this way). Otherwise the same filter as an
    Ibis expression."""
    import ibis
    import ibis.expr.operations as ops
    import pyarrow as pa

    from cxlens.journeys.sqlfns import epoch_us

    op = events.op()
    naive = events.ts.type().timezone is None
    if isinstance(op, ops.DatabaseTable) and naive and len(moments) <= 4096:
        ns = op.namespace
        name = ".".join('"' + p.replace('"', '""') + '"' for p in (ns.catalog, ns.database, op.name) if p)
        stamps = ", ".join(f"TIMESTAMP '{_EPOCH + dt.timedelta(microseconds=int(v))}'" for v in moments)
        sql = f"SELECT * FROM {name} WHERE rowid IN (SELECT rowid FROM {name} WHERE ts IN ({stamps}))"
        return events._find_backend().sql(sql, schema=events.schema())
    if naive and len(moments) <= 4096:
        # a list of timestamps DuckDB filters the scan by (on epoch_us(ts) it would test every value)
        return events.filter(events.ts.isin([_EPOCH + dt.timedelta(microseconds=int(v)) for v in moments]))
    return events.filter(epoch_us(events.ts).isin(ibis.memtable(pa.table({"us": moments}))["us"]))


def _tied_ids(events: Any, base: Any, moments: np.ndarray, nodes: list[str]) -> tuple[dict[str, np.ndarray], Any]:
    """``h, us, c`` and the event ids of the rows of ``base(events)`` at the tied ``moments`` (µs)."""
    from cxlens.journeys.sqlfns import duckdb_hash, epoch_us

    b = base(_at_moments(events, moments))
    got = b.select(h=duckdb_hash(b._u), us=epoch_us(b._ts), n=b._n, e=b._eid).to_pyarrow()
    code = {v: i for i, v in enumerate(nodes)}
    cols = {
        "h": got.column("h").to_numpy(),
        "us": got.column("us").to_numpy(),
        "c": np.array([code.get(v, -1) for v in got.column("n").to_pylist()], np.int64),
    }
    return cols, got.column("e")


def packed_paths(
    events: Any,
    base: Any,
    nodes: list[str],
    start: str,
    steps: int,
    td: dt.timedelta | None,
    goal: str | None,
) -> tuple[list[np.ndarray], np.ndarray] | None:
    """The anchored units' step codes (into ``nodes``, -1: ended) and conversions, or None.

    ``base`` makes the paths' base table (``_u, _ts, _eid, _n``:
    :func:`cxlens.journeys.paths._base`) of ``events`` (on DuckDB, read inside the caller's read
    transaction) or of some of its rows; ``nodes`` holds at least every node of its rows."""
    import ibis

    backend, b = events._find_backend(), base(events)

    cols = _read(backend, ibis.to_sql(b.select("_u", "_ts", "_n"), dialect="duckdb"), nodes)
    if cols is None:
        return None
    node_bits = (len(nodes) - 1).bit_length()
    code = {v: i for i, v in enumerate(nodes)}
    start_code, goal_code = code.get(start, -1), code.get(goal, -1) if goal is not None else -1
    with ThreadPoolExecutor(2) as pool:

        def prepare(lower: bool) -> _Half | None:
            half = _Half(cols, lower, node_bits)
            return half if half.sort() else None

        halves = list(pool.map(prepare, (True, False)))
        cols.clear()  # DuckDB's batches: each half holds its own copy now
        if any(h is None for h in halves):
            return None
        tied = [h.tied() for h in halves]  # type: ignore[union-attr]
        if any(x is not None for x in tied):
            moments = np.unique(
                np.concatenate(
                    [(x[1] * h.unit + h.t0) for h, x in zip(halves, tied, strict=True) if x is not None]  # type: ignore[union-attr]
                )
            )
            got, ids = _tied_ids(events, base, moments, nodes)
            for h, x in zip(halves, tied, strict=True):
                if x is not None and not h.order_ties(got, ids):  # type: ignore[union-attr]
                    return None
        parts = list(pool.map(lambda h: h.walk(start_code, steps, td, goal_code), halves))
    out = [np.concatenate([p[0][k] for p in parts]) for k in range(steps)]
    return out, np.concatenate([p[1] for p in parts])
