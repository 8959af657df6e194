"""A plain, obviously-correct (and slow) funnel: brute force over each customer's events.

This is the executable form of the semantics in ``docs/funnels.md`` and the oracle the Ibis
engine of :mod:`cxlens.journeys.funnels` is tested against. It enumerates every choice of
events e1…ek for steps 1…k and checks the definition literally, so it is exponential in the
number of steps: use it on small logs only (tests, examples).
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.journeys.funnels import FunnelStep, parse_steps, parse_window
from cxlens.schema.tables import EVENTS

__all__ = ["canonical_events", "events_schema", "random_events", "random_funnel", "reference_funnel"]


def _value(row: Mapping[str, Any], key: str) -> Any:
    if key in row:
        v = row[key]
    else:
        props = row.get("properties")
        v = json.loads(props).get(key) if isinstance(props, str) and props else None
        v = None if v is None else str(v)
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def _match(step: FunnelStep, row: Mapping[str, Any]) -> bool:
    if step.value is not None and _value(row, step.field) != step.value:
        return False
    for key, want in step.where:
        got = _value(row, key)
        if isinstance(want, tuple):
            if got not in want:
                return False
        elif want is None:
            if got is not None:
                return False
        elif got != want:
            return False
    return True


def _customer(events: list[dict], steps: list[FunnelStep], excl: list[FunnelStep], window: dt.timedelta,
              order: str) -> list[pd.Timestamp | None]:
    """For one customer: the first moment each step 1..n is reached (None when never)."""
    n = len(steps)
    cand = [[e for e in events if _match(s, e)] for s in steps]
    blockers = {
        i: [e["ts"] for e in events if any(_match(x, e) for x in excl if (x.from_step or 1) <= i < (x.to_step or n))]
        for i in range(1, n)
    }
    all_ts = [e["ts"] for e in events]
    first: list[pd.Timestamp | None] = []
    for k in range(1, n + 1):
        best = None
        for chain in itertools.product(*cand[:k]):
            ts = [e["ts"] for e in chain]
            if order == "any":
                if max(ts) - min(ts) > window:
                    continue
                done = max(ts)
            else:
                if any(not ts[i] < ts[i + 1] for i in range(k - 1)) or ts[-1] - ts[0] > window:
                    continue
                if any(ts[i] < b < ts[i + 1] for i in range(k - 1) for b in blockers[i + 1]):
                    continue
                if order == "strict" and any(ts[i] < t < ts[i + 1] for i in range(k - 1) for t in all_ts):
                    continue
                done = ts[-1]
            if best is None or done < best:
                best = done
        first.append(best)
    return first


def reference_funnel(
    events: pd.DataFrame,
    steps: Sequence[str | Mapping[str, Any]] | str,
    window: str | dt.timedelta | None = "14d",
    order: str = "sequential",
    exclude: Sequence[str | Mapping[str, Any]] | None = None,
    by: str | Sequence[str] | None = None,
    step_field: str = "name",
    *,
    customers: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """The funnel of :func:`cxlens.journeys.funnels.funnel`, computed by brute force in Python."""
    if isinstance(steps, str):
        steps = parse_steps(steps)
    sts = [FunnelStep.parse(s, step_field) for s in steps]
    xs = [FunnelStep.parse(s, step_field) for s in (exclude or [])]
    win = parse_window(window)
    bys = [by] if isinstance(by, str) else list(by or [])
    n = len(sts)

    per: dict[str, list[dict]] = {}
    for row in events.to_dict("records"):
        row = {k: (None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT else v)
               for k, v in row.items()}
        cid = row.get("customer_id") if row.get("customer_id") is not None else row.get("anonymous_id")
        if cid is None or row.get("ts") is None:
            continue
        row["ts"] = pd.Timestamp(row["ts"])
        per.setdefault(cid, []).append(row)
    cust = {} if customers is None else {r["customer_id"]: r for r in customers.to_dict("records")}

    rows: dict[tuple, list[list[pd.Timestamp | None]]] = {}
    for cid, evs in per.items():
        first = _customer(evs, sts, xs, win, order)
        if first[0] is None:
            continue
        key = []
        for b in bys:
            if b in events.columns:  # first touch: the earliest step-1 event, smallest non-null value on ties
                t0 = min(e["ts"] for e in evs if _match(sts[0], e))
                vals = [e.get(b) for e in evs if e["ts"] == t0 and _match(sts[0], e)]
                nonnull = [v for v in vals if v is not None]
                key.append(min(nonnull) if nonnull else None)
            else:
                v = cust.get(cid, {}).get(b)
                key.append(None if isinstance(v, float) and math.isnan(v) else v)
        rows.setdefault(tuple(key), []).append(first)

    out = []
    for key in sorted(rows, key=lambda k: tuple((v is None, v) for v in k)):
        firsts = rows[key]
        counts = [sum(f[k] is not None for f in firsts) for k in range(n)]
        for k in range(n):
            secs = [(f[k] - f[k - 1]).total_seconds() for f in firsts if k > 0 and f[k] is not None]
            prev = counts[k - 1] if k else counts[0]
            out.append({
                **dict(zip(bys, key, strict=True)),
                "step": k + 1,
                "event": sts[k].title,
                "customers": counts[k],
                "conversion": counts[k] / counts[0] if counts[0] else 0.0,
                "step_conversion": counts[k] / prev if prev else 0.0,
                "dropped": prev - counts[k],
                "median_seconds": float(np.percentile(secs, 50)) if secs else float("nan"),
                "p90_seconds": float(np.percentile(secs, 90)) if secs else float("nan"),
            })
    cols = [*bys, "step", "event", "customers", "conversion", "step_conversion", "dropped", "median_seconds",
            "p90_seconds"]
    if not out and not bys:
        out = [{"step": k + 1, "event": s.title, "customers": 0, "conversion": 0.0, "step_conversion": 0.0,
                "dropped": 0, "median_seconds": float("nan"), "p90_seconds": float("nan")} for k, s in enumerate(sts)]
    return pd.DataFrame(out, columns=cols)


# -- random logs and funnels (for fuzzing this engine, or another backend, against the reference) --
NAMES = ["a", "b", "c", "d", "x"]
T0 = pd.Timestamp("2024-01-01")


def random_events(rng: np.random.Generator, customers: int = 6, max_events: int = 8, span: int = 12) -> pd.DataFrame:
    """Small logs with many timestamp ties (minutes drawn from ``0..span``), repeated names,
    anonymous-only customers, events without an identity and a JSON property."""
    rows = []
    for c in range(customers):
        for _ in range(int(rng.integers(0, max_events + 1))):
            anon = rng.random() < 0.15
            rows.append({
                "customer_id": None if anon else f"c{c}",
                "anonymous_id": f"anon{c}" if anon or rng.random() < 0.3 else None,
                "ts": T0 + pd.Timedelta(minutes=int(rng.integers(0, span + 1))),
                "name": str(rng.choice(NAMES, p=[0.3, 0.25, 0.2, 0.15, 0.1])),
                "channel": str(rng.choice(["web", "app"])) if rng.random() < 0.9 else None,
                "properties": json.dumps({"plan": str(rng.choice(["free", "pro"]))}),
            })
    if rows and rng.random() < 0.3:
        rows.append({**rows[0], "customer_id": None, "anonymous_id": None})  # no identity: ignored
    return canonical_events(pd.DataFrame(rows, columns=["customer_id", "anonymous_id", "ts", "name", "channel", "properties"]))


def events_schema() -> ibis.Schema:
    """The Ibis schema of the canonical events table (for ``con.create_table(..., schema=...)``)."""
    types = {"string": "string", "json": "string", "timestamp": "timestamp(6)", "float": "float64", "int": "int64"}
    return ibis.schema({c.name: types[c.type] for c in EVENTS.columns})


def canonical_events(df: pd.DataFrame) -> pd.DataFrame:
    """Add the remaining canonical events columns with the stored types."""
    df = df.copy()
    df.insert(0, "event_id", [f"e{i}" for i in range(len(df))])
    for c in ("session_id", "type", "touchpoint", "stage", "url"):
        if c not in df.columns:
            df[c] = None
    if "touchpoint" in df.columns and df["touchpoint"].isna().all():
        df["touchpoint"] = df["name"].map(lambda n: f"tp_{n}" if isinstance(n, str) else None)
    if "revenue" not in df.columns:
        df["revenue"] = np.nan
    df["ts"] = pd.to_datetime(df["ts"]).astype("datetime64[us]")
    for c in df.columns:
        if c not in ("ts", "revenue"):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df[[c.name for c in EVENTS.columns]]


def random_funnel(rng: np.random.Generator) -> dict:
    """A random funnel definition over ``NAMES`` (repeated steps allowed)."""
    n = int(rng.integers(1, 5))
    steps: list = [str(rng.choice(NAMES[:4])) for _ in range(n)]
    if rng.random() < 0.2:
        i = int(rng.integers(0, n))
        steps[i] = {"name": steps[i], "where": {"channel": "web"}}
    order = str(rng.choice(["sequential", "strict", "any"], p=[0.5, 0.25, 0.25]))
    q = {"steps": steps, "window": f"{int(rng.integers(1, 12))}m", "order": order}
    if order == "sequential" and n > 1 and rng.random() < 0.5:
        q["exclude"] = ["x"] if rng.random() < 0.7 else [{"name": "d", "from_step": 1, "to_step": 2}]
    if rng.random() < 0.3:
        q["by"] = "channel"
    return q
