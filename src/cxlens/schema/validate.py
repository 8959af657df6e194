"""Validation of incoming rows against a canonical table.

:func:`validate_frame` turns a raw frame (strings from CSV, or typed columns from Parquet)
into a frame with exactly the canonical columns and types, or raises
:class:`~cxlens.errors.SchemaError` naming the file, the 1-based data row, the column, the bad
value and what was expected. Nothing is written anywhere: callers insert only after this
returns, which is what makes imports all-or-nothing.
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import SchemaError
from cxlens.schema.tables import FLOAT, INT, JSON, SCORE_RANGES, STRING, TIMESTAMP, Column, Table

_EXTRA_HOLDERS = ("properties", "traits")


_EMPTY = object()


def _bad(source: str, row: int, column: str, value: Any, expected: str) -> SchemaError:
    shown = "empty" if value is _EMPTY else repr(value) if isinstance(value, str) else str(value)
    err = SchemaError(f"column '{column}' in {source} row {row + 1} is {shown}; expected {expected}")
    err.source, err.row, err.column, err.value, err.expected = source, row + 1, column, value, expected
    return err


def _first_bad(mask: pd.Series) -> int | None:
    """Position of the first True in a boolean mask, or None."""
    arr = mask.to_numpy(dtype=bool, na_value=False)
    if not arr.any():
        return None
    return int(arr.argmax())


def _is_missing(s: pd.Series) -> pd.Series:
    m = s.isna()
    if s.dtype == object or pd.api.types.is_string_dtype(s):
        m = m | s.astype("string").str.strip().eq("").fillna(False)
    return m


def _to_string(s: pd.Series) -> pd.Series:
    missing = _is_missing(s)
    if pd.api.types.is_float_dtype(s):
        # ids read as floats (1.0) must come back as "1"
        as_int = s.dropna()
        if (as_int == np.floor(as_int)).all():
            s = s.astype("Int64")
    out = s.astype("string")
    out[missing] = pd.NA
    return out.astype(object).where(~missing, None)


def _to_timestamp(s: pd.Series, col: Column, source: str, dayfirst: bool) -> pd.Series:
    missing = _is_missing(s)
    if pd.api.types.is_datetime64_any_dtype(s):
        parsed = s
    else:
        text = s.where(~missing, None)
        try:
            parsed = pd.to_datetime(text, utc=True, format="ISO8601" if not dayfirst else None, dayfirst=dayfirst)
        except (ValueError, TypeError):
            parsed = pd.to_datetime(text, utc=True, errors="coerce", format="mixed", dayfirst=dayfirst)
        bad = _first_bad(parsed.isna() & ~missing)
        if bad is not None:
            raise _bad(source, bad, col.name, s.iloc[bad], "a date-time such as 2024-05-31 or 2024-05-31T14:02:00Z")
    if getattr(parsed.dt, "tz", None) is not None:
        parsed = parsed.dt.tz_convert("UTC").dt.tz_localize(None)
    return parsed.astype("datetime64[us]")


def _to_number(s: pd.Series, col: Column, source: str, integer: bool) -> pd.Series:
    missing = _is_missing(s)
    if pd.api.types.is_bool_dtype(s):
        s = s.astype(int)
    if pd.api.types.is_numeric_dtype(s):
        num = pd.to_numeric(s, errors="coerce").astype("float64")
    else:
        num = pd.to_numeric(s.astype("string").str.strip(), errors="coerce").astype("float64")
    bad = _first_bad(num.isna() & ~missing)
    what = "a whole number" if integer else "a number"
    if bad is None:
        bad = _first_bad(~np.isfinite(num.fillna(0)))
    if bad is not None:
        raise _bad(source, bad, col.name, s.iloc[bad], what)
    if integer:
        bad = _first_bad((num != np.floor(num)) & ~missing)
        if bad is not None:
            raise _bad(source, bad, col.name, s.iloc[bad], what)
    if col.min is not None:
        bad = _first_bad(num < col.min)
        if bad is not None:
            raise _bad(source, bad, col.name, s.iloc[bad], f"{what} of at least {col.min:g}")
    if col.max is not None:
        bad = _first_bad(num > col.max)
        if bad is not None:
            raise _bad(source, bad, col.name, s.iloc[bad], f"{what} of at most {col.max:g}")
    return num.astype("Int64") if integer else num


def _to_json(s: pd.Series, col: Column, source: str) -> pd.Series:
    out: list[str | None] = []
    for i, v in enumerate(s.tolist()):
        if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA:
            out.append(None)
        elif isinstance(v, (dict, list)):
            out.append(json.dumps(v, ensure_ascii=False, default=str))
        else:
            text = str(v).strip()
            if not text:
                out.append(None)
                continue
            try:
                parsed = json.loads(text)
            except ValueError:
                raise _bad(source, i, col.name, v, 'a JSON object such as {"plan": "pro"}') from None
            if not isinstance(parsed, dict):
                raise _bad(source, i, col.name, v, 'a JSON object such as {"plan": "pro"}')
            out.append(json.dumps(parsed, ensure_ascii=False))
    return pd.Series(out, index=s.index, dtype=object)


def _fold_extras(frame: pd.DataFrame, table: Table, holder: str) -> pd.Series:
    """Pack columns that are not canonical into the table's JSON column."""
    extras = [c for c in frame.columns if c not in table.column_names]
    base = frame[holder] if holder in frame.columns else pd.Series([None] * len(frame), index=frame.index)
    if not extras:
        return base
    records = frame[extras].astype(object).where(frame[extras].notna(), None).to_dict("records")
    merged: list[Any] = []
    for b, extra in zip(base.tolist(), records, strict=True):
        extra = {k: (v.isoformat() if isinstance(v, pd.Timestamp) else v) for k, v in extra.items() if v is not None}
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


def _derive_keys(frame: pd.DataFrame, table: Table) -> pd.Series:
    cols = [c for c in table.derive_key_from if c in frame.columns]
    h = pd.util.hash_pandas_object(frame[cols].astype("string"), index=False)
    return pd.Series(
        [f"{table.name[:2]}_{v:016x}" for v in h.to_numpy(dtype=np.uint64)], index=frame.index, dtype=object
    )


def validate_frame(
    raw: pd.DataFrame,
    table: Table,
    *,
    source: str = "<frame>",
    dayfirst: bool = False,
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
        Read ambiguous dates such as 04/05/2024 as day first.

    Raises
    ------
    SchemaError
        On the first problem found, naming source, row, column, value and what was expected.
    """
    frame = raw.reset_index(drop=True)
    frame.columns = [str(c).strip() for c in frame.columns]
    key_cols = set(table.key)
    derivable = {k for k in key_cols if table.derive_key_from} | ({"item_id"} if table.name == "order_items" else set())
    missing = [c.name for c in table.columns if c.required and c.name not in frame.columns and c.name not in derivable]
    if missing:
        found = ", ".join(map(repr, frame.columns[:20])) or "none"
        raise SchemaError(
            f"{source} has no column {missing[0]!r}, which {table.name} requires; found columns {found}; "
            f"rename yours with --map {missing[0]}=YOUR_COLUMN"
        )
    holder = next((h for h in _EXTRA_HOLDERS if h in table.column_names), None)
    if holder is not None:
        frame[holder] = _fold_extras(frame, table, holder)

    out = pd.DataFrame(index=frame.index)
    for col in table.columns:
        if col.name not in frame.columns:
            out[col.name] = pd.Series([None] * len(frame), index=frame.index, dtype=object)
            if col.type == TIMESTAMP:
                out[col.name] = pd.Series(pd.NaT, index=frame.index, dtype="datetime64[us]")
            elif col.type in (FLOAT,):
                out[col.name] = np.nan
            elif col.type == INT:
                out[col.name] = pd.Series(pd.NA, index=frame.index, dtype="Int64")
            continue
        s = frame[col.name]
        if col.type == STRING:
            v = _to_string(s)
            if col.choices:
                low = v.map(lambda x: x.strip().lower() if isinstance(x, str) else x)
                bad = _first_bad(low.notna() & ~low.isin(col.choices))
                if bad is not None:
                    raise _bad(source, bad, col.name, s.iloc[bad], "one of " + ", ".join(col.choices))
                v = low.astype(object)
        elif col.type == TIMESTAMP:
            v = _to_timestamp(s, col, source, dayfirst)
        elif col.type in (FLOAT, INT):
            v = _to_number(s, col, source, integer=col.type == INT)
        elif col.type == JSON:
            v = _to_json(s, col, source)
        else:  # pragma: no cover - schema is static
            raise AssertionError(col.type)
        out[col.name] = v

    # keys that the source did not carry are derived from the row, so re-imports match
    for k in table.key:
        if k not in frame.columns:
            if k == "item_id":
                out[k] = (
                    out["product_id"].astype(str)
                    + "#"
                    + out.groupby(["order_id", "product_id"]).cumcount().add(1).astype(str)
                )
            else:
                out[k] = _derive_keys(out, table)

    for col in table.columns:
        if col.required:
            bad = _first_bad(out[col.name].isna())
            if bad is not None:
                raise _bad(source, bad, col.name, _EMPTY, f"a value ({table.name} requires {col.name})")

    if table.name == "feedback":
        _check_scores(out, source, frame)
    _check_duplicate_keys(out, table, source)
    return out


def _check_scores(out: pd.DataFrame, source: str, frame: pd.DataFrame) -> None:
    out["metric"] = out["metric"].str.strip().str.lower()
    for metric, (lo, hi) in SCORE_RANGES.items():
        rows = out["metric"].eq(metric)
        if not rows.any():
            continue
        sc = out["score"]
        bad = _first_bad(rows & ((sc < lo) | (sc > hi) | (sc != np.floor(sc))))
        if bad is not None:
            raise _bad(
                source, bad, "score", frame["score"].iloc[bad], f"a whole number {lo}-{hi} for metric '{metric}'"
            )


def _check_duplicate_keys(out: pd.DataFrame, table: Table, source: str) -> None:
    key = list(table.key)
    dup = out.duplicated(key, keep=False)
    if not dup.any():
        return
    # identical repeated rows are harmless (dropped on insert); conflicting ones are an error
    conflicting = out[dup].astype(str).drop_duplicates()
    counts = conflicting.groupby(key).size()
    clash = counts[counts > 1]
    if len(clash):
        kv = clash.index[0]
        kv = kv if isinstance(kv, tuple) else (kv,)
        where = out.index[(out[key].astype(str) == pd.Series(kv, index=key)).all(axis=1)].tolist()[:2]
        raise SchemaError(
            f"{source} rows {where[0] + 1} and {where[1] + 1} share {table.name} id "
            f"{', '.join(map(str, kv))!r} but differ; expected one row per id"
        )
