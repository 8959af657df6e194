"""The official Segment Python client, pointed at cxlens, lands its messages unchanged."""

from __future__ import annotations

from datetime import UTC, datetime

import orjson
import pytest

segment = pytest.importorskip("segment.analytics", reason="pip install segment-analytics-python (dev extra)")


@pytest.mark.parametrize("gzip", [False, True])
def test_segment_python_client_track_identify_page(live, gzip, monkeypatch):
    from cxlens.web.api import collect as collect_api

    srv, hub, key = live
    # the server's receive times, recorded: the skew correction is then checked to the microsecond, however
    # long the request took to arrive (a window such as "within 2 s" fails on a loaded machine)
    received: list[datetime] = []
    real_now = collect_api._now

    def recorded_now() -> datetime:
        received.append(real_now())
        return received[-1]

    monkeypatch.setattr(collect_api, "_now", recorded_now)
    errors = []
    client = segment.Client(
        key,
        host=srv.url,
        sync_mode=True,
        gzip=gzip,
        max_retries=0,
        timeout=60,  # the client's own default (15 s) is exceeded on a loaded CI box
        on_error=lambda e, b: errors.append(e),
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
    # Segment's skew correction: ts = receivedAt - (sentAt - timestamp), with the client's sentAt as stored
    # and the server's receive time of that request (sync mode: one request at a time, on the same clock)
    sent = datetime.fromisoformat(props["$sent_at"]).astimezone(UTC).replace(tzinfo=None)
    delay = min(r - sent for r in received if r >= sent)  # the first request received after it was sent
    assert t.ts.to_pydatetime() == datetime(2024, 3, 1, 9, 30) + delay
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
