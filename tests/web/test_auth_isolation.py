"""Two workspaces on one server: a session or key of one never reads or writes the other."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from cxlens.access import list_keys, users
from cxlens.web import create_app
from cxlens.web.auth import SESSION_COOKIE
from cxlens.web.deps import CSRF_COOKIE
from cxlens.web.hub import WorkspaceHub

PW = "correct horse battery"
# hand-computed: shop NPS = (3 promoters - 1 detractor) / 4 = 50; bank = (1 - 2) / 3 = -33.33…
DATA = {
    "shop": {"customers": ["CS1", "CS2"], "scores": [10, 10, 9, 0], "nps": 50.0},
    "bank": {"customers": ["CB1"], "scores": [0, 0, 10], "nps": -100 / 3},
}


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    d = tmp_path_factory.mktemp("iso")
    hub = WorkspaceHub.open([d / "shop.duckdb", d / "bank.duckdb"])
    keys = {}
    for name, spec in DATA.items():
        ws = hub.get(name)
        cust = spec["customers"]
        ws.load("customers", pd.DataFrame({"customer_id": cust, "created_at": pd.Timestamp("2024-01-01"),
                                           "email": [f"{c.lower()}@{name}.example" for c in cust]}))  # fmt: skip
        n = len(spec["scores"])
        ws.load("feedback", pd.DataFrame({
            "feedback_id": [f"{name}-{i}" for i in range(n)], "customer_id": [cust[i % len(cust)] for i in range(n)],
            "ts": pd.Timestamp("2024-01-02"), "metric": "nps", "score": spec["scores"],
            "comment": [f"{name} comment {i}" for i in range(n)]}))  # fmt: skip
        users.create_user(ws, f"admin@{name}.example", PW, role="admin")
        users.create_user(ws, "shared@both.example", PW, role="analyst")  # same e-mail in both: separate people
        keys[name] = {kind: hub.create_key(name, kind)[1] for kind in ("secret", "write")}
    app = create_app(hub)
    yield app, hub, keys
    hub.close()


def login(app, email: str, workspace: str) -> TestClient:
    c = TestClient(app)
    page = c.get("/login")
    # a workspace field, but never a list of the workspaces' names for anonymous visitors
    assert 'name="workspace"' in page.text and "<option" not in page.text and "bank" not in page.text
    r = c.post("/login", data={"email": email, "password": PW, "workspace": workspace,
                               "csrf_token": c.cookies.get(CSRF_COOKIE)}, follow_redirects=False)  # fmt: skip
    assert r.status_code == 303, r.text
    return c


def _nps(client: TestClient) -> tuple[float, int]:
    row = client.get("/api/v1/metrics/nps").json()["rows"][0]
    return row["nps"], row["n"]


@pytest.mark.parametrize("name", ["shop", "bank"])
def test_sessions_and_secret_keys_read_their_own_workspace_only(two, name):
    app, _, keys = two
    other = "bank" if name == "shop" else "shop"
    want = (pytest.approx(DATA[name]["nps"]), len(DATA[name]["scores"]))
    session = login(app, f"admin@{name}.example", name)
    keyed = TestClient(app, headers={"Authorization": f"Bearer {keys[name]['secret']}"})
    for client in (session, keyed):
        assert _nps(client) == want
        texts = [r["text"] for r in client.get("/api/v1/voice/feedback").json()["rows"]]
        assert texts and all(t.startswith(f"{name} comment") for t in texts)
        for cid in DATA[other]["customers"]:
            assert client.get(f"/api/v1/customers/{cid}").status_code == 404
        assert client.get(f"/api/v1/customers/{DATA[name]['customers'][0]}").status_code == 200
    # pages too: the other workspace's customers are unknown, the own ones shown
    assert session.get(f"/customers/{DATA[other]['customers'][0]}").status_code == 404
    assert session.get(f"/customers/{DATA[name]['customers'][0]}").status_code == 200
    assert re.search(r'data-field="workspace">' + name + "<", session.get("/").text)


def test_the_same_email_signs_in_to_the_workspace_it_chose(two):
    app, hub, _ = two
    bank = login(app, "shared@both.example", "bank")
    assert _nps(bank) == (pytest.approx(DATA["bank"]["nps"]), 3)
    # a bank-only admin cannot sign in to the shop
    c = TestClient(app)
    c.get("/login")
    r = c.post("/login", data={"email": "admin@bank.example", "password": PW, "workspace": "shop",
                               "csrf_token": c.cookies.get(CSRF_COOKIE)})  # fmt: skip
    assert r.status_code == 401


def test_a_session_token_is_not_valid_under_another_workspace_name(two):
    app, _, _ = two
    shop = login(app, "admin@shop.example", "shop")
    _, _, token = shop.cookies.get(SESSION_COOKIE).strip('"').rpartition(":")
    forged = TestClient(app, cookies={SESSION_COOKIE: f"bank:{token}"})
    assert forged.get("/", follow_redirects=False).status_code == 303
    assert forged.get("/api/v1/metrics/nps").status_code == 401


def test_keys_and_users_of_the_other_workspace_are_not_found_and_not_touched(two):
    app, hub, keys = two
    shop = TestClient(app, headers={"Authorization": f"Bearer {keys['shop']['secret']}"})
    bank_ids = {k.key_id for k in list_keys(hub.get("bank"))}
    shop_ids = {k.key_id for k in list_keys(hub.get("shop"))}
    listed = {k["key_id"] for k in shop.get("/api/v1/keys").json()["keys"]}
    assert listed == shop_ids and not listed & bank_ids
    for kid in bank_ids:
        assert shop.post(f"/api/v1/keys/{kid}/revoke").status_code == 404
    assert hub.resolve_key(keys["bank"]["secret"])[0] == "bank"  # still live
    bank_user = users.get_user(hub.get("bank"), "admin@bank.example")
    assert shop.patch(f"/api/v1/users/{bank_user.user_id}", json={"role": "agent"}).status_code == 404
    assert users.get_user(hub.get("bank"), bank_user.user_id).role == "admin"
    assert {u["email"] for u in shop.get("/api/v1/users").json()["users"]} == {"admin@shop.example",
                                                                                 "shared@both.example"}  # fmt: skip
    # writes land in the caller's workspace: a key made by the shop belongs to the shop
    made = shop.post("/api/v1/keys", json={"kind": "write"}).json()
    assert hub.resolve_key(made["key"])[0] == "shop"
    assert {k.key_id for k in list_keys(hub.get("bank"))} == bank_ids


def test_admin_pages_of_one_workspace_show_and_change_only_it(two):
    app, hub, _ = two
    shop = login(app, "admin@shop.example", "shop")
    bank_ids = [k.key_id for k in list_keys(hub.get("bank"))]
    page = shop.get("/admin/keys").text
    assert 'id="admin-workspace">shop<' in page and not any(k in page for k in bank_ids)
    tok = shop.cookies.get(CSRF_COOKIE)
    assert shop.post(f"/admin/keys/{bank_ids[0]}/revoke", data={"csrf_token": tok}).status_code == 404
    assert not any(k.revoked for k in list_keys(hub.get("bank")))
    bank_user = users.get_user(hub.get("bank"), "shared@both.example")
    assert shop.post(f"/admin/users/{bank_user.user_id}/disable", data={"csrf_token": tok}).status_code == 404
    assert not users.get_user(hub.get("bank"), bank_user.user_id).disabled


def test_write_keys_get_403_and_revoked_keys_401_on_the_api(two):
    app, hub, keys = two
    w = TestClient(app, headers={"Authorization": f"Bearer {keys['bank']['write']}"})
    assert w.get("/api/v1/metrics/nps").status_code == 403
    info, secret = hub.create_key("bank", "secret")
    c = TestClient(app, headers={"Authorization": f"Bearer {secret}"})
    assert _nps(c)[1] == 3
    hub.revoke_key("bank", info.key_id)
    r = c.get("/api/v1/metrics/nps")
    assert r.status_code == 401 and "unknown or revoked" in r.json()["error"]["message"]
