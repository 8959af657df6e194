"""The job runner: worker threads that claim jobs from the workspace queue, and the housekeeping
that keeps stored results fresh and fires schedules.

* **Tasks** are registered by the packages that own the work (``cxlens.customers.tasks`` fits the
  models, ``cxlens.voice.tasks`` analyses new text…) with :func:`task`; the runner knows only kinds.
  A task's handler gets a :class:`JobContext`; what it wants written (stored results, rows) is
  registered with :meth:`JobContext.write` / :meth:`JobContext.save_result` and committed in the
  same transaction that marks the job done — so a job killed half-way writes nothing and runs
  again, and a finished job is never applied twice.
* **Refreshes.** A task with ``tables`` maintains a stored result; when those tables change (their
  data versions differ from the ones the result was computed on) the runner queues it again, at
  most every ``min_interval`` seconds, with a slot per data version so that several processes
  queue it once.
* **Schedules** (cron expressions in a time zone, :class:`Schedule`) queue one job per slot: the
  slot's time is part of the job's unique ``slot``, so several server processes run it once.
* **Failures** are retried with exponential backoff (:func:`cxlens.jobs.queue.backoff`, capped at
  60 s between tries; a handler may raise an error with ``retry_after`` seconds, e.g. after an
  HTTP 429) until ``max_attempts``; then the job is dead (listed, and retried by hand).

``cxlens serve`` starts a runner for each workspace it serves; ``cxlens jobs run`` runs one in the
foreground; ``cxlens models fit`` runs the model tasks at once (:func:`run_now`).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from cxlens.errors import ConfigError, NotFoundError
from cxlens.jobs import queue
from cxlens.jobs.results import load_result, write_result

__all__ = [
    "REGISTRY",
    "JobContext",
    "JobRunner",
    "Schedule",
    "Task",
    "run_now",
    "schedule",
    "schedule_source",
    "task",
]

log = logging.getLogger("cxlens.jobs")
#: seconds of the lease a job gets when claimed, before the runner sets its kind's lease
CLAIM_LEASE = 30.0


@dataclass(frozen=True)
class Task:
    """A registered kind of job."""

    kind: str
    fn: Callable[[JobContext], Any]
    #: tables whose changes make the task's stored result stale (empty: never refreshed automatically)
    tables: tuple[str, ...] = ()
    #: at most one automatic refresh per this many seconds (per process)
    min_interval: float = 0.0
    max_attempts: int = 5
    lease: float = 120.0
    #: the stored result this task keeps fresh (default: the kind)
    result: str | None = None
    doc: str = ""

    @property
    def result_name(self) -> str:
        return self.result or self.kind


#: kind → task; filled by ``@task`` in the packages that own the work
REGISTRY: dict[str, Task] = {}
#: callables ``store → [Schedule]`` every runner reads at each housekeeping pass (e.g. the digests a
#: workspace defines); filled by :func:`schedule_source` in the packages that own the schedules
SCHEDULE_SOURCES: list[Callable[[Any], Sequence[Schedule]]] = []


def task(
    kind: str,
    *,
    tables: Sequence[str] = (),
    min_interval: float = 0.0,
    max_attempts: int = 5,
    lease: float = 120.0,
    result: str | None = None,
) -> Callable[[Callable[[JobContext], Any]], Callable[[JobContext], Any]]:
    """Register the decorated function as the handler of job ``kind``."""

    def register(fn: Callable[[JobContext], Any]) -> Callable[[JobContext], Any]:
        REGISTRY[kind] = Task(kind, fn, tuple(tables), min_interval, max_attempts, lease, result, fn.__doc__ or "")
        return fn

    return register


@dataclass(frozen=True)
class Schedule:
    """Run ``kind`` at every time ``cron`` names (a 5-field cron expression) in time zone ``tz``."""

    name: str
    cron: str
    kind: str
    params: dict[str, Any] = field(default_factory=dict)
    tz: str = "UTC"
    #: slots before this moment (naive UTC) are never run (a new schedule does not fire its past)
    since: dt.datetime | None = None

    def last_slot(self, now: dt.datetime) -> dt.datetime:
        """The latest slot at or before ``now`` (naive UTC in, naive UTC out)."""
        from zoneinfo import ZoneInfo

        from croniter import croniter

        zone = ZoneInfo(self.tz)
        local = now.replace(tzinfo=dt.UTC).astimezone(zone)
        it = croniter(self.cron, local + dt.timedelta(seconds=1))
        prev = it.get_prev(dt.datetime)
        return prev.astimezone(dt.UTC).replace(tzinfo=None)


def schedule_source(fn: Callable[[Any], Sequence[Schedule]]) -> Callable[[Any], Sequence[Schedule]]:
    """Register ``fn(store) → [Schedule]``: every job runner queues the schedules it returns."""
    SCHEDULE_SOURCES.append(fn)
    return fn


def schedule(name: str, cron: str, kind: str, params: dict[str, Any] | None = None, *, tz: str = "UTC") -> Schedule:
    """A :class:`Schedule`, its cron expression and time zone checked."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    if not croniter.is_valid(cron):
        raise ConfigError(f"schedule {name!r}: cron expression {cron!r} is not valid; expected e.g. '0 8 * * 1'")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"schedule {name!r}: time zone {tz!r} is not known; expected e.g. 'Europe/Paris'") from None
    return Schedule(name, cron, kind, dict(params or {}), tz)


class JobContext:
    """What a running job gets: the store, its params, and a way to register its writes."""

    def __init__(self, store: Any, job: queue.Job, worker: str):
        self.store = store
        self.job = job
        self.params = job.params
        self.worker = worker
        self.writes: list[Callable[[Any], None]] = []
        self.changes: list[str] = []
        self._versions: dict[str, int] = {}

    def versions(self, tables: Sequence[str]) -> dict[str, int]:
        """The data versions of ``tables`` as the job first looked (record them with its result)."""
        missing = [t for t in tables if t not in self._versions]
        if missing:
            self._versions.update(self.store.data_version(missing))
        return {t: self._versions[t] for t in tables}

    def write(self, fn: Callable[[Any], None], *, changes: Sequence[str] = ()) -> None:
        """Run ``fn(cursor)`` in the transaction that marks the job done."""
        self.writes.append(fn)
        self.changes.extend(changes)

    def save_result(
        self,
        name: str,
        *,
        tables: Sequence[str],
        frame: pd.DataFrame | None = None,
        meta: dict[str, Any] | None = None,
        seconds: float | None = None,
    ) -> None:
        """Store result ``name`` with the data versions of ``tables`` (as first seen by this job).

        A table the job itself writes in its completing transaction (e.g. the theme job saving its
        refitted model in ``settings``) is recorded at the version that transaction gives it, so the
        job's own write does not make its result stale (a needless refit at every start); a change by
        anyone else since the job first looked still does.
        """
        seen = self.versions(tables)

        def fn(cur: Any) -> None:
            own = set(self.changes)
            versions = {t: v + 1 if t in own else v for t, v in seen.items()}
            write_result(cur, name, self.job.kind, versions=versions, seconds=seconds, frame=frame, meta=meta)

        # "results" for readers of any stored result; "results:<name>" for readers of this one (a
        # view built on the stored models need not go stale whenever an unrelated job saves its own)
        self.write(fn, changes=["results", f"results:{name}"])


def _worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def _execute(store: Any, job: queue.Job, worker: str) -> str:
    """Run one claimed job to completion or failure; returns its new status."""
    t = REGISTRY.get(job.kind)
    if t is None:
        return queue.fail(store, job, worker, f"no handler registered for job kind {job.kind!r}")
    ctx = JobContext(store, job, worker)
    t0 = time.perf_counter()
    try:
        result = t.fn(ctx)
    except Exception as e:  # any failure is recorded on the job; the runner keeps going
        log.warning("job %s (%s) failed: %s", job.job_id, job.kind, e)
        detail = f"{type(e).__name__}: {e}\n{traceback.format_exc(limit=5)}"
        return queue.fail(store, job, worker, detail, retry_after=getattr(e, "retry_after", None))
    seconds = round(time.perf_counter() - t0, 3)
    if isinstance(result, dict):
        result = {**result, "seconds": seconds}
    elif result is None:
        result = {"seconds": seconds}
    try:
        done = queue.complete(store, job, worker, result, writes=ctx.writes, changes=ctx.changes)
    except Exception as e:  # its writes failed: nothing was applied (one transaction); retry later
        log.warning("job %s (%s) could not store its result: %s", job.job_id, job.kind, e)
        return queue.fail(store, job, worker, f"storing the result failed: {type(e).__name__}: {e}")
    return "done" if done else "lost"


def run_now(store: Any, kind: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    """Queue ``kind`` and run it at once in this thread (``cxlens models fit``); returns its outcome.

    Raises :class:`~cxlens.errors.ConfigError` with the job's error when it fails.
    """
    if kind not in REGISTRY:
        raise NotFoundError(f"no job kind {kind!r}; expected one of {', '.join(sorted(REGISTRY))}")
    t = REGISTRY[kind]
    job_id = queue.enqueue(store, kind, params, max_attempts=1)
    worker = _worker_name()
    with store.transaction(changes=["jobs"]) as cur:  # claim exactly this job
        row = cur.execute(
            f"UPDATE jobs SET status = 'running', attempts = attempts + 1, worker = ?, started_at = ?, "
            f"lease_until = ? WHERE job_id = ? AND status = 'queued' RETURNING {queue.JOB_COLUMNS}",
            [worker, queue.now_utc(), queue.now_utc() + dt.timedelta(seconds=t.lease), job_id],
        ).fetchone()
    if row is None:
        raise ConfigError(f"job {kind!r} ({job_id}) was taken by a running job runner; see `cxlens jobs list`")
    job = queue.Job.from_row(row)
    status = _execute(store, job, worker)
    done = queue.get_job(store, job.job_id)
    if status != "done":
        raise ConfigError(f"job {kind!r} failed: {(done.error or status).splitlines()[0]}")
    return {"job_id": done.job_id, "kind": kind, "status": status, "result": done.result}


class JobRunner:
    """Worker threads over one workspace's job queue, plus refreshes and schedules.

    Parameters
    ----------
    store
        The workspace (store or facade); it must be writable.
    workers
        Threads claiming jobs (each runs one job at a time).
    poll
        Seconds an idle worker waits before looking again (:meth:`wake` cuts it short).
    housekeeping
        Seconds between refresh and schedule checks (and lease renewals).
    refresh
        Queue refreshes of stale task results (off: only jobs queued explicitly run).
    schedules
        Fixed schedules, plus ``schedule_sources``: callables ``store → [Schedule]`` read at every
        housekeeping pass (e.g. the digests defined in the workspace).
    kinds, exclude
        The job kinds this runner claims (None: every registered kind), less ``exclude`` — the kinds
        a dedicated runner of the same process serves (``cxlens serve``: the alert delivery pump).
    """

    def __init__(
        self,
        store: Any,
        *,
        workers: int = 1,
        poll: float = 1.0,
        housekeeping: float = 5.0,
        refresh: bool = True,
        schedules: Sequence[Schedule] = (),
        schedule_sources: Sequence[Callable[[Any], Sequence[Schedule]]] = (),
        kinds: Sequence[str] | None = None,
        exclude: Sequence[str] = (),
    ):
        if store.read_only:
            raise ConfigError(f"workspace {store.path!r} is open read-only; jobs need a writable workspace")
        self.store = store
        self.workers = workers
        self.poll = poll
        self.housekeeping = housekeeping
        self.refresh = refresh
        self.schedules = list(schedules)
        self.schedule_sources = list(schedule_sources)
        self.kinds = list(kinds) if kinds is not None else None
        self.exclude = frozenset(exclude)
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, tuple[queue.Job, str]] = {}
        self._running_lock = threading.Lock()
        self._last_refresh: dict[str, float] = {}
        self.started_at = queue.now_utc()
        self.completed = 0
        self.failed = 0

    # -- lifecycle ----------------------------------------------------------------------
    def start(self) -> JobRunner:
        for i in range(self.workers):
            t = threading.Thread(target=self._work, name=f"cxlens-jobs-{i}", daemon=True)
            t.start()
            self._threads.append(t)
        t = threading.Thread(target=self._keep, name="cxlens-jobs-housekeeping", daemon=True)
        t.start()
        self._threads.append(t)
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop claiming; wait up to ``timeout`` seconds for running jobs (an unfinished one runs
        again after its lease expires)."""
        self._stop.set()
        self.wake()
        deadline = time.monotonic() + timeout
        for t in self._threads:
            t.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        """Look for work now (after queueing a job in this process)."""
        with self._wake:
            self._wake.notify_all()

    # -- workers ------------------------------------------------------------------------
    def _kinds(self) -> list[str]:
        kinds = sorted(REGISTRY) if self.kinds is None else [k for k in self.kinds if k in REGISTRY]
        return [k for k in kinds if k not in self.exclude] if self.exclude else kinds

    def _work(self) -> None:
        worker = _worker_name()
        while not self._stop.is_set():
            try:
                # a short first lease, then the kind's own (a worker dying in between frees the job soon)
                job = queue.claim(self.store, worker, kinds=self._kinds(), lease=CLAIM_LEASE)
                if job is not None:
                    queue.renew(self.store, job.job_id, worker, lease=self._lease_for(job))
            except Exception:  # the store closing under us, a transient error: try again later
                log.exception("jobs: claiming failed")
                job = None
            if job is None:
                with self._wake:
                    self._wake.wait(self.poll)
                continue
            with self._running_lock:
                self._running[job.job_id] = (job, worker)
            try:
                status = _execute(self.store, job, worker)
            except Exception:  # the store failed while recording the outcome; the lease will expire
                log.exception("jobs: recording job %s failed", job.job_id)
                status = "lost"
            finally:
                with self._running_lock:
                    self._running.pop(job.job_id, None)
            if status == "done":
                self.completed += 1
            else:
                self.failed += 1

    def _lease_for(self, job: queue.Job | None) -> float:
        if job is not None and job.kind in REGISTRY:
            return REGISTRY[job.kind].lease
        return max((t.lease for t in REGISTRY.values()), default=120.0)

    # -- housekeeping ---------------------------------------------------------------------
    def _keep(self) -> None:
        while not self._stop.wait(self.housekeeping):
            with contextlib.suppress(Exception):
                self.tick()

    def tick(self, now: dt.datetime | None = None) -> list[str]:
        """One housekeeping pass: renew leases, queue stale refreshes and due schedules. Returns the
        ids of the jobs it queued."""
        self._renew()
        queued: list[str] = []
        if self.refresh:
            queued += self._refreshes()
        queued += self._due(now or queue.now_utc())
        if queued:
            self.wake()
        return queued

    def _renew(self) -> None:
        with self._running_lock:
            running = list(self._running.values())
        for job, worker in running:
            queue.renew(self.store, job.job_id, worker, lease=self._lease_for(job))

    def _refreshes(self) -> list[str]:
        out = []
        now = time.monotonic()
        for kind in self._kinds():
            t = REGISTRY[kind]
            if not t.tables:
                continue
            last = self._last_refresh.get(kind)
            if last is not None and now - last < t.min_interval:
                continue
            current = self.store.data_version(list(t.tables))
            stored = load_result(self.store, t.result_name)
            if stored is not None and stored.versions == current:
                continue
            digest = hashlib.sha256(json.dumps(current, sort_keys=True).encode()).hexdigest()[:16]
            job_id = queue.enqueue(self.store, kind, slot=f"refresh:{kind}:{digest}", max_attempts=t.max_attempts)
            self._last_refresh[kind] = now
            if job_id:
                out.append(job_id)
        return out

    def _due(self, now: dt.datetime) -> list[str]:
        scheds = list(self.schedules)
        for source in [*SCHEDULE_SOURCES, *self.schedule_sources]:
            scheds += list(source(self.store))
        out = []
        for s in scheds:
            slot_time = s.last_slot(now)
            since = s.since or self.started_at
            if slot_time < since:
                continue
            t = REGISTRY.get(s.kind)
            job_id = queue.enqueue(
                self.store,
                s.kind,
                {**s.params, "slot_time": slot_time.isoformat()},
                slot=f"schedule:{s.name}@{slot_time.isoformat()}",
                max_attempts=t.max_attempts if t else 5,
            )
            if job_id:
                out.append(job_id)
        return out
