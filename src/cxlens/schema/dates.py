"""Reading date-times from imported files: one format per column, never a guess per row.

A timestamp column is read in one of these formats, chosen from the column's values:

* ``iso`` — ``2024-03-01``, ``2024-03-01 10:00``, ``2024-03-01T10:00:00.123Z``,
  ``2024-03-01T10:00:00+01:00``, ``2024-03-01 10:00:00 +0100``, ``… UTC``. Never affected by
  ``dayfirst``: an ISO date is unambiguous.
* ``ymd`` — ``2024/03/01`` or ``2024.03.01``, with an optional time.
* ``dmy`` / ``mdy`` — ``01/03/2024``, ``01.03.2024``, ``01-03-2024`` with an optional time
  (24-hour or ``AM``/``PM``). A column whose values only read one way (a day above 12 somewhere) is
  read that way for every row; a column that reads both ways throughout is refused unless
  ``dayfirst`` or ``monthfirst`` is stated; a column with both ``13/04/2025`` and ``04/13/2025`` is
  refused.
* ``js`` — JavaScript's ``Date.toString()``: ``Fri Mar 01 2024 10:00:00 GMT+0100 (CET)``; the
  offset is read as written (``GMT+0100`` is one hour ahead of UTC).
* ``rfc2822`` — e-mail dates: ``Fri, 01 Mar 2024 10:00:00 +0100``.
* ``epoch`` — numbers (Unix time), only with a stated unit (``s``, ``ms``, ``us``, ``ns``).

Times with an offset are converted to UTC; times without one are in ``timezone`` (UTC unless
stated). Every date must fall between 1990-01-01 and the end of next year unless ``any_date``
is set: a date outside that window is almost always a misread (an epoch in the wrong unit, a
two-digit year). Stored values are naive UTC ``datetime64[us]``.

>>> import pandas as pd
>>> fmt = infer_format(pd.Series(["03/04/2025", "13/04/2025"]), "ts", "f.csv")
>>> fmt.family, list(parse_dates(pd.Series(["03/04/2025", "13/04/2025"]), fmt, column="ts", source="f.csv").dt.day)
('dmy', [3, 13])
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from cxlens.errors import SchemaError

__all__ = [
    "EPOCH_UNITS",
    "DateColumn",
    "DateFormat",
    "DateOptions",
    "date_error",
    "infer_format",
    "parse_dates",
    "window",
]

EPOCH_UNITS = ("s", "ms", "us", "ns")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_MON = "|".join(_MONTHS)
_DAYS = "Mon|Tue|Wed|Thu|Fri|Sat|Sun"
_TIME = (
    r"(?:(?:[T ]|, ?)\s*(?P<H>\d{1,2}):(?P<M>\d{2})(?::(?P<S>\d{2})(?:[.,](?P<F>\d{1,9}))?)?"
    r"\s*(?P<AP>[AaPp]\.?[Mm]\.?)?)?"
)
_ZONE = r"\s*(?P<Z>Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)?"
PATTERNS: dict[str, str] = {
    "iso": r"(?P<Y>\d{4})-(?P<m>\d{2})-(?P<d>\d{2})" + _TIME + _ZONE,
    "ymd": r"(?P<Y>\d{4})[/.](?P<m>\d{1,2})[/.](?P<d>\d{1,2})" + _TIME + _ZONE,
    "numeric": r"(?P<A>\d{1,2})[/.-](?P<B>\d{1,2})[/.-](?P<Y>\d{4})" + _TIME + _ZONE,
    "js": (
        rf"(?:{_DAYS}) (?P<b>{_MON}) (?P<d>\d{{1,2}}) (?P<Y>\d{{4}}) (?P<H>\d{{2}}):(?P<M>\d{{2}}):(?P<S>\d{{2}})"
        r" GMT(?P<Z>[+-]\d{4})(?: \([^)]*\))?"
    ),
    "rfc2822": (
        rf"(?:(?:{_DAYS}),\s*)?(?P<d>\d{{1,2}}) (?P<b>{_MON}) (?P<Y>\d{{4}}) (?P<H>\d{{2}}):(?P<M>\d{{2}})"
        r"(?::(?P<S>\d{2}))?\s+(?P<Z>[+-]\d{4}|GMT|UTC|Z)"
    ),
    "epoch": r"-?\d+(?:\.\d+)?",
}
_EXAMPLES = {
    "iso": "2024-03-01 or 2024-03-01T10:00:00Z",
    "ymd": "2024/03/01 10:00",
    "dmy": "31/03/2024 (day first)",
    "mdy": "03/31/2024 (month first)",
    "js": "Fri Mar 01 2024 10:00:00 GMT+0100",
    "rfc2822": "Fri, 01 Mar 2024 10:00:00 +0100",
    "epoch": "a Unix time",
}
GENERIC_EXAMPLE = "a date-time such as 2024-05-31 or 2024-05-31T14:02:00Z"


@dataclass(frozen=True)
class DateOptions:
    """How to read the dates of one import.

    ``order`` is ``"dmy"`` (``--dayfirst``), ``"mdy"`` (``--monthfirst``) or None (decided per
    column from its values). ``epoch`` is the unit of numeric times. ``timezone`` applies to times
    without an offset. ``any_date`` lifts the 1990..next-year plausibility window.
    """

    order: str | None = None
    epoch: str | None = None
    timezone: str = "UTC"
    any_date: bool = False

    def __post_init__(self) -> None:
        if self.order not in (None, "dmy", "mdy"):
            raise ValueError(f"date order {self.order!r}; expected 'dmy', 'mdy' or None")
        if self.epoch is not None and self.epoch not in EPOCH_UNITS:
            from cxlens.errors import ParameterError

            raise ParameterError("epoch", f"epoch unit {self.epoch!r} is not known; expected one of s, ms, us, ns")
        try:
            _zone(self.timezone)
        except Exception:
            from cxlens.errors import ParameterError

            raise ParameterError(
                "timezone", f"time zone {self.timezone!r} is not known; expected an IANA name such as Europe/Paris"
            ) from None


@dataclass(frozen=True)
class DateFormat:
    """The one format a column is read in (see the module docstring)."""

    family: str
    #: the row (1-based, as reported) whose value settled the format, and that value
    evidence_row: int | None = None
    evidence: str | None = None

    def describe(self) -> str:
        return _EXAMPLES.get(self.family, self.family)


def _zone(name: str) -> Any:
    from zoneinfo import ZoneInfo

    if name.upper() == "UTC":
        return dt.UTC
    return ZoneInfo(name)


def window(opts: DateOptions) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The plausibility window ``[1990-01-01, end of next year]``, or None when ``any_date``."""
    if opts.any_date:
        return None
    return pd.Timestamp("1990-01-01"), pd.Timestamp(f"{dt.date.today().year + 2}-01-01")


def date_error(source: str, row: int, column: str, value: Any, expected: str) -> SchemaError:
    """The SchemaError of a bad date in data row ``row`` (1-based)."""
    shown = repr(value) if isinstance(value, str) else str(value)
    err = SchemaError(f"column '{column}' in {source} row {row} is {shown}; expected {expected}")
    err.source, err.row, err.column, err.value, err.expected = source, row, column, value, expected
    return err


def _text(s: pd.Series) -> pd.Series:
    return s.astype("str").str.strip()


def _is_number_series(s: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s)


def _epoch_hint(value: Any) -> str:
    """The error's hint: the unit that puts ``value`` in the plausible window, if one does."""
    unit = "s"
    try:
        v = float(value)
        lo, hi = (
            dt.datetime(1990, 1, 1, tzinfo=dt.UTC).timestamp(),
            dt.datetime(dt.date.today().year + 2, 1, 1, tzinfo=dt.UTC).timestamp(),
        )
        unit = next((u for u, k in zip(EPOCH_UNITS, (1, 1e3, 1e6, 1e9), strict=True) if lo <= v / k < hi), "s")
    except (TypeError, ValueError, OverflowError):
        pass
    return (
        f"a date-time; numbers are read as Unix times only with a stated unit — this one looks like "
        f"{unit}: pass --epoch {unit} (or s, ms, us, ns)"
    )


@dataclass
class DateColumn:
    """What the values of one timestamp column say about its format, seen chunk by chunk.

    :meth:`observe` every chunk (``offset`` = rows before it); :attr:`format` is then the column's
    format, or None while a day/month column is still ambiguous (:meth:`resolve` refuses it then).
    """

    column: str
    source: str
    opts: DateOptions = field(default_factory=DateOptions)
    family: str | None = None
    first_row: int | None = None
    first_value: Any = None
    day_first_row: tuple[int, str] | None = None
    month_first_row: tuple[int, str] | None = None
    native: bool = False

    def observe(self, s: pd.Series, offset: int = 0) -> None:
        if pd.api.types.is_datetime64_any_dtype(s):
            self.native = True
            return
        missing = s.isna()
        if s.dtype == object:
            kinds = s[~missing].map(
                lambda v: "number" if isinstance(v, int | float) and not isinstance(v, bool) else "text"
            )
            if kinds.nunique() > 1:
                first_kind = kinds.iloc[0]
                i = int(np.flatnonzero((kinds != first_kind).to_numpy())[0])
                pos = kinds.index[i]
                raise date_error(
                    self.source, offset + pos + 1, self.column, s.loc[pos],
                    f"the same kind of value as row {offset + kinds.index[0] + 1} ({s.loc[kinds.index[0]]!r}), "
                    "as a column has one date format",
                )  # fmt: skip
            if len(kinds) and kinds.iloc[0] == "number":
                s = pd.to_numeric(s, errors="coerce")
        if _is_number_series(s):
            self._settle("epoch", s, offset, missing)
            return
        text = _text(s)
        missing = missing | text.eq("")
        if not (~missing).any():
            return
        fams = self._classify(text, missing)
        present = fams[~missing]
        unknown = present.isna().to_numpy()
        if unknown.any():
            pos = present.index[int(unknown.argmax())]
            expected = (
                f"{self.describe()} like row {self.first_row} ({self.first_value!r})"
                if self.family
                else GENERIC_EXAMPLE
            )
            raise date_error(self.source, offset + pos + 1, self.column, s.loc[pos], expected)
        first_pos = present.index[0]
        if self.family is None:
            self.family = "numeric" if present.iloc[0] in ("dmy", "mdy", "numeric") else present.iloc[0]
            self.first_row, self.first_value = offset + first_pos + 1, s.loc[first_pos]
        want = self.family
        differ = (present != want).to_numpy() if want != "numeric" else (~present.isin(["numeric"])).to_numpy()
        if differ.any():
            pos = present.index[int(differ.argmax())]
            raise date_error(
                self.source, offset + pos + 1, self.column, s.loc[pos],
                f"the format of row {self.first_row} ({self.first_value!r}: {_EXAMPLES.get(want, 'a day/month date')}), "
                "as a column has one date format",
            )  # fmt: skip
        if want == "epoch":
            if self.opts.epoch is None:
                raise date_error(
                    self.source, offset + first_pos + 1, self.column, s.loc[first_pos], _epoch_hint(s.loc[first_pos])
                )
        if want == "numeric":
            parts = text[~missing].str.extract(PATTERNS["numeric"])
            a = pd.to_numeric(parts["A"]).to_numpy()
            b = pd.to_numeric(parts["B"]).to_numpy()
            idx = parts.index
            if self.day_first_row is None and (a > 12).any():
                pos = idx[int((a > 12).argmax())]
                self.day_first_row = (offset + pos + 1, str(s.loc[pos]))
            if self.month_first_row is None and (b > 12).any():
                pos = idx[int((b > 12).argmax())]
                self.month_first_row = (offset + pos + 1, str(s.loc[pos]))
            if self.day_first_row and self.month_first_row:
                (r1, v1), (r2, v2) = sorted([self.day_first_row, self.month_first_row])
                raise date_error(
                    self.source, r2, self.column, v2,
                    f"the same day/month order as row {r1} ({v1!r}): one reads only day first, the other only "
                    "month first, and a column has one date format",
                )  # fmt: skip
            order = self.opts.order
            if order == "dmy" and self.month_first_row:
                r, v = self.month_first_row
                raise date_error(self.source, r, self.column, v, "a day-first date (--dayfirst was given)")
            if order == "mdy" and self.day_first_row:
                r, v = self.day_first_row
                raise date_error(self.source, r, self.column, v, "a month-first date (--monthfirst was given)")

    def _settle(self, family: str, s: pd.Series, offset: int, missing: pd.Series) -> None:
        present = np.flatnonzero(~missing.to_numpy())
        if not len(present):
            return
        pos = s.index[int(present[0])]
        if self.family is None:
            self.family, self.first_row, self.first_value = family, offset + pos + 1, s.loc[pos]
        elif self.family != family:
            raise date_error(
                self.source, offset + pos + 1, self.column, s.loc[pos],
                f"the format of row {self.first_row} ({self.first_value!r}), as a column has one date format",
            )  # fmt: skip
        if family == "epoch" and self.opts.epoch is None:
            raise date_error(self.source, offset + pos + 1, self.column, s.loc[pos], _epoch_hint(s.loc[pos]))

    @staticmethod
    def _classify(text: pd.Series, missing: pd.Series) -> pd.Series:
        """Each value's family: the first pattern it matches whole (vectorised: RE2 through Arrow)."""
        fams = np.full(len(text), None, dtype=object)
        todo = ~missing.to_numpy()
        arr = pa.array(text.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
        for fam, pat in PATTERNS.items():
            if not todo.any():
                break
            hit = pc.match_substring_regex(arr, f"^(?:{pat})$").to_numpy(zero_copy_only=False)
            hit = todo & np.asarray(hit, dtype=object).astype(bool)
            fams[hit] = fam
            todo = todo & ~hit
        return pd.Series(fams, index=text.index, dtype=object)

    def describe(self) -> str:
        fam = self.family or ""
        if fam == "numeric":
            return "a day/month date such as 31/03/2024"
        return _EXAMPLES.get(fam, fam)

    @property
    def format(self) -> DateFormat | None:
        """The settled format, or None while undecided (a day/month column without evidence)."""
        if self.native:
            return DateFormat("native")
        if self.family is None:
            return DateFormat("empty")
        if self.family != "numeric":
            return DateFormat(self.family, self.first_row, self.first_value)
        if self.opts.order:
            return DateFormat(self.opts.order, self.first_row, self.first_value)
        if self.day_first_row:
            return DateFormat("dmy", *self.day_first_row)
        if self.month_first_row:
            return DateFormat("mdy", *self.month_first_row)
        return None

    def resolve(self) -> DateFormat:
        """The format, or the error naming ``--dayfirst``/``--monthfirst`` for an ambiguous column."""
        fmt = self.format
        if fmt is None:
            raise date_error(
                self.source, self.first_row or 1, self.column, self.first_value,
                "an unambiguous date: every day and month in this column is 12 or less, so 03/04/2025 could be "
                "3 April or 4 March; pass --dayfirst (day/month/year) or --monthfirst (month/day/year)",
            )  # fmt: skip
        return fmt


def infer_format(values: pd.Series, column: str, source: str, opts: DateOptions | None = None) -> DateFormat:
    """The one format of a whole column (errors as :class:`DateColumn`)."""
    col = DateColumn(column, source, opts or DateOptions())
    col.observe(values.reset_index(drop=True))
    return col.resolve()


def _offset_minutes(z: pd.Series) -> pd.Series:
    """Minutes east of UTC for zone strings (Z, UTC, GMT, +01, +0100, +01:00); NaN where absent."""
    z = z.astype("str")
    out = pd.Series(np.nan, index=z.index)
    utc = z.isin(["Z", "UTC", "GMT"])
    out[utc] = 0.0
    num = z.str.fullmatch(r"[+-]\d{2}(?::?\d{2})?").fillna(False).astype(bool) & ~utc
    if num.any():
        v = z[num].str.replace(":", "", regex=False)
        sign = np.where(v.str[0] == "-", -1.0, 1.0)
        hours = pd.to_numeric(v.str[1:3]).to_numpy(dtype=float)
        mins = pd.to_numeric(v.str[3:5].replace("", "0")).fillna(0).to_numpy(dtype=float)
        out[num] = sign * (hours * 60 + mins)
    return out


def parse_dates(
    values: pd.Series,
    fmt: DateFormat,
    *,
    column: str,
    source: str,
    opts: DateOptions | None = None,
    offset: int = 0,
) -> pd.Series:
    """Read ``values`` in format ``fmt`` as naive UTC ``datetime64[us]`` (NaT where empty).

    Raises :class:`~cxlens.errors.SchemaError` naming the first row that does not read (an
    impossible date such as 31/02/2024, a time that does not exist in ``timezone``) or that
    falls outside the plausibility window.
    """
    opts = opts or DateOptions()
    s = values.reset_index(drop=True)
    index = values.index
    if fmt.family == "native" or pd.api.types.is_datetime64_any_dtype(s):
        out = s
        if getattr(out.dt, "tz", None) is None:
            out = _localize(out, opts, s, column, source, offset)
        else:
            out = out.dt.tz_convert("UTC").dt.tz_localize(None)
        out = out.astype("datetime64[us]")
    elif fmt.family == "empty":
        out = pd.Series(pd.NaT, index=s.index, dtype="datetime64[us]")
    elif fmt.family == "epoch":
        out = _parse_epoch(s, opts, column, source, offset)
    else:
        out = _parse_text(s, fmt, opts, column, source, offset)
    _check_window(out, s, opts, column, source, offset)
    out.index = index
    return out


def _parse_epoch(s: pd.Series, opts: DateOptions, column: str, source: str, offset: int) -> pd.Series:
    num = pd.to_numeric(s, errors="coerce") if not _is_number_series(s) else s.astype("float64")
    if opts.epoch is None:
        i = int(np.flatnonzero(num.notna().to_numpy())[0])
        raise date_error(source, offset + i + 1, column, s.iloc[i], _epoch_hint(s.iloc[i]))
    if opts.epoch == "ns" and not pd.api.types.is_float_dtype(s):
        as_int = pd.to_numeric(s, errors="coerce").astype("Int64")
        out = pd.to_datetime(as_int, unit="ns", errors="coerce")
    else:
        out = pd.to_datetime(num, unit=opts.epoch, errors="coerce")
    return out.astype("datetime64[us]")


_FAST_ISO = r"\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)?(?:Z|[+-]\d{2}:\d{2})?"


def _parse_text(s: pd.Series, fmt: DateFormat, opts: DateOptions, column: str, source: str, offset: int) -> pd.Series:
    text = _text(s)
    missing = s.isna() | text.eq("")
    if fmt.family == "iso":
        fast = _fast_iso(text, missing, opts)
        if fast is not None:
            return fast
    pattern = PATTERNS["numeric" if fmt.family in ("dmy", "mdy") else fmt.family]
    parts = text.where(~missing, None).str.extract(pattern)
    unread = (parts.get("Y").isna() & ~missing).to_numpy()
    if unread.any():
        i = int(unread.argmax())
        raise date_error(source, offset + i + 1, column, s.iloc[i], f"{fmt.describe()}, like row {fmt.evidence_row}")
    if fmt.family in ("dmy", "mdy"):
        day, month = ("A", "B") if fmt.family == "dmy" else ("B", "A")
        parts["d"], parts["m"] = parts[day], parts[month]
    if "b" in parts.columns:
        parts["m"] = parts["b"].map({m: str(i + 1) for i, m in enumerate(_MONTHS)})

    def num(name: str, default: float = 0.0) -> pd.Series:
        if name not in parts.columns:
            return pd.Series(default, index=parts.index)
        return pd.to_numeric(parts[name], errors="coerce").fillna(default)

    hour = num("H")
    if "AP" in parts.columns:
        ap = parts["AP"].astype("str").str.upper().str.replace(".", "", regex=False)
        has_ap = parts["AP"].notna()
        bad = (has_ap & ((hour < 1) | (hour > 12))).to_numpy()
        if bad.any():
            i = int(bad.argmax())
            raise date_error(source, offset + i + 1, column, s.iloc[i], "an hour 1-12 before AM/PM")
        hour = hour.where(~has_ap, (hour % 12) + np.where(ap == "PM", 12, 0))
    frac = parts["F"].fillna("") if "F" in parts.columns else pd.Series("", index=parts.index)
    micros = pd.to_numeric(frac.astype("str").str.ljust(6, "0").str[:6].replace("000000", "0"), errors="coerce").fillna(
        0
    )
    frame = pd.DataFrame(
        {
            "year": num("Y"),
            "month": num("m", 1),
            "day": num("d", 1),
            "hour": hour,
            "minute": num("M"),
            "second": num("S"),
            "microsecond": micros,
        }
    )
    frame.loc[missing.to_numpy()] = np.nan
    stamps = pd.to_datetime(frame, errors="coerce")
    invalid = (stamps.isna() & ~missing).to_numpy()
    if invalid.any():
        i = int(invalid.argmax())
        raise date_error(source, offset + i + 1, column, s.iloc[i], f"a real calendar date and time ({fmt.describe()})")
    zone = _offset_minutes(parts["Z"]) if "Z" in parts.columns else pd.Series(np.nan, index=parts.index)
    has_zone = zone.notna()
    out = stamps.astype("datetime64[us]")
    if has_zone.any():
        out = out.where(~has_zone, out - pd.to_timedelta(zone.fillna(0), unit="m"))
    if (~has_zone & ~missing).any():
        local = _localize(stamps.where(~has_zone), opts, s, column, source, offset)
        out = out.where(has_zone, local)
    return out.astype("datetime64[us]")


def _fast_iso(text: pd.Series, missing: pd.Series, opts: DateOptions) -> pd.Series | None:
    """ISO values without a space before the zone: pandas' C parser (several times faster)."""
    if opts.timezone.upper() != "UTC" and not text[~missing].str.contains(r"(?:Z|[+-]\d{2}:\d{2})$").all():
        return None
    if not text[~missing].str.fullmatch(_FAST_ISO).all():
        return None
    arrow = _arrow_utc(text, missing, opts)
    if arrow is not None:
        return arrow
    try:
        out = pd.to_datetime(text.where(~missing, None), format="ISO8601", utc=True)
    except (ValueError, TypeError):
        return None
    return out.dt.tz_localize(None).astype("datetime64[us]")


def _arrow_utc(text: pd.Series, missing: pd.Series, opts: DateOptions) -> pd.Series | None:
    """ISO values all with a zone (or all without one, in UTC): Arrow's ISO-8601 cast, which refuses
    what it cannot read exactly (an impossible date, more than microseconds), leaving those to pandas."""
    if not (isinstance(text.dtype, pd.StringDtype) and text.dtype.storage == "pyarrow"):
        return None
    arr = pa.array(text.where(~missing, None).array)
    present = pc.drop_null(arr)
    if not len(present):
        return None
    zoned = pc.match_substring_regex(present, r"(?:Z|[+-]\d{2}:\d{2})$")
    if pc.all(zoned).as_py():
        target = pa.timestamp("us", "UTC")
    elif not pc.any(zoned).as_py() and opts.timezone.upper() == "UTC":
        target = pa.timestamp("us")
    else:
        return None
    try:
        stamps = arr.cast(target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    if target.tz is not None:
        stamps = stamps.cast(pa.timestamp("us"))  # the same instants, naive UTC
    return pd.Series(stamps.to_numpy(zero_copy_only=False), index=text.index, dtype="datetime64[us]")


def _localize(stamps: pd.Series, opts: DateOptions, raw: pd.Series, column: str, source: str, offset: int) -> pd.Series:
    """Zoneless local times in ``opts.timezone`` → naive UTC (refusing times that do not exist)."""
    if opts.timezone.upper() == "UTC":
        return stamps.astype("datetime64[us]")
    try:
        local = stamps.dt.tz_localize(opts.timezone, ambiguous="raise", nonexistent="raise")
    except Exception:
        local = stamps.dt.tz_localize(opts.timezone, ambiguous="NaT", nonexistent="NaT")
        bad = (local.isna() & stamps.notna()).to_numpy()
        i = int(bad.argmax())
        raise date_error(
            source, offset + i + 1, column, raw.iloc[i],
            f"a local time that exists exactly once in {opts.timezone} (this one falls in a daylight-saving change); "
            "export the times with their UTC offset",
        ) from None  # fmt: skip
    return local.dt.tz_convert("UTC").dt.tz_localize(None).astype("datetime64[us]")


def _check_window(out: pd.Series, raw: pd.Series, opts: DateOptions, column: str, source: str, offset: int) -> None:
    win = window(opts)
    if win is None:
        return
    lo, hi = win
    bad = ((out < lo) | (out >= hi)).to_numpy(dtype=bool, na_value=False)
    if bad.any():
        i = int(bad.argmax())
        raise date_error(
            source, offset + i + 1, column, raw.iloc[i],
            f"a date from {lo.date()} to {(hi - pd.Timedelta(days=1)).date()} (it reads as {out.iloc[i]}); "
            "check the format or unit, or pass --any-date if such dates are real",
        )  # fmt: skip
