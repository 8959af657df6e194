"""The /v1 endpoints: auth, tenancy, CORS, limits and hostile inputs — each with table counts checked."""

from __future__ import annotations

import base64
import gzip

import orjson
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cxlens.collect import close_collectors
from cxlens.web.app import create_app
from cxlens.web.hub import WorkspaceHub

SHOP_ORIGIN = "https://shop.example"


def basic(key: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:".encode()).decode()}


@pytest.fixture()
def env(tmp_path):
    hub = WorkspaceHub.open({"shop": tmp_path / "shop.duckdb", "bank": tmp_path / "bank.duckdb"})
    _, shop_key = hub.create_key("shop", "write")
    _, bank_key = hub.create_key("bank", "write")
    revoked_info, revoked_key = hub.create_key("shop", "write")
    hub.revoke_key("shop", revoked_info.key_id)
    hub.get("shop").set_setting("collect.allowed_origins", [SHOP_ORIGIN])
    client = TestClient(create_app(hub))
    yield client, hub, shop_key, bank_key, revoked_key
    for name in hub.names:
        close_collectors(hub.get(name))
    hub.close()


def counts(hub: WorkspaceHub) -> dict[str, tuple[int, int]]:
    out = {}
    for name in hub.names:
        ws = hub.get(name)
        ev = ws.scalar("SELECT count(*) FROM events")
        cu = ws.scalar("SELECT count(*) FROM customers")
        out[name] = (ev, cu)
    return out


def test_each_endpoint_answers_like_segment_and_writes_its_own_workspace(env):
    client, hub, shop_key, bank_key, _ = env
    h = basic(shop_key)
    for kind, body in [
        ("track", {"userId": "u1", "event": "Viewed", "messageId": "t1"}),
        ("page", {"anonymousId": "a1", "name": "Home", "messageId": "p1"}),
        ("screen", {"anonymousId": "a1", "name": "Home", "messageId": "s1"}),
        ("identify", {"userId": "u1", "anonymousId": "a1", "traits": {"email": "e@x.example"}, "messageId": "i1"}),
        ("batch", {"batch": [{"type": "track", "userId": "u2", "event": "E", "messageId": "b1"}]}),
    ]:
        r = client.post(f"/v1/{kind}", json=body, headers=h)
        assert (r.status_code, r.json()) == (200, {"success": True}), (kind, r.text)
    # the bank's key writes the bank only, also when it names the shop's ids
    r = client.post("/v1/track", json={"userId": "u1", "event": "Viewed", "messageId": "t1"}, headers=basic(bank_key))
    assert r.status_code == 200
    assert counts(hub) == {"shop": (5, 1), "bank": (1, 0)}
    got = hub.get("shop").sql("SELECT event_id, type FROM events ORDER BY event_id").values.tolist()
    assert got == [["b1", "track"], ["i1", "identify"], ["p1", "page"], ["s1", "screen"], ["t1", "track"]]


def test_write_key_in_the_body_and_bearer_are_accepted(env):
    client, hub, shop_key, _, _ = env
    body = {"batch": [{"type": "track", "anonymousId": "a", "event": "E", "messageId": "k1"}], "writeKey": shop_key}
    r = client.post("/v1/batch", content=orjson.dumps(body), headers={"Content-Type": "text/plain"})
    assert r.status_code == 200
    r = client.post(
        "/v1/track",
        json={"anonymousId": "a", "event": "E", "messageId": "k2"},
        headers={"Authorization": f"Bearer {shop_key}"},
    )
    assert r.status_code == 200
    assert counts(hub)["shop"] == (2, 0)


@pytest.mark.parametrize(
    "headers_or_body",
    [
        {},  # no key at all
        {"Authorization": "Basic " + base64.b64encode(b"cxw_wrong:").decode()},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Digest abc"},
        {"body_key": "cxw_wrong"},
    ],
)
def test_missing_or_wrong_keys_are_401_and_write_nothing(env, headers_or_body):
    client, hub, *_ = env
    body = {"userId": "u", "event": "E"}
    headers = dict(headers_or_body)
    if "body_key" in headers:
        body["writeKey"] = headers.pop("body_key")
    r = client.post("/v1/track", json=body, headers=headers)
    assert r.status_code == 401
    assert r.json()["error"]["status"] == 401
    assert counts(hub) == {"shop": (0, 0), "bank": (0, 0)}


def test_a_revoked_key_is_401(env):
    client, hub, _, _, revoked = env
    r = client.post(
        "/v1/batch", json={"batch": [{"type": "track", "userId": "u", "event": "E"}]}, headers=basic(revoked)
    )
    assert r.status_code == 401 and "revoked" in r.json()["error"]["message"]
    assert counts(hub) == {"shop": (0, 0), "bank": (0, 0)}


def test_a_rejected_batch_writes_nothing_at_all(env):
    client, hub, shop_key, _, _ = env
    body = {
        "batch": [
            {"type": "track", "userId": "u", "event": "ok", "messageId": "fine"},
            {"type": "track", "userId": "u", "event": "E", "timestamp": "yesterday"},
        ]
    }
    r = client.post("/v1/batch", json=body, headers=basic(shop_key))
    assert r.status_code == 400
    err = r.json()["error"]
    assert err["message"].startswith("batch[1].timestamp: expected an ISO-8601 time, got 'yesterday'")
    assert err["param"] == "batch[1].timestamp"
    assert counts(hub)["shop"] == (0, 0)


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"userId": "u", "event": ', 400),  # malformed JSON
        (b"[]", 400),
        (b'{"userId": 5.5, "event": "E"}', 400),  # wrong type
        (b'{"userId": "u", "event": 12}', 400),
        (b'{"userId": "u", "event": "E", "properties": "str"}', 400),
        (b'{"userId": "u", "event": "E", "timestamp": true}', 400),
        (orjson.dumps({"userId": "u", "event": "E", "properties": {"c": "x" * 20_000}}), 413),
    ],
)
def test_malformed_and_mistyped_bodies_are_rejected_and_write_nothing(env, content, status):
    client, hub, shop_key, _, _ = env
    r = client.post("/v1/track", content=content, headers={**basic(shop_key), "Content-Type": "application/json"})
    assert r.status_code == status, r.text
    assert counts(hub)["shop"] == (0, 0)


def test_a_10_mb_body_is_refused_before_it_is_read(env):
    client, hub, shop_key, _, _ = env
    big = b'{"userId": "u", "event": "E", "properties": {"x": "' + b"a" * (10 * 2**20) + b'"}}'
    r = client.post("/v1/track", content=big, headers={**basic(shop_key), "Content-Type": "application/json"})
    assert r.status_code == 413 and "10,485," in r.json()["error"]["message"]

    # without Content-Length (chunked), reading stops at the limit
    def chunks():
        for _ in range(160):
            yield b"a" * 65536

    r = client.post("/v1/track", content=chunks(), headers=basic(shop_key))
    assert r.status_code == 413
    # a gzip bomb: 10 MB of JSON in a small compressed body
    r = client.post("/v1/track", content=gzip.compress(big), headers={**basic(shop_key), "Content-Encoding": "gzip"})
    assert r.status_code == 413
    assert counts(hub)["shop"] == (0, 0)


def test_gzip_bodies_like_the_python_client_sends_are_read(env):
    client, hub, shop_key, _, _ = env
    body = gzip.compress(orjson.dumps({"batch": [{"type": "track", "userId": "u", "event": "E", "messageId": "g"}]}))
    r = client.post("/v1/batch", content=body, headers={**basic(shop_key), "Content-Encoding": "gzip"})
    assert r.status_code == 200
    assert counts(hub)["shop"] == (1, 0)


def test_deeply_nested_properties_are_413(env):
    client, hub, shop_key, _, _ = env
    nested = "x"
    for _ in range(60):
        nested = {"n": nested}
    r = client.post("/v1/track", json={"userId": "u", "event": "E", "properties": nested}, headers=basic(shop_key))
    assert r.status_code == 413 and "nesting depth" in r.json()["error"]["message"]
    assert counts(hub)["shop"] == (0, 0)


def test_script_payloads_are_stored_verbatim_as_text(env):
    client, hub, shop_key, _, _ = env
    payload = '<script>alert("x")</script>'
    r = client.post(
        "/v1/track",
        json={"userId": payload, "event": payload, "messageId": "xss", "properties": {"comment": payload}},
        headers=basic(shop_key),
    )
    assert r.status_code == 200
    row = hub.get("shop").sql("SELECT customer_id, name, properties FROM events").iloc[0]
    assert row.customer_id == payload and row["name"] == payload
    assert orjson.loads(row.properties)["comment"] == payload


def test_cors_is_granted_only_to_allowed_origins(env):
    client, hub, shop_key, bank_key, _ = env
    pre = client.options(
        "/v1/batch",
        headers={
            "Origin": SHOP_ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "authorization,content-type",
        },
    )
    assert pre.status_code == 204
    assert pre.headers["access-control-allow-origin"] == SHOP_ORIGIN
    assert "authorization" in pre.headers["access-control-allow-headers"].lower()
    evil = client.options(
        "/v1/batch", headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"}
    )
    assert "access-control-allow-origin" not in evil.headers

    body = {"userId": "u", "event": "E", "messageId": "c1"}
    ok = client.post("/v1/track", json=body, headers={**basic(shop_key), "Origin": SHOP_ORIGIN})
    assert ok.status_code == 200 and ok.headers["access-control-allow-origin"] == SHOP_ORIGIN
    bad = client.post(
        "/v1/track", json=dict(body, messageId="c2"), headers={**basic(shop_key), "Origin": "https://evil.example"}
    )
    assert bad.status_code == 403 and "access-control-allow-origin" not in bad.headers
    # the bank allows no browser origin at all, so the shop's origin gets nothing there
    other = client.post(
        "/v1/track", json=dict(body, messageId="c3"), headers={**basic(bank_key), "Origin": SHOP_ORIGIN}
    )
    assert other.status_code == 403
    assert counts(hub) == {"shop": (1, 0), "bank": (0, 0)}


def test_rate_limit_is_429_with_retry_after(env):
    client, hub, shop_key, _, _ = env
    from cxlens.collect import collector_for

    ws = hub.get("shop")
    ws.set_setting("collect.rate_limit", 0.5)
    ws.set_setting("collect.rate_burst", 2)
    collector_for(ws).forget_settings()
    statuses = []
    for i in range(4):
        r = client.post("/v1/track", json={"userId": "u", "event": "E", "messageId": f"r{i}"}, headers=basic(shop_key))
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert int(r.headers["retry-after"]) >= 1
    assert statuses == [200, 200, 429, 429]
    assert counts(hub)["shop"] == (2, 0)


def test_the_sdk_is_served(env):
    client, *_ = env
    r = client.get("/sdk/cxlens.js")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "sendBeacon" in r.text and "cxlens-survey.js" in r.text


def test_openapi_documents_the_request_bodies(env):
    client, *_ = env
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/v1/batch"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    kinds = [item["properties"]["type"]["const"] for item in body["properties"]["batch"]["items"]["anyOf"]]
    assert kinds == ["track", "page", "screen", "identify"]
    assert (
        "event"
        in spec["paths"]["/v1/track"]["post"]["requestBody"]["content"]["application/json"]["schema"]["required"]
    )
    assert {"400", "401", "413", "429"} <= set(spec["paths"]["/v1/track"]["post"]["responses"])


def test_a_read_only_workspace_answers_409_not_500(tmp_path):
    import cxlens

    path = tmp_path / "ro.duckdb"
    with cxlens.open(path) as w:
        from cxlens.access import keys

        _, key = keys.create_key(w, "write")
    hub = WorkspaceHub.open([path], read_only=True)
    try:
        client = TestClient(create_app(hub))
        r = client.post("/v1/track", json={"userId": "u", "event": "E"}, headers=basic(key))
        assert r.status_code == 409 and "open it writable" in r.json()["error"]["message"]
        pre = client.options("/v1/track", headers={"Origin": SHOP_ORIGIN, "Access-Control-Request-Method": "POST"})
        assert pre.status_code == 204 and "access-control-allow-origin" not in pre.headers
    finally:
        hub.close()


def test_big_bodies_parsed_in_a_worker_process_land_like_the_others(tmp_path):
    from cxlens.web.api.collect import FastPath, create_collect_app

    hub = WorkspaceHub.open({"shop": tmp_path / "shop.duckdb"})
    _, key = hub.create_key("shop", "write")
    tp = hub.get("shop").sql("SELECT touchpoint, stage FROM journey_touchpoints LIMIT 1").iloc[0]
    big = {
        "batch": [
            {"type": "track", "userId": f"u{i}", "event": "E", "messageId": f"w{i}", "properties": {"pad": "x" * 100}}
            for i in range(300)
        ]
        + [{"type": "page", "anonymousId": "a", "name": tp.touchpoint, "messageId": "w-page"}]
        + [
            {
                "type": "identify",
                "userId": "u1",
                "anonymousId": "a",
                "messageId": "w-id",
                "traits": {"email": "w@x.example"},
            }
        ]
    }
    small = {"userId": "u1", "event": "Small", "messageId": "s1"}
    app = create_collect_app(hub, parse_workers=1)
    with TestClient(FastPath(app)) as client:
        assert app.state.parse_pool is not None
        r = client.post("/v1/batch", content=orjson.dumps(big), headers=basic(key))
        assert r.status_code == 200 and len(orjson.dumps(big)) >= 16 * 1024
        assert client.post("/v1/track", json=small, headers=basic(key)).status_code == 200
        again = client.post("/v1/batch", content=orjson.dumps(big), headers=basic(key))  # a retry
        assert again.status_code == 200
        bad = dict(big, batch=[*big["batch"], {"type": "track", "userId": "u", "event": "E", "timestamp": "nope"}])
        r = client.post("/v1/batch", content=orjson.dumps(bad), headers=basic(key))
        assert r.status_code == 400 and r.json()["error"]["param"] == "batch[302].timestamp"
        ws = hub.get("shop")  # every request above was acknowledged, so committed
        n = ws.sql("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events").values.tolist()
        assert n == [[303, 303]]
        page = ws.sql("SELECT touchpoint, stage FROM events WHERE event_id = 'w-page'").iloc[0]
        assert (page.touchpoint, page.stage) == (tp.touchpoint, tp.stage)  # journey fill on the worker's table
        assert ws.sql("SELECT email FROM customers WHERE customer_id = 'u1'")["email"].tolist() == ["w@x.example"]


def test_big_requests_reach_the_writer_as_a_table_and_small_ones_as_rows(env, monkeypatch):
    """The server builds a big request's Arrow table before queueing it (the writer thread then does little
    but DuckDB's GIL-free work); a small request leaves its rows to the writer's one table a group."""
    from cxlens.collect.writer import Collector
    from cxlens.web.api.collect import SEAL_MESSAGES

    client, hub, shop_key, _, _ = env
    seen = []
    real = Collector.commit

    async def spy(self, messages):
        seen.append((messages.count, messages.table is not None, len(messages.rows)))
        return await real(self, messages)

    monkeypatch.setattr(Collector, "commit", spy)
    big = {"batch": [{"type": "track", "userId": f"u{i}", "event": "E", "messageId": f"b{i}"}
                     for i in range(SEAL_MESSAGES)]}  # fmt: skip
    assert client.post("/v1/batch", content=orjson.dumps(big), headers=basic(shop_key)).status_code == 200
    small = {"userId": "u1", "event": "Small", "messageId": "s1"}
    assert client.post("/v1/track", json=small, headers=basic(shop_key)).status_code == 200
    assert seen == [(SEAL_MESSAGES, True, 0), (1, False, 1)]
    ws = hub.get("shop")
    assert ws.sql("SELECT count(*) AS n, count(DISTINCT event_id) AS d FROM events").values.tolist() == [[201, 201]]


def test_batch_fills_a_stage_only_for_rows_naming_a_journey_touchpoint_as_import_does(env):
    """A journey row without a touchpoint (written by SQL; a YAML journey cannot hold one) must not
    give its stage to events without a touchpoint; ``ws.load`` of the same rows is the oracle."""
    client, hub, shop_key, _, _ = env
    shop, bank = hub.get("shop"), hub.get("bank")
    tp = shop.sql("SELECT touchpoint, stage FROM journey_touchpoints ORDER BY touchpoint LIMIT 1").iloc[0]
    for ws in (shop, bank):
        ws.store.execute("INSERT INTO journey_touchpoints VALUES (NULL, 'no touchpoint', 'loyalty', 'web')")
    ts = "2024-05-01T12:00:00.000Z"
    msgs = [
        {"type": "track", "userId": "u1", "event": "Viewed", "messageId": "none", "timestamp": ts},
        {"type": "track", "userId": "u1", "event": "Viewed", "messageId": "known", "timestamp": ts,
         "properties": {"touchpoint": tp.touchpoint}},
        {"type": "track", "userId": "u1", "event": "Viewed", "messageId": "unknown", "timestamp": ts,
         "properties": {"touchpoint": "not-in-the-journey"}},
        {"type": "track", "userId": "u1", "event": "Viewed", "messageId": "own", "timestamp": ts,
         "properties": {"touchpoint": tp.touchpoint, "stage": "custom"}},
    ]  # fmt: skip
    r = client.post("/v1/batch", json={"batch": msgs}, headers=basic(shop_key))
    assert (r.status_code, r.json()) == (200, {"success": True})
    q = "SELECT event_id, touchpoint, stage FROM events ORDER BY event_id"
    collected = [list(r) for r in shop.store.rows(q)]
    assert collected == [
        ["known", tp.touchpoint, tp.stage],
        ["none", None, None],
        ["own", tp.touchpoint, "custom"],
        ["unknown", "not-in-the-journey", None],
    ]
    rows = pd.DataFrame(
        {
            "event_id": [m["messageId"] for m in msgs],
            "ts": ["2024-05-01 12:00:00"] * len(msgs),
            "customer_id": "u1",
            "name": "Viewed",
            "touchpoint": [m.get("properties", {}).get("touchpoint") for m in msgs],
            "stage": [m.get("properties", {}).get("stage") for m in msgs],
        }
    )
    assert bank.load("events", rows).inserted == 4
    assert [list(r) for r in bank.store.rows(q)] == collected
