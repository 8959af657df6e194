"""``/api/v1/metrics/{metric}``: every ``ws.metrics`` table as JSON rows.

Each endpoint takes the same query parameters (``by``, ``period``, ``start``, ``end`` and the
filters ``channel``, ``touchpoint``, ``stage``, ``segment``) and returns ``{"metric": ...,
"rows": [...]}`` — the tidy table, NaN as ``null`` and dates as ISO strings.
"""

from __future__ import annotations

import datetime as dt
import inspect
import math
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, Query, Request

from cxlens.errors import NotFoundError, ParameterError
from cxlens.web.deps import ALL_DATA, cached_view
from cxlens.web.params import Filters, FiltersDep, split_values

__all__ = ["METRICS", "MetricQuery", "jsonable", "metric_query", "router", "run_metric"]

router = APIRouter(prefix="/api/v1/metrics", tags=["metrics"])

#: Endpoint name → what it returns (the ``ws.metrics`` method of the same name).
METRICS: dict[str, str] = {
    "nps": "Net Promoter Score: nps, n, promoter/passive/detractor counts and shares, 95% CI, small_sample.",
    "csat": "Customer satisfaction (share of 4–5 answers, 0–100): csat, n, satisfied, 95% CI, mean_score.",
    "ces": "Customer effort score: ces, n, share_easy, 95% CI.",
    "churn": "Churn rate per period: churn_rate, n, churned, 95% CI.",
    "value": "Orders, customers, revenue, average order value, repeat purchase rate.",
    "carts": "Cart abandonment: abandonment_rate, carts, completed, abandoned, 95% CI.",
    "support": "Support tickets: first response and resolution times (median, p90 hours), first-contact resolution.",
    "summary": "Headline KPIs with n and 95% CI for the selected dates and filters.",
}

Period = Literal["day", "week", "month", "quarter", "year"]


@dataclass(frozen=True)
class MetricQuery:
    """The parsed, validated query parameters shared by metric endpoints and pages: grouping, grain
    and the request's :class:`~cxlens.metrics.filters.Filters`."""

    by: list[str] | None = None
    period: str | None = None
    where: Filters = field(default_factory=Filters)

    @property
    def start(self) -> dt.date | None:
        return self.where.start  # type: ignore[return-value]

    @property
    def end(self) -> dt.date | None:
        return self.where.end  # type: ignore[return-value]

    def kwargs(self) -> dict[str, Any]:
        """Keyword arguments for a ``ws.metrics`` method (only those given)."""
        out: dict[str, Any] = {}
        if self.by:
            out["by"] = self.by[0] if len(self.by) == 1 else list(self.by)
        if self.period:
            out["period"] = self.period
        if not self.where.is_empty():
            out["where"] = self.where
        return out

    def query_string(self) -> str:
        """The filters and dates as a URL query string (for links and tests)."""
        return self.where.query_string()


def metric_query(
    where: FiltersDep,
    by: Annotated[
        list[str] | None,
        Query(description="Group by these columns (repeat or comma-separate), e.g. touchpoint,stage."),
    ] = None,
    period: Annotated[Period | None, Query(description="Time grain: one row per period start.")] = None,
) -> MetricQuery:
    """Parse the shared query parameters (a FastAPI dependency); empty values mean "not set"."""
    return MetricQuery(by=split_values(by) or None, period=period, where=where)


def run_metric(ws: Any, name: str, q: MetricQuery, **overrides: Any) -> Any:
    """Call ``ws.metrics.<name>`` with the query's arguments; an argument the metric does not
    take is an error naming the parameter."""
    if name not in METRICS:
        raise NotFoundError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
    fn = getattr(ws.metrics, name, None)
    if fn is None:
        raise NotFoundError(f"metric {name!r} is not available in this version of cxlens")
    kwargs = {k: v for k, v in q.kwargs().items() if k != "where"}
    kwargs.update({k: v for k, v in q.where.kwargs().items() if v is not None})  # each checked below
    kwargs.update(overrides)
    params = inspect.signature(fn).parameters
    takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
    if not takes_any:
        for key in list(kwargs):
            if key not in params:
                shown = {"filters": "channel/touchpoint/stage/segment", "segment": "saved_segment"}.get(key, key)
                raise ParameterError(
                    key,
                    f"query parameter {shown!r} is not supported by metric {name!r}; "
                    f"it takes {', '.join(p for p in params if p != 'self') or 'no parameters'}",
                )
    return fn(**kwargs)


def jsonable(value: Any) -> Any:
    """A metric result as JSON-ready Python: NaN/NaT → None, dates → ISO strings."""
    if isinstance(value, pd.DataFrame):
        return [{str(k): jsonable(v) for k, v in row.items()} for row in value.to_dict(orient="records")]
    if isinstance(value, pd.Series):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp | dt.datetime):
        ts = pd.Timestamp(value)
        return ts.date().isoformat() if ts == ts.normalize() else ts.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, pd.Timedelta | dt.timedelta):
        return pd.Timedelta(value).total_seconds()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    try:
        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    return value


def _rows(result: Any) -> list[dict[str, Any]]:
    data = jsonable(result)
    return data if isinstance(data, list) else [data]


async def _respond(request: Request, name: str, q: MetricQuery) -> dict[str, Any]:
    key = (name, tuple(q.by or ()), q.period, q.where)
    return await cached_view(
        request, "metric", key, ALL_DATA, lambda ws: {"metric": name, "rows": _rows(run_metric(ws, name, q))}
    )


def _endpoint(name: str):  # noqa: ANN202
    async def endpoint(request: Request, q: Annotated[MetricQuery, Depends(metric_query)]) -> dict[str, Any]:
        return await _respond(request, name, q)

    endpoint.__name__ = f"metric_{name}"
    return endpoint


@router.get("", summary="List the metric endpoints")
def list_metrics() -> dict[str, Any]:
    return {"metrics": [{"name": k, "path": f"/api/v1/metrics/{k}", "description": v} for k, v in METRICS.items()]}


for _name, _doc in METRICS.items():
    router.add_api_route(
        f"/{_name}",
        _endpoint(_name),
        methods=["GET"],
        summary=_name.upper() if len(_name) <= 3 else _name.capitalize(),
        description=_doc,
    )


@router.get("/{name}", include_in_schema=False)
def unknown_metric(name: str) -> None:
    raise NotFoundError(f"unknown metric {name!r}; expected one of {', '.join(METRICS)}")
