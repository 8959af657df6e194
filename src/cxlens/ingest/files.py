"""Reading import files: CSV, Parquet and JSON Lines, with column mapping."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pandas as pd

from cxlens.errors import ImportFileError

FORMATS = ("csv", "parquet", "jsonl")
_EXT = {
    ".csv": "csv",
    ".tsv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}
_CHUNK = 500_000

Progress = Callable[[int, int], None]
"""Called as ``progress(done, total)`` in bytes while a large file is read."""


def detect_format(path: Path, fmt: str | None = None) -> str:
    if fmt:
        fmt = fmt.lower().lstrip(".")
        fmt = {"ndjson": "jsonl", "json": "jsonl", "pq": "parquet"}.get(fmt, fmt)
        if fmt not in FORMATS:
            raise ImportFileError(f"format {fmt!r} is not supported; expected one of {', '.join(FORMATS)}")
        return fmt
    suffixes = [s.lower() for s in path.suffixes if s.lower() not in (".gz", ".zst", ".bz2")]
    found = _EXT.get(suffixes[-1]) if suffixes else None
    if found is None:
        raise ImportFileError(
            f"cannot tell the format of {path.name} from its extension; expected .csv, .parquet or .jsonl, "
            "or pass --format"
        )
    return found


def parse_mapping(items: list[str] | str | dict[str, str] | None) -> dict[str, str]:
    """Parse ``canonical=source`` pairs (a list, or one comma-separated string)."""
    if not items:
        return {}
    if isinstance(items, dict):
        return dict(items)
    if isinstance(items, str):
        items = [items]
    out: dict[str, str] = {}
    for item in items:
        for pair in item.split(","):
            if not pair.strip():
                continue
            if "=" not in pair:
                raise ImportFileError(f"mapping {pair!r} has no '='; expected canonical=source, e.g. score=rating")
            canon, src = (x.strip() for x in pair.split("=", 1))
            if not canon or not src:
                raise ImportFileError(f"mapping {pair!r} is incomplete; expected canonical=source, e.g. score=rating")
            out[canon] = src
    return out


def apply_mapping(frame: pd.DataFrame, mapping: dict[str, str], source: str) -> pd.DataFrame:
    """Rename source columns to canonical names (``mapping`` is canonical → source)."""
    if not mapping:
        return frame
    cols = [str(c) for c in frame.columns]
    for canon, src in mapping.items():
        if src not in cols:
            raise ImportFileError(
                f"--map {canon}={src}: {source} has no column {src!r}; found {', '.join(map(repr, cols[:20]))}"
            )
    rename = {src: canon for canon, src in mapping.items()}
    # a canonical name already present and also mapped from elsewhere: the mapping wins
    dropped = [c for c in cols if c in mapping and c not in rename]
    return frame.drop(columns=dropped).rename(columns=rename)


def read_file(
    path: str | Path, fmt: str | None = None, *, sep: str | None = None, progress: Progress | None = None
) -> pd.DataFrame:
    """Read a whole file into a frame of raw values (CSV cells stay strings)."""
    p = Path(path)
    if not p.exists():
        raise ImportFileError(f"file {str(p)!r} does not exist; check the path")
    if p.is_dir():
        raise ImportFileError(f"{str(p)!r} is a folder; expected a file")
    kind = detect_format(p, fmt)
    total = p.stat().st_size
    try:
        if kind == "csv":
            return _read_csv(p, sep, total, progress)
        if kind == "parquet":
            frame = pd.read_parquet(p)
            if progress:
                progress(total, total)
            return frame
        return _read_jsonl(p, total, progress)
    except ImportFileError:
        raise
    except UnicodeDecodeError as e:
        raise ImportFileError(
            f"{p.name} is not UTF-8 text ({e.reason} at byte {e.start}); re-save it as UTF-8"
        ) from None
    except Exception as e:  # pyarrow/pandas raise many kinds for malformed files
        raise ImportFileError(f"{p.name} cannot be read as {kind}: {str(e).strip().splitlines()[0]}") from None


def _read_csv(p: Path, sep: str | None, total: int, progress: Progress | None) -> pd.DataFrame:
    if sep is None:
        sep = "\t" if p.suffix.lower() == ".tsv" else ","
    opts = dict(sep=sep, dtype=str, keep_default_na=False, na_values=[""], encoding="utf-8")
    if total < 64 * 2**20 or progress is None:
        try:
            frame = pd.read_csv(p, **opts)
        except pd.errors.ParserError as e:
            raise ImportFileError(f"{p.name} is not valid CSV: {_parser_message(e)}") from None
        except pd.errors.EmptyDataError:
            raise ImportFileError(f"{p.name} is empty; expected a header row and data rows") from None
        if progress:
            progress(total, total)
        return frame
    parts = []
    with open(p, "rb") as fh:
        try:
            for chunk in pd.read_csv(fh, chunksize=_CHUNK, **opts):
                parts.append(chunk)
                progress(min(fh.tell(), total), total)
        except pd.errors.ParserError as e:
            raise ImportFileError(f"{p.name} is not valid CSV: {_parser_message(e)}") from None
    progress(total, total)
    return pd.concat(parts, ignore_index=True)


def _parser_message(e: Exception) -> str:
    msg = str(e).replace("Error tokenizing data. ", "").replace("C error: ", "").strip()
    return msg + "; check quoting and separators on that line"


def _read_jsonl(p: Path, total: int, progress: Progress | None) -> pd.DataFrame:
    rows = []
    with open(p, encoding="utf-8") as fh:
        for i, line in enumerate(fh):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as e:
                raise ImportFileError(
                    f"{p.name} line {i + 1} is not valid JSON ({e.msg}); expected one object per line"
                ) from None
            if not isinstance(obj, dict):
                raise ImportFileError(f"{p.name} line {i + 1} is a JSON {type(obj).__name__}; expected an object")
            rows.append({k: (json.dumps(v) if isinstance(v, (dict, list)) else v) for k, v in obj.items()})
            if progress and i % 200_000 == 0:
                progress(min(fh.tell(), total), total)
    if progress:
        progress(total, total)
    if not rows:
        raise ImportFileError(f"{p.name} has no rows; expected one JSON object per line")
    return pd.DataFrame.from_records(rows)
