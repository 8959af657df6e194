"""Sharing a workspace between processes: a small wire protocol for the DuckDB cursor.

DuckDB lets one process write a database file. A process serving a workspace (``cxlens serve``,
``cxlens collect``) therefore *shares* it (:class:`StoreServer`): it listens on a loopback port,
and another process — the CLI, a notebook's ``cxlens.open(path)``, a second server — connects with
the token from the sidecar file (:mod:`cxlens.store.share`) and gets a :class:`RemoteConnection`
that behaves like the DuckDB connection the :class:`~cxlens.store.Store` would otherwise open. Every
statement runs in the serving process, on a cursor of its own per client cursor, so results are
those of a direct open by construction.

Wire format: each message is a 4-byte big-endian length and a JSON header, optionally followed by
a length-prefixed Arrow IPC stream (query results, registered tables). Parameters keep their
types (timestamps, dates, decimals, bytes) through a tagged JSON encoding.

A client's ``begin()`` takes the server's write lock (writes run one at a time across processes
too); a client that disconnects or stays silent for :data:`TXN_IDLE_TIMEOUT` seconds inside a
transaction is rolled back. Limits: a registered table or result travels whole (no streaming), so
very large reads are slower than in the serving process.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import decimal
import hmac
import json
import math
import socket
import socketserver
import struct
import threading
import uuid
from collections.abc import Sequence
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa

from cxlens.errors import CxlensError, WorkspaceError

__all__ = ["PROTOCOL", "RemoteConnection", "RemoteCursor", "StoreServer"]

PROTOCOL = 1
#: seconds a client may stay silent inside a transaction before the server rolls it back
TXN_IDLE_TIMEOUT = 120.0
_LEN = struct.Struct(">I")
_MAX_HEADER = 64 * 1024 * 1024


# -- encoding -----------------------------------------------------------------------------------
def _enc(v: Any) -> Any:
    if v is None or isinstance(v, bool | str):
        return v
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        f = float(v)
        return f if math.isfinite(f) else {"$t": "f", "v": repr(f)}
    if isinstance(v, pd.Timestamp):
        return None if pd.isna(v) else _enc(v.to_pydatetime())
    if isinstance(v, dt.datetime):
        return {"$t": "dt", "v": v.isoformat()}
    if isinstance(v, dt.date):
        return {"$t": "d", "v": v.isoformat()}
    if isinstance(v, dt.time):
        return {"$t": "tm", "v": v.isoformat()}
    if isinstance(v, dt.timedelta):
        return {"$t": "td", "v": v.total_seconds()}
    if isinstance(v, decimal.Decimal):
        return {"$t": "dec", "v": str(v)}
    if isinstance(v, bytes | bytearray | memoryview):
        return {"$t": "b", "v": base64.b64encode(bytes(v)).decode("ascii")}
    if isinstance(v, uuid.UUID):
        return {"$t": "uuid", "v": str(v)}
    if isinstance(v, list | tuple | np.ndarray):
        return [_enc(x) for x in v]
    if isinstance(v, dict):
        return {"$t": "map", "v": [[_enc(k), _enc(x)] for k, x in v.items()]}
    if v is pd.NaT or v is pd.NA:
        return None
    raise TypeError(f"cannot send a query parameter of type {type(v).__name__} to the serving process")


def _dec(v: Any) -> Any:
    if isinstance(v, list):
        return [_dec(x) for x in v]
    if not isinstance(v, dict):
        return v
    t, x = v.get("$t"), v.get("v")
    if t == "dt":
        return dt.datetime.fromisoformat(x)
    if t == "d":
        return dt.date.fromisoformat(x)
    if t == "tm":
        return dt.time.fromisoformat(x)
    if t == "td":
        return dt.timedelta(seconds=x)
    if t == "dec":
        return decimal.Decimal(x)
    if t == "b":
        return base64.b64decode(x)
    if t == "uuid":
        return uuid.UUID(x)
    if t == "f":
        return float(x)
    if t == "map":
        return {_dec(k): _dec(val) for k, val in x}
    raise ValueError(f"unknown parameter tag {t!r}")


def _arrow_bytes(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def _arrow_table(data: bytes) -> pa.Table:
    return pa.ipc.open_stream(pa.py_buffer(data)).read_all()


def _as_arrow(obj: Any) -> pa.Table:
    """A table to register, as Arrow (DataFrames, Arrow tables, datasets, record batch readers)."""
    if isinstance(obj, pa.Table):
        return obj
    if isinstance(obj, pd.DataFrame):
        return pa.Table.from_pandas(obj, preserve_index=False)
    if isinstance(obj, pa.RecordBatchReader):
        return obj.read_all()
    if hasattr(obj, "to_table"):  # pyarrow.dataset.Dataset
        return obj.to_table()
    if isinstance(obj, pa.RecordBatch):
        return pa.Table.from_batches([obj])
    raise TypeError(f"cannot register a {type(obj).__name__} with the serving process; pass a DataFrame or Arrow table")


def _send(sock: socket.socket, header: dict[str, Any], blob: bytes | None = None) -> None:
    if blob is not None:
        header = {**header, "blob": len(blob)}
    head = json.dumps(header, allow_nan=True).encode("utf-8")
    parts = [_LEN.pack(len(head)), head]
    if blob is not None:
        parts.append(blob)
    sock.sendall(b"".join(parts))


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    buf = bytearray()
    while len(buf) < n:
        chunk = sock.recv(min(n - len(buf), 1 << 20))
        if not chunk:
            raise ConnectionError("the other process closed the connection")
        buf += chunk
    return bytes(buf)


def _recv(sock: socket.socket) -> tuple[dict[str, Any], bytes | None]:
    (n,) = _LEN.unpack(_recv_exact(sock, 4))
    if n > _MAX_HEADER:
        raise ConnectionError("message header too large")
    header = json.loads(_recv_exact(sock, n))
    blob = _recv_exact(sock, header["blob"]) if "blob" in header else None
    return header, blob


# -- client ---------------------------------------------------------------------------------------
class _Result:
    """A fetched result with the DuckDB cursor/relation methods cxlens and Ibis use."""

    def __init__(self, table: pa.Table | None):
        self._table = table if table is not None else pa.table({})
        self._pos = 0

    @property
    def description(self) -> list[tuple]:
        return [(f.name, str(f.type), None, None, None, None, None) for f in self._table.schema]

    @property
    def columns(self) -> list[str]:
        return list(self._table.column_names)

    def _rows(self) -> list[tuple]:
        cols = [c.to_pylist() for c in self._table.columns]
        return list(zip(*cols, strict=True)) if cols else []

    def fetchall(self) -> list[tuple]:
        rows = self._rows()[self._pos :]
        self._pos += len(rows)
        return rows

    def fetchone(self) -> tuple | None:
        if self._pos >= self._table.num_rows:
            return None
        row = tuple(c[self._pos].as_py() for c in self._table.columns)
        self._pos += 1
        return row

    def fetchmany(self, size: int = 1) -> list[tuple]:
        rows = self._rows()[self._pos : self._pos + size]
        self._pos += len(rows)
        return rows

    def to_arrow_table(self) -> pa.Table:
        return self._table

    fetch_arrow_table = arrow = to_arrow_table

    def fetchdf(self) -> pd.DataFrame:
        return self._table.to_pandas()

    df = fetch_df = fetchdf

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        return {
            n: c.to_numpy(zero_copy_only=False)
            for n, c in zip(self._table.column_names, self._table.columns, strict=True)
        }

    def fetch_record_batch(self, rows_per_batch: int = 1_000_000) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(
            self._table.schema, self._table.to_batches(max_chunksize=rows_per_batch)
        )

    to_arrow_reader = fetch_record_batch


class RemoteCursor:
    """One session in the serving process: the DuckDB cursor API, sent over a socket."""

    def __init__(self, address: tuple[str, int], token: str):
        self._address = address
        self._token = token
        self._lock = threading.Lock()
        self._result = _Result(None)
        self._closed = False
        try:
            self._sock = socket.create_connection(address, timeout=10)
        except OSError as e:
            raise WorkspaceError(
                f"cannot reach the cxlens server sharing this workspace at {address[0]}:{address[1]} ({e}); "
                "is it still running?"
            ) from None
        self._sock.settimeout(None)
        self._sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._call({"op": "hello", "token": token, "protocol": PROTOCOL})

    def _call(self, header: dict[str, Any], blob: bytes | None = None) -> tuple[dict[str, Any], bytes | None]:
        with self._lock:
            if self._closed:
                raise WorkspaceError("this connection to the serving process is closed")
            try:
                _send(self._sock, header, blob)
                reply, data = _recv(self._sock)
            except (OSError, ConnectionError) as e:
                self._closed = True
                raise WorkspaceError(f"lost the connection to the cxlens server sharing this workspace ({e})") from None
        if not reply.get("ok"):
            raise _error(reply)
        return reply, data

    # connection API
    def cursor(self) -> RemoteCursor:
        return RemoteCursor(self._address, self._token)

    def execute(self, sql: Any, parameters: Sequence[Any] | None = None) -> RemoteCursor:
        _, data = self._call({"op": "execute", "sql": str(sql), "params": _enc(list(parameters or []))})
        self._result = _Result(_arrow_table(data) if data is not None else None)
        return self

    def executemany(self, sql: str, parameters: Sequence[Sequence[Any]] = ()) -> RemoteCursor:
        self._call({"op": "executemany", "sql": sql, "params": _enc([list(p) for p in parameters])})
        self._result = _Result(None)
        return self

    def sql(self, query: Any) -> _Result:
        self.execute(query)
        return self._result

    query = sql

    def register(self, name: str, obj: Any) -> RemoteCursor:
        self._call({"op": "register", "name": name}, _arrow_bytes(_as_arrow(obj)))
        return self

    def unregister(self, name: str) -> RemoteCursor:
        self._call({"op": "unregister", "name": name})
        return self

    def remove_function(self, name: str) -> RemoteCursor:
        # a remote session never creates functions, so there is none to remove (Ibis calls this for
        # builtin UDFs and ignores this error, as DuckDB raises it for an unknown function)
        raise duckdb.InvalidInputException(f"No function by the name of '{name}' exists")

    def create_function(self, name: str, *args: Any, **kwargs: Any) -> RemoteCursor:
        raise WorkspaceError(
            f"a Python function ({name!r}) cannot run inside the process that shares this workspace; "
            "stop the server and open the workspace directly"
        )

    def begin(self) -> RemoteCursor:
        self._call({"op": "begin"})
        return self

    def commit(self) -> RemoteCursor:
        self._call({"op": "commit"})
        return self

    def rollback(self) -> RemoteCursor:
        self._call({"op": "rollback"})
        return self

    def close(self) -> None:
        if self._closed:
            return
        with contextlib.suppress(Exception):
            self._call({"op": "close"})
        self._closed = True
        with contextlib.suppress(OSError):
            self._sock.close()

    # result API (DuckDB cursors hold their last result)
    @property
    def description(self) -> list[tuple]:
        return self._result.description

    def fetchall(self) -> list[tuple]:
        return self._result.fetchall()

    def fetchone(self) -> tuple | None:
        return self._result.fetchone()

    def fetchmany(self, size: int = 1) -> list[tuple]:
        return self._result.fetchmany(size)

    def fetchdf(self) -> pd.DataFrame:
        return self._result.fetchdf()

    df = fetch_df = fetchdf

    def to_arrow_table(self) -> pa.Table:
        return self._result.to_arrow_table()

    fetch_arrow_table = arrow = to_arrow_table

    def fetchnumpy(self) -> dict[str, np.ndarray]:
        return self._result.fetchnumpy()

    def fetch_record_batch(self, rows_per_batch: int = 1_000_000) -> pa.RecordBatchReader:
        return self._result.fetch_record_batch(rows_per_batch)


class RemoteConnection(RemoteCursor):
    """The root connection to a serving process (a cursor itself, as a DuckDB connection is)."""


def _error(reply: dict[str, Any]) -> BaseException:
    module, kind, message = reply.get("module"), reply.get("kind", "Error"), reply.get("message", "")
    if module == "duckdb":
        cls = getattr(duckdb, kind, None)
        if isinstance(cls, type) and issubclass(cls, duckdb.Error):
            return cls(message)
        return duckdb.Error(message)
    if module == "cxlens":
        import cxlens.errors as errors

        cls = getattr(errors, kind, None)
        if isinstance(cls, type) and issubclass(cls, CxlensError):
            try:
                return cls(message)
            except TypeError:
                return WorkspaceError(message)
    return WorkspaceError(f"the serving process failed: {message}")


# -- server ---------------------------------------------------------------------------------------
class _Handler(socketserver.BaseRequestHandler):
    server: _TCPServer

    def handle(self) -> None:
        sock: socket.socket = self.request
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.settimeout(10)
        store = self.server.store
        try:
            header, _ = _recv(sock)
        except (OSError, ConnectionError, ValueError):
            return
        if header.get("op") != "hello" or not hmac.compare_digest(
            str(header.get("token", "")).encode(), self.server.token.encode()
        ):
            with contextlib.suppress(OSError):
                _send(sock, {"ok": False, "module": "cxlens", "kind": "AuthError", "message": "bad sharing token"})
            return
        if header.get("protocol") != PROTOCOL:
            with contextlib.suppress(OSError):
                _send(sock, {"ok": False, "module": "cxlens", "kind": "WorkspaceError",
                             "message": f"protocol {header.get('protocol')} is not {PROTOCOL}; use the same cxlens version"})  # fmt: skip
            return
        _send(sock, {"ok": True, "path": store.path})
        cur = store.new_cursor()
        in_txn = False
        try:
            while True:
                sock.settimeout(TXN_IDLE_TIMEOUT if in_txn else None)
                try:
                    header, blob = _recv(sock)
                except (OSError, ConnectionError, ValueError):
                    return
                op = header.get("op")
                if op == "close":
                    _send(sock, {"ok": True})
                    return
                try:
                    reply, data = {"ok": True}, None
                    if op == "execute":
                        res = cur.execute(header["sql"], _dec(header.get("params") or []))
                        data = _arrow_bytes(res.to_arrow_table()) if res.description is not None else None
                    elif op == "executemany":
                        cur.executemany(header["sql"], _dec(header.get("params") or []))
                    elif op == "register":
                        cur.register(header["name"], _arrow_table(blob or b""))
                    elif op == "unregister":
                        cur.unregister(header["name"])
                    elif op == "begin":
                        store._write_lock.acquire()
                        try:
                            cur.begin()
                        except BaseException:
                            store._write_lock.release()
                            raise
                        in_txn = True
                    elif op in ("commit", "rollback"):
                        try:
                            cur.commit() if op == "commit" else cur.rollback()
                        finally:
                            if in_txn:
                                in_txn = False
                                store._write_lock.release()
                    else:
                        raise ValueError(f"unknown operation {op!r}")
                    if op == "commit" or (op in ("execute", "executemany") and not in_txn):
                        store.memo_forget()  # a write, perhaps: values cached by this process are read again
                except Exception as e:  # sent back to the client, which raises it
                    mod = "duckdb" if isinstance(e, duckdb.Error) else "cxlens" if isinstance(e, CxlensError) else ""
                    reply = {"ok": False, "module": mod, "kind": type(e).__name__, "message": str(e)}
                    data = None
                _send(sock, reply, data)
        finally:
            if in_txn:
                with contextlib.suppress(Exception):
                    cur.rollback()
                store._write_lock.release()
            with contextlib.suppress(Exception):
                cur.close()


class _TCPServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    store: Any
    token: str


class StoreServer:
    """Serve a :class:`~cxlens.store.Store` to other local processes (loopback only, token required)."""

    def __init__(self, store: Any, token: str, *, host: str = "127.0.0.1", port: int = 0):
        if host not in ("127.0.0.1", "::1", "localhost"):
            raise WorkspaceError(f"a workspace is shared on the loopback interface only, not {host!r}")
        self._server = _TCPServer((host, port), _Handler)
        self._server.store = store
        self._server.token = token
        self.address: tuple[str, int] = self._server.server_address[:2]
        self._thread = threading.Thread(target=self._server.serve_forever, name="cxlens-share", daemon=True)

    def start(self) -> StoreServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
