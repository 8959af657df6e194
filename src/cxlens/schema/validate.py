"""Validation of incoming rows against a canonical table.

:func:`validate_frame` turns a raw frame (text from CSV, typed values from JSON or Parquet)
into a frame with exactly the canonical columns and types, or raises
:class:`~cxlens.errors.SchemaError` naming the file, the 1-based data row, the column, the bad
value and what was expected. Nothing is written anywhere: callers insert only after this
returns, which is what makes imports all-or-nothing.

Dates are read in one format per column (:mod:`cxlens.schema.dates`); numbers accept a
decimal comma or thousands separators only when stated (``1,234`` is refused otherwise, never
read as 1.234 or 1234 by guess); nested JSON values are stored as JSON, never re-encoded.

With a :class:`Problems` collector in ``collect`` mode (dry runs), every check reports its first
bad row and carries on instead of raising; with ``skip_incomplete``, rows missing a required
value are dropped and counted per reason instead of refused.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.errors import SchemaError
from cxlens.schema.dates import DateColumn, DateFormat, DateOptions, parse_dates
from cxlens.schema.tables import FLOAT, INT, JSON, SCORE_RANGES, STRING, TIMESTAMP, Column, Table

__all__ = ["Problems", "ValidateOptions", "derived_key_hash", "validate_frame"]

_EXTRA_HOLDERS = ("properties", "traits")
_EMPTY = object()


@dataclass(frozen=True)
class ValidateOptions:
    """How values are read: dates, the decimal mark, thousands separators, incomplete rows."""

    dates: DateOptions = field(default_factory=DateOptions)
    decimal: str = "."
    thousands: str | None = None
    skip_incomplete: bool = False


@dataclass
class Problems:
    """Where validation reports what it finds.

    Strict (the default): the first problem raises. ``collect=True`` (dry runs): problems are
    kept, the offending values set to empty, and validation goes on. Rows skipped for a missing
    required value (``skip_incomplete``) are counted per column in :attr:`skipped`.
    """

    collect: bool = False
    #: rows before the frame being validated (chunked imports report rows of the whole file)
    offset: int = 0
    errors: list[SchemaError] = field(default_factory=list)
    #: column → (rows skipped, first such rows, 1-based)
    skipped: dict[str, list[Any]] = field(default_factory=dict)
    limit: int = 50

    def add(self, err: SchemaError) -> None:
        if not self.collect:
            raise err
        if len(self.errors) < self.limit:
            self.errors.append(err)

    def skip(self, column: str, rows: np.ndarray) -> None:
        entry = self.skipped.setdefault(column, [0, []])
        entry[0] += len(rows)
        entry[1] = (entry[1] + [int(r) for r in rows[:5]])[:5]


def _bad(source: str, row: int, column: str, value: Any, expected: str) -> SchemaError:
    """The error for data row ``row`` (0-based position)."""
    shown = "empty" if value is _EMPTY else repr(value) if isinstance(value, str) else str(value)
    err = SchemaError(f"column '{column}' in {source} row {row + 1} is {shown}; expected {expected}")
    err.source, err.row, err.column, err.value, err.expected = source, row + 1, column, value, expected
    return err


def _first(mask: Any) -> int | None:
    arr = np.asarray(mask, dtype=bool) if not isinstance(mask, pd.Series) else mask.to_numpy(dtype=bool, na_value=False)
    return int(arr.argmax()) if arr.any() else None


def _arrow_text(s: pd.Series) -> pa.ChunkedArray | None:
    """The Arrow strings behind a pyarrow-backed text column (no copy), else None."""
    if isinstance(s.dtype, pd.StringDtype) and s.dtype.storage == "pyarrow":
        arr = s.array._pa_array  # noqa: SLF001 - pandas' own Arrow array, read only
        return arr if isinstance(arr, pa.ChunkedArray) else pa.chunked_array([arr])
    return None


def _is_missing(s: pd.Series) -> pd.Series:
    """Empty cells: null, or only white space."""
    arrow = _arrow_text(s)
    if arrow is not None:  # Arrow compute, as pandas' own str.strip does, without the pandas round trips
        blank = pc.fill_null(pc.equal(pc.utf8_trim_whitespace(arrow), ""), True)
        return pd.Series(blank.to_numpy(zero_copy_only=False), index=s.index, dtype=bool)
    m = s.isna()
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        text = s.astype("str") if s.dtype != object else s.map(lambda v: v if isinstance(v, str) else "x")
        m = m | text.str.strip().eq("").fillna(False).astype(bool)
    return m.astype(bool)


def _text_of(v: Any) -> Any:
    if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
        return None
    if isinstance(v, dict | list):
        return json.dumps(v, ensure_ascii=False, default=str)
    if isinstance(v, float) and v == np.floor(v) and abs(v) < 2**53:
        return str(int(v))
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    return str(v)


def _to_string(s: pd.Series, missing: pd.Series | None = None) -> pd.Series:
    missing = _is_missing(s) if missing is None else missing
    if pd.api.types.is_string_dtype(s) and s.dtype != object:
        out = s
    elif pd.api.types.is_float_dtype(s):
        # ids read as floats (1.0) come back as "1"
        as_int = s.dropna()
        out = s.astype("Int64").astype("str") if (as_int == np.floor(as_int)).all() else s.astype("str")
    elif pd.api.types.is_integer_dtype(s) or pd.api.types.is_bool_dtype(s):
        out = s.astype("str")
    else:
        out = pd.Series([_text_of(v) for v in s.tolist()], index=s.index, dtype="str")
    return out.where(~missing, None).astype("str")


def _arrow(s: pd.Series) -> pa.Array:
    arr = pa.array(s, from_pandas=True)
    return arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr


def _numbers(s: pd.Series, opts: ValidateOptions) -> pd.Series:
    """Text → float64 (NaN where empty or unreadable); decimal comma and thousands only when stated."""
    if pd.api.types.is_bool_dtype(s):
        return s.astype("float64")
    if pd.api.types.is_numeric_dtype(s):
        return pd.to_numeric(s, errors="coerce").astype("float64")
    if s.dtype == object:
        s = pd.Series(
            [_text_of(v) if not isinstance(v, bool) else str(int(v)) for v in s.tolist()], index=s.index, dtype="str"
        )
    arr = pc.utf8_trim_whitespace(_arrow(s.astype("str")))
    if opts.thousands:
        sep = "\\" + opts.thousands if opts.thousands in ".|" else opts.thousands
        dec = "\\." if opts.decimal == "." else opts.decimal
        grouped = pc.match_substring_regex(arr, rf"^-?\d{{1,3}}({sep}\d{{3}})+({dec}\d+)?$")
        arr = pc.if_else(grouped, pc.replace_substring(arr, opts.thousands, ""), arr)
    if opts.decimal != ".":
        bad_dot = pc.match_substring(arr, ".")
        arr = pc.if_else(bad_dot, pa.scalar("x"), pc.replace_substring(arr, opts.decimal, "."))
    arr = pc.if_else(pc.equal(arr, ""), pa.scalar(None, pa.string()), arr)
    try:
        return pd.Series(pc.cast(arr, pa.float64()).to_numpy(zero_copy_only=False), index=s.index)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return pd.to_numeric(pd.Series(arr.to_pandas(), index=s.index), errors="coerce").astype("float64")


def _number_hint(value: Any, opts: ValidateOptions) -> str:
    v = str(value)
    if opts.decimal == "." and "," in v and any(ch.isdigit() for ch in v):
        return " (for a decimal comma pass --decimal , and for thousands separators --thousands ,)"
    if opts.decimal == "," and "." in v:
        return " (--decimal , was given: write 4,5 not 4.5, or pass --thousands . for 1.234,5)"
    return ""


def _to_number(
    s: pd.Series, col: Column, source: str, integer: bool, opts: ValidateOptions, problems: Problems
) -> pd.Series:
    missing = _is_missing(s)
    num = _numbers(s, opts)
    what = "a whole number" if integer else "a number"
    checks = [
        (num.isna() & ~missing, lambda v: what + _number_hint(v, opts)),
        (~np.isfinite(num.fillna(0)), lambda v: what),
    ]
    if integer:
        checks.append(((num != np.floor(num)) & num.notna(), lambda v: what))
    if col.min is not None:
        checks.append((num < col.min, lambda v: f"{what} of at least {col.min:g}"))
    if col.max is not None:
        checks.append((num > col.max, lambda v: f"{what} of at most {col.max:g}"))
    for mask, expected in checks:
        i = _first(mask)
        if i is not None:
            problems.add(_bad(source, problems.offset + i, col.name, s.iloc[i], expected(s.iloc[i])))
            num = num.where(~mask.to_numpy(dtype=bool, na_value=False))
    return num.astype("Int64") if integer else num


def _json_value(v: Any) -> Any:
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, np.ndarray):
        return v.tolist()
    return v


def _to_json(s: pd.Series, col: Column, source: str, problems: Problems) -> pd.Series:
    if s.isna().all():
        return pd.Series([None] * len(s), index=s.index, dtype=object)
    out: list[str | None] = []
    expected = 'a JSON object such as {"plan": "pro"}'
    for i, v in enumerate(s.tolist()):
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        elif isinstance(v, dict):
            out.append(
                json.dumps({k: _json_value(x) for k, x in v.items()}, ensure_ascii=False, default=str) if v else None
            )
        else:
            text = str(v).strip()
            if not text:
                out.append(None)
                continue
            try:
                parsed = json.loads(text)
            except ValueError:
                parsed = None
            if not isinstance(parsed, dict):
                problems.add(_bad(source, problems.offset + i, col.name, v, expected))
                out.append(None)
                continue
            out.append(json.dumps(parsed, ensure_ascii=False) if parsed else None)
    return pd.Series(out, index=s.index, dtype=object)


def _fold_extras(frame: pd.DataFrame, table: Table, holder: str) -> pd.Series:
    """Pack columns that are not canonical into the table's JSON column (nested values kept as JSON)."""
    extras = [c for c in frame.columns if c not in table.column_names and not str(c).startswith("_cx")]
    base = frame[holder] if holder in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    if not extras:
        return base
    sub = frame[extras].astype(object)
    records = sub.where(sub.notna(), None).to_dict("records")
    merged: list[Any] = []
    for b, extra in zip(base.tolist(), records, strict=True):
        extra = {
            k: _json_value(v) for k, v in extra.items() if v is not None and not (isinstance(v, str) and not v.strip())
        }
        if isinstance(b, str) and b.strip():
            try:
                b = json.loads(b)
            except ValueError:
                merged.append(b)  # left for the JSON check to report
                continue
        if isinstance(b, dict):
            extra = {**extra, **b}
        merged.append(extra or None)
    return pd.Series(merged, index=frame.index, dtype=object)


def derived_key_hash(out: pd.DataFrame, table: Table) -> pd.Series:
    """Hex hash of the columns a row's id is derived from (same row, same hash, in any file)."""
    cols = [c for c in table.derive_key_from if c in out.columns]
    h = pd.util.hash_pandas_object(out[cols].astype("string"), index=False)
    return pd.Series([f"{v:016x}" for v in h.to_numpy(dtype=np.uint64)], index=out.index, dtype=object)


def derive_keys(out: pd.DataFrame, table: Table) -> pd.Series:
    """Ids for rows without one: the row's hash, plus ``-n`` for its n-th identical copy (n ≥ 2).

    Distinct rows of one file stay distinct (7 identical answers are 7 answers); importing the
    same file again yields the same ids, so it adds nothing.
    """
    if table.name == "order_items":
        n = out.groupby(["order_id", "product_id"], dropna=False).cumcount().add(1)
        return out["product_id"].astype(str) + "#" + n.astype(str)
    h = derived_key_hash(out, table)
    n = h.groupby(h).cumcount().add(1)
    suffix = np.where(n > 1, "-" + n.astype(str), "")
    return pd.Series(f"{table.name[:2]}_" + h + suffix, index=out.index, dtype=object)


def _empty_column(col: Column, index: pd.Index) -> pd.Series:
    if col.type == TIMESTAMP:
        return pd.Series(pd.NaT, index=index, dtype="datetime64[us]")
    if col.type == FLOAT:
        return pd.Series(np.nan, index=index, dtype="float64")
    if col.type == INT:
        return pd.Series(pd.NA, index=index, dtype="Int64")
    return pd.Series([None] * len(index), index=index, dtype=object)


def validate_frame(
    raw: pd.DataFrame,
    table: Table,
    *,
    source: str = "<frame>",
    dayfirst: bool = False,
    options: ValidateOptions | None = None,
    formats: dict[str, DateFormat] | None = None,
    problems: Problems | None = None,
    derive: bool = True,
) -> pd.DataFrame:
    """Check ``raw`` against ``table`` and return it with canonical columns and types.

    Parameters
    ----------
    raw
        Rows to import, already renamed to canonical column names. Row ``i`` of the frame is
        reported as row ``i + 1``.
    table
        The canonical table the rows are for.
    source
        Name used in error messages (usually the file name).
    dayfirst
        Read day/month dates such as 04/05/2024 as day first (same as ``options.dates.order="dmy"``).
    options
        Dates, decimal mark, thousands separators, skipping incomplete rows.
    formats
        The date format of each timestamp column, when already settled over a whole file
        (chunked imports); otherwise it is worked out from ``raw``.
    problems
        Where problems go (strict by default: the first raises).
    derive
        Derive ids missing from the source (False: leave them empty for the caller).

    Raises
    ------
    SchemaError
        On the first problem found, naming source, row, column, value and what was expected.
    """
    opts = options or ValidateOptions()
    if dayfirst and opts.dates.order is None:
        opts = ValidateOptions(DateOptions("dmy", opts.dates.epoch, opts.dates.timezone, opts.dates.any_date),
                               opts.decimal, opts.thousands, opts.skip_incomplete)  # fmt: skip
    problems = problems if problems is not None else Problems()
    frame = raw.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    derivable = {k for k in table.key if table.derive_key_from} | (
        {"item_id"} if table.name == "order_items" else set()
    )
    missing = [c.name for c in table.columns if c.required and c.name not in frame.columns and c.name not in derivable]
    if missing:
        raise missing_column_error(source, missing[0], table, list(frame.columns))
    holder = next((h for h in _EXTRA_HOLDERS if h in table.column_names), None)
    if holder is not None:
        frame[holder] = _fold_extras(frame, table, holder)

    out = pd.DataFrame(index=frame.index)
    invalid = pd.Series(False, index=frame.index)
    for col in table.columns:
        if col.name not in frame.columns:
            out[col.name] = _empty_column(col, frame.index)
            continue
        s = frame[col.name]
        blank = None
        if col.type == STRING:
            blank = _is_missing(s)
            v = _to_string(s, blank)
            if col.choices:
                v = v.str.strip().str.lower()
                bad = v.notna() & ~v.isin(col.choices)
                i = _first(bad)
                if i is not None:
                    problems.add(
                        _bad(source, problems.offset + i, col.name, s.iloc[i], "one of " + ", ".join(col.choices))
                    )
                    v = v.where(~bad.to_numpy(dtype=bool, na_value=False))
        elif col.type == TIMESTAMP:
            v = _to_timestamp(s, col, source, opts, (formats or {}).get(col.name), problems)
        elif col.type in (FLOAT, INT):
            v = _to_number(s, col, source, col.type == INT, opts, problems)
        elif col.type == JSON:
            v = _to_json(s, col, source, problems)
        else:  # pragma: no cover - schema is static
            raise AssertionError(col.type)
        if not s.isna().all():
            invalid |= (v.isna() & ~(_is_missing(s) if blank is None else blank)).to_numpy()
        out[col.name] = v

    absent = {k for k in derivable if k not in frame.columns}
    keep = _required(out, table, source, problems, invalid, opts.skip_incomplete, absent)
    if keep is not None:
        out = out[keep]
        frame = frame[keep]
    if derive:
        for k in table.key:
            if k not in frame.columns:
                out[k] = derive_keys(out, table)
    if table.name == "feedback":
        _check_scores(out, source, frame, problems)
    if derive:
        _check_duplicate_keys(out, table, source)
    return out


def missing_column_error(source: str, column: str, table: Table, found: list[str]) -> SchemaError:
    """A required column is absent: name it, what was found, and the fix (or the real separator)."""
    shown = ", ".join(map(repr, found[:20])) or "none"
    if len(found) == 1:
        for sep in (";", "\t", "|", ","):
            if sep in found[0]:
                label, option = ("tabs", "tab") if sep == "\t" else (repr(sep), repr(sep))
                return SchemaError(
                    f"{source} has one column {found[0]!r}: this file is separated by {label}, not by the "
                    f"separator it was read with; pass --delimiter {option}"
                )
    return SchemaError(
        f"{source} has no column {column!r}, which {table.name} requires; found columns {shown}; "
        f"rename yours with --map {column}=YOUR_COLUMN"
    )


def _required(out: pd.DataFrame, table: Table, source: str, problems: Problems, invalid: pd.Series,
              skip: bool, absent: set[str]) -> pd.Series | None:  # fmt: skip
    keep = None
    first: tuple[int, str] | None = None
    for col in table.columns:
        if not col.required or col.name in absent:
            continue  # ids the source does not carry are derived
        empty = out[col.name].isna().to_numpy() & ~invalid.to_numpy()
        if not empty.any():
            continue
        if skip:
            problems.skip(col.name, np.flatnonzero(empty) + 1 + problems.offset)
            keep = ~empty if keep is None else keep & ~empty
        elif first is None or int(empty.argmax()) < first[0]:
            first = (int(empty.argmax()), col.name)
    if first is not None:
        i, name = first
        problems.add(_bad(source, problems.offset + i, name, _EMPTY, f"a value ({table.name} requires {name}; "
                                                                     "--skip-incomplete skips such rows and counts them)"))  # fmt: skip
    return keep


def _to_timestamp(s: pd.Series, col: Column, source: str, opts: ValidateOptions, fmt: DateFormat | None,
                  problems: Problems) -> pd.Series:  # fmt: skip
    if fmt is not None and fmt.family == "invalid":  # already reported for the whole file
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    try:
        if fmt is None:
            dc = DateColumn(col.name, source, opts.dates)
            dc.observe(s.reset_index(drop=True), problems.offset)
            fmt = dc.resolve()
        return parse_dates(s, fmt, column=col.name, source=source, opts=opts.dates, offset=problems.offset)
    except SchemaError as e:
        problems.add(e)
        return pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")


def _check_scores(out: pd.DataFrame, source: str, frame: pd.DataFrame, problems: Problems) -> None:
    out["metric"] = out["metric"].str.strip().str.lower()
    codes, metrics = pd.factorize(out["metric"])  # each metric compared once, not each row once per metric
    found = {str(m): i for i, m in enumerate(metrics)}
    score = out["score"].to_numpy(dtype="float64", na_value=np.nan)
    with np.errstate(invalid="ignore"):
        out_of_range = {(lo, hi): (score < lo) | (score > hi) for lo, hi in set(SCORE_RANGES.values())}
        fraction = score != np.floor(score)
    scored = ~np.isnan(score)
    for metric, (lo, hi) in SCORE_RANGES.items():
        if metric not in found:
            continue
        rows = codes == found[metric]
        sc = out["score"]
        bad = rows & scored & (out_of_range[lo, hi] | fraction)
        i = _first(bad)
        if i is not None:
            shown = frame["score"].iloc[i] if "score" in frame.columns else sc.iloc[i]
            problems.add(
                _bad(
                    source,
                    problems.offset + int(out.index[i]),
                    "score",
                    shown,
                    f"a whole number {lo}-{hi} for metric '{metric}'",
                )
            )
            out.loc[out.index[bad], "score"] = np.nan


def _check_duplicate_keys(out: pd.DataFrame, table: Table, source: str) -> None:
    """Rows sharing an id must be identical; name the first row and the first one that differs."""
    key = list(table.key)
    dup = out.duplicated(key, keep=False)
    if not dup.any():
        return
    rows = out[dup].astype(str)
    for _, group in rows.groupby(key, sort=False):
        first = group.iloc[0]
        differs = (group != first).any(axis=1).to_numpy()
        if differs.any():
            other = group.index[int(differs.argmax())]
            kv = tuple(first[k] for k in key)
            cols = [c for c in group.columns if group.loc[other, c] != first[c]]
            raise SchemaError(
                f"{source} rows {group.index[0] + 1} and {other + 1} share {table.name} id "
                f"{', '.join(map(str, kv))!r} but differ (in {', '.join(cols[:3])}); expected one row per id"
            )
