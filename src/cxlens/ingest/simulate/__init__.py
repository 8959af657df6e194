"""Deterministic demo data: a multi-channel shop over 18 months, with the answers written down.

:func:`simulate` returns one pandas frame per canonical table (exactly the columns and dtypes
:func:`cxlens.schema.validate.validate_frame` produces) plus ``truth``, a JSON-serialisable
dict of what was planted: funnel drop-off, friction touchpoints, cart abandonment, the true
BG/NBD and gamma-gamma parameters, churn, score drivers, comment themes and PII. Analyses can be
tested against it. :func:`write_demo` loads it into a workspace.

The same ``seed`` always gives byte-identical frames. Everything is vectorised numpy, so
``size="large"`` (1M customers, >10M events, >2M feedback rows) takes minutes, not hours.

Examples
--------
>>> from cxlens.ingest.simulate import simulate
>>> data = simulate(200, seed=1)
>>> sorted(data.frames)[:3]
['customers', 'events', 'feedback']
>>> len(data.customers)
200
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from cxlens.ingest.load import insert_tables
from cxlens.ingest.simulate._base import DAY, NAT, T1, col, frame, ids, take, times
from cxlens.ingest.simulate.behaviour import behaviour_events, behaviour_truth
from cxlens.ingest.simulate.commerce import (
    EventPart,
    item_properties,
    make_items,
    make_orders,
    make_sessions,
    order_properties,
    session_events,
)
from cxlens.ingest.simulate.feedback import (
    loyalty_events,
    make_feedback,
    make_reviews,
    review_events,
    survey_batches,
)
from cxlens.ingest.simulate.people import CLVParams, make_catalogue, make_customers
from cxlens.ingest.simulate.service import fulfil, fulfilment_events, make_tickets, ticket_events
from cxlens.ingest.simulate.texts import TextBank
from cxlens.ingest.simulate.truth import build_truth
from cxlens.schema.journey import default_journey
from cxlens.schema.tables import FLOAT, INT, TABLES, TIMESTAMP

__all__ = ["SIZES", "TABLE_ORDER", "SimulatedData", "simulate", "write_demo"]

#: customers per named size
SIZES = {"small": 2_000, "medium": 50_000, "large": 1_000_000}
#: insertion order (parents before children)
TABLE_ORDER = ["customers", "orders", "order_items", "events", "feedback", "tickets", "reviews"]
EVENT_NAMES = [
    "ad_click",
    "visit",
    "product_view",
    "add_to_cart",
    "checkout",
    "purchase",
    "delivery",
    "support_contact",
    "return_request",
    "newsletter_open",
    "loyalty_signup",
    "review",
    "referral",
]


@dataclass
class SimulatedData:
    """One frame per canonical table, plus the ground truth of the simulation."""

    customers: pd.DataFrame
    events: pd.DataFrame
    feedback: pd.DataFrame
    orders: pd.DataFrame
    order_items: pd.DataFrame
    tickets: pd.DataFrame
    reviews: pd.DataFrame
    truth: dict[str, Any] = field(default_factory=dict)
    #: seconds spent per generation step (not part of the truth: it varies run to run)
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def frames(self) -> dict[str, pd.DataFrame]:
        """Frames by canonical table name, in insertion order."""
        return {name: getattr(self, name) for name in TABLE_ORDER}

    def counts(self) -> dict[str, int]:
        return {name: len(f) for name, f in self.frames.items()}


def _customers_n(size: str | int) -> int:
    if isinstance(size, bool):
        raise ValueError(f"size {size!r} is not valid; expected one of {', '.join(SIZES)} or a number of customers")
    if isinstance(size, (int, np.integer)):
        if size < 1:
            raise ValueError(f"size {size!r} is too small; expected at least 1 customer")
        return int(size)
    try:
        return SIZES[str(size).lower()]
    except KeyError:
        raise ValueError(
            f"size {size!r} is not known; expected one of {', '.join(SIZES)} or a number of customers"
        ) from None


def _broadcast(v: object, n: int) -> np.ndarray:
    if isinstance(v, np.ndarray):
        return v if v.dtype == object or v.dtype.kind in "fi" else v.astype(object)
    if isinstance(v, float):
        return np.full(n, v)
    out = np.empty(n, dtype=object)
    out.fill(v)
    return out


def _events_frame(parts: list[EventPart], customer_id: np.ndarray) -> pd.DataFrame:
    """Stack event batches in time order; each batch's arrays are released once stacked."""
    stage_of = default_journey().stage_of()
    stage_code = {t: i for i, t in enumerate(stage_of)}
    stages = list(stage_of.values())
    for p in parts:  # stage from the touchpoint, via the journey
        p.stage = (
            stage_of[p.touchpoint]
            if isinstance(p.touchpoint, str)
            else take(stages, pd.Series(p.touchpoint, copy=False).map(stage_code).to_numpy())
        )
    n = [len(p.cust) for p in parts]
    order = np.argsort(np.concatenate([p.ts for p in parts]), kind="stable")

    def stacked(attr: str, missing: object = None) -> np.ndarray:
        pieces = []
        for p, k in zip(parts, n, strict=True):
            v = getattr(p, attr)
            pieces.append(_broadcast(missing if v is None else v, k))
            setattr(p, attr, None)
        out = np.concatenate(pieces)
        del pieces
        return out[order]

    columns: dict[str, Any] = {"event_id": col(ids("E", np.arange(1, len(order) + 1), 9).astype(object))}
    columns["customer_id"] = col(customer_id[stacked("cust")])
    columns["anonymous_id"] = col(stacked("anonymous"))
    columns["session_id"] = col(stacked("session_id"))
    columns["ts"] = times(stacked("ts"))
    for name, attr in (
        ("type", "type"),
        ("name", "name"),
        ("channel", "channel"),
        ("touchpoint", "touchpoint"),
        ("stage", "stage"),
        ("url", "url"),
        ("properties", "properties"),
    ):
        columns[name] = col(stacked(attr))
    columns["revenue"] = stacked("revenue", np.nan).astype(np.float64)
    return frame(columns)


def _conform(f: pd.DataFrame, name: str) -> pd.DataFrame:
    """Exactly the canonical columns, in order; canonical columns the generator does not fill are null."""
    table = TABLES[name]
    extra = [c for c in f.columns if c not in table.column_names]
    if extra:
        raise AssertionError(f"generator made columns {extra} that {name} does not have")
    n = len(f)
    for c in table.columns:
        if c.name not in f.columns:
            if c.type == TIMESTAMP:
                f[c.name] = pd.Series(np.full(n, NAT, dtype=np.int64).view("datetime64[us]"))
            elif c.type == FLOAT:
                f[c.name] = np.full(n, np.nan)
            elif c.type == INT:
                f[c.name] = pd.array([pd.NA] * n, dtype="Int64")
            else:
                f[c.name] = col(np.full(n, None, dtype=object))
    return f[table.column_names]


def simulate(
    size: str | int = "small",
    seed: int = 0,
    *,
    progress: Callable[[str], None] | None = None,
    behaviour: bool = False,
) -> SimulatedData:
    """Simulate a multi-channel shop and return canonical frames plus the ground truth.

    Parameters
    ----------
    size
        ``"small"`` (2,000 customers, about a second), ``"medium"`` (50,000), ``"large"``
        (1,000,000 customers, over 10M events and 2M feedback rows, a few minutes) or a number
        of customers.
    seed
        Seed of :func:`numpy.random.default_rng`; the same seed gives identical frames.
    progress
        Called with the name of each step as it starts.
    behaviour
        Also simulate what the browser SDK sends on the web pages (clicks, scroll depth, rage,
        dead and error clicks with planted friction: :mod:`cxlens.ingest.simulate.behaviour`,
        ``truth["behaviour"]``). Off by default; the other tables are the same either way.

    Returns
    -------
    SimulatedData
        Frames ``customers``, ``events``, ``feedback``, ``orders``, ``order_items``,
        ``tickets``, ``reviews`` and the dict ``truth`` (see ``docs/demo-data.md``).

    Examples
    --------
    >>> data = simulate(300, seed=7)
    >>> data.truth["friction_touchpoints"][0]["touchpoint"]
    'checkout'
    >>> bool((data.feedback["score"].between(0, 10)).all())
    True
    """
    n = _customers_n(size)
    say = progress or (lambda step: None)
    timings: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[step] = round(now - clock, 3)
        clock = now

    rng = np.random.default_rng(seed)
    clv = CLVParams()
    say("customers")
    catalogue = make_catalogue(rng)
    bank = TextBank(rng)
    cu = make_customers(rng, n, clv)
    lap("customers")
    say("sessions")
    se, life = make_sessions(rng, cu, catalogue)
    sev = session_events(rng, se, cu, catalogue)
    lap("sessions")
    say("orders")
    od = make_orders(rng, se, sev, cu, clv)
    items = make_items(rng, od, catalogue)
    fu = fulfil(rng, od, cu)
    od.status = fu.status
    lap("orders")
    say("tickets")
    alive_until = np.where(life.death != NAT, life.death, T1)
    tk = make_tickets(rng, od, fu, cu, alive_until, bank)
    lap("tickets")
    say("feedback")
    batches = survey_batches(rng, cu, od, fu, tk, life.death, life.first_purchase)
    fb = make_feedback(rng, cu, batches, bank)
    rv = make_reviews(rng, cu, od, fu, catalogue, bank)
    lap("feedback")
    say("events")
    parts = [
        sev.part,
        *fulfilment_events(rng, od, fu),
        ticket_events(tk),
        review_events(rv),
        *loyalty_events(rng, cu, od, fb, alive_until),
    ]
    # churn: customers who dropped out are written off two months or more after their last activity
    last = np.full(n, NAT, dtype=np.int64)
    for cust, ts in [(p.cust, p.ts) for p in parts] + [
        (fb.cust, fb.ts),
        (rv.cust, rv.ts),
        (tk.cust, np.maximum(tk.created, tk.resolved)),
    ]:
        np.maximum.at(last, cust, ts)
    dead = life.death != NAT
    churned_at = np.maximum(life.death + 60 * DAY, last + 7 * DAY) + (rng.exponential(20.0, n) * DAY).astype(np.int64)
    cu.churned_at = np.where(dead & (churned_at <= T1), churned_at, NAT)
    if behaviour:  # after the churn dates: seconds-later clicks must not move them
        parts.append(behaviour_events(seed, sev.part))
    lap("events")
    say("frames")
    data = SimulatedData(
        customers=cu.frame(),
        events=pd.DataFrame(),
        feedback=frame(
            {
                "feedback_id": col(fb.feedback_id),
                "customer_id": col(cu.customer_id[fb.cust]),
                "ts": times(fb.ts),
                "metric": col(fb.metric),
                "score": fb.score,
                "comment": col(fb.comment),
                "touchpoint": col(fb.touchpoint),
                "channel": col(fb.channel),
                "stage": col(fb.stage),
                "survey_id": col(fb.survey),
                "properties": col(fb.properties),
            }
        ),
        orders=frame(
            {
                "order_id": col(od.order_id),
                "customer_id": col(cu.customer_id[od.cust]),
                "ts": times(od.ts),
                "amount": od.amount,
                "currency": col(od.currency),
                "status": col(od.status),
                "channel": col(take(["web", "mobile_app", "store"], od.channel)),
                "properties": col(order_properties(od, items)),
            }
        ),
        order_items=frame(
            {
                "order_id": col(od.order_id[items["order"]]),
                "item_id": col(items["item_id"]),
                "product_id": col(catalogue.product_id[items["product"]]),
                "quantity": items["quantity"],
                "price": items["price"],
                "properties": col(item_properties(catalogue, items)),
            }
        ),
        tickets=frame(
            {
                "ticket_id": col(tk.ticket_id),
                "customer_id": col(cu.customer_id[tk.cust]),
                "created_at": times(tk.created),
                "first_response_at": times(tk.first_response),
                "resolved_at": times(tk.resolved),
                "channel": col(take(["chat", "phone", "email"], tk.channel)),
                "subject": col(tk.subject),
                "body": col(tk.body),
                "status": col(tk.status),
                "agent": col(tk.agent),
                "team": col(tk.team),
                "contacts": pd.array(tk.contacts, dtype="Int64"),
                "touchpoint": col(take(["support_chat", "support_phone", "support_email"], tk.channel)),
            }
        ),
        reviews=frame(
            {
                "review_id": col(rv.review_id),
                "source": col(rv.source),
                "customer_id": col(cu.customer_id[rv.cust]),
                "ts": times(rv.ts),
                "rating": rv.rating,
                "title": col(rv.title),
                "body": col(rv.body),
                "product_id": col(rv.product_id),
                "touchpoint": col(np.full(rv.n, "review_site", dtype=object)),
            }
        ),
    )
    truth = build_truth(
        seed=seed,
        size=size,
        cu=cu,
        se=se,
        life=life,
        od=od,
        fu=fu,
        tk=tk,
        fb=fb,
        rv=rv,
        clv=clv,
        catalogue=catalogue,
        event_names=EVENT_NAMES,
    )
    del se, sev, fb, rv, tk, items, batches
    data.events = _events_frame(parts, cu.customer_id)
    del parts
    for name, f in data.frames.items():
        setattr(data, name, _conform(f, name))
    lap("frames")
    if behaviour:
        truth["behaviour"] = behaviour_truth()
    data.truth = truth
    data.timings = timings
    return data


def write_demo(
    ws: Any,
    size: str | int = "small",
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
    *,
    behaviour: bool = False,
) -> dict[str, int]:
    """Simulate demo data and insert it into workspace ``ws``; returns rows inserted per table.

    Rows already present (same ids) are skipped, so writing the same demo twice inserts
    nothing the second time. The ground truth is stored as JSON text in table
    ``demo_truth(key VARCHAR, value VARCHAR)``, one row per top-level key (replaced on rewrite).

    Parameters
    ----------
    ws
        A writable :class:`cxlens.Workspace` (``cxlens.open(path)``).
    size, seed, behaviour
        As for :func:`simulate`.
    progress
        Called as ``progress(rows_done, rows_total)`` while inserting.

    Examples
    --------
    >>> import cxlens
    >>> ws = cxlens.open(":memory:")
    >>> write_demo(ws, 100, seed=3)["customers"]
    100
    """
    data = simulate(size, seed, behaviour=behaviour)
    frames = data.frames
    total = sum(len(f) for f in frames.values())
    done = 0
    if progress:
        progress(0, total)
    inserted: dict[str, int] = {}
    chunk = 2_000_000
    for name, rows in frames.items():
        inserted[name] = 0
        for start in range(0, max(len(rows), 1), chunk):
            part = rows.iloc[start : start + chunk]
            if len(part):
                inserted[name] += insert_tables(ws, {name: part}, source=f"demo:{size}:{seed}")[name].inserted
            done += len(part)
            if progress:
                progress(done, total)
    rows = [[k, json.dumps(v, ensure_ascii=False)] for k, v in data.truth.items()]
    with ws.transaction(changes=["demo_truth"]) as cur:
        cur.execute("DELETE FROM demo_truth")
        cur.executemany("INSERT INTO demo_truth VALUES (?, ?)", rows)
    return inserted
