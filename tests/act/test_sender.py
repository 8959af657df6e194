"""The webhook sender's kept-alive connections (deliver._post over http.client): reused while the receiver
keeps them, replaced when it closed one meanwhile, never followed to a redirect; every send arrives once."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import cxlens
from cxlens.act import deliver


def _receiver(close_after_each: bool = False):  # noqa: ANN202
    seen: list[tuple[str, int, str | None]] = []  # (path, client port, authorization)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self) -> None:  # noqa: N802
            self.rfile.read(int(self.headers.get("content-length", 0)))
            seen.append((self.path, self.client_address[1], self.headers.get("authorization")))
            self.send_response(302 if self.path == "/moved" else 200)
            if self.path == "/moved":
                self.send_header("location", "http://127.0.0.1:1/elsewhere")
            self.send_header("content-length", "0")
            self.end_headers()
            if close_after_each:  # an idle keep-alive connection the receiver drops (its timeout ran out)
                self.close_connection = True

        def log_message(self, *args) -> None:  # noqa: ANN002
            pass

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv, seen


@pytest.fixture
def ws():
    w = cxlens.open(":memory:")
    w.act.allow_host("127.0.0.1", private=True)
    yield w
    w.close()


def test_a_kept_connection_is_reused_and_a_dropped_one_replaced(ws) -> None:
    srv, seen = _receiver()
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        assert [deliver._post(ws, f"{url}/a", b"{}", {}, 5.0) for _ in range(3)] == [200, 200, 200]
        assert len({port for _, port, _ in seen}) == 1  # one connection for the three sends
        # a redirect is an error, never followed
        with pytest.raises(deliver.DeliveryError, match="answered 302"):
            deliver._post(ws, f"{url}/moved", b"{}", {}, 5.0)
        assert [p for p, _, _ in seen] == ["/a", "/a", "/a", "/moved"]
        # credentials in the URL go as basic auth, not in the request line
        deliver._post(ws, f"http://u%40x:pw@127.0.0.1:{srv.server_address[1]}/b", b"{}", {}, 5.0)
        assert seen[-1][0] == "/b" and seen[-1][2] == "Basic dUB4OnB3"
    finally:
        srv.shutdown()
        srv.server_close()


def test_a_receiver_closing_each_connection_still_gets_every_send_once(ws) -> None:
    srv, seen = _receiver(close_after_each=True)
    url = f"http://127.0.0.1:{srv.server_address[1]}"
    try:
        for i in range(4):
            assert deliver._post(ws, f"{url}/n{i}", b"{}", {"webhook-id": f"d{i}"}, 5.0) == 200
        assert [p for p, _, _ in seen] == ["/n0", "/n1", "/n2", "/n3"]
    finally:
        srv.shutdown()
        srv.server_close()
    with pytest.raises(deliver.DeliveryError, match="sending to 127.0.0.1 failed: ConnectionRefusedError"):
        deliver._post(ws, f"{url}/gone", b"{}", {}, 2.0)


def test_the_servers_main_runner_leaves_alert_deliveries_to_the_pump(tmp_path) -> None:
    from cxlens.jobs import JobRunner
    from cxlens.jobs.runner import REGISTRY
    from cxlens.web.hub import WorkspaceHub

    ws = cxlens.open(tmp_path / "w.duckdb")
    hub = WorkspaceHub({"w": ws}, owned=True)
    runners = hub.start_jobs()
    try:
        main = [r for r in runners if isinstance(r, JobRunner)]
        pumps = [r for r in runners if isinstance(r, deliver.DeliveryPump)]
        assert len(main) == 1 and len(pumps) == 1
        assert deliver.KIND in REGISTRY and main[0]._kinds() == sorted(set(REGISTRY) - {deliver.KIND})
    finally:
        for r in runners:
            r.stop()
        hub.close()


@pytest.fixture
def rebinding(monkeypatch):  # noqa: ANN201
    """A name whose first lookup answers a public address and every later one 127.0.0.1 (DNS rebinding), on
    a network where only loopback answers: any other address is refused at once, without leaving the box."""
    import socket

    real_lookup, real_connect = socket.getaddrinfo, socket.create_connection
    lookups: list[str] = []
    dialled: list[str] = []

    def lookup(host, port, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        if host != "rebind.example":
            return real_lookup(host, port, *args, **kwargs)
        lookups.append(host)
        ip = "93.184.216.34" if len(lookups) == 1 else "127.0.0.1"
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (ip, port or 0))]

    def dial(address, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        dialled.append(address[0])
        if address[0] not in ("127.0.0.1", "rebind.example"):
            raise ConnectionRefusedError(f"no route to {address[0]} in this test")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", lookup)
    monkeypatch.setattr(socket, "create_connection", dial)
    return lookups, dialled


def test_a_webhook_connects_to_the_address_that_was_checked_not_to_a_second_lookup(ws, rebinding) -> None:
    lookups, dialled = rebinding
    srv, seen = _receiver()
    ws.act.allow_host("rebind.example")  # public only, not --private
    try:
        with pytest.raises(deliver.DeliveryError, match="rebind.example failed: ConnectionRefusedError"):
            deliver._post(ws, f"http://rebind.example:{srv.server_address[1]}/hook", b"{}", {}, 2.0)
        assert seen == []  # the loopback receiver the second lookup points at got nothing
        assert lookups == ["rebind.example"] and dialled == ["93.184.216.34"]
    finally:
        srv.shutdown()
        srv.server_close()


def test_an_email_connects_to_the_address_that_was_checked_not_to_a_second_lookup(ws, rebinding, smtp) -> None:
    lookups, dialled = rebinding
    ws.act.allow_host("rebind.example")
    before = len(smtp.messages)
    with pytest.raises(deliver.DeliveryError, match="through rebind.example:.* failed: ConnectionRefusedError"):
        deliver.send_email(ws, {"host": "rebind.example", "port": smtp.port}, ["cx@example.com"], "s", "t")
    assert len(smtp.messages) == before and lookups == ["rebind.example"] and dialled == ["93.184.216.34"]
    # the same SMTP server reached by its checked loopback address still gets mail
    ws.act.allow_host("localhost", private=True)
    assert deliver.send_email(ws, {"host": "localhost", "port": smtp.port}, ["cx@example.com"], "s", "t") == 250
    assert len(smtp.messages) == before + 1
