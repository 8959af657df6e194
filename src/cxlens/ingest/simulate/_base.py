"""Shared pieces of the demo-data generator: the calendar, vectorised string and JSON builders.

Everything works on whole numpy arrays. Times are int64 microseconds since the epoch (UTC) until
the very end, where they become ``datetime64[us]``; :data:`NAT` marks a missing time.
Strings are built with numpy's ``StringDType`` ufuncs and turned into Python ``str`` objects
once, so a 10-million-row id column costs seconds, not minutes.
"""

from __future__ import annotations

import json
from functools import reduce
from typing import Any

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

SDT = StringDType()

#: the simulated business runs from START to END (fixed dates, never "now")
START = np.datetime64("2025-01-01T00:00:00", "us")
END = np.datetime64("2026-06-30T23:59:59", "us")
T0 = int(START.astype(np.int64))
T1 = int(END.astype(np.int64))
US = 1_000_000
MINUTE = 60 * US
HOUR = 3600 * US
DAY = 86_400 * US
WEEK = 7 * DAY
NAT = np.iinfo(np.int64).min

#: channel codes shared by sessions, orders and events
WEB, APP, STORE = 0, 1, 2
CHANNELS = ["web", "mobile_app", "store"]


def s(values: Any) -> np.ndarray:
    """An array of numpy variable-width strings."""
    return np.asarray(values).astype(SDT)


def cat(*parts: Any) -> np.ndarray:
    """Element-wise concatenation of string arrays and scalars."""
    arrs = [p if isinstance(p, str) else s(p) for p in parts]
    return reduce(np.strings.add, arrs)


def ids(prefix: str, idx: np.ndarray, width: int) -> np.ndarray:
    """``prefix`` + zero-padded number, as numpy strings (``ids("C", [7], 4) -> "C0007"``)."""
    return np.strings.add(prefix, np.strings.zfill(s(np.asarray(idx, dtype=np.int64)), width))


def take(choices: list[Any], idx: np.ndarray) -> np.ndarray:
    """Object array picking ``choices[idx]`` (shared Python objects: cheap for categories)."""
    arr = np.empty(len(choices), dtype=object)
    arr[:] = choices
    return arr[np.asarray(idx, dtype=np.int64)]


def obj(values: np.ndarray, missing: np.ndarray | None = None) -> np.ndarray:
    """Python-object array (``str`` or ``None``) from numpy strings or an object array."""
    out = values if values.dtype == object else values.astype(object)
    if missing is not None and missing.any():
        out = out.copy()
        out[missing] = None
    return out


def col(values: np.ndarray) -> pd.Series:
    """A pandas object column (pandas 3 would otherwise infer its ``str`` dtype)."""
    return pd.Series(values, dtype=object, copy=False)


def times(us: np.ndarray) -> pd.Series:
    """int64 microseconds (``NAT`` for missing) as a naive-UTC ``datetime64[us]`` column."""
    return pd.Series(np.asarray(us, dtype=np.int64).view("datetime64[us]"), copy=False)


def group_rank(group: np.ndarray) -> np.ndarray:
    """Position of each row within its run of equal ``group`` values (``group`` sorted)."""
    n = len(group)
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    return np.arange(n) - np.repeat(starts, lengths)


def group_cumsum(values: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Cumulative sum of ``values`` within runs of equal ``group`` values (``group`` sorted)."""
    c = np.cumsum(values)
    n = len(group)
    if n == 0:
        return c
    starts = np.r_[0, np.flatnonzero(group[1:] != group[:-1]) + 1]
    lengths = np.diff(np.r_[starts, n])
    before = np.r_[0, c][starts]
    return c - np.repeat(before, lengths)


def choice(rng: np.random.Generator, n: int, probs: Any) -> np.ndarray:
    """``n`` category codes drawn with probabilities ``probs`` (vectorised, int64)."""
    p = np.asarray(probs, dtype=float)
    return np.searchsorted(np.cumsum(p / p.sum()), rng.random(n), side="right").clip(0, len(p) - 1)


def choice_rows(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    """One category code per row of a ``(n, k)`` probability matrix."""
    cum = np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)
    u = rng.random(len(probs))[:, None]
    return (u > cum).sum(axis=1).clip(0, probs.shape[1] - 1)


def json_field(
    key: str, values: np.ndarray | None = None, *, raw: np.ndarray | None = None, present: np.ndarray | None = None
) -> np.ndarray:
    """One ``"key": value`` fragment per row (empty where not ``present``).

    ``values`` are quoted as JSON strings (they must not need escaping: ids, codes); ``raw``
    is inserted as is (numbers, ``true``/``false``).
    """
    body = cat(f'"{key}": "', values, '"') if values is not None else cat(f'"{key}": ', raw)
    if present is not None:
        body = np.where(present, body, s(""))
    return body


def json_objects(*fragments: np.ndarray) -> np.ndarray:
    """Join fragments into JSON object text, byte-identical to ``json.dumps`` of the dict."""
    acc = fragments[0]
    for f in fragments[1:]:
        sep = np.where((np.strings.str_len(acc) > 0) & (np.strings.str_len(f) > 0), s(", "), s(""))
        acc = cat(acc, sep, f)
    return cat("{", acc, "}")


def frame(columns: dict[str, Any]) -> pd.DataFrame:
    """A DataFrame over the given columns without copying or consolidating them."""
    return pd.DataFrame(columns, copy=False)


def json_take(dicts: list[dict[str, Any]], idx: np.ndarray) -> np.ndarray:
    """Object array of ``json.dumps(dicts[idx])`` (few distinct values, shared strings)."""
    return take([json.dumps(d, ensure_ascii=False) for d in dicts], idx)


def json_bool(flag: np.ndarray) -> np.ndarray:
    return np.where(flag, s("true"), s("false"))


def minutes(rng: np.random.Generator, n: int, mean: float) -> np.ndarray:
    """Exponential durations with mean ``mean`` minutes, in microseconds."""
    return (rng.exponential(mean, n) * MINUTE).astype(np.int64)
