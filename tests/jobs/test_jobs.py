"""The durable job queue and runner: claimed once, completed once, retried with backoff, dead letters,
one run per slot, refreshes when data changes, and a job killed with its server completes once after restart."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time

import httpx
import pandas as pd
import pytest

import cxlens
from cxlens.errors import ConfigError
from cxlens.jobs import JobRunner, load_result, queue, run_now, schedule, task
from cxlens.jobs.runner import REGISTRY

FAILS: dict[str, int] = {}


@task("test.flaky")
def _flaky(ctx):
    """Fails ``fail`` times, then stores its params."""
    name = ctx.params["name"]
    FAILS[name] = FAILS.get(name, 0) + 1
    if FAILS[name] <= ctx.params.get("fail", 0):
        raise RuntimeError(f"try {FAILS[name]} failed")
    ctx.save_result(f"flaky:{name}", tables=[], meta={"tries": FAILS[name]})
    return {"tries": FAILS[name]}


class Busy(RuntimeError):
    retry_after = 7.0


@task("test.busy")
def _busy(ctx):
    raise Busy("the receiver said 429")


@pytest.fixture()
def jws():
    w = cxlens.open(":memory:")
    yield w
    w.close()


def test_a_job_is_claimed_once_by_many_workers(jws):
    ids = {queue.enqueue(jws, "test.flaky", {"name": f"n{i}"}) for i in range(20)}
    got: list[str] = []
    lock = threading.Lock()

    def worker(k: int) -> None:
        while (job := queue.claim(jws, f"w{k}", kinds=["test.flaky"])) is not None:
            with lock:
                got.append(job.job_id)

    ths = [threading.Thread(target=worker, args=(k,)) for k in range(6)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert sorted(got) == sorted(ids)  # every job once, none twice


def test_only_the_holder_completes_and_an_expired_lease_is_claimed_again(jws):
    queue.enqueue(jws, "test.flaky", {"name": "x"})
    job = queue.claim(jws, "w1", lease=30)
    later = queue.now_utc() + dt.timedelta(seconds=31)
    again = queue.claim(jws, "w2", now=later)  # w1 died: its lease ran out
    assert again is not None and again.job_id == job.job_id and again.attempts == 2
    wrote = []
    assert queue.complete(jws, job, "w1", writes=[lambda cur: wrote.append(1)]) is False  # w1 lost it
    assert wrote == [] and queue.complete(jws, again, "w2") is True
    assert queue.get_job(jws, job.job_id).status == "done"
    assert queue.claim(jws, "w3", now=later + dt.timedelta(hours=1)) is None


def test_failures_back_off_then_go_to_the_dead_letters_and_retry_by_hand(jws):
    assert queue.backoff(1) == 2 and queue.backoff(3) == 8 and queue.backoff(20) == 60  # capped at 60 s
    jid = queue.enqueue(jws, "test.flaky", {"name": "dead", "fail": 99}, max_attempts=3)
    now = queue.now_utc()
    for attempt in (1, 2, 3):
        job = queue.claim(jws, "w", now=now + dt.timedelta(minutes=attempt * 5))
        assert job.attempts == attempt
        status = queue.fail(jws, job, "w", "nope")
        assert status == ("dead" if attempt == 3 else "queued")
        row = queue.get_job(jws, jid)
        if status == "queued":
            assert row.run_after >= queue.now_utc() + dt.timedelta(seconds=queue.backoff(attempt) - 1)
    assert queue.claim(jws, "w", now=now + dt.timedelta(days=1)) is None  # dead: not claimed again
    assert list(queue.list_jobs(jws, status="dead")["job_id"]) == [jid]
    assert queue.retry(jws, jid).status == "queued"
    with pytest.raises(ConfigError, match="only dead or done"):
        queue.retry(jws, jid)


def test_a_handler_can_say_when_to_retry(jws):
    jid = queue.enqueue(jws, "test.busy")
    runner = JobRunner(jws, refresh=False, kinds=["test.busy"])
    job = queue.claim(jws, "w")
    from cxlens.jobs.runner import _execute

    assert _execute(jws, job, "w") == "queued"
    row = queue.get_job(jws, jid)
    wait = (row.run_after - queue.now_utc()).total_seconds()
    assert 5 < wait <= 7.5 and "429" in row.error
    del runner


def test_one_job_per_slot_whoever_enqueues(jws):
    results = []

    def add() -> None:
        results.append(queue.enqueue(jws, "test.flaky", {"name": "s"}, slot="digest@2026-12-01T08:00"))

    ths = [threading.Thread(target=add) for _ in range(8)]
    for t in ths:
        t.start()
    for t in ths:
        t.join()
    assert sum(r is not None for r in results) == 1
    assert jws.scalar("SELECT count(*) FROM jobs WHERE slot = 'digest@2026-12-01T08:00'") == 1


def test_schedules_queue_one_run_per_slot_for_several_runners(jws):
    s = schedule("daily", "0 8 * * *", "test.flaky", {"name": "sched"}, tz="Europe/Paris")
    s = s.__class__(**{**s.__dict__, "since": dt.datetime(2026, 1, 1)})
    a = JobRunner(jws, refresh=False, schedules=[s], kinds=[])
    b = JobRunner(jws, refresh=False, schedules=[s], kinds=[])
    now = dt.datetime(2026, 12, 2, 10, 0)  # 11:00 in Paris: today's 08:00 Paris slot = 07:00 UTC
    assert len(a.tick(now)) == 1 and b.tick(now) == [] and a.tick(now) == []
    slot = jws.scalar("SELECT slot FROM jobs WHERE kind = 'test.flaky'")
    assert slot == "schedule:daily@2026-12-02T07:00:00"
    assert len(b.tick(now + dt.timedelta(days=1))) == 1  # the next day's slot
    with pytest.raises(ConfigError, match="cron expression"):
        schedule("bad", "every day", "test.flaky")
    with pytest.raises(ConfigError, match="time zone"):
        schedule("bad", "0 8 * * *", "test.flaky", tz="Mars/Olympus")


def test_runner_retries_until_done_and_writes_once(jws):
    FAILS.pop("r", None)
    jid = queue.enqueue(jws, "test.flaky", {"name": "r", "fail": 2}, max_attempts=5)
    with jws.transaction() as cur:  # no waiting for the backoff in a test
        cur.execute("UPDATE jobs SET run_after = ? WHERE job_id = ?", [queue.now_utc(), jid])
    runner = JobRunner(jws, refresh=False, poll=0.05, kinds=["test.flaky"]).start()
    try:
        deadline = time.monotonic() + 30
        while queue.get_job(jws, jid).status != "done" and time.monotonic() < deadline:
            with jws.transaction() as cur:
                cur.execute(
                    "UPDATE jobs SET run_after = ? WHERE job_id = ? AND status = 'queued'", [queue.now_utc(), jid]
                )
            time.sleep(0.05)
    finally:
        runner.stop()
    job = queue.get_job(jws, jid)
    assert job.status == "done" and job.attempts == 3 and load_result(jws, "flaky:r").meta == {"tries": 3}


def test_stale_results_are_refreshed_when_their_data_changes(tmp_path):
    from cxlens.ingest import write_demo

    with cxlens.open(tmp_path / "r.duckdb") as ws:
        write_demo(ws, 300, seed=1)
        runner = JobRunner(ws, kinds=["voice.analyse"], poll=0.05)
        first = runner.tick()
        assert len(first) == 1 and runner.tick() == []  # queued once (slot), then throttled
        run_now(ws, "voice.analyse")
        assert not load_result(ws, "voice.analyse").is_stale(ws)
        ws.load(
            "feedback", pd.DataFrame({"ts": ["2026-01-01"], "metric": ["nps"], "score": [2], "comment": ["awful wait"]})
        )
        assert load_result(ws, "voice.analyse").is_stale(ws)
        runner._last_refresh.clear()  # past min_interval
        assert len(runner.tick()) == 1


@task("test.self_writer", tables=("settings",), result="self-writer")
def _self_writer(ctx):
    """Saves its result from ``settings`` and writes ``settings`` itself, as the theme job does."""
    ctx.save_result("self-writer", tables=["settings"], meta={})
    ctx.write(
        lambda cur: cur.execute("INSERT OR REPLACE INTO settings VALUES ('test.model', '1')"), changes=["settings"]
    )


def test_a_jobs_own_writes_do_not_make_its_result_stale(jws):
    run_now(jws, "test.self_writer")
    assert not load_result(jws, "self-writer").is_stale(jws)  # no refit at every start
    assert JobRunner(jws, kinds=["test.self_writer"], poll=0.05).tick() == []
    jws.set_setting("collect.allowed_origins", ["https://shop.example"])  # anyone else's change still counts
    assert load_result(jws, "self-writer").is_stale(jws)


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(path, port):
    proc = subprocess.Popen([sys.executable, "-m", "cxlens", "-w", str(path), "serve", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise AssertionError(proc.stderr.read().decode())


def _wait(pred, timeout=90.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(0.2)
    return False


def test_a_job_killed_with_its_server_completes_exactly_once_after_restart(tmp_path):
    path = tmp_path / "crash.duckdb"
    with cxlens.open(path) as ws:
        jid = queue.enqueue(ws, "jobs.probe", {"seconds": 4, "name": "crash"})
    port = _port()
    server = _serve(path, port)

    def status():
        with cxlens.open(path) as w:  # through the running server (shared), or directly
            return queue.get_job(w, jid)

    assert _wait(lambda: status().status == "running", 60)
    os.kill(server.pid, signal.SIGKILL)  # mid-job: it sleeps 4 s before writing
    server.wait()
    with cxlens.open(path) as ws:
        job = queue.get_job(ws, jid)
        assert job.status == "running" and load_result(ws, "probe:crash") is None  # nothing written
    server = _serve(path, _port())
    try:
        assert _wait(lambda: status().status == "done", 90), status()
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=60)
    with cxlens.open(path) as ws:
        job = queue.get_job(ws, jid)
        res = load_result(ws, "probe:crash")
        assert job.status == "done" and job.attempts == 2
        assert res.meta["completions"] == 1 and res.meta["job_id"] == jid
        assert json.loads(ws.scalar("SELECT result FROM jobs WHERE job_id = ?", [jid]))["name"] == "probe:crash"


def test_registered_kinds_include_the_model_jobs():
    assert {"models.fit", "risk.revenue", "voice.analyse", "voice.themes", "jobs.probe"} <= set(REGISTRY)
