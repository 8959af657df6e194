"""``cxlens keys …`` and ``cxlens users …``: API keys and dashboard users of the workspace.

``keys create`` prints the new key alone on stdout (everything else goes to stderr), so
``KEY=$(cxlens keys create --kind write)`` works in a script. Passwords are read from a hidden
prompt or, with ``--password-stdin``, from the first line of standard input; never from an option
(it would land in the shell history and the process list).
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cxlens.access import keys as _keys
from cxlens.access import users as _users
from cxlens.cli._app import Fmt, app, err, open, out, print_frame, state
from cxlens.errors import ConfigError

keys_app = typer.Typer(help="API keys: write keys for browsers, secret keys for servers.", no_args_is_help=True)
users_app = typer.Typer(help="Dashboard users and their roles (admin, analyst, agent).", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
app.add_typer(users_app, name="users")


# -- keys -----------------------------------------------------------------------------------------
@keys_app.command("create")
def keys_create(
    kind: Annotated[str, typer.Option("--kind", help="write (public, send-only) or secret (server-side).")],
    name: Annotated[str | None, typer.Option("--name", help="A label, e.g. website.")] = None,
) -> None:
    """Create a key and print it (alone, on stdout); it is shown only this once."""
    with open() as ws:
        info, plaintext = _keys.create_key(ws, kind, name=name, created_by="cli")
    err.print(f"{info.kind} key {info.key_id} created in {state.workspace}; store it now, it is not shown again")
    sys.stdout.write(plaintext + "\n")


@keys_app.command("list")
def keys_list(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """List the workspace's keys (id, kind, name, first characters, created, revoked)."""
    import pandas as pd

    with open() as ws:
        keys = _keys.list_keys(ws)
    frame = pd.DataFrame([k.to_dict() for k in keys], columns=["key_id", "kind", "name", "prefix", "created_at",
                                                                "created_by", "revoked_at"])  # fmt: skip
    print_frame(frame, fmt)


@keys_app.command("revoke")
def keys_revoke(key_id: Annotated[str, typer.Argument(help="The key's id (key_…), from `cxlens keys list`.")]) -> None:
    """Revoke a key (while a server runs, the file is locked: revoke on its Admin → API keys page)."""
    with open() as ws:
        info = _keys.revoke_key(ws, key_id)
    out.print(f"key {info.key_id} revoked")


@keys_app.command("identity-secret")
def keys_identity_secret(
    rotate: Annotated[bool, typer.Option("--rotate", help="Make a new secret; the old one stops verifying.")] = False,
) -> None:
    """Print the identity-verification secret (made the first time), alone on stdout: the site's server signs
    user ids with it (``userHash`` = HMAC-SHA256 of the user id, hex; docs/security.md)."""
    from cxlens.collect.identity import identity_secret, rotate_identity_secret

    with open() as ws:
        secret = identity_secret(ws)
        if secret is None or rotate:
            secret = rotate_identity_secret(ws)
            err.print(f"a new identity secret was made for {state.workspace}; keep it on your servers only")
    sys.stdout.write(secret + "\n")


# -- users ----------------------------------------------------------------------------------------
def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        line = sys.stdin.readline()
        password = line[:-1] if line.endswith("\n") else line
        if password.endswith("\r"):
            password = password[:-1]
        if not password:
            raise ConfigError('--password-stdin read an empty line; pipe the password, e.g. `printf %s "$PW" | …`')
        return password
    return str(typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True))


@users_app.command("create")
def users_create(
    email: Annotated[str, typer.Argument(help="The user's e-mail (their sign-in name).")],
    role: Annotated[str, typer.Option("--role", help="admin, analyst or agent.")],
    name: Annotated[str | None, typer.Option("--name", help="Display name.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from the first line of stdin.")
    ] = False,
) -> None:
    """Create a dashboard user (the first one ends open mode: the dashboard then needs a sign-in)."""
    if role not in _users.ROLES:  # before asking for a password
        raise ConfigError(f"role {role!r} is unknown; expected one of {', '.join(_users.ROLES)}")
    password = _read_password(password_stdin)
    with open() as ws:
        user = _users.create_user(ws, email, password, role=role, name=name)
    out.print(f"user {user.email} ({user.role}) created in {state.workspace}")


@users_app.command("list")
def users_list(fmt: Annotated[Fmt, typer.Option("--format", help="table, json or csv.")] = Fmt.table) -> None:
    """List the workspace's users (never their passwords)."""
    import pandas as pd

    with open() as ws:
        users = _users.list_users(ws)
    rows = [
        (u.email, u.name or "", u.role, f"{u.created_at:%Y-%m-%d %H:%M}",
         f"disabled {u.disabled_at:%Y-%m-%d}" if u.disabled_at else "active")
        for u in users
    ]  # fmt: skip
    frame = pd.DataFrame(rows, columns=["e-mail", "name", "role", "created", "status"])
    print_frame(frame, fmt, title=f"users of {state.workspace}")


@users_app.command("disable")
def users_disable(email: Annotated[str, typer.Argument(help="The user's e-mail.")]) -> None:
    """Disable a user: they cannot sign in and their sessions end."""
    with open() as ws:
        user = _users.disable_user(ws, email)
    out.print(f"user {user.email} disabled")


@users_app.command("role")
def users_role(
    email: Annotated[str, typer.Argument(help="The user's e-mail.")],
    role: Annotated[str, typer.Argument(help="admin, analyst or agent.")],
) -> None:
    """Change a user's role (their sessions end)."""
    with open() as ws:
        user = _users.set_role(ws, email, role)
    out.print(f"user {user.email} is now {user.role}")


@users_app.command("password")
def users_password(
    email: Annotated[str, typer.Argument(help="The user's e-mail.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="Read it from stdin.")] = False,
) -> None:
    """Set a new password for a user (their sessions end)."""
    password = _read_password(password_stdin)
    with open() as ws:
        user = _users.set_password(ws, email, password)
    out.print(f"password of {user.email} changed")
