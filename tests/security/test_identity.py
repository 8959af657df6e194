"""The public write key cannot rewrite customers or answer as them (identity verification, real server)."""

from __future__ import annotations

import json

import httpx
import pytest

from cxlens.collect.identity import rotate_identity_secret, user_hash

from .. import live
from .conftest import CUSTOMERS


@pytest.fixture(scope="module")
def secret(env) -> str:
    return rotate_identity_secret(env.hub.get("shop"))


def _customer(ws, cid: str) -> dict:
    row = ws.sql("SELECT email, name, plan, segment, traits FROM customers WHERE customer_id = ?", [cid])
    rec = row.iloc[0].to_dict()
    rec["traits"] = json.loads(rec["traits"] or "{}")
    return rec


def _identify(env, key: str, body: dict) -> int:
    with live.Client(base_url=env.url, auth=(key, "")) as c:
        return c.post("/v1/identify", json=body).status_code


def test_an_unverified_identify_adds_traits_but_never_overwrites_pii_or_protected_traits(env, secret):
    ws, write = env.hub.get("shop"), env.keys["shop"]["write"]
    attack = {"userId": "C2", "messageId": "id-attack-1", "traits": {
        "email": "attacker@evil.example", "name": "Mallory", "plan": "enterprise", "segment": "vip",
        "phone": "+1 555 0199", "tier": "platinum", "favourite_colour": "green"}}  # fmt: skip
    assert _identify(env, write, attack) == 200
    c2 = _customer(ws, "C2")
    assert (c2["email"], c2["name"], c2["plan"], c2["segment"]) == (
        CUSTOMERS["C2"]["email"], CUSTOMERS["C2"]["name"], "free", "retail")  # fmt: skip
    assert c2["traits"]["phone"] == CUSTOMERS["C2"]["phone"]  # a PII trait: kept
    assert c2["traits"]["favourite_colour"] == "green" and c2["traits"]["tier"] == "platinum"  # others merge

    # a wrong signature is no signature
    forged = {**attack, "messageId": "id-attack-2", "userHash": user_hash("guessed", "C2")}
    assert _identify(env, write, forged) == 200 and _customer(ws, "C2")["email"] == CUSTOMERS["C2"]["email"]

    # the site's server signs the user id: now the update is the customer's own
    signed = {"userId": "C2", "messageId": "id-ok-1", "userHash": user_hash(secret, "C2"),
              "traits": {"email": "new.c2@shop.example", "plan": "pro"}}  # fmt: skip
    assert _identify(env, write, signed) == 200
    c2 = _customer(ws, "C2")
    assert (c2["email"], c2["plan"]) == ("new.c2@shop.example", "pro")
    stored = ws.sql("SELECT properties FROM events WHERE event_id = 'id-ok-1'").iloc[0, 0]
    assert "userHash" not in stored  # the signature is not kept with the event

    # a secret key (the site's server itself) is trusted
    assert (
        _identify(
            env, env.keys["shop"]["secret"], {"userId": "C2", "messageId": "id-srv", "traits": {"segment": "b2b"}}
        )
        == 200
    )
    assert _customer(ws, "C2")["segment"] == "b2b"

    # a brand-new customer may be created by an unverified identify (nothing to protect yet)
    assert _identify(env, write, {"userId": "N1", "messageId": "id-new", "traits": {"email": "n1@shop.example"}}) == 200
    assert _customer(ws, "N1")["email"] == "n1@shop.example"


def test_required_verification_refuses_unsigned_user_ids(env, secret):
    ws, write = env.hub.get("shop"), env.keys["shop"]["write"]
    ws.set_setting("identity.required", True)
    try:
        import time

        time.sleep(5.2)  # the collector caches settings for 5 s
        with live.Client(base_url=env.url, auth=(write, "")) as c:
            r = c.post("/v1/track", json={"userId": "C3", "event": "x", "messageId": "req-1"})
            assert r.status_code == 403 and r.json()["error"]["message"].startswith("message 0: field 'userHash'")
            ok = {"userId": "C3", "event": "x", "messageId": "req-2", "userHash": user_hash(secret, "C3")}
            assert c.post("/v1/track", json=ok).status_code == 200
            assert (
                c.post("/v1/track", json={"anonymousId": "a-1", "event": "x", "messageId": "req-3"}).status_code == 200
            )
        assert ws.sql("SELECT event_id FROM events WHERE event_id LIKE 'req-%' ORDER BY 1").values.ravel().tolist() == [
            "req-2", "req-3"]  # fmt: skip
    finally:
        ws.set_setting("identity.required", False)
        time.sleep(5.2)


def _survey(env, path: str, body: dict, key: str | None = None) -> httpx.Response:
    with live.Client(base_url=env.url) as c:
        return c.post(f"/v1/surveys/s1/{path}", content=json.dumps({"writeKey": key or env.keys["shop"]["write"], **body}),
                      headers={"content-type": "text/plain"})  # fmt: skip


def test_browser_survey_calls_count_for_the_verified_or_anonymous_person_only(env, secret):
    ws = env.hub.get("shop")
    # an impression and an answer naming a customer without a signature count for the anonymous id only
    assert _survey(env, "impression", {"userId": "C4", "anonymousId": "mallory-1"}).status_code == 200
    r = _survey(env, "responses", {"userId": "C4", "anonymousId": "mallory-1", "responseId": "att-1", "score": 0})
    assert r.status_code == 201
    fb = ws.sql("SELECT customer_id, json_extract_string(properties, '$.anonymous_id') AS a FROM feedback "
                "WHERE feedback_id = ?", [r.json()["feedback_id"]])  # fmt: skip
    assert fb.values.tolist() == [[None, "mallory-1"]]
    # an anonymous id equal to the customer's id is a different person too
    assert _survey(env, "impression", {"anonymousId": "C4"}).status_code == 200
    r = _survey(env, "responses", {"anonymousId": "C4", "responseId": "att-2", "score": 0})
    assert r.status_code == 201
    # so the real customer C4 is still asked, and may answer once
    with live.Client(base_url=env.url) as c:
        el = c.get("/v1/surveys/eligible", params={"writeKey": env.keys["shop"]["write"], "userId": "C4",
                                                   "userHash": user_hash(secret, "C4"), "anonymousId": "c4-device"})  # fmt: skip
    assert [s["id"] for s in el.json()["surveys"]] == ["s1"]
    signed = {"userId": "C4", "userHash": user_hash(secret, "C4"), "anonymousId": "c4-device", "responseId": "c4-r"}
    r = _survey(env, "responses", {**signed, "score": 10})
    assert r.status_code == 201, r.text
    assert (
        ws.sql("SELECT customer_id FROM feedback WHERE feedback_id = ?", [r.json()["feedback_id"]]).iloc[0, 0] == "C4"
    )
    assert _survey(env, "responses", {**signed, "responseId": "c4-r2", "score": 9}).status_code == 409  # once
    # without any anonymous id an unsigned user id is refused, naming userHash
    r = _survey(env, "responses", {"userId": "C5", "responseId": "att-3", "score": 0})
    assert r.status_code == 403 and "userHash" in r.json()["error"]["message"]


def test_the_cli_prints_the_identity_secret_and_rotates_it(tmp_path):
    import subprocess
    import sys

    import cxlens
    from cxlens.collect.identity import identity_secret

    ws_path = tmp_path / "id.duckdb"
    cxlens.open(ws_path).close()

    def run(*args: str) -> str:
        r = subprocess.run([sys.executable, "-m", "cxlens", "-w", str(ws_path), "keys", "identity-secret", *args],
                           capture_output=True, text=True, check=True)  # fmt: skip
        return r.stdout.strip()

    first, again, rotated = run(), run(), run("--rotate")
    assert len(first) == 64 and first == again and rotated != first
    with cxlens.open(ws_path) as ws:
        assert identity_secret(ws) == rotated
