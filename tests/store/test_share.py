"""A running `cxlens serve` shares its workspace: the README's CLI commands and `cxlens.open()` in
another process work beside it, with the results of a direct open once it has stopped."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

import cxlens
from cxlens.errors import WorkspaceError
from cxlens.ingest import write_demo
from cxlens.store import sidecar_path

PY = sys.executable
ENV = {**os.environ, "COLUMNS": "200"}


def cli(ws: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [PY, "-m", "cxlens", "--workspace", str(ws), *args],
        capture_output=True, text=True, input=stdin, env=ENV, timeout=300,
    )  # fmt: skip


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(ws: Path, port: int) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(
        [PY, "-m", "cxlens", "--workspace", str(ws), "serve", "--port", str(port)],
        env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"serve exited: {proc.stderr.read().decode()}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200 and sidecar_path(ws).exists():
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("serve did not start")


READ_COMMANDS = [
    ("metrics", "nps", "--by", "touchpoint", "--format", "json"),
    ("metrics", "csat", "--by", "stage", "--period", "month", "--format", "csv"),
    ("funnel", "visit>add_to_cart>checkout>purchase", "--window", "7d", "--by", "channel", "--format", "json"),
    ("paths", "--from", "checkout", "--format", "json"),
    ("journey", "map", "--format", "json"),
]


@pytest.fixture(scope="module")
def _demo(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("share") / "demo.duckdb"
    with cxlens.open(path) as w:
        write_demo(w, 600, seed=2)
        w.refresh()  # stored scores and text analysis are current: the server's jobs change nothing the reads show
    return path


@pytest.fixture()
def shared(_demo, tmp_path) -> Path:
    """A copy of the demo workspace per test (a closed workspace is one self-contained file)."""
    path = tmp_path / "demo.duckdb"
    shutil.copyfile(_demo, path)
    return path


def test_cli_and_open_beside_a_running_server_equal_a_direct_open(shared, tmp_path):
    port = _port()
    server = _serve(shared, port)
    try:
        side = json.loads(sidecar_path(shared).read_text())
        assert side["pid"] == server.pid and oct(sidecar_path(shared).stat().st_mode & 0o777) == "0o600"
        beside = {}
        for args in READ_COMMANDS:
            r = cli(shared, *args)
            assert r.returncode == 0, (args, r.stderr)
            beside[args] = r.stdout
        csv = tmp_path / "more.csv"
        csv.write_text(
            "feedback_id,ts,metric,score,touchpoint\nx1,2026-01-02,nps,10,checkout\nx2,2026-01-03,nps,2,checkout\n"
        )
        r = cli(shared, "import", "feedback", str(csv))
        assert r.returncode == 0 and "2 rows added" in r.stdout, r.stderr
        r = cli(shared, "users", "create", "ann@example.com", "--role", "admin", "--password-stdin",
                stdin="correct horse battery staple\n")  # fmt: skip
        assert r.returncode == 0, r.stderr
        # the server sees the new user at once: it leaves open mode
        assert httpx.get(f"http://127.0.0.1:{port}/api/v1/metrics/nps", timeout=10).status_code == 401
        key = cli(shared, "keys", "create", "--kind", "secret").stdout.strip()
        got = httpx.get(
            f"http://127.0.0.1:{port}/api/v1/metrics/nps", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        assert got.status_code == 200, got.text  # a key made by the CLI works on the running server
        code = (
            f"import cxlens, json; ws = cxlens.open({str(shared)!r}); "
            "print(json.dumps({'remote': ws.is_remote, 'nps': ws.metrics.nps()['nps'].iloc[0], "
            "'n': int(ws.metrics.nps()['n'].iloc[0]), 'rows': int(ws.sql('SELECT count(*) AS n FROM feedback')['n'][0])}))"
        )
        r = subprocess.run([PY, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
        assert r.returncode == 0, r.stderr
        nb = json.loads(r.stdout)
        assert nb["remote"] is True
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    assert not sidecar_path(shared).exists()  # removed when the server stops
    with cxlens.open(shared) as ws:
        assert not ws.is_remote
        assert ws.scalar("SELECT count(*) FROM feedback WHERE feedback_id IN ('x1', 'x2')") == 2
        assert nb["rows"] == ws.scalar("SELECT count(*) FROM feedback")
        assert nb["n"] == int(ws.metrics.nps()["n"].iloc[0]) and nb["nps"] == pytest.approx(ws.metrics.nps()["nps"][0])
        assert ws.scalar("SELECT count(*) FROM users") == 1
        # undo the import, then every read command prints exactly what it printed beside the server
        with ws.transaction(changes=["feedback"]) as cur:
            from cxlens.store import rollup

            cur.execute("CREATE TEMP TABLE gone AS SELECT * FROM feedback WHERE feedback_id IN ('x1', 'x2')")
            rollup.subtract(cur, "gone")
            cur.execute("DELETE FROM feedback WHERE feedback_id IN ('x1', 'x2')")
    for args in READ_COMMANDS:
        r = cli(shared, *args)
        assert r.stdout == beside[args], args


def test_a_workspace_held_without_sharing_names_its_holder(shared):
    holder = subprocess.Popen(
        [PY, "-c", f"import cxlens, time; ws = cxlens.open({str(shared)!r}); print('open', flush=True); time.sleep(60)"],
        stdout=subprocess.PIPE, text=True, env=ENV,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "open"
        r = cli(shared, "metrics", "nps")
        assert r.returncode == 1
        assert f"in use by process {holder.pid}" in r.stderr and "cxlens.open" in r.stderr, r.stderr
        assert "serve" in r.stderr and "Could not set lock" not in r.stderr
        with pytest.raises(WorkspaceError, match=f"process {holder.pid}"):
            cxlens.open(shared)
    finally:
        holder.kill()
        holder.wait()


def test_a_stale_sidecar_of_a_killed_server_is_ignored(shared):
    port = _port()
    server = _serve(shared, port)
    server.kill()  # SIGKILL: no clean-up, the sidecar stays
    server.wait()
    assert sidecar_path(shared).exists()
    with cxlens.open(shared) as ws:  # DuckDB's lock died with the process: a direct open
        assert not ws.is_remote and int(ws.metrics.nps()["n"].iloc[0]) > 0
