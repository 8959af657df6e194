"""Funnels: how many customers reach each step of an ordered sequence of events, within a window.

A funnel is a list of *steps* matched against the ``events`` table (by ``name``, or by
``touchpoint`` with ``step_field="touchpoint"``; a step may add column filters), a conversion
*window* (default 14 days), a step *order* (``sequential``, ``strict`` or ``any``), optional
*exclusion* steps and an optional breakdown ``by`` any events column or customers column.

The computation is pushed to the backend (DuckDB, Spark, …) as Ibis expressions built from
window functions (and ASOF joins on DuckDB), run in a few materialised stages; only the
per-(group, step) summary comes back to Python. The exact
semantics (and how equal timestamps are treated) are in ``docs/funnels.md``; in short, for the
default sequential order a customer reaches step *k* when there are events e1…ek matching steps
1…k with ``t(e1) < t(e2) < … < t(ek)`` (strictly: equal timestamps never advance the funnel) and
``t(ek) − t(e1) ≤ window``, over any choice of e1.

Examples
--------
>>> import cxlens, pandas as pd
>>> ws = cxlens.open(":memory:")
>>> rows = pd.DataFrame({
...     "customer_id": ["a", "a", "a", "b", "b"],
...     "ts": ["2024-05-01 10:00", "2024-05-01 10:05", "2024-05-02", "2024-05-01", "2024-06-01"],
...     "name": ["visit", "add_to_cart", "purchase", "visit", "add_to_cart"]})
>>> _ = ws.load("events", rows)
>>> f = funnel(ws.table("events"), ["visit", "add_to_cart", "purchase"], window="7d")
>>> f[["step", "event", "customers", "conversion", "step_conversion", "dropped"]]
   step        event  customers  conversion  step_conversion  dropped
0     1        visit          2         1.0              1.0        0
1     2  add_to_cart          1         0.5              0.5        1
2     3     purchase          1         0.5              1.0        0
"""

from __future__ import annotations

import datetime as dt
import json
import re
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir
import numpy as np
import pandas as pd

from cxlens.errors import ConfigError
from cxlens.journeys.numbering import SPLIT, customer_numbers, exact_quotient, gather, half_picks
from cxlens.journeys.sqlfns import duckdb_hash, epoch_us, second_hash, short_hashes_exact
from cxlens.schema.pii import check_dimensions as check_pii
from cxlens.schema.tables import TABLES
from cxlens.store import unordered_reads

__all__ = [
    "ORDERS",
    "FunnelQuery",
    "FunnelStep",
    "funnel",
    "parse_steps",
    "parse_window",
    "property_text",
    "where_text",
]

#: the step orders a funnel understands
ORDERS = ("sequential", "strict", "any")
#: breakdown attributions for events columns
ATTRIBUTIONS = ("first", "last")
DEFAULT_WINDOW = dt.timedelta(days=14)
EVENT_COLUMNS = tuple(TABLES["events"].column_names)
CUSTOMER = "customer"  # output column of per-customer expressions

_UNITS = {
    "s": 1, "sec": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
    "w": 7 * 86400, "week": 7 * 86400, "weeks": 7 * 86400,
    "mo": 30 * 86400, "month": 30 * 86400, "months": 30 * 86400,
}  # fmt: skip
_WINDOW_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]+)\s*$")


def parse_window(window: str | dt.timedelta | int | float | None) -> dt.timedelta:
    """A conversion window as a :class:`~datetime.timedelta`.

    Accepts a timedelta, a number of seconds, or ``<number><unit>`` with unit ``s``, ``m``
    (minutes), ``h``, ``d``, ``w`` or ``mo`` (a month counts as 30 days): ``"30m"``, ``"12h"``,
    ``"14d"``, ``"2w"``, ``"3mo"``. ``None`` means the default, 14 days.

    >>> parse_window("2w")
    datetime.timedelta(days=14)
    >>> parse_window("3mo").days
    90
    """
    if window is None:
        return DEFAULT_WINDOW
    if isinstance(window, dt.timedelta):
        td = window
    elif isinstance(window, (int, float)) and not isinstance(window, bool):
        td = dt.timedelta(seconds=window)
    elif isinstance(window, str):
        m = _WINDOW_RE.match(window.lower())
        if not m or m.group(2) not in _UNITS:
            raise ConfigError(
                f"funnel window {window!r} is not a duration; expected a number and a unit such as "
                "'30m', '12h', '14d', '2w' or '3mo'"
            )
        td = dt.timedelta(seconds=float(m.group(1)) * _UNITS[m.group(2)])
    else:
        raise ConfigError(f"funnel window {window!r} is not a duration; expected a string such as '14d' or a timedelta")
    if td <= dt.timedelta(0):
        raise ConfigError(f"funnel window {window!r} is not positive; expected a duration such as '14d'")
    return td


def parse_steps(text: str) -> list[Any]:
    """Steps written as ``"visit>add_to_cart>purchase"`` (``,`` and ``→`` also separate), or as a
    JSON list of names and ``{"name": ..., "where": {...}, "label": ...}`` objects.

    >>> parse_steps("visit > add_to_cart>purchase")
    ['visit', 'add_to_cart', 'purchase']
    >>> parse_steps('["visit", {"name": "purchase", "where": {"$browser": "Chrome"}}]')[1]["where"]
    {'$browser': 'Chrome'}
    """
    if text.lstrip().startswith("["):
        try:
            steps = json.loads(text)
        except ValueError as exc:
            raise ConfigError(f'funnel steps are not valid JSON ({exc}); expected a list such as ["a", "b"]') from None
        if not isinstance(steps, list) or not steps:
            raise ConfigError('funnel steps JSON must be a non-empty list of names or {"name", "where"} objects')
        for s in steps:
            FunnelStep.parse(s)  # errors name the step
        return steps
    parts = [p.strip() for p in re.split(r">|,|→", text)]
    if not text.strip() or any(not p for p in parts):
        raise ConfigError(f"funnel steps {text!r} have an empty step; expected names separated by '>' like 'a>b>c'")
    return parts


@dataclass(frozen=True)
class FunnelStep:
    """One funnel step (or exclusion): a value of ``field`` and/or column filters.

    ``where`` maps a column to a value or a list of values; a key that is not an events column
    is looked up in the ``properties`` JSON. Values are compared by their text (:func:`where_text`:
    ``95``, ``95.0`` and ``"95"`` are the same, ``true`` and ``"true"`` too); ``None`` matches a
    missing key or a JSON null.
    """

    value: str | None
    field: str = "name"
    where: tuple[tuple[str, Any], ...] = ()
    label: str | None = None
    #: for exclusions: the transitions i→i+1 (1-based, from_step ≤ i < to_step) they apply to
    from_step: int | None = None
    to_step: int | None = None

    @classmethod
    def parse(cls, spec: str | Mapping[str, Any] | FunnelStep, field: str = "name") -> FunnelStep:
        if isinstance(spec, FunnelStep):
            return spec
        if isinstance(spec, str):
            if not spec.strip():
                raise ConfigError("funnel step '' is empty; expected an event name such as 'purchase'")
            return cls(spec, field)
        if isinstance(spec, Mapping):
            unknown = set(spec) - {"name", "where", "label", "from_step", "to_step"}
            if unknown:
                raise ConfigError(
                    f"funnel step {dict(spec)!r} has unknown key {sorted(unknown)[0]!r}; "
                    "expected name, where, label, from_step or to_step"
                )
            where = spec.get("where") or {}
            if not isinstance(where, Mapping):
                raise ConfigError(f"funnel step {dict(spec)!r}: 'where' must map columns to values")
            if spec.get("name") is None and not where:
                raise ConfigError(f"funnel step {dict(spec)!r} matches every event; give it a 'name' or a 'where'")
            for k, v in where.items():
                if not isinstance(k, str) or not k:
                    raise ConfigError(f"funnel step {dict(spec)!r}: a 'where' key must be a non-empty text")
                for x in v if isinstance(v, (list, tuple, set)) else [v]:
                    if x is not None:
                        where_text(x, k)
            items = tuple(sorted((k, tuple(v) if isinstance(v, (list, tuple, set)) else v) for k, v in where.items()))
            return cls(spec.get("name"), field, items, spec.get("label"), spec.get("from_step"), spec.get("to_step"))
        raise ConfigError(f"funnel step {spec!r} is not a name or a dict; expected 'purchase' or {{'name': ...}}")

    @property
    def title(self) -> str:
        if self.label:
            return self.label

        def text(v: Any) -> str:
            return "null" if v is None else where_text(v)

        cond = ",".join(f"{k}={'|'.join(map(text, v)) if isinstance(v, tuple) else text(v)}" for k, v in self.where)
        base = self.value if self.value is not None else ""
        return f"{base}[{cond}]" if cond else str(base)

    def matches(self, events: ir.Table) -> ir.BooleanValue:
        """Boolean expression: does an events row match this step."""
        cols = set(events.columns)
        conds: list[ir.BooleanValue] = []
        if self.value is not None:
            conds.append(events[self.field] == self.value)
        for key, val in self.where:
            if key in cols:
                col = events[key]
                if col.type().is_string():
                    col, conv = col, where_text
                else:  # a typed column (revenue…): compare values of its own type
                    conv = _same
            elif "properties" in cols:
                col, conv = property_text(events, key), where_text
            else:
                raise ConfigError(f"funnel filter column {key!r} is not in events; expected one of {sorted(cols)}")
            vals = list(val) if isinstance(val, tuple) else [val]
            wanted = [conv(v) for v in vals if v is not None]
            cond = col.isin(wanted) if len(wanted) > 1 else (col == wanted[0]) if wanted else None
            if None in vals:
                cond = col.isnull() if cond is None else (col.isnull() | cond)
            conds.append(cond)
        out = conds[0]
        for c in conds[1:]:
            out = out & c
        return out.fill_null(False)

    def plain(self) -> bool:
        return not self.where and self.value is not None


#: the tie rules: "strict" (equal timestamps never advance; ClickHouse ``strict_increase``) or
#: "allow" (an event at the same timestamp may complete the next step; PostHog)
TIES = ("strict", "allow")
#: what time to convert is measured between: "chain" (along the customer's converting chain,
#: PostHog) or "first" (between the first moments each step was reached)
TIME_BASES = ("chain", "first")
_MAX_EXACT = 2**53


def where_text(value: Any, key: str = "value") -> str:
    """The text a ``where`` filter value is compared as (``docs/funnels.md``, "Property filters").

    Text as is; booleans ``"true"``/``"false"``; integers in decimal; a float with an integral
    value below 2**53 in magnitude as that integer (``95.0`` → ``"95"``), any other float in its
    shortest round-trip form (``95.5``, ``1e+16``).

    >>> [where_text(v) for v in ("95", 95, 95.0, 95.5, True)]
    ['95', '95', '95', '95.5', 'true']
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise ConfigError(f"funnel filter {key!r} is {value!r}; expected a finite number")
        if value.is_integer() and abs(value) < _MAX_EXACT:
            return str(int(value))
        return repr(value)
    if isinstance(value, str):
        return value
    raise ConfigError(
        f"funnel filter {key!r} is {value!r} ({type(value).__name__}); expected text, a number, true/false or null"
    )


def _json_pointer(parts: Sequence[str]) -> str:
    """An RFC 6901 JSON pointer (``~`` → ``~0``, ``/`` → ``~1``): any key, ``$``, dots and quotes included."""
    return "".join("/" + p.replace("~", "~0").replace("/", "~1") for p in parts)


@ibis.udf.scalar.builtin(name="json_type")
def _json_type(doc: str, path: str) -> str:
    """DuckDB's ``json_type(doc, path)``: VARCHAR, BIGINT, UBIGINT, DOUBLE, BOOLEAN, NULL, … (SQL null when absent)."""


@ibis.udf.scalar.builtin(name="json_extract_string")
def _json_extract_string(doc: str, path: str) -> str:
    """DuckDB's ``json_extract_string(doc, path)``."""


def _json_text_at(doc: ir.StringValue, path: str) -> ir.StringValue:
    """The comparison text of the JSON value at ``path`` (null when absent, JSON null, an array or an object)."""
    kind = _json_type(doc, path)
    raw = _json_extract_string(doc, path)
    num = raw.cast("float64")
    whole = (num == num.floor()) & (num.abs() < _MAX_EXACT)
    return ibis.cases(
        (kind.isin(["VARCHAR", "BOOLEAN", "BIGINT", "UBIGINT"]), raw),
        (kind == "DOUBLE", ibis.cases((whole, num.cast("int64").cast("string")), else_=num.cast("string"))),
        else_=ibis.null().cast("string"),
    )


@ibis.udf.scalar.builtin(name="try_parse_json")
def _spark_parse_json(doc: str) -> str:
    """Spark's ``try_parse_json(doc)``: a VARIANT (typed ``str`` here; only passed on), null when not JSON."""


@ibis.udf.scalar.builtin(name="variant_get")
def _spark_variant_at(variant: str, path: str) -> str:
    """Spark's ``variant_get(v, path)``: the VARIANT at ``path`` (only passed on)."""


@ibis.udf.scalar.builtin(name="schema_of_variant")
def _spark_variant_type(variant: str) -> str:
    """Spark's ``schema_of_variant(v)``: STRING, BOOLEAN, BIGINT, DECIMAL(p,s), DOUBLE, VOID, OBJECT<…>, …"""


@ibis.udf.scalar.builtin(name="variant_get")
def _spark_variant_text(variant: str, path: str, type: str) -> str:
    """Spark's ``variant_get(v, path, 'string')``."""


@ibis.udf.scalar.builtin(name="try_variant_get")
def _spark_variant_double(variant: str, path: str, type: str) -> float:
    """Spark's ``try_variant_get(v, path, 'double')``."""


def _spark_path(parts: Sequence[str], key: str) -> str:
    """A Spark variant path of bracketed names (``$['$browser']['a.b']``), so ``$``, dots and brackets
    are read literally; a name is quoted with ``'`` or, when it holds one, with ``"``."""
    out = "$"
    for p in parts:
        if "'" not in p:
            out += f"['{p}']"
        elif '"' not in p:
            out += f'["{p}"]'
        else:
            raise ConfigError(
                f"funnel filter key {key!r}: a key holding both ' and \" cannot be read on Spark (it can on DuckDB)"
            )
    return out


def _spark_text_at(variant: Any, path: str) -> ir.StringValue:
    """:func:`_json_text_at` on Spark, from the value's variant type: text, booleans and integers as
    written; a number with an integral value below 2**53 in magnitude as that integer; other
    numbers as Spark writes them; null for JSON null, arrays, objects and a missing key."""
    kind = _spark_variant_type(_spark_variant_at(variant, path))
    raw = _spark_variant_text(variant, path, "string")
    num = _spark_variant_double(variant, path, "double")
    whole = (num == num.floor()) & (num.abs() < _MAX_EXACT)
    return ibis.cases(
        (kind.isin(["STRING", "BOOLEAN", "BIGINT", "INT", "SMALLINT", "TINYINT"]), raw),
        (
            kind.startswith("DECIMAL") | kind.isin(["DOUBLE", "FLOAT"]),
            ibis.cases((whole, num.cast("int64").cast("string")), else_=raw),
        ),
        else_=ibis.null().cast("string"),
    )


def property_text(events: ir.Table, key: str) -> ir.StringValue:
    """The comparison text of ``properties[key]`` per row (DuckDB: a JSON pointer, Spark: a variant
    path of bracketed names, so ``$browser``, dotted keys and quotes are read literally; a dotted
    key that is not a top-level key is then read as a nested path: ``"a.b"`` →
    ``properties["a"]["b"]``)."""
    doc = events.properties.cast("string")
    backend = _backend_name(events)
    if backend == "pyspark":
        variant = _spark_parse_json(doc)
        literal = _spark_path([key], key)
        if "." not in key:
            return _spark_text_at(variant, literal)
        present = _spark_variant_type(_spark_variant_at(variant, literal)).notnull()
        nested = _spark_path(key.split("."), key)
        return ibis.cases((present, _spark_text_at(variant, literal)), else_=_spark_text_at(variant, nested))
    if backend != "duckdb":
        if any(c in key for c in "$.'\"\\[]*"):
            raise ConfigError(
                f"funnel filter key {key!r}: keys with $, dots, quotes or brackets are read on DuckDB and Spark only"
            )
        return events.properties.cast("json")[key].unwrap_as("string")
    literal = _json_pointer([key])
    if "." not in key:
        return _json_text_at(doc, literal)
    nested = _json_pointer(key.split("."))
    return ibis.cases(
        (_json_type(doc, literal).notnull(), _json_text_at(doc, literal)), else_=_json_text_at(doc, nested)
    )


def _same(value: Any, key: str = "value") -> Any:
    return value


def _interval(td: dt.timedelta) -> ir.IntervalScalar:
    us = round(td.total_seconds() * 1_000_000)
    if us % 1_000_000 == 0:
        return ibis.interval(seconds=us // 1_000_000)
    return ibis.interval(microseconds=us)


#: use the sorted-scan path for the common funnel on DuckDB (tests switch it off to fuzz the passes)
FAST_SCAN = True

#: time units tried for the sorted scan's packed key, coarsest first: whole seconds, milliseconds,
#: microseconds (a coarser unit leaves more bits for the customer number); each is ``2**a · d`` with
#: ``d`` odd, so that division is a shift and a multiplication by ``d``'s inverse modulo 2**64
_KEY_UNITS = (1_000_000, 1_000, 1)


def _packed_keys(
    h: np.ndarray, h2: np.ndarray, t: np.ndarray, s7: np.ndarray
) -> tuple[np.ndarray, int, int, int] | None:
    """The step rows as one sorted ``int64`` each: ``customer << shift | t << 3 | (7 − step)``.

    ``h`` and ``h2`` are two independent 64-bit hashes of each row's customer id, ``t`` its time
    in microseconds (``int64``) and ``s7`` its ``7 − step`` (``uint8``); ``h2`` and ``t`` are used
    as scratch. Times are counted from the earliest ``t0`` in the coarsest unit of
    :data:`_KEY_UNITS` that divides all of them; the customer number
    (:func:`~cxlens.journeys.numbering.customer_numbers`) takes the bits left. Returns ``(sorted keys, shift, unit, t0)``, or None when two ids share a
    hash or the numbers do not fit (the caller then sorts by the text id)."""
    t0 = int(t.min())
    t -= t0
    unit = next(u for u in _KEY_UNITS if exact_quotient(t, u))
    shift = int(t.max()).bit_length() + 3
    key = customer_numbers(h, h2, 63 - shift)
    if key is None:
        return None
    key <<= shift
    t <<= 3
    key |= t
    np.bitwise_or(key, s7, out=key)  # the step: widened from one byte as it is or-ed in
    key.sort()
    return key, shift, unit, t0


def _step_deltas(
    k: int,
    r_k: np.ndarray,
    chain_prev: np.ndarray | None,
    keys_k: np.ndarray,
    reach_first: dict[int, tuple[np.ndarray, np.ndarray]],
) -> np.ndarray:
    """Seconds to step ``k``, one per customer reaching it, for the sorted scans: from the chain's
    step-(k−1) moment (``chain_prev``, whole seconds) with ``time_basis="chain"``, else (None) from
    the customer's first moment at step k−1 (``reach_first``: sorted customer keys and their first
    whole seconds per step; ``keys_k`` those reaching ``k``, ``r_k`` their first moment at k)."""
    if chain_prev is not None:  # time_basis "chain"
        return r_k - chain_prev
    pk, pr = reach_first[k - 1]  # every customer reaching k reached k−1
    return r_k - pr[np.searchsorted(pk, keys_k)]


def _time_columns(out: dict[str, Any], k: int, d: np.ndarray) -> None:
    """``median_seconds_k`` and ``p90_seconds_k`` (linear interpolation) of the seconds ``d`` into
    ``out``; NaN when nobody reached step ``k``."""
    d = d.astype("float64")
    med, p90 = (float(x) for x in np.quantile(d, [0.5, 0.9])) if len(d) else (np.nan, np.nan)
    out[f"median_seconds_{k}"], out[f"p90_seconds_{k}"] = [med], [p90]


def _quantiles(k: int, parts: list[np.ndarray]) -> dict[str, list[float]]:
    """:func:`_time_columns` of step ``k`` over the seconds of several parts (disjoint customers)."""
    out: dict[str, list[float]] = {}
    _time_columns(out, k, np.concatenate(parts))
    return out


#: the chain value standing for "no chain row before": below every packed key (keys are ≥ 0), so
#: its customer bits are nobody's and a key minus it is at least 2**63 as unsigned
_NO_CHAIN = np.iinfo(np.int64).min


def _with_no_chain(n: int) -> np.ndarray:
    """An ``int64`` array of ``n + 1`` values whose first is :data:`_NO_CHAIN` (the rest to fill)."""
    out = np.empty(n + 1, np.int64)
    out[0] = _NO_CHAIN
    return out


def _latest_before(count: np.ndarray, pos: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """For each of the sorted positions ``cur`` (none of them in ``pos``), how many of the sorted
    positions ``pos`` lie before it: the 1-based index of the latest one, 0 when there is none.

    A running count of the ``pos`` rows over all rows (``count``, a scratch array as long as the
    rows, overwritten), read at ``cur``: at 6M rows a quarter of the time of a binary search per
    position (``np.searchsorted(pos, cur)``)."""
    count.fill(0)
    count[pos] = 1
    np.cumsum(count, out=count)
    return count[cur]


def _firsts(values: np.ndarray, shift: int) -> np.ndarray:
    """Of packed values (``customer << shift | …``, ≥ 0) in sorted order: the index of each
    customer's first."""
    first = np.empty(len(values), bool)
    first[:1] = True
    np.greater_equal(values[1:] ^ values[:-1], 1 << shift, out=first[1:])
    return np.flatnonzero(first)


def _half_rows(columns: Sequence[list[np.ndarray]], lower: bool) -> list[np.ndarray]:
    """The rows of the customers whose first hash (the first column, ``uint64``) is below
    :data:`_SPLIT` (``lower``) or not, of each column, gathered from the columns' chunks
    (:func:`~cxlens.journeys.numbering.half_picks`, :func:`~cxlens.journeys.numbering.gather`)."""
    picks = half_picks(columns[0], lower, _SPLIT)
    return [gather(chunks, picks) for chunks in columns]


#: the packed scan's split of the customers into two halves (:data:`~cxlens.journeys.numbering.SPLIT`)
_SPLIT = SPLIT


def _by_halves(pool: ThreadPoolExecutor, work: Callable[[bool], Any]) -> list[Any]:
    """``[work(True), work(False)]`` (the lower and the upper half), run in the two threads of ``pool``."""
    futures = [pool.submit(work, lower) for lower in (True, False)]
    return [f.result() for f in futures]


@ibis.udf.scalar.builtin(name="xxhash64")
def _spark_xxhash64(value: str) -> idt.int64:
    """Spark's 64-bit ``xxhash64`` (its ``hash`` is only 32 bits)."""


def _hash_key(events: ir.Table, cid: ir.StringValue) -> ir.IntegerValue:
    """A 64-bit integer hash of the customer id on the events' backend (collisions are checked
    by the caller)."""
    try:
        name = events._find_backend().name
    except Exception:  # noqa: BLE001 - unbound tables: the portable hash
        name = ""
    if name == "duckdb":
        return duckdb_hash(cid)
    if name == "pyspark":
        return _spark_xxhash64(cid)
    return cid.hash()


#: backends on which sequential passes after the first use an ASOF join instead of a window
ASOF_BACKENDS = {"duckdb"}


def _backend_name(table: ir.Table) -> str:
    try:
        return table._find_backend().name
    except Exception:  # noqa: BLE001 - unbound tables
        return ""


def _any(conds: list[ir.BooleanValue]) -> ir.BooleanValue:
    out = conds[0]
    for c in conds[1:]:
        out = out | c
    return out


@dataclass
class FunnelQuery:
    """A funnel definition; :meth:`run` computes it on an ``events`` table of any Ibis backend.

    Parameters
    ----------
    steps
        Event names (or touchpoints with ``step_field="touchpoint"``), or dicts
        ``{"name": ..., "where": {column: value | [values]}, "label": ...}``.
    window
        Conversion window from the step-1 event: ``"30m"``, ``"12h"``, ``"14d"`` (default),
        ``"2w"``, ``"3mo"`` or a timedelta.
    order
        ``"sequential"`` (other events may happen between steps), ``"strict"`` (each step at the
        customer's very next moment) or ``"any"`` (all steps within the window, any order).
    exclude
        Steps that must not happen between two consecutive funnel steps (sequential order only);
        a dict may restrict one to transitions ``from_step`` … ``to_step`` (1-based).
    by
        Breakdown column(s): events columns (attributed per ``attribution``) or, when
        ``customers`` is given, customers columns.
    times
        Also compute median and p90 seconds from the previous step (a few more aggregates in
        the final query).
    attribution
        For events-column breakdowns: ``"first"`` (default; the value on the customer's first
        step-1 event) or ``"last"`` (the value on the event that completed the furthest step
        they reached, at the first moment they reached it). Ties at that moment: the smallest
        non-null value. See ``docs/funnels.md``.
    materialize
        Execute in stages with intermediate tables (``Table.cache()``; the default, much faster)
        rather than as one expression. Results are identical.
    ties
        ``"strict"`` (default; ClickHouse ``windowFunnel`` with ``strict_increase``): events at the
        same timestamp never advance the funnel. ``"allow"`` (PostHog): an event at the same
        timestamp as the previous chain event may complete the next step (events at one
        timestamp are taken in funnel-step order; each event completes one step of a chain).
        Sequential order only (``any`` order always allows ties).
    time_basis
        ``"chain"`` (default; PostHog): time to convert to step k is measured from the
        step-(k−1) event of the customer's converting chain (so for step 2, from the step-1
        event that starts the chain, not the customer's first step-1 event). ``"first"``: between
        the first moments each step was reached (``R_k − R_{k−1}``; ``any`` order always uses it).
    """

    steps: Sequence[str | Mapping[str, Any]]
    window: str | dt.timedelta | None = "14d"
    order: str = "sequential"
    exclude: Sequence[str | Mapping[str, Any]] | None = None
    by: str | Sequence[str] | None = None
    step_field: str = "name"
    customers: ir.Table | None = None
    times: bool = True
    attribution: str = "first"
    materialize: bool = True
    ties: str = "strict"
    time_basis: str = "chain"
    _steps: list[FunnelStep] = field(init=False, repr=False)
    _exclude: list[FunnelStep] = field(init=False, repr=False)
    _window: dt.timedelta = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if isinstance(self.steps, str):
            self.steps = parse_steps(self.steps)
        if not self.steps:
            raise ConfigError("funnel has no steps; expected at least one event name such as 'visit'")
        if self.attribution not in ATTRIBUTIONS:
            raise ConfigError(
                f"funnel attribution {self.attribution!r} is unknown; expected one of {', '.join(ATTRIBUTIONS)}"
            )
        if self.order not in ORDERS:
            raise ConfigError(f"funnel order {self.order!r} is unknown; expected one of {', '.join(ORDERS)}")
        self._steps = [FunnelStep.parse(s, self.step_field) for s in self.steps]
        self._exclude = [FunnelStep.parse(s, self.step_field) for s in (self.exclude or [])]
        if self._exclude and self.order != "sequential":
            raise ConfigError(
                f"exclusion steps need order 'sequential', not {self.order!r}; drop 'exclude' or use sequential"
            )
        n = len(self._steps)
        for x in self._exclude:
            lo, hi = x.from_step or 1, x.to_step or n
            if not (1 <= lo < hi <= n):
                raise ConfigError(
                    f"exclusion {x.title!r} covers steps {lo}..{hi}; expected 1 <= from_step < to_step <= {n}"
                )
        self._window = parse_window(self.window)
        if self.ties not in TIES:
            raise ConfigError(f"funnel ties {self.ties!r} is unknown; expected one of {', '.join(TIES)}")
        if self.time_basis not in TIME_BASES:
            raise ConfigError(
                f"funnel time_basis {self.time_basis!r} is unknown; expected one of {', '.join(TIME_BASES)}"
            )
        if self.ties == "allow" and self.order == "strict":
            raise ConfigError(
                "funnel ties 'allow' needs order 'sequential' or 'any'; use ties='strict' with strict order"
            )
        if self.ties == "allow" and self._exclude:
            raise ConfigError("funnel ties 'allow' cannot be combined with exclusions yet; use ties='strict'")
        self.by = [self.by] if isinstance(self.by, str) else list(self.by or [])
        # personal data (customers.email, traits.phone…) is never a breakdown for a masked caller
        check_pii(self.by, fact_columns=EVENT_COLUMNS, param="by", what="a funnel")

    # -- building blocks ---------------------------------------------------------------------
    @property
    def labels(self) -> list[str]:
        return [s.title for s in self._steps]

    def _base(self, events: ir.Table, hashed: bool = False) -> ir.Table:
        """Events matching a step or an exclusion (every event for strict order), read once:
        ``_cid`` (customer id, text), ``_key`` (the partition key: a 64-bit hash of ``_cid`` when
        ``hashed``, else ``_cid`` itself), ``ts``, one boolean column per step / exclusion
        transition and the events breakdown columns ``_by0`` …"""
        cols = set(events.columns)
        if self.step_field not in cols:
            raise ConfigError(
                f"funnel step field {self.step_field!r} is not an events column; use 'name' or 'touchpoint'"
            )
        n = len(self._steps)
        if self.order != "strict":  # strict needs every event: any event breaks a chain
            # only events matching a step or an exclusion matter; a plain name list is a fast IN
            specs = self._steps + self._exclude
            plain = [s.value for s in specs if s.plain() and s.field == self.step_field]
            if len(plain) == len(specs):
                events = events.filter(events[self.step_field].isin(sorted(set(plain))))
            else:
                events = events.filter(_any([s.matches(events) for s in specs]))
        flags = {f"_s{i}": s.matches(events) for i, s in enumerate(self._steps, 1)}
        for i in range(1, n):
            xs = [x for x in self._exclude if (x.from_step or 1) <= i < (x.to_step or n)]
            if xs:
                flags[f"_x{i}"] = _any([x.matches(events) for x in xs])
        cid = events.customer_id
        if "anonymous_id" in cols:
            cid = ibis.coalesce(events.customer_id, events.anonymous_id)
        keep = [events[c] for c in self.by if c in cols]
        key = _hash_key(events, cid) if hashed else cid
        extra = {"_eid": events.event_id} if self._allow and "event_id" in cols else {}
        base = events.select(
            _cid=cid, _key=key, ts=events.ts, **flags, **{f"_by{j}": c for j, c in enumerate(keep)}, **extra
        )
        base = base.filter(base._cid.notnull(), base.ts.notnull())
        if self._allow:
            # ties allowed: one total order of each customer's events, by time, then by the first
            # funnel step an event matches, then by event id; a chain follows this order
            first_step = ibis.cases(*[(base[f"_s{i}"], ibis.literal(i, "int16")) for i in range(1, n + 1)], else_=0)
            order = [base.ts, first_step] + ([base._eid] if extra else [])
            base = base.mutate(_ord=ibis.row_number().over(ibis.window(group_by=base._key, order_by=order)))
        return base

    @property
    def _allow(self) -> bool:
        """Sequential order with ties allowed (the only order where the tie rule changes anything)."""
        return self.ties == "allow" and self.order == "sequential"

    @property
    def _chain_times(self) -> bool:
        return self.times and self.time_basis == "chain" and self.order != "any"

    def _moments(self, base: ir.Table, i: int | str, extra: Sequence[str] = (), distinct: bool = True) -> ir.Table:
        """(customer key, ts) moments at which step ``i`` (or flag column ``i``) happened."""
        col = i if isinstance(i, str) else f"_s{i}"
        out = base.filter(base[col]).select("_key", "ts", *extra)
        return out.distinct() if distinct else out

    def _reach_sequential(self, base: ir.Table, keep: Any) -> list[ir.Table]:
        """Chains ending at each step k: ``_key``, ``ts`` (of the step-k event), ``_start`` (the
        latest start of a valid chain ending there), ``_pts`` (the time of the step-(k−1) event
        of that chain: the latest one with that start) and, with ties allowed, ``_ord``."""
        n, win = len(self._steps), _interval(self._window)
        null_ts = ibis.null().cast(base.ts.type())
        allow = self._allow
        oc = ["_ord"] if allow else []
        # duplicates at one moment are harmless here (the tie order handles them), so no DISTINCT
        valid = self._moments(base, 1, oc, distinct=False).mutate(_start=lambda t: t.ts, _pts=null_ts)
        out = [valid]
        asof = not self._exclude and _backend_name(base) in ASOF_BACKENDS
        for k in range(2, n + 1):
            if asof:
                # Without exclusions the chain starts are non-decreasing in time per customer
                # (the running max only grows), so the best chain strictly before a step-k event
                # is simply the latest one: an ASOF join, cheaper on DuckDB than a window pass.
                # With ties allowed "before" is in the customers' total event order (_ord).
                cur = self._moments(base, k, oc, distinct=False)
                prev = valid.select(
                    _pkey=valid._key, _pts=valid.ts, _pstart=valid._start, **({"_pord": valid._ord} if allow else {})
                )
                on = cur._ord > prev._pord if allow else cur.ts > prev._pts
                j = cur.asof_join(prev, on=on, predicates=[cur._key == prev._pkey])
                j = j.filter(j._pstart.notnull(), j.ts <= j._pstart + win)
                valid = keep(j.select("_key", "ts", *oc, _start=j._pstart, _pts=j._pts))
                out.append(valid)
                continue
            # _o orders rows at equal ts (or, ties allowed, at one event): current-step rows (0)
            # before exclusions (1) before the previous step's chains (2), so a chain can only
            # extend to a strictly later moment (ties allowed: a later event).
            parts = [
                valid.select("_key", "ts", *oc, "_start", _o=ibis.literal(2, "int8")),
                self._moments(base, k, oc, distinct=False).select(
                    "_key", "ts", *oc, _start=null_ts, _o=ibis.literal(0, "int8")
                ),
            ]
            xcol = f"_x{k - 1}"
            if xcol in base.columns:
                parts.append(
                    self._moments(base, xcol, distinct=False).select(
                        "_key", "ts", _start=null_ts, _o=ibis.literal(1, "int8")
                    )
                )
            u = ibis.union(*parts, distinct=False)
            seg = xcol in base.columns
            order = ["_ord", "_o"] if allow else ["ts", "_o"]

            if seg:
                # segment = exclusions so far; a chain never crosses a segment boundary
                w = ibis.window(group_by="_key", order_by=order, rows=(None, 0))
                u = u.mutate(_seg=(u._o == 1).cast("int64").sum().over(w))
            # a current-step row has no start of its own, so the running max up to and including it
            # is the best start among the chains strictly before it
            running = ibis.window(group_by=["_key", "_seg"] if seg else ["_key"], order_by=order, rows=(None, 0))
            w = running
            u = u.mutate(
                _best=u._start.max().over(w),
                _prev=u._o.lag().over(w),
                _next=u._o.lead().over(w),
                _nts=u.ts.lead().over(w),
                _top=(u._o == 2) & (u._start >= u._start.max().over(w)),
            )
            # the latest chain row holding the running best start: a chain row holds the best
            # start of every later row up to the next one that raises it (starts only grow)
            u = u.mutate(_pts=ibis.cases((u._top, u.ts)).max().over(running))
            ok = (u._o == 0) & u._best.notnull() & (u.ts <= u._best + win)
            if not self._exclude:
                # pruning: in a run of step-k rows (no chain row in between) all have the same best
                # start; only the first (it gives the first moment step k is reached) and the last
                # valid one (the latest chain end, for time to convert) matter. (With exclusions a
                # later row may escape an exclusion the earlier one cannot.)
                last = u._next.isnull() | (u._next != 0) | (u._nts > u._best + win)
                ok = ok & (u._prev.isnull() | (u._prev != 0) | last)
            valid = keep(u.filter(ok).select("_key", "ts", *oc, _start=u._best, _pts=u._pts))
            out.append(valid)
        return out

    def _reach_strict(self, base: ir.Table, keep: Any) -> list[ir.Table]:
        n, win = len(self._steps), _interval(self._window)
        ranked = base.mutate(_r=ibis.dense_rank().over(ibis.window(group_by=base._key, order_by=base.ts)))
        ranked = keep(ranked.filter(_any([ranked[f"_s{i}"] for i in range(1, n + 1)])))
        valid = self._moments(ranked, 1, ["_r"]).mutate(_start=lambda t: t.ts, _pts=ibis.null().cast(base.ts.type()))
        out = [valid]
        for k in range(2, n + 1):
            cur = self._moments(ranked, k, ["_r"])
            prev = valid.select(_pkey="_key", _pr="_r", _pstart="_start", _pts="ts")
            j = cur.join(prev, [cur._key == prev._pkey, cur._r == prev._pr + 1])
            j = j.filter(j.ts <= j._pstart + win)
            valid = keep(j.select("_key", "ts", "_r", "_pts", _start="_pstart"))
            out.append(valid)
        return out

    def _reach_any(self, base: ir.Table, keep: Any) -> list[ir.Table]:
        n, win = len(self._steps), _interval(self._window)
        m = base.group_by(["_key", "ts"]).aggregate(
            **{f"_f{i}": base[f"_s{i}"].cast("int8").max() for i in range(1, n + 1)}
        )
        w = ibis.window(group_by=m._key, order_by=ibis.desc(m.ts), rows=(None, 0))
        # _n{i}: the first moment at or after this one where step i happens
        m = keep(m.mutate(**{f"_n{i}": ibis.cases((m[f"_f{i}"] == 1, m.ts)).min().over(w) for i in range(1, n + 1)}))
        out = []
        for k in range(1, n + 1):
            nexts = [m[f"_n{i}"] for i in range(1, k + 1)]
            done = nexts[0] if k == 1 else ibis.greatest(*nexts)
            ok = done.notnull() & (done <= m.ts + win)
            for c in nexts:
                ok = ok & c.notnull()
            out.append(m.filter(ok).select("_key", ts=done))
        return out

    @contextmanager
    def _computed(
        self, events: ir.Table, materialize: bool | None = None
    ) -> Iterator[tuple[ir.Table, ir.Table, ir.Table]]:
        """``(base, ids, wide)``: the prepared events (:meth:`_base`), ``_key`` → ``_cid`` for
        every customer in them, and one row per customer key who did step 1 with ``reached_1`` …
        ``reached_n`` (the first moment each step was reached, null when never).

        Materialised (``Table.cache()``: DuckDB temp tables, Spark persisted frames) the events
        are filtered once with a 64-bit hash key, one group-by lists the customers with their
        first step-1 moment and checks the hash for collisions (on a collision the text id is
        the key), and every pass's chains are computed once; the cached tables are released on
        exit, so use the yielded expressions inside the ``with`` only. Not materialised, all are
        plain expressions over ``events`` keyed by the text id."""
        materialize = self.materialize if materialize is None else materialize
        cached: list[ir.Table] = []

        def keep(t: ir.Table) -> ir.Table:
            if not materialize:
                return t
            t = t.cache()
            cached.append(t)
            return t

        def customers(base: ir.Table) -> ir.Table:
            # one row per (key, id); R_1, the first step-1 moment, is the same in every order
            return base.group_by(["_key", "_cid"]).aggregate(_r1=base.ts.min(where=base._s1))

        try:
            base = self._base(events, hashed=materialize)
            base = keep(base)
            ids = keep(customers(base))
            if materialize:
                # the hash is injective on these ids iff it has as many distinct values as they do
                stats = ids.aggregate(c=ids.count(), k=ids._key.nunique()).to_pandas()
                if int(stats["k"].iloc[0]) != int(stats["c"].iloc[0]):  # a collision: key by the text id
                    base = base.mutate(_key=base._cid)
                    ids = keep(customers(base))
            reach = {"sequential": self._reach_sequential, "strict": self._reach_strict, "any": self._reach_any}[
                self.order
            ](base, keep)
            n = len(reach)
            firsts = ids.filter(ids._r1.notnull())
            wide = firsts.select("_key", reached_1=firsts._r1)
            if n > 1:
                # steps 2..n: one group-by over the chains; step 1 comes from the customers table
                chain = self._chain_times
                cols = ["_key", "ts"] + (["_pts"] if chain else []) + (["_ord"] if chain and self._allow else [])
                long = ibis.union(
                    *[r.select(*cols, _k=ibis.literal(k, "int8")) for k, r in enumerate(reach[1:], 2)],
                    distinct=False,
                )
                aggs = {f"reached_{k}": long.ts.min(where=long._k == k) for k in range(2, n + 1)}
                if chain:
                    # the converting chain's previous-step time, on the first chain end of step k
                    # (all chain ends at that moment share it; ties allowed: the first in order)
                    first = long._ord if self._allow else long.ts
                    aggs |= {f"_prev_{k}": long._pts.argmin(first, where=long._k == k) for k in range(2, n + 1)}
                rest = long.group_by(_rkey=long._key).aggregate(**aggs)
                wide = wide.left_join(rest, wide._key == rest._rkey).drop("_rkey")
            yield base, ids.select("_key", "_cid"), wide
        finally:
            for t in cached:
                try:
                    t.release()
                except Exception:  # noqa: BLE001 - releasing a temp table must never mask a result
                    pass

    def _touch(self, base: ir.Table, wide: ir.Table) -> ir.Table:
        """Per customer key: ``_tts`` and ``_tstep``, the moment and step whose event carries
        the breakdown values (first touch: step 1 at ``reached_1``; last touch: the last step
        reached, at the first moment it was reached)."""
        n = len(self._steps)
        if self.attribution == "first" or n == 1:
            return wide.select(_tkey=wide._key, _tts=wide.reached_1, _tstep=ibis.literal(1, "int8"))
        last = ibis.cases(
            *[(wide[f"reached_{k}"].notnull(), ibis.literal(k, "int8")) for k in range(n, 1, -1)],
            else_=ibis.literal(1, "int8"),
        )
        at = ibis.coalesce(*[wide[f"reached_{k}"] for k in range(n, 0, -1)])
        return wide.select(_tkey=wide._key, _tts=at, _tstep=last)

    def _groups(
        self, events: ir.Table, base: ir.Table, ids: ir.Table, wide: ir.Table
    ) -> tuple[ir.Table | None, list[str]]:
        """Per customer key: the breakdown values (events columns by attribution, or customers columns)."""
        if not self.by:
            return None, []
        ev_cols = set(events.columns)
        ev_by = [b for b in self.by if b in ev_cols]
        cu_by = [b for b in self.by if b not in ev_cols]
        groups = None
        if ev_by:
            touch = self._touch(base, wide)
            j = base.join(touch, [base._key == touch._tkey, base.ts == touch._tts])

            # the events completing step m at that moment: step m's (in `any` order any of 1..m)
            def completes(k: int) -> ir.BooleanValue:
                return _any([j[f"_s{i}"] for i in range(1, k + 1)]) if self.order == "any" else j[f"_s{k}"]

            step_ok = ibis.cases(*[(j._tstep == k, completes(k)) for k in range(1, len(self._steps) + 1)], else_=False)
            j = j.filter(step_ok)
            # ties at that moment: the smallest non-null value (per column)
            groups = j.group_by("_key").aggregate(**{b: j[f"_by{i}"].min() for i, b in enumerate(ev_by)})
        if cu_by:
            cust = self.customers
            missing = [b for b in cu_by if cust is None or b not in cust.columns]
            if missing:
                where = "events" if cust is None else "events or customers"
                raise ConfigError(
                    f"funnel breakdown column {missing[0]!r} is not in {where}; expected an events column "
                    "(channel, touchpoint, …) or pass customers= for customers columns (segment, plan, …)"
                )
            cust = cust.select(_ccid=cust.customer_id, **{b: cust[b] for b in cu_by})
            ids = self._ids(ids, wide)
            if groups is None:
                groups = ids.select("_key")
            ids = ids.left_join(cust, ids._cid == cust._ccid).select("_key", *cu_by)
            groups = groups.join(ids, "_key")
        return groups, list(self.by)

    @staticmethod
    def _ids(ids: ir.Table, wide: ir.Table) -> ir.Table:
        """``_key`` → ``_cid`` for the customers in ``wide`` (one id per key)."""
        keys = wide.select(_wkey=wide._key)
        return ids.join(keys, ids._key == keys._wkey).select("_key", "_cid")

    def _customer_wide(self, events: ir.Table, base: ir.Table, ids: ir.Table, wide: ir.Table) -> ir.Table:
        n = len(self._steps)
        groups, by = self._groups(events, base, ids, wide)
        if groups is not None:
            wide = wide.join(groups, "_key")
        ids = self._ids(ids, wide)
        wide = wide.join(ids, "_key")
        return wide.select(
            **{CUSTOMER: wide._cid},
            **{b: wide[b] for b in by},
            **{f"reached_{k}": wide[f"reached_{k}"] for k in range(1, n + 1)},
        )

    def _summary(self, events: ir.Table, base: ir.Table, ids: ir.Table, wide: ir.Table) -> ir.Table:
        """One row per breakdown group: ``customers_k`` and, with ``times``, ``median_seconds_k``
        and ``p90_seconds_k``."""
        groups, by = self._groups(events, base, ids, wide)
        cr = wide.join(groups, "_key") if groups is not None else wide
        aggs: dict[str, Any] = {}
        for k in range(1, len(self._steps) + 1):
            aggs[f"customers_{k}"] = cr[f"reached_{k}"].count()
            if self.times and k > 1:
                since = cr[f"_prev_{k}"] if self._chain_times else cr[f"reached_{k - 1}"]
                secs = (cr[f"reached_{k}"].epoch_seconds() - since.epoch_seconds()).cast("float64")
                aggs[f"median_seconds_{k}"] = secs.quantile(0.5)
                aggs[f"p90_seconds_{k}"] = secs.quantile(0.9)
        return cr.group_by(by).aggregate(**aggs) if by else cr.aggregate(**aggs)

    # -- public ------------------------------------------------------------------------------
    def customer_reach(self, events: ir.Table) -> ir.Table:
        """Per customer who did step 1 (an expression over ``events``): ``customer``, breakdown
        columns and ``reached_1`` … ``reached_n``, the first moment each step was reached (null
        when never)."""
        with self._computed(events, materialize=False) as (base, ids, wide):
            return self._customer_wide(events, base, ids, wide)

    def to_expr(self, events: ir.Table) -> ir.Table:
        """The backend expression (not materialised): one row per breakdown group with
        ``customers_k`` (reached step k) and, with ``times``, ``median_seconds_k`` and
        ``p90_seconds_k`` for k ≥ 2. :meth:`run` computes the same, faster."""
        with self._computed(events, materialize=False) as (base, ids, wide):
            return self._summary(events, base, ids, wide)

    def _dropped(
        self, events: ir.Table, base: ir.Table, ids: ir.Table, wide: ir.Table, step: int, last_event: bool
    ) -> ir.Table:
        cr = self._customer_wide(events, base, ids, wide)
        cr = cr.filter(cr[f"reached_{step}"].notnull(), cr[f"reached_{step + 1}"].isnull())
        out = cr.select(
            customer_id=cr[CUSTOMER],
            reached_step=ibis.literal(step, "int64"),
            reached_at=cr[f"reached_{step}"],
            **{b: cr[b] for b in self.by},
        )
        if last_event:
            cid = events.customer_id
            if "anonymous_id" in events.columns:
                cid = ibis.coalesce(events.customer_id, events.anonymous_id)
            ev = events.select(_ecid=cid, _ets=events.ts, _ename=events[self.step_field])
            j = out.select(_dcid=out.customer_id, _dat=out.reached_at)
            j = ev.join(j, [ev._ecid == j._dcid, ev._ets > j._dat])
            lastt = j.group_by("_ecid").aggregate(last_event_at=j._ets.max())
            j2 = j.join(lastt, [j._ecid == lastt._ecid, j._ets == lastt.last_event_at])
            lastn = j2.group_by(_lcid=j2._ecid).aggregate(
                last_event_at=j2.last_event_at.max(), last_event=j2._ename.max()
            )
            out = out.left_join(lastn, out.customer_id == lastn._lcid).drop("_lcid")
        return out

    def dropped_customers(self, events: ir.Table, step: int, *, last_event: bool = False) -> ir.Table:
        """Customers who reached ``step`` but not ``step + 1`` (a drop-off list, exportable as a
        segment), as an expression over ``events``: ``customer_id``, ``reached_step``,
        ``reached_at`` (the first moment they reached ``step``), the breakdown columns and, with
        ``last_event``, ``last_event`` / ``last_event_at``: their latest event strictly after
        ``reached_at`` (its ``step_field`` value; ties: the greatest value; null when none)."""
        self._check_drop_step(step)
        with self._computed(events, materialize=False) as (base, ids, wide):
            return self._dropped(events, base, ids, wide, step, last_event)

    def dropped_customers_frame(self, events: ir.Table, step: int, *, last_event: bool = False) -> pd.DataFrame:
        """:meth:`dropped_customers` executed (materialised, fast) as a pandas DataFrame sorted by
        ``customer_id``: ``customer_id``, ``reached_step``, ``reached_at`` (+ breakdown columns,
        + ``last_event``, ``last_event_at``). ``frame["customer_id"]`` is the segment."""
        self._check_drop_step(step)
        with self._computed(events) as (base, ids, wide):
            df = self._dropped(events, base, ids, wide, step, last_event).to_pandas()
        for c in df.columns:  # text nulls as None (JSON null), whatever the backend's string dtype
            if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
                df[c] = df[c].astype(object).where(df[c].notna(), None)
        return df.sort_values("customer_id", kind="stable").reset_index(drop=True)

    def _check_drop_step(self, step: int) -> None:
        if not 1 <= step < len(self._steps):
            raise ConfigError(f"drop-off step {step} is out of range; expected 1..{len(self._steps) - 1}")

    def run(self, events: ir.Table) -> pd.DataFrame:
        """Execute on the backend and return the tidy funnel table (see :func:`funnel`)."""
        if self._fast_ok(events):
            return self.finish(self._fast_summary(events))
        with self._computed(events) as (base, ids, wide):
            summary = self._summary(events, base, ids, wide).to_pandas()
        return self.finish(summary)

    # -- the sorted-scan path (DuckDB, the common funnel) ------------------------------------
    def _fast_ok(self, events: ir.Table) -> bool:
        """The common funnel — sequential, strict ties, plain steps with distinct names, no
        exclusions, no breakdown — on DuckDB: one sorted scan instead of the passes."""
        names = [s.value for s in self._steps]
        return (
            FAST_SCAN
            and len(self._steps) <= 7
            and self.materialize
            and self.order == "sequential"
            and self.ties == "strict"
            and not self._exclude
            and not self.by
            and all(s.plain() and s.field == self.step_field for s in self._steps)
            and len(set(names)) == len(names)
            and self.step_field in events.columns
            and _backend_name(events) == "duckdb"
        )

    def _fast_summary(self, events: ir.Table) -> pd.DataFrame:
        """The summary of :meth:`_summary` from one scan of the step events, sorted in NumPy.

        DuckDB reads each step event once, unsorted, as four numbers: two independent 64-bit
        hashes of the customer id (of the text and of the text behind a fixed first character),
        its time in microseconds and ``7 − step`` (one byte). NumPy
        numbers the customers by the first hash; the second must then be the same on every row
        of a number, otherwise two ids share a hash (see :func:`_packed_keys`). Customer number,
        time and step are packed into one ``int64`` per row and sorted (one SIMD sort of plain
        integers, several times cheaper than DuckDB's ``ORDER BY`` of the text id), and
        :meth:`_walk_packed` walks the steps. The rows are read in any order
        (:func:`cxlens.store.unordered_reads`), and the customers are split in two halves by
        their first hash (:data:`_SPLIT`), each gathered from DuckDB's batches, numbered, sorted
        and walked in its own thread; the halves' counts add up and their seconds to convert are
        pooled before the quantiles (taken in the same two threads). When the three do not fit
        63 bits, a hash collides or a time is not finite, :meth:`_text_sorted_summary` (DuckDB
        sorting by the text id) computes the same summary."""
        n = len(self._steps)
        names = [s.value for s in self._steps]
        cid = events.customer_id
        if "anonymous_id" in events.columns:
            cid = ibis.coalesce(events.customer_id, events.anonymous_id)
        # 7 − the step (7: not a step), so equal times sort by step descending; one byte a row
        s7 = events[self.step_field].cases(*[(v, 7 - i) for i, v in enumerate(names, 1)], else_=7).cast("uint8")
        ev = events.select(c=cid, s7=s7, ts=events.ts)
        # filtering on the step number computed once costs less than an IN list plus the CASE
        ev = ev.filter(ev.s7 < 7, ev.c.notnull(), ev.ts.notnull())
        # the second hash reads the id behind a fixed first character: another string to DuckDB's
        # hash (its 8-byte blocks fall elsewhere), which costs a short copy per row where
        # reversing the text cost a Unicode-aware pass; ids of at most 7 bytes skip it (0: the
        # first hash numbers them exactly) when DuckDB's hash is the known one (sqlfns.second_hash);
        # time and step come as two columns (NumPy packs them, so DuckDB does no checked multiply
        # and add per row)
        backend = events._find_backend()
        h2 = second_hash(ev.c, short_hashes_exact(backend, duckdb_hash))
        scan = ev.select(h=duckdb_hash(ev.c), h2=h2, t=epoch_us(ev.ts), s7=ev.s7)
        with unordered_reads(backend):
            tbl = scan.to_pyarrow()
        if not tbl.num_rows or tbl.column("t").null_count:  # nothing, or ±infinity (epoch_us: NULL)
            return self._text_sorted_summary(events)
        # each column as its chunks (DuckDB's batches), read without a copy
        cols = [[a.to_numpy() for a in tbl.column(c).chunks if len(a)] for c in ("h", "h2", "t", "s7")]
        del tbl
        with ThreadPoolExecutor(2) as pool:
            parts = _by_halves(pool, lambda lower: self._packed_part(cols, lower))
            if any(p is None for p in parts):
                return self._text_sorted_summary(events)
            out: dict[str, list[Any]] = {f"customers_{k}": [sum(p[0][k - 1] for p in parts)] for k in range(1, n + 1)}  # type: ignore[index]
            if self.times:  # quantiles of the union: the halves' customers are disjoint
                pooled = {k: [p[1][k] for p in parts] for k in range(2, n + 1)}  # type: ignore[index]
                for quantiles in pool.map(lambda k: _quantiles(k, pooled[k]), range(2, n + 1)):
                    out.update(quantiles)
        return pd.DataFrame(out)

    def _packed_part(self, cols: list[list[np.ndarray]], lower: bool) -> tuple[list[int], dict[int, np.ndarray]] | None:
        """Per-step customer counts and seconds to convert (:meth:`_walk_packed`) of the customers
        whose first hash is below :data:`_SPLIT` (``lower``) or not, from the chunks of the columns
        ``h``, ``h2``, ``t`` and ``s7`` (:func:`_packed_keys`); None when their packed key cannot be
        used."""
        rows = _half_rows(cols, lower)
        if not len(rows[0]):  # nobody in this half
            return [0] * len(self._steps), {k: np.empty(0, np.int64) for k in range(2, len(self._steps) + 1)}
        packed = _packed_keys(*rows)
        del rows
        if packed is None:
            return None
        return self._walk_packed(*packed, len(self._steps))

    def _walk_packed(
        self, key: np.ndarray, shift: int, unit: int, t0: int, n: int
    ) -> tuple[list[int], dict[int, np.ndarray]]:
        """Per-step customer counts and seconds to convert (whole seconds, one per customer
        reaching the step, by step from 2; none with ``times=False``) from the sorted packed keys of
        :func:`_packed_keys`.

        Every step-1 row starts a chain. For step k, each step-k row's predecessor is the latest
        step-(k−1) chain row before it in the sorted order (:func:`_latest_before`); it is valid
        when it belongs to the same customer and its chain started within the window. Starts
        never decrease along a customer's order (the ASOF argument of ``docs/funnels.md``), so the
        latest predecessor carries the latest start; equal times sort by step descending, so ties
        never advance. A chain row is carried as one integer, ``customer << shift | start << 3``
        (a step-k row extends its predecessor's chain, so its chain value is the predecessor's),
        behind :data:`_NO_CHAIN` for "none before": the same-customer test is one ``xor`` and the
        window test one subtraction of keys."""
        # 7 − the step: the low 3 bits, read from each key's low byte (no int64 temporary)
        low = key.view(np.uint8)[:: key.itemsize] if sys.byteorder == "little" else key.astype(np.uint8)
        low = low & 7
        # times are in units of `unit` µs; a window longer than any time span is the whole span
        w = min(round(self._window.total_seconds() * 1_000_000) // unit, 1 << (shift - 3))
        limit = np.uint64((w + 1) << 3)  # key − chain value < limit ⇔ (t − start) ≤ w, the step bits below
        whole = np.int64((1 << shift) - 1)

        def secs(k: np.ndarray) -> np.ndarray:  # whole epoch seconds, as the passes' epoch_seconds()
            return (((k & whole) >> 3) * unit + t0) // 1_000_000

        count = np.empty(len(key), np.int32 if len(key) < 2**31 else np.int64)  # _latest_before's scratch
        pos = np.flatnonzero(low == 6)
        chain = _with_no_chain(len(pos))
        np.bitwise_and(key[pos], ~np.int64(7), out=chain[1:])  # a step-1 row starts its own chain
        f = _firsts(chain[1:], shift)
        counts, deltas = [len(f)], {}
        by_first = self.times and self.time_basis == "first"
        reach_first = {1: (chain[1:][f] >> shift, secs(chain[1:][f]))} if by_first else {}
        for k in range(2, n + 1):
            cur = np.flatnonzero(low == 7 - k) if len(pos) else pos  # nobody left: no step-k chains
            j = _latest_before(count, pos, cur)  # the latest chain row before, in (customer, t, step desc) order
            kc, prev = key[cur], chain[j]
            x = np.bitwise_xor(kc, prev)
            x >>= shift
            ok = x == 0  # the same customer's chain…
            np.subtract(kc, prev, out=x)
            ok &= x.view(np.uint64) < limit  # …started within the window
            del x
            chain = _with_no_chain(int(np.count_nonzero(ok)))
            np.compress(ok, prev, out=chain[1:])
            f = _firsts(chain[1:], shift)
            counts.append(len(f))
            if self.times:
                # only each customer's first step-k row is needed: gather its key and predecessor
                kept = np.flatnonzero(ok)[f]
                r_k = secs(kc[kept])
                if by_first:
                    cust_k = kc[kept] >> shift
                    reach_first[k] = (cust_k, r_k)
                    deltas[k] = _step_deltas(k, r_k, None, cust_k, reach_first)
                else:
                    deltas[k] = r_k - secs(key[pos[j[kept] - 1]])
            pos = np.compress(ok, cur)
        return counts, deltas

    def _text_sorted_summary(self, events: ir.Table) -> pd.DataFrame:
        """The summary of :meth:`_summary` from one scan sorted by DuckDB (the fallback of
        :meth:`_fast_summary` when the packed key cannot be used).

        DuckDB reads the step events once as ``(id, o)`` — the customer id and
        ``o = t·8 + (7 − step)`` (microseconds and the step number in one integer) — sorted by
        ``(id, o)``; the customers are numbered densely where the sorted id changes (an exact
        text comparison, so no hash and no collision check), and NumPy walks the steps: for each
        step-k row the latest valid step-(k−1) chain row before it in that order (a binary search
        over the chain rows' positions) is its predecessor; starts are non-decreasing along that
        order, so the latest predecessor carries the latest start (the ASOF argument of
        ``docs/funnels.md``). Sorting equal times by step descending puts a step-k row before the
        step-(k−1) rows at its own time, so ties never advance."""
        import pyarrow.compute as pc

        n = len(self._steps)
        names = [s.value for s in self._steps]
        cid = events.customer_id
        if "anonymous_id" in events.columns:
            cid = ibis.coalesce(events.customer_id, events.anonymous_id)
        ev = events.filter(events[self.step_field].isin(names), cid.notnull(), events.ts.notnull())
        step = ev[self.step_field].cases(*[(v, i) for i, v in enumerate(names, 1)], else_=0).cast("int8")
        cid = ev.customer_id if "anonymous_id" not in ev.columns else ibis.coalesce(ev.customer_id, ev.anonymous_id)
        # one sort key for time and step: t·8 + (7 − step), so equal times sort by step descending
        code = epoch_us(ev.ts) * 8 + (7 - step).cast("int64")
        tbl = ev.select(c=cid, o=code).order_by(["c", "o"]).to_pyarrow()
        o = tbl.column("o").to_numpy()
        rows = len(o)
        # dense customer numbers: a new one wherever the (sorted) text id changes
        new = np.ones(rows, bool)
        if rows > 1:
            ids = tbl.column("c")
            new[1:] = pc.not_equal(ids.slice(1), ids.slice(0, rows - 1)).to_numpy(zero_copy_only=False)
        del tbl
        key = np.cumsum(new, dtype=np.int32 if rows < 2**31 else np.int64)
        del new
        t = o >> 3
        # 7 − the step: the low 3 bits (read from each value's low byte, without an int64 temporary)
        low = o.view(np.uint8)[:: o.itemsize] if sys.byteorder == "little" else o.astype(np.uint8)
        low = low & 7
        del o

        def rows_of(k: int) -> np.ndarray:
            """The sorted positions of the step-k rows (one linear pass; a stable argsort of the
            steps costs far more)."""
            return np.flatnonzero(low == 7 - k)

        win = round(self._window.total_seconds() * 1_000_000)

        def customers(pos: np.ndarray) -> tuple[np.ndarray, int]:
            """Of chain rows at sorted positions ``pos``: the first one of each customer (its index
            in ``pos``) and how many customers."""
            kp = key[pos]
            first = np.ones(len(pos), bool)
            first[1:] = kp[1:] != kp[:-1]
            idx = np.flatnonzero(first)
            return idx, len(idx)

        def secs(pos: np.ndarray) -> np.ndarray:  # whole epoch seconds, as the passes' epoch_seconds()
            return t[pos] // 1_000_000

        pos = rows_of(1)
        start = t[pos]
        firsts, count = customers(pos)
        out: dict[str, Any] = {"customers_1": [count]}
        reach_first = {1: (key[pos[firsts]], secs(pos[firsts]))}
        for k in range(2, n + 1):
            cur = rows_of(k) if len(pos) else pos  # nobody left: no step-k chains
            j = np.searchsorted(pos, cur) - 1  # the latest chain row before, in (id, t, step desc) order
            jj = np.maximum(j, 0)
            ok = (j >= 0) & (key[pos[jj]] == key[cur])
            ok &= t[cur] - start[jj] <= win
            prev_pos = pos[jj[ok]]
            pos, start = cur[ok], start[jj[ok]]
            firsts, count = customers(pos)
            out[f"customers_{k}"] = [count]
            keys_k, r_k = key[pos[firsts]], secs(pos[firsts])
            reach_first[k] = (keys_k, r_k)
            if self.times:
                chain_prev = secs(prev_pos[firsts]) if self.time_basis == "chain" else None
                self._step_times(out, k, r_k, chain_prev, keys_k, reach_first)
        return pd.DataFrame(out)

    def _step_times(
        self,
        out: dict[str, Any],
        k: int,
        r_k: np.ndarray,
        chain_prev: np.ndarray | None,
        keys_k: np.ndarray,
        reach_first: dict[int, tuple[np.ndarray, np.ndarray]],
    ) -> None:
        """Median and p90 seconds to step ``k`` into ``out``, for the sorted scans (see
        :func:`_step_deltas`)."""
        _time_columns(out, k, _step_deltas(k, r_k, chain_prev, keys_k, reach_first))

    def finish(self, wide: pd.DataFrame) -> pd.DataFrame:
        """Turn a :meth:`to_expr` result into the tidy table: every step of every group,
        conversions and drop-off."""
        if not self.by and len(wide) == 1:
            return self._finish_one(wide)
        return self._finish_groups(wide)

    def _finish_groups(self, wide: pd.DataFrame) -> pd.DataFrame:
        """:meth:`finish` for any ``wide`` (one row per breakdown group)."""
        n, by = len(self._steps), list(self.by)
        parts = []
        for k in range(1, n + 1):
            part = wide[by].copy()
            part["step"] = k
            part["event"] = self.labels[k - 1]
            part["customers"] = wide[f"customers_{k}"].fillna(0).astype("int64").to_numpy()
            for c in ("median_seconds", "p90_seconds"):
                col = f"{c}_{k}"
                part[c] = wide[col].astype(float).to_numpy() if col in wide.columns else float("nan")
            parts.append(part)
        out = pd.concat(parts, ignore_index=True)
        if by:
            out = out[out.groupby(by, dropna=False)["customers"].transform("first") > 0]
            out = out.sort_values([*by, "step"], na_position="last", kind="stable").reset_index(drop=True)
        key = by or None
        first = out.groupby(key, dropna=False)["customers"].transform("first") if by else out["customers"].iloc[0]
        prev = out.groupby(key, dropna=False)["customers"].shift(1) if by else out["customers"].shift(1)
        prev = prev.fillna(out["customers"])
        out["conversion"] = (
            (out["customers"] / first).where(first > 0, 0.0).astype(float)
            if by
            else (out["customers"] / first if first > 0 else 0.0)
        )
        out["step_conversion"] = (out["customers"] / prev).where(prev > 0, 0.0).astype(float)
        out["dropped"] = (prev - out["customers"]).astype("int64")
        for c in ("median_seconds", "p90_seconds"):
            out[c] = out[c].astype(float)
            out.loc[out["step"] == 1, c] = float("nan")
        cols = [
            *by,
            "step",
            "event",
            "customers",
            "conversion",
            "step_conversion",
            "dropped",
            "median_seconds",
            "p90_seconds",
        ]
        out = out[cols]
        for b in by:  # nulls as None (JSON null), whatever the backend's string dtype
            out[b] = out[b].astype(object).where(out[b].notna(), None)
        if by:
            out = out.sort_values([*by, "step"], na_position="last", kind="stable")
        return out.reset_index(drop=True)

    def _finish_one(self, wide: pd.DataFrame) -> pd.DataFrame:
        """:meth:`finish` of a funnel without breakdown (``wide`` has one row), built from
        arrays in one step: the same table as the general way, which copies and extends a frame
        per step (tens of milliseconds of pandas bookkeeping a call)."""
        n = len(self._steps)
        row = wide.iloc[0]
        customers = np.array([0 if pd.isna(row[f"customers_{k}"]) else row[f"customers_{k}"] for k in range(1, n + 1)])
        customers = customers.astype("int64")
        prev = np.concatenate([customers[:1], customers[:-1]]).astype("float64")
        with np.errstate(divide="ignore", invalid="ignore"):
            conversion = customers / customers[0] if customers[0] > 0 else np.zeros(n)
            step_conversion = np.where(prev > 0, customers / prev, 0.0)
        times = {
            c: np.array(
                [np.nan] + [float(row[f"{c}_{k}"]) if f"{c}_{k}" in wide.columns else np.nan for k in range(2, n + 1)]
            )
            for c in ("median_seconds", "p90_seconds")
        }
        return pd.DataFrame(
            {
                "step": np.arange(1, n + 1, dtype="int64"),
                "event": self.labels,
                "customers": customers,
                "conversion": conversion.astype(float),
                "step_conversion": step_conversion.astype(float),
                "dropped": (prev - customers).astype("int64"),
                **times,
            }
        )


def funnel(
    events: ir.Table,
    steps: Sequence[str | Mapping[str, Any]] | str,
    window: str | dt.timedelta | None = "14d",
    order: str = "sequential",
    exclude: Sequence[str | Mapping[str, Any]] | None = None,
    by: str | Sequence[str] | None = None,
    step_field: str = "name",
    *,
    customers: ir.Table | None = None,
    times: bool = True,
    attribution: str = "first",
    ties: str = "strict",
    time_basis: str = "chain",
) -> pd.DataFrame:
    """Customers reaching each step of a funnel, computed on the events' backend.

    Parameters are those of :class:`FunnelQuery` (``steps`` may also be ``"a>b>c"``).

    Returns
    -------
    pandas.DataFrame
        One row per (breakdown group,) step: ``step`` (1-based), ``event`` (the step's label),
        ``customers`` (reached this step), ``conversion`` (share of step 1, 0–1),
        ``step_conversion`` (share of the previous step, 0–1), ``dropped`` (previous − this),
        ``median_seconds`` and ``p90_seconds`` (time to convert from the previous step, along
        the converting chain by default; see ``time_basis``; NaN for step 1).
    """
    q = FunnelQuery(
        steps, window, order, exclude, by, step_field, customers, times, attribution, ties=ties, time_basis=time_basis
    )
    return q.run(events)
