"""Shared links and digest charts: how long a digest takes with its 8-period KPI trend (against the
same digest without it, in the same run), its two PNG charts, and each shared view's page.

Run: ``PYTHONPATH=src python -m benchmarks.share [--answers 50000]`` — prints one line per figure and
the load average (the machine is shared: compare the figures of one run, not across runs).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["bench_share", "main"]


def _best(fn: Callable[[], Any], k: int = 3) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(k):
        t0 = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t0)
    return best, out


def bench_share(answers: int = 50_000) -> list[str]:
    """The figures as printable lines (a workspace of ``answers`` NPS and CSAT answers over 60 days)."""
    import cxlens
    from cxlens.act import schedule
    from cxlens.act.charts import digest_charts
    from cxlens.act.share import create_link, resolve
    from cxlens.report.shared import render_view

    rng = np.random.default_rng(1)
    ws = cxlens.open(os.path.join(tempfile.mkdtemp(), "share.duckdb"))
    now = pd.Timestamp.now().floor("h")
    metric = np.where(rng.random(answers) < 0.5, "nps", "csat")
    ws.load("feedback", pd.DataFrame({
        "customer_id": [f"C{i % 5000}" for i in range(answers)],
        "ts": now - pd.to_timedelta(rng.integers(0, 60 * 86400, answers), unit="s"), "metric": metric,
        "score": np.where(metric == "nps", rng.integers(0, 11, answers), rng.integers(1, 6, answers)).astype(float)}))  # fmt: skip
    ws.act.allow_host("example.com")
    ws.act.load_rules({"rules": [{"name": "m", "when": {"schedule": {"every": "day", "tz": "Europe/Paris"}},
                                  "do": [{"webhook": {"url": "https://example.com/x"}}]}]})  # fmt: skip
    cond, slot = ws.act.rule("m").conditions, dt.datetime.now(dt.UTC).replace(tzinfo=None)
    lines = []
    saved = schedule.TREND_PERIODS
    try:
        schedule.TREND_PERIODS = 0
        t0, _ = _best(lambda: schedule.digest_content(ws, cond, slot))
    finally:
        schedule.TREND_PERIODS = saved
    t8, report = _best(lambda: schedule.digest_content(ws, cond, slot))
    lines.append(f"digest of {answers:,} answers (nps, csat): {t0 * 1000:.0f} ms without the trend, "
                 f"{t8 * 1000:.0f} ms with the 8-period trend")  # fmt: skip
    tc, charts = _best(lambda: digest_charts(report), 2)
    lines.append(
        f"digest PNG charts: {tc * 1000:.0f} ms ({', '.join(f'{k} {len(v) / 1e3:.0f} kB' for k, v in charts.items())})"
    )
    for view in ("overview", "journey", "themes", "digest:m"):
        link = resolve(ws.store, create_link(ws.store, view, role="analyst")["token"])
        tv, page = _best(lambda link=link: render_view(ws, link), 2)
        lines.append(f"shared {view} page: {tv * 1000:.0f} ms, {len(page) / 1e6:.2f} MB")
    ws.close()
    lines.append("load average: " + ", ".join(f"{x:.1f}" for x in os.getloadavg()))
    return lines


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--answers", type=int, default=50_000)
    for line in bench_share(p.parse_args().answers):
        print(line)


if __name__ == "__main__":
    main()
