"""Canonical ``events`` frames from two public funnels: REES46 (view → cart → purchase) and the
Olist marketing funnel (MQL first contact → closed deal).

Each adapter reads the source CSV with pandas and returns a frame with the canonical events
columns, ready for ``ws.load("events", frame)``. Event ids are derived from the source row, so
loading twice inserts nothing.

REES46 (``2019-Oct*.csv``): one event per row; ``customer_id`` = ``user_id``, ``session_id`` =
``user_session``, ``ts`` = ``event_time`` (UTC), ``name`` = ``event_type`` (``view``, ``cart``,
``purchase``, ``remove_from_cart``), ``revenue`` = ``price`` on purchases, ``properties`` =
product_id, category_code, brand, price.

Olist marketing funnel: ``mql`` at ``first_contact_date`` for every marketing-qualified lead and
``deal_won`` at ``won_date`` for each closed deal; ``customer_id`` = ``mql_id``, ``channel`` =
``origin`` of the lead (on both events), ``properties`` = landing page / business segment.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from cxlens.errors import ImportFileError

__all__ = ["olist_marketing_events", "rees46_events"]

REES46_STEPS = ["view", "cart", "purchase"]
OLIST_STEPS = ["mql", "deal_won"]


def _csv(path: Path) -> pd.DataFrame:
    if not path.exists():
        raise ImportFileError(f"file {str(path)!r} does not exist; expected the published CSV there")
    return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""])


def _props(frame: pd.DataFrame, cols: list[str]) -> list[str]:
    sub = frame[cols].astype(object).where(frame[cols].notna(), None)
    return [
        json.dumps({k: v for k, v in zip(cols, row, strict=True) if v is not None})
        for row in sub.itertuples(index=False)
    ]


def rees46_events(path: str | Path) -> pd.DataFrame:
    """The REES46 event log (a CSV file, or the folder holding one) as canonical events."""
    p = Path(path)
    if p.is_dir():
        files = sorted(p.glob("*.csv"))
        if not files:
            raise ImportFileError(f"folder {str(p)!r} has no CSV file; expected the REES46 2019-Oct CSV")
        p = files[0]
    raw = _csv(p)
    ts = pd.to_datetime(raw["event_time"].str.replace(" UTC", "", regex=False), format="%Y-%m-%d %H:%M:%S")
    price = pd.to_numeric(raw["price"], errors="coerce")
    return pd.DataFrame(
        {
            "event_id": [f"rees46-{p.stem}-{i}" for i in range(len(raw))],
            "customer_id": raw["user_id"],
            "session_id": raw["user_session"],
            "ts": ts,
            "type": "track",
            "name": raw["event_type"],
            "channel": "web",
            "properties": _props(raw, ["product_id", "category_code", "brand", "price"]),
            "revenue": price.where(raw["event_type"] == "purchase"),
        }
    )


def olist_marketing_events(directory: str | Path) -> pd.DataFrame:
    """The Olist marketing funnel (MQLs and closed deals) as canonical events."""
    d = Path(directory)
    mql = _csv(d / "olist_marketing_qualified_leads_dataset.csv")
    won = _csv(d / "olist_closed_deals_dataset.csv")
    origin = mql.set_index("mql_id")["origin"]
    a = pd.DataFrame(
        {
            "event_id": "olist-mql-" + mql["mql_id"],
            "customer_id": mql["mql_id"],
            "ts": pd.to_datetime(mql["first_contact_date"], format="%Y-%m-%d"),
            "type": "track",
            "name": "mql",
            "channel": mql["origin"],
            "properties": _props(mql, ["landing_page_id"]),
        }
    )
    b = pd.DataFrame(
        {
            "event_id": "olist-won-" + won["mql_id"],
            "customer_id": won["mql_id"],
            "ts": pd.to_datetime(won["won_date"], format="%Y-%m-%d %H:%M:%S"),
            "type": "track",
            "name": "deal_won",
            "channel": won["mql_id"].map(origin),
            "properties": _props(won, ["business_segment", "lead_type"]),
            "revenue": pd.to_numeric(won["declared_monthly_revenue"], errors="coerce"),
        }
    )
    return pd.concat([a, b], ignore_index=True)
