"""Benchmarks: each times cxlens side by side with its baseline in one run and prints the ratio.

They ship with the source repository, not the ``cxlens`` package; ``cxlens bench …`` runs them
from a clone (see README, *Benchmarks*).
"""

import time
from collections.abc import Callable
from typing import Any

#: runs of each side of an engine benchmark: the first carries one-time costs (modules imported on
#: first use, DuckDB's cold caches) for both sides alike; the ratio is taken on the best run, as
#: ``timeit`` does, and the first run is printed beside it
REPEAT = 3


def timed(fn: Callable[[], Any], repeat: int = REPEAT) -> tuple[Any, float, float, float]:
    """``(first result, first wall s, best wall s, CPU s of the best run)`` of ``repeat`` calls."""
    out, first, best, best_cpu = None, 0.0, float("inf"), 0.0
    for i in range(max(1, repeat)):
        c0, t0 = time.process_time(), time.perf_counter()
        res = fn()
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        if i == 0:
            out, first = res, wall
        if wall < best:
            best, best_cpu = wall, cpu
    return out, first, best, best_cpu
