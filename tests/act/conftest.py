"""Real local receivers for the act tests: an HTTP server recording every request (with scripted
failures per path), an SMTP server (aiosmtpd), and a job runner delivering alerts."""

from __future__ import annotations

import base64
import contextlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pandas as pd
import pytest

import cxlens
from cxlens.act.deliver import delivery_runner

from ..conftest import free_port

SECRET = "whsec_" + base64.b64encode(b"a test secret of 32 bytes, fixed").decode()
RULES_EXAMPLE = """\
rules:
  - name: detractor-alert
    when: {feedback: {metric: nps, score: {max: 6}}}
    do:
      - webhook: {url: "https://hooks.example.com/cx", secret_env: CX_HOOK_SECRET}
      - case: {team: support, priority: high}
"""


@dataclass
class Hit:
    at: float
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Receiver:
    """An HTTP server on loopback. Paths starting ``/flaky`` answer 500 to their first request, ``/busy``
    429 with ``Retry-After: 3``; everything else 200 (``/zendesk``, ``/freshdesk``: 201)."""

    hits: list[Hit] = field(default_factory=list)
    seen: dict[str, int] = field(default_factory=dict)
    port: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def on(self, path: str) -> list[Hit]:
        with self.lock:
            return [h for h in self.hits if h.path == path]

    def status_for(self, path: str) -> tuple[int, dict[str, str]]:
        with self.lock:
            n = self.seen.get(path, 0)
            self.seen[path] = n + 1
        if path.startswith("/flaky") and n == 0:
            return 500, {}
        if path.startswith("/busy") and n == 0:
            return 429, {"Retry-After": "3"}
        if path.startswith(("/zendesk", "/freshdesk")):
            return 201, {}
        return 200, {}


def _handler(rec: Receiver) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            with rec.lock:
                rec.hits.append(Hit(time.monotonic(), "POST", self.path, {k.lower(): v for k, v in self.headers.items()},
                                    body))  # fmt: skip
            status, headers = rec.status_for(self.path)
            self.send_response(status)
            for k, v in headers.items():
                self.send_header(k, v)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    return Handler


@contextlib.contextmanager
def http_receiver(port: int | None = None):
    rec = Receiver()
    srv = ThreadingHTTPServer(("127.0.0.1", port or 0), _handler(rec))
    rec.port = srv.server_address[1]
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    try:
        yield rec
    finally:
        srv.shutdown()
        srv.server_close()


@pytest.fixture(scope="module")
def receiver():
    with http_receiver() as rec:
        yield rec


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802
        self.messages.append(envelope)
        return "250 OK"


@pytest.fixture(scope="module")
def smtp():
    from aiosmtpd.controller import Controller

    box = Mailbox()
    port = free_port()
    ctl = Controller(box, hostname="127.0.0.1", port=port)
    ctl.start()
    box.port = port  # type: ignore[attr-defined]
    yield box
    ctl.stop()


def cli(ws, *args, ok=True):
    """``cxlens --workspace WS …`` through the CLI; ``ok=False``: expect exit 1 and put the error on ``.message``."""
    from typer.testing import CliRunner

    from cxlens.cli import app

    r = CliRunner().invoke(app, ["--workspace", str(ws.path), *args], catch_exceptions=not ok)
    if ok:
        assert r.exit_code == 0, r.output
    else:
        assert r.exit_code == 1 and r.exception is not None
        r.message = str(r.exception)
    return r


def wait_for(fn: Any, timeout: float = 15.0, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        got = fn()
        if got is not None and (not hasattr(got, "__len__") or len(got)):
            return got
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def now() -> pd.Timestamp:
    return pd.Timestamp.now(tz="UTC").tz_localize(None)


def answer(ws: Any, customer: str | None, score: float, touchpoint: str, comment: str | None = None,
           metric: str = "nps") -> None:  # fmt: skip
    ws.load("feedback", pd.DataFrame([{"customer_id": customer, "ts": now(), "metric": metric, "score": score,
                                       "comment": comment, "touchpoint": touchpoint}]))  # fmt: skip


@pytest.fixture(scope="module")
def aws(tmp_path_factory, receiver, monkeypatch_module):
    """A workspace whose alerts go to the local receivers, with a job runner delivering them."""
    monkeypatch_module.setenv("CX_HOOK_SECRET", SECRET)
    monkeypatch_module.setenv("CXLENS_BASE_URL", "https://cx.example.com")
    path = tmp_path_factory.mktemp("act") / "act.duckdb"
    ws = cxlens.open(path)
    ws.share()  # the CLI runs beside it (docs/store.md)
    ws.act.allow_host("127.0.0.1", private=True)
    # the delivery pump `cxlens serve` runs (the job runner's act.deliver task is tested by the cases
    # and browser tests)
    runner = delivery_runner(ws, poll=0.05)
    yield ws
    runner.stop(timeout=5)
    ws.close()


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()
