"""The eNPS trend views on synthetic pulse answers (16 teams × 26 weeks, 4 roles, 6 locations, 16
managers; a few respondents per team and week, often fewer than ``min_group``): CPU per view.

Every view (period week, month, quarter × by none, team, role, location, manager_id: 15) is asked twice
on one workspace handle: the first pass pays for the suppression plans (margins, then the check of
everything published at once), the second shows what a dashboard pays once they are kept per data
version. CPU seconds of this process (``time.process_time``) are the figure to compare; wall seconds
are printed beside them.

Run from a clone: ``PYTHONPATH=src python -m benchmarks.engagement_trend`` (works on older sources too,
for an A/B: it uses only ``ws.engagement.import_employees``, ``import_pulse`` and ``trend``).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

VIEWS = list(itertools.product(("week", "month", "quarter"), (None, "team", "role", "location", "manager_id")))


def bench_trend(teams: int = 16, weeks: int = 26, seed: int = 7) -> dict[str, Any]:
    import numpy as np
    import pandas as pd

    import cxlens

    rng = np.random.default_rng(seed)
    emp, pulse = [], []
    start = pd.Timestamp("2026-01-05")
    for t in range(teams):
        for w in range(weeks):
            for i in range(int(rng.choice([0, 1, 2, 3, 4, 6, 9]))):
                eid = f"e{t}-{w}-{i}"
                emp.append({"employee_id": eid, "team": f"team-{t:02d}", "role": f"role-{int(rng.integers(4))}",
                            "location": f"loc-{int(rng.integers(6))}", "manager_id": f"m{t:02d}"})  # fmt: skip
                day = (start + pd.Timedelta(days=7 * w + int(rng.integers(0, 7)))).date().isoformat()
                pulse += [{"employee_id": eid, "ts": day, "question": "enps", "score": int(rng.integers(0, 11))}]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        with cxlens.open(path) as ws:
            ws.engagement.import_employees(pd.DataFrame(emp))
            ws.engagement.import_pulse(pd.DataFrame(pulse))
            out: dict[str, Any] = {"respondents": len(emp), "views": len(VIEWS)}
            # imports (scipy) and DuckDB warm-up, like a running server; not the summary, which (since the
            # plan is joint across dimensions) computes the suppression plan the first pass is to measure
            import scipy.optimize  # noqa: F401
            import scipy.stats  # noqa: F401

            ws.sql("SELECT count(*) FROM pulse_answers")
            for name in ("first pass", "second pass"):
                c0, t0 = time.process_time(), time.perf_counter()
                hidden = 0
                for period, by in VIEWS:
                    hidden += int(ws.engagement.trend(period, by)["suppressed"].astype(bool).sum())
                out[name] = {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0, "hidden": hidden}
    return out


def main() -> None:
    import os

    res = bench_trend()
    load = os.getloadavg()
    print(f"engagement trends: {res['respondents']} respondents, {res['views']} views; load average {load[0]:.2f}")
    for name in ("first pass", "second pass"):
        r = res[name]
        print(f"  {name}: CPU {r['cpu_s']:.2f} s ({1000 * r['cpu_s'] / res['views']:.0f} ms/view), "
              f"wall {r['wall_s']:.2f} s, rows hidden {r['hidden']}")  # fmt: skip


if __name__ == "__main__":
    main()
