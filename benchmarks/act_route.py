"""What classifying in the commit costs: tickets imported and single answers with a comment written,
without and with an active routing rule, in one run (the ratio is what to read on a loaded machine).

Run: ``PYTHONPATH=src python -m benchmarks.act_route [tickets] [answers]``.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

__all__ = ["bench_route"]

_TEXTS = ["I need my refund today, this is terrible", "the courier lost my parcel again, third time I call",
          "thanks for the quick help", "why was I charged twice? please help asap", "the app crashes at checkout",
          "great prices and friendly staff"]  # fmt: skip


def _tickets(n: int, start: int, now: pd.Timestamp) -> pd.DataFrame:
    return pd.DataFrame({"ticket_id": [f"T{start + i}" for i in range(n)],
                         "customer_id": [f"C{(start + i) % 997}" for i in range(n)],
                         "created_at": [now] * n, "subject": ["Order"] * n,
                         "body": [_TEXTS[i % len(_TEXTS)] + f" (order {start + i})" for i in range(n)]})  # fmt: skip


def bench_route(tickets: int = 2000, answers: int = 100) -> dict[str, Any]:
    import cxlens

    out: dict[str, Any] = {"tickets": tickets, "answers": answers}
    with tempfile.TemporaryDirectory() as d:
        ws = cxlens.open(Path(d) / "b.duckdb")
        now = pd.Timestamp.now(tz="UTC").tz_localize(None)
        ws.load("tickets", _tickets(50, 10_000_000, now))  # warm up: models loaded once
        t = time.perf_counter()
        ws.load("tickets", _tickets(tickets, 0, now))
        out["import_without_rule_s"] = round(time.perf_counter() - t, 3)
        # webhook actions (queued, never sent: no job runner) so that the figure is the classification and
        # the outbox, not the one-by-one case writes (their cost is the feedback rules' too)
        ws.act.allow_host("127.0.0.1", private=True)
        hook = [{"webhook": {"url": "http://127.0.0.1:9/x"}}]
        ws.act.load_rules({"rules": [
            {"name": "t", "when": {"ticket": {"urgency": "high"}}, "do": hook, "digest": False},
            {"name": "v", "when": {"verbatim": {"emotion": "anger"}}, "do": hook, "window": 0, "digest": False},
        ]})  # fmt: skip
        ws.load("tickets", _tickets(50, 20_000_000, now))
        t = time.perf_counter()
        ws.load("tickets", _tickets(tickets, tickets, now))
        out["import_with_rules_s"] = round(time.perf_counter() - t, 3)
        out["classified"] = int(ws.read("SELECT count(*) AS n FROM act_classifications")["n"][0])
        out["alerts"] = int(ws.read("SELECT count(*) AS n FROM act_alerts")["n"][0])
        for label, active in (("with_rule", True), ("without_rule", False)):
            if not active:
                ws.act.pause("v")
                ws.act.pause("t")
            times = []
            for i in range(answers):
                row = pd.DataFrame([{"customer_id": f"A{i}", "ts": now, "metric": "nps", "score": float(i % 11),
                                     "comment": _TEXTS[i % len(_TEXTS)] + f" #{label}{i}"}])  # fmt: skip
                t = time.perf_counter()
                ws.load("feedback", row)
                times.append(time.perf_counter() - t)
            out[f"answer_{label}_ms_median"] = round(1000 * float(np.median(times)), 1)
        ws.close()
    out["import_ratio"] = round(out["import_with_rules_s"] / out["import_without_rule_s"], 2)
    out["answer_ratio"] = round(out["answer_with_rule_ms_median"] / out["answer_without_rule_ms_median"], 2)
    return out


if __name__ == "__main__":
    args = [int(a) for a in sys.argv[1:]]
    print(json.dumps(bench_route(*args), indent=1))
