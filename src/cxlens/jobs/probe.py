"""``jobs.probe``: a diagnostic job (the crash test checks a job killed half-way completes exactly once)."""

from __future__ import annotations

import json
import time
from typing import Any

from cxlens.jobs.results import write_result
from cxlens.jobs.runner import JobContext, task

__all__ = ["probe"]


@task("jobs.probe", lease=5.0)
def probe(ctx: JobContext) -> dict[str, Any]:
    """Wait ``seconds``, then count this completion in the stored result ``probe:<name>``."""
    time.sleep(float(ctx.params.get("seconds", 0)))
    name = f"probe:{ctx.params.get('name', 'default')}"

    def count(cur: Any) -> None:
        row = cur.execute("SELECT meta FROM results WHERE name = ?", [name]).fetchone()
        n = json.loads(row[0]).get("completions", 0) if row else 0
        write_result(cur, name, "jobs.probe", versions={}, meta={"completions": n + 1, "job_id": ctx.job.job_id})

    ctx.write(count, changes=["results"])
    return {"name": name}
