"""``python -m benchmarks.collect phase``: one bench phase against a fresh real server, from this checkout's
``src`` or another one's (``--server-src``), for back-to-back A/Bs of the server's CPU an event."""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest
from benchmarks.collect import (
    SENT_AT,
    BatchBodies,
    _behaviour_message,
    _children,
    _cpu_seconds,
    _message,
    _thread_cpu_seconds,
)

ROOT = Path(__file__).resolve().parents[2]


def test_one_phase_counts_what_it_stored_and_runs_the_server_it_is_given(tmp_path):
    # a server src that cannot start proves --server-src is the one run (not this checkout's)
    broken = tmp_path / "src" / "cxlens"
    broken.mkdir(parents=True)
    (broken / "__init__.py").write_text("raise SystemExit('not this cxlens')\n")
    env = {**os.environ, "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}"}
    cmd = [sys.executable, "-m", "benchmarks.collect", "phase", "behaviour", "--seconds", "1"]
    bad = subprocess.run([*cmd, "--server-src", str(tmp_path / "src")], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)  # fmt: skip
    assert bad.returncode != 0 and "not this cxlens" in bad.stderr
    ok = subprocess.run([*cmd, "--server-src", str(ROOT / "src")], cwd=ROOT, env=env, capture_output=True, text=True,
                        timeout=120, check=True)  # fmt: skip
    res = json.loads(ok.stdout)
    assert res["phase"] == "behaviour" and res["errors"] == {}
    assert res["acknowledged events"] > 0 and res["rows on disk after restart"] == res["acknowledged events"]
    assert res["server CPU µs per event"] > 0 and res["events/s"] > 0


@pytest.mark.parametrize("mode", ["behaviour", "batch"])
@pytest.mark.parametrize("run", ["h", 'a-%d"\\é\u2028'])
def test_template_bodies_are_the_bytes_of_the_messages_serialised(mode, run):
    # the load generator's templates must send exactly what serialising each message's dict sends
    make = (lambda i: _behaviour_message(i, run)) if mode == "behaviour" else (lambda i: _message(i, run, "track"))
    bodies = BatchBodies(mode, run)
    rng = random.Random(12)
    for ids in (
        list(range(500)),
        [0],
        list(range(10**9 - 3, 10**9 + 97)),
        list(range(123_457, 140_000, 37)),
        [rng.randrange(10**12) for _ in range(300)],
    ):
        assert bodies.body(ids) == orjson.dumps({"batch": [make(i) for i in ids], "sentAt": SENT_AT})


def test_template_bodies_refuse_other_modes():
    with pytest.raises(ValueError, match="no batch bodies for mode 'single'"):
        BatchBodies("single", "s")


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux /proc")
def test_server_cpu_counts_the_cpu_of_its_worker_processes():
    # a parent that idles while its child burns CPU, as the server does while a parse worker parses
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.6: pass\ntime.sleep(30)"
    parent = subprocess.Popen(
        [sys.executable, "-c", f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {burn!r}])\n"
         "time.sleep(30)"]
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _cpu_seconds(parent.pid) < 0.6:
            time.sleep(0.1)
        own = _own_cpu(parent.pid)
        assert own < 0.3  # the parent itself did little
        assert _cpu_seconds(parent.pid) >= 0.6  # its child's burn is counted
    finally:
        for child in _children(parent.pid):
            os.kill(child, signal.SIGKILL)
        parent.kill()
        parent.wait()


def _own_cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="Linux /proc")
def test_event_loop_cpu_is_the_main_threads_alone():
    # a process whose main thread sleeps while a second thread burns CPU, as the writer does while the
    # event loop idles: the main thread's figure stays small, the process's counts the burn
    burn = ("import threading, time\n"
            "def burn():\n    t = time.thread_time()\n    while time.thread_time() - t < 0.6: pass\n"
            "threading.Thread(target=burn).start()\ntime.sleep(30)")  # fmt: skip
    proc = subprocess.Popen([sys.executable, "-c", burn])
    try:
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and _cpu_seconds(proc.pid) < 0.6:
            time.sleep(0.1)
        assert _cpu_seconds(proc.pid) >= 0.6
        assert _thread_cpu_seconds(proc.pid, proc.pid) < 0.3
        assert _thread_cpu_seconds(proc.pid, 1 << 30) != _thread_cpu_seconds(proc.pid, 1 << 30)  # NaN: no thread
    finally:
        proc.kill()
        proc.wait()
