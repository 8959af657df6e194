"""``/api/v1/customers`` and ``/api/v1/personas``: the customers list, the customer 360 and personas as JSON.

Routes parse parameters and call :mod:`cxlens.customers`; the one composition the library does not
offer yet — :func:`customer_list`, RFM segments joined to the customers' country and plan, filtered,
sorted and paginated — lives here as a thin adapter (to move into ``cxlens.customers``).

Read-only: erasure (``cxlens customer erase``) is not offered on the web until the dashboard has
authentication and roles, and for the same reason PII is always masked here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Query, Request

from cxlens.customers.personas import personas
from cxlens.customers.profile import customer_profile
from cxlens.customers.segments import rfm_segments
from cxlens.web.api.journeys import run_locked
from cxlens.web.api.metrics import _param_error, jsonable

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
]

router = APIRouter(prefix="/api/v1", tags=["customers"])

#: rows per page of the customers list
PER_PAGE = 50
#: timeline items shown on the customer 360 (the latest ones)
TIMELINE_SHOWN = 200
#: sort key → (rfm_segments column, descending by default)
SORTS = {"monetary": ("monetary", True), "recency": ("recency_days", False)}
#: the list's columns: rfm_segments' plus the customers' country and plan
LIST_COLUMNS = ["customer_id", "segment", "rfm", "recency_days", "frequency", "monetary", "r_score", "f_score",
                "m_score", "country", "plan"]  # fmt: skip


@dataclass(frozen=True)
class CustomerListQuery:
    """Checked parameters of the customers list."""

    segment: str | None = None
    country: str | None = None
    plan: str | None = None
    sort: str = "monetary"
    order: str = "desc"
    page: int = 1

    def pairs(self, **override: Any) -> list[tuple[str, str]]:
        d = {"segment": self.segment, "country": self.country, "plan": self.plan, "sort": self.sort,
             "order": self.order, "page": self.page, **override}  # fmt: skip
        return [(k, str(v)) for k, v in d.items() if v not in (None, "")]


def customer_list_query(
    segment: Annotated[str | None, Query(description="RFM segment, e.g. Champions.")] = None,
    country: Annotated[str | None, Query(description="customers.country, e.g. GB.")] = None,
    plan: Annotated[str | None, Query(description="customers.plan.")] = None,
    sort: Annotated[str, Query(description="monetary or recency.")] = "monetary",
    order: Annotated[str | None, Query(description="desc or asc (default: highest value / most recent first).")] = None,
    page: Annotated[str, Query(description="Page number, from 1 (50 rows per page).")] = "1",
) -> CustomerListQuery:
    """Parse and check the list parameters; a bad one is a 400 naming it."""
    if sort not in SORTS:
        raise _param_error("sort", f"query parameter 'sort' is {sort!r}; expected one of {', '.join(SORTS)}")
    if order in (None, ""):
        order = "desc" if SORTS[sort][1] else "asc"
    if order not in ("asc", "desc"):
        raise _param_error("order", f"query parameter 'order' is {order!r}; expected asc or desc")
    try:
        n = int(page)
    except (TypeError, ValueError):
        n = 0
    if n < 1:
        raise _param_error("page", f"query parameter 'page' is {page!r}; expected a whole number from 1")
    return CustomerListQuery(segment or None, country or None, plan or None, sort, order, n)


def customer_list(ws: Any, q: CustomerListQuery, *, per_page: int = PER_PAGE) -> dict[str, Any]:
    """RFM segments with country and plan, filtered, sorted and paginated.

    Returns ``{"rows": DataFrame (LIST_COLUMNS), "total", "page", "pages", "options"}`` where
    ``options`` lists the values each filter offers. Ties are broken by ``customer_id``.
    TODO(library): move into ``cxlens.customers`` (a ``customer_list`` next to ``rfm_segments``).
    """
    rfm = rfm_segments(ws)
    cu = ws.table("customers").select("customer_id", "country", "plan").execute()
    df = rfm.merge(cu, on="customer_id", how="left")
    options = {
        "segment": sorted(df["segment"].dropna().unique().tolist()),
        "country": sorted(df["country"].dropna().astype(str).unique().tolist()),
        "plan": sorted(df["plan"].dropna().astype(str).unique().tolist()),
    }
    for col in ("segment", "country", "plan"):
        value = getattr(q, col)
        if value is not None:
            df = df[df[col].astype(str) == value]
    col, _ = SORTS[q.sort]
    df = df.sort_values([col, "customer_id"], ascending=[q.order == "asc", True], kind="mergesort")
    total = len(df)
    pages = max(1, -(-total // per_page))
    rows = df.iloc[(q.page - 1) * per_page : q.page * per_page].reindex(columns=LIST_COLUMNS).reset_index(drop=True)
    return {"rows": rows, "total": total, "page": q.page, "pages": pages, "options": options}


def customer_view(ws: Any, customer_id: str, *, shown: int = TIMELINE_SHOWN, show_pii: bool = False) -> dict[str, Any]:
    """The customer 360 (PII masked unless ``show_pii``: the page passes it for roles that may see
    PII), its latest ``shown`` timeline items (newest first) and the customer's RFM row (``None``
    without counted orders)."""
    p = customer_profile(ws, customer_id, show_pii=show_pii)
    tl = p["timeline"]
    p["timeline_total"] = len(tl)
    p["timeline"] = tl.iloc[::-1].head(shown).reset_index(drop=True)
    try:
        rfm = rfm_segments(ws)
    except Exception:  # noqa: BLE001 — a workspace without orders has no RFM
        rfm = pd.DataFrame(columns=["customer_id"])
    hit = rfm[rfm["customer_id"] == p["customer_id"]]
    p["rfm"] = hit.iloc[0].to_dict() if len(hit) else None
    return p


def persona_cards(ws: Any) -> pd.DataFrame:
    """One card per RFM segment (:func:`cxlens.customers.personas.personas`)."""
    return personas(ws)


# -- JSON endpoints -------------------------------------------------------------------------------
@router.get("/customers", summary="Customers list", description="RFM segment per customer with country and plan.")
async def customers(
    request: Request,
    segment: Annotated[str | None, Query(description="RFM segment, e.g. Champions.")] = None,
    country: Annotated[str | None, Query(description="customers.country.")] = None,
    plan: Annotated[str | None, Query(description="customers.plan.")] = None,
    sort: Annotated[str, Query(description="monetary or recency.")] = "monetary",
    order: Annotated[str | None, Query(description="desc or asc.")] = None,
    page: Annotated[str, Query(description="Page number, from 1.")] = "1",
) -> dict[str, Any]:
    q = customer_list_query(segment, country, plan, sort, order, page)
    out = await run_locked(request, lambda ws: customer_list(ws, q))
    return {"analysis": "customers", "params": dict(q.pairs()), "total": out["total"], "page": out["page"],
            "pages": out["pages"], "rows": jsonable(out["rows"])}  # fmt: skip


@router.get("/customers/{customer_id:path}", summary="Customer 360", description="`customer_profile`, PII masked.")
async def customer(request: Request, customer_id: str) -> dict[str, Any]:
    p = await run_locked(request, lambda ws: customer_view(ws, customer_id))
    return jsonable(p)


@router.get("/personas", summary="Personas", description="One card per RFM segment: `personas(ws)`.")
async def persona_list(request: Request) -> dict[str, Any]:
    df = await run_locked(request, persona_cards)
    return {"analysis": "personas", "params": {}, "rows": jsonable(df)}
