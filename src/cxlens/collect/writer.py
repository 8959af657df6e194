"""Durable group commit: one writer thread per workspace, acknowledging only committed data.

Requests hand their validated :class:`~cxlens.collect.messages.Messages` to
:meth:`Collector.submit` and wait on the returned future. The writer thread takes everything
queued (up to ``max_rows``), writes it in ONE store transaction on its own thread's cursor
(dashboard reads never stall it; other writes take turns with it), commits — DuckDB syncs its
write-ahead log on commit — and only then resolves the futures.
While one group commits, the next one gathers: the busier the server, the bigger the groups.

**Idempotency.** ``event_id`` (the client's ``messageId``) is unique in ``events``. Checking
each group against a growing table with an anti-join costs a scan of every id (≈ 0.9 s per
group at 10M events, measured) and a primary-key index costs ≈ 0.3-0.7 s per group at 10M and
1-2 GB of memory. Instead the writer keeps :class:`SeenIds`: the 64-bit hash of every collected
``event_id`` (:func:`~cxlens.collect.messages.id_hash`, DuckDB's ``md5_number_lower``) in a
sorted NumPy array (8 bytes an event: 80 MB at 10M), searched by bisection. The hashes are also
appended to the un-indexed table ``collect_ids`` in the same transaction as the events, so a
restarted collector reads them back (≈ 0.9 s at 10M on a busy machine; hashing 10M ids again took ≈ 10 s)
and stays exact across restarts. A hash hit is only a *suspect*: it is confirmed against
``events`` by value before a row is dropped, so a 64-bit collision can never lose an event, and
an event erased since can be sent again (true duplicates — retries — are rare, so the confirming
scan is too). Ids repeated inside one group keep their first occurrence.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import logging
import os
import threading
import time
import weakref
from collections import deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.collect.identity import PROTECTED_SETTING, PROTECTED_TRAITS
from cxlens.collect.messages import EVENT_COLUMNS, Messages
from cxlens.errors import WorkspaceError
from cxlens.schema.pii import is_pii_key
from cxlens.store import hooks

if TYPE_CHECKING:
    from cxlens.store import Store

__all__ = ["Collector", "CommitResult", "SeenIds", "close_collectors", "collector_for"]

log = logging.getLogger("cxlens.collect")

_COLS = ", ".join(f'"{c}"' for c in EVENT_COLUMNS)
_CUSTOMER_COLS = ("customer_id", "created_at", "email", "name", "segment", "plan", "country", "churned_at", "traits")
_CUSTOMER_SCHEMA = pa.schema(
    [(c, pa.timestamp("us") if c in ("created_at", "churned_at") else pa.string()) for c in _CUSTOMER_COLS]
)


@dataclass(frozen=True)
class CommitResult:
    """What one request's messages did: rows written and rows skipped as already present."""

    inserted: int
    duplicates: int


class SeenIds:
    """Membership of 64-bit event-id hashes: a sorted array plus a set of recent ones."""

    def __init__(self, hashes: np.ndarray, merge_every: int = 200_000):
        self._sorted = np.sort(np.asarray(hashes, dtype=np.uint64))
        self._recent: set[int] = set()
        self._merge_every = merge_every

    def __len__(self) -> int:
        return len(self._sorted) + len(self._recent)

    def contains(self, hashes: np.ndarray) -> np.ndarray:
        """Boolean mask: which of ``hashes`` were seen before."""
        s = self._sorted
        if len(s):
            pos = np.searchsorted(s, hashes)
            hit = s[np.minimum(pos, len(s) - 1)] == hashes
        else:
            hit = np.zeros(len(hashes), dtype=bool)
        if self._recent:
            recent, values = self._recent, hashes.tolist()
            if not recent.isdisjoint(values):  # C-speed test first: hits are rare
                hit |= np.fromiter((h in recent for h in values), dtype=bool, count=len(values))
        return hit

    def add(self, hashes: np.ndarray) -> None:
        self._recent.update(np.asarray(hashes, dtype=np.uint64).tolist())
        if len(self._recent) >= self._merge_every:
            merged = np.concatenate([self._sorted, np.fromiter(self._recent, dtype=np.uint64)])
            merged.sort(kind="stable")  # timsort merges the two sorted runs in linear time
            self._sorted, self._recent = merged, set()


@dataclass
class _Job:
    messages: Messages
    #: a concurrent future, or an asyncio future of ``loop``
    future: Any
    loop: asyncio.AbstractEventLoop | None = None


def _settle(outcomes: list[tuple[Any, CommitResult | None, BaseException | None]]) -> None:
    for fut, res, exc in outcomes:
        if fut.done():  # the request was cancelled (client gone)
            continue
        if exc is not None:
            fut.set_exception(exc)
        else:
            fut.set_result(res)


def _resolve(jobs: list[_Job], results: list[CommitResult | None], errors: list[BaseException | None]) -> None:
    """Resolve futures: concurrent ones here, asyncio ones in ONE call per event loop."""
    by_loop: dict[asyncio.AbstractEventLoop, list[tuple[Any, CommitResult | None, BaseException | None]]] = {}
    for job, res, exc in zip(jobs, results, errors, strict=True):
        if job.loop is None:
            _settle([(job.future, res, exc)])
        else:
            by_loop.setdefault(job.loop, []).append((job.future, res, exc))
    for loop, outcomes in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle, outcomes)
        except RuntimeError:  # pragma: no cover - loop closed while committing
            pass


def _tables(jobs: list[_Job]) -> list[pa.Table]:
    """The group's Arrow tables, in the order the requests came: a request sealed before queueing
    (:meth:`Messages.seal`, or parsed in a worker process) brings its table; each run of requests whose
    rows are still Python lists becomes ONE table (a table each would cost ≈ 13 Arrow conversions a
    request). The order matters: an id repeated inside a group keeps its first occurrence."""
    tables: list[pa.Table] = []
    rows: list[list[Any]] = []
    hashes: list[int] = []
    for job in jobs:
        m = job.messages
        if m.table is None:
            rows += m.rows
            hashes += m.hashes
            continue
        if rows:
            tables.append(Messages(rows=rows, hashes=hashes).to_table())
            rows, hashes = [], []
        tables.append(m.table)
    if rows:
        tables.append(Messages(rows=rows, hashes=hashes).to_table())
    return tables


class Collector:
    """The writer of one workspace (see the module docstring).

    Parameters
    ----------
    ws
        An open, writable DuckDB workspace.
    max_rows
        Largest group committed at once.
    linger
        Seconds to wait for more requests after the first one of a group (0: commit at once;
        requests arriving during a commit form the next group anyway).
    """

    def __init__(self, ws: Store, *, max_rows: int = 50_000, linger: float = 0.0):
        if ws.read_only:
            raise WorkspaceError(f"cannot collect into workspace {ws.path!r}: it is open read-only; open it writable")
        self.store = ws
        self.path = ws.path
        self.max_rows = max_rows
        self.linger = linger
        t0 = time.perf_counter()
        h = ws.read_arrow("SELECT h FROM collect_ids").column("h").to_numpy()
        self.seen = SeenIds(np.asarray(h, dtype=np.uint64))
        self.startup_seconds = time.perf_counter() - t0
        self._journey_at = 0.0
        self._stage_of: dict[str, str] = {}
        self._settings: dict[str, tuple[float, Any]] = {}
        self._queue: deque[_Job] = deque()
        self._cv = threading.Condition()
        self._closing = False
        self.groups = 0
        self.committed = 0
        self._thread = threading.Thread(target=self._run, name=f"cxlens-collect-{ws.path}", daemon=True)
        self._thread.start()

    # -- settings (cached: the hot path reads the database at most every few seconds)
    def setting(self, name: str, default: Any = None, ttl: float = 5.0) -> Any:
        """A workspace setting, cached for ``ttl`` seconds."""
        now = time.monotonic()
        hit = self._settings.get(name)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
        row = self.store.one("SELECT value FROM settings WHERE name = ?", [name])
        value = default if row is None else orjson.loads(row[0])
        self._settings[name] = (now, value)
        return value

    def forget_settings(self) -> None:
        """Drop cached settings (after changing them)."""
        self._settings.clear()

    # -- submitting ------------------------------------------------------------------
    def _enqueue(self, job: _Job) -> None:
        with self._cv:
            if self._closing:
                raise WorkspaceError("the collector is shutting down; retry the request")
            self._queue.append(job)
            self._cv.notify()

    def submit(self, messages: Messages) -> concurrent.futures.Future[CommitResult]:
        """Queue validated messages; the future resolves once they are committed (or fails)."""
        fut: concurrent.futures.Future[CommitResult] = concurrent.futures.Future()
        self._enqueue(_Job(messages, fut))
        return fut

    async def commit(self, messages: Messages) -> CommitResult:
        """Queue validated messages and wait, in the event loop, until they are committed."""
        loop = asyncio.get_running_loop()
        fut: asyncio.Future[CommitResult] = loop.create_future()
        self._enqueue(_Job(messages, fut, loop))
        return await fut

    def write(self, messages: Messages, timeout: float | None = 60) -> CommitResult:
        """Submit and wait (for scripts and tests)."""
        return self.submit(messages).result(timeout)

    def close(self, timeout: float = 30) -> None:
        """Commit what is queued, then stop the thread."""
        with self._cv:
            self._closing = True
            self._cv.notify()
        self._thread.join(timeout)

    # -- the writer thread -----------------------------------------------------------
    def _take(self) -> list[_Job] | None:
        with self._cv:
            while not self._queue and not self._closing:
                self._cv.wait()
            if not self._queue:
                return None
        if self.linger:
            time.sleep(self.linger)
        jobs, rows = [], 0
        with self._cv:
            while self._queue and (rows < self.max_rows or not jobs):
                job = self._queue.popleft()
                jobs.append(job)
                rows += job.messages.count  # also a table parsed in a worker (its rows were dropped)
        return jobs

    def _run(self) -> None:
        while True:
            jobs = self._take()
            if jobs is None:
                return
            try:
                results: list[CommitResult | None] = list(self._commit(jobs))
                errors: list[BaseException | None] = [None] * len(jobs)
            except Exception as e:
                log.exception("collect: commit of %d requests failed", len(jobs))
                if len(jobs) == 1:
                    results, errors = [None], [e]
                else:
                    # one bad request must not fail the others of its group: commit them one by one
                    results, errors = [], []
                    for job in jobs:
                        try:
                            results.append(self._commit([job])[0])
                            errors.append(None)
                        except Exception as e1:
                            results.append(None)
                            errors.append(e1)
            _resolve(jobs, results, errors)

    def _journey(self) -> dict[str, str]:
        now = time.monotonic()
        if now - self._journey_at > 30:
            # a journey row without a touchpoint matches no event (the rule of ``cxlens import``)
            rows = self.store.rows("SELECT touchpoint, stage FROM journey_touchpoints WHERE touchpoint IS NOT NULL")
            self._stage_of = {t: s for t, s in rows}
            self._journey_at = now
        return self._stage_of

    def _commit(self, jobs: list[_Job]) -> list[CommitResult]:
        """Write the jobs in one transaction; one result per job, in the order given."""
        order = list(jobs)
        results = self._commit_group(jobs)
        return [results[id(job)] for job in order]

    def _commit_group(self, jobs: list[_Job]) -> dict[int, CommitResult]:
        table = pa.concat_tables(tables) if len(tables := _tables(jobs)) > 1 else tables[0]
        table = self._fill_journey(table)
        hashes = np.asarray(table.column("_h").to_numpy(), dtype=np.uint64)
        keep = self._dedupe(table, hashes)
        new = table if keep.all() else table.filter(pa.array(keep))
        offset = 0
        identifies, links = [], []
        for job in jobs:
            m = job.messages
            identifies += [
                (cid, ts, traits, m.is_verified(i)) for i, cid, ts, traits in m.identifies if keep[offset + i]
            ]
            links += [(a, c, ts) for i, a, c, ts in m.links if keep[offset + i]]
            offset += m.count
        changes = (
            ["events", "collect_ids"]
            + (["customers"] if identifies else [])
            + (["collect_identities"] if links else [])
        )
        new_hashes = hashes[keep]
        with self.store.transaction(changes=changes) as cur:
            cur.register("_collect_new", new)
            # the hashes as a NumPy column: DuckDB scans it without Arrow's dataset scanner (≈ 0.5 ms less
            # a commit, measured)
            cur.register("_collect_new_ids", {"h": new_hashes})
            try:
                cur.execute(f"INSERT INTO events ({_COLS}) SELECT {_COLS} FROM _collect_new")
                cur.execute("INSERT INTO collect_ids SELECT h FROM _collect_new_ids")
                # the row hooks (act frustration rules) in this transaction, as every writer of events
                hooks.inserted(self.store, cur, "events", f"SELECT {_COLS} FROM _collect_new")
                if identifies:
                    self._upsert_customers(cur, identifies)
                if links:
                    self._link(cur, links)
            finally:
                cur.unregister("_collect_new")
                cur.unregister("_collect_new_ids")
        self.seen.add(new_hashes)
        self.groups += 1
        self.committed += int(keep.sum())
        out, offset = {}, 0
        for job in jobs:
            n = job.messages.count
            ins = int(keep[offset : offset + n].sum())
            out[id(job)] = CommitResult(ins, n - ins)
            offset += n
        return out

    def _fill_journey(self, table: pa.Table) -> pa.Table:
        """A page/event named like a journey touchpoint gets it; a missing stage comes from the journey."""
        stage_of = self._journey()
        if not stage_of:
            return table
        tps = pa.array(list(stage_of), type=pa.string())
        stages = pa.array(list(stage_of.values()), type=pa.string())
        name, tp = table.column("name"), table.column("touchpoint")
        # skip_nulls: a row without a name or touchpoint never matches (also were a NULL in the set)
        by_name = pc.if_else(pc.is_in(name, value_set=tps, skip_nulls=True), name, pa.scalar(None, pa.string()))
        tp = pc.coalesce(tp, by_name)
        at = pc.index_in(tp, value_set=tps, skip_nulls=True)
        stage = pc.coalesce(table.column("stage"), pc.take(stages, at))
        table = table.set_column(table.schema.get_field_index("touchpoint"), "touchpoint", tp)
        return table.set_column(table.schema.get_field_index("stage"), "stage", stage)

    def _dedupe(self, table: pa.Table, hashes: np.ndarray) -> np.ndarray:
        """Keep mask: drop ids already committed and repeats within the group."""
        suspect = self.seen.contains(hashes)
        keep = ~suspect
        if suspect.any():
            # a hash hit is confirmed by value: a 64-bit collision must never drop an event
            where = np.flatnonzero(suspect)
            ids = table.column("event_id").take(pa.array(where)).to_pylist()
            found = {
                r[0]
                for r in self.store.rows(
                    "SELECT DISTINCT event_id FROM events WHERE event_id IN (SELECT unnest(?::VARCHAR[]))", [ids]
                )
            }
            for i, eid in zip(where, ids, strict=True):
                keep[i] = eid not in found
        # repeats inside this group: keep the first occurrence
        if len(np.unique(hashes)) < len(hashes):
            seen_here: set[str] = set()
            for i, eid in enumerate(table.column("event_id").to_pylist()):
                if eid in seen_here:
                    keep[i] = False
                elif keep[i]:
                    seen_here.add(eid)
        return keep

    def _upsert_customers(self, cur: Any, identifies: list[tuple[str, datetime, dict[str, Any], bool]]) -> None:
        """Merge identify traits into ``customers``; an unverified identify (a browser without a valid
        ``userHash``) may add traits but not change the PII or protected traits of an existing customer."""
        ids = list(dict.fromkeys(cid for cid, _, _, _ in identifies))
        existing: dict[str, dict[str, Any]] = {}
        for row in cur.execute(
            f"SELECT {', '.join(_CUSTOMER_COLS)} FROM customers WHERE customer_id IN (SELECT unnest(?::VARCHAR[]))",
            [ids],
        ).fetchall():
            rec = dict(zip(_CUSTOMER_COLS, row, strict=True))
            if rec["customer_id"] not in existing:
                rec["traits"] = orjson.loads(rec["traits"]) if rec["traits"] else {}
                existing[rec["customer_id"]] = rec
        known = set(existing)  # customers that existed before this commit
        protected = None
        for cid, ts, traits, verified in identifies:
            rec = existing.setdefault(
                cid, {c: None for c in _CUSTOMER_COLS} | {"customer_id": cid, "traits": {}, "created_at": ts}
            )
            if verified or cid not in known:
                merge_traits(rec, traits)
            else:
                if protected is None:
                    protected = frozenset(PROTECTED_TRAITS) | frozenset(self.setting(PROTECTED_SETTING, []) or [])
                merge_traits(rec, traits, protect=protected)
        recs = [existing[c] for c in ids]
        table = pa.table(
            {
                c: pa.array(
                    [orjson.dumps(r[c]).decode() if c == "traits" else r[c] for r in recs],
                    type=_CUSTOMER_SCHEMA.field(c).type,
                )
                for c in _CUSTOMER_COLS
            },
            schema=_CUSTOMER_SCHEMA,
        )
        cur.register("_collect_customers", table)
        try:
            cur.execute("DELETE FROM customers WHERE customer_id IN (SELECT customer_id FROM _collect_customers)")
            cols = ", ".join(_CUSTOMER_COLS)
            cur.execute(f"INSERT INTO customers ({cols}) SELECT {cols} FROM _collect_customers")
        finally:
            cur.unregister("_collect_customers")

    def _link(self, cur: Any, links: list[tuple[str, str, datetime]]) -> None:
        pairs: dict[tuple[str, str], list[datetime]] = {}
        for a, c, ts in links:
            span = pairs.get((a, c))
            if span is None:
                pairs[(a, c)] = [ts, ts]
            else:
                span[0], span[1] = min(span[0], ts), max(span[1], ts)
        cur.executemany(
            "INSERT INTO collect_identities VALUES (?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "first_seen = least(first_seen, excluded.first_seen), last_seen = greatest(last_seen, excluded.last_seen)",
            [[a, c, s[0], s[1]] for (a, c), s in pairs.items()],
        )


_PROMOTED = ("segment", "plan", "country")


def merge_traits(rec: dict[str, Any], traits: dict[str, Any], *, protect: frozenset[str] | None = None) -> None:
    """Merge ``identify`` traits into a customers record (later values win; email/name to their columns).

    With ``protect`` (an unverified identify of an existing customer), a value already set is kept
    for the PII columns, for trait keys naming personal data (:func:`cxlens.schema.pii.is_pii_key`)
    and for the keys in ``protect`` (``segment``, ``plan``, …); other traits merge as usual.

    >>> rec = {"email": None, "name": None, "segment": None, "plan": None, "country": None, "traits": {"a": 1},
    ...        "created_at": None}
    >>> merge_traits(rec, {"email": "ann@example.com", "firstName": "Ann", "lastName": "Lee", "plan": "pro", "b": 2})
    >>> rec["email"], rec["name"], rec["plan"], rec["traits"]
    ('ann@example.com', 'Ann Lee', 'pro', {'a': 1, 'b': 2})
    >>> merge_traits(rec, {"email": "evil@example.com", "plan": "free", "phone": "+1 555", "b": 3},
    ...              protect=frozenset({"plan"}))
    >>> rec["email"], rec["plan"], rec["traits"]
    ('ann@example.com', 'pro', {'a': 1, 'b': 3, 'phone': '+1 555'})
    """

    def keeps(column: str, key: str | None = None) -> bool:  # an existing protected value stays
        if protect is None:
            return False
        if key is None:
            return rec.get(column) not in (None, "")
        return key in (rec.get("traits") or {}) and (key in protect or is_pii_key(key))

    rest = dict(traits)
    email = rest.pop("email", None)
    if isinstance(email, str) and email and not keeps("email"):
        rec["email"] = email
    name = rest.pop("name", None)
    first, last = rest.pop("firstName", None), rest.pop("lastName", None)
    if not (isinstance(name, str) and name):
        name = " ".join(x for x in (first, last) if isinstance(x, str) and x) or None
    if name and not keeps("name"):
        rec["name"] = name
    for c in _PROMOTED:
        v = rest.pop(c, None)
        if isinstance(v, (str, int, float)) and not isinstance(v, bool) and v != "":
            if not (protect is not None and c in protect and keeps(c)):
                rec[c] = str(v)
    created = rest.pop("createdAt", None)
    if protect is not None and "createdAt" in protect and rec.get("created_at") is not None:
        created = None
    if isinstance(created, str):
        try:
            t = datetime.fromisoformat(created[:-1] + "+00:00" if created.endswith("Z") else created)
            rec["created_at"] = t.replace(tzinfo=None) if t.tzinfo is None else t.astimezone(UTC).replace(tzinfo=None)
        except ValueError:
            rest["createdAt"] = created
    elif created is not None:
        rest["createdAt"] = created
    if protect is not None:
        rest = {k: v for k, v in rest.items() if not keeps("traits", k)}
    rec["traits"] = {**(rec.get("traits") or {}), **rest}


# -- one collector per open workspace ----------------------------------------------------
_collectors: weakref.WeakKeyDictionary[Store, Collector] = weakref.WeakKeyDictionary()
_registry_lock = threading.Lock()


def collector_for(ws: Store) -> Collector:
    """The (lazily started) collector of ``ws``."""
    c = _collectors.get(ws)
    if c is None:
        with _registry_lock:
            c = _collectors.get(ws)
            if c is None:
                c = _collectors[ws] = Collector(
                    ws, linger=float(os.environ.get("CXLENS_COLLECT_LINGER_MS", "0")) / 1000
                )
    return c


def close_collectors(ws: Store | None = None) -> None:
    """Commit what is queued and stop the collector of ``ws`` (of every workspace when None)."""
    with _registry_lock:
        targets = [ws] if ws is not None else list(_collectors.keys())
        found = [(w, _collectors.pop(w)) for w in targets if w in _collectors]
    for _, c in found:
        c.close()


atexit.register(close_collectors)
