"""Benchmark: importing a 200 MB / 2.7M-row feedback CSV end to end, time and peak memory.

Run ``cxlens bench import`` (or ``python -m benchmarks.imports [rows]``). The file is written by
:func:`write_feedback_csv` (seeded): ids, customer ids, ISO-8601 UTC times, NPS/CSAT/CES scores,
a comment on one row in four, touchpoint, channel and survey — about 74 bytes a row, like a survey
tool's export. Each step runs in a fresh process (``python -m cxlens … import``, exactly what a
user types) so that its peak resident memory is its own (``os.wait4``):

(a) ``first``: import into an empty workspace;
(b) ``again``: import the same file again (must add nothing, and take less time than the first);
(c) ``pandas``: the plain baseline, ``pandas.read_csv`` of the same file (parsing only: no
    validation, no database), for the same machine and load.

Rows per second are file rows over wall time, start-up included.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

TOUCHPOINTS = np.array(["homepage", "search", "product", "cart", "checkout", "delivery", "support_chat", "returns"])
CHANNELS = np.array(["web", "app", "email", "store", "phone"])
COMMENTS = np.array(["Fast delivery, great service", "Too slow", "Support was helpful", "Item arrived broken",
                     "Easy checkout", "Would not recommend"])  # fmt: skip


def write_feedback_csv(path: Path, rows: int, seed: int = 0) -> int:
    """A feedback export of ``rows`` rows; returns its size in bytes."""
    rng = np.random.default_rng(seed)
    code = rng.choice(3, rows, p=[0.5, 0.3, 0.2])
    metric = np.array(["nps", "csat", "ces"])[code]
    lo, hi = np.array([0, 1, 1])[code], np.array([10, 5, 7])[code]
    score = lo + (rng.random(rows) * (hi - lo + 1)).astype(int)
    secs = rng.integers(0, 540 * 86400, rows).astype("timedelta64[s]")
    ts = (np.datetime64("2024-01-01T00:00:00", "s") + secs).astype(str)
    comment = np.where(rng.random(rows) < 0.25, COMMENTS[rng.integers(0, len(COMMENTS), rows)], "")
    table = pa.table(
        {
            "feedback_id": pa.array(np.char.add("r", np.arange(rows).astype(str))),
            "customer_id": pa.array(np.char.add("c", rng.integers(0, rows // 4 + 1, rows).astype(str))),
            "ts": pa.array(np.char.add(ts, "Z")),
            "metric": pa.array(metric),
            "score": pa.array(score),
            "comment": pa.array(comment),
            "touchpoint": pa.array(TOUCHPOINTS[rng.integers(0, len(TOUCHPOINTS), rows)]),
            "channel": pa.array(CHANNELS[rng.integers(0, len(CHANNELS), rows)]),
            "survey_id": pa.array(np.char.add("s", rng.integers(0, 20, rows).astype(str))),
        }
    )
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return path.stat().st_size


# The child reports its own peak (VmHWM of its address space) at exit. ``ru_maxrss`` from wait4 is
# not used: Linux carries the parent's high-water mark into a child at exec, so every child looked
# as big as this process after it had written the file (1.9 GB for 2.7M rows, whatever the child did).
_PEAK = (
    "import atexit, os, runpy, sys\n"
    "def _peak():\n"
    "    with open('/proc/self/status') as f, open(os.environ['CXLENS_BENCH_PEAK'], 'w') as out:\n"
    "        out.write(next(line for line in f if line.startswith('VmHWM')).split()[1])\n"
    "atexit.register(_peak)\n"
)


def _python(code_or_module: str, *args: str, module: bool = False) -> list[str]:
    """A Python command that reports its peak memory: run ``module`` with ``args``, or ``code``."""
    if module:
        code = (
            f"sys.argv = [{code_or_module!r}, *sys.argv[1:]]; runpy.run_module({code_or_module!r}, run_name='__main__')"
        )
    else:
        code = code_or_module
    return [sys.executable, "-c", _PEAK + code, *args]


def _run(args: list[str], env: dict[str, str] | None = None) -> dict[str, Any]:
    """Run a command made by :func:`_python`; its wall time, peak resident memory (MB) and output."""
    with tempfile.NamedTemporaryFile(suffix=".peak", delete=False) as f:
        peak_file = Path(f.name)
    t0 = time.perf_counter()
    env = {**os.environ, "COLUMNS": "400", "CXLENS_BENCH_PEAK": str(peak_file), **(env or {})}
    proc = subprocess.run(args, capture_output=True, env=env, check=False)
    elapsed = time.perf_counter() - t0
    peak_kb = peak_file.read_text().strip()
    peak_file.unlink()
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(args[3:6])}… failed ({proc.returncode}): {proc.stderr.decode().strip()[-500:]}")
    return {
        "seconds": elapsed,
        "peak_mb": int(peak_kb) / 1024 if peak_kb else float("nan"),
        "out": proc.stdout.decode().strip(),
    }


def bench_import(rows: int = 2_700_000, seed: int = 0, keep: bool = False) -> dict[str, Any]:
    """Time and peak memory of a first import, a re-import and plain pandas parsing, side by side."""
    tmp = Path(tempfile.mkdtemp(prefix="cxlens-bench-import-"))
    csv = tmp / "feedback.csv"
    size = write_feedback_csv(csv, rows, seed)
    ws = tmp / "ws.duckdb"
    cmd = _python("cxlens", "--workspace", str(ws), "import", "feedback", str(csv), module=True)
    first = _run(cmd)
    again = _run(cmd)
    pandas = _run(_python(f"import pandas as pd; pd.read_csv({str(csv)!r}, dtype=str)"))
    res = {
        "rows": rows,
        "file_mb": round(size / 2**20, 1),
        "first_s": round(first["seconds"], 2),
        "first_rows_per_s": int(rows / first["seconds"]),
        "first_peak_mb": round(first["peak_mb"]),
        "again_s": round(again["seconds"], 2),
        "again_peak_mb": round(again["peak_mb"]),
        "again_faster_than_first": again["seconds"] < first["seconds"],
        "pandas_read_csv_s": round(pandas["seconds"], 2),
        "pandas_read_csv_peak_mb": round(pandas["peak_mb"]),
        "first_report": first["out"].splitlines()[-1] if first["out"] else "",
        "again_report": again["out"].splitlines()[-1] if again["out"] else "",
        "load_average": os.getloadavg()[0],
    }
    if not keep:
        for p in tmp.iterdir():
            p.unlink()
        tmp.rmdir()
    return res


if __name__ == "__main__":  # pragma: no cover
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 2_700_000
    for k, v in bench_import(n).items():
        print(f"{k}: {v}")
