"""The store: the only code that talks to DuckDB.

A :class:`Store` owns one DuckDB database (a workspace file, or a running server's workspace
reached through :mod:`cxlens.store.remote`). Every thread that touches it gets a cursor of its own
(DuckDB connections are not safe to share between threads; cursors of one database are), with an
Ibis backend of its own on top, created on first use and closed with the store:

* :meth:`Store.read` runs a query — an Ibis expression or SQL with bound parameters — on this
  thread's cursor and returns a DataFrame (:meth:`~Store.rows`, :meth:`~Store.scalar` and
  :meth:`~Store.read_arrow` for other shapes). Reads never wait for each other or for a writer:
  DuckDB gives each one a consistent snapshot.
* :meth:`Store.transaction` is the only place that says BEGIN, COMMIT and ROLLBACK. Writes run
  one at a time (a store-wide lock); a transaction opened inside another on the same thread joins
  it, so domain functions compose into one all-or-nothing write.
* Database-wide settings are fixed once, at open (:data:`SETTINGS`), never toggled by a query.
* DuckDB's errors become cxlens errors in one place (:func:`translate`); a missing table is
  reported as missing only when the catalog says so.

For an Ibis backend that is not a cxlens DuckDB file (``cxlens.connect(spark)``) the
:class:`ExternalStore` reads through that backend, one query at a time, and refuses writes.

>>> from cxlens.store import Store
>>> store = Store.memory()
>>> with store.transaction() as cur:
...     _ = cur.execute("CREATE TABLE t (x INTEGER)")
...     _ = cur.execute("INSERT INTO t VALUES (1), (2)")
>>> store.scalar("SELECT sum(x) FROM t"), store.read(store.table("t").x.max().name("m").as_table())["m"][0]
(3, 2)
"""

from __future__ import annotations

import contextlib
import json
import threading
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import duckdb
import ibis
import ibis.common.exceptions as ibis_exc
import pandas as pd
import pyarrow as pa
from ibis.backends.duckdb import Backend as DuckDBBackend
from ibis.backends.duckdb.converter import DuckDBPandasData

from cxlens.errors import NotFoundError, QueryError, WorkspaceError

__all__ = ["SETTINGS", "ExternalStore", "Store", "translate"]

#: database-wide DuckDB settings, fixed when a store opens (session settings such as the time zone
#: are set on each cursor as it is created)
SETTINGS: dict[str, Any] = {
    "python_enable_replacements": False,
    "preserve_insertion_order": False,
    # checkpoint after 64 MB of log instead of 16 MB: each checkpoint rewrites the last, partly filled row
    # group, so frequent ones cost a streaming writer (the collector) up to half its time; crash recovery
    # replays at most that much log
    "wal_autocheckpoint": "64MB",
}
#: per-cursor (session) settings: every timestamp is naive UTC; no progress bar printed by a library
SESSION_SETTINGS: dict[str, str] = {"TimeZone": "UTC", "enable_progress_bar": "false"}

Query = str | ibis.Expr


def translate(err: BaseException, *, store: Store | None = None, what: str | None = None) -> BaseException:
    """The cxlens error for a DuckDB (or Ibis) error; other exceptions come back unchanged.

    * a missing table → :class:`~cxlens.errors.NotFoundError`, only when ``store`` confirms it is
      missing (a catalog error about anything else is a :class:`~cxlens.errors.QueryError`);
    * the file in use, unreadable or read-only → :class:`~cxlens.errors.WorkspaceError`;
    * bad SQL, a type or value DuckDB cannot convert → :class:`~cxlens.errors.QueryError` (400).
    """
    if isinstance(err, ibis_exc.TableNotFound):
        name = str(err.args[0]) if err.args else "?"
        return NotFoundError(f"workspace has no table {name!r}")
    if not isinstance(err, duckdb.Error):
        return err
    first = str(err).splitlines()[0] if str(err) else type(err).__name__
    if isinstance(err, duckdb.CatalogException):
        name = _missing_table(first)
        if name is not None and (store is None or not store.has_table(name)):
            return NotFoundError(f"workspace has no table {name!r}")
        return QueryError(f"{what + ': ' if what else ''}{first}")
    if isinstance(err, duckdb.IOException | duckdb.TransactionException):
        return WorkspaceError(f"{what + ': ' if what else ''}{first}")
    if "read-only" in first.lower() or "read only" in first.lower():
        return WorkspaceError(f"the workspace is open read-only; {first}")
    if isinstance(
        err,
        duckdb.ParserException
        | duckdb.BinderException
        | duckdb.ConversionException
        | duckdb.InvalidInputException
        | duckdb.ConstraintException
        | duckdb.OutOfRangeException
        | duckdb.NotImplementedException
        | duckdb.TypeMismatchException,
    ):
        return QueryError(f"{what + ': ' if what else ''}{first}")
    return err


def _missing_table(message: str) -> str | None:
    """The table a DuckDB catalog error says does not exist, if that is what it says."""
    marker = "Table with name "
    if marker in message and "does not exist" in message:
        return message.split(marker, 1)[1].split(" does not exist", 1)[0].strip()
    return None


@contextlib.contextmanager
def _translated(store: Store | None, what: str | None = None) -> Iterator[None]:
    try:
        yield
    except (duckdb.Error, ibis_exc.TableNotFound) as e:
        mapped = translate(e, store=store, what=what)
        if mapped is e:
            raise
        raise mapped from None


class _Local(threading.local):
    cursor: Any = None
    backend: Any = None
    depth: int = 0  # nesting of transaction() on this thread
    kept: bool = False  # a memo value was kept from inside the open transaction (memo(in_write=True))


#: compiled SQL and result schema of repeated analysis queries on DuckDB workspaces, per connection and
#: caller's key (insertion-ordered; the oldest entry goes first): building and compiling an Ibis
#: expression costs 30–100 ms, as much as many of the queries themselves
_COMPILED: dict[tuple, tuple[Any, str]] = {}
_COMPILED_MAX = 512
_COMPILED_LOCK = threading.Lock()


def read_compiled(store: Any, key: tuple, build: Any) -> pd.DataFrame:
    """Run the Ibis expression ``build()`` returns; on a DuckDB store its SQL is compiled once per
    ``key`` (which must name every parameter the expression depends on, and the caller) and rerun
    directly, converted to pandas as Ibis converts it. Other backends run ``build()`` each time."""
    if not getattr(store, "is_duckdb", False):
        return store.read(build())
    k = (id(store), *key)
    hit = _COMPILED.get(k)
    if hit is None:
        expr = build().as_table()
        hit = (expr.schema(), store.compile(expr))
        with _COMPILED_LOCK:
            _COMPILED[k] = hit
            while len(_COMPILED) > _COMPILED_MAX:
                _COMPILED.pop(next(iter(_COMPILED)))
    schema, sql = hit
    return to_pandas(store.read_arrow(sql), schema)


@contextlib.contextmanager
def unordered_reads(backend: Any) -> Iterator[None]:
    """Let DuckDB return the rows of the block's reads through ``backend`` (an Ibis DuckDB backend) in any order.

    A result that must keep the scan's order is gathered by one thread (at 10M events the funnel's
    packed scan read took ≈ 1 s of wall time for ≈ 1 CPU-s that way, ≈ 0.4 s in any order); a caller
    that sorts the rows itself does not need their order. Workspaces already run with the setting
    off (:data:`SETTINGS`); on a connection that has it on, it is switched off for the block and back
    on after it, also when the block fails (DuckDB has no per-query form of the setting, and a
    ``SET SESSION`` of it has no effect)."""
    con = backend.con
    (keep,) = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()
    if keep:
        con.execute("SET preserve_insertion_order = false")
    try:
        yield
    finally:
        if keep:
            con.execute("SET preserve_insertion_order = true")


@contextlib.contextmanager
def read_snapshot(backend: Any) -> Iterator[bool]:
    """Run the block's reads through ``backend`` (an Ibis DuckDB backend) against one state of the database.

    On a DuckDB connection of this process a read transaction is opened on it for the block
    (DuckDB's transactions read one snapshot) and closed after it; inside a transaction the
    caller already holds, the block simply runs in it. Yields True then, and False for any other
    connection (a remote cursor, whose ``begin()`` would take the serving process's write lock):
    the caller must not rely on two reads agreeing there."""
    con = getattr(backend, "con", None)
    if not isinstance(con, duckdb.DuckDBPyConnection):
        yield False
        return
    try:
        con.begin()
        began = True
    except duckdb.TransactionException:  # already inside one: its reads are one state
        began = False
    if not began:
        yield True
        return
    try:
        yield True
    except BaseException:
        with contextlib.suppress(Exception):
            con.rollback()
        raise
    con.commit()


def to_pandas(table: pa.Table, schema: Any = None) -> pd.DataFrame:
    """An Arrow result as pandas, converted the way Ibis converts DuckDB results (so both paths agree)."""
    import pyarrow.types as pat

    df = pd.DataFrame(
        {
            name: (
                col.to_pylist()
                if pat.is_nested(col.type) or pat.is_dictionary(col.type) or col.null_count
                else col.to_pandas()
            )
            for name, col in zip(table.column_names, table.columns, strict=True)
        }
    )
    if schema is not None:
        df = DuckDBPandasData.convert_table(df, schema)
    return df


class Store:
    """One DuckDB database, shared safely by every thread of a process.

    Use :func:`cxlens.store.open_store` for a workspace file (it also finds a running server's
    workspace), or :meth:`memory` for a scratch database.
    """

    #: the database is DuckDB (the metrics fast path and compiled-SQL caches rely on it)
    is_duckdb = True
    #: True when queries go to another process (a ``cxlens serve`` holding the file)
    is_remote = False

    def __init__(self, connection: Any, *, path: str | None = None, read_only: bool = False, remote: Any = None):
        self._db = connection
        self.path = path
        self.read_only = read_only
        self._remote = remote
        self.is_remote = remote is not None
        self._local = _Local()
        self._write_lock = threading.RLock()
        self._cursors_lock = threading.Lock()
        self._cursors: list[tuple[weakref.ref[threading.Thread], Any]] = []
        self._closed = False
        self._after_commit: list[Callable[[set[str]], None]] = []
        self._on_close: list[Callable[[], None]] = []
        self._journey: Any = None
        self._memo_init()
        self._apply_settings()

    # -- opening ------------------------------------------------------------------------
    @classmethod
    def memory(cls) -> Store:
        """A store over a new in-memory database."""
        return cls(duckdb.connect(":memory:"), path=":memory:")

    def _apply_settings(self) -> None:
        if self.is_remote:
            return  # the serving process fixed them when it opened the file
        for name, value in SETTINGS.items():
            literal = "true" if value is True else "false" if value is False else f"'{value}'"
            self._db.execute(f"SET GLOBAL {name} = {literal}")

    # -- per-thread cursors ---------------------------------------------------------------
    def cursor(self) -> Any:
        """This thread's DuckDB cursor (created on first use). Use :meth:`read`/:meth:`transaction`."""
        cur = self._local.cursor
        if cur is None:
            cur = self.new_cursor()
            self._local.cursor = cur
            with self._cursors_lock:
                self._prune()
                self._cursors.append((weakref.ref(threading.current_thread()), cur))
        return cur

    def new_cursor(self) -> Any:
        """A new cursor with the session settings, owned by the caller (who closes it)."""
        if self._closed:
            raise WorkspaceError(f"workspace {self.path!r} is closed")
        cur = self._db.cursor()
        if not self.is_remote:  # a serving process sets them on the cursors it opens for us
            for name, value in SESSION_SETTINGS.items():
                cur.execute(f"SET {name} = '{value}'")
        return cur

    def _prune(self) -> None:
        """Close the cursors of threads that have ended (called with ``_cursors_lock`` held)."""
        alive = []
        for ref, cur in self._cursors:
            t = ref()
            if t is None or not t.is_alive():
                with contextlib.suppress(Exception):
                    cur.close()
            else:
                alive.append((ref, cur))
        self._cursors = alive

    @property
    def backend(self) -> Any:
        """This thread's Ibis backend (over this thread's cursor)."""
        be = self._local.backend
        if be is None:
            be = DuckDBBackend()
            be._can_reconnect = False
            be.con = self.cursor()
            be._record_batch_readers_consumed = {}
            self._local.backend = be
        return be

    def close(self) -> None:
        """Close every cursor and the database (idempotent)."""
        if self._closed:
            return
        for fn in reversed(self._on_close):
            with contextlib.suppress(Exception):
                fn()
        self._closed = True
        with self._cursors_lock:
            for _, cur in self._cursors:
                with contextlib.suppress(Exception):
                    cur.close()
            self._cursors = []
        self._local = _Local()
        with contextlib.suppress(Exception):
            self._db.close()

    def on_close(self, fn: Callable[[], None]) -> None:
        """Call ``fn()`` when the store closes (before its connections close)."""
        self._on_close.append(fn)

    @property
    def closed(self) -> bool:
        return self._closed

    def __repr__(self) -> str:
        return f"Store({self.path!r}{', remote' if self.is_remote else ''})"

    # -- catalog --------------------------------------------------------------------------
    def tables(self) -> set[str]:
        """Names of the tables and views of the main schema."""
        rows = self.rows(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main' "
            "AND table_catalog = current_database()"
        )
        return {r[0] for r in rows}

    def has_table(self, name: str) -> bool:
        return bool(
            self.scalar(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'main' "
                "AND table_catalog = current_database() AND table_name = ?",
                [name],
            )
        )

    def table(self, name: str) -> ibis.Table:
        """The Ibis table ``name`` on this thread's backend."""
        try:
            return self.backend.table(name)
        except (ibis_exc.TableNotFound, duckdb.CatalogException):
            if not self.has_table(name):
                raise NotFoundError(f"workspace has no table {name!r}") from None
            raise

    # -- reading --------------------------------------------------------------------------
    def read(
        self, query: Query, params: Sequence[Any] | None = None, *, tables: Mapping[str, Any] | None = None
    ) -> pd.DataFrame | Any:
        """Run ``query`` on this thread's cursor: an Ibis expression (its result as Ibis gives it: a
        DataFrame, Series or scalar) or SQL with ``?`` parameters (a DataFrame). ``tables`` are Arrow
        tables or DataFrames visible to the query under those names, for this query only."""
        with self._registered(tables), _translated(self):
            if isinstance(query, str):
                return self.cursor().execute(query, list(params or [])).fetchdf()
            return self.backend.execute(query)

    def read_arrow(
        self, query: Query, params: Sequence[Any] | None = None, *, tables: Mapping[str, Any] | None = None
    ) -> pa.Table:
        """Like :meth:`read`, as an Arrow table."""
        with self._registered(tables), _translated(self):
            if isinstance(query, str):
                return self.cursor().execute(query, list(params or [])).fetch_arrow_table()
            return self.backend.to_pyarrow(query.as_table())

    def rows(
        self, sql: str, params: Sequence[Any] | None = None, *, tables: Mapping[str, Any] | None = None
    ) -> list[tuple]:
        """The rows of a SQL query as tuples."""
        with self._registered(tables), _translated(self):
            return self.cursor().execute(sql, list(params or [])).fetchall()

    def one(self, sql: str, params: Sequence[Any] | None = None) -> tuple | None:
        """The first row of a SQL query, or None."""
        with _translated(self):
            return self.cursor().execute(sql, list(params or [])).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """The first column of the first row of a SQL query (None when there is no row)."""
        row = self.one(sql, params)
        return None if row is None else row[0]

    def compile(self, expr: ibis.Expr) -> str:
        """The SQL of an Ibis expression, as this store would run it."""
        return str(self.backend.compile(expr))

    @contextlib.contextmanager
    def _registered(self, tables: Mapping[str, Any] | None) -> Iterator[None]:
        if not tables:
            yield
            return
        cur = self.cursor()
        for name, data in tables.items():
            cur.register(name, data)
        try:
            yield
        finally:
            for name in tables:
                with contextlib.suppress(Exception):
                    cur.unregister(name)

    # -- writing --------------------------------------------------------------------------
    @contextlib.contextmanager
    def transaction(self, *, changes: Sequence[str] = ()) -> Iterator[Any]:
        """A write transaction on this thread's cursor; commits when the block ends, rolls back on error.

        Writes from all threads run one at a time. Inside the block, :meth:`read` on the same thread
        sees the uncommitted writes. A transaction opened inside another (same thread) joins it.
        ``changes`` names the tables the block writes, for :meth:`on_commit` listeners (data
        versions, refresh jobs); :meth:`changed` adds to it from inside the block.
        """
        if self.read_only:
            raise WorkspaceError(f"workspace {self.path!r} is open read-only; open it writable to change it")
        local = self._local
        if local.depth:
            local.depth += 1
            local.changes.update(changes)
            try:
                yield self.cursor()
            finally:
                local.depth -= 1
            return
        with self._write_lock:
            cur = self.cursor()
            local.depth = 1
            local.changes = set(changes)
            local.kept = False
            try:
                with _translated(self, "write failed"):
                    cur.begin()
                try:
                    yield cur
                    if local.changes:
                        self._bump_versions(cur, local.changes)
                except BaseException as e:
                    with contextlib.suppress(Exception):
                        cur.rollback()
                    if local.kept:  # a value kept from inside this transaction may hold its rolled-back rows
                        self.memo_forget(None)
                    mapped = translate(e, store=self, what="write failed")
                    if mapped is e:
                        raise
                    raise mapped from e
                with _translated(self, "commit failed"):
                    cur.commit()
                changed = set(local.changes)
                self.memo_forget(changed or None)  # after the commit: a value read before it is never kept
            finally:
                local.depth = 0
                local.changes = set()
        if changed:
            for fn in list(self._after_commit):
                fn(changed)

    def changed(self, *tables: str) -> None:
        """Inside :meth:`transaction`: mark ``tables`` as written by this transaction."""
        if not self._local.depth:
            raise RuntimeError("Store.changed() is only meaningful inside a transaction")
        self._local.changes.update(tables)

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        """One statement in a transaction of its own (for DDL and single writes)."""
        with self.transaction() as cur:
            cur.execute(sql, list(params or []))

    def on_commit(self, fn: Callable[[set[str]], None]) -> None:
        """Call ``fn(tables)`` after every committed transaction that declared changed tables."""
        self._after_commit.append(fn)

    # -- small values cached between commits -----------------------------------------------
    def _memo_init(self) -> None:
        self._memo: dict[Any, tuple[tuple[int, ...], Any]] = {}
        self._memo_gens: dict[str, int] = {}
        self._memo_all = 0
        self._memo_lock = threading.Lock()

    def memo_forget(self, tables: set[str] | None = None) -> None:
        """Invalidate :meth:`memo` values read from ``tables`` (None: from every table). Called after
        each commit of this process with the tables it declared (like the data versions), and for every
        statement another process runs through this one (:mod:`cxlens.store.remote`)."""
        with self._memo_lock:
            if tables is None:
                self._memo_all += 1
            else:
                for t in tables:
                    self._memo_gens[t] = self._memo_gens.get(t, 0) + 1

    def memo(self, key: Any, tables: Sequence[str], fn: Callable[[], Any], *, in_write: bool = False) -> Any:
        """``fn()`` — a small value read from ``tables`` only (a setting, a survey definition, the allowed
        hosts) — cached until a commit changes one of ``tables``: never stale, since every write to this
        file runs in this process (another process's go through :mod:`cxlens.store.remote`). Inside a
        transaction a cached value is used only while the transaction has not declared a change to
        ``tables``, and a value read there is not kept (its snapshot may be older than the last commit,
        or hold its own uncommitted rows). Never cached on a remote store. Treat the value as read-only
        (it is shared).

        ``in_write``: a value read inside this thread's write transaction is kept too (for a read that
        every write of a busy path makes: the act rules' version on each batch of survey answers). The
        writer holds the write lock, so it reads the last commit; should the transaction have written
        ``tables`` without declaring it yet, the commit's declaration makes the entry stale, and a
        rollback forgets every value kept during the transaction."""
        if self.is_remote:
            return fn()
        local = self._local
        if local.depth and set(tables) & set(local.changes):
            return fn()
        with self._memo_lock:
            gens = (self._memo_all, *(self._memo_gens.get(t, 0) for t in tables))
            hit = self._memo.get(key)
        if hit is not None and hit[0] == gens:
            return hit[1]
        if local.depth and not in_write:
            return fn()
        if local.depth:
            local.kept = True
        value = fn()  # read after the generations: a commit meanwhile makes the entry stale, never wrong
        with self._memo_lock:
            if len(self._memo) > 4096:
                self._memo.clear()
            self._memo[key] = (gens, value)
        return value

    # -- data versions ----------------------------------------------------------------------
    def _bump_versions(self, cur: Any, tables: set[str]) -> None:
        # an UPDATE of the tables already counted, then an INSERT of those counted for the first time (rare):
        # DuckDB's INSERT … ON CONFLICT DO UPDATE cost ≈1 ms per conflicting row (≈8 ms for a survey answer
        # batch's eight tables, every commit), the UPDATE ≈1 ms in all; executemany is a statement per row
        names = sorted(tables)
        seen = {r[0] for r in cur.execute(
            "UPDATE data_versions SET version = version + 1 WHERE list_contains(?::VARCHAR[], name) RETURNING name",
            [names]).fetchall()}  # fmt: skip
        if new := [n for n in names if n not in seen]:
            cur.execute(
                "INSERT INTO data_versions SELECT unnest(?::VARCHAR[]), 1 "
                "ON CONFLICT (name) DO UPDATE SET version = version + 1",
                [new],
            )

    def data_version(self, tables: Sequence[str] | None = None) -> dict[str, int]:
        """How many committed transactions changed each table (all tracked tables when ``tables`` is None).

        Stored results (model fits, analyses) record the versions they were computed on; a result
        whose versions differ from the current ones is stale.
        """
        if tables is None:
            rows = self.rows("SELECT name, version FROM data_versions ORDER BY name")
            return {n: int(v) for n, v in rows}
        rows = self.rows(
            f"SELECT name, version FROM data_versions WHERE name IN ({', '.join('?' * len(tables))})", list(tables)
        )
        found = {n: int(v) for n, v in rows}
        return {t: found.get(t, 0) for t in tables}

    # -- settings and journey --------------------------------------------------------------
    def setting(self, name: str, default: Any = None) -> Any:
        """A workspace setting (JSON value), or ``default`` when unset (cached until settings change)."""
        row = self.memo(("setting", name), ("settings",), lambda: self.one("SELECT value FROM settings WHERE name = ?",
                                                                            [name]))  # fmt: skip
        return default if row is None else json.loads(row[0])

    def set_setting(self, name: str, value: Any) -> None:
        """Store a workspace setting (any JSON-serialisable value)."""
        with self.transaction(changes=["settings"]) as cur:
            cur.execute("INSERT OR REPLACE INTO settings VALUES (?, ?)", [name, json.dumps(value)])

    @property
    def journey(self) -> Any:
        """The workspace's journey configuration (:class:`~cxlens.schema.journey.Journey`)."""
        from cxlens.schema.journey import Journey, default_journey

        j = self._journey
        if j is None:
            row = self.one("SELECT yaml FROM journey_config LIMIT 1") if self.has_table("journey_config") else None
            j = Journey.from_yaml(row[0], "workspace journey") if row else default_journey()
            self._journey = j
        return j

    def set_journey(self, journey: Any) -> None:
        """Replace the journey configuration (stages, touchpoints) in one transaction."""
        from cxlens.schema.migrations import write_journey

        with self.transaction(changes=["journey_config"]) as cur:
            write_journey(cur, journey)
        self._journey = journey

    def forget_journey(self) -> None:
        """Drop the cached journey (another process may have changed it)."""
        self._journey = None


class ExternalStore(Store):
    """A read-only store over any Ibis backend (Spark, a warehouse) holding the canonical tables.

    Queries run one at a time (many backends' clients are not thread-safe); writes are refused.
    """

    is_duckdb = False

    def __init__(self, backend: Any):
        self._ibis = backend
        self._lock = threading.RLock()
        self.path = None
        self.read_only = True
        self.is_remote = False
        self._remote = None
        self._closed = False
        self._after_commit = []
        self._on_close = []
        self._journey = None
        self._local = _Local()
        self._memo_init()

    def __repr__(self) -> str:
        return f"ExternalStore({getattr(self._ibis, 'name', '?')!r})"

    @property
    def backend(self) -> Any:
        return self._ibis

    def cursor(self) -> Any:
        raise WorkspaceError("this workspace is read-only (opened over an Ibis backend); write through cxlens.open()")

    def close(self) -> None:
        self._closed = True

    def tables(self) -> set[str]:
        with self._lock:
            return set(self._ibis.list_tables())

    def has_table(self, name: str) -> bool:
        return name in self.tables()

    def table(self, name: str) -> ibis.Table:
        with self._lock:
            try:
                return self._ibis.table(name)
            except Exception:
                if not self.has_table(name):
                    raise NotFoundError(f"workspace has no table {name!r}") from None
                raise

    def read(self, query: Query, params: Sequence[Any] | None = None, *, tables: Mapping[str, Any] | None = None):
        if isinstance(query, str) or tables:
            raise WorkspaceError("SQL text runs only on DuckDB workspaces; build the query with Ibis")
        with self._lock:
            return self._ibis.execute(query)

    def read_arrow(self, query: Query, params: Sequence[Any] | None = None, *, tables: Mapping[str, Any] | None = None):
        if isinstance(query, str) or tables:
            raise WorkspaceError("SQL text runs only on DuckDB workspaces; build the query with Ibis")
        with self._lock:
            return self._ibis.to_pyarrow(query.as_table())

    def rows(self, sql: str, params: Sequence[Any] | None = None, *, tables: Mapping[str, Any] | None = None):
        raise WorkspaceError("SQL text runs only on DuckDB workspaces; build the query with Ibis")

    def one(self, sql: str, params: Sequence[Any] | None = None):
        raise WorkspaceError("SQL text runs only on DuckDB workspaces; build the query with Ibis")

    def compile(self, expr: ibis.Expr) -> str:
        return str(self._ibis.compile(expr))

    @contextlib.contextmanager
    def transaction(self, *, changes: Sequence[str] = ()) -> Iterator[Any]:
        raise WorkspaceError("this workspace is read-only (opened over an Ibis backend); write through cxlens.open()")
        yield  # pragma: no cover

    def data_version(self, tables: Sequence[str] | None = None) -> dict[str, int]:
        return {}

    def setting(self, name: str, default: Any = None) -> Any:
        return default

    def set_setting(self, name: str, value: Any) -> None:
        raise WorkspaceError("this workspace is read-only (opened over an Ibis backend); write through cxlens.open()")

    @property
    def journey(self) -> Any:
        from cxlens.schema.journey import default_journey

        if self._journey is None:
            self._journey = default_journey()
        return self._journey
