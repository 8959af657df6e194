"""``python -m benchmarks.collect phase``: one bench phase against a fresh real server, from this checkout's
``src`` or another one's (``--server-src``), for back-to-back A/Bs of the server's CPU an event."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from benchmarks.collect import SENT_AT, BatchBodies, _behaviour_message, _message

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
