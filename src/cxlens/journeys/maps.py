"""The journey map: every stage × touchpoint with its volume, flow, scores and a pain score.

:func:`journey_map` returns one row per stage and touchpoint of the workspace's journey (in
stage order, then the journey's touchpoint order; touchpoints seen in the data but not in the
journey come after, by name). Event counts, reach and conversion are Ibis expressions run by the
backend (on DuckDB, one scan of the events finished in NumPy: :func:`_flow_scan`); NPS, CSAT and CES come from :attr:`cxlens.Workspace.metrics` grouped by
``["stage", "touchpoint"]``; only the small per-cell tables meet in pandas.

Definitions (also in ``docs/journeys.md``), all in percent like the metrics:

- ``volume``: events at the cell; ``customers``: distinct customers with one.
- ``reach`` = 100 · customers / customers with any event (after ``start``, ``end``, ``filters``).
- ``conversion``: of the cell's customers, the percent with an event at the **next journey
  stage** strictly after their first event at the cell (within ``window`` of it, if given);
  ``drop_off`` = 100 − ``conversion``. ``NaN`` at the last stage.
- ``unhappy``: percent of the cell's survey answers that are unhappy — NPS 0-6 (detractors),
  CSAT 1-3 (not satisfied), CES 1-4 (not easy) — pooled over the metrics present
  (``survey_n`` answers).
- ``pain_score``: where the experience hurts most, ``volume share × dissatisfaction × drop-off``::

      raw  = (volume / all events in the map) · d · (drop / 100)
      d    = (unhappy answers + m · p0) / (survey_n + m)    # shrunk towards the overall share p0
      drop = drop_off, or at the last stage the customer-weighted mean drop-off of the others
      pain_score = 100 · raw / max(raw)                    # the worst cell scores 100

  Volume counts interactions, so a touchpoint customers have to retry (failed checkouts) weighs
  more. ``m = shrinkage`` (default 30 answers) pulls a cell with a handful of answers towards the
  overall unhappy share ``p0`` of all answers instead of letting it top the list by chance.
  Cells without survey answers have no evidence of how customers feel: their ``pain_score`` is
  ``NaN`` (unranked). ``pain_rank`` is 1 for the worst cell.

Examples
--------
>>> import cxlens
>>> from cxlens.ingest.simulate import write_demo
>>> ws = cxlens.open(":memory:")
>>> _ = write_demo(ws, 300, seed=1)
>>> m = journey_map(ws)
>>> m.loc[m.pain_rank == 1, ["stage", "touchpoint"]].values.tolist()
[['service', 'delivery']]
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, NotFoundError
from cxlens.journeys.numbering import dense_numbers, gather, half_picks
from cxlens.journeys.sqlfns import duckdb_hash, duckdb_hash2, epoch_us, second_hash, short_hashes_exact
from cxlens.metrics.api import Metrics
from cxlens.metrics.common import DateLike, FilterMap, prepare
from cxlens.metrics.stats import MIN_N, nps_z_test, two_proportion_z_test, welch_t_test
from cxlens.store.segments import restrict_to_segment

__all__ = [
    "CONSISTENCY_COLUMNS",
    "MAP_COLUMNS",
    "channel_consistency",
    "journey_map",
    "stage_flow",
    "voice_available",
]

#: the columns of :func:`journey_map`, in order
MAP_COLUMNS = [
    "stage", "stage_label", "touchpoint", "label", "volume", "customers", "reach", "next_stage", "conversion",
    "drop_off", "nps", "nps_n", "nps_ci_low", "nps_ci_high", "csat", "csat_n", "csat_ci_low", "csat_ci_high",
    "ces", "ces_n", "ces_ci_low", "ces_ci_high", "survey_n", "unhappy", "sentiment", "negative_themes",
    "pain_score", "pain_rank",
]  # fmt: skip
#: the columns of :func:`channel_consistency`, in order
CONSISTENCY_COLUMNS = [
    "touchpoint", "metric", "channel", "value", "n", "ci_low", "ci_high", "rest_value", "rest_n", "delta",
    "statistic", "p_value", "significant", "consistent", "small_sample",
]  # fmt: skip
_METRICS = ("nps", "csat", "ces")


def voice_available() -> bool:
    """Whether the voice capability (``cxlens.voice``: sentiment and themes) is installed."""
    try:
        return importlib.util.find_spec("cxlens.voice") is not None
    except (ImportError, ValueError):  # pragma: no cover - broken partial installs
        return False


def _events(store: Any, start: DateLike, end: DateLike, filters: FilterMap, segment: str | None = None) -> ibis.Table:
    events = restrict_to_segment(store, store.table("events"), segment)
    try:
        customers = store.table("customers")
    except NotFoundError:
        customers = None
    t, _ = prepare(events, customers=customers, start=start, end=end, filters=filters, what="journey map")
    cid = ibis.coalesce(t.customer_id, t.anonymous_id) if "anonymous_id" in t.columns else t.customer_id
    return t.mutate(_cid=cid)


def _window(window: Any):
    if window is None:
        return None
    from cxlens.journeys.funnels import parse_window

    td = parse_window(window)
    us = round(td.total_seconds() * 1_000_000)
    return ibis.interval(seconds=us // 1_000_000) if us % 1_000_000 == 0 else ibis.interval(microseconds=us)


#: count the flow in one pass when it can (tests switch it off to compare)
WIDE_FLOW = True
#: on DuckDB, count the one-pass flow from one scan finished in NumPy (tests switch it off to compare)
FAST_SCAN = True
#: with at most this many stage × touchpoint cells (and no window) the flow is one pass over the events
_WIDE_MAX = 64


def _is(col: ibis.Value, v: Any) -> ibis.BooleanValue:
    return col.isnull() if v is None or (isinstance(v, float) and np.isnan(v)) else col == v


def _cells(store: Any, ev: ibis.Table, hashed: bool = False) -> tuple[list[tuple[Any, Any]], pd.DataFrame] | None:
    """The stage × touchpoint cells with their volumes (one small group-by); None with too many.

    ``hashed`` (DuckDB only) adds ``_h``, the cell's :func:`duckdb_hash2`, computed on the grouped rows."""
    vol = ev.group_by(["stage", "touchpoint"]).aggregate(_v=ev.count()).limit(_WIDE_MAX + 1)
    if hashed:
        vol = vol.mutate(_h=duckdb_hash2(vol.stage, vol.touchpoint))
    vol = store.read(vol)
    if len(vol) > _WIDE_MAX or not len(vol):
        return None
    cells = [
        (None if pd.isna(s) else s, None if pd.isna(t) else t)
        for s, t in vol[["stage", "touchpoint"]].itertuples(index=False)
    ]
    return cells, vol


def _next_stage(stages: list[str], stage: Any) -> str | None:
    """The stage after ``stage`` in the journey (None after the last one or for a stage outside it)."""
    i = stages.index(stage) if stage in stages else -1
    return stages[i + 1] if 0 <= i < len(stages) - 1 else None


def _flow_frame(
    cells: list[tuple[Any, Any]], volume: Any, stages: list[str], customers: Any, converted: Any, total: int
) -> pd.DataFrame:
    df = pd.DataFrame(
        {
            "stage": [s for s, _ in cells],
            "touchpoint": [t for _, t in cells],
            "next_stage": [_next_stage(stages, s) for s, _ in cells],
            "volume": np.asarray(volume, dtype="int64"),
            "customers": np.asarray(customers, dtype="int64"),
            "converted": np.asarray(converted, dtype="int64"),
        }
    )
    df.attrs["total"] = int(total)
    return df


def _scan_ok(ev: ibis.Table) -> bool:
    """The scan runs on DuckDB over microsecond (or coarser) timestamps and text stages and touchpoints
    (hashed as :func:`_cell_names` hashes the journey's)."""
    try:
        backend = ev._find_backend().name
    except Exception:  # noqa: BLE001 - unbound tables
        return False
    scale = getattr(ev.ts.type(), "scale", None)
    text = ev.stage.type().is_string() and ev.touchpoint.type().is_string()
    return FAST_SCAN and backend == "duckdb" and text and ev.ts.type().is_timestamp() and (scale is None or scale <= 6)


#: compiled SQL of the scan's two queries, by store and expression (compiling costs ~30 ms a query,
#: a tenth of the map); an Ibis expression is hashed and compared by its structure, so equal
#: parameters and tables hit and anything else misses
_SQL: dict[tuple[int, Any], str] = {}
_SQL_MAX = 64
_SQL_LOCK = threading.Lock()
#: DuckDB's hashes of the (stage, touchpoint) pairs that named the last scans' cells
_PAIR_HASHES: dict[tuple[int, tuple], np.ndarray] = {}


def _read_arrow(store: Any, expr: ibis.Table) -> Any:
    """``store.read_arrow(expr)`` with the expression's SQL compiled once (DuckDB only)."""
    key = (id(store), expr.op())
    sql = _SQL.get(key)
    if sql is None:
        sql = store.compile(expr)
        with _SQL_LOCK:
            _SQL[key] = sql
            while len(_SQL) > _SQL_MAX:
                _SQL.pop(next(iter(_SQL)))
    # as Ibis reads a query: a relation, whose Arrow result DuckDB builds in parallel (a cursor's
    # execute() then fetch converts it in one thread: 55-70 ms more wall time for the scan)
    return expr._find_backend().con.sql(sql).to_arrow_table()


#: ``us`` of an event without a time in the scan (no timestamp is this many microseconds: DuckDB's
#: smallest is later, and its ±infinity reads as NULL)
_NO_TIME = np.iinfo(np.int64).min


def _cell_numbers(hc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """The distinct 64-bit cell hashes of the events, their counts, their 16-bit keys and each event's key.

    The key is a 16-bit window of the hash (``hash >> shift & 0xFFFF``, a column of the array's
    uint16 view, so nothing is computed) chosen so that no two distinct hashes share it: every
    event's hash is written to the slot of its key and read back, and in the first window where
    every event reads back its own hash the slots hold the distinct hashes exactly. None when no
    window tells them apart or there are more than :data:`_WIDE_MAX` cells."""
    view = hc.view(np.uint16).reshape(-1, 4)
    order = (0, 1, 2, 3) if np.little_endian else (3, 2, 1, 0)  # the low 16 bits first
    owner = np.empty(1 << 16, np.uint64)
    for col in order:
        key = view[:, col]
        owner[key] = hc
        if np.array_equal(owner[key], hc):
            counts = np.bincount(key, minlength=1 << 16)
            keys = np.flatnonzero(counts)
            if len(keys) > _WIDE_MAX:
                return None
            return owner[keys], counts[keys], keys, key
    return None


#: at most this many (stage, touchpoint) pairs are hashed to name the scan's cells
_NAMES_MAX = 1 << 16


def _cell_names(store: Any, ev: ibis.Table, hashes: np.ndarray) -> list[tuple[Any, Any]] | None:
    """The (stage, touchpoint) of each 64-bit cell hash of the scan, or None when one cannot be named.

    Read after the scan, the distinct stages and the distinct touchpoints of the events (one
    small query: single-column distincts read DuckDB's dictionary-compressed text cheaply, half a
    group-by on both) include every cell the scan saw; each pair of them, with no stage or no
    touchpoint, is hashed as the scan hashes an event's cell. A hash with two names, or with none
    (its events deleted in between), is refused."""
    import pyarrow as pa

    # (without the NULL filter Ibis would add: a FILTER clause doubles DuckDB's cost here)
    vals = _read_arrow(
        store,
        ev.aggregate(
            _s=ev.stage.collect(distinct=True, include_null=True),
            _t=ev.touchpoint.collect(distinct=True, include_null=True),
        ),
    )
    stages = [*dict.fromkeys([*(vals.column("_s")[0].as_py() or []), None])]  # no stage is a cell too
    tps = [*dict.fromkeys([*(vals.column("_t")[0].as_py() or []), None])]
    if len(stages) * len(tps) > _NAMES_MAX:
        return None
    pairs = [(s, t) for s in stages for t in tps]
    key = (id(store), tuple(pairs))
    got = _PAIR_HASHES.get(key)
    if got is None:  # DuckDB's hash of each pair, as the scan hashes an event's cell
        cand = pa.table(
            {"s": pa.array([s for s, _ in pairs], pa.string()), "t": pa.array([t for _, t in pairs], pa.string())}
        )
        got = store.read_arrow("SELECT hash(s, t) AS h FROM _cell_pairs", tables={"_cell_pairs": cand})
        got = got.column("h").to_numpy()
        with _SQL_LOCK:
            _PAIR_HASHES[key] = got
            while len(_PAIR_HASHES) > _SQL_MAX:
                _PAIR_HASHES.pop(next(iter(_PAIR_HASHES)))
    names: dict[int, tuple[Any, Any] | None] = {}
    for h, cell in zip(got, pairs, strict=True):
        names[int(h)] = cell if names.setdefault(int(h), cell) == cell else None  # None: two names
    out = [names.get(int(h)) for h in hashes]
    return None if any(c is None for c in out) else out  # type: ignore[return-value]


def _flow_scan(store: Any, ev: ibis.Table, stages: list[str]):
    """:func:`_flow_wide` from one scan of the events, finished in NumPy (DuckDB only).

    DuckDB reads every event once as four numbers — two independent 64-bit hashes of the
    customer id (of the text and of the text behind a fixed first character, as the funnel's packed
    scan hashes it, the second 0 for ids of at most 7 bytes; NULL without an id), the time in
    microseconds (:data:`_NO_TIME` without one) and the 64-bit hash of its (stage, touchpoint).
    The cells, their volumes and each event's cell come from that same read
    (:func:`_cell_numbers`; names from :func:`_cell_names`), so the map counts one state of the
    events: a cell written after the read is in none of its figures. NumPy does the rest, in two
    threads — the customers split by the top bit of their first hash (:func:`_number_half`,
    :func:`_count_half`), the cells found and named meanwhile in this one:
    customers are numbered by the first hash (:func:`~cxlens.journeys.numbering.dense_numbers`);
    the second hash must then be the same on every row of a number, otherwise two ids share a
    first hash and the exact one-pass aggregation runs instead (None is returned). An undetected
    merge needs two ids equal in both hashes. Per customer and cell the first moment and the
    last moment are one ``minimum.at``/``maximum.at`` each over dense arrays; a customer
    converted at a cell when their last moment at the next stage (the latest over its cells) is
    after their first at the cell, as in :func:`_flow_wide`."""
    import pyarrow.compute as pc

    cid = ev._cid
    e = ev.select(
        h=ibis.ifelse(cid.isnull(), ibis.null("uint64"), duckdb_hash(cid)),  # no id: in the volume only
        # another string to DuckDB's hash (its 8-byte blocks fall elsewhere) for a short copy per
        # row, where reversing the text cost a Unicode-aware pass; 0 for ids of at most 7 bytes
        # when DuckDB's hash is the known one (the first numbers them exactly: sqlfns.second_hash)
        h2=second_hash(cid, short_hashes_exact(ev._find_backend(), duckdb_hash)),
        us=ibis.ifelse(ev.ts.isnull(), ibis.literal(int(_NO_TIME), "int64"), epoch_us(ev.ts)),
        c=duckdb_hash2(ev.stage, ev.touchpoint),
    )
    tbl = _read_arrow(store, e)
    if not tbl.num_rows:
        return None
    h_col, us_col = tbl.column("h"), tbl.column("us")
    if us_col.null_count:  # ±infinity (which epoch_us reads as NULL): the exact aggregation counts it
        return None
    # events without a customer id count in the volume only
    known = h_col.is_valid().to_numpy(zero_copy_only=False) if h_col.null_count else None
    # the hashes stay in DuckDB's chunks (zero-copy views): each thread copies out its own half
    h = [ch.to_numpy() for ch in (pc.fill_null(h_col, 0) if known is not None else h_col).chunks]
    h2 = [ch.to_numpy() for ch in tbl.column("h2").chunks]
    us, c = (tbl.column(n).to_numpy() for n in ("us", "c"))
    del tbl, h_col, us_col
    # the customers are numbered in two threads, one per half of the first hash, while this one
    # finds and names the cells (NumPy's array passes and DuckDB release the GIL)
    with ThreadPoolExecutor(2) as pool:
        halves = [pool.submit(_number_half, h, h2, known, upper) for upper in (False, True)]
        found = _cell_numbers(c)
        del c
        if found is None:  # two cells share every 16-bit window of their hashes, or too many cells
            return None
        hashes, volume, keys, key = found
        cells = _cell_names(store, ev, hashes)
        if cells is None:
            return None
        lut = np.zeros(1 << 16, np.uint8)  # a cell's 16-bit key → its number
        lut[keys] = np.arange(len(cells))
        kk = lut[key]
        del key, h, h2
        numbered = [f.result() for f in halves]
        if any(x is None for x in numbered):  # two ids share a 64-bit hash: count them exactly
            return None
        counting = [pool.submit(_count_half, x, us, kk, cells, stages) for x in numbered]
        parts = [f.result() for f in counting]
    customers, converted, n = (sum(p[i] for p in parts) for i in range(3))
    return _flow_frame(cells, volume, stages, customers, converted, n)


def _number_half(
    h: Sequence[np.ndarray], h2: Sequence[np.ndarray], known: np.ndarray | None, upper: bool
) -> tuple[np.ndarray, np.ndarray, int] | None:
    """The rows of one half of the customers (by the top bit of ``h``; ``known``: rows with an
    id), their customers' dense numbers and how many; None when two ids share a first hash
    (the second hash differs within a number). ``h`` and ``h2`` are the columns' chunks (one
    array each is fine), ``known`` and the rows returned are over all rows."""
    if isinstance(h, np.ndarray):
        h, h2 = [h], [h2]
    picks = half_picks(h, not upper, known=known)  # the customers split as the funnel's packed scan splits them
    own, own2 = gather(h, picks), gather(h2, picks)
    starts = np.cumsum([0] + [len(hc) for hc in h[:-1]])
    rows = [p + s for p, s in zip(picks, starts, strict=True)]
    codes, n = dense_numbers(own)
    if own2.any():  # all 0: only ids of at most 7 bytes, which the first hash numbers exactly
        rep = np.empty(n, own2.dtype)
        rep[codes] = own2
        if not np.array_equal(rep[codes], own2):
            return None
    return np.concatenate(rows), codes, n


def _count_half(
    numbered: tuple[np.ndarray, np.ndarray, int],
    us: np.ndarray,
    kk: np.ndarray,
    cells: list[tuple[Any, Any]],
    stages: list[str],
) -> tuple[np.ndarray, np.ndarray, int]:
    """Customers and conversions per cell of one half's customers (:func:`_number_half`), and
    how many customers it holds."""
    rows, codes, n = numbered
    nk = len(cells)
    us, kk = us[rows], kk[rows]
    lo, hi = _NO_TIME, np.iinfo(np.int64).max
    if len(us) and us.min() == lo:  # events without a time belong to no cell's moments
        kk = np.where(us == lo, nk, kk)
    # one slot per (customer, cell), plus one per customer for the events without a time
    slot = codes * (nk + 1)
    slot += kk
    del codes, kk
    first = np.full(n * (nk + 1), hi)
    np.minimum.at(first, slot, us)
    last = np.full(n * (nk + 1), lo)
    np.maximum.at(last, slot, us)
    del slot, us
    first, last = first.reshape(n, nk + 1)[:, :nk], last.reshape(n, nk + 1)
    customers = (first != hi).sum(axis=0)
    converted = np.zeros(nk, np.int64)
    at_stage: dict[str, np.ndarray] = {}  # the last moment at a stage: the latest over its cells
    for i, (s, _) in enumerate(cells):
        nxt = _next_stage(stages, s)
        if nxt is not None and nxt not in at_stage:
            cols = [j for j, (s2, _) in enumerate(cells) if s2 == nxt]
            at_stage[nxt] = last[:, cols].max(axis=1) if cols else np.full(n, lo)
        if nxt is not None:
            converted[i] = int((at_stage[nxt] > first[:, i]).sum())
    return customers, converted, n


def _flow_wide(store: Any, ev: ibis.Table, stages: list[str], cells: list[tuple[Any, Any]], vol: pd.DataFrame):
    """:func:`_flow` without a window as one aggregation per customer, then one over customers.

    Each event gets its cell's number and its stage's number (cells and volumes from
    :func:`_cells`), and one group-by on the customer keeps, per cell, the first moment there
    and, per stage, the last moment. Converted at a cell: the customers whose last moment at
    the next stage is after their first at the cell."""
    pos = {s: i for i, s in enumerate(stages)}
    k = ibis.cases(*[(_is(ev.stage, s) & _is(ev.touchpoint, t), i) for i, (s, t) in enumerate(cells)], else_=None)
    si = ibis.cases(*[(ev.stage == s, i) for i, s in enumerate(stages)], else_=None) if stages else None
    e = ev.select(_c=ev._cid, ts=ev.ts, _k=k, _s=si if si is not None else ibis.null("int64"))
    per: dict[str, Any] = {}
    for i in range(1, len(stages)):  # the last moment at every stage that is some stage's next
        per[f"_l{i}"] = e.ts.max(where=e._s == i)
    for i in range(len(cells)):
        per[f"_f{i}"] = e.ts.min(where=e._k == i)
    c = e.group_by("_c").aggregate(**per)
    known = c._c.notnull()
    out: dict[str, Any] = {"_total": c._c.count()}
    for i, (s, _) in enumerate(cells):
        out[f"c{i}"] = c[f"_f{i}"].count(where=known)
        nx = pos[s] + 1 if s in pos and pos[s] + 1 < len(stages) else None
        if nx is not None:
            out[f"x{i}"] = (known & (c[f"_l{nx}"] > c[f"_f{i}"])).sum()
    row = store.read(c.aggregate(**out)).iloc[0]
    customers = [int(row[f"c{i}"]) for i in range(len(cells))]
    converted = [int(row[f"x{i}"]) if f"x{i}" in row.index and pd.notna(row[f"x{i}"]) else 0 for i in range(len(cells))]
    total = int(row["_total"]) if pd.notna(row["_total"]) else 0
    return _flow_frame(cells, vol["_v"], stages, customers, converted, total)


def _flow(store: Any, ev: ibis.Table, stages: list[str], window: Any) -> pd.DataFrame:
    """Per (stage, touchpoint): volume, customers, converted (to the next stage), plus the total customers."""
    if window is None and WIDE_FLOW:
        df = _flow_scan(store, ev, stages) if _scan_ok(ev) else None
        if df is not None:
            return df
        found = _cells(store, ev)
        if found is not None:
            return _flow_wide(store, ev, stages, *found)
    nxt = ibis.memtable(
        pd.DataFrame({"_st": stages, "next_stage": stages[1:] + [None]}),
        schema={"_st": "string", "next_stage": "string"},
    )
    cell = ev.group_by(["stage", "touchpoint", "_cid"]).aggregate(_first=ev.ts.min(), _events=ev.count())
    cell = cell.left_join(nxt, cell.stage == nxt._st).drop("_st")
    iv = _window(window)
    # per customer: the last moment at each stage (one row per customer; their count is the total)
    custs = ev.filter(ev._cid.notnull())
    custs = custs.group_by(_lc=custs._cid).aggregate(
        **{f"_l{i}": custs.ts.max(where=custs.stage == s) for i, s in enumerate(stages)},
    )
    if iv is None:
        # converted iff the customer's last next-stage event is after their first at the cell:
        # one equi-join on the customer to their per-stage last moments
        j = cell.left_join(custs, cell._cid == custs._lc)
        last = ibis.cases(*[(j.stage == s, j[f"_l{i + 1}"]) for i, s in enumerate(stages[:-1])], else_=ibis.null())
        j = j.mutate(_conv=ibis.ifelse(last.notnull() & (last > j._first), 1, 0))
    else:
        later = ev.select(_c2=ev._cid, _s2=ev.stage, _t2=ev.ts)
        cond = [cell._cid == later._c2, cell.next_stage == later._s2, later._t2 > cell._first]
        cond.append(later._t2 <= cell._first + iv)
        hits = cell.join(later, cond).select(_hs=cell.stage, _ht=cell.touchpoint, _hc=cell._cid).distinct()
        j = cell.left_join(
            hits,
            [cell._cid == hits._hc, cell.stage.identical_to(hits._hs), cell.touchpoint.identical_to(hits._ht)],
        )
        j = j.mutate(_conv=ibis.ifelse(j._hc.notnull(), 1, 0))
    agg = j.group_by(["stage", "touchpoint", "next_stage"]).aggregate(
        volume=j._events.sum(), customers=j._cid.count(), converted=j._conv.sum()
    )
    # the total customers in the same statement (a scalar subquery), not a second scan
    agg = agg.mutate(_total=custs.count().as_scalar())
    df = store.read(agg)
    total = int(df["_total"].iloc[0]) if len(df) and pd.notna(df["_total"].iloc[0]) else 0
    df = df.drop(columns="_total")
    df.attrs["total"] = total
    return df


def _no_feedback(store: Any) -> bool:
    """True when the (DuckDB) workspace holds no survey answer at all, cached until feedback changes."""
    store = getattr(store, "store", store)  # a Workspace or its Store
    if not getattr(store, "is_duckdb", False) or not hasattr(store, "memo"):
        return False
    return bool(store.memo("journeys.no_feedback", ("feedback",),
                           lambda: not store.scalar("SELECT EXISTS (SELECT 1 FROM feedback)")))  # fmt: skip


def _scores(
    store: Any, start: DateLike, end: DateLike, filters: FilterMap, min_n: int, segment: str | None = None
) -> pd.DataFrame:
    """NPS, CSAT and CES per (stage, touchpoint), wide, with unhappy answer counts."""
    keys = ["stage", "touchpoint"]
    if _no_feedback(store):  # a behaviour-only workspace: three empty metric queries saved (≈ 25 ms)
        return pd.DataFrame(columns=keys)
    out: pd.DataFrame | None = None
    kw = dict(by=keys, start=start, end=end, filters=filters, min_n=min_n, segment=segment)
    for metric in _METRICS:
        df = getattr(Metrics(store), metric)(**kw)
        if df.empty:
            continue
        if metric == "nps":
            bad = df["detractors"].astype(float)
        elif metric == "csat":
            bad = (df["n"] - df["satisfied"]).astype(float)
        else:
            bad = df["n"] * (100 - df["share_easy"]) / 100
        part = df[keys].copy()
        part[metric] = df[metric]
        part[f"{metric}_n"] = df["n"]
        part[f"{metric}_ci_low"] = df["ci_low"]
        part[f"{metric}_ci_high"] = df["ci_high"]
        part[f"_{metric}_bad"] = bad.to_numpy()
        out = part if out is None else out.merge(part, on=keys, how="outer")
    return out if out is not None else pd.DataFrame(columns=keys)


def _order(store: Any, cells: pd.DataFrame) -> pd.DataFrame:
    """Journey cells first (stage order, then journey touchpoint order), then unknown ones by name.

    Unknown cells come after the journey's touchpoints of their stage; cells of stages outside the
    journey (or without a stage) come last, by stage name and then touchpoint name, so the order
    does not depend on the order of ``cells``. (A few dozen rows: sorted in Python, which took a
    tenth of the time of the pandas merges and sorts it replaced, ≈ 15 ms a map.)"""
    j = store.journey
    grid = [(t.stage, t.id, t.label) for t in j.touchpoints]
    known = {(s, t) for s, t, _ in grid}
    seen = dict.fromkeys(
        (None if pd.isna(s) else s, None if pd.isna(t) else t)
        for s, t in zip(cells["stage"], cells["touchpoint"], strict=True)
    )
    rows = grid + [(s, t, t) for s, t in seen if (s, t) not in known]
    stage_pos = {s: i for i, s in enumerate(j.stage_ids)}
    last = "\uffff"  # after every name: no stage or no touchpoint comes last

    def key(i: int) -> tuple:
        s, t, _ = rows[i]
        # stages outside the journey share one position: their name orders them (then the
        # touchpoint), not the order the backend's group-by happened to list the cells in
        pos = stage_pos.get(s, len(stage_pos)) if s is not None else len(stage_pos)
        return pos, last if s is None else s, min(i, len(grid)), last if t is None else t

    rows = [rows[i] for i in sorted(range(len(rows)), key=key)]
    labels = {s.id: s.label for s in j.stages}
    return pd.DataFrame(
        {
            "stage": [s for s, _, _ in rows],
            "stage_label": [labels.get(s, s) if s is not None else None for s, _, _ in rows],
            "touchpoint": [t for _, t, _ in rows],
            "label": [lb for _, _, lb in rows],
        }
    )


def journey_map(
    store: Any,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    *,
    window: str | dt.timedelta | int | float | None = None,
    shrinkage: float = MIN_N,
    min_n: int = MIN_N,
    segment: str | None = None,
) -> pd.DataFrame:
    """The stage × touchpoint journey map with reach, flow, scores and the pain score.

    Parameters
    ----------
    store
        The workspace's store (or the workspace).
    start, end
        Keep events and answers with ``start <= ts < end``.
    filters
        ``{dimension: value | [values]}`` applied to events and feedback alike (``channel``,
        ``segment``, ``country``, ``traits.<key>``…).
    segment
        Only the members of this saved segment (events, answers and verbatims of other customers are left out).
    window
        Count a conversion only when the next-stage event comes within this long of the first
        event at the cell (``"30d"``…); ``None``: any time later.
    shrinkage
        ``m``, the weight in answers of the overall unhappy share in each cell's (see the module
        docstring).
    min_n
        Passed to the metrics (their ``small_sample`` threshold).

    Returns
    -------
    DataFrame
        :data:`MAP_COLUMNS`: ``stage, stage_label, touchpoint, label, volume, customers, reach,
        next_stage, conversion, drop_off``, ``nps/csat/ces`` each with ``_n`` and
        ``_ci_low/_ci_high``, ``survey_n, unhappy`` (percent), ``sentiment`` and
        ``negative_themes`` (mean sentiment in [-1, 1] and top negative theme of the cell's English
        verbatims, :func:`cxlens.voice.summary.journey_voice`; NaN/None without text), ``pain_score``
        (0-100) and ``pain_rank``. Rates in percent. Cells with survey answers but no touchpoint
        (e.g. relationship NPS) appear with ``touchpoint`` ``None``.
    """
    if shrinkage < 0:
        raise ConfigError(f"shrinkage is {shrinkage!r}; expected a number of answers, 0 or more")
    stages = store.journey.stage_ids
    flow = _flow(store, _events(store, start, end, filters, segment), stages, window)
    total = flow.attrs["total"]
    scores = _scores(store, start, end, filters, min_n, segment)
    keys = ["stage", "touchpoint"]
    cells = pd.concat([flow[keys], scores[keys]], ignore_index=True)
    grid = _order(store, cells)
    df = grid.merge(flow, on=keys, how="left").merge(scores, on=keys, how="left")
    df["next_stage"] = [_next_stage(stages, s) for s in df["stage"]]
    for c in ("volume", "customers", "converted"):
        df[c] = df[c].fillna(0).astype("int64")
    df["reach"] = 100 * df["customers"] / total if total else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = np.where(df["customers"] > 0, 100 * df["converted"] / df["customers"].replace(0, np.nan), np.nan)
    df["conversion"] = np.where(df["next_stage"].notna(), conv, np.nan)
    df["drop_off"] = 100 - df["conversion"]
    for m in _METRICS:
        for suffix in ("", "_ci_low", "_ci_high"):
            if f"{m}{suffix}" not in df:
                df[f"{m}{suffix}"] = np.nan
        df[f"{m}_n"] = df[f"{m}_n"].fillna(0).astype("int64") if f"{m}_n" in df else 0
        if f"_{m}_bad" not in df:
            df[f"_{m}_bad"] = 0.0
    df["survey_n"] = sum(df[f"{m}_n"] for m in _METRICS).astype("int64")
    bad = sum(df[f"_{m}_bad"].fillna(0.0) for m in _METRICS)
    with np.errstate(invalid="ignore", divide="ignore"):
        df["unhappy"] = np.where(df["survey_n"] > 0, 100 * bad / df["survey_n"].replace(0, np.nan), np.nan)
    df["sentiment"], df["negative_themes"] = np.nan, None
    if voice_available():  # mean sentiment and top negative theme of the cell's verbatims
        from cxlens.voice.summary import journey_voice

        vo = journey_voice(store, start, end, filters, segment=segment).set_index(keys)
        at = pd.MultiIndex.from_frame(df[keys].astype(object))
        df["sentiment"] = vo["sentiment"].reindex(at).to_numpy(dtype=float)
        df["negative_themes"] = vo["negative_themes"].reindex(at).astype(object).to_numpy()
    df["pain_score"] = _pain(df, bad, shrinkage)
    df["pain_rank"] = df["pain_score"].rank(ascending=False, method="min").astype("Int64")
    for c in ("stage", "stage_label", "touchpoint", "label"):
        df[c] = pd.Series([None if pd.isna(v) else v for v in df[c]], index=df.index, dtype=object)
    return df[MAP_COLUMNS]


def _pain(df: pd.DataFrame, bad: pd.Series, m: float) -> pd.Series:
    n = df["survey_n"].astype(float)
    p0 = bad.sum() / n.sum() if n.sum() else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        d = (bad + m * p0) / (n + m)
    scored = df["drop_off"].notna() & (df["customers"] > 0)
    w = df.loc[scored, "customers"]
    mean_drop = float(np.average(df.loc[scored, "drop_off"], weights=w)) if w.sum() else 0.0
    drop = df["drop_off"].where(df["next_stage"].notna(), mean_drop).fillna(0.0)
    volume = df["volume"].astype(float)
    share = volume / volume.sum() if volume.sum() else volume * 0
    raw = share * d * (drop / 100)
    raw = raw.where(n > 0)
    top = raw.max()
    return 100 * raw / top if pd.notna(top) and top > 0 else raw * 0


def stage_flow(
    store: Any,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    *,
    window: str | dt.timedelta | int | float | None = None,
    segment: str | None = None,
) -> pd.DataFrame:
    """Per journey stage: customers, events and drop-off to the next stage, whatever the touchpoint.

    The same definitions as :func:`journey_map` with the stage as the cell: ``customers`` with an
    event at the stage, ``conversion`` the percent of them with an event at the next journey stage
    strictly after their first event at this one (within ``window``), ``drop_off = 100 −
    conversion`` (NaN at the last stage). Stages without events keep their row with 0 customers.

    Returns
    -------
    DataFrame
        ``stage, volume, customers, reach, next_stage, converted, conversion, drop_off``, in journey order.
    """
    stages = store.journey.stage_ids
    ev = _events(store, start, end, filters, segment)
    ev = ev.mutate(touchpoint=ibis.literal(None, type="string"))
    flow = _flow(store, ev, stages, window)
    total = flow.attrs["total"]
    df = pd.DataFrame({"stage": stages}).merge(flow.drop(columns=["touchpoint", "next_stage"]), on="stage", how="left")
    df.insert(1, "next_stage", stages[1:] + [None])
    for c in ("volume", "customers", "converted"):
        df[c] = df[c].fillna(0).astype("int64")
    df["reach"] = 100 * df["customers"] / total if total else np.nan
    with np.errstate(invalid="ignore", divide="ignore"):
        conv = 100 * df["converted"] / df["customers"].replace(0, np.nan)
    df["conversion"] = conv.where(df["next_stage"].notna())
    df["drop_off"] = 100 - df["conversion"]
    return df[["stage", "volume", "customers", "reach", "next_stage", "converted", "conversion", "drop_off"]]


def _rest(df: pd.DataFrame, metric: str) -> pd.DataFrame:
    """For each (touchpoint, channel) row, the pooled statistics of the touchpoint's other channels."""
    tot = df.groupby("touchpoint", dropna=False)
    out = pd.DataFrame(index=df.index)
    n_all = tot["n"].transform("sum")
    out["rest_n"] = n_all - df["n"]
    if metric == "nps":
        for c in ("promoters", "detractors"):
            out[f"rest_{c}"] = tot[c].transform("sum") - df[c]
        with np.errstate(invalid="ignore", divide="ignore"):
            p, d = out["rest_promoters"] / out["rest_n"], out["rest_detractors"] / out["rest_n"]
        out["rest_value"] = 100 * (p - d)
        out["rest_var"] = 100**2 * ((p + d) - (p - d) ** 2) / out["rest_n"]
    elif metric == "csat":
        out["rest_satisfied"] = tot["satisfied"].transform("sum") - df["satisfied"]
        out["rest_value"] = 100 * out["rest_satisfied"] / out["rest_n"]
    else:  # mean score: pooled mean and sd of the other channels from their means, sds and ns
        sd = df["sd"].fillna(0.0)
        s1 = df[metric] * df["n"]
        s2 = (df["n"] - 1).clip(lower=0) * sd**2 + df["n"] * df[metric] ** 2
        r1 = s1.groupby(df["touchpoint"], dropna=False).transform("sum") - s1
        r2 = s2.groupby(df["touchpoint"], dropna=False).transform("sum") - s2
        rn = out["rest_n"]
        with np.errstate(invalid="ignore", divide="ignore"):
            out["rest_value"] = r1 / rn
            out["rest_sd"] = np.sqrt(((r2 - rn * out["rest_value"] ** 2) / (rn - 1)).clip(lower=0))
    return out


def channel_consistency(
    store: Any,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    *,
    metrics: Sequence[str] = _METRICS,
    alpha: float = 0.05,
    min_n: int = MIN_N,
    segment: str | None = None,
) -> pd.DataFrame:
    """The same touchpoint compared across channels: is the experience consistent?

    For every touchpoint answered through two or more channels, each channel's score is tested
    against the pooled answers of the touchpoint's other channels: NPS with the z-test of two NPS
    values, CSAT with the pooled two-proportion z-test, CES with Welch's t-test
    (:mod:`cxlens.metrics.stats`). ``p_value`` is Bonferroni-adjusted for the number of channels
    of the touchpoint; ``significant`` is ``p_value < alpha``, and ``consistent`` is ``False`` for
    every row of a touchpoint and metric where any channel differs significantly.

    Returns
    -------
    DataFrame
        :data:`CONSISTENCY_COLUMNS`: ``touchpoint, metric, channel, value, n, ci_low, ci_high``
        (the metric's own interval), ``rest_value, rest_n`` (the other channels pooled),
        ``delta = value - rest_value``, ``statistic, p_value, significant, consistent,
        small_sample``. Touchpoints with one channel keep their row with ``NaN`` tests and
        ``consistent`` ``True``. Sorted by touchpoint, metric, channel.
    """
    frames = []
    for metric in metrics:
        if metric not in _METRICS:
            raise ConfigError(f"channel_consistency cannot compare {metric!r}; expected one of {', '.join(_METRICS)}")
        df = getattr(Metrics(store), metric)(
            by=["touchpoint", "channel"], start=start, end=end, filters=filters, min_n=min_n, segment=segment
        )
        df = df[df["touchpoint"].notna()].reset_index(drop=True)
        if df.empty:
            continue
        rest = _rest(df, metric)
        if metric == "nps":
            var = 100**2 * ((df["promoter_share"] + df["detractor_share"]) / 100
                            - ((df["promoter_share"] - df["detractor_share"]) / 100) ** 2) / df["n"]  # fmt: skip
            stat, p = nps_z_test(df["nps"], var, rest["rest_value"], rest["rest_var"])
        elif metric == "csat":
            stat, p = two_proportion_z_test(df["satisfied"], df["n"], rest["rest_satisfied"], rest["rest_n"])
        else:
            stat, p = welch_t_test(df[metric], df["sd"], df["n"], rest["rest_value"], rest["rest_sd"], rest["rest_n"])
        k = df.groupby("touchpoint")["channel"].transform("count")
        out = pd.DataFrame({
            "touchpoint": df["touchpoint"], "metric": metric, "channel": df["channel"], "value": df[metric],
            "n": df["n"].astype("int64"), "ci_low": df["ci_low"], "ci_high": df["ci_high"],
            "rest_value": rest["rest_value"].where(k > 1), "rest_n": rest["rest_n"].astype("int64"),
        })  # fmt: skip
        out["delta"] = out["value"] - out["rest_value"]
        ok = (k > 1) & (out["rest_n"] > 0)
        out["statistic"] = np.where(ok, stat, np.nan)
        out["p_value"] = np.where(ok, np.minimum(np.asarray(p, float) * k, 1.0), np.nan)
        out["significant"] = (out["p_value"] < alpha).fillna(False).astype(bool)
        out["consistent"] = ~out.groupby("touchpoint")["significant"].transform("any").astype(bool)
        out["small_sample"] = (out["n"] < min_n) | (ok & (out["rest_n"] < min_n))
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=CONSISTENCY_COLUMNS)
    res = pd.concat(frames, ignore_index=True)
    res = res.sort_values(["touchpoint", "metric", "channel"], kind="mergesort", na_position="last")
    return res[CONSISTENCY_COLUMNS].reset_index(drop=True)
