"""A small, fixed-seed workspace for the web and report tests (shared by their conftests).

Uses the project's demo generator when it exists; otherwise builds customers, feedback,
orders, cart events and tickets directly. Either way it adds one feedback row whose comment
and touchpoint are HTML/JS payloads, so escaping is tested on real pages.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd

import cxlens

XSS_COMMENT = "<script>alert(1)</script>"
XSS_TOUCHPOINT = "<img src=x onerror=alert(2)>"


def _direct(ws: cxlens.Workspace, seed: int) -> None:
    rng = np.random.default_rng(seed)
    n_cust, n_fb = 300, 3000
    cids = [f"c{i:04d}" for i in range(n_cust)]
    ws.load(
        "customers",
        pd.DataFrame(
            {
                "customer_id": cids,
                "created_at": pd.Timestamp("2023-06-01"),
                "segment": rng.choice(["consumer", "smb", "enterprise"], n_cust, p=[0.6, 0.3, 0.1]),
            }
        ),
    )
    tps = ["homepage", "product_page", "checkout", "delivery", "support_chat", "app_browse", "store"]
    tp = rng.choice(tps, n_fb)
    metric = rng.choice(["nps", "csat", "ces"], n_fb, p=[0.5, 0.3, 0.2])
    # later months a little better, checkout worse: gives trends and movers
    ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 182 * 24 * 60, n_fb), unit="min")
    lift = (ts.month.to_numpy() - 1) * 0.15 - (tp == "checkout") * 1.0
    base = {"nps": 7.2, "csat": 3.7, "ces": 4.8}
    hi = {"nps": 10, "csat": 5, "ces": 7}
    lo = {"nps": 0, "csat": 1, "ces": 1}
    score = [
        float(
            np.clip(
                round(rng.normal(base[m] + up * (1 if m == "nps" else 0.4), 2.0 if m == "nps" else 1.0)), lo[m], hi[m]
            )
        )
        for m, up in zip(metric, lift, strict=True)
    ]
    words = ["fast delivery", "checkout was confusing", "great support", "too expensive", None, None]
    fb = pd.DataFrame(
        {
            "feedback_id": [f"f{i:05d}" for i in range(n_fb)],
            "customer_id": rng.choice(cids, n_fb),
            "ts": ts,
            "metric": metric,
            "score": score,
            "touchpoint": tp,
            "comment": rng.choice(np.array(words, dtype=object), n_fb),
        }
    )
    ws.load("feedback", fb)
    n_ord = 1500
    ws.load(
        "orders",
        pd.DataFrame(
            {
                "order_id": [f"o{i:05d}" for i in range(n_ord)],
                "customer_id": rng.choice(cids, n_ord),
                "ts": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 182 * 24, n_ord), unit="h"),
                "amount": rng.gamma(2.0, 30.0, n_ord).round(2),
                "currency": "EUR",
                "status": "completed",
                "channel": rng.choice(["web", "mobile_app", "store"], n_ord),
            }
        ),
    )
    n_carts = 800
    cart_ts = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 182 * 24, n_carts), unit="h")
    done = rng.random(n_carts) < 0.35
    ev = pd.DataFrame(
        {
            "event_id": [f"e{i:05d}" for i in range(n_carts)],
            "customer_id": rng.choice(cids, n_carts),
            "session_id": [f"s{i:05d}" for i in range(n_carts)],
            "ts": cart_ts,
            "type": "track",
            "name": "add_to_cart",
            "touchpoint": "cart",
        }
    )
    ev2 = ev[done].assign(
        event_id=lambda d: d.event_id + "p",
        name="purchase",
        touchpoint="checkout",
        ts=lambda d: d.ts + pd.Timedelta(minutes=5),
    )
    ws.load("events", pd.concat([ev, ev2], ignore_index=True))
    n_t = 400
    created = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 182 * 24, n_t), unit="h")
    ws.load(
        "tickets",
        pd.DataFrame(
            {
                "ticket_id": [f"t{i:04d}" for i in range(n_t)],
                "customer_id": rng.choice(cids, n_t),
                "created_at": created,
                "first_response_at": created + pd.to_timedelta(rng.gamma(1.5, 3.0, n_t), unit="h"),
                "resolved_at": created + pd.to_timedelta(rng.gamma(2.0, 20.0, n_t), unit="h"),
                "channel": rng.choice(["chat", "email", "phone"], n_t),
                "contacts": rng.integers(1, 4, n_t),
            }
        ),
    )


def _demo(path: Path, seed: int) -> bool:
    """Write the project's demo data; False (with a warning) when the generator is absent or fails."""
    try:
        from cxlens.ingest.simulate import write_demo  # type: ignore[attr-defined]
    except ImportError:
        return False
    try:
        with cxlens.open(path) as ws:
            write_demo(ws, size="small", seed=seed)
        return True
    except Exception as e:  # the generator is developed in parallel; fall back to the direct data
        warnings.warn(f"write_demo failed ({e!r}); using the tests' own sample data", stacklevel=2)
        path.unlink(missing_ok=True)
        return False


def build(path: Path, seed: int = 0) -> Path:
    """Write the sample workspace to ``path`` and return it."""
    demo = _demo(path, seed)
    with cxlens.open(path) as ws:
        if not demo:
            _direct(ws, seed)
        # the newest feedback, so the "latest comments" list shows it
        last = pd.Timestamp(ws.sql("SELECT max(ts) AS t FROM feedback")["t"].iloc[0])
        ws.load(
            "feedback",
            pd.DataFrame(
                {
                    "feedback_id": ["xss-1"],
                    "customer_id": [None],
                    "ts": [last + pd.Timedelta(minutes=1)],
                    "metric": ["nps"],
                    "score": [3.0],
                    "comment": [XSS_COMMENT],
                    "touchpoint": [XSS_TOUCHPOINT],
                    "channel": ["web"],
                }
            ),
        )
    return path


def facts(ws: cxlens.Workspace) -> dict:
    """Data-dependent choices for tests: a channel with NPS answers (``web`` when it has enough)
    but not all of them, a segment, and a three-month window inside the data."""
    by_channel = ws.metrics.nps(by="channel")
    by_channel = by_channel[by_channel["n"] > 0].dropna(subset=["channel"]).sort_values("n", ascending=False)
    total = int(ws.metrics.nps()["n"].iloc[0])
    candidates = by_channel[by_channel["n"] < total]
    web = candidates[candidates["channel"] == "web"]
    channel = "web" if len(web) and int(web["n"].iloc[0]) >= 30 else str(candidates["channel"].iloc[0])
    segments = ws.metrics.nps(by="segment").dropna(subset=["segment"])
    segment = str(segments.sort_values("n", ascending=False)["segment"].iloc[0])
    monthly = ws.metrics.nps(period="month")
    months = sorted(pd.to_datetime(monthly.loc[monthly["n"] > 0, "period"]))
    start, end = months[len(months) // 3], months[len(months) // 3] + pd.DateOffset(months=3)
    return {"channel": channel, "segment": segment, "start": start.date().isoformat(), "end": end.date().isoformat()}
