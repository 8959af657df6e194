"""The workspaces one server serves, by name, and the index of their API keys.

One workspace is one DuckDB file (hard tenant isolation). A :class:`WorkspaceHub` opens
several and answers "which workspace does this key belong to?" from an in-memory index, so
checking a key costs a dictionary lookup, not a query. Keys created or revoked through the hub
update the index at once.

>>> from cxlens.web.hub import WorkspaceHub
>>> hub = WorkspaceHub.open({"shop": ":memory:", "bank": ":memory:"})
>>> info, key = hub.create_key("shop", "write")
>>> name, ws, found = hub.resolve_key(key)
>>> name, found.key_id == info.key_id, hub.resolve_key(key + "x")
('shop', True, None)
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from cxlens.access import keys as _keys
from cxlens.access.keys import ApiKey
from cxlens.act.deliver import delivery_runner
from cxlens.act.trigger import KIND as DELIVERY_KIND
from cxlens.errors import ConfigError, NotFoundError
from cxlens.jobs import JobRunner
from cxlens.workspace import Workspace

__all__ = ["WATCHED", "WorkspaceHub", "workspace_name"]

#: tables whose changes by another process (the CLI beside a running server) the server must see at once
WATCHED = ("api_keys", "users")


def workspace_name(path: str | os.PathLike[str]) -> str:
    """The name a workspace file is served under: its file name without extension."""
    p = str(path)
    return "default" if p == ":memory:" else Path(p).stem


class WorkspaceHub:
    """Named workspaces and an index of their live keys (hash → workspace, key)."""

    def __init__(self, workspaces: Mapping[str, Workspace], *, owned: bool = False):
        if not workspaces:
            raise ConfigError("a server needs at least one workspace; pass --workspace FILE")
        for name in workspaces:
            if not name or not all(c.isalnum() or c in "-_." for c in name):
                raise ConfigError(f"workspace name {name!r} is not allowed; use letters, digits, '-', '_' or '.'")
        self._workspaces = dict(workspaces)
        self._owned = owned
        self._index_lock = threading.Lock()
        self._index: dict[str, tuple[str, ApiKey]] = {}
        self._versions: dict[str, dict[str, int]] = {}
        self._checked = 0.0
        self._reload_keys()

    def _reload_keys(self) -> None:
        index: dict[str, tuple[str, ApiKey]] = {}
        for name, ws in self._workspaces.items():
            if not ws.is_duckdb:
                continue
            self._versions[name] = ws.data_version(list(WATCHED))
            rows = ws.rows("SELECT key_hash, key_id FROM api_keys WHERE revoked_at IS NULL")
            by_id = {k.key_id: k for k in _keys.list_keys(ws, include_revoked=False)}
            for key_hash, key_id in rows:
                index[key_hash] = (name, by_id[key_id])
        with self._index_lock:
            self._index = index

    def refresh(self, *, max_age: float = 1.0) -> set[str]:
        """Catch up with changes made by other processes (a CLI beside the server): at most every
        ``max_age`` seconds, compare the data versions of keys and users; reload the key index when
        keys changed. Returns the watched tables that changed (``users`` → re-check open mode)."""
        now = time.monotonic()
        if now - self._checked < max_age:
            return set()
        self._checked = now
        changed: set[str] = set()
        for name, ws in self._workspaces.items():
            if not ws.is_duckdb:
                continue
            current = ws.data_version(list(WATCHED))
            old = self._versions.get(name, {})
            changed |= {t for t in WATCHED if current.get(t) != old.get(t)}
            self._versions[name] = current
        if "api_keys" in changed:
            self._reload_keys()
        return changed

    @classmethod
    def open(
        cls, paths: Mapping[str, str | os.PathLike[str]] | list[str | os.PathLike[str]], *, read_only: bool = False
    ) -> WorkspaceHub:
        """Open workspace files, named by a mapping or by their file names."""
        named = dict(paths) if isinstance(paths, Mapping) else {workspace_name(p): p for p in paths}
        if not isinstance(paths, Mapping) and len(named) != len(paths):
            raise ConfigError("two workspace files share a name; give them distinct file names")
        opened: dict[str, Workspace] = {}
        try:
            for name, p in named.items():
                opened[name] = Workspace.open(p, read_only=read_only)
        except Exception:
            for ws in opened.values():
                ws.close()
            raise
        return cls(opened, owned=True)

    # -- workspaces ---------------------------------------------------------------
    @property
    def names(self) -> list[str]:
        return list(self._workspaces)

    @property
    def default(self) -> str:
        """The first workspace's name (the one a single-workspace server serves)."""
        return next(iter(self._workspaces))

    def __len__(self) -> int:
        return len(self._workspaces)

    def __iter__(self) -> Iterator[str]:
        return iter(self._workspaces)

    def get(self, name: str) -> Workspace:
        try:
            return self._workspaces[name]
        except KeyError:
            raise NotFoundError(
                f"no workspace {name!r} on this server; expected one of {', '.join(self.names)}"
            ) from None

    def items(self) -> list[tuple[str, Workspace]]:
        return list(self._workspaces.items())

    def close(self) -> None:
        if self._owned:
            for ws in self._workspaces.values():
                ws.close()

    def start_jobs(self, **kwargs: Any) -> list[JobRunner]:
        """Start a job runner for every writable DuckDB workspace (see :mod:`cxlens.jobs`)."""
        runners = []
        for ws in self._workspaces.values():
            if ws.is_duckdb and not ws.read_only:
                # alerts never wait behind a model fit (cxlens.act): the delivery pump alone sends them (the
                # main runner's one-job-at-a-time path cost three transactions per delivery beside it)
                runners.append(JobRunner(ws, **{"exclude": [DELIVERY_KIND], **kwargs}).start())
                runners.append(delivery_runner(ws))
        return runners

    def share(self) -> list[str]:
        """Let other local processes use every workspace this server opened itself (see docs/store.md);
        returns the names shared. Workspaces reached through another server are already shared."""
        shared = []
        for name, ws in self._workspaces.items():
            if ws.path not in (None, ":memory:") and not ws.is_remote and ws.is_duckdb:
                ws.share()
                shared.append(name)
        return shared

    # -- keys ---------------------------------------------------------------------
    def resolve_key(self, plaintext: str) -> tuple[str, Workspace, ApiKey] | None:
        """(workspace name, workspace, key) for a live key, or None for an unknown or revoked one."""
        self.refresh()
        hit = self._index.get(_keys.hash_key(plaintext))
        if hit is None:
            return None
        name, info = hit
        return name, self._workspaces[name], info

    def create_key(
        self, name: str, kind: str, *, label: str | None = None, created_by: str | None = None
    ) -> tuple[ApiKey, str]:
        ws = self.get(name)
        info, plaintext = _keys.create_key(ws, kind, name=label, created_by=created_by)
        with self._index_lock:
            self._index[_keys.hash_key(plaintext)] = (name, info)
        return info, plaintext

    def revoke_key(self, name: str, key_id: str) -> ApiKey:
        info = _keys.revoke_key(self.get(name), key_id)
        with self._index_lock:
            for h, (n, k) in list(self._index.items()):
                if n == name and k.key_id == key_id:
                    del self._index[h]
        return info
