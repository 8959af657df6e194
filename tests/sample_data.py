"""A small, fixed-seed workspace for the web and report tests (fixtures in tests/conftest.py).

The project's demo generator's small business, plus one feedback row whose comment and
touchpoint are HTML/JS payloads, so escaping is tested on real pages.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

import cxlens
from cxlens.ingest.simulate import write_demo

XSS_COMMENT = "<script>alert(1)</script>"
XSS_TOUCHPOINT = "<img src=x onerror=alert(2)>"


def build(path: Path, seed: int = 0) -> Path:
    """Write the sample workspace to ``path`` and return it."""
    with cxlens.open(path) as ws:
        write_demo(ws, size="small", seed=seed)
        # the newest feedback, so the "latest comments" list shows it
        last = pd.Timestamp(ws.sql("SELECT max(ts) AS t FROM feedback")["t"].iloc[0])
        ws.load(
            "feedback",
            pd.DataFrame(
                {
                    "feedback_id": ["xss-1"],
                    "customer_id": [None],
                    "ts": [last + pd.Timedelta(minutes=1)],
                    "metric": ["nps"],
                    "score": [3.0],
                    "comment": [XSS_COMMENT],
                    "touchpoint": [XSS_TOUCHPOINT],
                    "channel": ["web"],
                }
            ),
        )
        ws.refresh()  # the stored model scores and text analysis pages read (as `cxlens models fit`)
    return path


def facts(ws: cxlens.Workspace) -> dict:
    """Data-dependent choices for tests: a channel with NPS answers (``web`` when it has enough)
    but not all of them, a segment, and a three-month window inside the data."""
    by_channel = ws.metrics.nps(by="channel")
    by_channel = by_channel[by_channel["n"] > 0].dropna(subset=["channel"]).sort_values("n", ascending=False)
    total = int(ws.metrics.nps()["n"].iloc[0])
    candidates = by_channel[by_channel["n"] < total]
    web = candidates[candidates["channel"] == "web"]
    channel = "web" if len(web) and int(web["n"].iloc[0]) >= 30 else str(candidates["channel"].iloc[0])
    segments = ws.metrics.nps(by="segment").dropna(subset=["segment"])
    segment = str(segments.sort_values("n", ascending=False)["segment"].iloc[0])
    monthly = ws.metrics.nps(period="month")
    months = sorted(pd.to_datetime(monthly.loc[monthly["n"] > 0, "period"]))
    start, end = months[len(months) // 3], months[len(months) // 3] + pd.DateOffset(months=3)
    return {"channel": channel, "segment": segment, "start": start.date().isoformat(), "end": end.date().isoformat()}
