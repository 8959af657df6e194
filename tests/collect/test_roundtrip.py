"""What a client sends is what the workspace gives back: behaviour-SDK and plain events over real HTTP,
read back from ``events`` (SQL and DuckDB's JSON functions) and from the GDPR export (the CLI).

The oracle is the documented mapping (cxlens.collect.messages), written out here by hand: a row's
``properties`` are the message's properties plus ``$context``, ``$original_timestamp`` and ``$sent_at``;
``url`` is ``properties.url`` else ``context.page.url``. Values are compared as sorted-key JSON text, so
``1``, ``1.0`` and ``true`` are different answers (Python's ``==`` would call them equal).
"""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import urllib.request
from pathlib import Path

import orjson
import pytest

import cxlens
from cxlens.web.api.collect import FastPath, create_collect_app
from cxlens.web.hub import WorkspaceHub

from .conftest import LiveServer

SENT_AT = "2026-11-24T10:00:01.000Z"
TS = "2026-11-24T10:00:00.000Z"

#: values a JSON round trip can lose or alter: $-keys, dotted keys, every number shape, booleans, null,
#: nesting, unicode (accents, CJK, an emoji outside the BMP, U+2028), escapes
TRICKY = {
    "$selector": 'main .card:nth-of-type(3) > button[data-x="1"]',
    "$text": "Pay now — 10 € 😀 支付",
    "dotted.key": "a.b",
    "a.b.c": {"d.e": [1, 2.5, -3, 0, -0.0]},
    "big": 9007199254740993,
    "neg": -17,
    "tenth": 0.1,
    "huge": 1e300,
    "one_float": 1.0,
    "t": True,
    "f": False,
    "none": None,
    "empty": "",
    "nested": {"list": [{"k": [True, None, "x"]}, []], "obj": {}},
    'quote"key': "back\\slash",
    "lines": "a\nb\u2028c\td",
    "ünï©ødé_kéy": "ключ",
    "revenue_text": "12.50",
}


def _behaviour(i: int, extra: dict | None = None) -> dict:
    """A message as cxlens-behaviour.js sends it (see benchmarks/collect.py ``_behaviour_message``)."""
    url = f"https://shop.example.com/p/{i % 3}?q=é"
    props = {"url": url, "$pageview_id": f"pv{i // 5}", "$viewport_width": 1280, "$viewport_height": 900}
    if i % 4 == 3:
        props |= {"$percent": i % 101, "$max_y": 900 + i, "$page_height": 4000, "$direction_changes": 2}
        event = "$scroll_depth"
    else:
        props |= {"$selector": "#pay", "$x": i, "$y": 2 * i, "$rel_x": 0.25, "$rel_y": 0.5, "$text": "Pay",
                  "$hesitation_ms": 120, "$since_load_ms": 1000 + i}  # fmt: skip
        event = "$rageclick" if i % 7 == 0 else "$click"
    return {
        "type": "track", "messageId": f"rt-b{i}", "userId": "rt-user", "event": event, "timestamp": TS,
        "properties": props | (extra or {}),
        "context": {"library": {"name": "cxlens-behaviour", "version": "1"}, "page": {"url": url}},
    }  # fmt: skip


def _messages() -> list[dict]:
    msgs = [_behaviour(i) for i in range(60)]  # > 16 KB: a parse worker takes the body when there is one
    msgs.append(_behaviour(100, TRICKY))
    msgs.append(
        {
            "type": "track",
            "messageId": "rt-plain",
            "userId": "rt-user",
            "anonymousId": "rt-anon",
            "event": "Order Completed",
            "timestamp": TS,
            "properties": TRICKY | {"touchpoint": "checkout", "revenue": 12.5, "items": [{"sku": "A-1", "qty": 2}]},
            "context": {"library": {"name": "analytics-python", "version": "2.3"}, "locale": "fr-FR"},
        }  # fmt: skip
    )
    # a page view without properties.url: the url column comes from context.page.url
    msgs.append(
        {
            "type": "page",
            "messageId": "rt-page",
            "userId": "rt-user",
            "name": "Checkout",
            "timestamp": TS,
            "properties": {"title": "Caisse — étape 2"},
            "context": {"page": {"url": "https://shop.example.com/checkout", "referrer": ""}},
        }  # fmt: skip
    )
    return msgs


def _expected(msg: dict) -> dict:
    """The stored ``properties`` of ``msg``, from the documented mapping."""
    return msg["properties"] | {"$context": msg["context"], "$original_timestamp": TS, "$sent_at": SENT_AT}


def _same(a: object, b: object) -> bool:
    return orjson.dumps(a, option=orjson.OPT_SORT_KEYS) == orjson.dumps(b, option=orjson.OPT_SORT_KEYS)


def _post(url: str, key: str, path: str, body: dict) -> dict:
    req = urllib.request.Request(
        url + path,
        data=orjson.dumps(body),
        headers={
            "Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode(),
            "Content-Type": "application/json",
        },
    )
    with urllib.request.urlopen(req, timeout=60) as r:
        return json.loads(r.read())


@pytest.mark.parametrize("parse_workers", [0, 1])
def test_what_is_sent_is_what_is_stored_and_exported(tmp_path: Path, parse_workers: int) -> None:
    path = tmp_path / "shop.duckdb"
    hub = WorkspaceHub.open({"shop": path})
    _, key = hub.create_key("shop", "write")
    msgs = _messages()
    single = {k: v for k, v in msgs[-2].items() if k != "type"} | {"messageId": "rt-single", "sentAt": SENT_AT}
    body = {"batch": msgs[:-2] + msgs[-1:], "sentAt": SENT_AT}
    assert len(orjson.dumps(body)) > 16 * 1024
    try:
        with LiveServer(FastPath(create_collect_app(hub, parse_workers=parse_workers)), hub) as srv:
            assert _post(srv.url, key, "/v1/batch", body) == {"success": True}
            assert _post(srv.url, key, "/v1/track", single) == {"success": True}
    finally:
        hub.close()  # the collect app closes its workspaces when it stops; this is a no-op then
    sent = {m["messageId"]: m for m in [*msgs[:-2], msgs[-1], single]}
    with cxlens.open(path, read_only=True) as ws:
        rows = ws.rows("SELECT event_id, url, properties, revenue FROM events")
        assert sorted(r[0] for r in rows) == sorted(sent)
        for event_id, url, props, revenue in rows:
            m = sent[event_id]
            assert _same(orjson.loads(props), _expected(m)), event_id
            assert url == m["properties"].get("url", m["context"].get("page", {}).get("url")), event_id
            assert revenue == (12.5 if "revenue" in m["properties"] else None)
        # what the behaviour analyses read: $-keys through DuckDB's JSON path syntax, the url column
        got = dict(
            ws.rows(
                """SELECT event_id, json_extract_string(properties, '$."$selector"') FROM events
                   WHERE name IN ('$click', '$rageclick')"""
            )
        )
        assert got == {
            i: m["properties"]["$selector"] for i, m in sent.items() if m.get("event") in ("$click", "$rageclick")
        }
        text = ws.scalar(
            """SELECT json_extract_string(properties, '$."$text"') FROM events WHERE event_id = 'rt-b100'"""
        )
        assert text == TRICKY["$text"]
    # the GDPR export (the CLI, its own process) gives the customer back what they sent
    out = tmp_path / "export.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(Path(__file__).resolve().parents[2] / "src"),
                                                        os.environ.get("PYTHONPATH", "")])}  # fmt: skip
    subprocess.run(
        [sys.executable, "-m", "cxlens", "-w", str(path), "customer", "export", "rt-user", "--out", str(out)],
        check=True,
        capture_output=True,
        env=env,
        timeout=120,
    )
    exported = {e["event_id"]: e for e in json.loads(out.read_text(encoding="utf-8"))["tables"]["events"]}
    assert sorted(exported) == sorted(sent)
    for event_id, e in exported.items():
        assert _same(e["properties"], _expected(sent[event_id])), event_id
