"""Reading request parameters: the one place a query string becomes library arguments.

Every page and API route that narrows an analysis takes the same filter parameters — ``start``,
``end`` (exclusive), ``channel``, ``touchpoint``, ``stage``, ``segment`` (the customers' trait) and
``saved_segment`` (a saved customer group) — parsed once per request into one
:class:`~cxlens.metrics.filters.Filters` (:data:`FiltersDep`). It goes to the library as ``where=``
and back to links and ``HX-Replace-Url`` as :meth:`Filters.pairs`, so a filtered page stays
bookmarkable. A bad value is a 400 naming the parameter.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import Depends, Query, Request

from cxlens.errors import ParameterError
from cxlens.metrics.filters import Filters
from cxlens.store.segments import saved_segment_names
from cxlens.web.deps import current_workspace

__all__ = ["FILTER_DIMENSIONS", "Filters", "FiltersDep", "filters_dep", "parse_date", "split_values"]

#: the dimension parameters, in the order pages show their menus
FILTER_DIMENSIONS = ("channel", "touchpoint", "stage", "segment")


def split_values(values: list[str] | None) -> list[str]:
    """Repeated and comma-separated query values as one list (``?by=a,b&by=c`` → ``[a, b, c]``)."""
    out: list[str] = []
    for v in values or []:
        out.extend(p.strip() for p in v.split(",") if p.strip())
    return out


def parse_date(param: str, value: str | None) -> dt.date | None:
    """A ``YYYY-MM-DD`` query value (empty: not set); a 400 naming ``param`` otherwise."""
    if value is None or not value.strip():
        return None
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise ParameterError(
            param, f"query parameter {param!r} is {value!r}; expected a date such as 2024-01-31"
        ) from None


def filters_dep(
    request: Request,
    start: Annotated[str | None, Query(description="From this date (YYYY-MM-DD).", examples=["2024-01-01"])] = None,
    end: Annotated[
        str | None, Query(description="Until this date (YYYY-MM-DD, exclusive).", examples=["2024-07-01"])
    ] = None,
    channel: Annotated[list[str] | None, Query(description="Only these channels.")] = None,
    touchpoint: Annotated[list[str] | None, Query(description="Only these touchpoints.")] = None,
    stage: Annotated[list[str] | None, Query(description="Only these journey stages.")] = None,
    segment: Annotated[list[str] | None, Query(description="Only customers in these segments (trait).")] = None,
    saved_segment: Annotated[
        str | None, Query(description="Only members of this saved segment (`cxlens segments list`).")
    ] = None,
) -> Filters:
    """The request's filters (a FastAPI dependency); empty values mean "not set"."""
    s, e = parse_date("start", start), parse_date("end", end)
    if s and e and s >= e:
        raise ParameterError(
            "end",
            f"query parameter 'end' ({e.isoformat()}) is not after 'start' ({s.isoformat()}); expected start < end",
        )
    dims: dict[str, str | list[str]] = {}
    for dim, values in zip(FILTER_DIMENSIONS, (channel, touchpoint, stage, segment), strict=True):
        for v in values or []:
            if "\x00" in v:
                raise ParameterError(dim, f"query parameter {dim!r} contains a NUL character; remove it")
        items = split_values(values)
        if items:
            dims[dim] = items[0] if len(items) == 1 else items
    saved = (saved_segment or "").strip() or None
    if saved is not None:
        known = saved_segment_names(current_workspace(request))
        if saved not in known:
            shown = ", ".join(repr(k) for k in known[:10]) or "none yet"
            raise ParameterError(
                "saved_segment",
                f"query parameter 'saved_segment' is {saved!r}; expected one of the saved segments ({shown})",
            )
    return Filters.of(start=s, end=e, filters=dims, segment=saved)


#: the request's :class:`Filters`, for route signatures
FiltersDep = Annotated[Filters, Depends(filters_dep)]
