"""`cxlens keys …` and `cxlens users …` (in-process through Typer's runner)."""

from __future__ import annotations

import re

import duckdb
from typer.testing import CliRunner

import cxlens
from cxlens.access import users
from cxlens.cli import app
from cxlens.web.hub import WorkspaceHub

PW = "correct horse battery"


def _run(path, *args, input=None):  # noqa: A002
    return CliRunner().invoke(app, ["--workspace", str(path), *args], input=input, catch_exceptions=False)


def test_keys_create_prints_only_the_key_on_stdout_and_it_resolves(tmp_path):
    path = tmp_path / "shop.duckdb"
    res = _run(path, "keys", "create", "--kind", "write", "--name", "website")
    assert res.exit_code == 0, res.output
    assert re.fullmatch(r"cxw_[A-Za-z0-9_-]{32}\n", res.stdout)
    key = res.stdout.strip()
    secret = _run(path, "keys", "create", "--kind", "secret").stdout.strip()
    assert secret.startswith("cxs_")
    hub = WorkspaceHub.open([path])
    name, _, info = hub.resolve_key(key)
    assert (name, info.kind, info.name, info.created_by) == ("shop", "write", "website", "cli")
    hub.close()
    listed = _run(path, "keys", "list", "--format", "json")
    assert key not in listed.stdout and info.key_id in listed.stdout and '"website"' in listed.stdout
    assert _run(path, "keys", "revoke", info.key_id).exit_code == 0
    hub = WorkspaceHub.open([path])
    assert hub.resolve_key(key) is None and hub.resolve_key(secret)[0] == "shop"
    hub.close()


def test_keys_create_rejects_an_unknown_kind(tmp_path):
    res = CliRunner().invoke(app, ["--workspace", str(tmp_path / "w.duckdb"), "keys", "create", "--kind", "read"])
    assert res.exit_code != 0 and "'read'" in str(res.exception)


def test_users_create_from_stdin_list_and_disable(tmp_path):
    path = tmp_path / "shop.duckdb"
    res = _run(path, "users", "create", " Boss@Example.com", "--role", "admin", "--password-stdin", input=PW + "\n")
    assert res.exit_code == 0, res.output
    assert "boss@example.com (admin) created" in res.stdout
    _run(path, "users", "create", "ann@example.com", "--role", "analyst", "--password-stdin", input=PW + "\n")
    listed = _run(path, "users", "list").stdout
    assert "boss@example.com" in listed and "analyst" in listed and PW not in listed
    assert _run(path, "users", "disable", "ann@example.com").exit_code == 0
    with cxlens.open(path) as ws:
        assert users.authenticate(ws, "boss@example.com", PW).role == "admin"  # the trailing newline is not part of it
        assert users.authenticate(ws, "ann@example.com", PW) is None
        assert [u.disabled for u in users.list_users(ws)] == [False, True]
    con = duckdb.connect(str(path), read_only=True)
    assert con.execute("SELECT count(*) FROM users WHERE password_hash LIKE '$argon2id$%'").fetchone() == (2,)
    con.close()


def test_users_create_hidden_prompt_asks_twice(tmp_path):
    path = tmp_path / "shop.duckdb"
    res = _run(path, "users", "create", "a@example.com", "--role", "agent", input=f"{PW}\n{PW}\n")
    assert res.exit_code == 0, res.output
    assert PW not in res.stdout  # hidden input is not echoed
    with cxlens.open(path) as ws:
        assert users.authenticate(ws, "a@example.com", PW).role == "agent"


def test_users_create_rejects_a_short_password_and_writes_nothing(tmp_path):
    path = tmp_path / "shop.duckdb"
    res = CliRunner().invoke(app, ["--workspace", str(path), "users", "create", "a@example.com", "--role", "admin",
                                   "--password-stdin"], input="short\n")  # fmt: skip
    assert res.exit_code != 0 and "5 characters; expected at least 10" in str(res.exception)
    with cxlens.open(path) as ws:
        assert users.count_users(ws) == 0
