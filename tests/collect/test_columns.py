"""The column path (``collect/columns.py``) against the per-message validation, on seeded random batches.

The oracle is ``_one``, the field-by-field check and mapping, called directly for each message as
``parse_messages`` would (not its ``_fast`` shortcut, and not the column path): a batch must give the
same Arrow table and identity links through ``parse_columns`` (falling back to ``parse_messages`` where it
declines, as the server and ``parse_request`` do), or the same error.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import pytest

from cxlens.collect.columns import COLUMN_MESSAGES, parse_columns, parse_request
from cxlens.collect.messages import DEFAULT_LIMITS, Messages, _one, parse_messages, parse_time
from cxlens.errors import CxlensError

RECEIVED = datetime(2026, 11, 24, 10, 0, 2, 123456)
BATCHES = 1500

_TIMES = (
    "2026-11-24T10:00:00.000Z",
    "2026-11-24T09:59:58.5+02:00",
    "2026-11-24T10:00:01",
    "2026-11-24T10:00:00.123456-05:30",
    "2026-11-24t09:00:00z",
    "1970-01-01T00:00:00Z",  # valid, outside the plausible window: rejected, kept in $rejected_ts
    "2026-12-30T00:00:00Z",  # in the future: rejected
)
_VALUES: tuple[Any, ...] = (
    0, -7, 2**53 + 1, 1.5, -0.0, 1e300, 19.99, True, False, None, "", "x", "é事件 ✓", "12.5", "nan", "1e3",
    "a\nb\"c\\", [], [1, "a", None], {}, {"k": {"n": [1, {"m": 2}]}},
)  # fmt: skip
_PROP_KEYS = (
    "url", "$selector", "$x", "a.b", "$pageview_id", "revenue", "touchpoint", "stage", "session_id",
    "sessionId", "n", "ü", "name", "path",
)  # fmt: skip
_URLS = ("https://shop.example.com/", "https://shop.example.com/cart?step=2", "", 5, None, {"u": 1})


def _props(rng: np.random.Generator) -> Any:
    roll = rng.random()
    if roll < 0.03:
        return None
    if roll < 0.06:
        return {}
    keys = rng.choice(len(_PROP_KEYS), size=int(rng.integers(1, 6)), replace=False)
    out: dict[str, Any] = {}
    for k in keys:
        key = _PROP_KEYS[k]
        if key == "url":
            out[key] = _URLS[int(rng.integers(len(_URLS)))] if rng.random() < 0.3 else _URLS[0]
        else:
            out[key] = _VALUES[int(rng.integers(len(_VALUES)))]
    return out


def _context(rng: np.random.Generator) -> Any:
    roll = rng.random()
    if roll < 0.6:
        return {"library": {"name": "cxlens-behaviour", "version": "1"}, "page": {"url": _URLS[int(rng.integers(2))]}}
    if roll < 0.65:
        return None
    if roll < 0.7:
        return {}
    extra = ("channel", "os", "userAgent", "sessionId", "session_id", "page")[int(rng.integers(6))]
    value = {
        "channel": ("email", "", 3),
        "os": ({"name": "iOS"}, {"name": "Linux"}, "android"),
        "userAgent": ("Mozilla/5.0",),
        "sessionId": ("s1", 7, "", None),
        "session_id": ("s2", 2.5),
        "page": ({"url": 5}, {"path": "/p"}, "x"),
    }[extra]
    return {"library": {"name": "sdk"}, extra: value[int(rng.integers(len(value)))]}


def _message(rng: np.random.Generator, i: int, sdk: bool, pages: float) -> dict[str, Any]:
    """A valid track message (a page with probability ``pages``); ``sdk``: of the one shape SDKs send (a
    plausible time, a context)."""
    m: dict[str, Any] = {"type": "track", "messageId": f"m{int(rng.integers(0, 2 * i + 10))}"}  # duplicates too
    who = rng.random()
    if who < 0.45:
        m["userId"] = f"u{int(rng.integers(100))}"
    elif who < 0.85:
        m["anonymousId"] = f"a{int(rng.integers(100))}"
    elif who < 0.95:
        m["userId"], m["anonymousId"] = f"u{int(rng.integers(100))}", f"a{int(rng.integers(100))}"
    else:
        m["userId"], m["anonymousId"] = "", "a0"
    m["event"] = ("$click", "$rageclick", "Signed Up", "é事件")[int(rng.integers(4))]
    if sdk:
        m["timestamp"] = _TIMES[int(rng.integers(5))]
    elif rng.random() < 0.97:
        m["timestamp"] = _TIMES[int(rng.integers(len(_TIMES)))] if rng.random() < 0.2 else _TIMES[0]
    if (p := _props(rng)) is not None or rng.random() < 0.5:
        m["properties"] = p
    if sdk:
        m["context"] = {"library": {"name": "cxlens-behaviour"}, "page": {"url": _URLS[int(rng.integers(2))]}}
    elif (c := _context(rng)) is not None or rng.random() < 0.5:
        m["context"] = c
    if rng.random() < pages:  # a page view: its name, else properties.name / path, else context.page.path
        m["type"] = "page"
        if rng.random() < 0.5:  # a page's event is kept in $extra
            m.pop("event")
        roll = rng.random()
        if roll < 0.4:
            m["name"] = ("Checkout", "Caisse — étape 2", "")[int(rng.integers(3))]
        elif roll < 0.5:
            m["name"] = None
        if rng.random() < 0.3:
            m["category"] = ("Shop", None, 3, {"a": [1]})[int(rng.integers(4))]
        if rng.random() < 0.3 and isinstance(m.get("context"), dict):
            m["context"] = {**m["context"], "page": {"path": ("/p", "", 4)[int(rng.integers(3))]}}
    return m


def _nested(depth: int, of: str = "{") -> Any:
    value: Any = 1
    for _ in range(depth):
        value = {"d": value} if of == "{" else [value]
    return value


#: one change to one message (or to the body): what the column path must decline or take exactly
_PERTURB = (
    lambda m: m.update(type="page"),
    lambda m: m.update(type="page", context=None),
    lambda m: m.update(type="page", name=5),
    lambda m: m.update(type="page", name="n" * 10_001),
    lambda m: m.update(type="page", name="n" * 9_000),
    lambda m: m.update(type="page", category="c", event=None),
    lambda m: m.update(name="dropped on a track", category="dropped too"),
    lambda m: m.update(type="screen"),
    lambda m: m.update(type="identify"),
    lambda m: m.pop("type"),
    lambda m: m.update(type="bogus"),
    lambda m: m.update(userId=42),
    lambda m: m.update(userId=True),
    lambda m: m.update(userId="u" * 257),
    lambda m: m.update(userId="u" * 256),
    lambda m: m.update(anonymousId=["a"]),
    lambda m: m.update(anonymousId="a" * 257),
    lambda m: m.update(anonymousId=""),
    lambda m: (m.pop("userId", None), m.pop("anonymousId", None)),
    lambda m: m.update(userId="", anonymousId=""),
    lambda m: m.pop("messageId"),
    lambda m: m.update(messageId=""),
    lambda m: m.update(messageId=7),
    lambda m: m.update(messageId="m" * 257),
    lambda m: m.pop("event", None),
    lambda m: m.update(event=""),
    lambda m: m.update(event=5),
    lambda m: m.update(event="e" * 10_001),
    lambda m: m.update(event="e" * 9_000),
    lambda m: m.update(timestamp="1970-01-01T00:00:00Z"),  # valid, rejected: kept in $rejected_ts
    lambda m: m.pop("timestamp", None),
    lambda m: m.update(context={}),
    lambda m: m.update(context=None),
    lambda m: m.pop("context", None),
    lambda m: m.update(properties=None),
    lambda m: m.update(timestamp="yesterday"),
    lambda m: m.update(timestamp=1_764_000_000_000),
    lambda m: m.update(timestamp=True),
    lambda m: m.update(timestamp=["2026-11-24T10:00:00Z"]),
    lambda m: m.update(timestamp="1800-01-01T00:00:00Z"),
    lambda m: m.update(originalTimestamp=m.pop("timestamp", _TIMES[0])),
    lambda m: m.update(sentAt="2026-11-24T10:00:05Z"),
    lambda m: m.update(integrations={"All": False}),
    lambda m: m.update(userHash="ab"),
    lambda m: m.update(channel="browser"),
    lambda m: m.update(somethingNew={"kept": 1}),
    lambda m: m.update(properties=[1]),
    lambda m: m.update(properties={"$context": 1}),
    lambda m: m.update(properties={"$sent_at": "x"}),
    lambda m: m.update(properties={"d": _nested(15)}),
    lambda m: m.update(properties={"d": _nested(16)}),
    lambda m: m.update(properties={"d": _nested(14, "[")}),
    lambda m: m.update(properties={"d": _nested(16, "[")}),
    lambda m: m.update(properties={"s": "x" * 10_001}),
    lambda m: m.update(properties={"s": "x" * 9_990}),
    lambda m: m.update(properties={"s": "{[" * 9}),  # brackets inside a string count toward the bound
    lambda m: m.update(context="web"),
    lambda m: m.update(context={"d": _nested(16)}),
    lambda m: m.update(properties={"revenue": "12,5"}),
    lambda m: m.update(properties={"touchpoint": 3, "stage": 1.5, "url": True}),
)


#: valid changes that take a message off the SDK shape (no time, a rejected time, no context, a page)
_OFF_SHAPE = (
    lambda m: m.update(timestamp="1970-01-01T00:00:00Z"),
    lambda m: m.pop("timestamp", None),
    lambda m: m.update(context={}),
    lambda m: m.update(context=None),
    lambda m: m.pop("context", None),
    lambda m: m.update(properties=None),
    lambda m: m.update(type="page", context=None),
    lambda m: m.update(type="page", category="Shop"),
)


def _batch(seed: int) -> dict[str, Any]:
    rng = np.random.default_rng(seed)
    n = int(rng.integers(COLUMN_MESSAGES - 5, COLUMN_MESSAGES + 60))
    sdk = rng.random() < 0.4
    pages = 0.1 if rng.random() < 0.4 else 0.0
    body: dict[str, Any] = {"batch": [_message(rng, i, sdk, pages) for i in range(n)]}
    roll = rng.random()
    if roll < 0.8:
        body["sentAt"] = "2026-11-24T10:00:03.000Z"
    elif roll < 0.83:
        body["sentAt"] = "soon"
    elif roll < 0.86:
        body["context"] = {"library": {"name": "batch-level"}}
    if sdk and rng.random() < 0.3:  # one valid message off the SDK shape: the common shape's shortcut must not apply
        _OFF_SHAPE[int(rng.integers(len(_OFF_SHAPE)))](body["batch"][int(rng.integers(n))])
    elif rng.random() < 0.55:  # about half the batches carry one odd message (or more)
        for _ in range(int(rng.integers(1, 3))):
            i = int(rng.integers(n))
            _PERTURB[int(rng.integers(len(_PERTURB)))](body["batch"][i])
    elif rng.random() < 0.05:
        body["batch"][int(rng.integers(n))] = ("not a message", None, 5, ["type"])[int(rng.integers(4))]
    elif rng.random() < 0.05:  # 1 then True: equal as dict keys, but True is no time
        i = int(rng.integers(n - 1))
        body["batch"][i]["timestamp"], body["batch"][i + 1]["timestamp"] = 1, True
    return body


def _oracle(data: dict[str, Any]) -> Messages:
    """``parse_messages``' batch loop with ``_one`` alone (every message checked field by field)."""
    out = Messages()
    sent_raw = data.get("sentAt")
    sent_at = parse_time(sent_raw, "sentAt") if sent_raw is not None else None
    shared = data.get("context")
    for i, msg in enumerate(data["batch"]):
        if isinstance(shared, dict) and isinstance(msg, dict) and "context" not in msg:
            msg = {**msg, "context": shared}
        _one(msg, None, f"batch[{i}]", RECEIVED, sent_at, sent_raw, out, DEFAULT_LIMITS)
    return out


def _outcome(parse) -> tuple[str, Any]:
    try:
        m = parse()
    except CxlensError as e:
        return "error", (type(e), str(e), getattr(e, "param", None))
    table = m.to_table()
    return "table", (table, m.links, m.identifies, m.user_hashes)


def _same(got: tuple[str, Any], want: tuple[str, Any]) -> bool:
    if got[0] != want[0]:
        return False
    if got[0] == "error":
        return got[1] == want[1]
    (table, *rest), (want_table, *want_rest) = got[1], want[1]
    return table.schema == want_table.schema and table.equals(want_table) and rest == want_rest


def _server_parse(data: dict[str, Any]) -> Messages:
    """What the collection server runs on a parsed body (``web/api/collect.py``)."""
    m = parse_columns(data, "batch", RECEIVED)
    return m if m is not None else parse_messages(data, "batch", RECEIVED).seal()


def test_column_path_gives_the_tables_links_and_errors_of_the_per_message_check():
    taken = errors = 0
    for seed in range(BATCHES):
        data = _batch(seed)
        want = _outcome(lambda data=data: _oracle(data))
        got = _outcome(lambda data=data: _server_parse(data))
        assert _same(got, want), f"seed {seed}: {got[0]} {got[1] if got[0] == 'error' else ''} vs {want}"
        taken += parse_columns(data, "batch", RECEIVED) is not None
        errors += want[0] == "error"
    # the batches exercise both ways: most clean ones go by column, the odd ones are declined or fail
    assert taken >= BATCHES // 3 and errors >= BATCHES // 10, (taken, errors)


def test_column_path_takes_the_behaviour_sdk_batch_of_the_bench_and_parse_request_uses_it():
    from benchmarks.collect import BatchBodies

    body = BatchBodies("behaviour", "r").body(list(range(500)))
    data = __import__("orjson").loads(body)
    m = parse_columns(data, "batch", RECEIVED)
    assert m is not None and m.rows == [] and m.count == 500
    want = _oracle(data).to_table()
    assert m.table.equals(want) and parse_request(body, "batch", RECEIVED).table.equals(want)


@pytest.mark.parametrize("n", [COLUMN_MESSAGES - 1, DEFAULT_LIMITS.max_batch + 1])
def test_column_path_declines_batches_outside_its_size_range(n):
    def batch(size):
        return [{"type": "track", "messageId": f"m{i}", "userId": "u", "event": "e"} for i in range(size)]

    assert parse_columns({"batch": batch(n)}, "batch", RECEIVED) is None
    assert parse_columns({"batch": batch(COLUMN_MESSAGES)}, "batch", RECEIVED) is not None


@pytest.mark.parametrize("parse_workers", [0, 1])
def test_a_batch_taken_by_column_stores_what_the_same_messages_store_by_message(tmp_path, parse_workers):
    """Over HTTP: one batch of 300 track messages (column path) against the same messages in batches of
    150 (per-message path) into another workspace: the same events rows and identity links on disk."""
    import cxlens
    from cxlens.web.api.collect import FastPath, create_collect_app
    from cxlens.web.hub import WorkspaceHub

    from .conftest import LiveServer
    from .test_roundtrip import SENT_AT, TRICKY, _behaviour, _post

    msgs = [_behaviour(i) for i in range(298)] + [_behaviour(1000, TRICKY)]
    msgs.append({**_behaviour(1001), "anonymousId": "rt-anon", "properties": {"revenue": "9.5", "touchpoint": 4}})
    assert parse_columns({"batch": msgs, "sentAt": SENT_AT}, "batch", RECEIVED) is not None
    stored = []
    for name, parts in (("whole", [msgs]), ("split", [msgs[:150], msgs[150:]])):
        path = tmp_path / f"{name}.duckdb"
        hub = WorkspaceHub.open({name: path})
        _, key = hub.create_key(name, "write")
        try:
            with LiveServer(FastPath(create_collect_app(hub, parse_workers=parse_workers)), hub) as srv:
                for part in parts:
                    assert _post(srv.url, key, "/v1/batch", {"batch": part, "sentAt": SENT_AT}) == {"success": True}
        finally:
            hub.close()
        with cxlens.open(path, read_only=True) as ws:
            events = ws.rows(
                "SELECT event_id, customer_id, anonymous_id, session_id, type, name, channel, touchpoint, stage, "
                "url, properties, revenue FROM events ORDER BY event_id"
            )
            links = ws.rows("SELECT anonymous_id, customer_id FROM collect_identities ORDER BY ALL")
            # ts is corrected against each request's receive time: one value per request (all sent at TS)
            times = ws.scalar("SELECT count(DISTINCT ts) FROM events")
        stored.append((events, links))
        assert times == len(parts)
    assert len(stored[0][0]) == 300 and stored[0][1] == [("rt-anon", "rt-user")]
    assert stored[0] == stored[1]
