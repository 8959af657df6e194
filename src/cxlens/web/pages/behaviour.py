"""Behaviour pages: frustration (``/frustration``: worst pages, elements and sessions) and heatmaps
(``/heatmap?url=…``: click density per width bucket, elements clicked, scroll reach).

Read-only; every table comes from one :mod:`cxlens.behaviour` call and is cached while ``events``
is unchanged. Selectors, texts and URLs come from visitors' browsers: the templates escape them.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cxlens.behaviour import KINDS, WIDTHS
from cxlens.behaviour.charts import frustration_chart, heatmap_chart, scroll_chart
from cxlens.behaviour.replay import recorded
from cxlens.web.auth import can_see
from cxlens.web.deps import cached_view
from cxlens.web.pages import register

frustration_router = register(
    APIRouter(include_in_schema=False), id="frustration", label="Frustration", path="/frustration", order=42
)
heatmap_router = register(APIRouter(include_in_schema=False), id="heatmap", label="Heatmaps", path="/heatmap", order=43)
TABLES = ("events",)
FRUSTRATION_TABLES = ("events", "replay_sessions")  # the sessions table links to their replays


def _num(v: Any, fmt: str = "{:,.0f}") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(f) else fmt.format(f)


def _render(request: Request, template: str, ctx: dict[str, Any]) -> HTMLResponse:
    return request.app.state.templates.TemplateResponse(request, template, ctx)


def _rows(df: Any, key: list[str]) -> list[dict[str, Any]]:
    out = []
    for r in df.to_dict(orient="records"):
        out.append(
            {
                **{k: r[k] for k in key},
                "pageviews": _num(r["pageviews"]),
                "sessions": _num(r["sessions"]),
                "rage": _num(r["rage_clicks"]),
                "dead": _num(r["dead_clicks"]),
                "error": _num(r["error_clicks"]),
                "quick_backs": _num(r["quick_backs"]),
                "excessive": _num(r["excessive_scrolls"]),
                "frustrated": _num(r["frustrated_share"], "{:.0%}"),
                "ci": f"{_num(r['frustrated_ci_low'], '{:.0%}')}–{_num(r['frustrated_ci_high'], '{:.0%}')}",
                "score": _num(r["frustration_score"], "{:,.1f}"),
                "heatmap": "/heatmap?" + urlencode({"url": r["url"]}) if "url" in r and r["url"] else None,
            }
        )
    return out


@frustration_router.get("/frustration", response_class=HTMLResponse)
async def frustration(request: Request) -> HTMLResponse:
    def work(ws: Any) -> dict[str, Any]:
        pages = ws.behaviour.frustration(by="url").head(20)
        elements = ws.behaviour.frustration(by="selector").head(20)
        sessions = ws.behaviour.sessions(min_score=0.5, limit=20)
        replayed = recorded(ws, list(sessions["session_id"]))  # links to the sessions' replays
        exits = ws.behaviour.exit_pages(limit=20)
        return {"pages": pages, "elements": elements, "sessions": sessions, "replayed": replayed, "exits": exits}

    res = await cached_view(request, "behaviour.frustration_page", None, FRUSTRATION_TABLES, work)
    pages, elements = res["pages"], res["elements"]
    chart = {
        "id": "worst-pages",
        "title": "Most frustrating pages",
        "description": "Frustration score per page (weighted rage, dead, error clicks, quick backs and excessive scrolling per 100 page views)",
        "spec": frustration_chart(pages, "url") if len(pages) else None,
        "empty": "No page views with behaviour events yet.",
    }
    sessions = [
        {"session": r["session_id"], "customer": r["customer_id"] or r["anonymous_id"], "started": str(r["started"])[:16],
         "pages": _num(r["pages"]), "rage": _num(r["rage_clicks"]), "dead": _num(r["dead_clicks"]),
         "error": _num(r["error_clicks"]), "quick_backs": _num(r["quick_backs"]),
         "score": _num(r["frustration_score"], "{:g}"),
         "replay": "/replays/" + quote(r["session_id"], safe="") if r["session_id"] in res["replayed"] else None,
         "replays": "/replays?" + urlencode({"customer": r["customer_id"]}) if r["customer_id"] else None}
        for r in res["sessions"].to_dict(orient="records")
    ]  # fmt: skip
    ctx = {
        "nav_active": "frustration",
        "plot": chart,
        "pages": _rows(pages, ["url"]),
        "elements": _rows(elements, ["url", "selector"]),
        "sessions": sessions,
        "exits": [
            {
                "url": r["url"],
                "pageviews": _num(r["pageviews"]),
                "exits": _num(r["exits"]),
                "rate": _num(r["exit_rate"], "{:.0%}"),
                "ci": f"{_num(r['exit_ci_low'], '{:.0%}')}–{_num(r['exit_ci_high'], '{:.0%}')}",
                "frustrated": _num(r["frustrated_exits"]),
                "score": _num(r["frustration_score"], "{:,.1f}"),
            }
            for r in res["exits"].to_dict(orient="records")
        ],  # fmt: skip
    }
    return _render(request, "behaviour/frustration.html", ctx)


@heatmap_router.get("/heatmap", response_class=HTMLResponse)
async def heatmap(request: Request, url: str | None = None, kind: str = "click") -> HTMLResponse:
    if kind not in KINDS:
        kind = "click"

    def work(ws: Any) -> dict[str, Any]:
        if not url:
            top = ws.behaviour.frustration(by="url")
            return {"pages": list(top.sort_values("pageviews", ascending=False)["url"].head(30))}
        cells = {w: ws.behaviour.heatmap(url, kind=kind, width=w) for w in WIDTHS}
        return {
            "cells": cells,
            "scroll": ws.behaviour.scroll(url, "desktop"),
            "clickmap": ws.behaviour.clickmap(url, kind=kind).head(30),
        }

    res = await cached_view(request, "behaviour.heatmap_page", (url, kind), TABLES, work)
    ctx: dict[str, Any] = {"nav_active": "heatmap", "url": url, "kind": kind, "kinds": list(KINDS)}
    if not url:
        ctx["pages"] = [{"url": u, "link": "/heatmap?" + urlencode({"url": u})} for u in res["pages"]]
        return _render(request, "behaviour/heatmap.html", ctx)
    charts = []
    for w, cells in res["cells"].items():
        n = int(cells["n"].iloc[0]) if len(cells) else 0
        lo, hi = WIDTHS[w]
        span = f"{lo}+ px" if hi is None else f"{lo}–{hi - 1} px"
        charts.append(
            {
                "id": f"heatmap-{w}",
                "title": f"{w} ({span}): {n:,} {kind}s",
                "description": f"{kind} density on {url} for {w} viewports",
                "spec": heatmap_chart(cells, title=f"{w} · {n:,} {kind}s") if n else None,
                "empty": f"No {kind}s from {w} viewports.",
            }
        )
    scroll = res["scroll"]
    n_scroll = int(scroll["n"].iloc[0]) if len(scroll) else 0
    charts.append(
        {
            "id": "scroll-reach",
            "title": f"scroll reach (desktop, {n_scroll:,} page views)",
            "description": f"share of page views reaching each depth of {url}",
            "spec": scroll_chart(scroll) if n_scroll else None,
            "empty": "No scroll depth recorded for desktop viewports.",
        }
    )
    ctx["charts"] = charts
    if can_see(request, "/replays"):  # the page as recorded is a replay's snapshot: replay viewers only
        ctx["snapshot_url"] = "/api/v1/behaviour/snapshot?" + urlencode({"url": url})
        ctx["points_url"] = "/api/v1/behaviour/click-points?" + urlencode({"url": url, "kind": kind})
        ctx["widths"] = list(WIDTHS)
    ctx["elements"] = [
        {"selector": r["selector"], "text": r["text"] if isinstance(r["text"], str) else "", "clicks": _num(r["clicks"]),
         "rate": _num(r["click_rate"], "{:.1%}")}
        for r in res["clickmap"].to_dict(orient="records")
    ]  # fmt: skip
    return _render(request, "behaviour/heatmap.html", ctx)
