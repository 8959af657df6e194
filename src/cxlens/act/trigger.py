"""Feedback rules fire here, in the transaction that inserts the feedback (the outbox).

:func:`on_feedback` is registered with :func:`cxlens.store.hooks.on_insert` for ``feedback``: every
writer of feedback rows (imports, ``ws.load``/``ws.insert``, survey answers from the widget, links
and the API) calls it with the rows it just inserted. For each active feedback rule it selects the
new rows matching the rule's conditions, drops those throttled (one alert per customer per rule per
``window``; answers older than ``max_age`` never fire, so importing last year's file is quiet), and
writes — in the same transaction — one ``act_alerts`` row per firing, one ``act_deliveries`` row and
one ``act.deliver`` job per message action (the job's unique slot is the delivery id: the idempotency
key a receiver sees as ``webhook-id``), and the cases of ``case`` actions. The feedback and its
outbox commit together or not at all.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import secrets
from collections.abc import Sequence
from typing import Any

from cxlens.act.cases import create_case
from cxlens.act.classify import team_for
from cxlens.act.rules import DEFAULT_ATTEMPTS, Rule, current_rules, parse_duration, quiet_until
from cxlens.jobs import queue
from cxlens.store import hooks

__all__ = [
    "KIND",
    "active_rules",
    "digest_alert_id",
    "feedback_where",
    "period",
    "fire",
    "fire_many",
    "matcher",
    "matches",
    "on_feedback",
    "throttled",
    "unthrottled",
]

#: the job kind that sends one delivery
KIND = "act.deliver"
_FIELDS = ("feedback_id", "customer_id", "metric", "score", "comment", "touchpoint", "survey_id", "ts")
_ROW_FIELDS = (*_FIELDS, "channel", "stage")
#: at most this many inserted rows are tested in Python (one read); a bigger import runs one query per rule
PY_ROWS = 500
#: parsed rules per workspace and version of ``act_rules`` (rules change rarely; answers arrive often)
_CACHE: dict[Any, list[Rule]] = {}
#: the prepared test of each cached rule (by the id of the cached Rule object)
_MATCHERS: dict[int, Any] = {}
_COLUMN = {"metric": "metric", "touchpoint": "touchpoint", "survey": "survey_id", "channel": "channel",
           "stage": "stage"}  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def feedback_where(conditions: dict[str, Any]) -> tuple[str, list[Any]]:
    """The SQL condition (on alias-free feedback columns) and its parameters for a feedback rule."""
    where, params = ["TRUE"], []
    for key, col in _COLUMN.items():
        if key in conditions:
            vals = conditions[key]
            where.append(f"lower({col}) IN ({', '.join('?' * len(vals))})")
            params += [v.lower() for v in vals]
    score = conditions.get("score")
    if score:
        if "min" in score:
            where.append("score >= ?")
            params.append(score["min"])
        if "max" in score:
            where.append("score <= ?")
            params.append(score["max"])
    comment = conditions.get("comment") or {}
    if comment.get("present") is True:
        where.append("nullif(trim(comment), '') IS NOT NULL")
    elif comment.get("present") is False:
        where.append("nullif(trim(comment), '') IS NULL")
    if comment.get("contains"):
        where.append("(" + " OR ".join("contains(lower(coalesce(comment, '')), ?)" for _ in comment["contains"]) + ")")
        params += comment["contains"]
    return " AND ".join(where), params


def _matches(cur: Any, rule: Rule, select_sql: str, params: Sequence[Any], now: dt.datetime) -> list[dict[str, Any]]:
    where, wparams = feedback_where(rule.conditions)
    rows = cur.execute(
        f"SELECT {', '.join(_FIELDS)} FROM ({select_sql}) f WHERE {where} AND ts >= ? ORDER BY ts, feedback_id",
        [*params, *wparams, now - dt.timedelta(seconds=rule.max_age)],
    ).fetchall()
    return [dict(zip(_FIELDS, r, strict=True)) for r in rows]


def throttled(cur: Any, rule: Rule, customers: list[str], now: dt.datetime) -> set[str]:
    """Which of ``customers`` already had an alert of ``rule`` within its window."""
    if not customers or rule.window <= 0:
        return set()
    rows = cur.execute(
        "SELECT DISTINCT customer_id FROM act_alerts WHERE rule = ? AND created_at > ? "
        "AND list_contains(?::VARCHAR[], customer_id)",
        [rule.name, now - dt.timedelta(seconds=rule.window), customers],
    ).fetchall()
    return {r[0] for r in rows}


def unthrottled(cur: Any, rule: Rule, rows: list[dict[str, Any]], now: dt.datetime) -> list[dict[str, Any]]:
    """The ``rows`` that may alert under ``rule``: one per customer per window (a customer alerted within
    it, or twice in ``rows``, keeps only the first); rows without a customer always pass."""
    seen = throttled(cur, rule, sorted({r["customer_id"] for r in rows if r["customer_id"]}), now)
    out = []
    for row in rows:
        cid = row["customer_id"]
        if cid and rule.window > 0:
            if cid in seen:
                continue
            seen.add(cid)
        out.append(row)
    return out


def fire(store: Any, cur: Any, rule: Rule, row: dict[str, Any], now: dt.datetime, trigger: str = "feedback") -> str:
    """Write one alert of ``rule`` about ``row`` with its deliveries (jobs) and cases; returns the alert id."""
    alert_id = "al_" + secrets.token_hex(8)
    cur.execute(
        "INSERT INTO act_alerts VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [alert_id, rule.name, rule.version, row.get("customer_id"), row.get("feedback_id"), trigger,
         row.get("metric"), row.get("score"), row.get("comment"), row.get("touchpoint"), row.get("survey_id"),
         row.get("ts"), now],
    )  # fmt: skip
    for i, action in enumerate(rule.actions):
        (kind, opts), *_ = action.items()
        if kind == "case":
            create_case(store, customer_id=row.get("customer_id"), team=team_for(opts, row),
                        priority=opts.get("priority", "normal"), owner=opts.get("owner"), rule=rule.name,
                        alert_id=alert_id, feedback_id=row.get("feedback_id"),
                        due=parse_duration(opts["due"], "due") if "due" in opts else None, now=now)  # fmt: skip
            continue
        delivery_id = f"{alert_id}.{i}"
        job_id = queue.enqueue(store, KIND, {"delivery_id": delivery_id}, slot=f"act:{delivery_id}",
                               max_attempts=int(opts.get("attempts", DEFAULT_ATTEMPTS)),
                               run_after=quiet_until(opts, now))  # fmt: skip
        cur.execute(
            "INSERT INTO act_deliveries VALUES (?, ?, ?, ?, ?, ?, ?, 'queued', NULL, NULL, NULL, ?)",
            [delivery_id, alert_id, row.get("customer_id"), rule.name, kind, json.dumps(action), job_id, now],
        )
    return alert_id


def _values(cur: Any, table: str, width: int, rows: list[list[Any]], chunk: int = 200) -> None:
    """A multi-row INSERT of ``rows`` (``width`` values each) into ``table``, ``chunk`` rows a statement."""
    one = "(" + ", ".join("?" * width) + ")"
    for at in range(0, len(rows), chunk):
        part = rows[at : at + chunk]
        cur.execute(f"INSERT INTO {table} VALUES {', '.join([one] * len(part))}", [v for r in part for v in r])


def fire_many(store: Any, cur: Any, firings: list[tuple[Rule, dict[str, Any]]], now: dt.datetime,
              trigger: str = "feedback") -> list[str]:  # fmt: skip
    """:func:`fire` for many (rule, row) firings at once: one multi-row INSERT each for the alerts, the
    deliveries and their jobs (a burst of answers costs a few statements, not four per alert); the
    cases of ``case`` actions are opened one by one. Returns the alert ids, in order."""
    alerts: list[list[Any]] = []
    pending: list[tuple[str, str, str, Any, str, dict[str, Any]]] = []  # delivery, alert, kind, customer, rule, action
    jobs: list[tuple[dict[str, Any], str | None, int, dt.datetime | None]] = []
    ids = []
    counts = _period_counts(cur, [r for r, _ in firings], now)
    digests: dict[str, Rule] = {}
    for rule, row in firings:
        alert_id = "al_" + secrets.token_hex(8)
        ids.append(alert_id)
        alerts.append([alert_id, rule.name, rule.version, row.get("customer_id"), row.get("feedback_id"), trigger,
                       row.get("metric"), row.get("score"), row.get("comment"), row.get("touchpoint"),
                       row.get("survey_id"), row.get("ts"), now])  # fmt: skip
        flooded = False
        if rule.name in counts:
            counts[rule.name] += 1
            if counts[rule.name] > rule.digest_after:  # a flood: this one goes into the period's digest
                digests[rule.name] = rule
                flooded = True
        for i, action in enumerate(rule.actions):
            (kind, opts), *_ = action.items()
            if kind == "case" or (flooded and kind != "survey"):  # a survey goes to its customer, flood or not
                continue
            delivery_id = f"{alert_id}.{i}"
            pending.append((delivery_id, alert_id, kind, row.get("customer_id"), rule.name, action))
            jobs.append(({"delivery_id": delivery_id}, f"act:{delivery_id}",
                         int(opts.get("attempts", DEFAULT_ATTEMPTS)), quiet_until(opts, now)))  # fmt: skip
    for rule in digests.values():
        start, end = period(rule, now)
        digest_id = digest_alert_id(rule.name, start)
        if cur.execute("SELECT 1 FROM act_alerts WHERE alert_id = ?", [digest_id]).fetchone():
            continue  # this period's digest is already queued
        alerts.append([digest_id, rule.name, rule.version, None, None, "digest", None, None,
                       json.dumps({"from": start.isoformat(), "until": end.isoformat(), "after": rule.digest_after}),
                       None, None, start, now])  # fmt: skip
        for i, action in enumerate(rule.actions):
            (kind, opts), *_ = action.items()
            if kind in ("case", "survey"):
                continue
            delivery_id = f"{digest_id}.{i}"
            pending.append((delivery_id, digest_id, kind, None, rule.name, action))
            jobs.append(({"delivery_id": delivery_id}, f"act:{delivery_id}",
                         int(opts.get("attempts", DEFAULT_ATTEMPTS)), quiet_until(opts, end) or end))  # fmt: skip
    _values(cur, "act_alerts", 13, alerts)
    # an alert's deliveries have slots made from its random id (new), a digest's from its rule and period
    fresh = [i for i, p in enumerate(pending) if not p[1].startswith("dg_")]
    job_ids: list[str | None] = [None] * len(jobs)
    for idx, new in ((fresh, True), ([i for i, p in enumerate(pending) if p[1].startswith("dg_")], False)):
        if idx:
            for i, j in zip(idx, queue.enqueue_many(store, KIND, [jobs[i] for i in idx], new_slots=new), strict=True):
                job_ids[i] = j
    _values(cur, "act_deliveries", 12, [
        [d, a, c, r, k, json.dumps(act), j, "queued", None, None, None, now]
        for (d, a, k, c, r, act), j in zip(pending, job_ids, strict=True)])  # fmt: skip
    for (rule, row), alert_id in zip(firings, ids, strict=True):
        for action in rule.actions:
            (kind, opts), *_ = action.items()
            if kind == "case":
                create_case(store, customer_id=row.get("customer_id"), team=team_for(opts, row),
                            priority=opts.get("priority", "normal"), owner=opts.get("owner"), rule=rule.name,
                            alert_id=alert_id, feedback_id=row.get("feedback_id"),
                            due=parse_duration(opts["due"], "due") if "due" in opts else None, now=now)  # fmt: skip
    return ids


def period(rule: Rule, now: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    """The digest period of ``rule`` holding ``now``: clock-aligned (an hour from :00, a day from 00:00 UTC)."""
    epoch = dt.datetime(1970, 1, 1)
    per = rule.digest_per
    start = epoch + dt.timedelta(seconds=((now - epoch).total_seconds() // per) * per)
    return start, start + dt.timedelta(seconds=per)


def digest_alert_id(rule: str, start: dt.datetime) -> str:
    """The one digest alert of ``rule`` for the period starting at ``start`` (its deliveries' key)."""
    return "dg_" + hashlib.sha256(f"{rule}\x00{start.isoformat()}".encode()).hexdigest()[:16]


def _period_counts(cur: Any, rules: Sequence[Rule], now: dt.datetime) -> dict[str, int]:
    """Alerts so far in the current digest period, per rule that has flood control and a message action
    (one statement per distinct period start: usually one for the whole batch)."""
    by_start: dict[dt.datetime, list[str]] = {}
    for rule in {r.name: r for r in rules}.values():
        if rule.digest_after > 0 and any(next(iter(a)) not in ("case", "survey") for a in rule.actions):
            by_start.setdefault(period(rule, now)[0], []).append(rule.name)
    out: dict[str, int] = {}
    for start, names in by_start.items():
        out.update(dict.fromkeys(names, 0))
        out.update(dict(cur.execute(
            "SELECT rule, count(*) FROM act_alerts WHERE created_at >= ? AND list_contains(?::VARCHAR[], rule) "
            "AND trigger NOT IN ('test', 'digest') GROUP BY rule", [start, names]).fetchall()))  # fmt: skip
    return out


def matches(conditions: dict[str, Any], row: dict[str, Any]) -> bool:
    """Whether ``row`` meets ``conditions`` — the test of :func:`feedback_where`, in Python (for the few
    rows a survey answer inserts; a test checks both agree)."""
    for key, col in _COLUMN.items():
        if key in conditions:
            v = row.get(col)
            if v is None or str(v).lower() not in {x.lower() for x in conditions[key]}:
                return False
    score = conditions.get("score")
    if score:
        v = row.get("score")
        if v is None or ("min" in score and v < score["min"]) or ("max" in score and v > score["max"]):
            return False
    comment = conditions.get("comment") or {}
    text = row.get("comment")
    present = text is not None and text.strip(" ") != ""
    if comment.get("present") is True and not present:
        return False
    if comment.get("present") is False and present:
        return False
    return not (comment.get("contains") and not any(w in (text or "").lower() for w in comment["contains"]))


def matcher(conditions: dict[str, Any]) -> Any:
    """:func:`matches` with the conditions prepared once: ``fn(row) -> bool`` (a burst of answers is
    tested against every rule; lowering the same lists for each row cost more than the test)."""
    sets = [(col, frozenset(x.lower() for x in conditions[key])) for key, col in _COLUMN.items() if key in conditions]
    score = conditions.get("score") or {}
    lo, hi = score.get("min"), score.get("max")
    comment = conditions.get("comment") or {}
    present, words = comment.get("present"), comment.get("contains")

    def test(row: dict[str, Any]) -> bool:
        for col, allowed in sets:
            v = row.get(col)
            if v is None or str(v).lower() not in allowed:
                return False
        if score:
            v = row.get("score")
            if v is None or (lo is not None and v < lo) or (hi is not None and v > hi):
                return False
        if present is not None or words:
            text = row.get("comment")
            has = text is not None and text.strip(" ") != ""
            if present is True and not has or present is False and has:
                return False
            if words and not any(w in (text or "").lower() for w in words):
                return False
        return True

    return test


def active_rules(store: Any, cur: Any, triggers: Sequence[str]) -> list[Rule]:
    """The active rules of ``triggers``, parsed once per version of ``act_rules`` (its row count, the
    sum of versions and the last change) and shared by every trigger (feedback, routing, frustration)."""

    def read() -> Any:
        return cur.execute("SELECT count(*), coalesce(sum(version), 0), max(changed_at) FROM act_rules").fetchone()

    # kept until act_rules changes, even when read inside the write transaction of a batch of answers
    memo = getattr(getattr(store, "store", store), "memo", None)
    sig = memo(("act.rules.sig",), ("act_rules",), read, in_write=True) if memo else read()
    if not sig[0]:
        return []
    key = (getattr(store, "path", None) or id(store), *sig)
    got = _CACHE.get(key)
    if got is None:
        if len(_CACHE) > 64:
            _CACHE.clear()
            _MATCHERS.clear()
        got = _CACHE[key] = current_rules(cur)
        for r in got:
            if r.trigger == "feedback":
                _MATCHERS[id(r)] = matcher(r.conditions)
    return [r for r in got if r.trigger in triggers]


def on_feedback(store: Any, cur: Any, select_sql: str, params: Sequence[Any],
                rows: Sequence[dict[str, Any]] | None = None) -> None:  # fmt: skip
    """The ``feedback`` insert hook: fire the active feedback rules on the rows just inserted (``rows``:
    those rows, when the writer holds them — a batch of survey answers is not read again)."""
    rules = active_rules(store, cur, ("feedback",))
    if not rules:
        return
    now = _now()
    if rows is not None and len(rows) <= PY_ROWS:
        few = [tuple(r.get(c) for c in _ROW_FIELDS) for r in rows]
    else:
        few = cur.execute(f"SELECT {', '.join(_ROW_FIELDS)} FROM ({select_sql}) f LIMIT {PY_ROWS + 1}",
                          list(params)).fetchall()  # fmt: skip
    by_rule: dict[str, list[dict[str, Any]]] = {}
    if len(few) <= PY_ROWS:  # a survey answer, a small load: one read, rules tested in Python
        rows = [dict(zip(_ROW_FIELDS, r, strict=True)) for r in few]
        for rule in rules:
            oldest = now - dt.timedelta(seconds=rule.max_age)
            test = _MATCHERS.get(id(rule)) or matcher(rule.conditions)
            hit = [r for r in rows if r["ts"] is not None and r["ts"] >= oldest and test(r)]
            if hit:
                by_rule[rule.name] = sorted(hit, key=lambda r: (r["ts"], str(r["feedback_id"])))
    else:  # a big import: one query per rule
        for rule in rules:
            if hit := _matches(cur, rule, select_sql, params, now):
                by_rule[rule.name] = hit
    firings: list[tuple[Rule, dict[str, Any]]] = []
    for rule in rules:
        rows = by_rule.get(rule.name)
        if not rows:
            continue
        firings += [(rule, row) for row in unthrottled(cur, rule, rows, now)]
    if firings:
        fire_many(store, cur, firings, now)
    if firings and hasattr(store, "changed"):
        store.changed("act_alerts", "act_deliveries", "act_cases", "act_case_events", "jobs")


hooks.on_insert("feedback", on_feedback, rows=True)
