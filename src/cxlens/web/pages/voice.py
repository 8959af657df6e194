"""Voice-of-the-customer pages: the feedback explorer (``/feedback``), themes (``/themes``) and key drivers (``/drivers``).

Read-only: parameters are parsed by :mod:`cxlens.web.api.voice`, whose helpers make one call into
:mod:`cxlens.voice` each; routes only turn the tables into display rows. Every quote, touchpoint and
theme name is customer-provided and autoescaped by the templates.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import quote, urlencode

import pandas as pd
from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from cxlens.charts import to_vega_lite
from cxlens.errors import ConfigError, NotFoundError
from cxlens.metrics.filters import Filters
from cxlens.voice.explorer import SENTIMENTS, FeedbackQuery, feedback_page, theme_table
from cxlens.voice.themes import OTHER_ID
from cxlens.web.api.voice import drivers_table, feedback_params
from cxlens.web.auth import can_see
from cxlens.web.deps import ALL_DATA, cached_view
from cxlens.web.pages import register
from cxlens.web.params import FiltersDep

feedback_router = register(
    APIRouter(include_in_schema=False), id="feedback", label="Feedback", path="/feedback", order=50
)
themes_router = register(APIRouter(include_in_schema=False), id="themes", label="Themes", path="/themes", order=55)
drivers_router = register(APIRouter(include_in_schema=False), id="drivers", label="Drivers", path="/drivers", order=60)

SOURCES = ("feedback", "ticket", "review")


def _ok(v: Any) -> bool:
    try:
        return v is not None and math.isfinite(float(v))
    except (TypeError, ValueError):
        return False


def share(v: Any) -> str:
    return f"{100 * float(v):.1f}%" if _ok(v) else "—"


def _text(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else str(v)


def _render(request: Request, template: str, ctx: dict[str, Any]) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, ctx)


def _options(ws: Any, f: Filters) -> list[dict[str, Any]]:
    from cxlens.report.overview import filter_options

    return [{"name": o.name, "label": o.label, "values": o.values, "selected": o.selected}
            for o in filter_options(ws, f) if o.name in ("touchpoint", "stage", "channel", "saved_segment")]  # fmt: skip


# -- feedback explorer ---------------------------------------------------------------------------
async def _feedback_context(request: Request, f: Filters, p: FeedbackQuery, *, options: bool) -> dict[str, Any]:
    def work(ws: Any) -> dict[str, Any]:
        res = feedback_page(ws, p, f)
        # each answer's or ticket's link to the person's replay nearest to it (cxlens.behaviour.replay)
        near = ws.behaviour.replays_near(list(zip(res["rows"]["customer_id"], res["rows"]["ts"], strict=True)))
        return {"res": res, "replays": near, "filter_options": _options(ws, f) if options else []}

    out = await cached_view(request, "feedback", (f, p, options), (*ALL_DATA, "replay_sessions"), work)
    res = out["res"]
    replays = out["replays"] if can_see(request, "/replays") else [None] * len(res["rows"])
    rows = [
        {"id": r["verbatim_id"], "ts": str(r["ts"])[:16], "source": r["source"], "text": _text(r["text"]) or "",
         "touchpoint": _text(r["touchpoint"]), "stage": _text(r["stage"]),
         "score": f"{float(r['score']):g}" if _ok(r["score"]) else "—", "metric": _text(r["metric"]),
         "sentiment": _text(r["sentiment_label"]),
         "sentiment_score": f"{float(r['sentiment_score']):+.2f}" if _ok(r["sentiment_score"]) else "",
         "language": _text(r["language"]), "themes": list(r["theme_names"]),
         "aspects": [{"name": n, "label": lab} for n, lab in r["aspects"]],
         "replay": "/replays/" + quote(sid, safe="") if sid else None}
        for r, sid in zip(res["rows"].to_dict(orient="records"), replays, strict=True)
    ]  # fmt: skip
    base = p.pairs() + f.pairs()

    def link(page: int) -> str:
        return "/feedback?" + urlencode([*base, ("page", str(page))])

    return {
        "nav_active": "feedback", "p": p, "f": f, "rows": rows, "total": res["total"], "page": res["page"],
        "pages": res["pages"], "sources": SOURCES, "sentiments": SENTIMENTS, "filter_options": out["filter_options"],
        "themes": res["themes"], "url": "/feedback" + (f"?{urlencode(base)}" if base else ""),
        "prev": link(res["page"] - 1) if res["page"] > 1 else None,
        "next": link(res["page"] + 1) if res["page"] < res["pages"] else None,
    }  # fmt: skip


@feedback_router.get("/feedback", response_class=HTMLResponse)
async def feedback(
    request: Request, f: FiltersDep, p: Annotated[FeedbackQuery, Depends(feedback_params)]
) -> HTMLResponse:
    return _render(request, "voice/feedback.html", await _feedback_context(request, f, p, options=True))


@feedback_router.get("/partials/feedback", response_class=HTMLResponse)
async def feedback_partial(
    request: Request, f: FiltersDep, p: Annotated[FeedbackQuery, Depends(feedback_params)]
) -> HTMLResponse:
    """The results of the explorer's form (htmx swaps them into ``#feedback-results``)."""
    ctx = await _feedback_context(request, f, p, options=False)
    resp = _render(request, "voice/_feedback_results.html", ctx)
    resp.headers["HX-Replace-Url"] = ctx["url"]
    return resp


# -- themes --------------------------------------------------------------------------------------
def _themes_chart(df: Any) -> Any:
    import altair as alt

    data = df[["name", "size", "negative_share"]].assign(negative=lambda d: 100 * d["negative_share"])
    return (
        alt.Chart(data)
        .mark_bar()
        .encode(
            x=alt.X("size:Q", title="Verbatims"),
            y=alt.Y("name:N", sort="-x", title=None),
            color=alt.Color("negative:Q", title="Negative %", scale=alt.Scale(scheme="redyellowgreen", reverse=True)),
            tooltip=[
                alt.Tooltip("name:N", title="Theme"),
                alt.Tooltip("size:Q", title="Size"),
                alt.Tooltip("negative:Q", title="Negative %", format=".1f"),
            ],  # fmt: skip
        )
        .properties(width="container", height=28 * len(data) + 40)
    )


async def _themes_context(request: Request, f: Filters, *, options: bool) -> dict[str, Any]:
    def work(ws: Any) -> dict[str, Any]:
        out: dict[str, Any] = {"filter_options": _options(ws, f) if options else [], "note": None}
        try:
            out["df"] = theme_table(ws, f)
        except ConfigError as exc:  # too few texts to discover themes: an empty page, not an error
            if getattr(exc, "param", None):
                raise
            out["df"], out["note"] = pd.DataFrame(columns=["theme", "name", "size", "quotes"]), str(exc)
            out["df"].attrs["verbatims"] = 0
        out["interview_quotes"] = ws.interviews.quotes_by_theme()
        if out["df"].attrs.get("model") == "none" and not out["note"]:
            out["note"] = ("themes are discovered by a background job and appear once it has run "
                           "(`cxlens models fit` runs it now)")  # fmt: skip
        # the chart's spec is made once with the view (altair validates it against the schema: ~50 ms a request)
        out["spec"] = to_vega_lite(_themes_chart(out["df"])) if len(out["df"]) else None
        return out

    # interview quotes follow the interview tables (turns, highlighted passages) too
    out = await cached_view(request, "themes", (f, options), (*ALL_DATA, "interview_turns", "interview_tags"), work)
    df = out["df"]
    rows = [
        {"theme": r["theme"], "name": r["name"], "issue": bool(r.get("issue", True)), "size": int(r["size"]),
         "share": share(r["share"]),
         "negative_share": share(r["negative_share"]), "growing": bool(r.get("growing")) if "growing" in r else None,
         "quotes": list(r["quotes"] or [])[:2],
         "interview_quotes": out["interview_quotes"].get(str(r["theme"]), []),
         "aspect": f"{float(r['aspect_score']):+.2f}" if _ok(r.get("aspect_score")) else "—",
         "feedback": "/feedback?" + urlencode([("theme", str(r["theme"])), *f.pairs()])}
        for r in df.to_dict(orient="records")
    ]  # fmt: skip
    chart = {"id": "themes", "title": "Theme sizes", "spec": out["spec"],
             "description": "Bar chart of theme sizes, coloured by negative share", "empty": "No themes."}  # fmt: skip
    qs = urlencode(f.pairs())
    n = int(df.attrs["verbatims"])
    # verbatims whose primary theme is none (general remarks, or no word the model knows): the "other" row
    unthemed = int(df.loc[df["theme"].eq(OTHER_ID), "size"].sum()) if len(df) else 0
    return {"nav_active": "themes", "f": f, "rows": rows, "plot": chart, "n": n, "unthemed": unthemed,
            "unthemed_share": share(unthemed / n) if n else None,
            "note": out["note"], "filter_options": out["filter_options"],
            "url": "/themes" + (f"?{qs}" if qs else "")}  # fmt: skip


@themes_router.get("/themes", response_class=HTMLResponse)
async def themes(request: Request, f: FiltersDep) -> HTMLResponse:
    return _render(request, "voice/themes.html", await _themes_context(request, f, options=True))


@themes_router.get("/partials/themes", response_class=HTMLResponse)
async def themes_partial(request: Request, f: FiltersDep) -> HTMLResponse:
    """The chart and table of the themes page (htmx swaps them into ``#themes-results``)."""
    ctx = await _themes_context(request, f, options=False)
    resp = _render(request, "voice/_themes_results.html", ctx)
    resp.headers["HX-Replace-Url"] = ctx["url"]
    return resp


# -- drivers -------------------------------------------------------------------------------------
@drivers_router.get("/drivers", response_class=HTMLResponse)
async def drivers(request: Request, f: FiltersDep, target: str = "nps") -> HTMLResponse:
    from cxlens.voice import driver_quadrant_chart

    def work(ws: Any) -> Any:
        try:
            df = drivers_table(ws, target, where=f)
        except NotFoundError as exc:  # no drivers in this workspace: an empty page, not an error
            return None, str(exc), _options(ws, f), None
        # the chart's spec is made once with the view (altair validates it against the schema: ~50 ms a request)
        return df, None, _options(ws, f), to_vega_lite(driver_quadrant_chart(df, title=""))

    df, note, options, spec = await cached_view(request, "drivers", (target, f), ALL_DATA, work)
    if df is None:
        ctx = {"nav_active": "drivers", "target": target, "rows": [], "note": note, "r2": None, "n": None,
               "f": f, "filter_options": options,
               "plot": {"id": "drivers", "title": "Importance × performance", "spec": None, "description": "",
                        "empty": "No drivers."}}  # fmt: skip
        return _render(request, "voice/drivers.html", ctx)
    rows = [
        {"driver": r["driver"], "kind": r["kind"], "share": f"{float(r['share']):.1f}",
         "ci": f"{float(r['share_ci_low']):.1f} – {float(r['share_ci_high']):.1f}"
         if _ok(r["share_ci_low"]) and _ok(r["share_ci_high"]) else None,
         "performance": f"{float(r['performance']):.1f}" if _ok(r["performance"]) else "—",
         "coverage": share(r["coverage"]), "quadrant": r["quadrant"], "rank": int(r["rank"])}
        for r in df.to_dict(orient="records")
    ]  # fmt: skip
    chart = {"id": "drivers", "title": "Importance × performance", "spec": spec,
             "description": "Quadrant chart of driver importance against performance", "empty": "No drivers."}  # fmt: skip
    r2 = df.attrs.get("r2")
    ctx = {"nav_active": "drivers", "target": target, "rows": rows, "plot": chart, "note": None,
           "r2": f"{float(r2):.3f}" if _ok(r2) else None, "n": df.attrs.get("n"), "f": f,
           "filter_options": options}  # fmt: skip
    return _render(request, "voice/drivers.html", ctx)
