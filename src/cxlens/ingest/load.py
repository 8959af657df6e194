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
import uuid
from collections.abc import Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

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
    report = ImportReport(table.name, src_name, dry_run=dry_run, dialect=dialect)
    report.columns = _column_map(table, columns, drops, maps, consts)
    problems = Problems(collect=dry_run)
    writer = _Writer(store, table, src_name, dry_run, report)
    try:
        with store.transaction(changes=[table.name, rollup.TABLE] if table.name == "feedback" else [table.name]) as cur:
            writer.begin(cur)
            formats = _date_formats(table, chunks, drops, maps, consts, src_name, opts, problems)
            report.date_formats = {c: f.family for c, f in formats.items()}
            offset = 0
            for chunk in chunks():
                prepared = _prepare(chunk, drops, maps, consts, src_name)
                problems.offset = offset
                out = validate_frame(prepared, table, source=src_name, options=opts, formats=formats,
                                     problems=problems, derive=False)  # fmt: skip
                report.rows += len(chunk)
                writer.write(cur, out, offset, prepared.columns)
                offset += len(chunk)
            report.incomplete = {k: list(v) for k, v in problems.skipped.items()}
            writer.end(cur)
            if dry_run:
                raise Discard
    except Discard:
        pass
    except SchemaError as e:
        if not dry_run:
            raise
        report.problems.append(str(e))
    report.problems = [str(e) for e in problems.errors] + report.problems
    return report


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


def _date_formats(table: Table, chunks: Any, drops: list[str], maps: dict[str, str], consts: dict[str, Any],
                  name: str, opts: ValidateOptions, problems: Problems) -> dict[str, DateFormat]:  # fmt: skip
    """One format per timestamp column, settled over the whole file (a second read of those columns
    only when the first chunk leaves a day/month order open)."""
    ts_cols = [c.name for c in table.columns if c.type == TIMESTAMP]
    cols: dict[str, DateColumn] = {}
    first = next(iter(chunks()), None)
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
    """Writes validated chunks of one table inside the import's transaction.

    ``_cx_keys`` (a temporary table of this import) holds the id, a content hash and the row of
    every row already taken from the file: a later row with the same id is *repeated* when its
    content hash is equal and an error naming both rows when it differs; an id in the workspace
    but not in ``_cx_keys`` is *already present*.
    """

    def __init__(self, store: Any, table: Table, source: str, dry_run: bool, report: ImportReport):
        self.store, self.table, self.source, self.dry_run, self.report = store, table, source, dry_run, report
        tag = uuid.uuid4().hex[:8]
        self.keys, self.chunk, self.new = f"_cx_keys_{tag}", f"_cx_chunk_{tag}", f"_cx_new_{tag}"
        self.counts = f"_cx_counts_{tag}"
        self.derived = False
        self.preview_done = False

    def begin(self, cur: Any) -> None:
        # an empty table (a first import) has nothing already present: no lookup needed per chunk
        self.target_empty = bool(cur.execute(f'SELECT NOT EXISTS (SELECT 1 FROM "{self.table.name}")').fetchone()[0])
        key_cols = ", ".join(f'"{k}" VARCHAR' for k in self.table.key)
        cur.execute(f"CREATE TEMP TABLE {self.keys} ({key_cols}, _cx_h UBIGINT, _cx_row BIGINT, _cx_dkey VARCHAR)")
        if self.table.name == "feedback":
            cur.execute(f"CREATE TEMP TABLE {self.counts} AS {rollup.select_counts('feedback')} LIMIT 0")

    def end(self, cur: Any) -> None:
        if self.table.name == "feedback" and not self.dry_run:
            rollup.add_counts(cur, self.counts)
        for t in (self.keys, self.chunk, self.new, self.counts):
            cur.execute(f"DROP TABLE IF EXISTS {t}")

    def write(self, cur: Any, out: pd.DataFrame, offset: int, source_columns: Any) -> None:
        table = self.table
        if not len(out):
            return
        journey = self.store.journey
        out = fill_from_journey(journey, table, out)
        missing_keys = [k for k in table.key if k not in source_columns]
        if table.name == "order_items" and "item_id" in missing_keys:
            dkey = out["order_id"].astype(str) + "\x1f" + out["product_id"].astype(str)
        elif missing_keys and table.derive_key_from:
            dkey = derived_key_hash(out, table)
        else:
            dkey = pd.Series(None, index=out.index, dtype=object)
        self.derived = bool(missing_keys)
        arrow = _to_arrow(out, table)
        arrow = arrow.append_column("_cx_row", pa.array(out.index.to_numpy() + offset + 1, pa.int64()))
        arrow = arrow.append_column(
            "_cx_dkey", pa.array(dkey.astype(object).where(dkey.notna(), None).tolist(), pa.string())
        )
        reg = f"_cx_in_{uuid.uuid4().hex[:8]}"
        cur.register(reg, arrow)
        try:
            src = self._stage(cur, reg)
            self._count_and_insert(cur, src)
            if not self.preview_done:
                cols = ", ".join(f'"{c}"' for c in table.column_names)
                self.report.preview = cur.execute(
                    f"SELECT {cols} FROM {src} c ORDER BY _cx_row LIMIT {PREVIEW_ROWS}"
                ).fetchdf()
                self.preview_done = True
        finally:
            cur.unregister(reg)

    def _stage(self, cur: Any, reg: str) -> str:
        """The chunk's rows with their content hash (and derived ids): a table or subquery to select from."""
        t = self.table
        content = ", ".join(f'"{c}"' for c in t.column_names if c not in t.key)
        if not self.derived:
            return f"(SELECT *, hash({content}) AS _cx_h FROM {reg})"
        key = t.key[-1]
        occ = "coalesce(p.n, 0) + row_number() OVER (PARTITION BY c._cx_dkey ORDER BY c._cx_row)"
        if t.name == "order_items":
            expr = f"c.product_id || '#' || ({occ})"
        else:
            expr = f"'{t.name[:2]}_' || c._cx_dkey || CASE WHEN ({occ}) > 1 THEN '-' || ({occ}) ELSE '' END"
        cur.execute(
            f'CREATE OR REPLACE TEMP TABLE {self.chunk} AS SELECT c.* REPLACE ({expr} AS "{key}"), '
            f"hash({content}) AS _cx_h FROM {reg} c "
            f"LEFT JOIN (SELECT _cx_dkey, count(*) AS n FROM {self.keys} GROUP BY _cx_dkey) p USING (_cx_dkey)"
        )
        return self.chunk

    def _check_conflicts(self, cur: Any, src: str) -> None:
        """Rows of this file sharing an id must be identical (derived ids are: they are the row's hash)."""
        t = self.table
        keys = ", ".join(f'"{k}"' for k in t.key)
        match = " AND ".join(f'k."{c}" = c."{c}"' for c in t.key)
        row = cur.execute(
            f"WITH allr AS (SELECT {keys}, _cx_h, _cx_row FROM {src} c0 "
            f"UNION ALL SELECT {', '.join(f'k.{chr(34)}{c}{chr(34)}' for c in t.key)}, k._cx_h, k._cx_row "
            f"FROM {self.keys} k WHERE EXISTS (SELECT 1 FROM {src} c WHERE {match})), "
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

    def _count_and_insert(self, cur: Any, src: str) -> None:
        t = self.table
        keys = ", ".join(f'"{k}"' for k in t.key)
        match_k = " AND ".join(f'k."{c}" = c."{c}"' for c in t.key)
        match_t = " AND ".join(f't."{c}" = c."{c}"' for c in t.key)
        cols = ", ".join(f'"{c}"' for c in t.column_names)
        repeats = cur.execute(f"SELECT count(*) - count(DISTINCT ({keys})) FROM {src} c").fetchone()[0]
        if not repeats and self.target_empty and self._all_new(cur, src, match_k):
            return self._insert_all(cur, src, keys, cols)
        first = f"(SELECT DISTINCT ON ({keys}) * FROM {src} c0 ORDER BY {keys}, _cx_row)" if repeats else src
        present_expr = "FALSE" if self.target_empty else f'EXISTS (SELECT 1 FROM "{t.name}" t WHERE {match_t})'
        cur.execute(
            f"CREATE OR REPLACE TEMP TABLE {self.new} AS SELECT c.*, {present_expr} AS _cx_present FROM {first} c "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.keys} k WHERE {match_k})"
        )
        total, fresh, present = cur.execute(
            f"SELECT (SELECT count(*) FROM {src} c), count(*), count(*) FILTER (_cx_present) FROM {self.new}"
        ).fetchone()
        if not self.derived and (repeats or fresh < total - repeats):
            self._check_conflicts(cur, src)
        self.report.present += int(present)
        self.report.repeated += int(total - fresh)
        self.report.inserted += int(fresh - present)
        cur.execute(f"INSERT INTO {self.keys} SELECT {keys}, _cx_h, _cx_row, _cx_dkey FROM {self.new}")
        if self.dry_run or fresh - present == 0:
            return
        added = f"(SELECT {cols} FROM {self.new} WHERE NOT _cx_present)"
        cur.execute(f'INSERT INTO "{t.name}" ({cols}) {added[1:-1]}')
        if t.name == "feedback":
            cur.execute(f"INSERT INTO {self.counts} {rollup.select_counts(added)}")
        hooks.inserted(self.store, cur, t.name, added[1:-1])

    def _all_new(self, cur: Any, src: str, match_k: str) -> bool:
        """No row of the chunk has an id taken earlier in the file."""
        return not cur.execute(
            f"SELECT EXISTS (SELECT 1 FROM {src} c WHERE EXISTS (SELECT 1 FROM {self.keys} k WHERE {match_k}))"
        ).fetchone()[0]

    def _insert_all(self, cur: Any, src: str, keys: str, cols: str) -> None:
        """The common case of a first import: every row of the chunk is new (no copy of the chunk)."""
        t = self.table
        total = cur.execute(f"SELECT count(*) FROM {src} c").fetchone()[0]
        self.report.inserted += int(total)
        cur.execute(f"INSERT INTO {self.keys} SELECT {keys}, _cx_h, _cx_row, _cx_dkey FROM {src} c")
        if self.dry_run:
            return
        cur.execute(f'INSERT INTO "{t.name}" ({cols}) SELECT {cols} FROM {src} c')
        if t.name == "feedback":
            cur.execute(f"INSERT INTO {self.counts} {rollup.select_counts(f'(SELECT {cols} FROM {src} c)')}")
        hooks.inserted(self.store, cur, t.name, f"SELECT {cols} FROM {src} c")


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
    if "stage" in rows.columns and rows["stage"].isna().any():
        rows = rows.copy()
        rows["stage"] = rows["stage"].where(rows["stage"].notna(), rows["touchpoint"].map(journey.stage_of()))
    if "channel" in rows.columns and rows["channel"].isna().any():
        rows = rows.copy()
        rows["channel"] = rows["channel"].where(rows["channel"].notna(), rows["touchpoint"].map(journey.channel_of()))
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
