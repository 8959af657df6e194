"""A real uvicorn collection server in a thread, over a hub the test can inspect."""

from __future__ import annotations

import socket
import threading
import time

import pytest
import uvicorn

from cxlens.collect import close_collectors
from cxlens.web.hub import WorkspaceHub


class LiveServer:
    def __init__(self, app, hub: WorkspaceHub):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.hub = hub
        self.server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 30
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                pytest.fail("uvicorn did not start within 30 s")
            time.sleep(0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        for name in self.hub.names:
            close_collectors(self.hub.get(name))


@pytest.fixture()
def live(tmp_path):
    """(server, hub, write key) over one fresh workspace named 'shop', dashboard app included."""
    from cxlens.web.app import create_app

    hub = WorkspaceHub.open({"shop": tmp_path / "shop.duckdb"})
    _, key = hub.create_key("shop", "write")
    with LiveServer(create_app(hub), hub) as srv:
        yield srv, hub, key
    hub.close()
