"""Adding rows to the canonical tables: validated, streamed, all or nothing, with a report.

:func:`load` reads a file chunk by chunk (:class:`~cxlens.ingest.files.SourceFile`, bounded
memory), maps its columns, validates each chunk (:func:`~cxlens.schema.validate.validate_frame`)
and writes it, all inside ONE transaction: a problem in the last row rolls back the first.
Rows whose id is already in the workspace are skipped (so importing the same file twice adds
nothing), rows repeated within the file are kept once (rows sharing an id but differing are an
error naming both rows), ids missing from the source are derived from the row and its occurrence
(7 identical answers stay 7 answers), ``stage``/``channel`` are filled from the journey and the
feedback rollup is kept exact (:mod:`cxlens.store.rollup`).

``dry_run=True`` does every step but the writes and returns the report: the mapped columns,
the first rows as they would be stored, how many rows would be added, and every problem found.

:func:`insert_tables` writes already-validated frames of several tables in one transaction
(the adapters and the demo generator use it). ``ws.load``/``ws.insert``/``ws.insert_many`` call these.
"""

from __future__ import annotations

import contextlib
import difflib
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cxlens.errors import NotFoundError, ParameterError, SchemaError
from cxlens.ingest.files import Progress, ReadOptions, SourceFile, apply_mapping, parse_mapping
from cxlens.schema.dates import DateColumn, DateFormat
from cxlens.schema.tables import FLOAT, INT, JSON, STRING, TABLES, TIMESTAMP, Table
from cxlens.schema.validate import Problems, ValidateOptions, derived_key_hash, validate_frame
from cxlens.store import hooks, rollup

__all__ = [
    "ImportReport",
    "ImportResult",
    "Discard",
    "check_mapping",
    "collecting_reports",
    "insert_tables",
    "load",
    "table_def",
]

_ARROW = {STRING: pa.string(), JSON: pa.string(), FLOAT: pa.float64(), INT: pa.int64(), TIMESTAMP: pa.timestamp("us")}
PREVIEW_ROWS = 10
#: DuckDB's memory cap while a file is imported (see :func:`_import_settings`)
IMPORT_MEMORY = "96MB"
#: DuckDB's threads while a file is imported (see :func:`_import_settings`)
IMPORT_THREADS = 1


@dataclass
class ImportReport:
    """What one import did (or, for a dry run, would do).

    ``rows`` read = ``inserted`` + ``present`` (id already in the workspace) + ``repeated`` (the
    same row earlier in the file) + ``incomplete`` (skipped for a missing required value, per
    column; only with ``skip_incomplete``).
    """

    table: str
    source: str
    rows: int = 0
    inserted: int = 0
    present: int = 0
    repeated: int = 0
    #: column → [rows skipped, first such rows]
    incomplete: dict[str, list[Any]] = field(default_factory=dict)
    #: rows a preset left out on purpose: reason → [rows, first such rows] (e.g. unfinished responses)
    excluded: dict[str, list[Any]] = field(default_factory=dict)
    dry_run: bool = False
    #: canonical column → source column (or "(set)" / "(derived)")
    columns: dict[str, str] = field(default_factory=dict)
    #: the file as read: format, encoding, delimiter, header
    dialect: dict[str, Any] = field(default_factory=dict)
    #: date format of each timestamp column
    date_formats: dict[str, str] = field(default_factory=dict)
    preview: pd.DataFrame | None = None
    problems: list[str] = field(default_factory=list)

    @property
    def skipped(self) -> int:
        """Rows read but not added (already present, repeated or incomplete)."""
        return self.rows - self.inserted

    @property
    def ok(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        """One line: ``feedback: 2 rows added from fb.csv (1 already present or repeated): 3 rows read, …``."""
        verb = "would be added" if self.dry_run else "added"
        head = (f"{self.table}: {self.inserted:,} rows {verb} from {self.source} "
                f"({self.present + self.repeated:,} already present or repeated): {self.rows:,} rows read")  # fmt: skip
        parts = [head]
        if self.present:
            parts.append(f"{self.present:,} already in the workspace")
        if self.repeated:
            parts.append(f"{self.repeated:,} repeated in the file")
        for col, (n, first) in self.incomplete.items():
            rows = ", ".join(map(str, first)) + ("…" if n > len(first) else "")
            parts.append(f"{n:,} skipped for an empty {col} (rows {rows})")
        for reason, (n, first) in self.excluded.items():
            parts.append(f"{n:,} left out: {reason} (rows {', '.join(map(str, first))}{'…' if n > len(first) else ''})")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        """The report as JSON-ready values (the HTTP import endpoint's answer)."""
        preview = None
        if self.preview is not None:
            frame = self.preview.astype(object).where(self.preview.notna(), None)
            preview = [{k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in r.items()}
                       for r in frame.to_dict("records")]  # fmt: skip
        return {
            "table": self.table,
            "source": self.source,
            "dry_run": self.dry_run,
            "rows": self.rows,
            "added": self.inserted,
            "already_present": self.present,
            "repeated": self.repeated,
            "skipped_incomplete": {k: {"rows": v[0], "first_rows": v[1]} for k, v in self.incomplete.items()},
            "left_out": {k: {"rows": v[0], "first_rows": v[1]} for k, v in self.excluded.items()},
            "columns": self.columns,
            "dialect": self.dialect,
            "date_formats": self.date_formats,
            "preview": preview,
            "problems": self.problems,
        }


#: the name the result had before reports (kept for code that imports it)
ImportResult = ImportReport


class Discard(Exception):  # noqa: N818 - a signal, not an error
    """Raised inside a transaction to keep nothing of it (dry runs)."""


_reports: ContextVar[dict[str, ImportReport] | None] = ContextVar("cxlens_import_reports", default=None)


@contextlib.contextmanager
def collecting_reports() -> Iterator[dict[str, ImportReport]]:
    """Collect the reports of every :func:`insert_tables` call in the block (per table, summed)."""
    got: dict[str, ImportReport] = {}
    token = _reports.set(got)
    try:
        yield got
    finally:
        _reports.reset(token)


def table_def(kind: str) -> Table:
    """The canonical table ``kind`` (a :class:`~cxlens.errors.NotFoundError` naming the valid ones)."""
    try:
        return TABLES[kind]
    except KeyError:
        raise NotFoundError(f"unknown table {kind!r}; expected one of {', '.join(TABLES)}") from None


def _closest(name: str, choices: list[str]) -> str:
    near = difflib.get_close_matches(name, choices, n=1, cutoff=0.5)
    return f"did you mean {near[0]!r}? " if near else ""


def check_mapping(mapping: dict[str, str], table: Table) -> dict[str, str]:
    """Every mapped name must be a column of ``table`` (an unknown one names the closest)."""
    for canon in mapping:
        if canon not in table.column_names:
            raise ParameterError(
                "map",
                f"--map {canon}={mapping[canon]}: {table.name} has no column {canon!r}; {_closest(canon, table.column_names)}"
                f"expected one of {', '.join(table.column_names)}",
            )
    return mapping


def _prepare(
    chunk: pd.DataFrame, drop: list[str], mapping: dict[str, str], constants: dict[str, Any], name: str
) -> pd.DataFrame:
    if drop:
        chunk = chunk.drop(columns=[c for c in drop if c in chunk.columns])
    chunk = apply_mapping(chunk, mapping, name)
    for col, value in constants.items():
        chunk[col] = value
    return chunk


def load(
    store: Any,
    kind: str,
    source: str | Path | pd.DataFrame,
    *,
    mapping: dict[str, str] | list[str] | str | None = None,
    format: str | None = None,
    dayfirst: bool = False,
    constants: dict[str, Any] | None = None,
    progress: Progress | None = None,
    read: ReadOptions | None = None,
    options: ValidateOptions | None = None,
    drop: list[str] | None = None,
    dry_run: bool = False,
    name: str | None = None,
) -> ImportReport:
    """Validate rows and add them to table ``kind``, all or nothing (see :meth:`cxlens.Workspace.load`).

    ``read`` states the file's dialect (delimiter, encoding, header rows…), ``options`` how
    values are read (dates, decimal mark, incomplete rows); ``drop`` names source columns to
    leave out; ``name`` is the file name shown in messages (an upload's name, never a path).
    """
    table = table_def(kind)
    opts = options or ValidateOptions()
    if dayfirst and opts.dates.order is None:
        opts = replace(opts, dates=replace(opts.dates, order="dmy"))
    read = read or ReadOptions()
    if format:
        read = replace(read, format=format)
    consts = dict(constants or {})
    drops = list(drop or [])
    if isinstance(source, pd.DataFrame):
        src_name = name or "<frame>"
        columns = [str(c) for c in source.columns]
        frame = source

        def chunks(cols: list[str] | None = None) -> Iterator[pd.DataFrame]:
            yield frame if cols is None else frame[[c for c in cols if c in frame.columns]]

        dialect: dict[str, Any] = {"format": "frame"}
    else:
        src = SourceFile(Path(source), read, name=name or "")
        src_name, columns, dialect = src.name, src.columns, src.describe()

        def chunks(cols: list[str] | None = None) -> Iterator[pd.DataFrame]:
            yield from src.chunks(cols, progress=progress if cols is None else None)

    maps = check_mapping(parse_mapping(mapping, columns), table)
    for col in drops:
        if col not in columns:
            raise ParameterError("drop", f"--drop {col}: {src_name} has no column {col!r}; {_closest(col, columns)}"
                                         f"found {', '.join(map(repr, columns[:20]))}")  # fmt: skip
    # DuckDB's memory capped for the import; once more without the cap if that was too little
    for capped in (True, False):
        report = ImportReport(table.name, src_name, dry_run=dry_run, dialect=dialect)
        report.columns = _column_map(table, columns, drops, maps, consts)
        problems = Problems(collect=dry_run)
        writer = _Writer(store, table, src_name, dry_run, report)
        try:
            with (
                _import_settings(store, capped) as all_threads,
                store.transaction(
                    changes=[table.name, rollup.TABLE] if table.name == "feedback" else [table.name]
                ) as cur,
            ):
                writer.begin(cur)
                rows = chunks()
                head = [c for c in [next(rows, None)] if c is not None]  # read once: settles the dates, then is written
                formats = _date_formats(table, chunks, head[0] if head else None, drops, maps, consts, src_name, opts,
                                        problems)  # fmt: skip
                report.date_formats = {c: f.family for c, f in formats.items()}
                offset = 0
                try:
                    for chunk in _then(head, rows):
                        prepared = _prepare(chunk, drops, maps, consts, src_name)
                        problems.offset = offset
                        out = validate_frame(prepared, table, source=src_name, options=opts, formats=formats,
                                             problems=problems, derive=False)  # fmt: skip
                        report.rows += len(chunk)
                        writer.write(cur, out, offset, prepared.columns)
                        offset += len(chunk)
                        del chunk, prepared, out
                        _release_memory()
                    writer.wait()
                finally:
                    writer.close()
                report.incomplete = {k: list(v) for k, v in problems.skipped.items()}
                all_threads()
                writer.end(cur)
                if dry_run:
                    raise Discard
        except Discard:
            pass
        except SchemaError as e:
            if not dry_run:
                raise
            report.problems.append(str(e))
        except Exception as e:
            if capped and _out_of_memory(e):
                continue  # the cap was too small for this file: once more with DuckDB's own limit
            raise
        break
    report.problems = [str(e) for e in problems.errors] + report.problems
    return report


def _out_of_memory(e: BaseException | None) -> bool:
    """Whether DuckDB ran out of memory (the error or one it was raised from)."""
    while e is not None:
        if type(e).__name__ == "OutOfMemoryException" or "Out of Memory Error" in str(e):
            return True
        e = e.__cause__ or e.__context__
    return False


def _libc() -> Any:
    import ctypes
    import ctypes.util

    try:
        lib = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return lib if hasattr(lib, "malloc_trim") else None
    except OSError:  # pragma: no cover - not glibc
        return None


_LIBC: list[Any] = []


def _release_memory() -> None:
    """Give the memory freed by a chunk back to the system (glibc keeps freed blocks of its many
    arenas — DuckDB's threads, pandas — as resident memory otherwise: a big import's peak grew with
    the number of chunks)."""
    if not _LIBC:
        _LIBC.append(_libc())
    if _LIBC[0] is not None:
        _LIBC[0].malloc_trim(0)


_UNITS = {"": 1, "b": 1, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}  # fmt: skip


def _bytes(setting: str) -> float:
    """``'18.8 GiB'`` → bytes (inf when DuckDB's value cannot be read)."""
    m = re.fullmatch(r"\s*([0-9.]+)\s*([A-Za-z]*)\s*", str(setting))
    if not m or m.group(2).lower() not in _UNITS:
        return float("inf")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


@contextlib.contextmanager
def _import_settings(store: Any, on: bool = True) -> Iterator[Callable[[], None]]:
    """Cap DuckDB's memory for a file import (:data:`IMPORT_MEMORY`): the staged rows spill to the
    workspace's temporary folder instead of growing with the file. Only for a workspace file this
    process opened and does not serve: the limit is the whole database's, so in ``cxlens serve`` or
    ``cxlens collect`` (an upload, or an import another process sends) it would hold every dashboard
    query to the cap too; an in-memory workspace cannot spill.

    While chunks are appended DuckDB also runs on :data:`IMPORT_THREADS` thread: appending on two
    threads took twice the CPU (6.9 vs 3.6 s for the bench file's 2.7M rows) while this process's
    other core reads and checks the next chunk. The context gives a function that restores the
    threads for the queries that settle the import (which run faster on all of them)."""
    path = str(getattr(store, "path", "") or "")
    if (
        not on
        or not getattr(store, "is_duckdb", False)
        or getattr(store, "is_remote", False)
        or getattr(store, "shared", False)
        or path in ("", ":memory:")
    ):
        yield lambda: None
        return
    cur = store.cursor()
    old = cur.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    threads = int(cur.execute("SELECT current_setting('threads')").fetchone()[0])
    capped = _bytes(old) > _bytes(IMPORT_MEMORY)
    fewer = threads > IMPORT_THREADS
    if capped:
        cur.execute(f"SET GLOBAL memory_limit = '{IMPORT_MEMORY}'")
    if fewer:
        cur.execute(f"SET GLOBAL threads = {IMPORT_THREADS}")

    def all_threads() -> None:
        nonlocal fewer
        if fewer:
            cur.execute(f"SET GLOBAL threads = {threads}")
            fewer = False

    try:
        yield all_threads
    finally:
        # (RESET would not do: it leaves the buffer pool at the cap) the limit as DuckDB shows it, rounded
        if capped:
            cur.execute(f"SET GLOBAL memory_limit = '{old}'")
        all_threads()


def _column_map(
    table: Table, columns: list[str], drops: list[str], maps: dict[str, str], consts: dict[str, Any]
) -> dict[str, str]:
    src_of = {canon: src for canon, src in maps.items()}
    out: dict[str, str] = {}
    mapped_sources = set(maps.values())
    for c in table.column_names:
        if c in consts:
            out[c] = f"(set to {consts[c]!r})"
        elif c in src_of:
            out[c] = src_of[c]
        elif c in columns and c not in drops and c not in mapped_sources:
            out[c] = c
        elif c in table.key and (table.derive_key_from or table.name == "order_items"):
            out[c] = "(derived from the row)"
        elif c in ("stage", "channel") and "touchpoint" in columns + list(src_of):
            out[c] = "(from the journey when empty)"
    holder = next((h for h in ("properties", "traits") if h in table.column_names), None)
    extras = [c for c in columns if c not in drops and c not in mapped_sources and c not in table.column_names]
    if holder and extras:
        out[holder] = ", ".join(extras[:8]) + ("…" if len(extras) > 8 else "") + " (as JSON)"
    return out


def _then(head: list[pd.DataFrame], rest: Iterator[pd.DataFrame]) -> Iterator[pd.DataFrame]:
    """The chunk already read (not kept once handed out), then the rest."""
    while head:
        yield head.pop()
    yield from rest


def _date_formats(table: Table, chunks: Any, first: pd.DataFrame | None, drops: list[str], maps: dict[str, str],
                  consts: dict[str, Any], name: str, opts: ValidateOptions,
                  problems: Problems) -> dict[str, DateFormat]:  # fmt: skip
    """One format per timestamp column, settled over the whole file (a second read of those columns
    only when the first chunk leaves a day/month order open)."""
    ts_cols = [c.name for c in table.columns if c.type == TIMESTAMP]
    cols: dict[str, DateColumn] = {}
    if first is None:
        return {}
    prepared = _prepare(first, drops, maps, consts, name)
    for c in ts_cols:
        if c in prepared.columns:
            cols[c] = DateColumn(c, name, opts.dates)
    formats: dict[str, DateFormat] = {}
    failed: set[str] = set()
    for c, dc in cols.items():
        try:
            dc.observe(prepared[c].reset_index(drop=True))
        except SchemaError as e:
            problems.add(e)
            failed.add(c)
    open_cols = [c for c, dc in cols.items() if dc.format is None and c not in failed]
    if open_cols:
        source_cols = list({maps.get(c, c).split(".")[0] for c in open_cols if c not in consts})
        offset = 0
        for chunk in chunks(source_cols):
            part = _prepare(chunk, [], {k: v for k, v in maps.items() if k in open_cols}, {}, name)
            for c in [c for c in open_cols if c in part.columns and c not in failed]:
                try:
                    cols[c].observe(part[c].reset_index(drop=True), offset)
                except SchemaError as e:
                    problems.add(e)
                    failed.add(c)
            offset += len(chunk)
    for c, dc in cols.items():
        if c in failed:
            formats[c] = DateFormat("invalid")
            continue
        try:
            formats[c] = dc.resolve()
        except SchemaError as e:
            problems.add(e)
            formats[c] = DateFormat("invalid")
    return formats


class _Writer:
    """Writes the validated rows of one table inside the import's transaction.

    Each chunk is appended to ``_cx_stage`` (a temporary table of this import, in DuckDB's buffer
    pool, which spills to disk past the import's memory cap); :meth:`end` then settles the whole
    file at once in SQL: derived ids (with the occurrence of identical rows), rows repeated in the
    file (same id, same content: kept once), conflicts (same id, different content: an error naming
    the first row and the first one that differs), rows already in the workspace, and one bulk insert
    with its rollup counts and row hooks.

    The first import into an empty table, with ids in the file, skips that copy: each chunk goes
    straight into the table and only its ids, content hashes and rows are staged; :meth:`end` checks
    them (rows repeated in the file are then kept once, conflicts refused) — every row of the table
    is this import's, so the rollup and the row hooks read the table.

    Chunks go in through a relation (``from_arrow(...).insert_into``), not a registered view: a view
    dropped inside a transaction keeps its Arrow data alive until the commit (every chunk of the file).
    """

    def __init__(self, store: Any, table: Table, source: str, dry_run: bool, report: ImportReport):
        self.store, self.table, self.source, self.dry_run, self.report = store, table, source, dry_run, report
        tag = uuid.uuid4().hex[:8]
        self.stage, self.rows, self.new = f"_cx_stage_{tag}", f"_cx_rows_{tag}", f"_cx_new_{tag}"
        self.keys = f"_cx_keys_{tag}"
        self.derived = False
        self.preview_done = False
        self.staged = 0
        self._pool: ThreadPoolExecutor | None = None
        self._pending: Future[Any] | None = None

    def begin(self, cur: Any) -> None:
        # an empty table (a first import) has nothing already present: no lookup needed
        self.journey = self.store.journey  # read here: the appending thread must be alone on the cursor
        self.target_empty = bool(cur.execute(f'SELECT NOT EXISTS (SELECT 1 FROM "{self.table.name}")').fetchone()[0])
        self.cur = cur
        self.direct: bool | None = None  # decided by the first chunk (are its ids in the file?)
        self.sifted = False

    def _create_stage(self, cur: Any) -> None:
        t = self.table
        keys = ", ".join(f'"{c.name}" {c.sql_type}' for c in t.columns if c.name in t.key)
        if self.direct:
            cur.execute(f"CREATE TEMP TABLE {self.stage} ({keys}, _cx_h UBIGINT, _cx_row BIGINT)")
        else:
            if self.sifted:
                cur.execute(f"CREATE TEMP TABLE {self.keys} ({keys}, _cx_h UBIGINT, _cx_row BIGINT)")
            cols = ", ".join(f'"{c.name}" {c.sql_type}' for c in t.columns)
            cur.execute(f"CREATE TEMP TABLE {self.stage} ({cols}, _cx_row BIGINT, _cx_dkey VARCHAR)")

    def write(self, cur: Any, out: pd.DataFrame, offset: int, source_columns: Any) -> None:
        table = self.table
        if not len(out):
            return
        out = fill_from_journey(self.journey, table, out)
        missing_keys = [k for k in table.key if k not in source_columns]
        if table.name == "order_items" and "item_id" in missing_keys:
            dkey = out["order_id"].astype(str) + "\x1f" + out["product_id"].astype(str)
        elif missing_keys and table.derive_key_from:
            dkey = derived_key_hash(out, table)
        else:
            dkey = None
        self.derived = bool(missing_keys)
        arrow = _to_arrow(out, table)
        arrow = arrow.append_column("_cx_row", pa.array(out.index.to_numpy() + offset + 1, pa.int64()))
        dkeys = (
            pa.nulls(len(out), pa.string())
            if dkey is None
            else pa.array(dkey.astype(object).where(dkey.notna(), None).tolist(), pa.string())
        )
        arrow = arrow.append_column("_cx_dkey", dkeys)
        del out
        if self.direct is None:
            self.direct = self.target_empty and not self.derived and not self.dry_run and hasattr(cur, "from_arrow")
            # into a table holding rows: only rows whose id it lacks are staged whole (a re-import stages ids)
            self.sifted = not self.target_empty and not self.derived and hasattr(cur, "from_arrow")
            self._create_stage(cur)
        self.staged += arrow.num_rows
        if hasattr(cur, "from_arrow"):
            # DuckDB appends this chunk (without the GIL) while the caller reads and checks the next one
            self.wait()
            if self._pool is None:
                self._pool = ThreadPoolExecutor(1, thread_name_prefix="cxlens-import")
            append = self._append_direct if self.direct else self._append_sifted if self.sifted else self._append_staged
            self._pending = self._pool.submit(append, cur, arrow)
        else:  # a workspace served by another process: the table travels to it
            reg = f"_cx_in_{uuid.uuid4().hex[:8]}"
            cur.register(reg, arrow)
            try:
                cur.execute(f"INSERT INTO {self.stage} SELECT * FROM {reg}")
            finally:
                cur.unregister(reg)

    def _append_staged(self, cur: Any, arrow: pa.Table) -> None:
        cur.from_arrow(arrow).insert_into(self.stage)

    def _append_sifted(self, cur: Any, arrow: pa.Table) -> None:
        t = self.table
        keys = ", ".join(f'"{k}"' for k in t.key)
        content = ", ".join(f'"{c}"' for c in t.column_names if c not in t.key)
        rel = cur.from_arrow(arrow)
        if not self.preview_done:
            self.report.preview = (
                cur.from_arrow(arrow.slice(0, PREVIEW_ROWS))
                .order("_cx_row")
                .project(", ".join(f'"{c}"' for c in t.column_names))
                .df()
            )
            self.preview_done = True
        rel.project(f"{keys}, hash({content}) AS _cx_h, _cx_row").insert_into(self.keys)
        present = cur.table(t.name).project(", ".join(f'"{k}" AS _cx_k{i}' for i, k in enumerate(t.key)))
        on = " AND ".join(f'"{k}" = _cx_k{i}' for i, k in enumerate(t.key))
        rel.join(present, on, how="anti").insert_into(self.stage)

    def _append_direct(self, cur: Any, arrow: pa.Table) -> None:
        t = self.table
        keys = ", ".join(f'"{k}"' for k in t.key)
        content = ", ".join(f'"{c}"' for c in t.column_names if c not in t.key)
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        rel = cur.from_arrow(arrow)
        if not self.preview_done:
            self.report.preview = cur.from_arrow(arrow.slice(0, PREVIEW_ROWS)).order("_cx_row").project(cols).df()
            self.preview_done = True
        rel.project(f"{keys}, hash({content}) AS _cx_h, _cx_row").insert_into(self.stage)
        rel.project(cols).insert_into(t.name)

    def wait(self) -> None:
        """Wait for the chunk being appended (its error, if any, is raised here)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.result()

    def close(self) -> None:
        """Stop the appending thread (before the transaction ends, whatever happened)."""
        pending, self._pending = self._pending, None
        if pending is not None:
            with contextlib.suppress(Exception):
                pending.result()
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def end(self, cur: Any) -> None:
        # on an error the transaction rolls back, temporary tables included (a DROP would mask the error)
        self.wait()
        self.close()
        if self.staged:
            if self.direct:
                self._settle_direct(cur)
            else:
                self._settle(cur)
        for t in (self.stage, self.rows, self.new, self.keys):
            cur.execute(f"DROP TABLE IF EXISTS {t}")

    def _source(self, cur: Any) -> str:
        """The staged rows with their ids (derived ones counted by occurrence) and a content hash."""
        t = self.table
        content = ", ".join(f'"{c}"' for c in t.column_names if c not in t.key)
        if not self.derived:
            return f"(SELECT *, hash({content}) AS _cx_h FROM {self.stage})"
        key = t.key[-1]
        occ = "row_number() OVER (PARTITION BY _cx_dkey ORDER BY _cx_row)"
        if t.name == "order_items":
            expr = f"product_id || '#' || ({occ})"
        else:
            expr = f"'{t.name[:2]}_' || _cx_dkey || CASE WHEN ({occ}) > 1 THEN '-' || ({occ}) ELSE '' END"
        cur.execute(
            f'CREATE TEMP TABLE {self.rows} AS SELECT * REPLACE ({expr} AS "{key}"), hash({content}) AS _cx_h '
            f"FROM {self.stage}"
        )
        cur.execute(f"DROP TABLE {self.stage}")
        return self.rows

    def _settle(self, cur: Any) -> None:
        t = self.table
        keys = ", ".join(f'"{k}"' for k in t.key)
        match_t = " AND ".join(f't."{c}" = c."{c}"' for c in t.key)
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        src = self._source(cur)
        if self.sifted:
            return self._settle_sifted(cur, src)
        if not self.preview_done:
            self.report.preview = cur.execute(
                f"SELECT {cols} FROM {src} c ORDER BY _cx_row LIMIT {PREVIEW_ROWS}"
            ).fetchdf()
            self.preview_done = True
        total, distinct = cur.execute(f"SELECT count(*), count(DISTINCT ({keys})) FROM {src} c").fetchone()
        repeats = int(total - distinct)
        if repeats and not self.derived:
            self._check_conflicts(cur, src)
        first = f"(SELECT DISTINCT ON ({keys}) * FROM {src} c0 ORDER BY {keys}, _cx_row)" if repeats else src
        if self.target_empty:
            added, fresh = first, int(distinct)
        else:
            cur.execute(
                f"CREATE TEMP TABLE {self.new} AS SELECT * FROM {first} c "
                f'WHERE NOT EXISTS (SELECT 1 FROM "{t.name}" t WHERE {match_t})'
            )
            added = self.new
            fresh = int(cur.execute(f"SELECT count(*) FROM {self.new}").fetchone()[0])
        self.report.repeated += repeats
        self.report.present += int(distinct) - fresh
        self.report.inserted += fresh
        if self.dry_run or not fresh:
            return
        rows = f"SELECT {cols} FROM {added} c"
        cur.execute(f'INSERT INTO "{t.name}" ({cols}) {rows}')
        if t.name == "feedback":
            rollup.add(cur, f"({rows})")
        hooks.inserted(self.store, cur, t.name, rows)

    def _settle_sifted(self, cur: Any, src: str) -> None:
        """The file's ids are in :attr:`keys`; its rows whose id the table lacks in ``src``."""
        t = self.table
        keys = ", ".join(f'"{k}"' for k in t.key)
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        total, distinct = cur.execute(f"SELECT count(*), count(DISTINCT ({keys})) FROM {self.keys}").fetchone()
        repeats = int(total - distinct)
        if repeats:
            self._check_conflicts(cur, self.keys)
        fresh = int(cur.execute(f"SELECT count(DISTINCT ({keys})) FROM {src} c").fetchone()[0])
        self.report.repeated += repeats
        self.report.present += int(distinct) - fresh
        self.report.inserted += fresh
        if self.dry_run or not fresh:
            return
        first = f"(SELECT DISTINCT ON ({keys}) * FROM {src} c0 ORDER BY {keys}, _cx_row)"
        rows = f"SELECT {cols} FROM {first} c"
        cur.execute(f'INSERT INTO "{t.name}" ({cols}) {rows}')
        if t.name == "feedback":
            rollup.add(cur, f"({rows})")
        hooks.inserted(self.store, cur, t.name, rows)

    def _settle_direct(self, cur: Any) -> None:
        """Every row is in the table already (which held none before): keep repeated rows once."""
        t = self.table
        keys = ", ".join(f'"{k}"' for k in t.key)
        match = " AND ".join(f't."{c}" = d."{c}"' for c in t.key)
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        total, distinct = cur.execute(f"SELECT count(*), count(DISTINCT ({keys})) FROM {self.stage}").fetchone()
        repeats = int(total - distinct)
        if repeats:
            self._check_conflicts(cur, self.stage)  # repeated rows are identical from here on
            cur.execute(
                f'CREATE TEMP TABLE {self.new} AS SELECT DISTINCT ON ({keys}) * FROM "{t.name}" t '
                f"WHERE EXISTS (SELECT 1 FROM (SELECT {keys} FROM {self.stage} GROUP BY {keys} HAVING count(*) > 1) d "
                f"WHERE {match})"
            )
            cur.execute(f'DELETE FROM "{t.name}" t WHERE EXISTS (SELECT 1 FROM {self.new} d WHERE {match})')
            cur.execute(f'INSERT INTO "{t.name}" ({cols}) SELECT {cols} FROM {self.new}')
        self.report.repeated += repeats
        self.report.inserted += int(distinct)
        rows = f'SELECT {cols} FROM "{t.name}"'
        if t.name == "feedback":
            rollup.add(cur, f"({rows})")
        hooks.inserted(self.store, cur, t.name, rows)

    def _check_conflicts(self, cur: Any, src: str) -> None:
        """Rows of this file sharing an id must be identical (derived ids are: they are the row's hash)."""
        t = self.table
        keys = ", ".join(f'"{k}"' for k in t.key)
        row = cur.execute(
            f"WITH dup AS (SELECT {keys} FROM {src} c GROUP BY {keys} HAVING count(DISTINCT _cx_h) > 1), "
            f"allr AS (SELECT {keys}, _cx_h, _cx_row FROM {src} c SEMI JOIN dup USING ({keys})), "
            f"firsts AS (SELECT {keys}, arg_min(_cx_h, _cx_row) AS h0, min(_cx_row) AS r0 FROM allr GROUP BY {keys}) "
            f"SELECT f.*, min(a._cx_row) AS r1 FROM firsts f JOIN allr a USING ({keys}) WHERE a._cx_h <> f.h0 "
            f"GROUP BY ALL ORDER BY r1 LIMIT 1"
        ).fetchone()
        if row is not None:
            kv = row[: len(t.key)]
            r0, r1 = row[-2], row[-1]
            raise SchemaError(
                f"{self.source} rows {r0} and {r1} share {t.name} id {', '.join(map(str, kv))!r} but differ; "
                "expected one row per id"
            )


def _to_arrow(rows: pd.DataFrame, table: Table) -> pa.Table:
    for c in table.column_names:
        if c not in rows.columns:
            rows = rows.assign(**{c: None})
    return pa.Table.from_pandas(
        rows[table.column_names],
        schema=pa.schema([(c.name, _ARROW[c.type]) for c in table.columns]),
        preserve_index=False,
    )


def fill_from_journey(journey: Any, table: Table, rows: pd.DataFrame) -> pd.DataFrame:
    """Fill ``stage`` (and a missing ``channel``) from the journey when a row names a touchpoint."""
    if "touchpoint" not in rows.columns:
        return rows
    codes: Any = None
    for col, of in (("stage", journey.stage_of), ("channel", journey.channel_of)):
        if col in rows.columns and rows[col].isna().any():
            if codes is None:  # each distinct touchpoint looked up once (a file has a few, in millions of rows)
                codes, touchpoints = pd.factorize(rows["touchpoint"])
                rows = rows.copy()
            names = of()
            looked_up = np.array([*(names.get(tp) for tp in touchpoints), None], dtype=object)  # code -1: no touchpoint
            rows[col] = rows[col].where(rows[col].notna(), pd.Series(looked_up[codes], index=rows.index, dtype=object))
    return rows


def insert_tables(store: Any, tables: dict[str, pd.DataFrame], *, source: str = "<frame>") -> dict[str, ImportReport]:
    """Insert validated rows into several tables in ONE transaction (all or nothing).

    Rows whose key is already present, or repeated within the input, are skipped, so inserting the
    same rows twice adds nothing. Canonical columns missing from a frame are stored as nulls.
    """
    results: dict[str, ImportReport] = {}
    changes = [*tables, rollup.TABLE] if "feedback" in tables else list(tables)
    with store.transaction(changes=changes) as cur:
        for kind, rows in tables.items():
            table = table_def(kind)
            report = ImportReport(table.name, source)
            writer = _Writer(store, table, source, False, report)
            writer.preview_done = True
            writer.begin(cur)
            rows = rows.reset_index(drop=True)
            report.rows = len(rows)
            writer.write(cur, rows, 0, list(rows.columns))
            writer.end(cur)
            results[table.name] = report
    got = _reports.get()
    if got is not None:
        for name, r in results.items():
            if name in got:
                for attr in ("rows", "inserted", "present", "repeated"):
                    setattr(got[name], attr, getattr(got[name], attr) + getattr(r, attr))
            else:
                got[name] = r
    return results
