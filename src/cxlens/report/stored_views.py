"""Stored journey views: the unfiltered journey map and wall map, kept fresh by a job.

The ``/journey`` page and its wall-map partial are the slowest views of the dashboard (a few CPU
seconds on 50,000 customers: the stage flow, the per-touchpoint scores, revenue at risk, the
stage quotes). Most visits open them without filters, so the ``journey.views`` job computes that
default view whenever the data it reads changes (at most every :data:`MIN_INTERVAL` seconds, like
the other stored results, :mod:`cxlens.jobs.runner`) and stores it; ``ws.refresh()`` and ``cxlens
models fit`` run it too. A request without filters answers from the stored view when it is fresh
— computed on exactly the current data versions — and computes as before otherwise (filters, a
persona, or data changed since), so nothing stale is ever shown.

Results (``results`` rows): ``journey.map`` (the map frame, the revenue-at-risk column in
``meta``), ``journey.consistency`` (channel consistency) and ``journey.canvas`` (the wall map's
content in ``meta``, rebuilt as a :class:`~cxlens.report.journey_canvas.JourneyCanvas`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from typing import Any

import pandas as pd

from cxlens.customers.risk import touchpoint_revenue_at_risk
from cxlens.jobs import JobContext, load_result, task
from cxlens.journeys.maps import channel_consistency, journey_map
from cxlens.report.journey_canvas import JourneyCanvas, journey_canvas

__all__ = ["KIND", "MIN_INTERVAL", "VIEW_TABLES", "fresh_result", "plain", "stored_canvas", "stored_map"]

KIND = "journey.views"
#: every table the journey views read (facts, configuration, stored model and text results) and
#: the stored results they read by name ("results:<name>"), not every stored result: a job saving
#: its own (e.g. ``act.scores`` at each server start) must not make the views stale
VIEW_TABLES = (
    "customers", "events", "feedback", "orders", "order_items", "tickets", "reviews",
    "segments", "journey_config", "settings",
    "verbatim_analysis", "verbatim_themes", "customer_scores",
    "results:models", "results:revenue_at_risk", "results:voice.themes",
)  # fmt: skip
#: at most one automatic refresh per this many seconds (a stream of events does not recompute it
#: every few seconds; until it runs, requests compute the view themselves)
MIN_INTERVAL = 300.0
#: the stored canvas's shape: a result written by another version of the dataclass is ignored
_CANVAS_FORMAT = "canvas:" + ",".join(f.name for f in dataclasses.fields(JourneyCanvas))


def plain(value: Any) -> Any:
    """``value`` with NumPy scalars as Python numbers and non-finite floats as None (JSON-safe)."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    if hasattr(value, "item") and callable(value.item) and not isinstance(value, str | bytes):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@task(KIND, tables=VIEW_TABLES, min_interval=MIN_INTERVAL, result="journey.canvas")
def store_journey_views(ctx: JobContext) -> dict[str, Any]:
    """The unfiltered journey map, its channel consistency and the wall map, stored for the dashboard."""
    store = ctx.store
    ctx.versions(VIEW_TABLES)
    t0 = time.perf_counter()
    frame = journey_map(store)
    at_risk = touchpoint_revenue_at_risk(store)
    consistency = channel_consistency(store)
    t1 = time.perf_counter()
    canvas = journey_canvas(store)
    t2 = time.perf_counter()
    content = plain(dataclasses.asdict(canvas))
    json.dumps(content, allow_nan=False)  # refuse, rather than store, what would not read back the same
    ctx.save_result("journey.map", tables=VIEW_TABLES, frame=frame, meta={"revenue_at_risk": at_risk, "object_columns": _object_columns(frame)},
                    seconds=round(t1 - t0, 3))  # fmt: skip
    ctx.save_result("journey.consistency", tables=VIEW_TABLES, frame=consistency,
                    meta={"object_columns": _object_columns(consistency)}, seconds=round(t1 - t0, 3))  # fmt: skip
    ctx.save_result("journey.canvas", tables=VIEW_TABLES, meta={"format": _CANVAS_FORMAT, "canvas": content},
                    seconds=round(t2 - t1, 3))  # fmt: skip
    return {"touchpoints": len(frame), "stages": len(canvas.stages)}


def fresh_result(store: Any, name: str, kind: str = KIND) -> Any:
    """Stored result ``name`` when job ``kind`` wrote it and it is fresh (computed on the current data
    versions), else None."""
    r = load_result(store, name)
    if r is None or r.kind != kind or r.is_stale(store):
        return None
    return r


def stored_canvas(store: Any) -> JourneyCanvas | None:
    """The unfiltered wall map as stored by ``journey.views``, or None when absent or not fresh."""
    r = fresh_result(store, "journey.canvas")
    if r is None or r.meta.get("format") != _CANVAS_FORMAT:
        return None
    return JourneyCanvas(**r.meta["canvas"])


def stored_map(store: Any) -> tuple[pd.DataFrame, dict[str, str], pd.DataFrame] | None:
    """``(journey map, revenue at risk per touchpoint, channel consistency)`` without filters, as stored
    by ``journey.views``; None when absent or not fresh (computed on other data versions)."""
    m, c = fresh_result(store, "journey.map"), fresh_result(store, "journey.consistency")
    if m is None or c is None or m.versions != c.versions:
        return None
    frame, consistency = m.frame(), c.frame()
    if frame is None or consistency is None:
        return None
    return (_objects(frame, m.meta), dict(m.meta.get("revenue_at_risk") or {}), _objects(consistency, c.meta))


def _object_columns(df: pd.DataFrame) -> list[str]:
    return [str(c) for c in df.columns if df[c].dtype == object]


def _objects(df: pd.DataFrame, meta: dict[str, Any]) -> pd.DataFrame:
    """The columns the analysis returned as Python objects back as objects (None when missing):
    Parquet reads text back as pandas' string dtype, whose missing value is NaN."""
    for c in meta.get("object_columns") or ():
        if c in df.columns and df[c].dtype != object:
            df[c] = pd.Series([None if pd.isna(v) else v for v in df[c]], index=df.index, dtype=object)
    return df
