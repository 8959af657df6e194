"""The CX scorecard views on the engagement demo (12 teams, 960 tickets): CPU per view.

Every view (agent and team × all time, week, month, quarter × the four windows, 32 in all) is asked
twice on one workspace handle: the first pass pays for the suppression plan (margins, then the check of
everything published at once), the second shows what a dashboard pays once the plan is kept per data
version. Then one view after a write (the plan is made again). CPU seconds of this process
(``time.process_time``) are the figure to compare; wall seconds are printed beside them.

Run from a clone: ``PYTHONPATH=src python -m benchmarks.engagement`` (works on older sources too, for
an A/B: it uses only ``ws.engagement.scorecard``).
"""

from __future__ import annotations

import itertools
import tempfile
import time
from pathlib import Path
from typing import Any

VIEWS = list(itertools.product(("agent", "team"), (None, "week", "month", "quarter"), (7, 14, 30, 90)))


def bench_engagement(teams: int = 12, tickets_per_team: int = 80) -> dict[str, Any]:
    import pandas as pd

    import cxlens
    from cxlens.engagement.demo import demo_engagement

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.duckdb"
        with cxlens.open(path) as ws:
            demo_engagement(ws.store, teams=teams, tickets_per_team=tickets_per_team)
            n = int(ws.store.rows("SELECT count(*) FROM tickets")[0][0])
            ws.engagement.scorecard("team")  # imports (scipy) and DuckDB warm-up, like a running server
            out: dict[str, Any] = {"tickets": n, "views": len(VIEWS)}
            for name in ("first pass", "second pass"):
                c0, t0 = time.process_time(), time.perf_counter()
                shown = 0
                for by, period, days in VIEWS:
                    df = ws.engagement.scorecard(by, period=period, days=days)
                    shown += int(df["tickets"].notna().sum())
                out[name] = {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0, "rows_shown": shown}
            extra = pd.DataFrame([{"ticket_id": "bench-extra", "customer_id": "bench-c", "team": "team-00",
                                   "agent": "team-00-e1", "created_at": pd.Timestamp("2026-01-20 10:00")}])  # fmt: skip
            ws.load("tickets", extra)
            c0, t0 = time.process_time(), time.perf_counter()
            ws.engagement.scorecard("agent", period="month")
            out["after a write"] = {"cpu_s": time.process_time() - c0, "wall_s": time.perf_counter() - t0}
    return out


def main() -> None:
    import os

    res = bench_engagement()
    load = os.getloadavg()
    print(f"engagement scorecards: {res['tickets']} tickets, {res['views']} views; load average {load[0]:.2f}")
    for name in ("first pass", "second pass"):
        r = res[name]
        print(f"  {name}: CPU {r['cpu_s']:.2f} s ({1000 * r['cpu_s'] / res['views']:.0f} ms/view), "
              f"wall {r['wall_s']:.2f} s, rows shown {r['rows_shown']}")  # fmt: skip
    r = res["after a write"]
    print(f"  one view after a write: CPU {r['cpu_s']:.2f} s, wall {r['wall_s']:.2f} s")


if __name__ == "__main__":
    main()
