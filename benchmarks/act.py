"""``cxlens bench act``: survey answers through the real server, alerts to a local webhook receiver.

A workspace gets ``rules`` rules (rule *i* fires on NPS answers of touchpoint number ``i // 10`` with
score ``i % 10``, no throttle: each detractor or passive answer fires exactly one rule), 10 active
surveys and the loopback host allowed. ``cxlens serve`` runs over it in a child process (its job
runners deliver); this process runs the webhook receiver and sends answers to the public survey
endpoint at ``rate`` answers a second for ``seconds`` seconds (the widget's call, with a verified
user id). Latency = receiver arrival − the alert's ``created_at`` (stamped in the transaction that
commits the answer), both UTC wall clock on this machine.

``kill=True`` SIGKILLs the server half-way through the stream and starts it again; answers whose
request failed are sent again (same ``responseId``, as the widget retries). Afterwards: every answer
acknowledged must have exactly one alert, every alert's delivery must have reached the receiver
or still be queued in the outbox when the server is stopped after ``drain`` seconds (0 lost), and the receiver must have seen every ``webhook-id`` once (duplicates are counted; the
idempotency key lets a receiver drop them).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import numpy as np

from benchmarks.collect import free_port, stop_server, wait_healthy

__all__ = ["bench_act"]

_ROOT = Path(__file__).resolve().parents[1]
_PATH = os.pathsep.join([str(_ROOT / "src"), str(_ROOT)])
#: touchpoints of the default journey, one survey each
TOUCHPOINTS = ("account", "ad", "app_browse", "billing", "cart", "checkout", "delivery", "homepage",
               "loyalty_program", "newsletter")  # fmt: skip


class _Receiver:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.arrivals: list[tuple[str, dt.datetime, dict[str, Any]]] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as a production webhook endpoint (the sender pools)

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
                with outer.lock:
                    outer.arrivals.append((self.headers.get("webhook-id", ""), at, json.loads(body)))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        class Server(ThreadingHTTPServer):
            # socketserver's listen backlog is 5: a burst of more parallel sends than that lost SYNs, each
            # costing the sender a 1 s (then 3 s) retransmission — latency of the bench, not of the server
            # (a production endpoint listens with a backlog of hundreds: nginx 511, Linux somaxconn 4096)
            request_queue_size = 128
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _log(msg: str) -> None:
    print(f"[bench act {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _start(path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": _PATH + os.pathsep + os.environ.get("PYTHONPATH", "")}
    log_file = path.with_suffix(".server.log")
    log = open(log_file, "ab")  # noqa: SIM115 — a file, not a pipe nobody reads
    proc = subprocess.Popen([sys.executable, "-m", "cxlens", "-w", str(path), "serve", "--port", str(port)],
                            env=env, stdout=subprocess.DEVNULL, stderr=log)  # fmt: skip
    log.close()
    return wait_healthy(proc, port, 180, f"server (log: {log_file})", lambda: log_file.read_text(errors="replace"))


def _cpu_s(pid: int) -> float:
    """CPU seconds (user + system) a process has used so far, from /proc (0 where /proc is absent)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _unsent(path: Path) -> int:
    """Deliveries the running server has not confirmed yet (read through the server sharing the file)."""
    import cxlens

    with cxlens.open(path, read_only=True) as ws:
        return int(ws.scalar("SELECT count(*) FROM act_deliveries WHERE status <> 'sent'"))


def _warm_up(base: str, key: str, path: Path, timeout: float = 120.0) -> float:
    """Bring the server to its steady state before measuring: 20 answers to a survey no rule matches
    start the refresh jobs that new feedback queues (stored journey, paths and persona views, models,
    themes: each at most once per its minimum interval, 30-900 s), then wait until none is running or
    due. Measuring from a cold start would charge those once-a-while jobs to a 10-second stream.
    Returns the seconds the warm-up took."""
    import cxlens

    t0 = time.monotonic()
    with httpx.Client(timeout=30) as client:
        for i in range(20):
            client.post(f"{base}/v1/surveys/warm/responses",
                        json={"writeKey": key, "responseId": f"warm{i}", "anonymousId": f"w{i}", "score": 9})  # fmt: skip
    # the runner queues the refreshes at its next housekeeping pass (every 5 s), one after another as
    # each finds its inputs changed: idle means no job running or due for a whole pass and more (a
    # single idle look 2 s after the answers came before the first pass, and the refreshes — several
    # seconds of CPU — ran inside the measured stream)
    idle_since = None
    while time.monotonic() - t0 < timeout:
        due = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # the queue's times are naive UTC
        with cxlens.open(path, read_only=True) as ws:
            busy = int(ws.scalar("SELECT count(*) FROM jobs WHERE kind <> 'act.deliver' AND (status = 'running' OR "
                                 "(status = 'queued' AND run_after <= ?))", [due]))  # fmt: skip
        now = time.monotonic()
        if busy:
            idle_since = None
        elif idle_since is None:
            idle_since = now
        elif now - idle_since >= 7.0:
            break
        time.sleep(0.5)
    return round(time.monotonic() - t0, 1)


def _prepare(path: Path, rules: int, receiver_port: int) -> tuple[str, str]:
    import cxlens
    from cxlens.collect.identity import rotate_identity_secret
    from cxlens.surveys import create_survey

    with cxlens.open(path) as ws:
        ws.act.allow_host("127.0.0.1", private=True)
        ws.set_setting("surveys.rate_limit", 100_000)  # one load generator address: no per-client limit
        ws.set_setting("surveys.rate_burst", 100_000)
        if rules > 10 * len(TOUCHPOINTS):
            raise ValueError(f"rules is {rules}; expected at most {10 * len(TOUCHPOINTS)}")
        for t in range(max(1, (rules + 9) // 10)):
            create_survey(ws, {"id": f"s{t}", "name": f"NPS {t}", "metric": "nps", "question": "Recommend us?",
                               "status": "active", "touchpoint": TOUCHPOINTS[t],
                               "targeting": {"once_per_person": False}})  # fmt: skip
        ws.act.load_rules({"rules": [
            {"name": f"r{i:03d}", "window": 0, "digest": False, "when": {"feedback": {"metric": "nps", "touchpoint": TOUCHPOINTS[i // 10],
                                                                     "score": i % 10}},
             "do": [{"webhook": {"url": f"http://127.0.0.1:{receiver_port}/hook"}}]} for i in range(rules)]})  # fmt: skip
        create_survey(ws, {"id": "warm", "name": "Warm-up", "metric": "nps", "question": "Recommend us?",
                           "status": "active", "targeting": {"once_per_person": False}})  # fmt: skip
        secret = rotate_identity_secret(ws)
        from cxlens.access import keys

        key = keys.create_key(ws, "write")[1]
    return key, secret


def bench_act(
    *, rules: int = 100, rate: float = 200.0, seconds: float = 10.0, kill: bool = False, seed: int = 0,
    drain: float = 120.0,
) -> dict[str, Any]:  # fmt: skip
    """Run the benchmark; returns figures (latency percentiles in seconds, counts)."""
    from cxlens.collect.identity import user_hash

    rng = np.random.default_rng(seed)
    rec = _Receiver()
    tmp = Path(tempfile.mkdtemp(prefix="cxlens-bench-act-"))
    path = tmp / "act.duckdb"
    key, secret = _prepare(path, rules, rec.port)
    port = free_port()
    server = _start(path, port)
    warm = _warm_up(f"http://127.0.0.1:{port}", key, path)
    _log(f"warmed up in {warm} s (the refresh jobs new feedback queues have run); sending")
    n = int(rate * seconds)
    surveys = max(1, (rules + 9) // 10)
    plan = [(f"r{i}", f"s{int(rng.integers(surveys))}", int(rng.integers(0, 11)), f"u{i % 997}") for i in range(n)]
    acked: dict[str, int] = {}
    url = {"base": f"http://127.0.0.1:{port}"}
    failures = {"n": 0}
    restarted = threading.Event()
    abort = threading.Event()

    # one client for the load generator (httpx.post builds a client, and an SSL context, per call: 85 %
    # of the generator's CPU, taken from the server on this 2-core machine); connections are kept alive
    # as a browser keeps them, and a killed server's are replaced
    client = httpx.Client(timeout=10, limits=httpx.Limits(max_connections=16, max_keepalive_connections=16))

    def send(item: tuple[str, str, int, str]) -> None:
        rid, sid, score, user = item
        body = {"writeKey": key, "responseId": rid, "anonymousId": f"a-{user}", "userId": user,
                "userHash": user_hash(secret, user), "score": score}  # fmt: skip
        for _ in range(600):
            if abort.is_set():
                return
            try:
                r = client.post(f"{url['base']}/v1/surveys/{sid}/responses", json=body)
                if r.status_code in (200, 201):
                    acked[rid] = score
                    return
                failures["n"] += 1
            except httpx.HTTPError:
                failures["n"] += 1
            time.sleep(0.2)  # the server is down (killed): the widget tries again

    # server CPU spent during the send phase (the reliable figure under load; wall clock is noisy)
    cpu = {"base": _cpu_s(server.pid), "spent": 0.0}
    t0 = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        futures = []
        for i, item in enumerate(plan):
            due = t0 + i / rate
            if (delay := due - time.monotonic()) > 0:
                time.sleep(delay)
            if kill and i == n // 2 and not restarted.is_set():
                _log(f"SIGKILL the server after {i} answers sent")
                cpu["spent"] += _cpu_s(server.pid) - cpu["base"]
                stop_server(server, kill=True)
                try:
                    server = _start(path, port)
                except Exception:
                    abort.set()
                    raise
                cpu["base"] = _cpu_s(server.pid)
                _log("server restarted")
                restarted.set()
            futures.append(pool.submit(send, item))
        for f in futures:
            f.result()
    send_s = time.monotonic() - t0
    cpu["spent"] += _cpu_s(server.pid) - cpu["base"]
    client.close()
    _log(f"{len(acked)} answers acknowledged in {send_s:.1f} s; waiting for the deliveries")
    expected = sum(1 for rid, sid, score, _ in plan if rid in acked and score <= 9
                   and f"r{int(sid[1:]) * 10 + score:03d}" in {f"r{i:03d}" for i in range(rules)})  # fmt: skip
    deadline = time.monotonic() + drain
    while time.monotonic() < deadline:
        with rec.lock:
            got = len({a[0] for a in rec.arrivals})
        if got >= expected:
            break
        time.sleep(0.2)
    # a send that reached the receiver just before a SIGKILL is confirmed only when its job's lease
    # (20 s) runs out and it is sent again under the same webhook-id: wait for the outbox to be empty
    while time.monotonic() < deadline and _unsent(path):
        time.sleep(1.0)
    time.sleep(1.0)  # late duplicates, if any, arrive now
    stop_server(server)
    rec.close()
    import cxlens

    with cxlens.open(path, read_only=True) as ws:
        alerts = int(ws.scalar("SELECT count(*) FROM act_alerts"))
        per_answer = ws.rows("SELECT count(*) FROM act_alerts GROUP BY feedback_id HAVING count(*) > 1")
        sent = int(ws.scalar("SELECT count(*) FROM act_deliveries WHERE status = 'sent'"))
        ids = {r[0] for r in ws.rows("SELECT delivery_id FROM act_deliveries")}
        pending = {r[0] for r in ws.rows("SELECT delivery_id FROM act_deliveries WHERE status <> 'sent'")}
    with rec.lock:
        arrivals = list(rec.arrivals)
    seen = [a[0] for a in arrivals]
    first: dict[str, tuple[dt.datetime, dict[str, Any]]] = {}
    for wid, at, body in arrivals:
        first.setdefault(wid, (at, body))
    lat = np.array(
        [(at - dt.datetime.fromisoformat(body["created_at"])).total_seconds() for at, body in first.values()]
    )
    pct = (lambda q: round(float(np.percentile(lat, q)), 3)) if len(lat) else (lambda q: None)
    return {
        "rules": rules, "rate_per_s": rate, "warm_up_s": warm, "answers": n, "answers_acknowledged": len(acked),
        "send_seconds": round(send_s, 2), "answers_per_s": round(len(acked) / send_s, 1) if send_s else None,
        "server_cpu_s_send": round(cpu["spent"], 2),
        "server_cpu_ms_per_answer": round(1000 * cpu["spent"] / len(acked), 2) if acked else None,
        "request_failures_retried": failures["n"], "killed_and_restarted": kill,
        "alerts_expected": expected, "alerts": alerts, "answers_with_two_alerts": len(per_answer),
        "delivered_unique": len(first), "still_queued_at_stop": len(pending - set(first)),
        "lost": len(ids - set(first) - pending), "duplicate_posts": len(seen) - len(set(seen)),
        "deliveries_marked_sent": sent, "latency_p50_s": pct(50), "latency_p95_s": pct(95),
        "latency_max_s": pct(100), "workspace": str(path),
    }  # fmt: skip


if __name__ == "__main__":
    print(json.dumps(bench_act(rate=float(sys.argv[1]) if len(sys.argv) > 1 else 200.0,
                               kill="--kill" in sys.argv), indent=1))  # fmt: skip
