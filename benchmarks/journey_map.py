"""``cxlens bench journey-map``: the journey map's flow (volume, customers and conversion to the
next stage per stage × touchpoint) on a workspace, cxlens vs plain pandas.

The log is the funnel benchmark's (:func:`benchmarks.funnel.make_funnel_events`) with each event
name mapped to a stage and a touchpoint of the default journey. cxlens computes the whole
``ws.journeys.map()`` (the flow, plus survey scores and pain, which are empty here); pandas
computes only the flow: per (stage, touchpoint) the events (``volume``), the customers, and those
who have an event at the next stage strictly after their first event at the cell
(``converted``). Both must agree on those three columns for every cell.
"""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import pandas as pd

from benchmarks import REPEAT, timed
from benchmarks.funnel import make_funnel_events

__all__ = ["STAGE_OF", "bench_journey_map", "pandas_flow"]

#: event name → (stage, touchpoint)
STAGE_OF = {
    "ad_click": ("awareness", "ads"),
    "visit": ("awareness", "website"),
    "search": ("consideration", "search"),
    "product_view": ("consideration", "product_page"),
    "add_to_cart": ("purchase", "cart"),
    "checkout": ("purchase", "checkout"),
    "purchase": ("purchase", "payment"),
    "delivery": ("service", "delivery"),
    "support_contact": ("service", "support"),
}
STAGES = ["awareness", "consideration", "purchase", "service", "loyalty", "advocacy"]


def map_events(events: int, customers: int, seed: int) -> pd.DataFrame:
    df = make_funnel_events(events, customers, seed)
    df["stage"] = df["name"].map({k: v[0] for k, v in STAGE_OF.items()})
    df["touchpoint"] = df["name"].map({k: v[1] for k, v in STAGE_OF.items()})
    return df


def pandas_flow(df: pd.DataFrame) -> dict[tuple[str, str], tuple[int, int, int]]:
    """``{(stage, touchpoint): (volume, customers, converted)}`` in vectorised pandas."""
    cell = df.groupby(["stage", "touchpoint", "customer_id"], sort=False).agg(
        first=("ts", "min"), events=("ts", "size")
    )
    cell = cell.reset_index()
    last = df.groupby(["customer_id", "stage"], sort=False)["ts"].max()
    nxt = dict(zip(STAGES, STAGES[1:] + [None], strict=True))
    cell["next_stage"] = cell["stage"].map(nxt)
    idx = pd.MultiIndex.from_arrays([cell["customer_id"], cell["next_stage"]])
    later = last.reindex(idx).to_numpy()
    cell["converted"] = (pd.notna(later) & (later > cell["first"].to_numpy())).astype(np.int64)
    agg = cell.groupby(["stage", "touchpoint"]).agg(
        volume=("events", "sum"), customers=("customer_id", "size"), converted=("converted", "sum")
    )
    return {k: (int(v), int(c), int(x)) for k, (v, c, x) in agg.iterrows()}


def bench_journey_map(
    events: int = 2_000_000, customers: int = 200_000, seed: int = 0, repeat: int = REPEAT
) -> dict[str, Any]:
    """Time ``ws.journeys.map()`` on a workspace against :func:`pandas_flow` (loading not timed).

    Returns ``events``, ``customers``, ``cxlens_seconds``, ``cxlens_cpu_seconds``,
    ``pandas_seconds``, ``ratio`` (pandas / cxlens), ``agree``, ``cells`` and ``load_average``.
    """
    import tempfile

    import cxlens

    df = map_events(events, customers, seed)
    with tempfile.TemporaryDirectory() as tmp:
        ws = cxlens.open(os.path.join(tmp, "bench.duckdb"))
        try:
            ws.load("events", df.assign(event_id=np.arange(len(df)).astype(str)))
            load = os.getloadavg()[0]
            out, cx_first, cx, cx_cpu = timed(ws.journeys.map, repeat)
        finally:
            ws.close()
    ref, pd_first, pdt, _ = timed(lambda: pandas_flow(df), repeat)
    got = {
        (r.stage, r.touchpoint): (int(r.volume), int(r.customers), int(r.converted_))
        for r in out.assign(converted_=(out["conversion"].fillna(0) * out["customers"] / 100).round()).itertuples(
            index=False
        )
        if r.touchpoint is not None and r.volume > 0
    }
    return {
        "events": int(len(df)),
        "customers": int(customers),
        "cxlens_seconds": round(cx, 3),
        "cxlens_cpu_seconds": round(cx_cpu, 3),
        "cxlens_first_run_seconds": round(cx_first, 3),
        "pandas_seconds": round(pdt, 3),
        "pandas_first_run_seconds": round(pd_first, 3),
        "runs": repeat,
        "ratio": round(pdt / cx, 2),
        "agree": got == ref,
        "cells": len(got),
        "load_average": round(load, 2),
    }
