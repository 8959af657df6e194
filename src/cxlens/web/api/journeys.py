"""``/api/v1/journeys/{funnel,paths,flows,dropoff,map,consistency,canvas}``: ``ws.journeys`` as JSON rows.

Every endpoint takes the date and filter parameters of the metric endpoints (``start``,
``end``, ``channel``, ``touchpoint``, ``stage``, ``segment``) plus its own, and answers
``{"analysis": name, "params": {...}, "rows": [...]}``: the tidy table of the ``ws.journeys``
method of the same meaning, NaN as ``null``. Parameters are checked here with the library's
own parsers, so a bad one is a 400/422 JSON error naming it (``"param": "window"``).

The dashboard pages (:mod:`cxlens.web.pages.journeys`) parse their
query strings with the same functions.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from cxlens.errors import ConfigError, ParameterError
from cxlens.metrics.filters import Filters
from cxlens.web.api.metrics import jsonable
from cxlens.web.deps import ALL_DATA, EVENT_DATA, cached_view, run_on_workspace
from cxlens.web.params import FiltersDep, split_values

__all__ = [
    "FunnelParams",
    "CANVAS_MEDIA",
    "canvas_bytes",
    "canvas_view",
    "cell_feedback",
    "dropped_customers",
    "event_names",
    "PATH_FIELDS",
    "funnel_params",
    "router",
]

router = APIRouter(prefix="/api/v1/journeys", tags=["journeys"])

Order = Literal["sequential", "strict", "any"]
Ties = Literal["strict", "allow"]
TimeBasis = Literal["chain", "first"]
#: events columns a path can be drawn over
PATH_FIELDS = ("name", "touchpoint", "channel", "stage")
PathField = Literal["name", "touchpoint", "channel", "stage"]
MAX_STEPS = 10


def check_window(value: str | None, *, default: str | None = None) -> str | None:
    """A conversion window as given (``"7d"``) after checking it parses; errors name ``window``."""
    from cxlens.journeys.funnels import parse_window

    value = (value or "").strip() or default
    if value is None:
        return None
    try:
        parse_window(value)
    except ConfigError as exc:
        raise ParameterError(
            "window", f"query parameter 'window' is {value!r}; {str(exc).split('; ', 1)[-1]}"
        ) from None
    return value


def check_steps(values: list[str] | None, *, minimum: int = 1) -> list[Any]:
    """Funnel steps from repeated ``steps`` parameters and/or ``a>b>c``, or one JSON list of names
    and ``{"name": ..., "where": {...}}`` objects; errors name ``steps``."""
    from cxlens.journeys.funnels import parse_steps

    steps: list[Any] = []
    for v in values or []:
        if v.lstrip().startswith("["):
            try:
                steps.extend(parse_steps(v))
            except ConfigError as exc:
                raise ParameterError("steps", f"query parameter 'steps': {exc}") from None
            continue
        steps.extend(p.strip() for p in v.replace("→", ">").replace(",", ">").split(">") if p.strip())
    if len(steps) < minimum:
        raise ParameterError(
            "steps",
            f"query parameter 'steps' gives {len(steps)} step(s); expected at least {minimum}, "
            "e.g. steps=visit>add_to_cart>purchase",
        )
    if len(steps) > MAX_STEPS:
        raise ParameterError("steps", f"query parameter 'steps' gives {len(steps)} steps; expected at most {MAX_STEPS}")
    return steps


def check_by(ws: Any, values: list[str] | None) -> list[str]:
    """Breakdown columns: events or customers columns; errors name ``by``."""
    by = split_values(values)
    known = set(ws.table("events").columns) | set(ws.table("customers").columns)
    for b in by:
        if b not in known:
            raise ParameterError(
                "by",
                f"query parameter 'by' is {b!r}; expected an events or customers column such as "
                "channel, touchpoint, segment or plan",
            )
    return by


@dataclass(frozen=True)
class FunnelParams:
    """A funnel request: the arguments of ``ws.journeys.funnel`` (besides dates and filters)."""

    steps: list[Any]
    window: str = "14d"
    order: str = "sequential"
    by: list[str] = field(default_factory=list)
    ties: str = "strict"
    time_basis: str = "chain"

    def kwargs(self) -> dict[str, Any]:
        out: dict[str, Any] = {"window": self.window, "order": self.order, "by": list(self.by) or None}
        if self.ties != "strict":
            out["ties"] = self.ties
        if self.time_basis != "chain":
            out["time_basis"] = self.time_basis
        return out

    def key(self) -> tuple:
        """A hashable cache key (steps may be dicts)."""
        return (
            json.dumps(self.steps, sort_keys=True),
            self.window,
            self.order,
            tuple(self.by),
            self.ties,
            self.time_basis,
        )

    def run(self, ws: Any, f: Filters) -> Any:
        """``ws.journeys.funnel`` for these parameters (checks ``by`` against the workspace first)."""
        check_by(ws, self.by)
        return ws.journeys.funnel(self.steps, **self.kwargs(), **f.kwargs())

    def pairs(self) -> list[tuple[str, str]]:
        if all(isinstance(s, str) for s in self.steps):
            out = [("steps", s) for s in self.steps]
        else:
            out = [("steps", json.dumps(self.steps))]
        out += [("window", self.window), ("order", self.order)]
        out += [(k, v) for k, v in (("ties", self.ties), ("time_basis", self.time_basis)) if k in self.kwargs()]
        return out + [("by", b) for b in self.by]


def funnel_params(
    steps: Annotated[
        list[str] | None,
        Query(description="Steps in order: repeat the parameter or write visit>add_to_cart>purchase."),
    ] = None,
    window: Annotated[str | None, Query(description="Conversion window: 30m, 12h, 14d, 2w, 3mo.")] = None,
    order: Annotated[Order, Query(description="sequential, strict or any.")] = "sequential",
    by: Annotated[list[str] | None, Query(description="Breakdown columns (channel, segment, …).")] = None,
    ties: Annotated[
        Ties, Query(description="strict: equal timestamps never advance (ClickHouse); allow: they may (PostHog).")
    ] = "strict",
    time_basis: Annotated[
        TimeBasis, Query(description="Time to convert along the converting chain (PostHog) or between first reaches.")
    ] = "chain",
) -> FunnelParams:
    """Parse and check the funnel parameters (a FastAPI dependency)."""
    p = FunnelParams(
        steps=check_steps(steps, minimum=1),
        window=check_window(window, default="14d") or "14d",
        order=order,
        by=split_values(by),
        ties=ties,
        time_basis=time_basis,
    )
    if ties == "allow" and order == "strict":
        raise ParameterError("ties", "query parameter 'ties' is 'allow'; strict order needs ties=strict")
    return p


def _answer(name: str, params: dict[str, Any], rows: Any) -> dict[str, Any]:
    data = jsonable(rows)
    return {"analysis": name, "params": jsonable(params), "rows": data if isinstance(data, list) else [data]}


@router.get("/funnel", summary="Funnel", description="Customers reaching each step: `ws.journeys.funnel`.")
async def funnel(request: Request, f: FiltersDep, p: Annotated[FunnelParams, Depends(funnel_params)]) -> dict[str, Any]:
    key = (*p.key(), f)
    df = await cached_view(request, "api-funnel", key, EVENT_DATA, lambda ws: p.run(ws, f))
    return _answer("funnel", {**p.kwargs(), "steps": p.steps, **f.kwargs()}, df)


@router.get(
    "/funnel/dropped",
    summary="Funnel drop-off list",
    description="Customers who reached step `step` but not the next (`FunnelQuery.dropped_customers`).",
)
async def funnel_dropped(
    request: Request,
    f: FiltersDep,
    p: Annotated[FunnelParams, Depends(funnel_params)],
    step: Annotated[int, Query(ge=1, description="The step they reached (1-based); they did not reach step+1.")],
    limit: Annotated[int, Query(ge=1, le=100_000, description="At most this many customers.")] = 1000,
) -> dict[str, Any]:
    check_dropped_step(p, step)
    df = await run_on_workspace(request, lambda ws: dropped_customers(ws, p, f, step, limit=limit))
    params = {"steps": p.steps, "step": step, **p.kwargs(), **f.kwargs(), "total": df.attrs["total"]}
    return _answer("funnel_dropped", params, df)


def check_dropped_step(p: FunnelParams, step: int) -> None:
    if not 1 <= step < len(p.steps):
        raise ParameterError(
            "step", f"query parameter 'step' is {step}; expected 1 to {len(p.steps) - 1} (a step with a next step)"
        )


From = Annotated[str | None, Query(alias="from", description="Paths starting at this event (or touchpoint).")]
Field = Annotated[PathField, Query(description="What a step is: an event name, touchpoint, channel or stage.")]


@router.get("/paths", summary="Top paths", description="Top paths from or to an event: `ws.journeys.paths`.")
async def paths(
    request: Request,
    f: FiltersDep,
    from_event: From = None,
    to: Annotated[str | None, Query(description="Paths leading to this event.")] = None,
    steps: Annotated[int, Query(ge=1, le=MAX_STEPS, description="Steps per path.")] = 3,
    top: Annotated[int, Query(ge=1, le=500, description="Most frequent paths to return.")] = 20,
    field: Field = "name",
    window: Annotated[str | None, Query(description="Only steps within this long of the first: 30m, 1d.")] = None,
    goal: Annotated[str | None, Query(description="Also report the share of each path reaching this event.")] = None,
) -> dict[str, Any]:
    kw = {"steps": steps, "top": top, "field": field, "window": check_window(window), "goal": goal or None}
    df = await cached_view(
        request, "api-paths", (from_event, to, tuple(sorted(kw.items())), f), EVENT_DATA,
        lambda ws: ws.journeys.paths(from_event or None, to or None, **kw, where=f),
    )  # fmt: skip
    return _answer("paths", {"from": from_event, "to": to, **kw, **f.kwargs()}, df)


@router.get("/flows", summary="Flows", description="Edges between consecutive steps, for a Sankey chart.")
async def flows(
    request: Request,
    f: FiltersDep,
    from_event: From = None,
    steps: Annotated[int, Query(ge=2, le=MAX_STEPS, description="Steps (columns) of the Sankey.")] = 4,
    field: Field = "name",
    window: Annotated[str | None, Query(description="Only steps within this long of the first.")] = None,
) -> dict[str, Any]:
    kw = {"steps": steps, "field": field, "window": check_window(window)}
    df = await cached_view(
        request,
        "api-flows",
        (from_event, tuple(sorted(kw.items())), f),
        EVENT_DATA,
        lambda ws: ws.journeys.flows(from_event or None, **kw, where=f),
    )
    return _answer("flows", {"from": from_event, **kw, **f.kwargs()}, df)


@router.get(
    "/dropoff",
    summary="Right before leaving",
    description="What customers who never reached `goal` did last: `ws.journeys.last_before_dropoff`.",
)
async def dropoff(
    request: Request,
    f: FiltersDep,
    goal: Annotated[list[str], Query(description="The goal event(s), e.g. purchase.")],
    from_event: From = None,
    window: Annotated[str | None, Query(description="Only customers' events within this long of the start.")] = None,
    top: Annotated[int, Query(ge=1, le=500)] = 20,
) -> dict[str, Any]:
    goals = split_values(goal)
    if not goals:
        raise ParameterError("goal", "query parameter 'goal' is empty; expected an event name such as purchase")
    kw = {"from_event": from_event or None, "window": check_window(window), "top": top}
    target = goals[0] if len(goals) == 1 else goals
    df = await cached_view(
        request,
        "api-dropoff",
        (tuple(goals), tuple(sorted(kw.items())), f),
        EVENT_DATA,
        lambda ws: ws.journeys.last_before_dropoff(target, **kw, where=f),
    )
    return _answer("dropoff", {"goal": goals, **kw, **f.kwargs()}, df)


@router.get("/map", summary="Journey map", description="Stage × touchpoint map with the pain score: `ws.journeys.map`.")
async def journey_map(
    request: Request,
    f: FiltersDep,
    window: Annotated[str | None, Query(description="Count a conversion only within this long: 30d.")] = None,
) -> dict[str, Any]:
    kw = {"window": check_window(window)}
    df = await cached_view(
        request, "api-map", (f, tuple(sorted(kw.items()))), ALL_DATA, lambda ws: ws.journeys.map(where=f, **kw)
    )
    return _answer("map", {**kw, **f.kwargs()}, df)


@router.get(
    "/consistency",
    summary="Channel consistency",
    description="The same touchpoint compared across channels: `ws.journeys.channel_consistency`.",
)
async def consistency(
    request: Request,
    f: FiltersDep,
    metric: Annotated[list[Literal["nps", "csat", "ces"]] | None, Query(description="nps, csat, ces.")] = None,
) -> dict[str, Any]:
    kw = {"metrics": list(metric)} if metric else {}
    df = await cached_view(
        request,
        "api-consistency",
        (f, tuple(sorted(kw.items()))),
        ALL_DATA,
        lambda ws: ws.journeys.channel_consistency(where=f, **kw),
    )
    return _answer("consistency", {**kw, **f.kwargs()}, df)


#: media types of the journey map exports
CANVAS_MEDIA = {"svg": "image/svg+xml", "png": "image/png", "pdf": "application/pdf"}


def canvas_view(ws: Any, f: Filters, persona: str | None) -> Any:
    """The wall journey map (:meth:`WorkspaceJourneys.canvas`) for these filters, or a persona's."""
    if persona and f.saved_segment:
        raise ParameterError("persona", "give persona or saved_segment, not both")
    k = f.kwargs()
    return ws.journeys.canvas(k["start"], k["end"], k["filters"], segment=k["segment"], persona=persona or None)


def canvas_bytes(canvas: Any, fmt: str) -> bytes:
    """The canvas as SVG, PNG or PDF bytes."""
    from cxlens.report.journey_canvas import render

    return render(canvas, fmt)


Persona = Annotated[str | None, Query(description="Only this persona's customers: an RFM segment saved as rfm:<name>.")]


@router.get(
    "/canvas",
    summary="Journey map (wall view)",
    description="Stages in order with touchpoints (volume, drop-off), emotion (sentiment, NPS, CSAT with 95% CIs), "
    "pain points, revenue at risk and a quote per stage, and the biggest fixable gaps: `ws.journeys.canvas`.",
)
async def canvas(request: Request, f: FiltersDep, persona: Persona = None) -> dict[str, Any]:
    from dataclasses import asdict

    c = await cached_view(request, "api-canvas", (f, persona), ALL_DATA, lambda ws: canvas_view(ws, f, persona))
    return {"analysis": "canvas", "params": {"persona": persona, **f.kwargs()}, **jsonable(asdict(c))}


@router.get(
    "/canvas.{fmt}",
    summary="Journey map export",
    description="The wall journey map as an SVG, PNG or PDF file (for slides).",
    response_class=Response,
)
async def canvas_export(
    request: Request, fmt: Literal["svg", "png", "pdf"], f: FiltersDep, persona: Persona = None
) -> Response:
    c = await cached_view(request, "api-canvas", (f, persona), ALL_DATA, lambda ws: canvas_view(ws, f, persona))
    data = await run_on_workspace(request, lambda ws: canvas_bytes(c, fmt))
    headers = {"Content-Disposition": f'attachment; filename="journey-map.{fmt}"'}
    return Response(data, media_type=CANVAS_MEDIA[fmt], headers=headers)


# -- thin adapters from request parameters to ws.journeys ------------------------------------


def event_names(ws: Any, field: str = "name") -> list[str]:
    """Distinct values of an events column, most frequent first (:meth:`Journeys.event_names`)."""
    return ws.journeys.event_names(field)


def dropped_customers(ws: Any, p: FunnelParams, f: Filters, step: int, *, limit: int | None = 1000) -> Any:
    """The drop-off list at funnel step ``step`` (:meth:`Journeys.dropped`), after checking the parameters."""
    check_by(ws, p.by)
    check_dropped_step(p, step)
    return ws.journeys.dropped(
        p.steps, step, window=p.window, order=p.order, ties=p.ties, time_basis=p.time_basis, **f.kwargs(), limit=limit
    )


def cell_feedback(ws: Any, stage: str | None, touchpoint: str | None, f: Filters, *, limit: int = 20) -> dict[str, Any]:
    """The feedback behind one journey-map cell (:meth:`Journeys.cell`)."""
    return ws.journeys.cell(stage, touchpoint, **f.kwargs(), limit=limit)
