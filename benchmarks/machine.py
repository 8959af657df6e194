"""A fixed workload timed beside every benchmark, so figures from different days can be compared.

The ratio goals compare cxlens with its baseline in one run, but absolute rates (events/s, seconds)
move with the machine: the same code has run 1.5–3× slower on one day's VM than on another's. Two
small, fixed pieces of work, timed with the benchmark, tell a reader how fast the machine was: a
pure-Python loop (the interpreter: parsers, request handling) and a NumPy sort (one core's memory
and arithmetic: the engines' scans and sorts). Each takes the best of a few runs, as ``timeit`` does.
"""

from __future__ import annotations

import time

import numpy as np

#: loop steps of the pure-Python workload and int64 values of the NumPy sort
PYTHON_STEPS = 1_000_000
SORT_VALUES = 2_000_000


def _python_loop(steps: int) -> int:
    table = {i: i * 7 for i in range(1024)}
    total = 0
    for i in range(steps):
        total += table[i & 1023]
    return total


def calibration(repeat: int = 3) -> dict[str, float]:
    """``machine_python_ns_per_step`` and ``machine_numpy_sort_ms``: best of ``repeat`` runs each.

    Lower is faster. They are timed after the benchmark, on the same machine, so a busy machine shows
    in them too (with the load average most benchmarks print).
    """
    values = np.random.default_rng(0).integers(0, 2**62, SORT_VALUES, dtype=np.int64)
    py, srt = float("inf"), float("inf")
    for _ in range(max(1, repeat)):
        t0 = time.perf_counter()
        _python_loop(PYTHON_STEPS)
        py = min(py, time.perf_counter() - t0)
        t0 = time.perf_counter()
        np.sort(values)
        srt = min(srt, time.perf_counter() - t0)
    return {
        "machine_python_ns_per_step": round(py / PYTHON_STEPS * 1e9, 1),
        "machine_numpy_sort_ms": round(srt * 1e3, 1),
    }
