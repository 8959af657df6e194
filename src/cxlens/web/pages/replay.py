"""Session replay pages: the list (``/replays``, filters: frustrated, NPS at most, page, customer) and
the player (``/replays/{session_id}``: the vendored rrweb-player, a timeline marking each rage, dead
and error click, and a list of them that jumps the player there).

The player page loads only scripts from this server (``/static/vendor/rrweb-player-2.1.7.min.js`` and
``/static/replay.js``) and fetches the events from ``/api/v1/replays/{id}/events``; rrweb rebuilds
the recorded page in a sandboxed iframe without scripts. Inputs were masked when recorded.
"""

from __future__ import annotations

import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from cxlens.errors import ParameterError
from cxlens.web.deps import run_on_workspace
from cxlens.web.pages import register

router = register(APIRouter(include_in_schema=False), id="replays", label="Replays", path="/replays", order=44)


def _num(v: Any, fmt: str = "{:,.0f}") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "—"
    return "—" if math.isnan(f) else fmt.format(f)


def _float(v: str | None) -> float | None:
    try:
        return None if v in (None, "") else float(v)
    except ValueError:
        return None


def replays_link(customer_id: str | None = None, **filters: Any) -> str:
    """The replay list's address for a person (and filters), for links from other pages."""
    q = {k: v for k, v in {"customer": customer_id, **filters}.items() if v not in (None, "", False)}
    return "/replays" + ("?" + urlencode(q) if q else "")


def _step(v: str | None) -> int | None:
    if v is None or not v.strip():
        return None
    if not v.strip().isdigit():
        raise ParameterError("dropped_at", f"dropped_at is {v!r}; expected a step number such as 1")
    return int(v)


@router.get("/replays", response_class=HTMLResponse)
async def replays(
    request: Request,
    frustrated: str | None = None,
    nps_max: str | None = None,
    url: str | None = None,
    customer: str | None = None,
    segment: str | None = None,
    theme: str | None = None,
    funnel: str | None = None,
    dropped_at: str | None = None,
) -> HTMLResponse:
    flag = frustrated in ("1", "true", "on")
    nps = _float(nps_max)
    step = _step(dropped_at)
    frame = await run_on_workspace(
        request,
        lambda ws: ws.behaviour.replays(
            frustrated=flag, nps_max=nps, url=url or None, customer_id=customer or None, segment=segment or None,
            theme=theme or None, funnel=funnel or None, dropped_at=step,
        ),
    )  # fmt: skip
    rows = [
        {"session": r["session_id"], "customer": r["customer_id"] or r["anonymous_id"], "started": str(r["started_at"])[:19],
         "duration": _num(r["duration_s"]), "url": r["url"] or "", "rage": _num(r["rage_clicks"]),
         "dead": _num(r["dead_clicks"]), "error": _num(r["error_clicks"]), "score": _num(r["frustration_score"], "{:g}"),
         "nps": _num(r["nps"]), "kb": _num(r["stored_bytes"] / 1000, "{:,.1f}")}
        for r in frame.to_dict(orient="records")
    ]  # fmt: skip
    ctx = {"nav_active": "replays", "rows": rows, "frustrated": flag, "nps_max": nps_max or "", "url": url or "",
           "customer": customer or "", "segment": segment or "", "theme": theme or "", "funnel": funnel or "",
           "dropped_at": dropped_at or ""}  # fmt: skip
    return request.app.state.templates.TemplateResponse(request, "behaviour/replays.html", ctx)


@router.get("/replays/{session_id}", response_class=HTMLResponse)
async def player(request: Request, session_id: str) -> HTMLResponse:
    meta = await run_on_workspace(request, lambda ws: ws.behaviour.replay(session_id))
    ctx = {
        "nav_active": "replays",
        "session": session_id,
        "customer": meta["customer_id"] or meta["anonymous_id"],
        "started": str(meta["started_at"])[:19],
        "duration": _num(meta["duration_s"]),
        "url": meta["url"] or "",
        "events": _num(meta["events"]),
        "customer_link": replays_link(meta["customer_id"]) if meta["customer_id"] else None,
    }
    return request.app.state.templates.TemplateResponse(request, "behaviour/replay.html", ctx)
