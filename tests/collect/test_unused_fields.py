"""Envelope fields a message's type does not map (a track's ``name`` and ``category``, a page's ``event``,
an identify's ``properties``…) are kept in ``$extra``, through the HTTP API, on the column path's batch
sizes and on single requests alike: nothing sent is dropped."""

from __future__ import annotations

import json

from cxlens.collect.columns import parse_columns

from .test_columns import RECEIVED
from .test_roundtrip import SENT_AT, _behaviour, _post


def test_fields_the_type_does_not_map_are_kept_in_extra(live):
    srv, hub, key = live
    odd = {
        "rt-b3": {"name": "Checkout", "category": "shop"},
        "rt-b5": {"category": None},
    }
    batch = [{**_behaviour(i), **odd.get(f"rt-b{i}", {})} for i in range(260) if i != 7]
    # every message with a timestamp and a context: the column path's common shape
    page = {"type": "page", "messageId": "pg1", "userId": "rt-user", "name": "Home", "event": "Viewed"}
    batch.append({**page, "timestamp": batch[0]["timestamp"], "context": batch[0]["context"]})
    assert parse_columns({"batch": [m for m in batch if m["messageId"] not in odd and m["messageId"] != "pg1"],
                          "sentAt": SENT_AT}, "batch", RECEIVED) is not None  # fmt: skip
    assert _post(srv.url, key, "/v1/batch", {"batch": batch, "sentAt": SENT_AT}) == {"success": True}
    others = [
        {**_behaviour(7), "traits": {"plan": "pro"}},
        {"type": "screen", "messageId": "sc1", "userId": "rt-user", "name": "Cart", "category": "app"},
        {"type": "identify", "messageId": "id1", "userId": "rt-user", "traits": {"a": 1}, "properties": {"b": 2},
         "event": "x"},
    ]  # fmt: skip
    assert _post(srv.url, key, "/v1/batch", {"batch": others, "sentAt": SENT_AT}) == {"success": True}
    batch += others
    one = {"userId": "u2", "messageId": "t1", "event": "Paid", "name": "Pay", "category": "billing"}
    assert _post(srv.url, key, "/v1/track", one) == {"success": True}
    # acknowledged only after commit; event_id is the messageId
    rows = hub.get("shop").sql("SELECT event_id, properties FROM events").values.tolist()
    by_message = {eid: json.loads(props) for eid, props in rows}
    assert len(by_message) == len(batch) + 1
    assert by_message["rt-b3"]["$extra"] == {"name": "Checkout", "category": "shop"}
    assert by_message["rt-b5"]["$extra"] == {"category": None}
    assert by_message["rt-b7"]["$extra"] == {"traits": {"plan": "pro"}}
    assert "$extra" not in by_message["rt-b4"]
    assert by_message["pg1"]["$extra"] == {"event": "Viewed"}
    assert by_message["sc1"]["$category"] == "app" and "$extra" not in by_message["sc1"]
    assert by_message["id1"]["$extra"] == {"properties": {"b": 2}, "event": "x"}
    assert by_message["t1"]["$extra"] == {"name": "Pay", "category": "billing"}
