"""Every ``cxlens bench`` prints the machine's calibration figures beside its own."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from benchmarks.machine import calibration

ROOT = Path(__file__).resolve().parents[1]


def test_calibration_times_both_workloads():
    got = calibration(repeat=1)
    assert set(got) == {"machine_python_ns_per_step", "machine_numpy_sort_ms"}
    assert all(v > 0 for v in got.values())


def test_bench_through_the_cli_prints_the_calibration_rows():
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src") + os.pathsep + os.environ.get("PYTHONPATH", "")}
    res = subprocess.run(
        [sys.executable, "-m", "cxlens", "bench", "journey-map", "--events", "20000", "--customers", "2000", "--repeat", "1"],
        capture_output=True, text=True, env=env, timeout=300, cwd=ROOT,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr
    rows = dict(line.split(None, 1) for line in res.stdout.splitlines() if line.startswith("machine_"))
    assert set(rows) == {"machine_python_ns_per_step", "machine_numpy_sort_ms"}
    assert all(float(v) > 0 for v in rows.values())
    assert "ratio" in res.stdout  # the benchmark's own figures are still there
