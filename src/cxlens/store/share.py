"""Opening a workspace file, and finding the process that holds it.

DuckDB locks a database file for the one process that opens it. :func:`open_store` opens the file
directly when it can. When another process holds it:

* if that process *shares* the workspace (``cxlens serve`` and ``cxlens collect`` do, through
  :func:`share`), it left a sidecar file ``<workspace>.server.json`` (mode 0600: its PID, command,
  loopback address and a random token); the new store sends its work there
  (:mod:`cxlens.store.remote`) and gives the same results as a direct open;
* otherwise the error names the holder (PID and command) and how to share.

See docs/store.md for how it works and its limits.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import re
import secrets
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from cxlens.errors import WorkspaceError
from cxlens.store.core import Store
from cxlens.store.remote import RemoteConnection, StoreServer

__all__ = ["holder_of", "open_store", "share", "sidecar_path"]


def sidecar_path(path: str | os.PathLike[str]) -> Path:
    """Where the process sharing workspace ``path`` leaves its address and token."""
    return Path(str(Path(path).expanduser().resolve()) + ".server.json")


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _command_of(pid: int) -> str | None:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    parts = [p.decode("utf-8", "replace") for p in raw.split(b"\0") if p]
    return " ".join(parts) or None


def holder_of(message: str) -> tuple[int | None, str | None]:
    """The PID and command of the process DuckDB's lock error names."""
    m = re.search(r"Conflicting lock is held in (.*?) \(PID (\d+)\)", message)
    if not m:
        return None, None
    pid = int(m.group(2))
    return pid, _command_of(pid) or m.group(1)


def _read_sidecar(path: str) -> dict[str, Any] | None:
    p = sidecar_path(path)
    try:
        info = json.loads(p.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def open_store(path: str, *, read_only: bool = False) -> Store:
    """The store of workspace file ``path`` (created when missing), migrated to the current schema."""
    from cxlens.schema.migrations import migrate

    if path != ":memory:":
        parent = Path(path).expanduser().resolve().parent
        if not parent.exists():
            raise WorkspaceError(f"folder {str(parent)!r} for workspace {path!r} does not exist; create it first")
    try:
        con = duckdb.connect(path, read_only=read_only)
    except duckdb.IOException as e:
        message = str(e).splitlines()[0]
        if "lock" not in message.lower():
            raise WorkspaceError(f"cannot open workspace {path!r}: {message}") from None
        return _open_shared(path, message, read_only=read_only)
    except duckdb.Error as e:
        raise WorkspaceError(f"{path!r} is not a DuckDB workspace ({str(e).splitlines()[0]})") from None
    store = Store(con, path=path, read_only=read_only)
    try:
        if read_only:
            migrate(store.cursor(), path=path, read_only=True)
        else:
            with store.transaction() as cur:
                migrate(cur, path=path, read_only=False)
    except BaseException:
        store.close()
        raise
    return store


def _open_shared(path: str, message: str, *, read_only: bool) -> Store:
    pid, command = holder_of(message)
    info = _read_sidecar(path)
    if info is not None and _pid_alive(int(info.get("pid", -1))) and (pid is None or int(info["pid"]) == pid):
        try:
            con = RemoteConnection((info["host"], int(info["port"])), info["token"])
        except WorkspaceError:
            con = None
        if con is not None:
            return Store(con, path=path, read_only=read_only, remote=info)
    who = f"process {pid}" if pid is not None else "another process"
    if command:
        who += f" ({command})"
    raise WorkspaceError(
        f"workspace {path!r} is in use by {who}, which does not share it; stop it, or run "
        f"`cxlens --workspace {path} serve` (or `collect`) instead so that other processes can use the workspace "
        "at the same time"
    )


def share(store: Store) -> StoreServer:
    """Let other local processes use ``store``'s workspace: listen on loopback and leave the sidecar file.

    The sidecar (``<workspace>.server.json``, mode 0600) is removed when the server stops or the
    process exits.
    """
    if store.path in (None, ":memory:") or store.is_remote:
        raise WorkspaceError("only a workspace file opened by this process can be shared")
    token = secrets.token_urlsafe(32)
    server = StoreServer(store, token).start()
    store.shared = True  # other processes' work runs here too (e.g. imports leave the memory limit alone)
    side = sidecar_path(store.path)
    info = {
        "pid": os.getpid(),
        "command": " ".join(sys.argv) or sys.executable,
        "host": server.address[0],
        "port": server.address[1],
        "token": token,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "workspace": str(Path(store.path).resolve()),
    }
    tmp = side.with_name(side.name + f".{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        json.dump(info, f)
    os.replace(tmp, side)

    def unshare() -> None:
        store.shared = False
        with contextlib.suppress(Exception):
            server.stop()
        with contextlib.suppress(OSError):
            current = json.loads(side.read_text(encoding="utf-8"))
            if current.get("token") == token:
                side.unlink()

    atexit.register(unshare)
    store.on_close(unshare)
    return server
