"""Stored default views of ``/paths`` and ``/personas``, kept fresh by jobs like the journey views.

After the journey map these are the dashboard's slowest pages to open cold (about two seconds each
on 50,000 customers: three path analyses with their Sankey flows; RFM personas with their scores and
what the members write). Most visits open them as they come, so two jobs compute that default view
whenever the data it reads changes (at most every :data:`MIN_INTERVAL` seconds) and store it;
``ws.refresh()`` and ``cxlens models fit`` run them too. A request for the default view answers from
the stored one while it is fresh — computed on exactly the current data versions — and computes as
before otherwise (other parameters, filters, or data changed since): nothing stale is ever shown.

Results (``results`` rows, frames as JSON in ``meta``): ``paths.default`` (the top paths, flows and
last steps before drop-off of :data:`DEFAULT_PATHS` with the purchase goal when there is one) and
``personas.cards`` (:func:`persona_cards`).
"""

from __future__ import annotations

import json
import time
from typing import Any

import pandas as pd

from cxlens.customers.personas import persona_voice, personas
from cxlens.customers.scores import stored_scores
from cxlens.errors import NotFoundError
from cxlens.jobs import JobContext, task
from cxlens.journeys.api import Journeys
from cxlens.report.stored_views import MIN_INTERVAL, VIEW_TABLES, fresh_result, plain

__all__ = [
    "DEFAULT_PATHS", "PATHS_KIND", "PATH_TABLES", "PERSONAS_KIND", "default_goal", "path_frames", "persona_cards",
    "stored_path_frames", "stored_persona_cards",
]  # fmt: skip

PATHS_KIND = "paths.views"
PERSONAS_KIND = "personas.views"
#: what the path analyses read (the dashboard's event views depend on the same)
PATH_TABLES = ("events", "customers", "segments", "journey_config")
#: the /paths page as it opens: top 10 three-step paths of event names from any event, no window
DEFAULT_PATHS: dict[str, Any] = {"from": None, "to": None, "steps": 3, "top": 10, "field": "name", "window": None}


def default_goal(journeys: Any) -> str | None:
    """The goal /paths opens with: ``purchase`` when the workspace has that event."""
    return "purchase" if "purchase" in journeys.event_names("name") else None


def path_frames(journeys: Any, q: dict[str, Any], **filters: Any) -> dict[str, pd.DataFrame | None]:
    """The /paths page's analyses for parameters ``q`` (``from``, ``to``, ``steps``, ``top``, ``field``,
    ``window``, ``goal``): ``top`` paths, Sankey ``flows`` and, with a goal, the ``last`` steps of those
    who never reached it."""
    common = {"field": q["field"], "window": q["window"], **filters}
    top = journeys.paths(q["from"], q["to"], steps=q["steps"], top=q["top"], goal=q["goal"], **common)
    flows = journeys.flows(q["from"], steps=max(2, q["steps"]), **common)
    last = None
    if q["goal"]:
        last = journeys.last_before_dropoff(q["goal"], from_event=q["from"], window=q["window"], top=10, **filters)
    return {"top": top, "flows": flows, "last": last}


def persona_cards(store: Any) -> pd.DataFrame:
    """One card per RFM segment (:func:`cxlens.customers.personas.personas`) with the stored CLV and
    churn scores when the models were fitted, and what the members write
    (:func:`~cxlens.customers.personas.persona_voice`: goals, frustrations, a quote)."""
    scores = stored_scores(store)
    clv = scores.clv if scores is not None and not scores.clv.empty else None
    risk = scores.risk if scores is not None and not scores.risk.empty else None
    df = personas(store, clv=clv, risk=risk)
    voice = persona_voice(store)
    if voice.empty:
        voice = pd.DataFrame({"segment": df["segment"], "verbatims": 0, "sentiment": float("nan"),
                              "goals": [[] for _ in range(len(df))], "frustrations": [[] for _ in range(len(df))],
                              "quote": None})  # fmt: skip
    return df.merge(voice, on="segment", how="left")


# -- frames as JSON -------------------------------------------------------------------------------
def _pack(df: pd.DataFrame | None) -> dict[str, Any] | None:
    """``df`` as JSON-safe content that :func:`_unpack` turns back into an equal frame."""
    if df is None:
        return None
    return {"columns": [str(c) for c in df.columns], "dtypes": {str(c): str(t) for c, t in df.dtypes.items()},
            "rows": plain(df.astype(object).where(df.notna(), None).to_numpy().tolist())}  # fmt: skip


def _unpack(packed: dict[str, Any] | None) -> pd.DataFrame | None:
    if packed is None:
        return None
    df = pd.DataFrame(packed["rows"], columns=packed["columns"], dtype=object)
    for c, t in packed["dtypes"].items():
        if t != "object":
            df[c] = df[c].astype(t)
    return df


def _save(ctx: JobContext, name: str, tables: tuple[str, ...], meta: dict[str, Any], seconds: float) -> None:
    json.dumps(meta, allow_nan=False)  # refuse, rather than store, what would not read back the same
    ctx.save_result(name, tables=tables, meta=meta, seconds=seconds)


# -- the jobs -------------------------------------------------------------------------------------
@task(PATHS_KIND, tables=PATH_TABLES, min_interval=MIN_INTERVAL, result="paths.default")
def store_path_views(ctx: JobContext) -> dict[str, Any]:
    """The /paths page's default analyses, stored for the dashboard."""
    ctx.versions(PATH_TABLES)
    t0 = time.perf_counter()
    journeys = Journeys(ctx.store)
    q = {**DEFAULT_PATHS, "goal": default_goal(journeys)}
    frames = path_frames(journeys, q)
    meta = {"params": q, **{k: _pack(v) for k, v in frames.items()}}
    _save(ctx, "paths.default", PATH_TABLES, meta, round(time.perf_counter() - t0, 3))
    return {"paths": len(frames["top"]), "goal": q["goal"]}


@task(PERSONAS_KIND, tables=VIEW_TABLES, min_interval=MIN_INTERVAL, result="personas.cards")
def store_persona_views(ctx: JobContext) -> dict[str, Any]:
    """The persona cards, stored for the dashboard and ``GET /api/v1/personas``."""
    ctx.versions(VIEW_TABLES)
    t0 = time.perf_counter()
    try:
        cards = persona_cards(ctx.store)
    except NotFoundError as e:  # no orders yet: nothing to store, and nothing to retry until the data changes
        return {"skipped": str(e)}
    _save(ctx, "personas.cards", VIEW_TABLES, {"cards": _pack(cards)}, round(time.perf_counter() - t0, 3))
    return {"personas": len(cards)}


# -- reading them back ----------------------------------------------------------------------------
def stored_path_frames(store: Any, q: dict[str, Any]) -> dict[str, pd.DataFrame | None] | None:
    """The stored /paths analyses when ``q`` is the default view they were computed for and they are
    fresh; None otherwise (the caller computes)."""
    r = fresh_result(store, "paths.default", PATHS_KIND)
    if r is None or r.meta.get("params") != q or "top" not in r.meta:
        return None
    return {k: _unpack(r.meta.get(k)) for k in ("top", "flows", "last")}


def stored_persona_cards(store: Any) -> pd.DataFrame | None:
    """The persona cards as stored by ``personas.views``, or None when absent or not fresh."""
    r = fresh_result(store, "personas.cards", PERSONAS_KIND)
    return None if r is None or "cards" not in r.meta else _unpack(r.meta["cards"])
