"""The durable job queue: rows of the workspace table ``jobs``, claimed with a lease.

A job is a ``kind`` (the name of a registered handler), JSON ``params`` and a state::

    queued ──claim──▶ running ──done──▶ done
       ▲                 │  └──fail (attempts left)──▶ queued (run_after = now + backoff)
       └─lease expired───┘  └──fail (no attempts left)──▶ dead (the dead-letter list; retry() queues it again)

* **Durable.** Enqueueing is a committed row; a job is never lost when a process dies.
* **Claimed once.** :func:`claim` picks the oldest due job inside a write transaction (writes run one
  at a time across threads and processes, see docs/store.md) and gives the claimer a lease. A
  claimer that dies stops renewing its lease; once it expires the job is claimed again (a restart
  resumes it).
* **Completed once.** :func:`complete` marks a job done in the same transaction as the job's own
  writes, and only if the claimer still holds it: a job whose lease was taken over cannot complete
  twice.
* **One per slot.** ``slot`` is unique: a scheduled run (``digest@2026-12-01T08:00``) or a refresh
  (``refresh:models@<versions>``) is enqueued at most once, however many processes try.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from cxlens.errors import ConfigError, NotFoundError

__all__ = [
    "JOB_COLUMNS",
    "Job",
    "claim",
    "claim_many",
    "complete_many",
    "enqueue_many",
    "complete",
    "enqueue",
    "fail",
    "get_job",
    "list_jobs",
    "now_utc",
    "renew",
    "retry",
]

JOB_COLUMNS = (
    "job_id, kind, params, slot, status, attempts, max_attempts, run_after, lease_until, worker, created_at, "
    "started_at, finished_at, error, result"
)
STATUSES = ("queued", "running", "done", "dead")


def now_utc() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class Job:
    """One row of ``jobs``."""

    job_id: str
    kind: str
    params: dict[str, Any]
    slot: str | None
    status: str
    attempts: int
    max_attempts: int
    run_after: dt.datetime
    lease_until: dt.datetime | None
    worker: str | None
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    error: str | None
    result: Any

    @classmethod
    def from_row(cls, row: Sequence[Any]) -> Job:
        values = list(row)
        values[2] = json.loads(values[2]) if values[2] else {}
        values[14] = json.loads(values[14]) if values[14] else None
        return cls(*values)


def enqueue(
    store: Any,
    kind: str,
    params: dict[str, Any] | None = None,
    *,
    slot: str | None = None,
    run_after: dt.datetime | None = None,
    max_attempts: int = 5,
) -> str | None:
    """Queue a job; returns its id, or None when ``slot`` already has a job (nothing is queued twice).

    May be called inside the caller's transaction (an outbox row committed with the data that caused it).
    """
    if not kind:
        raise ConfigError("job kind is empty; pass the name of a registered job handler")
    if max_attempts < 1:
        raise ConfigError(f"max_attempts is {max_attempts}; expected 1 or more")
    job_id = "job_" + secrets.token_hex(8)
    now = now_utc()
    with store.transaction(changes=["jobs"]) as cur:
        row = cur.execute(
            "INSERT INTO jobs (job_id, kind, params, slot, status, attempts, max_attempts, run_after, created_at) "
            "VALUES (?, ?, ?, ?, 'queued', 0, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING job_id",
            [job_id, kind, json.dumps(params or {}, sort_keys=True, default=str), slot, max_attempts,
             run_after or now, now],
        ).fetchone()  # fmt: skip
    return row[0] if row else None


def enqueue_many(
    store: Any, kind: str, items: Sequence[tuple[Any, ...]], *, chunk: int = 200, new_slots: bool = False
) -> list[str | None]:
    """Queue several jobs of ``kind`` in a few statements; ``items`` are ``(params, slot, max_attempts)``
    or ``(params, slot, max_attempts, run_after)`` (naive UTC; None or absent: now).

    Returns each item's job id, or None where its ``slot`` already had a job — as :func:`enqueue` one
    by one, but a multi-row INSERT per ``chunk`` jobs (a burst of alerts costs a statement, not one each).
    ``new_slots``: the caller made every slot just now from a random id, so none can be taken — a plain
    INSERT (DuckDB's ``ON CONFLICT`` cost ≈0.3 ms a row); a slot taken after all fails the transaction.
    """
    if not kind:
        raise ConfigError("job kind is empty; pass the name of a registered job handler")
    now = now_utc()
    ids: list[str] = []
    for _, _, attempts, *_ in items:
        if attempts < 1:
            raise ConfigError(f"max_attempts is {attempts}; expected 1 or more")
        ids.append("job_" + secrets.token_hex(8))
    got: set[str] = set()
    with store.transaction(changes=["jobs"]) as cur:
        for at in range(0, len(items), chunk):
            part = list(zip(ids[at : at + chunk], items[at : at + chunk], strict=True))
            values: list[Any] = []
            for job_id, (params, slot, attempts, *later) in part:
                run_after = (later[0] if later else None) or now
                values += [job_id, kind, json.dumps(params or {}, sort_keys=True, default=str), slot, attempts,
                           run_after, now]  # fmt: skip
            sql = ("INSERT INTO jobs (job_id, kind, params, slot, status, attempts, max_attempts, run_after, created_at) "
                   f"VALUES {', '.join(['(?, ?, ?, ?, ' + repr('queued') + ', 0, ?, ?, ?)'] * len(part))}")  # fmt: skip
            if new_slots:
                cur.execute(sql, values)
                got.update(job_id for job_id, _ in part)
            else:
                got.update(
                    r[0] for r in cur.execute(f"{sql} ON CONFLICT DO NOTHING RETURNING job_id", values).fetchall()
                )
    return [j if j in got else None for j in ids]


def claim(
    store: Any, worker: str, *, kinds: Sequence[str] | None = None, lease: float = 60.0, now: dt.datetime | None = None
) -> Job | None:
    """Take the oldest due job (queued and due, or running with an expired lease) for ``worker``."""
    now = now or now_utc()
    where = "((status = 'queued' AND run_after <= ?) OR (status = 'running' AND lease_until < ?))"
    params: list[Any] = [now, now]
    if kinds is not None:
        if not kinds:
            return None
        where += f" AND kind IN ({', '.join('?' * len(kinds))})"
        params += list(kinds)
    with store.transaction(changes=["jobs"]) as cur:
        row = cur.execute(
            f"SELECT job_id FROM jobs WHERE {where} ORDER BY run_after, created_at, job_id LIMIT 1", params
        ).fetchone()
        if row is None:
            return None
        got = cur.execute(
            f"UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = ?, started_at = ?, "
            f"lease_until = ? WHERE job_id = ? AND {where} RETURNING {JOB_COLUMNS}",
            [worker, now, now + dt.timedelta(seconds=lease), row[0], *params],
        ).fetchone()
    return Job.from_row(got) if got else None


def claim_many(
    store: Any, worker: str, kind: str, *, lease: float = 60.0, limit: int = 64, now: dt.datetime | None = None
) -> list[Job]:
    """Take up to ``limit`` due jobs of ``kind`` (oldest first, as :func:`claim` takes one) in one
    transaction, leased for ``lease`` seconds."""
    now = now or now_utc()
    due = "kind = ? AND ((status = 'queued' AND run_after <= ?) OR (status = 'running' AND lease_until < ?))"
    with store.transaction(changes=["jobs"]) as cur:
        rows = cur.execute(
            f"UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = ?, started_at = ?, lease_until = ? "
            f"WHERE job_id IN (SELECT job_id FROM jobs WHERE {due} ORDER BY run_after, created_at, job_id LIMIT ?) "
            f"AND {due} RETURNING {JOB_COLUMNS}",
            [worker, now, now + dt.timedelta(seconds=lease), kind, now, now, int(limit), kind, now, now],
        ).fetchall()
    jobs = [Job.from_row(r) for r in rows]
    return sorted(jobs, key=lambda j: (j.run_after, j.created_at, j.job_id))


def complete_many(store: Any, job_ids: Sequence[str], worker: str, results: Sequence[str | None]) -> list[str]:
    """Mark the jobs ``job_ids`` done with their ``results`` (JSON text) in one statement, those
    ``worker`` still holds; returns their ids (inside the caller's transaction, with the writes that
    record what the jobs did)."""
    if not job_ids:
        return []
    with store.transaction(changes=["jobs"]) as cur:
        rows = cur.execute(
            # numbered parameters: DuckDB binds an UPDATE's FROM clause before its SET
            "UPDATE jobs SET status = 'done', finished_at = $1, lease_until = NULL, error = NULL, result = r.result "
            "FROM (SELECT unnest($2::VARCHAR[]) AS job_id, unnest($3::VARCHAR[]) AS result) r "
            "WHERE jobs.job_id = r.job_id AND jobs.worker = $4 AND jobs.status = 'running' RETURNING jobs.job_id",
            [now_utc(), list(job_ids), list(results), worker],
        ).fetchall()
    return [r[0] for r in rows]


def renew(store: Any, job_id: str, worker: str, *, lease: float = 60.0) -> bool:
    """Extend the lease of a running job this worker holds; False when it lost the job."""
    with store.transaction(changes=["jobs"]) as cur:  # declared: a renew forgets no cached value of other tables
        row = cur.execute(
            "UPDATE jobs SET lease_until = ? WHERE job_id = ? AND worker = ? AND status = 'running' RETURNING job_id",
            [now_utc() + dt.timedelta(seconds=lease), job_id, worker],
        ).fetchone()
    return row is not None


def complete(
    store: Any,
    job: Job,
    worker: str,
    result: Any = None,
    *,
    writes: Sequence[Callable[[Any], None]] = (),
    changes: Sequence[str] = (),
) -> bool:
    """Mark ``job`` done and apply its ``writes`` (each ``fn(cursor)``) in ONE transaction — only if
    ``worker`` still holds it. Returns False (and writes nothing) when the job was taken over."""
    with store.transaction(changes=["jobs", *changes]) as cur:
        held = cur.execute(
            "SELECT 1 FROM jobs WHERE job_id = ? AND worker = ? AND status = 'running'", [job.job_id, worker]
        ).fetchone()
        if held is None:
            return False
        for fn in writes:
            fn(cur)
        cur.execute(
            "UPDATE jobs SET status = 'done', finished_at = ?, lease_until = NULL, error = NULL, result = ? "
            "WHERE job_id = ?",
            [now_utc(), json.dumps(result, default=str) if result is not None else None, job.job_id],
        )
    return True


def backoff(attempts: int, *, base: float = 2.0, cap: float = 60.0) -> float:
    """Seconds to wait after the ``attempts``-th failed try: ``base · 2^(attempts-1)``, at most ``cap``."""
    return float(min(cap, base * 2 ** max(0, attempts - 1)))


def fail(store: Any, job: Job, worker: str, error: str, *, retry_after: float | None = None) -> str:
    """Record a failed try: queued again after a backoff (or ``retry_after`` seconds), or dead when no
    attempts are left. Returns the new status (or ``"lost"`` when the worker no longer held it)."""
    status = "queued" if job.attempts < job.max_attempts else "dead"
    wait = backoff(job.attempts) if retry_after is None else max(0.0, float(retry_after))
    now = now_utc()
    with store.transaction(changes=["jobs"]) as cur:
        row = cur.execute(
            "UPDATE jobs SET status = ?, error = ?, run_after = ?, lease_until = NULL, finished_at = ? "
            "WHERE job_id = ? AND worker = ? AND status = 'running' RETURNING job_id",
            [status, error[:4000], now + dt.timedelta(seconds=wait), now if status == "dead" else None,
             job.job_id, worker],
        ).fetchone()  # fmt: skip
    return status if row else "lost"


def retry(store: Any, job_id: str) -> Job:
    """Queue a dead (or done) job again now, with a fresh set of attempts (the dashboard's "retry")."""
    with store.transaction(changes=["jobs"]) as cur:
        row = cur.execute(
            f"UPDATE jobs SET status = 'queued', attempts = 0, run_after = ?, error = NULL, finished_at = NULL "
            f"WHERE job_id = ? AND status IN ('dead', 'done') RETURNING {JOB_COLUMNS}",
            [now_utc(), job_id],
        ).fetchone()
    if row is None:
        get_job(store, job_id)  # raises for an unknown id
        raise ConfigError(f"job {job_id!r} is queued or running; only dead or done jobs can be retried")
    return Job.from_row(row)


def get_job(store: Any, job_id: str) -> Job:
    row = store.one(f"SELECT {JOB_COLUMNS} FROM jobs WHERE job_id = ?", [job_id])
    if row is None:
        raise NotFoundError(f"no job {job_id!r} in this workspace; `cxlens jobs list` shows them")
    return Job.from_row(row)


def list_jobs(store: Any, *, status: str | None = None, kind: str | None = None, limit: int = 100) -> pd.DataFrame:
    """Jobs, newest first (``status``: queued, running, done or dead)."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"job status {status!r} is not known; expected one of {', '.join(STATUSES)}")
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if kind:
        where.append("kind = ?")
        params.append(kind)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return store.read(
        f"SELECT job_id, kind, slot, status, attempts, max_attempts, run_after, created_at, started_at, "
        f"finished_at, error FROM jobs {clause} ORDER BY created_at DESC, job_id LIMIT ?",
        [*params, int(limit)],
    )
