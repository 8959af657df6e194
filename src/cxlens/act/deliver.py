"""Sending: the ``act.deliver`` job, one per delivery (an action of an alert).

The job runner claims it, so it is retried with exponential backoff capped at 60 s (2, 4, … 32, then
60 s; 64 attempts by default, a little over an hour; ``attempts:`` on the action changes it),
honours ``Retry-After`` on a 429, and lands in the dead-letter list when its attempts run out
(:func:`dead_letters`; :func:`retry_delivery` queues it again). A delivery whose destination the SSRF
check refuses is not retried: it is marked ``refused`` and listed with the dead letters.

Idempotency: the delivery id is the ``webhook-id`` header (and Zendesk's ``Idempotency-Key``, the
tickets' ``external_id``); a retry after a lost answer sends the same id, so a receiver that keeps
the ids it saw processes each alert once.

Secrets are read from the environment variables the rule names (``secret_env``, ``url_env``,
``token_env``, ``api_key_env``, ``password_env``) at send time; they are never stored, shown or
logged — error messages name the variable and the host, never a URL that may embed a token.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import http.client
import json
import logging
import os
import secrets
import smtplib
import socket
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

import pandas as pd

from cxlens.act import messages
from cxlens.act.net import connect, resolve_destination
from cxlens.act.rules import DEFAULT_ATTEMPTS, parse_duration
from cxlens.act.trigger import KIND
from cxlens.errors import ConfigError, ForbiddenError, NotFoundError
from cxlens.jobs import JobContext, queue, task

__all__ = [
    "DeliveryError",
    "DeliveryPump",
    "dead_letters",
    "deliveries",
    "delivery_runner",
    "retry_delivery",
    "send",
    "send_email",
    "sign",
]

log = logging.getLogger("cxlens.act")
USER_AGENT = "cxlens-alerts/1"
DEFAULT_TIMEOUT = 10.0


class DeliveryError(RuntimeError):
    """A try failed; ``retry_after`` (seconds) when the receiver said when to come back."""

    def __init__(self, message: str, retry_after: float | None = None, status: int | None = None):
        super().__init__(message)
        self.retry_after = retry_after
        self.status = status


def _env(opts: dict[str, Any], key: str) -> str:
    name = opts[key]
    value = os.environ.get(name)
    if not value:
        raise DeliveryError(f"environment variable {name!r} (option {key}) is not set in the process sending alerts")
    return value


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The Standard Webhooks ``webhook-signature`` header: ``v1,`` + base64 HMAC-SHA256 of
    ``{id}.{timestamp}.{body}`` with the base64-decoded secret (a ``whsec_`` prefix is dropped)."""
    raw = secret[len("whsec_") :] if secret.startswith("whsec_") else secret
    try:
        key = base64.b64decode(raw, validate=True)
    except ValueError:
        raise DeliveryError("the webhook secret is not base64 (expected 'whsec_' + base64, as Standard Webhooks "
                            "secrets are)") from None  # fmt: skip
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        from email.utils import parsedate_to_datetime

        try:
            when = parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        return max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds())


#: idle keep-alive connections by (scheme, host, port, timeout), each with when it was last used: a
#: send takes one (or opens one) and puts it back after reading the answer. http.client rather than
#: httpx: a send cost 0.17 ms of CPU instead of 0.43 (the pump sends an alert per survey answer)
_IDLE: dict[tuple[str, str, int, float], list[tuple[http.client.HTTPConnection, float]]] = {}
_IDLE_LOCK = threading.Lock()
#: seconds an idle connection is kept (receivers close theirs after a few seconds), and how many per host
KEEPALIVE = 5.0
MAX_IDLE = 16
_TLS: list[ssl.SSLContext] = []
#: errors of a kept connection the receiver had closed meanwhile: the request is tried once more on a new one
_STALE = (http.client.RemoteDisconnected, http.client.CannotSendRequest, ConnectionResetError, BrokenPipeError)


def _tls() -> ssl.SSLContext:
    """The TLS context of every send: certificates and host names verified, against certifi's CA
    bundle as httpx did (the system store where certifi is absent)."""
    if not _TLS:
        try:
            import certifi

            _TLS.append(ssl.create_default_context(cafile=certifi.where()))
        except ImportError:
            _TLS.append(ssl.create_default_context())
    return _TLS[0]


def _connection(key: tuple[str, str, int, float], addrs: list[str]) -> tuple[http.client.HTTPConnection, bool]:
    """A kept connection for ``key`` (True) or a new one (False) to one of ``addrs``, the addresses the
    host name resolved to when it was checked (TLS still verifies the certificate against the name)."""
    now = time.monotonic()
    with _IDLE_LOCK:
        idle = _IDLE.get(key) or []
        while idle:
            conn, at = idle.pop()
            if now - at < KEEPALIVE:
                return conn, True
            conn.close()
    scheme, host, port, timeout = key
    if scheme == "https":
        conn: http.client.HTTPConnection = http.client.HTTPSConnection(host, port, timeout=timeout, context=_tls())
    else:
        conn = http.client.HTTPConnection(host, port, timeout=timeout)
    # http.client would look the name up again when it connects: it connects to a checked address instead
    conn._create_connection = lambda address, timeout=None, source=None: connect(addrs, address[1], timeout)  # type: ignore[attr-defined]
    return conn, False


def _keep(key: tuple[str, str, int, float], conn: http.client.HTTPConnection) -> None:
    with _IDLE_LOCK:
        idle = _IDLE.setdefault(key, [])
        if len(idle) < MAX_IDLE:
            idle.append((conn, time.monotonic()))
            return
    conn.close()


def _request(url: str, body: bytes, headers: dict[str, str], timeout: float,
             addrs: list[str]) -> tuple[int, str | None]:  # fmt: skip
    """POST ``body`` to ``url`` on a kept-alive connection; returns (status, Retry-After). Redirects are
    never followed, no cookie is kept, no proxy is used."""
    parts = urlsplit(url)
    scheme, host = parts.scheme, parts.hostname or ""
    key = (scheme, host, parts.port or (443 if scheme == "https" else 80), timeout)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    while True:
        conn, kept = _connection(key, addrs)
        try:
            conn.request("POST", target, body=body, headers=headers)
            r = conn.getresponse()
            r.read()
        except _STALE:
            conn.close()
            if kept:
                continue  # the receiver closed the kept connection: once more, on a new one
            raise
        except BaseException:
            conn.close()
            raise
        if r.will_close:
            conn.close()
        else:
            _keep(key, conn)
        return r.status, r.getheader("retry-after")


def _post(store: Any, url: str, body: bytes, headers: dict[str, str], timeout: float,
          auth: tuple[str, str] | None = None) -> int:  # fmt: skip
    host, addrs = resolve_destination(store, url)
    parts = urlsplit(url)
    if auth is None and parts.username is not None:  # credentials in the URL: basic auth, as httpx sent them
        auth = (unquote(parts.username), unquote(parts.password or ""))
        url = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))
    sent = {"user-agent": USER_AGENT, "content-type": "application/json", **headers}
    if auth is not None:
        sent["authorization"] = "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode()
    try:
        status, retry_after = _request(url, body, sent, timeout, addrs)
    except (OSError, http.client.HTTPException, ValueError) as e:
        raise DeliveryError(f"sending to {host} failed: {type(e).__name__}") from None
    if status == 429:
        raise DeliveryError(f"{host} answered 429 Too Many Requests", _retry_after(retry_after), 429)
    if not 200 <= status < 300:
        raise DeliveryError(f"{host} answered {status}", _retry_after(retry_after), status)
    return status


def _email(store: Any, opts: dict[str, Any], ctx: dict[str, Any], timeout: float) -> int:
    images = messages.email_images(ctx)  # a scheduled digest's charts, inline (multipart/related)
    subject, text, page = messages.email_message(ctx, [(cid, alt) for cid, _, alt in images])
    return send_email(store, opts, list(opts["to"]), subject, text, page, msg_id=ctx["id"],
                      headers={"X-Cxlens-Delivery": ctx["id"]}, timeout=timeout,
                      images=[(cid, png) for cid, png, _ in images])  # fmt: skip


class _SMTP(smtplib.SMTP):
    """smtplib's client connecting to the checked ``addrs`` instead of looking ``host`` up again (STARTTLS
    still verifies the certificate against ``host``)."""

    def __init__(self, addrs: list[str], *args: Any, **kwargs: Any) -> None:
        self._addrs = addrs
        super().__init__(*args, **kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> Any:
        return connect(self._addrs, port, timeout)


def send_email(store: Any, opts: dict[str, Any], to: list[str], subject: str, text: str, html: str | None = None,
               *, msg_id: str | None = None, headers: dict[str, str] | None = None,
               timeout: float = DEFAULT_TIMEOUT, images: list[tuple[str, bytes]] | None = None) -> int:  # fmt: skip
    """Send one e-mail through the SMTP server of ``opts`` (the e-mail action's ``host``, ``port``,
    ``from``, ``starttls``, ``username``, ``password_env``), SSRF-checked like every delivery; returns 250
    or raises :class:`DeliveryError` (the message names the host, never the password). ``images``:
    (Content-ID, PNG) parts beside the HTML in a ``multipart/related`` (the HTML refers to ``cid:…``)."""
    host = opts.get("host") or "localhost"
    port = int(opts.get("port", 587 if opts.get("starttls") else 25))
    _, addrs = resolve_destination(store, host=host, port=port)
    msg = EmailMessage()
    msg["Subject"] = subject
    msg["From"] = opts.get("from") or "cxlens@localhost"
    msg["To"] = ", ".join(to)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(idstring=(msg_id or secrets.token_hex(8)).replace(".", "-"))
    for k, v in (headers or {}).items():
        msg[k] = v
    msg.set_content(text)
    if html is not None:
        msg.add_alternative(html, subtype="html")
        for cid, png in images or []:
            msg.get_payload()[-1].add_related(png, "image", "png", cid=f"<{cid}>", disposition="inline",
                                              filename=cid.split("@")[0] + ".png")  # fmt: skip
    try:
        with _SMTP(addrs, host, port, timeout=timeout) as smtp:
            if opts.get("starttls"):
                smtp.starttls(context=ssl.create_default_context())
            if opts.get("username"):
                smtp.login(str(opts["username"]), _env(opts, "password_env"))
            smtp.send_message(msg)
    except smtplib.SMTPResponseException as e:
        raise DeliveryError(f"SMTP server {host} answered {e.smtp_code}", status=e.smtp_code) from None
    except (OSError, smtplib.SMTPException) as e:
        raise DeliveryError(f"sending e-mail through {host}:{port} failed: {type(e).__name__}") from None
    return 250


#: senders of further actions, registered by their modules: ``fn(store, delivery_id, opts, ctx, timeout) -> status``
#: (``survey``: :mod:`cxlens.act.resurvey`)
SENDERS: dict[str, Any] = {}


def send(store: Any, action: dict[str, Any], ctx: dict[str, Any]) -> int:
    """Send one message of ``action`` about ``ctx``; returns the receiver's status (raises on failure)."""
    (kind, opts), *_ = action.items()
    timeout = parse_duration(opts.get("timeout", DEFAULT_TIMEOUT), "timeout")
    if kind == "email":
        return _email(store, opts, ctx, timeout)
    if kind in SENDERS:
        return SENDERS[kind](store, ctx["id"], opts, ctx, timeout)
    url = opts.get("url") or (_env(opts, "url_env") if opts.get("url_env") else None)
    if kind == "webhook":
        body = json.dumps(messages.webhook_body(ctx), separators=(",", ":")).encode()
        headers = {"webhook-id": ctx["id"], "webhook-timestamp": str(int(time.time()))}
        if opts.get("secret_env"):
            headers["webhook-signature"] = sign(_env(opts, "secret_env"), ctx["id"], int(headers["webhook-timestamp"]),
                                                body)  # fmt: skip
        return _post(store, url, body, headers, timeout)
    if kind == "slack":
        return _post(store, url, json.dumps(messages.slack_message(ctx)).encode(), {}, timeout)
    if kind == "teams":
        return _post(store, url, json.dumps(messages.teams_message(ctx)).encode(), {}, timeout)
    if kind == "zendesk":
        base = str(opts["base_url"]).rstrip("/")
        body = json.dumps(messages.zendesk_ticket(ctx, opts.get("priority", "normal"))).encode()
        return _post(store, f"{base}/api/v2/tickets.json", body, {"idempotency-key": ctx["id"]}, timeout,
                     auth=(f"{opts['email']}/token", _env(opts, "token_env")))  # fmt: skip
    if kind == "freshdesk":
        base = str(opts["base_url"]).rstrip("/")
        body = json.dumps(messages.freshdesk_ticket(ctx, opts.get("priority", "normal"))).encode()
        return _post(store, f"{base}/api/v2/tickets", body, {}, timeout, auth=(_env(opts, "api_key_env"), "X"))
    raise ConfigError(f"action {kind!r} cannot be delivered; expected one of webhook, slack, teams, email, "
                      "zendesk, freshdesk")  # fmt: skip


#: seconds a claimed delivery is held before another worker may take it over (the task's lease)
LEASE = 20.0


_READ = object()


def _attempt(store: Any, delivery_id: str, found: Any = _READ) -> tuple[str, Any]:
    """Try delivery ``delivery_id`` once, writing nothing: ``("gone", None)`` (erased), ``("sent", None)``
    (already sent), ``("ok", http_status)``, ``("refused", detail)`` (SSRF: never retried) or
    ``("error", DeliveryError)``. ``found``: its :func:`~cxlens.act.messages.delivery_context` when
    the caller read it already (None: the delivery is gone)."""
    if found is _READ:
        found = messages.delivery_context(store, delivery_id)  # one statement: the delivery, its alert, the scores
    if found is None:
        return "gone", None  # erased (GDPR) after it was queued: nothing to send
    action, status, ctx = found
    if status == "sent":
        return "sent", None  # already delivered (a manual retry of a done job)
    try:
        if isinstance(ctx, Exception):
            raise ctx
        return "ok", send(store, json.loads(action), ctx)
    except ForbiddenError as e:
        return "refused", str(e)
    except DeliveryError as e:
        return "error", e
    except Exception as e:  # noqa: BLE001 — anything else is a failed try, retried like the others
        return "error", DeliveryError(f"preparing the message failed: {type(e).__name__}: {e}")


def _refused(cur: Any, delivery_id: str, detail: str) -> None:
    cur.execute("UPDATE act_deliveries SET status = 'refused', detail = ?, sent_at = NULL WHERE delivery_id = ?",
                [detail, delivery_id])  # fmt: skip


@task(KIND, max_attempts=DEFAULT_ATTEMPTS, lease=LEASE)
def deliver(ctx: JobContext) -> dict[str, Any]:
    """Send one alert delivery (act_deliveries row ``params.delivery_id``)."""
    store, delivery_id = ctx.store, ctx.params["delivery_id"]
    now = queue.now_utc()
    outcome, value = _attempt(store, delivery_id)
    if outcome in ("gone", "sent"):
        return {"status": outcome}
    if outcome == "refused":  # listed with the dead letters
        ctx.write(lambda cur: _refused(cur, delivery_id, value), changes=["act_deliveries"])
        return {"status": "refused", "detail": value}
    if outcome == "error":
        # the last error is on the job; keep the row's detail in step for the dead-letter list
        with store.transaction(changes=["act_deliveries"]) as cur:
            cur.execute("UPDATE act_deliveries SET detail = ?, http_status = ? WHERE delivery_id = ?",
                        [str(value), value.status, delivery_id])  # fmt: skip
        raise value
    ctx.write(lambda cur: cur.execute(
        "UPDATE act_deliveries SET status = 'sent', http_status = ?, sent_at = ?, detail = NULL "
        "WHERE delivery_id = ?", [value, now, delivery_id]), changes=["act_deliveries"])  # fmt: skip
    return {"status": "sent", "http_status": value}


_LIST = (
    "SELECT d.delivery_id, d.alert_id, d.rule, d.channel, d.customer_id, "
    "CASE WHEN d.status = 'sent' THEN 'sent' WHEN d.status = 'refused' THEN 'refused' "
    "WHEN j.status = 'dead' THEN 'dead' ELSE coalesce(j.status, d.status) END AS status, "
    "coalesce(j.attempts, 0) AS attempts, d.http_status, d.detail, d.created_at, d.sent_at, d.job_id "
    "FROM act_deliveries d LEFT JOIN jobs j USING (job_id)"
)


def deliveries(store: Any, *, status: str | None = None, rule: str | None = None, limit: int = 200) -> pd.DataFrame:
    """Deliveries, newest first; ``status``: queued, running, sent, dead or refused."""
    known = ("queued", "running", "sent", "dead", "refused")
    if status is not None and status not in known:
        raise ConfigError(f"delivery status {status!r} is not known; expected one of {', '.join(known)}")
    where, params = [], []
    if status:
        where.append("status = ?")
        params.append(status)
    if rule:
        where.append("rule = ?")
        params.append(rule)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return store.read(f"SELECT * FROM ({_LIST}) {clause} ORDER BY created_at DESC, delivery_id LIMIT ?",
                      [*params, int(limit)])  # fmt: skip


def dead_letters(store: Any, limit: int = 200) -> pd.DataFrame:
    """Deliveries that gave up (attempts exhausted) or were refused (destination not allowed)."""
    return store.read(f"SELECT * FROM ({_LIST}) WHERE status IN ('dead', 'refused') "
                      "ORDER BY created_at DESC, delivery_id LIMIT ?", [int(limit)])  # fmt: skip


def retry_delivery(store: Any, delivery_id: str) -> dict[str, Any]:
    """Queue a dead or refused delivery again now, with a fresh set of attempts (same idempotency key)."""
    row = store.one(f"SELECT * FROM ({_LIST}) WHERE delivery_id = ?", [delivery_id])
    if row is None:
        raise NotFoundError(f"no delivery {delivery_id!r} in this workspace; `cxlens act dead` lists the dead ones")
    status, job_id = row[5], row[11]
    if status not in ("dead", "refused"):
        raise ConfigError(f"delivery {delivery_id!r} is {status}; only dead or refused deliveries are retried")
    with store.transaction(changes=["act_deliveries", "jobs"]) as cur:
        cur.execute("UPDATE act_deliveries SET status = 'queued', detail = NULL WHERE delivery_id = ?", [delivery_id])
        queue.retry(store, job_id)
    return {"delivery_id": delivery_id, "job_id": job_id, "status": "queued"}


class DeliveryPump:
    """The fast path for alert deliveries in ``cxlens serve``: claims up to ``batch`` due ``act.deliver``
    jobs in one transaction, sends them side by side (``senders`` threads: rounds of 16, read in one
    statement), and records each round's outcomes in one more transaction — both joining the next
    commit of the survey answers' group (:func:`cxlens.surveys.store.group_call`), not a commit of their
    own between its batches. Woken by each commit that queues a delivery (:meth:`wake`), it polls
    only as a fallback.

    Same guarantees as the job runner it stands in for: a claimed job is leased (:data:`LEASE`), so a
    pump killed mid-batch leaves its jobs to be taken over and sent again under the same idempotency
    key; an outcome is recorded only while this pump still holds the job; failures go through
    :func:`cxlens.jobs.queue.fail` (backoff capped at 60 s, ``Retry-After``, dead after the attempts).
    """

    def __init__(self, store: Any, *, batch: int = 64, senders: int = 16, poll: float = 1.0):
        self.store = store
        self.batch = batch
        self.senders = senders
        self.poll = poll
        self.worker = f"{socket.gethostname()}:{os.getpid()}:pump:{secrets.token_hex(3)}"
        self._pool = ThreadPoolExecutor(senders, thread_name_prefix="cxlens-act-send")
        self._stop = threading.Event()
        self._wake = threading.Condition()
        self._woken = False
        self._thread = threading.Thread(target=self._loop, name="cxlens-act-deliveries", daemon=True)
        self.completed = self.failed = 0

    def start(self) -> DeliveryPump:
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the batch in flight (an unrecorded one is sent again after its lease)."""
        self._stop.set()
        self.wake()
        self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def wake(self) -> None:
        with self._wake:
            self._woken = True
            self._wake.notify_all()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                n = self.run_once()
            except Exception:  # the store closing under us, a transient error: try again later
                log.exception("act: delivering alerts failed")
                n = 0
            if n == 0:
                with self._wake:
                    if not self._woken:
                        self._wake.wait(self.poll)
                    self._woken = False

    def run_once(self) -> int:
        """Claim, send and record one batch; returns how many deliveries it handled."""
        with self._wake:
            self._woken = False  # a commit after this point wakes the next round
        claimed = self._shared(lambda: queue.claim_many(self.store, self.worker, KIND, lease=LEASE, limit=self.batch))
        # sent one round of ``senders`` at a time, each round's outcomes committed before the next round
        # starts: a crash repeats at most the sends in flight (same idempotency key), not the whole batch
        for i in range(0, len(claimed), self.senders):
            jobs = claimed[i : i + self.senders]
            # the round's deliveries, alerts and scores in one statement (not one per send)
            ids = [j.params["delivery_id"] for j in jobs]
            found = messages.delivery_contexts(self.store, ids)
            self._record(jobs, list(self._pool.map(lambda d, f=found: _attempt(self.store, d, f.get(d)), ids)))
        return len(claimed)

    def _shared(self, fn: Any) -> Any:
        """``fn()`` (a write transaction) in the next commit of the survey answers' group: the pump's
        claims and records share the answers' commits instead of a commit each between their batches."""
        from cxlens.surveys.store import group_call

        return group_call(self.store, fn)

    def _record(self, jobs: list[Any], outcomes: list[tuple[str, Any]]) -> None:
        """Commit one round's outcomes: sent, refused, or failed (backoff, dead letters)."""
        completed, failed = self._shared(lambda: self._record_now(jobs, outcomes))
        self.completed += completed
        self.failed += failed

    def _record_now(self, jobs: list[Any], outcomes: list[tuple[str, Any]]) -> tuple[int, int]:
        now = queue.now_utc()
        failed = 0
        with self.store.transaction(changes=["jobs", "act_deliveries"]) as cur:
            done = [(j, o, v) for j, (o, v) in zip(jobs, outcomes, strict=True) if o != "error"]
            results = [json.dumps({"status": "sent" if o == "ok" else o,
                                   **({"http_status": v} if o == "ok" else {})}) for _, o, v in done]  # fmt: skip
            held = set(queue.complete_many(self.store, [j.job_id for j, _, _ in done], self.worker, results))
            sent = [(j.params["delivery_id"], v) for j, o, v in done if o == "ok" and j.job_id in held]
            if sent:
                cur.execute(
                    "UPDATE act_deliveries SET status = 'sent', http_status = s.http_status, sent_at = $1, detail = NULL "
                    "FROM (SELECT unnest($2::VARCHAR[]) AS delivery_id, unnest($3::INTEGER[]) AS http_status) s "
                    "WHERE act_deliveries.delivery_id = s.delivery_id",
                    [now, [d for d, _ in sent], [int(v) for _, v in sent]],
                )
            for j, o, v in done:
                if o == "refused" and j.job_id in held:
                    _refused(cur, j.params["delivery_id"], v)
            for j, (o, v) in zip(jobs, outcomes, strict=True):
                if o == "error":
                    status = queue.fail(self.store, j, self.worker, f"DeliveryError: {v}", retry_after=v.retry_after)
                    if status != "lost":
                        cur.execute("UPDATE act_deliveries SET detail = ?, http_status = ? WHERE delivery_id = ?",
                                    [str(v), v.status, j.params["delivery_id"]])  # fmt: skip
                    failed += 1
        return len(held), failed


def delivery_runner(store: Any, *, poll: float = 1.0, batch: int = 64, senders: int = 16) -> DeliveryPump:
    """Start the delivery pump for alert deliveries (``cxlens serve`` runs one beside the main runner,
    so an alert never waits behind a model fit), woken by every commit that queues one."""
    pump = DeliveryPump(store, batch=batch, senders=senders, poll=poll)
    target = getattr(store, "store", store)
    if hasattr(target, "on_commit"):
        target.on_commit(lambda tables: pump.wake() if "act_deliveries" in tables else None)
    return pump.start()
