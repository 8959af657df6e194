"""API keys and the workspace hub: creation, hashing at rest, revocation, per-workspace lookup."""

from __future__ import annotations

import hashlib

import duckdb
import pytest

import cxlens
from cxlens.access import create_key, find_key, list_keys, revoke_key
from cxlens.errors import ConfigError, NotFoundError
from cxlens.schema.migrations import SCHEMA_VERSION
from cxlens.web.hub import WorkspaceHub


def test_key_is_stored_only_as_its_sha256(tmp_path):
    path = tmp_path / "shop.duckdb"
    with cxlens.open(path) as ws:
        info, key = create_key(ws, "secret", name="etl")
    con = duckdb.connect(str(path), read_only=True)
    stored = con.execute("SELECT key_hash, prefix, kind FROM api_keys").fetchall()
    con.close()
    assert stored == [(hashlib.sha256(key.encode()).hexdigest(), key[:10], "secret")]
    raw = path.read_bytes()
    assert key.encode() not in raw
    assert key.startswith("cxs_") and len(key) == 4 + 32


def test_revoked_key_is_not_found_and_listed_as_revoked():
    ws = cxlens.open(":memory:")
    info, key = create_key(ws, "write")
    other, key2 = create_key(ws, "write")
    assert find_key(ws, key).key_id == info.key_id
    assert revoke_key(ws, info.key_id).revoked
    assert revoke_key(ws, info.key_id).revoked  # idempotent
    assert find_key(ws, key) is None and find_key(ws, key2).key_id == other.key_id
    assert [k.revoked for k in list_keys(ws)] == [True, False]
    assert [k.key_id for k in list_keys(ws, include_revoked=False)] == [other.key_id]


def test_unknown_kind_and_unknown_key_id_are_clear_errors():
    ws = cxlens.open(":memory:")
    with pytest.raises(ConfigError, match="'read'.*write, secret"):
        create_key(ws, "read")
    with pytest.raises(NotFoundError, match="no key 'key_nope'"):
        revoke_key(ws, "key_nope")


def test_hub_resolves_each_key_to_its_own_workspace_only(tmp_path):
    a, b = tmp_path / "a.duckdb", tmp_path / "b.duckdb"
    hub = WorkspaceHub.open([a, b])
    assert hub.names == ["a", "b"] and hub.default == "a"
    ka, key_a = hub.create_key("a", "write")
    kb, key_b = hub.create_key("b", "secret")
    assert hub.resolve_key(key_a)[0] == "a" and hub.resolve_key(key_b)[0] == "b"
    assert hub.resolve_key(key_a)[2].kind == "write"
    hub.revoke_key("a", ka.key_id)
    assert hub.resolve_key(key_a) is None and hub.resolve_key(key_b)[0] == "b"
    hub.close()
    # the index is rebuilt from the files on restart: revocation persisted, the live key too
    hub = WorkspaceHub.open([a, b])
    assert hub.resolve_key(key_a) is None and hub.resolve_key(key_b)[0] == "b"
    with pytest.raises(NotFoundError, match="no workspace 'c'"):
        hub.get("c")
    hub.close()


def test_workspace_settings_round_trip_json(tmp_path):
    path = tmp_path / "s.duckdb"
    with cxlens.open(path) as ws:
        ws.set_setting("voice.keep_originals", True)
        ws.set_setting("collect.allowed_origins", ["https://a.example", "https://b.example"])
    with cxlens.open(path, read_only=True) as ws:
        assert ws.setting("voice.keep_originals") is True
        assert ws.setting("collect.allowed_origins") == ["https://a.example", "https://b.example"]
        assert ws.setting("nope", {"d": 1}) == {"d": 1}


def test_version_1_workspace_is_migrated_to_the_service_tables(tmp_path):
    path = tmp_path / "old.duckdb"
    with cxlens.open(path) as ws:
        ws.load("customers", __import__("pandas").DataFrame({"customer_id": ["c1"]}))
    con = duckdb.connect(str(path))
    for t in ("api_keys", "users", "sessions", "settings"):
        con.execute(f"DROP TABLE {t}")
    con.execute("UPDATE _cxlens_meta SET value='1' WHERE key='schema_version'")
    con.close()
    with cxlens.open(path) as ws:
        assert ws.schema_version == SCHEMA_VERSION and ws.counts()["customers"] == 1
        info, key = create_key(ws, "write")
        assert find_key(ws, key) == info
