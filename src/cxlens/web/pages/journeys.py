"""Journey pages: the funnel builder (``/funnels``), paths (``/paths``) and the journey map (``/journey``).

Each page has an htmx fragment under ``/partials/...`` that its form swaps in (and that sets
``HX-Replace-Url`` so a view can be bookmarked); without JavaScript the forms reload the page.
Routes parse parameters with :mod:`cxlens.web.api.journeys`, call ``ws.journeys`` and turn the
tables into display rows; they compute nothing themselves.
"""

from __future__ import annotations

import math
from html import escape
from typing import Annotated, Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from cxlens.charts import to_vega_lite
from cxlens.errors import CxlensError, ParameterError
from cxlens.metrics.filters import Filters
from cxlens.report.exports import csv_text
from cxlens.web.api.journeys import (
    CANVAS_MEDIA,
    MAX_STEPS,
    PATH_FIELDS,
    FunnelParams,
    canvas_bytes,
    canvas_view,
    cell_feedback,
    check_dropped_step,
    check_window,
    dropped_customers,
    event_names,
    funnel_params,
)
from cxlens.web.auth import can_see
from cxlens.web.deps import ALL_DATA, EVENT_DATA, cached_view, run_on_workspace
from cxlens.web.pages import register
from cxlens.web.params import FiltersDep

funnels_router = register(APIRouter(include_in_schema=False), id="funnels", label="Funnels", path="/funnels", order=20)
paths_router = register(APIRouter(include_in_schema=False), id="paths", label="Paths", path="/paths", order=30)
map_router = register(APIRouter(include_in_schema=False), id="journey", label="Journey map", path="/journey", order=40)

#: breakdowns offered by the funnel builder (events columns first-touch, then customers columns)
BREAKDOWNS = ("channel", "touchpoint", "stage", "segment", "plan", "country")
#: rows shown in a drop-off list on the page (the CSV has them all)
DROPPED_SHOWN = 50


# -- formatting helpers -------------------------------------------------------------------------
def _ok(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def duration(seconds: Any) -> str:
    """Seconds as a short human duration: ``42 s``, ``3.7 min``, ``5.2 h``, ``7.6 d``."""
    if not _ok(seconds):
        return "—"
    s = float(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if s >= size:
            return f"{s / size:.1f} {unit}"
    return f"{s:.0f} s"


def share(v: Any) -> str:
    """A 0–1 share as a percent with one decimal."""
    return f"{100 * float(v):.1f}%" if _ok(v) else "—"


def _text(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _chart(id: str, title: str, chart: Any, description: str, empty: str) -> dict[str, Any]:  # noqa: A002
    return {"id": id, "title": title, "spec": to_vega_lite(chart) if chart is not None else None,
            "description": description, "empty": empty}  # fmt: skip


def _qs(*pairs: list[tuple[str, str]]) -> str:
    return urlencode([p for ps in pairs for p in ps if p[1] not in (None, "")])


def _render(
    request: Request, template: str, ctx: dict[str, Any], *, url: str | None = None, status: int = 200
) -> HTMLResponse:
    resp = request.app.state.templates.TemplateResponse(request, template, ctx, status_code=status)
    if url is not None:
        resp.headers["HX-Replace-Url"] = url
    return resp


def _filter_options(ws: Any, f: Filters) -> list[dict[str, Any]]:
    """Channel, segment and saved-segment menus (the values the overview offers)."""
    from cxlens.report.overview import filter_options

    out = []
    for opt in filter_options(ws, f):
        if opt.name in ("channel", "segment", "saved_segment"):
            out.append({"name": opt.name, "label": opt.label, "values": opt.values, "selected": opt.selected})
    return out


# -- funnels --------------------------------------------------------------------------------------
def _funnel_view(df: Any, p: FunnelParams, f: Filters) -> dict[str, Any]:
    from cxlens.journeys.charts import funnel_chart

    by = list(p.by)
    rows = []
    for r in df.to_dict(orient="records"):
        group = " · ".join("(none)" if r[b] is None else str(r[b]) for b in by) if by else None
        rows.append({
            "group": group, "step": int(r["step"]), "event": r["event"], "customers": f"{int(r['customers']):,}",
            "conversion": share(r["conversion"]), "step_conversion": share(r["step_conversion"]),
            "dropped": f"{int(r['dropped']):,}", "median": duration(r["median_seconds"]),
            "p90": duration(r["p90_seconds"]),
        })  # fmt: skip
    reached = int(df.loc[df["step"] == 1, "customers"].sum()) if len(df) else 0
    base = _qs(p.pairs(), f.pairs())
    drops = [
        {"step": k, "label": f"{k}. {p.steps[k - 1]} → {k + 1}. {p.steps[k]}",
         "partial": f"/partials/funnels/dropped?{base}&step={k}", "csv": f"/funnels/dropped.csv?{base}&step={k}"}
        for k in range(1, len(p.steps))
    ]  # fmt: skip
    chart = funnel_chart(df, title=None) if reached else None
    return {
        "by": by, "rows": rows, "drops": drops, "reached": reached, "query": base,
        "chart": _chart("funnel", "Customers per step", chart, "Funnel bars: customers reaching each step",
                        "No customer did the first step."),
    }  # fmt: skip


async def _funnel_context(request: Request, steps: list[str] | None, window: str | None, order: str,
                          by: list[str] | None, f: Filters, *, options: bool, ties: str = "strict",
                          time_basis: str = "chain") -> dict[str, Any]:  # fmt: skip
    picked = [s for s in (steps or []) if s.strip()]
    ctx: dict[str, Any] = {"nav_active": "funnels", "result": None, "error": None, "f": f,
                           "form": {"steps": picked, "window": window or "14d", "order": order, "by": (by or [""])[0],
                                    "ties": ties, "time_basis": time_basis}}  # fmt: skip

    def work(ws: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if options:
            out["events"] = event_names(ws)
            out["filter_options"] = _filter_options(ws, f)
            cols = set(ws.table("events").columns) | set(ws.table("customers").columns)
            out["breakdowns"] = [b for b in BREAKDOWNS if b in cols]
        if picked:
            try:
                p = funnel_params(picked, window, order, by, ties, time_basis)  # type: ignore[arg-type]
                out["result"] = _funnel_view(p.run(ws, f), p, f)
            except CxlensError as exc:
                out["error"] = {"message": str(exc), "param": getattr(exc, "param", None)}
        return out

    key = (tuple(picked), window, order, tuple(by or ()), ties, time_basis, f, options)
    ctx.update(await cached_view(request, "funnels", key, EVENT_DATA, work))
    return ctx


Steps = Annotated[list[str] | None, Query()]
By = Annotated[list[str] | None, Query()]


@funnels_router.get("/funnels", response_class=HTMLResponse)
async def funnels_page(request: Request, f: FiltersDep, steps: Steps = None, window: str | None = None,
                       order: str = "sequential", by: By = None, ties: str = "strict",
                       time_basis: str = "chain") -> HTMLResponse:  # fmt: skip
    ctx = await _funnel_context(request, steps, window, order, by, f, options=True, ties=ties, time_basis=time_basis)
    ctx["max_steps"] = max(5, len(ctx["form"]["steps"]) + 1)
    return _render(request, "journeys/funnels.html", ctx, status=400 if ctx["error"] else 200)


@funnels_router.get("/partials/funnels", response_class=HTMLResponse)
async def funnels_partial(request: Request, f: FiltersDep, steps: Steps = None, window: str | None = None,
                          order: str = "sequential", by: By = None, ties: str = "strict",
                          time_basis: str = "chain") -> HTMLResponse:  # fmt: skip
    ctx = await _funnel_context(request, steps, window, order, by, f, options=False, ties=ties, time_basis=time_basis)
    form = ctx["form"]
    rules = [(k, form[k]) for k, default in (("ties", "strict"), ("time_basis", "chain")) if form[k] != default]
    qs = _qs([("steps", s) for s in form["steps"]], [("window", form["window"]), ("order", form["order"])],
             [("by", form["by"])], rules, f.pairs())  # fmt: skip
    return _render(request, "journeys/_funnel_results.html", ctx, url="/funnels" + (f"?{qs}" if qs else ""))


async def _dropped(request: Request, p: FunnelParams, f: Filters, step: int, limit: int | None) -> Any:
    check_dropped_step(p, step)
    return await run_on_workspace(request, lambda ws: dropped_customers(ws, p, f, step, limit=limit))


@funnels_router.get("/partials/funnels/dropped", response_class=HTMLResponse)
async def funnels_dropped_partial(
    request: Request, f: FiltersDep, p: Annotated[FunnelParams, Depends(funnel_params)], step: int = 1
) -> HTMLResponse:
    df = await _dropped(request, p, f, step, DROPPED_SHOWN)
    near: list[str | None] = [None] * len(df)
    if can_see(request, "/replays"):  # each person's replay nearest to the step they reached
        pairs = list(zip(df["customer_id"], df["reached_at"], strict=True))
        near = await run_on_workspace(request, lambda ws: ws.behaviour.replays_near(pairs))
    rows = [{"customer_id": str(r["customer_id"]), "reached_at": str(r["reached_at"])[:19],
             "replay": "/replays/" + quote(sid, safe="") if sid else None}
            for r, sid in zip(df.to_dict(orient="records"), near, strict=True)]  # fmt: skip
    ctx = {
        "step": step, "label": f"{step}. {p.steps[step - 1]} → {step + 1}. {p.steps[step]}", "rows": rows,
        "total": df.attrs["total"], "csv": f"/funnels/dropped.csv?{_qs(p.pairs(), f.pairs())}&step={step}",
    }  # fmt: skip
    return _render(request, "journeys/_dropped.html", ctx)


@funnels_router.get("/funnels/dropped.csv")
async def funnels_dropped_csv(
    request: Request, f: FiltersDep, p: Annotated[FunnelParams, Depends(funnel_params)], step: int = 1
) -> Response:
    """The drop-off list as a segment: one ``customer_id`` per line."""
    df = await _dropped(request, p, f, step, None)
    name = f"funnel-dropped-step{step}.csv"
    return Response(csv_text(["customer_id"], ([c] for c in df["customer_id"])), media_type="text/csv; charset=utf-8",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})  # fmt: skip


# -- paths ----------------------------------------------------------------------------------------
def _paths_view(ws: Any, q: dict[str, Any], f: Filters) -> dict[str, Any]:
    from cxlens.journeys.charts import sankey_chart
    from cxlens.report.stored_pages import path_frames, stored_path_frames

    kw = f.kwargs()
    frames = stored_path_frames(ws.store, q) if f.is_empty() else None  # the default view, as the job stored it
    if frames is None:
        frames = path_frames(ws.journeys, q, **kw)
    top, flows, last = frames["top"], frames["flows"], frames["last"]
    count = "customers" if "customers" in top.columns else "sessions"
    rows = [{"rank": i, "path": r["path"], "count": f"{int(r[count]):,}", "share": share(r["share"]),
             "conversion": share(r["conversion"]) if "conversion" in r else None}
            for i, r in enumerate(top.to_dict(orient="records"), 1)]  # fmt: skip
    sankey = sankey_chart(flows, title=None) if len(flows) else None
    leaving: list[dict[str, Any]] = []
    dropped = 0
    if last is not None:
        keys = [c for c in last.columns if c not in ("customers", "sessions", "share", "dropped")]
        dropped = int(last["dropped"].iloc[0]) if len(last) else 0
        leaving = [{"what": " @ ".join("—" if r[k] is None else str(r[k]) for k in keys),
                    "count": f"{int(r['customers']):,}", "share": share(r["share"])}
                   for r in last.to_dict(orient="records")]  # fmt: skip
    return {
        "count_label": count.capitalize(), "rows": rows, "leaving": leaving, "dropped": f"{dropped:,}",
        "has_conversion": "conversion" in top.columns,
        "sankey": _chart("sankey", "Flows", sankey, "Sankey diagram of the paths", "No paths for these settings."),
    }  # fmt: skip


async def _paths_context(request: Request, f: Filters, raw: dict[str, Any], *, options: bool) -> dict[str, Any]:
    def work(ws: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"result": None, "error": None}
        names = event_names(ws) if options or raw["goal"] is None else []
        if options:
            out["events"] = names
            out["filter_options"] = _filter_options(ws, f)
        q = dict(raw)
        if q["goal"] is None:  # first visit: the purchase goal when there is one
            q["goal"] = "purchase" if "purchase" in names else ""
        out["form"] = q
        try:
            q["window"] = check_window(q["window"])
            out["result"] = _paths_view(ws, {**q, "goal": q["goal"] or None}, f)
        except CxlensError as exc:
            out["error"] = {"message": str(exc), "param": getattr(exc, "param", None)}
        return out

    ctx = dict(await cached_view(request, "paths", (tuple(sorted(raw.items())), f, options), EVENT_DATA, work))
    ctx.update({"nav_active": "paths", "f": f, "fields": PATH_FIELDS, "max_steps": MAX_STEPS})
    return ctx


def _paths_raw(from_event: str | None, to: str | None, steps: int, top: int, field: str, window: str | None,
               goal: str | None) -> dict[str, Any]:  # fmt: skip
    return {"from": from_event or None, "to": to or None, "steps": steps, "top": top, "field": field,
            "window": window or None, "goal": goal}  # fmt: skip


PathArgs = dict[str, Any]


def paths_args(
    from_event: Annotated[str | None, Query(alias="from")] = None,
    to: str | None = None,
    steps: Annotated[int, Query(ge=1, le=MAX_STEPS)] = 3,
    top: Annotated[int, Query(ge=1, le=100)] = 10,
    field: Annotated[str, Query(pattern="^(name|touchpoint|channel|stage)$")] = "name",
    window: str | None = None,
    goal: str | None = None,
) -> PathArgs:
    return _paths_raw(from_event, to, steps, top, field, window, goal)


@paths_router.get("/paths", response_class=HTMLResponse)
async def paths_page(request: Request, f: FiltersDep, q: Annotated[PathArgs, Depends(paths_args)]) -> HTMLResponse:
    ctx = await _paths_context(request, f, q, options=True)
    return _render(request, "journeys/paths.html", ctx, status=400 if ctx["error"] else 200)


@paths_router.get("/partials/paths", response_class=HTMLResponse)
async def paths_partial(request: Request, f: FiltersDep, q: Annotated[PathArgs, Depends(paths_args)]) -> HTMLResponse:
    ctx = await _paths_context(request, f, q, options=False)
    form = ctx["form"]
    qs = _qs([(k, str(form[k]) if form[k] is not None else "") for k in ("from", "to", "steps", "top", "field",
                                                                          "window", "goal")], f.pairs())  # fmt: skip
    return _render(request, "journeys/_paths_results.html", ctx, url="/paths?" + qs)


# -- journey map ----------------------------------------------------------------------------------
def _ci(v: Any, lo: Any, hi: Any, n: Any, digits: int = 1) -> dict[str, Any]:
    return {"value": f"{float(v):.{digits}f}" if _ok(v) else "—",
            "ci": f"{float(lo):.{digits}f} – {float(hi):.{digits}f}" if _ok(lo) and _ok(hi) else None,
            "n": int(n) if _ok(n) and int(n) > 0 else None}  # fmt: skip


def _cell_url(stage: Any, touchpoint: Any, f: Filters) -> str:
    pairs = [("stage", _text(stage)), ("touchpoint", _text(touchpoint))]
    return "/partials/journey/cell?" + _qs([(k, v) for k, v in pairs if v is not None], f.pairs())


def _map_view(ws: Any, f: Filters, window: str | None) -> dict[str, Any]:
    from cxlens.customers.risk import touchpoint_revenue_at_risk
    from cxlens.journeys.charts import journey_map_chart
    from cxlens.report.stored_views import stored_map

    stored = stored_map(ws.store) if window is None and f == Filters() else None
    if stored is not None:  # the unfiltered view, as the journey.views job stored it on this very data
        df, at_risk, cons = stored
    else:
        df = ws.journeys.map(where=f, window=window)
        at_risk = touchpoint_revenue_at_risk(ws, **f.dated())
        cons = ws.journeys.channel_consistency(where=f)
    rows = []
    for r in df.to_dict(orient="records"):
        if not (r["volume"] > 0 or r["survey_n"] > 0):
            continue
        rows.append({
            "stage": _text(r["stage"]), "stage_label": _text(r["stage_label"]) or "(no stage)",
            "touchpoint": _text(r["touchpoint"]), "label": _text(r["label"]) or "(no touchpoint)",
            "volume": f"{int(r['volume']):,}", "reach": f"{r['reach']:.1f}%" if _ok(r["reach"]) else "—",
            "conversion": f"{r['conversion']:.1f}%" if _ok(r["conversion"]) else "—",
            "drop_off": f"{r['drop_off']:.1f}%" if _ok(r["drop_off"]) else "—",
            "nps": _ci(r["nps"], r["nps_ci_low"], r["nps_ci_high"], r["nps_n"]),
            "csat": _ci(r["csat"], r["csat_ci_low"], r["csat_ci_high"], r["csat_n"]),
            "ces": _ci(r["ces"], r["ces_ci_low"], r["ces_ci_high"], r["ces_n"], 2),
            "unhappy": f"{r['unhappy']:.1f}%" if _ok(r["unhappy"]) else "—",
            "pain": f"{r['pain_score']:.1f}" if _ok(r["pain_score"]) else "—",
            "pain_value": float(r["pain_score"]) if _ok(r["pain_score"]) else None,
            "rank": int(r["pain_rank"]) if _ok(r["pain_rank"]) else None,
            "survey_n": int(r["survey_n"]), "url": _cell_url(r["stage"], r["touchpoint"], f),
            "revenue_risk": at_risk.get(_text(r["touchpoint"]), "—"),
            "sentiment": f"{r['sentiment']:+.2f}" if _ok(r["sentiment"]) else None,
            "negative_theme": _text(r["negative_themes"]),
        })  # fmt: skip
    pains = sorted((r for r in rows if r["pain_value"] is not None), key=lambda r: (-r["pain_value"], r["rank"]))
    consistency = [{
        "touchpoint": _text(r["touchpoint"]), "metric": str(r["metric"]).upper(), "channel": _text(r["channel"]),
        "value": _ci(r["value"], r["ci_low"], r["ci_high"], r["n"], 2 if r["metric"] == "ces" else 1),
        "rest": f"{r['rest_value']:.{2 if r['metric'] == 'ces' else 1}f}" if _ok(r["rest_value"]) else "—",
        "delta": f"{r['delta']:+.{2 if r['metric'] == 'ces' else 1}f}" if _ok(r["delta"]) else "—",
        "p": f"{r['p_value']:.3g}" if _ok(r["p_value"]) else "—", "significant": bool(r["significant"]),
        "consistent": bool(r["consistent"]), "small_sample": bool(r["small_sample"]),
    } for r in cons.to_dict(orient="records")]  # fmt: skip
    chart = journey_map_chart(df, title=None) if rows else None
    return {
        "rows": rows, "pains": pains[:5], "consistency": consistency,
        "chart": _chart("journey-map", "Stage × touchpoint", chart, "Journey map heat grid; red is worse",
                        "No events or answers for these filters."),
    }  # fmt: skip


def _personas(ws: Any) -> list[str]:
    """The personas: RFM segments saved as ``rfm:<name>`` (``cxlens segments rfm --save``)."""
    from cxlens.store.segments import saved_segment_names

    return sorted(n[4:] for n in saved_segment_names(ws.store) if n.startswith("rfm:"))


def _persona_filters(f: Filters, persona: str | None) -> Filters:
    """The filters with a persona as its saved segment (``rfm:<persona>``); one of the two only."""
    if not persona:
        return f
    if f.saved_segment:
        raise ParameterError("persona", "give persona or saved_segment, not both")
    return Filters.of(f, segment=f"rfm:{persona}")


async def _map_context(
    request: Request, f: Filters, window: str | None, *, options: bool, persona: str | None = None
) -> dict[str, Any]:
    persona = (persona or "").strip() or None

    def work(ws: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"filter_options": _filter_options(ws, f) if options else [], "error": None,
                               "result": None, "personas": _personas(ws) if options else []}  # fmt: skip
        try:
            if persona and persona not in _personas(ws):
                have = ", ".join(_personas(ws)) or "none is saved yet (cxlens segments rfm --save)"
                raise ParameterError("persona", f"persona {persona!r} is not a saved RFM segment; saved: {have}")
            out["result"] = _map_view(ws, _persona_filters(f, persona), check_window(window))
        except CxlensError as exc:
            out["error"] = {"message": str(exc), "param": getattr(exc, "param", None)}
        return out

    ctx = dict(await cached_view(request, "journey", (f, window, options, persona), ALL_DATA, work))
    pairs = [("window", window or ""), ("persona", persona or "")]
    ctx.update({"nav_active": "journey", "f": f, "window": window or "", "persona": persona or "",
                "query": _qs(pairs, f.pairs())})  # fmt: skip
    return ctx


@map_router.get("/journey", response_class=HTMLResponse)
async def journey_page(
    request: Request, f: FiltersDep, window: str | None = None, persona: str | None = None
) -> HTMLResponse:
    ctx = await _map_context(request, f, window, options=True, persona=persona)
    return _render(request, "journeys/map.html", ctx, status=400 if ctx["error"] else 200)


@map_router.get("/partials/journey", response_class=HTMLResponse)
async def journey_partial(
    request: Request, f: FiltersDep, window: str | None = None, persona: str | None = None
) -> HTMLResponse:
    ctx = await _map_context(request, f, window, options=False, persona=persona)
    return _render(
        request, "journeys/_map_body.html", ctx, url="/journey" + (f"?{ctx['query']}" if ctx["query"] else "")
    )


@map_router.get("/journey/map.{fmt}")
async def journey_map_file(request: Request, fmt: str, f: FiltersDep, persona: str | None = None) -> Response:
    """The wall journey map of these filters (or a persona's) as an SVG, PNG or PDF download."""
    if fmt not in CANVAS_MEDIA:
        return Response(f"unknown format {fmt!r}; expected svg, png or pdf", status_code=404, media_type="text/plain")
    persona = (persona or "").strip() or None
    c = await cached_view(request, "api-canvas", (f, persona), ALL_DATA, lambda ws: canvas_view(ws, f, persona))
    data = await run_on_workspace(request, lambda ws: canvas_bytes(c, fmt))
    headers = {"Content-Disposition": f'attachment; filename="journey-map.{fmt}"'}
    return Response(data, media_type=CANVAS_MEDIA[fmt], headers=headers)


@map_router.get("/partials/journey/canvas", response_class=HTMLResponse)
async def journey_canvas_partial(request: Request, f: FiltersDep, persona: str | None = None) -> HTMLResponse:
    """The wall journey map drawn inline (SVG), loaded by the /journey page after its tables — the
    same stored view the downloads use; ``persona`` draws that persona's map."""
    from cxlens.report.journey_canvas import journey_canvas_svg

    persona = (persona or "").strip() or None
    c = await cached_view(request, "api-canvas", (f, persona), ALL_DATA, lambda ws: canvas_view(ws, f, persona))
    label = escape("Journey map with stages " + ", ".join(c.stage_names()))
    return HTMLResponse(f'<div role="img" aria-label="{label}">{journey_canvas_svg(c)}</div>')


@map_router.get("/partials/journey/cell", response_class=HTMLResponse)
async def journey_cell(
    request: Request, f: FiltersDep, stage: str | None = None, touchpoint: str | None = None
) -> HTMLResponse:
    """The quotes and customers behind one stage × touchpoint cell (a missing parameter means "none")."""
    stage, touchpoint = stage or None, touchpoint or None
    res = await run_on_workspace(request, lambda ws: cell_feedback(ws, stage, touchpoint, f))
    quotes = [{"id": str(r["feedback_id"]), "text": str(r["comment"]), "metric": str(r["metric"]).upper(),
               "score": f"{float(r['score']):g}" if _ok(r["score"]) else "—", "channel": _text(r["channel"]) or "—",
               "customer": _text(r["customer_id"]) or "anonymous", "ts": str(r["ts"])[:10]}
              for r in res["quotes"].to_dict(orient="records")]  # fmt: skip
    people = [{"id": str(r["customer_id"]), "metric": str(r["metric"]).upper(), "answers": int(r["answers"]),
               "mean": f"{float(r['mean_score']):.1f}" if _ok(r["mean_score"]) else "—", "last": str(r["last_ts"])[:10]}
              for r in res["customers"].to_dict(orient="records")]  # fmt: skip
    ctx = {"stage": stage, "touchpoint": touchpoint, "n": res["n"], "quotes": quotes, "customers": people}
    return _render(request, "journeys/_cell.html", ctx)


__all__ = ["duration", "funnels_router", "map_router", "paths_router", "share"]
