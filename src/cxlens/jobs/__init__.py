"""Background work: a durable job queue in the workspace, worker threads, stored results, schedules.

* :mod:`cxlens.jobs.queue` — the ``jobs`` table: enqueue, claim with a lease, complete once, retry
  with backoff, dead letters;
* :mod:`cxlens.jobs.results` — results stored with the data versions they were computed on;
* :mod:`cxlens.jobs.runner` — registered tasks, the runner (workers, refreshes, schedules) and
  :func:`run_now`.

See docs/jobs.md.
"""

from cxlens.jobs import probe  # noqa: E402,F401  (registers the diagnostic jobs.probe task)
from cxlens.jobs.queue import Job, claim, complete, enqueue, fail, get_job, list_jobs, retry
from cxlens.jobs.results import StoredResult, load_result, write_result
from cxlens.jobs.runner import (
    REGISTRY,
    JobContext,
    JobRunner,
    Schedule,
    Task,
    run_now,
    schedule,
    schedule_source,
    task,
)

__all__ = [
    "REGISTRY",
    "Job",
    "JobContext",
    "JobRunner",
    "Schedule",
    "StoredResult",
    "Task",
    "claim",
    "complete",
    "enqueue",
    "fail",
    "get_job",
    "list_jobs",
    "load_result",
    "retry",
    "run_now",
    "schedule",
    "schedule_source",
    "task",
    "write_result",
]
