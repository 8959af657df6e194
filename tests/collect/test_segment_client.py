"""The official Segment Python client, pointed at cxlens, lands its messages unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

segment = pytest.importorskip("segment.analytics", reason="pip install segment-analytics-python (dev extra)")


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_python_client_track_identify_page(live, gzip):
    srv, hub, key = live
    errors = []
    client = segment.Client(
        key, host=srv.url, sync_mode=True, gzip=gzip, max_retries=0, on_error=lambda e, b: errors.append(e)
    )
    when = datetime(2024, 3, 1, 9, 30, tzinfo=UTC)
    client.track(
        user_id="u-1",
        event="Order Completed",
        properties={"revenue": 42.5, "touchpoint": "checkout", "items": [{"sku": "A", "qty": 2}]},
        timestamp=when,
        message_id="seg-track-1",
    )
    client.identify(
        user_id="u-1",
        anonymous_id="anon-1",
        traits={"email": "ann@example.com", "name": "Ann Lee", "plan": "pro", "vip": True},
        message_id="seg-identify-1",
    )
    client.page(
        user_id="u-1",
        category="Docs",
        name="Pricing",
        properties={"url": "https://shop.example/pricing"},
        message_id="seg-page-1",
    )
    client.flush()
    assert errors == []
    ws = hub.get("shop")
    ev = ws.sql("SELECT * FROM events ORDER BY event_id").set_index("event_id")
    assert list(ev.index) == ["seg-identify-1", "seg-page-1", "seg-track-1"]
    t = ev.loc["seg-track-1"]
    assert (t.customer_id, t.type, t["name"], t.revenue, t.touchpoint) == (
        "u-1",
        "track",
        "Order Completed",
        42.5,
        "checkout",
    )
    props = orjson.loads(t.properties)
    assert props["items"] == [{"sku": "A", "qty": 2}]
    assert props["$context"]["library"]["name"] == "analytics-python"
    # the client's clock is this machine's: the skew correction moves the time by well under a second
    assert abs((t.ts - datetime(2024, 3, 1, 9, 30)).total_seconds()) < 2
    p = ev.loc["seg-page-1"]
    assert (p.type, p["name"], p.url, orjson.loads(p.properties)["$category"]) == (
        "page",
        "Pricing",
        "https://shop.example/pricing",
        "Docs",
    )
    cust = ws.sql("SELECT customer_id, email, name, plan, traits FROM customers").iloc[0]
    assert (cust.customer_id, cust.email, cust["name"], cust.plan) == ("u-1", "ann@example.com", "Ann Lee", "pro")
    assert orjson.loads(cust.traits) == {"vip": True}
    links = ws.sql("SELECT anonymous_id, customer_id FROM collect_identities").values.tolist()
    assert links == [["anon-1", "u-1"]]
