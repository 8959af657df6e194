"""Dashboard users: argon2 hashes at rest, normalised e-mails, roles, disabling, the last admin."""

from __future__ import annotations

import duckdb
import pytest

import cxlens
from cxlens.access import sessions, users
from cxlens.errors import ConfigError, NotFoundError

PW = "correct horse battery"


def test_password_is_an_argon2id_hash_and_the_plaintext_is_not_in_the_file(tmp_path):
    path = tmp_path / "shop.duckdb"
    secret = "plaintext-Sentinel-93517"
    with cxlens.open(path) as ws:
        users.create_user(ws, "ada@example.com", secret, role="admin")
    con = duckdb.connect(str(path), read_only=True)
    (stored,) = con.execute("SELECT password_hash FROM users").fetchone()
    con.close()
    assert stored.startswith("$argon2id$") and secret not in stored
    from argon2 import PasswordHasher

    assert PasswordHasher().verify(stored, secret)
    blobs = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.is_file())
    assert secret.encode() not in blobs and b"ada@example.com" in blobs  # the e-mail is there, the password not


def test_email_is_normalised_and_unique():
    ws = cxlens.open(":memory:")
    u = users.create_user(ws, "  Ada.Lovelace@Example.COM ", PW, role="analyst", name=" Ada ")
    assert (u.email, u.name, u.role) == ("ada.lovelace@example.com", "Ada", "analyst")
    with pytest.raises(ConfigError, match="already exists"):
        users.create_user(ws, "ADA.LOVELACE@example.com", PW, role="agent")
    with pytest.raises(ConfigError, match="'not-an-email' is not a valid address"):
        users.create_user(ws, "not-an-email", PW, role="agent")
    assert users.get_user(ws, "ADA.lovelace@EXAMPLE.com").user_id == u.user_id
    assert users.authenticate(ws, " ADA.LOVELACE@example.com ", PW).user_id == u.user_id


def test_password_length_and_role_are_checked():
    ws = cxlens.open(":memory:")
    with pytest.raises(ConfigError, match=f"9 characters; expected at least {users.MIN_PASSWORD_LENGTH}"):
        users.create_user(ws, "a@example.com", "x" * 9, role="admin")
    with pytest.raises(ConfigError, match="role 'owner' is unknown; expected one of admin, analyst, agent"):
        users.create_user(ws, "a@example.com", PW, role="owner")
    assert users.list_users(ws) == []


def test_wrong_password_unknown_email_and_disabled_user_all_fail_alike():
    ws = cxlens.open(":memory:")
    users.create_user(ws, "boss@example.com", PW, role="admin")
    users.create_user(ws, "eve@example.com", PW, role="agent")
    assert users.authenticate(ws, "eve@example.com", PW + "!") is None
    assert users.authenticate(ws, "nobody@example.com", PW) is None
    assert users.authenticate(ws, "garbage", PW) is None
    assert users.disable_user(ws, "eve@example.com").disabled
    assert users.authenticate(ws, "eve@example.com", PW) is None
    assert users.enable_user(ws, "eve@example.com").disabled is False
    assert users.authenticate(ws, "eve@example.com", PW).email == "eve@example.com"


def test_last_active_admin_can_be_neither_demoted_nor_disabled():
    ws = cxlens.open(":memory:")
    users.create_user(ws, "boss@example.com", PW, role="admin")
    with pytest.raises(ConfigError, match="last active admin"):
        users.set_role(ws, "boss@example.com", "analyst")
    with pytest.raises(ConfigError, match="last active admin"):
        users.disable_user(ws, "boss@example.com")
    users.create_user(ws, "second@example.com", PW, role="admin")
    assert users.set_role(ws, "boss@example.com", "analyst").role == "analyst"
    with pytest.raises(NotFoundError, match="no user 'ghost@example.com'"):
        users.set_role(ws, "ghost@example.com", "agent")


def test_role_change_password_change_and_disabling_end_the_users_sessions():
    ws = cxlens.open(":memory:")
    users.create_user(ws, "boss@example.com", PW, role="admin")
    u = users.create_user(ws, "ann@example.com", PW, role="analyst")
    for change in (
        lambda: users.set_role(ws, u.email, "agent"),
        lambda: users.set_password(ws, u.email, "another long password"),
        lambda: users.disable_user(ws, u.email),
    ):
        token, _ = sessions.create_session(ws, users.get_user(ws, u.email))
        assert sessions.get_session(ws, token) is not None
        change()
        assert sessions.get_session(ws, token) is None
    assert users.authenticate(ws, u.email, PW) is None  # the old password no longer works (and disabled)
    users.enable_user(ws, u.email)
    assert users.authenticate(ws, u.email, "another long password").role == "agent"


def test_listing_never_exposes_the_hash():
    ws = cxlens.open(":memory:")
    users.create_user(ws, "a@example.com", PW, role="agent")
    d = users.list_users(ws)[0].to_dict()
    assert set(d) == {"user_id", "email", "name", "role", "created_at", "disabled_at"}
    assert users.count_users(ws) == 1
