"""Dimensions, filters, date ranges and periods shared by every metric.

A *dimension* is something a metric can be grouped by (``by=``) or filtered on (``filters=``):

- a string column of the fact table (``touchpoint``, ``channel``, ``stage``, ``survey_id``,
  ``metric`` for feedback; ``name``, ``type``… for events; ``team``, ``agent``… for tickets);
- a column of ``customers`` (``segment``, ``plan``, ``country``), joined on ``customer_id``;
- ``traits.<key>``: the value of ``<key>`` in the ``customers.traits`` JSON, as text.

A fact-table column wins over a customers column of the same name. Periods are the start of the
calendar day, week (Monday), month, quarter or year containing the row's timestamp.

Personal data is never a dimension for a caller who sees it masked (:mod:`cxlens.schema.pii`):
:func:`prepare` refuses ``traits.phone``, ``traits.email``… as a breakdown or a filter with a 403
naming the parameter, whatever route or notebook built the analysis.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ibis
import pandas as pd

from cxlens.errors import ConfigError, ParameterError
from cxlens.schema import pii

#: period name → Ibis truncation unit
PERIODS: dict[str, str] = {"day": "D", "week": "W", "month": "M", "quarter": "Q", "year": "Y"}
#: free-text / JSON / identity columns never offered as dimensions
NOT_DIMENSIONS = frozenset(
    {
        "properties",
        "traits",
        "comment",
        "body",
        "subject",
        "title",
        "url",
        "email",
        "customer_id",
        "anonymous_id",
        "session_id",
        "event_id",
        "feedback_id",
        "order_id",
        "ticket_id",
        "review_id",
        "item_id",
    }
)
#: customers columns offered as dimensions when the customers table has them
CUSTOMER_DIMENSIONS = ("segment", "plan", "country")
TRAIT_PREFIX = "traits."
PERIOD_COL = "period"

By = str | Sequence[str] | None
FilterMap = Mapping[str, Any] | None
DateLike = str | dt.date | dt.datetime | pd.Timestamp | None


def as_list(by: By) -> list[str]:
    """``None | str | list[str]`` → list of names."""
    if by is None:
        return []
    if isinstance(by, str):
        return [by]
    return list(by)


def column_name(dim: str) -> str:
    """Backend-safe column name of a dimension (``traits.plan`` → ``traits__plan``)."""
    return dim.replace(".", "__")


def fact_dimensions(fact: ibis.Table) -> list[str]:
    """String columns of ``fact`` usable as dimensions."""
    return [c for c, t in fact.schema().items() if t.is_string() and c not in NOT_DIMENSIONS]


def customer_dimensions(customers: ibis.Table | None) -> list[str]:
    if customers is None:
        return []
    cols = customers.columns
    return [c for c in CUSTOMER_DIMENSIONS if c in cols]


def valid_dimensions(fact: ibis.Table, customers: ibis.Table | None, *, fact_dims: bool = True) -> list[str]:
    """Every dimension ``by=``/``filters=`` accept for ``fact`` (``traits.<key>`` shown as a pattern)."""
    own = fact_dimensions(fact) if fact_dims else []
    out = own + [c for c in customer_dimensions(customers) if c not in own]
    if customers is not None and "traits" in customers.columns and "customer_id" in fact.columns:
        out.append("traits.<key>")
    return out


#: a ``traits.<key>`` key: letters, digits, ``_``, ``-``, ``$``, spaces (it becomes a JSON path)
_TRAIT_KEY = re.compile(r"^[A-Za-z0-9_$][A-Za-z0-9_$ \-]{0,99}$")


def check_dimensions(
    dims: Iterable[str],
    fact: ibis.Table,
    customers: ibis.Table | None,
    *,
    what: str = "metric",
    fact_dims: bool = True,
    param: str | None = None,
) -> None:
    """Refuse unknown dimensions (:class:`~cxlens.errors.ParameterError` naming ``param``, or the
    dimension itself, and listing the valid ones) and personal data for a masked caller
    (:func:`cxlens.schema.pii.check_dimensions`, 403)."""
    valid = valid_dimensions(fact, customers, fact_dims=fact_dims)
    for d in dims:
        name = param or d
        if not isinstance(d, str) or "\x00" in d:
            raise ParameterError(name, f"dimension {d!r} for {what} is not a column name; remove control characters")
        if d.startswith(TRAIT_PREFIX) and "traits.<key>" in valid and len(d) > len(TRAIT_PREFIX):
            if not _TRAIT_KEY.match(d[len(TRAIT_PREFIX) :]):
                raise ParameterError(
                    name,
                    f"dimension {d!r} for {what} names a trait with characters a trait key cannot have; "
                    "expected traits.<key> with letters, digits, '_', '-' or spaces (at most 100)",
                )
            continue
        if d not in valid:
            raise ParameterError(
                name,
                f"unknown dimension {d!r} for {what}; expected one of {', '.join(valid)}; "
                "check the spelling or load the column",
            )
    # a table that IS the customers table (rule segments) has the PII columns as its own columns
    own = () if customers is not None and fact is customers else fact.columns
    pii.check_dimensions(dims, fact_columns=own, param=param, what=what)


def json_text(col: ibis.Value, key: str, backend: str | None) -> ibis.Value:
    """``col`` JSON text → value of ``key`` as text (numbers and booleans as their JSON text, an array
    or object as its JSON). A key starting with ``$`` (the SDK's ``$selector``…) is read literally, as
    one top-level name."""
    path = "$." + key
    if key.startswith("$"):
        if any(c in key for c in "'\"\\[]"):
            raise ParameterError("key", f"property key {key!r}: a $-key with quotes or brackets cannot be read")
        path = f"$['{key}']" if backend == "pyspark" else f'$."{key}"'
    if backend == "duckdb":

        @ibis.udf.scalar.builtin(name="json_extract_string")
        def _extract(doc: str, p: str) -> str: ...

        return _extract(col, path)
    if backend == "pyspark":

        @ibis.udf.scalar.builtin(name="get_json_object")
        def _extract(doc: str, p: str) -> str: ...

        return _extract(col, path)
    return col.cast("json")[key].str


def backend_name(t: ibis.Table) -> str | None:
    try:
        return t._find_backend().name
    except Exception:  # pragma: no cover - unbound tables
        return None


def ts_literal(value: DateLike) -> ibis.Value:
    ts = pd.Timestamp(value)
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ibis.literal(ts.to_pydatetime(), type="timestamp")


def check_period(period: str | None) -> None:
    if period is not None and period not in PERIODS:
        raise ConfigError(f"unknown period {period!r}; expected one of {', '.join(PERIODS)} or None")


def period_expr(ts: ibis.Value, period: str) -> ibis.Value:
    """Start of the ``period`` containing ``ts``, as a date (weeks start on Monday)."""
    check_period(period)
    return ts.truncate(PERIODS[period]).cast("date")


def prepare(
    fact: ibis.Table,
    *,
    customers: ibis.Table | None = None,
    by: By = None,
    period: str | None = None,
    start: DateLike = None,
    end: DateLike = None,
    filters: FilterMap = None,
    ts: str = "ts",
    what: str = "metric",
    fact_dims: bool = True,
) -> tuple[ibis.Table, list[str]]:
    """Filter ``fact`` and add one column per dimension in ``by`` (plus ``period``).

    Parameters
    ----------
    fact
        The fact table (feedback, orders, events, tickets…).
    customers
        The customers table, for customer dimensions and ``traits.<key>``.
    by, filters
        Dimensions to group by, and ``{dimension: value | [values]}`` (equality, or membership
        for a list; ``None`` matches missing values).
    period
        ``day``, ``week``, ``month``, ``quarter``, ``year`` or ``None``.
    start, end
        Keep rows with ``start <= ts < end``.
    ts
        The timestamp column ranges and periods apply to.
    fact_dims
        Whether fact-table columns are dimensions (``False`` for per-customer metrics such as churn).

    Returns
    -------
    (table, keys)
        The prepared table and its group-key column names (dimensions, then ``period``).

    Examples
    --------
    >>> import ibis, pandas as pd
    >>> fb = ibis.memtable(pd.DataFrame({"ts": pd.to_datetime(["2024-01-03"]), "touchpoint": ["web"],
    ...                                  "customer_id": ["c1"], "score": [9.0]}))
    >>> t, keys = prepare(fb, by="touchpoint", period="week")
    >>> keys
    ['touchpoint', 'period']
    """
    by_l = as_list(by)
    filters = dict(filters or {})
    check_period(period)
    dims = list(dict.fromkeys(by_l + list(filters)))
    check_dimensions(by_l, fact, customers, what=what, fact_dims=fact_dims, param="by")
    check_dimensions(list(filters), fact, customers, what=what, fact_dims=fact_dims)
    own = set(fact_dimensions(fact)) if fact_dims else set()
    need_customer = [d for d in dims if d not in own]

    t = fact
    if need_customer:
        backend = backend_name(customers)
        cols: dict[str, ibis.Value] = {"_cx_cid": customers.customer_id}
        for d in need_customer:
            if d.startswith(TRAIT_PREFIX):
                cols[column_name(d)] = json_text(customers.traits, d[len(TRAIT_PREFIX) :], backend)
            else:
                cols[column_name(d)] = customers[d]
        cust = customers.select(**cols)
        t = t.left_join(cust, t.customer_id == cust._cx_cid).drop("_cx_cid")

    preds = []
    if start is not None:
        preds.append(t[ts] >= ts_literal(start))
    if end is not None:
        preds.append(t[ts] < ts_literal(end))
    for d, v in filters.items():
        col = t[column_name(d)]
        if v is None:
            preds.append(col.isnull())
        elif isinstance(v, (list, tuple, set, frozenset)):
            vals = list(v)
            p = col.isin([x for x in vals if x is not None])
            preds.append(p | col.isnull() if None in vals else p)
        else:
            preds.append(col == v)
    if preds:
        t = t.filter(*preds)

    keys = [column_name(d) for d in by_l]
    if period is not None:
        t = t.mutate(**{PERIOD_COL: period_expr(t[ts], period)})
        keys.append(PERIOD_COL)
    return t, keys


def finish(df: pd.DataFrame, keys: Sequence[str], *, ints: Sequence[str] = ()) -> pd.DataFrame:
    """Executed result → tidy frame: ``traits__x`` renamed ``traits.x``, sorted by keys, ints typed.

    Sorting happens here (on the small result) as well as in the query so that every backend
    returns rows in the same order (backends disagree on where NULL keys sort).
    """
    df = df.copy()
    if PERIOD_COL in df.columns:
        df[PERIOD_COL] = pd.to_datetime(df[PERIOD_COL]).astype("datetime64[s]")
    for c in ints:
        if c in df.columns:
            df[c] = df[c].fillna(0).astype("int64")
    if keys:
        df = df.sort_values(list(keys), na_position="last", kind="mergesort")
    df = df.reset_index(drop=True)
    return df.rename(columns={c: c.replace("__", ".", 1) for c in df.columns if c.startswith("traits__")})


def period_start(value: DateLike, period: str) -> pd.Timestamp:
    """Start of the period containing ``value`` (Python side)."""
    ts = pd.Timestamp(value).normalize()
    if period == "day":
        return ts
    if period == "week":
        return ts - pd.Timedelta(days=ts.weekday())
    if period == "month":
        return ts.replace(day=1)
    if period == "quarter":
        return ts.replace(month=3 * ((ts.month - 1) // 3) + 1, day=1)
    if period == "year":
        return ts.replace(month=1, day=1)
    check_period(period)
    raise AssertionError  # pragma: no cover


def period_offset(period: str, k: int = 1) -> pd.DateOffset:
    """Length of ``k`` periods as a pandas offset."""
    check_period(period)
    return {
        "day": pd.DateOffset(days=k),
        "week": pd.DateOffset(weeks=k),
        "month": pd.DateOffset(months=k),
        "quarter": pd.DateOffset(months=3 * k),
        "year": pd.DateOffset(years=k),
    }[period]


def period_ordinal(d: ibis.Value, period: str) -> ibis.Value:
    """Integer index of the period starting at date ``d``: consecutive periods differ by 1."""
    check_period(period)
    if period == "month":
        return d.year() * 12 + d.month()
    if period == "quarter":
        return d.year() * 4 + d.quarter()
    if period == "year":
        return d.year()
    days = (d.cast("timestamp").epoch_seconds() / 86400).round().cast("int64")
    return days if period == "day" else ((days + 3) / 7).floor().cast("int64")
