"""Reading import files in bounded memory: CSV/TSV, JSON Lines, JSON, Parquet and Excel.

:class:`SourceFile` opens a file, works out its dialect (format, encoding, delimiter, header)
and yields its rows in chunks of raw values: CSV cells stay text (``str`` columns), JSON keeps
its types (64-bit integers exact, nested objects as dicts and lists, never re-encoded), Parquet
keeps its column types (lists and structs as Python lists and dicts). Nothing is converted or
guessed here beyond the dialect; :mod:`cxlens.schema.validate` checks the values.

Dialect rules (each can be stated instead, see :class:`ReadOptions`):

* encoding: a byte-order mark says UTF-8 or UTF-16; otherwise UTF-8, strictly — a file that is
  not UTF-8 is refused with its line and byte, and ``encoding="cp1252"`` (or latin-1) reads it;
* delimiter: ``,``, ``;``, tab or ``|``, whichever splits the first lines into the same number of
  fields as the header (comma when several do); ``.tsv`` means tab;
* quoted fields may hold delimiters and line breaks;
* the header is on line ``header_row`` (1 by default) and ``skip_rows`` rows after it are not
  data (survey tools write two or three header rows);
* ``.json``: an array of objects, or an API response holding one (``records="tickets"`` names
  the key when there are several);
* ``.xlsx``: the first sheet, or the one named.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import itertools
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from cxlens.errors import ImportFileError, ParameterError

__all__ = [
    "FORMATS",
    "Progress",
    "ReadOptions",
    "SourceFile",
    "apply_mapping",
    "detect_format",
    "parse_mapping",
    "read_file",
]

FORMATS = ("csv", "jsonl", "json", "parquet", "xlsx")
_EXT = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "json",
    ".xlsx": "xlsx",
    ".xlsm": "xlsx",
}
_ALIASES = {"ndjson": "jsonl", "pq": "parquet", "tsv": "csv", "excel": "xlsx", "xls": "xlsx"}
_DELIMITERS = (",", ";", "\t", "|")
#: pyarrow reads ahead many blocks: small blocks keep that small; they are gathered into chunks of rows
_CSV_BLOCK = 1 * 2**20
_ROWS = 100_000

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` in bytes while a file is read."""


@dataclass(frozen=True)
class ReadOptions:
    """How to read a file; every field left None is worked out from the file."""

    format: str | None = None
    delimiter: str | None = None
    encoding: str | None = None
    #: line of the header (1-based)
    header_row: int = 1
    #: rows after the header that are not data (labels, import ids)
    skip_rows: int = 0
    #: key (dotted path) of the records in a JSON response object
    records: str | None = None
    #: Excel sheet name
    sheet: str | None = None
    #: rows per chunk
    chunk_rows: int = _ROWS

    def __post_init__(self) -> None:
        if self.header_row < 1:
            raise ParameterError("header_row", f"--header-row {self.header_row}; expected a line number from 1")
        if self.skip_rows < 0:
            raise ParameterError("skip_rows", f"--skip-rows {self.skip_rows}; expected 0 or more")
        if self.delimiter is not None and len(_unescape(self.delimiter)) != 1:
            raise ParameterError("delimiter", f"--delimiter {self.delimiter!r}; expected one character such as ';'")
        if self.encoding is not None:
            try:
                codecs.lookup(self.encoding)
            except LookupError:
                raise ParameterError(
                    "encoding", f"--encoding {self.encoding!r} is not known; expected e.g. utf-8, utf-16, cp1252"
                ) from None


def _unescape(d: str) -> str:
    return {"\\t": "\t", "tab": "\t", "TAB": "\t"}.get(d, d)


def detect_format(path: Path, fmt: str | None = None) -> str:
    """The format of ``path``: ``fmt`` when given, else from the extension."""
    if fmt:
        fmt = fmt.lower().lstrip(".")
        fmt = _ALIASES.get(fmt, fmt)
        if fmt not in FORMATS:
            raise ImportFileError(f"format {fmt!r} is not supported; expected one of {', '.join(FORMATS)}")
        return fmt
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz",)]
    found = _EXT.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name} from its extension; expected .csv, .tsv, .jsonl, .json, "
            ".parquet or .xlsx, or pass --format"
        )
    return found


def _open_binary(p: Path) -> Any:
    return gzip.open(p, "rb") if p.suffix.lower() == ".gz" else open(p, "rb")  # noqa: SIM115


@dataclass
class SourceFile:
    """One file to import: its dialect, its columns and its rows in chunks.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a.csv"
    >>> _ = p.write_text("id;score\\n1;9\\n")
    >>> src = SourceFile(p)
    >>> src.delimiter, src.columns, next(src.chunks()).to_dict("records")
    (';', ['id', 'score'], [{'id': '1', 'score': '9'}])
    """

    path: Path
    opts: ReadOptions = field(default_factory=ReadOptions)
    #: the name used in messages (an upload's original name is never trusted as a path)
    name: str = ""
    kind: str = ""
    encoding: str = "utf-8"
    delimiter: str = ","
    columns: list[str] = field(default_factory=list)
    size: int = 0

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        self.name = self.name or self.path.name
        if not self.path.exists():
            raise ImportFileError(f"file {str(self.path)!r} does not exist; check the path")
        if self.path.is_dir():
            raise ImportFileError(f"{str(self.path)!r} is a folder; expected a file")
        self.kind = detect_format(self.path, self.opts.format)
        self.size = self.path.stat().st_size
        if self.size == 0:
            raise ImportFileError(f"{self.name} is empty; expected a header row and data rows")
        if self.kind == "csv":
            self._sniff_csv()
        elif self.kind == "json":
            self._records = self._load_json()
            self.columns = _keys(self._records[:1000])
        elif self.kind == "jsonl":
            first = next(self._jsonl_chunks(limit=1000), None)
            if first is None:
                raise ImportFileError(f"{self.name} has no rows; expected one JSON object per line")
            self.columns = [str(c) for c in first.columns]
        elif self.kind == "parquet":
            self.columns = self._parquet().schema_arrow.names
        else:
            self._rows = self._load_xlsx()

    # -- describing ---------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """The dialect as read (for dry runs and the import page)."""
        d: dict[str, Any] = {"file": self.name, "format": self.kind, "columns": list(self.columns)}
        if self.kind == "csv":
            d.update(encoding=self.encoding, delimiter=self.delimiter)
        if self.opts.header_row != 1 or self.opts.skip_rows:
            d.update(header_row=self.opts.header_row, skip_rows=self.opts.skip_rows)
        return d

    def head(self, n: int = 10) -> pd.DataFrame:
        """The first ``n`` rows, raw."""
        for chunk in self.chunks():
            return chunk.head(n)
        return pd.DataFrame(columns=self.columns)

    def read_all(self, progress: Progress | None = None) -> pd.DataFrame:
        """Every row in one frame (for small files and adapters that need the whole file)."""
        parts = list(self.chunks(progress=progress))
        if not parts:
            return pd.DataFrame({c: pd.Series(dtype="str") for c in self.columns})
        return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]

    def chunks(self, columns: list[str] | None = None, progress: Progress | None = None) -> Iterator[pd.DataFrame]:
        """The rows in chunks (each with a fresh 0-based index; count rows to know the offset)."""
        if self.kind == "csv":
            yield from self._csv_chunks(columns, progress)
        elif self.kind == "jsonl":
            for chunk in self._jsonl_chunks(progress=progress):
                yield _select(chunk, columns)
        elif self.kind == "json":
            n = self.opts.chunk_rows
            for start in range(0, len(self._records), n):
                yield _select(_frame(self._records[start : start + n]), columns)
            if progress:
                progress(self.size, self.size)
        elif self.kind == "parquet":
            yield from self._parquet_chunks(columns, progress)
        else:
            frame = self._xlsx_frame()
            n = self.opts.chunk_rows
            for start in range(0, max(len(frame), 1), n):
                yield _select(frame.iloc[start : start + n].reset_index(drop=True), columns)
            if progress:
                progress(self.size, self.size)

    # -- CSV ----------------------------------------------------------------------------------
    def _sniff_csv(self) -> None:
        with _open_binary(self.path) as fh:
            head = fh.read(1 << 20)
        if head.startswith(codecs.BOM_UTF8):
            self.encoding = "utf-8-sig" if not self.opts.encoding else self.opts.encoding
        elif head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            self.encoding = "utf-16"
        else:
            self.encoding = self.opts.encoding or "utf-8"
        try:
            text = head.decode(self.encoding, errors="strict")
        except UnicodeDecodeError as e:
            if e.end < len(head) - 4:  # not just a character cut at the end of the sample
                raise self._decode_error() from None
            text = head[: e.start].decode(self.encoding)
        except LookupError:
            raise ParameterError("encoding", f"--encoding {self.encoding!r} is not known") from None
        text = text.lstrip("\ufeff")
        lines = text.splitlines(keepends=True)
        skip = self.opts.header_row - 1
        if skip >= len(lines):
            raise ImportFileError(
                f"{self.name} has {len(lines)} lines; --header-row {self.opts.header_row} is past them"
            )
        sample = "".join(lines[skip:])
        complete = len(head) < (1 << 20)
        if self.opts.delimiter:
            self.delimiter = _unescape(self.opts.delimiter)
        elif self.path.suffix.lower() == ".tsv":
            self.delimiter = "\t"
        else:
            self.delimiter = _sniff_delimiter(sample, complete)
        header = next(csv.reader(io.StringIO(sample), delimiter=self.delimiter), None)
        if not header:
            raise ImportFileError(f"{self.name} is empty; expected a header row and data rows")
        self.columns = _header_names(header, self.name)

    def _csv_chunks(self, columns: list[str] | None, progress: Progress | None) -> Iterator[pd.DataFrame]:
        import pyarrow.csv as pacsv

        names = self.columns
        wanted = [c for c in names if columns is None or c in columns]
        read = pacsv.ReadOptions(
            skip_rows=self.opts.header_row - 1,
            skip_rows_after_names=self.opts.skip_rows,
            column_names=None,
            autogenerate_column_names=False,
            block_size=_CSV_BLOCK,
            encoding=self.encoding.replace("utf-8-sig", "utf8"),
            use_threads=True,
        )
        parse = pacsv.ParseOptions(delimiter=self.delimiter, newlines_in_values=True)
        convert = pacsv.ConvertOptions(
            column_types={c: pa.string() for c in set(names)},
            include_columns=None,
            strings_can_be_null=True,
            null_values=[""],
            quoted_strings_can_be_null=True,
        )
        with _open_binary(self.path) as raw:
            stream = pa.PythonFile(raw, mode="r")
            try:
                reader = pacsv.open_csv(stream, read_options=read, parse_options=parse, convert_options=convert)
                got = reader.schema.names
                if len(got) != len(names):
                    raise ImportFileError(f"{self.name}: the header reads as {len(got)} columns, expected {len(names)}")
                batches: list[pa.RecordBatch] = []
                pending = 0
                for batch in itertools.chain(reader, [None]):
                    if batch is not None:
                        batches.append(batch)
                        pending += batch.num_rows
                        if pending < self.opts.chunk_rows:
                            continue
                    if not batches:
                        break
                    table = pa.Table.from_batches(batches).rename_columns(names)
                    batches, pending = [], 0
                    if columns is not None:
                        table = table.select([names.index(c) for c in wanted])
                    frame = table.to_pandas()
                    del table
                    yield frame
                    if progress:
                        progress(min(raw.tell(), self.size), self.size)
            except pa.ArrowInvalid as e:
                raise self._csv_error(e) from None
        if progress:
            progress(self.size, self.size)

    def other_delimiter(self) -> str | None:
        """The separator a one-column header is really split by (';', tab, '|', ','), if any."""
        if len(self.columns) != 1:
            return None
        return next((d for d in _DELIMITERS if d != self.delimiter and d in self.columns[0]), None)

    def _csv_error(self, e: Exception) -> ImportFileError:
        msg = str(e)
        if "UTF8" in msg or "utf8" in msg.lower() or "decode" in msg.lower():
            return self._decode_error()
        other = self.other_delimiter()
        if other is not None:
            label, option = ("tabs", "tab") if other == "\t" else (repr(other), repr(other))
            return ImportFileError(
                f"{self.name}: this file is separated by {label}, not by {self.delimiter!r} (its header is "
                f"{self.columns[0][:60]!r}); "
                f"pass --delimiter {option}"
            )
        if "Expected" in msg and "columns" in msg:
            found = self._bad_line()
            if found is not None:
                line, n, text = found
                hint = ""
                if self.delimiter == "," and text.count(",") and self.opts.delimiter is None:
                    hint = " (a decimal comma? quote such values, or export with ';' as separator)"
                return ImportFileError(
                    f"{self.name} is not valid CSV: line {line} has {n} fields, expected {len(self.columns)} "
                    f"({text[:80]!r}){hint}; check quoting and separators on that line"
                )
        first = msg.strip().splitlines()[0] if msg.strip() else type(e).__name__
        return ImportFileError(f"{self.name} is not valid CSV: {first}; check quoting and separators")

    def _bad_line(self) -> tuple[int, int, str] | None:
        """(line, fields, text) of the first record whose field count differs from the header."""
        with _open_binary(self.path) as raw:
            text = io.TextIOWrapper(raw, encoding=self.encoding, newline="", errors="replace")
            for _ in range(self.opts.header_row - 1):
                text.readline()
            reader = csv.reader(text, delimiter=self.delimiter)
            next(reader, None)
            skipped = 0
            for rec in reader:
                if skipped < self.opts.skip_rows:
                    skipped += 1
                    continue
                if rec and len(rec) != len(self.columns):
                    return reader.line_num + self.opts.header_row - 1, len(rec), self.delimiter.join(rec)
        return None

    def _decode_error(self) -> ImportFileError:
        """Where the file stops being text in its encoding: line and byte of the file."""
        decoder = codecs.getincrementaldecoder(self.encoding)(errors="strict")
        pos, line = 0, 1
        with _open_binary(self.path) as fh:
            while block := fh.read(1 << 20):
                try:
                    decoder.decode(block)
                except UnicodeDecodeError as e:
                    bad = pos + max(e.start, 0)
                    line += block[: max(e.start, 0)].count(b"\n")
                    byte = block[e.start : e.start + 1].hex().upper() if e.start < len(block) else "?"
                    enc = "UTF-8" if self.encoding.startswith("utf-8") else self.encoding
                    return ImportFileError(
                        f"{self.name} is not {enc} text: byte 0x{byte} on line {line} (byte {bad + 1} of the file); "
                        "re-save it as UTF-8, or pass --encoding cp1252 (Excel on Windows) or --encoding latin-1"
                    )
                line += block.count(b"\n")
                pos += len(block)
        return ImportFileError(f"{self.name} is not {self.encoding} text; re-save it as UTF-8 or pass --encoding")

    # -- JSON Lines / JSON ------------------------------------------------------------------------
    def _jsonl_chunks(self, progress: Progress | None = None, limit: int | None = None) -> Iterator[pd.DataFrame]:
        import orjson

        rows: list[dict[str, Any]] = []
        n = limit or self.opts.chunk_rows
        done = 0
        with _open_binary(self.path) as fh:
            for i, line in enumerate(fh):
                done += len(line)
                if not line.strip():
                    continue
                try:
                    obj = orjson.loads(line)
                except orjson.JSONDecodeError as e:
                    try:
                        line.decode("utf-8")
                    except UnicodeDecodeError:
                        raise ImportFileError(
                            f"{self.name} line {i + 1} is not UTF-8 text; re-save the file as UTF-8"
                        ) from None
                    raise ImportFileError(
                        f"{self.name} line {i + 1} is not valid JSON ({str(e).split(':')[0]}); expected one object per line"
                    ) from None
                if not isinstance(obj, dict):
                    raise ImportFileError(f"{self.name} line {i + 1} is a JSON {_json_type(obj)}; expected an object")
                rows.append(obj)
                if len(rows) >= n:
                    yield _frame(rows)
                    if limit:
                        return
                    rows = []
                    if progress:
                        progress(done, self.size)
        if rows:
            yield _frame(rows)
        if progress:
            progress(self.size, self.size)

    def _load_json(self) -> list[dict[str, Any]]:
        import orjson

        with _open_binary(self.path) as fh:
            data = fh.read()
        if data.startswith(codecs.BOM_UTF8):
            data = data[3:]
        try:
            doc = orjson.loads(data)
        except orjson.JSONDecodeError as e:
            raise ImportFileError(f"{self.name} is not valid JSON ({e}); expected an array of objects") from None
        records = _find_records(doc, self.opts.records, self.name)
        bad = next((i for i, r in enumerate(records) if not isinstance(r, dict)), None)
        if bad is not None:
            raise ImportFileError(
                f"{self.name} record {bad + 1} is a JSON {_json_type(records[bad])}; expected an object"
            )
        if not records:
            raise ImportFileError(f"{self.name} has no records; expected an array of objects")
        return records

    # -- Parquet ----------------------------------------------------------------------------------
    def _parquet(self) -> Any:
        import pyarrow.parquet as pq

        try:
            return pq.ParquetFile(self.path)
        except Exception as e:
            raise ImportFileError(f"{self.name} cannot be read as parquet: {str(e).strip().splitlines()[0]}") from None

    def _parquet_chunks(self, columns: list[str] | None, progress: Progress | None) -> Iterator[pd.DataFrame]:
        pf = self._parquet()
        done = 0
        for batch in pf.iter_batches(batch_size=self.opts.chunk_rows, columns=columns):
            yield _arrow_frame(pa.Table.from_batches([batch]))
            done += batch.nbytes
            if progress:
                progress(min(done, self.size), self.size)

    # -- Excel --------------------------------------------------------------------------------------
    def _load_xlsx(self) -> list[list[Any]]:
        try:
            from python_calamine import CalamineWorkbook
        except ImportError:  # pragma: no cover - a runtime dependency
            from cxlens.errors import MissingExtraError

            raise MissingExtraError("python-calamine", "xlsx") from None
        try:
            wb = CalamineWorkbook.from_path(str(self.path))
        except Exception as e:
            raise ImportFileError(f"{self.name} cannot be read as an Excel workbook: {e}") from None
        sheets = list(wb.sheet_names)
        sheet = self.opts.sheet or sheets[0]
        if sheet not in sheets:
            raise ImportFileError(f"{self.name} has no sheet {sheet!r}; its sheets are {', '.join(map(repr, sheets))}")
        self.sheet = sheet
        rows = wb.get_sheet_by_name(sheet).to_python(skip_empty_area=False)
        skip = self.opts.header_row - 1
        if len(rows) <= skip:
            raise ImportFileError(f"sheet {sheet!r} of {self.name} has no header on row {self.opts.header_row}")
        self.columns = _header_names(["" if v is None else str(v).strip() for v in rows[skip]], self.name)
        body = rows[skip + 1 + self.opts.skip_rows :]
        while body and all(v in ("", None) for v in body[-1]):
            body.pop()
        return body

    def _xlsx_frame(self) -> pd.DataFrame:
        width = len(self.columns)
        cols: dict[str, list[Any]] = {c: [] for c in self.columns}
        for row in self._rows:
            for j, c in enumerate(self.columns):
                v = row[j] if j < len(row) else None
                cols[c].append(None if v == "" else v)
        del width
        return pd.DataFrame({c: _typed(pd.Series(v, dtype=object)) for c, v in cols.items()})


def _typed(s: pd.Series) -> pd.Series:
    """An object column of cells: all date-times → datetime64, all text → str; else unchanged."""
    present = s.dropna()
    if len(present) and all(isinstance(v, pd.Timestamp | np.datetime64) or hasattr(v, "isoformat") for v in present):
        if all(hasattr(v, "hour") for v in present):
            return pd.to_datetime(s)
    if len(present) and all(isinstance(v, str) for v in present):
        return s.astype("str").where(s.notna(), None).astype("str")
    return s


def _sniff_delimiter(sample: str, complete: bool) -> str:
    lines = sample.splitlines(keepends=True)
    if not complete and len(lines) > 1:
        lines = lines[:-1]  # the last line of a cut sample may be cut
    text = "".join(lines[:200])
    consistent = []
    for d in _DELIMITERS:
        try:
            records = list(csv.reader(io.StringIO(text), delimiter=d))
        except csv.Error:
            continue
        if not records or len(records[0]) < 2:
            continue
        body = [r for r in records[1:] if r]
        if not complete and body:
            body = body[:-1]
        if all(len(r) == len(records[0]) for r in body):
            consistent.append(d)
    return consistent[0] if consistent else ","


def _header_names(header: list[str], name: str) -> list[str]:
    names = [h.strip().lstrip("\ufeff") if isinstance(h, str) else str(h) for h in header]
    names = [n if n else f"Unnamed: {i}" for i, n in enumerate(names)]
    seen: dict[str, int] = {}
    for i, n in enumerate(names):
        if n in seen:
            raise ImportFileError(
                f"{name} has two columns named {n!r} (columns {seen[n] + 1} and {i + 1}); expected unique column "
                "names — rename one in the file (the second would otherwise be hidden)"
            )
        seen[n] = i
    return names


def _json_type(v: Any) -> str:
    return {list: "array", str: "string", int: "number", float: "number", bool: "boolean"}.get(type(v), "null")


def _find_records(doc: Any, key: str | None, name: str) -> list[Any]:
    if key:
        node = doc
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node:
                found = ", ".join(repr(k) for k in node) if isinstance(node, dict) else "none"
                raise ImportFileError(f"{name} has no key {part!r} for --records {key}; found keys {found}")
            node = node[part]
        if not isinstance(node, list):
            raise ImportFileError(f"{name}: --records {key} is a JSON {_json_type(node)}; expected an array of objects")
        return node
    if isinstance(doc, list):
        return doc
    if isinstance(doc, dict):
        lists = [k for k, v in doc.items() if isinstance(v, list) and v and isinstance(v[0], dict)]
        if len(lists) == 1:
            return doc[lists[0]]
        if len(lists) > 1:
            raise ImportFileError(
                f"{name} holds several arrays of records ({', '.join(map(repr, lists))}); choose one with --records KEY"
            )
        return [doc]
    raise ImportFileError(f"{name} is a JSON {_json_type(doc)}; expected an array of objects")


def _keys(records: list[dict[str, Any]]) -> list[str]:
    seen: dict[str, None] = {}
    for r in records:
        for k in r:
            seen.setdefault(str(k), None)
    return list(seen)


def _frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Records → a frame of object columns (ints stay exact, nested values stay dicts/lists)."""
    keys = _keys(rows)
    cols = {k: pd.Series([r.get(k) for r in rows], dtype=object) for k in keys}
    frame = pd.DataFrame(cols)
    for k in keys:
        s = frame[k]
        present = s.dropna()
        if len(present) and all(type(v) is str for v in present):
            frame[k] = s.astype("str")
    return frame


def _arrow_frame(table: pa.Table) -> pd.DataFrame:
    """An Arrow table as pandas without losing values: nested → Python objects, ints with nulls → Int64."""
    import pyarrow.types as pat

    out: dict[str, pd.Series] = {}
    for name, col in zip(table.column_names, table.columns, strict=True):
        t = col.type
        if pat.is_nested(t) or pat.is_dictionary(t) or pat.is_binary(t) or pat.is_decimal(t):
            out[name] = pd.Series(col.to_pylist(), dtype=object)
        elif pat.is_integer(t):
            out[name] = pd.Series(col.to_pandas(types_mapper=lambda _t: pd.Int64Dtype()), dtype="Int64")
        else:
            out[name] = col.to_pandas()
    return pd.DataFrame(out)


def _select(frame: pd.DataFrame, columns: list[str] | None) -> pd.DataFrame:
    if columns is None:
        return frame
    return frame[[c for c in columns if c in frame.columns]]


# -- mappings ---------------------------------------------------------------------------------------
_PAIRS = re.compile(r",\s*(?=[a-z_]+\s*=)")


def parse_mapping(items: list[str] | str | dict[str, str] | None, columns: list[str] | None = None) -> dict[str, str]:
    """``canonical=source`` pairs → ``{canonical: source}``.

    Each item of a list (repeated ``--map``) is one pair taken verbatim, so a source column may
    contain commas (``--map "comment=Anything else, in your words?"``) — unless the item reads as
    several pairs (``score=rating,ts=date``) and its whole right side is not a column of the file.
    A single string is split into pairs at commas followed by ``name=``.
    """
    if not items:
        return {}
    if isinstance(items, dict):
        return {str(k).strip(): str(v).strip() for k, v in items.items()}
    pairs: list[str] = []
    for item in [items] if isinstance(items, str) else list(items):
        whole = item.split("=", 1)[1].strip() if "=" in item else None
        verbatim = whole in (columns or []) or not _PAIRS.search(item)
        if isinstance(items, list) and verbatim:
            pairs.append(item)
        else:
            pairs.extend(_PAIRS.split(item))
    out: dict[str, str] = {}
    for pair in pairs:
        if not pair.strip():
            continue
        if "=" not in pair:
            raise ImportFileError(f"mapping {pair!r} has no '='; expected canonical=source, e.g. score=rating")
        canon, src = (x.strip() for x in pair.split("=", 1))
        if not canon or not src:
            raise ImportFileError(f"mapping {pair!r} is incomplete; expected canonical=source, e.g. score=rating")
        out[canon] = src
    return out


def _dotted(frame: pd.DataFrame, path: str) -> pd.Series | None:
    """``via.channel``: the value at a dotted path inside a column of nested objects, or None."""
    head, _, rest = path.partition(".")
    if head not in frame.columns or not rest:
        return None

    def get(v: Any) -> Any:
        for part in rest.split("."):
            if isinstance(v, str) and v.startswith("{"):
                try:
                    v = json.loads(v)
                except ValueError:
                    return None
            if not isinstance(v, dict):
                return None
            v = v.get(part)
        return v

    return frame[head].map(get).astype(object)


def apply_mapping(frame: pd.DataFrame, mapping: dict[str, str], source: str) -> pd.DataFrame:
    """Rename source columns to canonical names (``mapping`` is canonical → source column or dotted path)."""
    if not mapping:
        return frame
    cols = [str(c) for c in frame.columns]
    out = frame
    extracted: dict[str, pd.Series] = {}
    for canon, src in mapping.items():
        if src in cols:
            continue
        got = _dotted(frame, src) if "." in src else None
        if got is None:
            raise ImportFileError(
                f"--map {canon}={src}: {source} has no column {src!r}; found {', '.join(map(repr, cols[:20]))}"
            )
        extracted[canon] = got
    rename = {src: canon for canon, src in mapping.items() if canon not in extracted}
    # a canonical name already present and also mapped from elsewhere: the mapping wins
    dropped = [c for c in cols if c in mapping and c not in rename]
    out = out.drop(columns=dropped).rename(columns=rename)
    for canon, s in extracted.items():
        out[canon] = s
    return out


def read_file(
    path: str | Path,
    fmt: str | None = None,
    *,
    sep: str | None = None,
    progress: Progress | None = None,
    options: ReadOptions | None = None,
) -> pd.DataFrame:
    """Read a whole file into a frame of raw values (CSV cells stay text)."""
    opts = options or ReadOptions()
    if fmt or sep:
        opts = replace(opts, format=fmt or opts.format, delimiter=sep if sep and len(sep) == 1 else opts.delimiter)
    if sep and len(sep) > 1:  # a regular expression such as r"\s+" (whitespace-separated text)
        return _read_regex_separated(Path(path), sep)
    return SourceFile(Path(path), opts).read_all(progress)


def _read_regex_separated(p: Path, sep: str) -> pd.DataFrame:
    if not p.exists():
        raise ImportFileError(f"file {str(p)!r} does not exist; check the path")
    try:
        return pd.read_csv(p, sep=sep, dtype=str, keep_default_na=False, na_values=[""], engine="python")
    except pd.errors.ParserError as e:
        raise ImportFileError(f"{p.name} is not valid text: {str(e).strip().splitlines()[0]}") from None
