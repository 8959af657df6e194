"""One filter value for every analysis: dates, dimensions and a saved segment.

A dashboard page, an API call, a CLI command and a notebook all narrow an analysis the same way:
a date range (``start`` inclusive, ``end`` exclusive), equality or membership on dimensions
(``channel``, ``touchpoint``, ``stage``, the customers' ``segment``/``plan``/``country`` or
``traits.<key>``), and optionally the members of a **saved** segment. :class:`Filters` holds all
three, is hashable (a cache key) and immutable, renders itself back to a query string in one place
(:meth:`Filters.pairs`), and is accepted by every analysis as ``where=`` (``ws.metrics.nps(where=f)``,
``ws.journeys.funnel(steps, where=f)``, ``cxlens.voice.explorer.feedback_page(ws, where=f)``…).

>>> f = Filters.of(start="2026-01-01", filters={"channel": ["web", "app"]}, segment="rfm:Champions")
>>> f.kwargs()["filters"], f.saved_segment
({'channel': ['web', 'app']}, 'rfm:Champions')
>>> f.pairs()
[('start', '2026-01-01'), ('channel', 'web'), ('channel', 'app'), ('saved_segment', 'rfm:Champions')]
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import urlencode

import pandas as pd

from cxlens.errors import ConfigError

__all__ = ["Filters"]

Values = tuple[str | None, ...]


def _date(value: Any, name: str) -> dt.date | dt.datetime | None:
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return value
    try:
        ts = pd.Timestamp(value)
    except (ValueError, TypeError):
        raise ConfigError(f"{name} is {value!r}; expected a date such as 2026-01-31") from None
    if ts.tzinfo is not None:
        ts = ts.tz_convert("UTC").tz_localize(None)
    return ts.date() if ts == ts.normalize() else ts.to_pydatetime()


def _iso(v: dt.date | dt.datetime | None) -> str | None:
    return None if v is None else v.isoformat()


@dataclass(frozen=True)
class Filters:
    """Dates, dimension filters and a saved segment (all optional; see the module docstring)."""

    start: dt.date | dt.datetime | None = None
    end: dt.date | dt.datetime | None = None
    #: ((dimension, (value, ...)), ...) sorted by dimension: one value is equality, several membership
    dimensions: tuple[tuple[str, Values], ...] = ()
    saved_segment: str | None = None

    @classmethod
    def of(
        cls,
        where: Filters | None = None,
        *,
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        segment: str | None = None,
    ) -> Filters:
        """A Filters from keyword arguments, on top of ``where`` (the keywords win where both say)."""
        base = where or cls()
        s = _date(start, "start") if start is not None else base.start
        e = _date(end, "end") if end is not None else base.end
        if s is not None and e is not None and pd.Timestamp(s) >= pd.Timestamp(e):
            raise ConfigError(f"end ({_iso(e)}) is not after start ({_iso(s)}); expected start < end")
        dims = dict(base.dimensions)
        for k, v in dict(filters or {}).items():
            if v is None:
                dims[str(k)] = (None,)
            elif isinstance(v, (list, tuple, set, frozenset)):
                dims[str(k)] = tuple(None if x is None else str(x) for x in v)
            else:
                dims[str(k)] = (str(v),)
        return cls(s, e, tuple(sorted(dims.items())), segment if segment is not None else base.saved_segment)

    # -- as arguments ---------------------------------------------------------------------
    @property
    def filters(self) -> dict[str, Any] | None:
        """The dimension filters as ``{dimension: value | [values]}`` (None when there are none)."""
        if not self.dimensions:
            return None
        return {k: (v[0] if len(v) == 1 else list(v)) for k, v in self.dimensions}

    def kwargs(self) -> dict[str, Any]:
        """``start``, ``end`` (ISO text), ``filters`` and ``segment``: the keyword arguments of the analyses."""
        return {
            "start": _iso(self.start),
            "end": _iso(self.end),
            "filters": self.filters,
            "segment": self.saved_segment,
        }

    def dated(self) -> dict[str, Any]:
        """Only ``start``/``end`` (for analyses that take no dimension filters)."""
        return {"start": _iso(self.start), "end": _iso(self.end)}

    def is_empty(self) -> bool:
        return self == Filters()

    def without(self, *names: str) -> Filters:
        """These filters without ``start``, ``end``, ``saved_segment`` or the named dimensions."""
        out = self
        for n in names:
            if n in ("start", "end", "saved_segment"):
                out = replace(out, **{n: None})
            else:
                out = replace(out, dimensions=tuple((k, v) for k, v in out.dimensions if k != n))
        return out

    # -- as a query string -----------------------------------------------------------------
    def pairs(self) -> list[tuple[str, str]]:
        """Query-string pairs, in a stable order (dates, dimensions, saved segment)."""
        out: list[tuple[str, str]] = []
        if self.start is not None:
            out.append(("start", _iso(self.start) or ""))
        if self.end is not None:
            out.append(("end", _iso(self.end) or ""))
        for k, values in self.dimensions:
            out.extend((k, "" if v is None else v) for v in values)
        if self.saved_segment:
            out.append(("saved_segment", self.saved_segment))
        return out

    def query_string(self) -> str:
        return urlencode(self.pairs())

    def selected(self, dimension: str) -> str | None:
        """The single selected value of ``dimension`` (for a menu), or None."""
        if dimension == "saved_segment":
            return self.saved_segment
        for k, v in self.dimensions:
            if k == dimension and len(v) == 1:
                return v[0]
        return None
