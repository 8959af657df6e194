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

__all__ = [
    "canonical_events",
    "events_schema",
    "random_events",
    "random_funnel",
    "reference_customer_reach",
    "reference_dropped",
    "reference_funnel",
]


def _as_text(v: Any) -> str | None:
    """The comparison text of a JSON value or a filter value (docs/funnels.md, "Property
    filters"), written out case by case: None for null, arrays and objects."""
    if v is True:
        return "true"
    if v is False:
        return "false"
    if type(v) is int:
        return str(v)
    if type(v) is float:
        if v == math.floor(v) and -(2**53) < v < 2**53:
            return f"{int(v):d}"
        return float.__repr__(v)
    if type(v) is str:
        return v
    return None


def _property(props: Any, key: str) -> Any:
    """``properties[key]``: the literal top-level key first; else, for a dotted key, the nested
    path ``a.b.c``; ``_MISSING`` when neither exists."""
    if not isinstance(props, str) or not props:
        return _MISSING
    doc = json.loads(props)
    if not isinstance(doc, dict):
        return _MISSING
    if key in doc:
        return doc[key]
    if "." not in key:
        return _MISSING
    node: Any = doc
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return _MISSING
        node = node[part]
    return node


_MISSING = object()


def _value(row: Mapping[str, Any], key: str) -> Any:
    """A column's value, or the comparison text of ``properties[key]`` (None when absent)."""
    if key in row:
        v = row[key]
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else v
    v = _property(row.get("properties"), key)
    return None if v is _MISSING else _as_text(v)


def _match(step: FunnelStep, row: Mapping[str, Any]) -> bool:
    if step.value is not None and _value(row, step.field) != step.value:
        return False
    for key, want in step.where:
        got = _value(row, key)
        wants = list(want) if isinstance(want, tuple) else [want]
        if got is None:
            if None not in wants:
                return False
            continue
        if isinstance(got, str):  # text columns and properties compare as text
            if got not in {_as_text(w) for w in wants if w is not None}:
                return False
        elif got not in [w for w in wants if w is not None]:
            return False
    return True


def _customer(
    events: list[dict],
    steps: list[FunnelStep],
    excl: list[FunnelStep],
    window: dt.timedelta,
    order: str,
    ties: str = "strict",
) -> tuple[list[pd.Timestamp | None], list[pd.Timestamp | None]]:
    """For one customer: the first moment each step 1..n is reached (None when never), and
    the time of the previous-step event of the converting chain to each step (None for step 1
    and for `any` order)."""
    n = len(steps)
    allow = ties == "allow" and order == "sequential"

    # ties allowed: the customer's events in one total order (time, first step matched, event id)
    def first_step(e: dict) -> int:
        return next((i for i, s in enumerate(steps, 1) if _match(s, e)), 0)

    events = sorted(events, key=lambda e: (e["ts"], first_step(e), str(e.get("event_id")))) if allow else events
    pos = {id(e): i for i, e in enumerate(events)}
    cand = [[e for e in events if _match(s, e)] for s in steps]
    blockers = {
        i: [e["ts"] for e in events if any(_match(x, e) for x in excl if (x.from_step or 1) <= i < (x.to_step or n))]
        for i in range(1, n)
    }
    all_ts = [e["ts"] for e in events]

    def before(a: dict, b: dict) -> bool:
        return pos[id(a)] < pos[id(b)] if allow else a["ts"] < b["ts"]

    first: list[pd.Timestamp | None] = []
    prev: list[pd.Timestamp | None] = []
    for k in range(1, n + 1):
        best = None
        chains = []
        for chain in itertools.product(*cand[:k]):
            ts = [e["ts"] for e in chain]
            if order == "any":
                if max(ts) - min(ts) > window:
                    continue
                done = max(ts)
            else:
                if any(not before(chain[i], chain[i + 1]) for i in range(k - 1)) or ts[-1] - ts[0] > window:
                    continue
                if any(ts[i] < b < ts[i + 1] for i in range(k - 1) for b in blockers[i + 1]):
                    continue
                if order == "strict" and any(ts[i] < t < ts[i + 1] for i in range(k - 1) for t in all_ts):
                    continue
                done = ts[-1]
                chains.append(chain)
            if best is None or done < best:
                best = done
        first.append(best)
        p = None
        if k > 1 and best is not None and order != "any":
            # the converting chain: it ends at the first step-k event at that moment (in the
            # tie order), starts as late as possible, and its step-(k-1) event is the latest
            at = [c for c in chains if c[-1]["ts"] == best]
            end = min((c[-1] for c in at), key=lambda e: pos[id(e)]) if allow else None
            at = [c for c in at if end is None or c[-1] is end]
            start = max(c[0]["ts"] for c in at)
            at = [c for c in at if c[0]["ts"] == start]
            p = max((c[-2] for c in at), key=lambda e: (e["ts"], pos[id(e)]))["ts"]
        prev.append(p)
    return first, prev


def _per_customer(events: pd.DataFrame) -> dict[str, list[dict]]:
    per: dict[str, list[dict]] = {}
    for row in events.to_dict("records"):
        row = {
            k: (None if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NaT else v)
            for k, v in row.items()
        }
        cid = row.get("customer_id") if row.get("customer_id") is not None else row.get("anonymous_id")
        if cid is None or row.get("ts") is None:
            continue
        row["ts"] = pd.Timestamp(row["ts"])
        per.setdefault(cid, []).append(row)
    return per


def _touch_value(evs: list[dict], steps: list[FunnelStep], at: pd.Timestamp, col: str) -> Any:
    """The attributed value: on the events matching one of ``steps`` at moment ``at``, the
    smallest non-null value of ``col`` (None when all are null)."""
    nonnull = [e.get(col) for e in evs if e["ts"] == at and any(_match(s, e) for s in steps) and e.get(col) is not None]
    return min(nonnull) if nonnull else None


def reference_customer_reach(
    events: pd.DataFrame,
    steps: Sequence[str | Mapping[str, Any]] | str,
    window: str | dt.timedelta | None = "14d",
    order: str = "sequential",
    exclude: Sequence[str | Mapping[str, Any]] | None = None,
    by: str | Sequence[str] | None = None,
    step_field: str = "name",
    *,
    customers: pd.DataFrame | None = None,
    attribution: str = "first",
    ties: str = "strict",
    time_basis: str = "chain",
    chain_prev: dict | None = None,
) -> dict[str, tuple[tuple, list[pd.Timestamp | None]]]:
    """Per customer who did step 1: (breakdown key, [first moment step k was reached or None]).
    ``chain_prev``, when given, receives per customer the previous-step times of the converting
    chains (see ``time_basis`` in :class:`~cxlens.journeys.funnels.FunnelQuery`)."""
    if isinstance(steps, str):
        steps = parse_steps(steps)
    sts = [FunnelStep.parse(s, step_field) for s in steps]
    xs = [FunnelStep.parse(s, step_field) for s in (exclude or [])]
    win = parse_window(window)
    bys = [by] if isinstance(by, str) else list(by or [])
    cust = {} if customers is None else {r["customer_id"]: r for r in customers.to_dict("records")}
    out = {}
    for cid, evs in _per_customer(events).items():
        first, prev = _customer(evs, sts, xs, win, order, ties)
        if first[0] is None:
            continue
        if chain_prev is not None:
            chain_prev[cid] = prev
        # first touch: the step-1 events at the first step-1 moment; last touch: the events that
        # completed the furthest step m, at the first moment it was reached (in `any` order the
        # completing event may match any of steps 1..m)
        last = max(k for k in range(len(sts)) if first[k] is not None)
        m = 0 if attribution == "first" else last
        touch_steps = sts[: m + 1] if order == "any" else [sts[m]]
        key = []
        for b in bys:
            if b in events.columns:
                key.append(_touch_value(evs, touch_steps, first[m], b))
            else:
                v = cust.get(cid, {}).get(b)
                key.append(None if isinstance(v, float) and math.isnan(v) else v)
        out[cid] = (tuple(key), first)
    return out


def reference_dropped(
    events: pd.DataFrame,
    steps: Sequence[str | Mapping[str, Any]] | str,
    step: int,
    *,
    last_event: bool = False,
    **kw: Any,
) -> pd.DataFrame:
    """Customers who reached ``step`` but not ``step + 1``: ``customer_id``, ``reached_step``,
    ``reached_at`` (+ breakdown columns; + ``last_event``/``last_event_at``, their latest event
    strictly after ``reached_at``, ties: the greatest value), sorted by ``customer_id``."""
    reach = reference_customer_reach(events, steps, **kw)
    bys = [kw["by"]] if isinstance(kw.get("by"), str) else list(kw.get("by") or [])
    field = kw.get("step_field", "name")
    per = _per_customer(events) if last_event else {}
    rows = []
    for cid in sorted(reach):
        key, first = reach[cid]
        if first[step - 1] is None or first[step] is not None:
            continue
        row = {
            "customer_id": cid,
            "reached_step": step,
            "reached_at": first[step - 1],
            **dict(zip(bys, key, strict=True)),
        }
        if last_event:
            after = [e for e in per[cid] if e["ts"] > first[step - 1]]
            t = max((e["ts"] for e in after), default=None)
            names = [e.get(field) for e in after if e["ts"] == t and e.get(field) is not None]
            row["last_event_at"] = t
            row["last_event"] = max(names) if names else None
        rows.append(row)
    cols = ["customer_id", "reached_step", "reached_at", *bys] + (["last_event_at", "last_event"] if last_event else [])
    out = pd.DataFrame(rows, columns=cols)
    for c in ("reached_at", "last_event_at"):
        if c in out.columns:
            out[c] = pd.to_datetime(out[c]).astype("datetime64[us]")
    return out


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
    attribution: str = "first",
    ties: str = "strict",
    time_basis: str = "chain",
) -> pd.DataFrame:
    """The funnel of :func:`cxlens.journeys.funnels.funnel`, computed by brute force in Python."""
    if isinstance(steps, str):
        steps = parse_steps(steps)
    sts = [FunnelStep.parse(s, step_field) for s in steps]
    bys = [by] if isinstance(by, str) else list(by or [])
    n = len(sts)
    prevs: dict = {}
    reach = reference_customer_reach(
        events,
        steps,
        window,
        order,
        exclude,
        by,
        step_field,
        customers=customers,
        attribution=attribution,
        ties=ties,
        chain_prev=prevs,
    )
    chain = time_basis == "chain" and order != "any"
    rows: dict[tuple, list[tuple[list, list]]] = {}
    for cid, (key, first) in reach.items():
        since = prevs[cid] if chain else [None, *first[:-1]]
        rows.setdefault(key, []).append((first, since))

    out = []
    for key in sorted(rows, key=lambda k: tuple((v is None, v) for v in k)):
        firsts = [f for f, _ in rows[key]]
        counts = [sum(f[k] is not None for f in firsts) for k in range(n)]
        for k in range(n):
            secs = [(f[k] - p[k]).total_seconds() for f, p in rows[key] if k > 0 and f[k] is not None]
            prev = counts[k - 1] if k else counts[0]
            out.append(
                {
                    **dict(zip(bys, key, strict=True)),
                    "step": k + 1,
                    "event": sts[k].title,
                    "customers": counts[k],
                    "conversion": counts[k] / counts[0] if counts[0] else 0.0,
                    "step_conversion": counts[k] / prev if prev else 0.0,
                    "dropped": prev - counts[k],
                    "median_seconds": float(np.percentile(secs, 50)) if secs else float("nan"),
                    "p90_seconds": float(np.percentile(secs, 90)) if secs else float("nan"),
                }
            )
    cols = [
        *bys,
        "step",
        "event",
        "customers",
        "conversion",
        "step_conversion",
        "dropped",
        "median_seconds",
        "p90_seconds",
    ]
    if not out and not bys:
        out = [
            {
                "step": k + 1,
                "event": s.title,
                "customers": 0,
                "conversion": 0.0,
                "step_conversion": 0.0,
                "dropped": 0,
                "median_seconds": float("nan"),
                "p90_seconds": float("nan"),
            }
            for k, s in enumerate(sts)
        ]
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
            rows.append(
                {
                    "customer_id": None if anon else f"c{c}",
                    "anonymous_id": f"anon{c}" if anon or rng.random() < 0.3 else None,
                    "ts": T0 + pd.Timedelta(minutes=int(rng.integers(0, span + 1))),
                    "name": str(rng.choice(NAMES, p=[0.3, 0.25, 0.2, 0.15, 0.1])),
                    "channel": str(rng.choice(["web", "app"])) if rng.random() < 0.9 else None,
                    "properties": json.dumps({"plan": str(rng.choice(["free", "pro"]))}),
                }
            )
    if rows and rng.random() < 0.3:
        rows.append({**rows[0], "customer_id": None, "anonymous_id": None})  # no identity: ignored
    return canonical_events(
        pd.DataFrame(rows, columns=["customer_id", "anonymous_id", "ts", "name", "channel", "properties"])
    )


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
        if rng.random() < 0.5:
            q["attribution"] = "last"
    return q
