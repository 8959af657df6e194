"""``/api/v1/customers`` and ``/api/v1/personas``: the customers list, the customer 360 and personas as JSON.

Routes parse parameters and call :mod:`cxlens.customers` (the list is
:func:`cxlens.customers.listing.customer_list`; saved segments :func:`~cxlens.customers.listing.segment_summary`).

Read-only: erasure (``cxlens customer erase``) is not offered on the web until the dashboard has
authentication and roles, and for the same reason PII is always masked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request

from cxlens.customers import listing as _listing
from cxlens.customers.view import TIMELINE_SHOWN, customer_view
from cxlens.errors import ParameterError
from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import ALL_DATA, cached_view, run_on_workspace

__all__ = [
    "PER_PAGE",
    "SORTS",
    "TIMELINE_SHOWN",
    "CustomerListQuery",
    "customer_list",
    "customer_list_query",
    "customer_view",
    "persona_cards",
    "router",
    "segment_rows",
]

router = APIRouter(prefix="/api/v1", tags=["customers"])

#: rows per page of the customers list
PER_PAGE = 50
#: timeline items shown on the customer 360 (the latest ones)
#: sort keys of the list (column, descending by default)
SORTS = _listing.SORTS
RISK_BANDS = _listing.RISK_BANDS
#: the list's columns
LIST_COLUMNS = _listing.LIST_COLUMNS
_FIELDS = ("segment", "saved_segment", "country", "plan", "clv_min", "clv_max", "risk", "sort", "order", "page")


@dataclass(frozen=True)
class CustomerListQuery:
    """Checked parameters of the customers list."""

    segment: str | None = None
    country: str | None = None
    plan: str | None = None
    sort: str = "monetary"
    order: str = "desc"
    page: int = 1
    saved_segment: str | None = None
    clv_min: float | None = None
    clv_max: float | None = None
    risk: str | None = None

    def pairs(self, **override: Any) -> list[tuple[str, str]]:
        d = {k: getattr(self, k) for k in _FIELDS} | override
        return [(k, f"{v:g}" if isinstance(v, float) else str(v)) for k, v in d.items() if v not in (None, "")]

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments of :func:`cxlens.customers.listing.customer_list`."""
        return {k: getattr(self, k) for k in _FIELDS}


def _float(name: str, v: str | None) -> float | None:
    if v is None or not v.strip():
        return None
    try:
        x = float(v)
    except ValueError:
        x = float("nan")
    if x != x or x in (float("inf"), float("-inf")):
        raise ParameterError(name, f"query parameter {name!r} is {v!r}; expected a number such as 100")
    return x


def customer_list_query(
    segment: Annotated[str | None, Query(description="RFM segment, e.g. Champions.")] = None,
    country: Annotated[str | None, Query(description="customers.country, e.g. GB.")] = None,
    plan: Annotated[str | None, Query(description="customers.plan.")] = None,
    sort: Annotated[str, Query(description="monetary, recency, clv or risk.")] = "monetary",
    order: Annotated[str | None, Query(description="desc or asc (default: highest value / most recent first).")] = None,
    page: Annotated[str, Query(description="Page number, from 1 (50 rows per page).")] = "1",
    saved_segment: Annotated[str | None, Query(description="Members of this saved segment only.")] = None,
    clv_min: Annotated[str | None, Query(description="Predicted 52-week CLV at least this.")] = None,
    clv_max: Annotated[str | None, Query(description="Predicted 52-week CLV at most this.")] = None,
    risk: Annotated[str | None, Query(description="Churn-risk band: low, medium or high.")] = None,
) -> CustomerListQuery:
    """Parse and check the list parameters; a bad one is a 400 naming it."""
    if sort not in SORTS:
        raise ParameterError("sort", f"query parameter 'sort' is {sort!r}; expected one of {', '.join(SORTS)}")
    if order in (None, ""):
        order = "desc" if SORTS[sort][1] else "asc"
    if order not in ("asc", "desc"):
        raise ParameterError("order", f"query parameter 'order' is {order!r}; expected asc or desc")
    try:
        n = int(page)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise ParameterError("page", f"query parameter 'page' is {page!r}; expected a whole number from 1")
    if risk not in (None, "") and risk not in RISK_BANDS:
        raise ParameterError("risk", f"query parameter 'risk' is {risk!r}; expected one of {', '.join(RISK_BANDS)}")
    return CustomerListQuery(
        segment or None, country or None, plan or None, sort, order, n, saved_segment or None,
        _float("clv_min", clv_min), _float("clv_max", clv_max), risk or None,
    )  # fmt: skip


def customer_list(ws: Any, q: CustomerListQuery, *, per_page: int = PER_PAGE) -> dict[str, Any]:
    """:func:`cxlens.customers.listing.customer_list` for a parsed query."""
    return _listing.customer_list(ws, **q.kwargs(), per_page=per_page)


def segment_rows(ws: Any) -> pd.DataFrame:
    """Saved segments (:func:`cxlens.customers.listing.segment_summary`)."""
    return _listing.segment_summary(ws)


def persona_cards(ws: Any) -> pd.DataFrame:
    """One card per RFM segment (:func:`cxlens.report.stored_pages.persona_cards`), as the
    ``personas.views`` job stored them when fresh, else computed now."""
    from cxlens.report.stored_pages import persona_cards as compute
    from cxlens.report.stored_pages import stored_persona_cards

    stored = stored_persona_cards(ws.store)
    return stored if stored is not None else compute(ws.store)


# -- JSON endpoints -------------------------------------------------------------------------------
@router.get(
    "/customers", summary="Customers list", description="RFM segment, country, plan, predicted CLV and churn risk."
)
async def customers(
    request: Request,
    segment: Annotated[str | None, Query(description="RFM segment, e.g. Champions.")] = None,
    country: Annotated[str | None, Query(description="customers.country.")] = None,
    plan: Annotated[str | None, Query(description="customers.plan.")] = None,
    sort: Annotated[str, Query(description="monetary, recency, clv or risk.")] = "monetary",
    order: Annotated[str | None, Query(description="desc or asc.")] = None,
    page: Annotated[str, Query(description="Page number, from 1.")] = "1",
    saved_segment: Annotated[str | None, Query(description="Members of this saved segment only.")] = None,
    clv_min: Annotated[str | None, Query(description="Predicted CLV at least this.")] = None,
    clv_max: Annotated[str | None, Query(description="Predicted CLV at most this.")] = None,
    risk: Annotated[str | None, Query(description="Churn-risk band: low, medium or high.")] = None,
) -> dict[str, Any]:
    q = customer_list_query(segment, country, plan, sort, order, page, saved_segment, clv_min, clv_max, risk)
    out = await cached_view(request, "api-customers", q, ALL_DATA, lambda ws: customer_list(ws, q))
    return {"analysis": "customers", "params": dict(q.pairs()), "total": out["total"], "page": out["page"],
            "pages": out["pages"], "rows": jsonable(out["rows"])}  # fmt: skip


@router.get("/customers/{customer_id:path}", summary="Customer 360", description="`customer_profile`, PII masked.")
async def customer(request: Request, customer_id: str) -> dict[str, Any]:
    p = await cached_view(request, "api-customer", customer_id, ALL_DATA, lambda ws: customer_view(ws, customer_id))
    return jsonable(p)


@router.get("/personas", summary="Personas", description="One card per RFM segment: `personas(ws)`.")
async def persona_list(request: Request) -> dict[str, Any]:
    df = await cached_view(request, "api-personas", None, ALL_DATA, persona_cards)
    return {"analysis": "personas", "params": {}, "rows": jsonable(df)}


@router.get("/segments", summary="Saved segments", description="`segment_summary(ws)`: size, value, NPS/CSAT, risk.")
async def segment_list(request: Request) -> dict[str, Any]:
    df = await run_on_workspace(request, segment_rows)
    return {"analysis": "segments", "params": {}, "rows": jsonable(df)}


@router.get(
    "/revenue-at-risk",
    summary="Revenue at risk",
    description="`stored_revenue_at_risk(ws, by)`: predicted CLV × churn risk of the customers who raised each "
    "pain point, ranked, with a 95% bootstrap interval — from the stored model scores (`as_of` says when they were "
    "fitted; `rows` is empty and `note` says why until a background job has fitted them).",
)
async def revenue_at_risk_rows(
    request: Request,
    by: Annotated[str, Query(description="theme, touchpoint or auto.")] = "auto",
    start: Annotated[str | None, Query(description="Answers from this date (YYYY-MM-DD).")] = None,
    end: Annotated[str | None, Query(description="Answers before this date (YYYY-MM-DD, exclusive).")] = None,
) -> dict[str, Any]:
    from cxlens.customers.risk import BY, stored_revenue_at_risk

    if by not in (*BY, "auto"):
        raise ParameterError("by", f"query parameter 'by' is {by!r}; expected theme, touchpoint or auto")
    df, as_of, note = await cached_view(
        request, "api-revenue-at-risk", (by, start, end), ALL_DATA,
        lambda ws: stored_revenue_at_risk(ws, by, start=start or None, end=end or None),
    )  # fmt: skip
    params = {"by": df.columns[0] if df is not None else by}
    rows = jsonable(df) if df is not None else []
    return {"analysis": "revenue_at_risk", "params": params, "as_of": as_of, "note": note, "rows": rows}
