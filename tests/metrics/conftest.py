"""A small seeded random dataset covering every canonical table, loaded into a workspace."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import cxlens

T0 = pd.Timestamp("2024-01-01")
SPAN_S = 540 * 86400  # 18 months


def make_dataset(
    seed: int = 7,
    n_customers: int = 200,
    n_feedback: int = 3000,
    n_orders: int = 1500,
    n_events: int = 4000,
    n_tickets: int = 600,
) -> dict[str, pd.DataFrame]:
    rng = np.random.default_rng(seed)

    def ts(n):
        return T0 + pd.to_timedelta(rng.integers(0, SPAN_S, n), unit="s")

    def pick(vals, n, p=None):
        return np.asarray(vals, dtype=object)[rng.choice(len(vals), n, p=p)]

    cids = np.array([f"c{i:03d}" for i in range(n_customers)], dtype=object)
    churned = pd.Series(ts(n_customers)).where(rng.random(n_customers) < 0.15)
    customers = pd.DataFrame(
        {
            "customer_id": cids,
            "created_at": ts(n_customers),
            "segment": pick(["smb", "mid", "ent"], n_customers),
            "plan": pick(["free", "pro", None], n_customers),
            "country": pick(["FR", "DE", "US"], n_customers),
            "churned_at": churned,
            "traits": [
                json.dumps({"tier": t, "age": int(a)})
                for t, a in zip(
                    pick(["gold", "silver", "bronze"], n_customers), rng.integers(18, 80, n_customers), strict=True
                )
            ],
        }
    )
    some_cids = np.append(cids, ["x999", None])  # an unknown customer and anonymous answers

    metric = pick(["nps", "csat", "ces", "rating", "enps"], n_feedback, p=[0.35, 0.25, 0.2, 0.15, 0.05])
    lo = np.select([metric == "nps", metric == "enps", metric == "ces"], [0, 0, 1], 1)
    hi = np.select([metric == "nps", metric == "enps", metric == "ces"], [10, 10, 7], 5)
    feedback = pd.DataFrame(
        {
            "feedback_id": [f"f{i}" for i in range(n_feedback)],
            "customer_id": pick(some_cids, n_feedback),
            "ts": ts(n_feedback),
            "metric": metric,
            "score": rng.integers(lo, hi + 1).astype(float),
            "touchpoint": pick(["homepage", "checkout", "delivery", "support_chat", None], n_feedback),
            "channel": pick(["web", "app", "email"], n_feedback),
            "survey_id": pick(["s1", "s2"], n_feedback),
        }
    )
    orders = pd.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n_orders)],
            "customer_id": pick(np.append(cids, "x999"), n_orders),
            "ts": ts(n_orders),
            "amount": np.round(rng.lognormal(4, 0.7, n_orders), 2),
            "currency": "EUR",
            "status": pick(
                ["delivered", "shipped", "Cancelled", "returned", None], n_orders, p=[0.6, 0.2, 0.08, 0.07, 0.05]
            ),
            "channel": pick(["web", "store"], n_orders),
        }
    )
    # events: sessions of 1-4 events on the same day
    n_sess = n_events // 3
    sess_cust = pick(some_cids, n_sess)
    sess_start = ts(n_sess)
    sess_of = rng.integers(0, n_sess, n_events)
    ev_ts = pd.DatetimeIndex(sess_start[sess_of]) + pd.to_timedelta(rng.integers(0, 3600, n_events), unit="s")
    sid = np.array([f"s{i}" for i in sess_of], dtype=object)
    sid[rng.random(n_events) < 0.2] = None  # falls back to customer + day
    cust = sess_cust[sess_of]
    anon = np.where(pd.isna(cust), np.array([f"a{i}" for i in sess_of], dtype=object), None)
    events = pd.DataFrame(
        {
            "event_id": [f"e{i}" for i in range(n_events)],
            "customer_id": cust,
            "anonymous_id": anon,
            "session_id": sid,
            "ts": ev_ts,
            "type": "track",
            "name": pick(["page_view", "add_to_cart", "purchase"], n_events, p=[0.5, 0.3, 0.2]),
            "channel": pick(["web", "app"], n_events),
            "touchpoint": pick(["product", "cart", "checkout"], n_events),
        }
    )
    created = ts(n_tickets)
    frt = pd.to_timedelta(rng.integers(60, 3 * 86400, n_tickets), unit="s")
    res = frt + pd.to_timedelta(rng.integers(60, 10 * 86400, n_tickets), unit="s")
    tickets = pd.DataFrame(
        {
            "ticket_id": [f"t{i}" for i in range(n_tickets)],
            "customer_id": pick(some_cids, n_tickets),
            "created_at": created,
            "first_response_at": pd.Series(created + frt).where(rng.random(n_tickets) < 0.9),
            "resolved_at": pd.Series(created + res).where(rng.random(n_tickets) < 0.8),
            "channel": pick(["email", "chat", "phone"], n_tickets),
            "status": "closed",
            "team": pick(["t1", "t2"], n_tickets),
            "contacts": pd.array(
                np.where(rng.random(n_tickets) < 0.1, np.nan, rng.integers(1, 4, n_tickets)), dtype="Int64"
            ),
        }
    )
    return {"customers": customers, "feedback": feedback, "orders": orders, "events": events, "tickets": tickets}


@pytest.fixture(scope="session")
def dataset() -> dict[str, pd.DataFrame]:
    return make_dataset()


@pytest.fixture(scope="session")
def data_ws(dataset, tmp_path_factory):
    """A DuckDB workspace holding :func:`make_dataset` (loaded through validation)."""
    w = cxlens.open(tmp_path_factory.mktemp("metrics") / "ws.duckdb")
    for name, df in dataset.items():
        w.load(name, df)
    yield w
    w.close()


@pytest.fixture(scope="session")
def tables(data_ws) -> dict[str, pd.DataFrame]:
    """The workspace's canonical tables as pandas frames (what every reference reads)."""
    return {n: data_ws.table(n).to_pandas() for n in ("customers", "feedback", "orders", "events", "tickets")}
