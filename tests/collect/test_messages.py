"""Segment-spec validation and the mapping onto events rows, checked against hand-computed values."""

from __future__ import annotations

from datetime import datetime

import orjson
import pytest

from cxlens.collect import EVENT_COLUMNS, id_hash, parse_body, parse_messages
from cxlens.errors import ConfigError, PayloadTooLargeError

NOW = datetime(2024, 5, 1, 12, 0, 0)


def row(msgs, i=0):
    return dict(zip(EVENT_COLUMNS, msgs.rows[i], strict=True))


def test_track_maps_every_column_and_keeps_unknown_fields():
    m = parse_messages(
        {
            "userId": "u1",
            "anonymousId": "a1",
            "messageId": "m-1",
            "event": "Order Completed",
            "timestamp": "2024-05-01T10:00:00.000Z",
            "properties": {"revenue": 12.5, "touchpoint": "checkout", "url": "https://shop.example/c", "x": [1, 2]},
            "context": {"sessionId": "s9", "page": {"url": "https://ignored.example"}},
            "integrations": {"All": True},
            "somethingNew": {"kept": "yes"},
        },
        "track",
        NOW,
    )
    r = row(m)
    assert r["event_id"] == "m-1" and r["customer_id"] == "u1" and r["anonymous_id"] == "a1"
    assert r["session_id"] == "s9" and r["type"] == "track" and r["name"] == "Order Completed"
    assert r["ts"] == datetime(2024, 5, 1, 10, 0, 0)  # no sentAt: the timestamp as sent
    assert r["channel"] == "web"  # context.page says a browser sent it
    assert r["touchpoint"] == "checkout" and r["stage"] is None and r["url"] == "https://shop.example/c"
    assert r["revenue"] == 12.5
    props = orjson.loads(r["properties"])
    assert props["x"] == [1, 2] and props["revenue"] == 12.5
    assert props["$context"]["sessionId"] == "s9" and props["$integrations"] == {"All": True}
    assert props["$extra"] == {"somethingNew": {"kept": "yes"}}
    assert props["$original_timestamp"] == "2024-05-01T10:00:00.000Z"
    assert m.links == [(0, "a1", "u1", datetime(2024, 5, 1, 10))]
    assert m.hashes == [id_hash("m-1")]


def test_clock_skew_is_corrected_with_sent_at_like_segment():
    # the device clock is 1 hour fast: event at 11:59:00 device, sent at 12:59:30 device, received 12:00:00
    body = {
        "batch": [{"type": "track", "userId": "u", "event": "e", "timestamp": "2024-05-01T11:59:00Z"}],
        "sentAt": "2024-05-01T12:59:30Z",
    }
    r = row(parse_messages(body, "batch", NOW))
    # receivedAt - (sentAt - timestamp) = 12:00:00 - 60.5 min = 10:59:30
    assert r["ts"] == datetime(2024, 5, 1, 10, 59, 30)


def test_offsets_are_converted_to_utc_and_missing_time_is_receive_time():
    r = row(parse_messages({"userId": "u", "event": "e", "timestamp": "2024-05-01T14:00:00+02:00"}, "track", NOW))
    assert r["ts"] == datetime(2024, 5, 1, 12, 0)
    r = row(parse_messages({"userId": "u", "event": "e"}, "track", NOW))
    assert r["ts"] == NOW


def test_channel_name_and_identify_mapping():
    m = parse_messages(
        {
            "batch": [
                {"type": "page", "anonymousId": "a", "properties": {"path": "/pricing"}},
                {"type": "screen", "anonymousId": "a", "name": "Home"},
                {"type": "track", "anonymousId": "a", "event": "x", "context": {"channel": "email"}},
                {"type": "track", "anonymousId": "a", "event": "x", "context": {"os": {"name": "iOS"}}},
                {"type": "identify", "userId": "u7", "anonymousId": "a", "traits": {"email": "z@x.example"}},
            ]
        },
        "batch",
        NOW,
    )
    assert [(r[5], r[6], r[7]) for r in m.rows] == [
        ("page", "/pricing", "web"),
        ("screen", "Home", "mobile"),
        ("track", "x", "email"),
        ("track", "x", "mobile"),
        ("identify", "identify", "server"),
    ]
    assert m.identifies == [(4, "u7", NOW, {"email": "z@x.example"})]


def test_messages_without_message_id_get_a_content_hash_that_retries_share():
    msg = {"userId": "u", "event": "e", "timestamp": "2024-05-01T10:00:00Z", "properties": {"a": 1}}
    a = row(parse_messages(dict(msg, sentAt="2024-05-01T10:00:01Z"), "track", NOW))
    b = row(parse_messages(dict(msg, sentAt="2024-05-01T10:05:00Z"), "track", datetime(2024, 5, 1, 12, 5)))
    c = row(parse_messages(dict(msg, properties={"a": 2}), "track", NOW))
    assert a["event_id"] == b["event_id"] and a["event_id"].startswith("h-")
    assert c["event_id"] != a["event_id"]


@pytest.mark.parametrize(
    ("body", "kind", "message"),
    [
        (
            {
                "batch": [{"type": "track", "userId": "u", "event": "e"}] * 3
                + [{"type": "track", "userId": "u", "event": "e", "timestamp": "yesterday"}]
            },
            "batch",
            "batch[3].timestamp: expected an ISO-8601 time, got 'yesterday'",
        ),
        ({"batch": [{"type": "group", "userId": "u"}]}, "batch", "batch[0].type: expected one of track, page"),
        ({"event": "e"}, "track", "body.userId: expected a userId or an anonymousId"),
        ({"userId": "u"}, "track", "body.event: expected the event name"),
        ({"userId": "u", "event": "e", "properties": [1]}, "track", "body.properties: expected an object, got [1]"),
        ({"userId": {"a": 1}, "event": "e"}, "track", "body.userId: expected a string"),
        ({"batch": "x"}, "batch", "batch: expected a list of messages"),
        ({"batch": []}, "batch", "batch: expected at least one message"),
        ({"userId": "u", "event": "e", "properties": {"$context": 1}}, "track", "body.properties.$context"),
        ({"type": "page", "userId": "u", "event": "e"}, "track", "body.type: expected 'track'"),
    ],
)
def test_bad_fields_are_400_naming_the_path(body, kind, message):
    with pytest.raises(ConfigError) as e:
        parse_messages(body, kind, NOW)
    assert str(e.value).startswith(message)
    assert e.value.http_status == 400


def test_limits_are_413():
    deep: dict = {}
    node = deep
    for _ in range(40):
        node["n"] = {}
        node = node["n"]
    with pytest.raises(PayloadTooLargeError, match="nesting depth"):
        parse_messages({"userId": "u", "event": "e", "properties": deep}, "track", NOW)
    with pytest.raises(PayloadTooLargeError, match=r"body.properties.c: string length"):
        parse_messages({"userId": "u", "event": "e", "properties": {"c": "x" * 10_001}}, "track", NOW)
    with pytest.raises(PayloadTooLargeError, match="number of messages"):
        parse_messages({"batch": [{"type": "track", "userId": "u", "event": "e"}] * 2501}, "batch", NOW)
    with pytest.raises(PayloadTooLargeError):
        parse_body(b" " * (512 * 1024 + 1))


def test_malformed_json_and_non_objects_are_400():
    with pytest.raises(ConfigError, match="not valid JSON"):
        parse_body(b'{"userId": ')
    with pytest.raises(ConfigError, match="body: expected a JSON object, got 'list'"):
        parse_body(b"[1, 2]")


def test_public_names_are_pinned():
    import cxlens.collect

    assert cxlens.collect.__all__ == [
        "DEFAULT_LIMITS",
        "EVENT_COLUMNS",
        "KINDS",
        "Collector",
        "CommitResult",
        "Limits",
        "Messages",
        "TokenBuckets",
        "close_collectors",
        "collector_for",
        "id_hash",
        "parse_body",
        "parse_messages",
        "parse_request",
    ]
    for name in cxlens.collect.__all__:
        assert hasattr(cxlens.collect, name)


def _walked(body, kind):
    """What the exact field-by-field walk (``_one``, no fast path) makes of a body."""
    from cxlens.collect import messages as mod

    out = mod.Messages()
    sent_raw = body.get("sentAt")
    sent_at = mod.parse_time(sent_raw, "sentAt") if sent_raw is not None else None
    if kind == "batch":
        for i, msg in enumerate(body["batch"]):
            if isinstance(body.get("context"), dict) and "context" not in msg:
                msg = {**msg, "context": body["context"]}
            mod._one(msg, None, f"batch[{i}]", NOW, sent_at, sent_raw, out, mod.DEFAULT_LIMITS)
    else:
        mod._one(body, kind, "body", NOW, sent_at, None, out, mod.DEFAULT_LIMITS)
    return out


def test_fast_path_gives_the_rows_of_the_exact_walk():
    deep15: dict = {"leaf": "x"}
    for _ in range(14):
        deep15 = {"n": deep15}
    batch = [
        {"type": "track", "userId": "u1", "event": "A", "timestamp": "2024-05-01T10:00:00Z", "messageId": "m1"},
        {
            "type": "track",
            "userId": "u1",
            "event": "A",
            "timestamp": "2024-05-01T10:00:00Z",
            "sentAt": "2024-05-01T10:00:05Z",
        },
        {"type": "track", "userId": 42, "event": "B", "timestamp": 1714557600000, "properties": {"revenue": "9.5"}},
        {
            "type": "page",
            "anonymousId": "a",
            "context": {"page": {"path": "/p", "url": "https://x/p"}},
            "category": "c",
        },
        {"type": "screen", "anonymousId": "a", "name": "Home", "properties": {"sessionId": 7}},
        {"type": "identify", "userId": "u2", "anonymousId": "a2", "traits": {"email": "e@x", "revenue": True}},
        {"type": "track", "userId": "u3", "event": "C", "unknown": [1, {"k": "v"}], "receivedAt": "x"},
        {"type": "track", "userId": "u3", "event": "D", "properties": {"long": "é" * 9_990}},  # > 10,000 bytes
        {"type": "track", "userId": "u3", "event": "E", "properties": deep15},  # > 16 brackets in the JSON
        {"type": "track", "userId": "u3", "event": "F", "originalTimestamp": "2024-05-01T09:00:00+02:00"},
    ]
    body = {"batch": batch, "sentAt": "2024-05-01T10:00:10Z", "context": {"library": {"name": "t"}}}
    fast, walked = parse_messages(body, "batch", NOW), _walked(body, "batch")
    assert fast.rows == walked.rows and fast.hashes == walked.hashes
    assert fast.identifies == walked.identifies and fast.links == walked.links
    # the same timestamp with another sentAt is another time (the per-request cache is keyed by both)
    assert fast.rows[0][4] == datetime(2024, 5, 1, 11, 59, 50) and fast.rows[1][4] == datetime(2024, 5, 1, 11, 59, 55)
    single = {"userId": "u", "event": "e", "properties": {"x": 1}, "sentAt": "2024-05-01T10:00:10Z"}
    assert parse_messages(single, "track", NOW).rows == _walked(single, "track").rows


def test_limits_hold_at_the_boundary_whichever_path_checks():
    def props(p):
        return parse_messages({"userId": "u", "event": "e", "properties": p}, "track", NOW)

    deep: dict = {}
    for _ in range(15):
        deep = {"n": deep}
    assert orjson.loads(row(props(deep))["properties"]) == deep  # 16 levels: accepted
    with pytest.raises(PayloadTooLargeError, match="nesting depth"):
        props({"n": deep})  # 17
    # lists count as levels too (the fast path counts `[` only when the JSON holds one)
    lists: list = []
    for _ in range(14):
        lists = [lists]
    assert orjson.loads(row(props({"l": lists}))["properties"]) == {"l": lists}  # 16 levels: accepted
    with pytest.raises(PayloadTooLargeError, match="nesting depth"):
        props({"l": [lists]})  # 17
    assert len(orjson.loads(row(props({"c": "x" * 10_000}))["properties"])["c"]) == 10_000
    with pytest.raises(PayloadTooLargeError, match=r"body.properties.k\[1\]: string length"):
        props({"k": ["ok", "y" * 10_001]})
    with pytest.raises(PayloadTooLargeError, match=r"body.context.page.title: string length"):
        parse_messages({"userId": "u", "event": "e", "context": {"page": {"title": "t" * 10_001}}}, "track", NOW)
