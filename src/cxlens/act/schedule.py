"""Scheduled digests: a rule whose trigger is ``schedule`` sends, at each time its schedule names, a
digest of the last complete period to its message actions::

    rules:
      - name: morning-digest
        when: {schedule: {every: day, at: "08:00", tz: Europe/Paris}}
        do:
          - slack: {url_env: CX_SLACK_URL}

The digest: each metric (``metrics``, default NPS and CSAT) over the last complete ``period`` (UTC
calendar day, week from Monday, or month; default the schedule's own: day or week) with its n and
95 % CI, its change against the period before with the dashboard's test (``ws.metrics.change``: a
z-test for NPS, a two-proportion z-test for CSAT, Welch's t-test for CES; significant at p < 0.05),
the themes mentioned most in the period with their change, and the open cases (by priority,
overdue).

Every job runner queues the schedules (:func:`cxlens.jobs.schedule_source`, as ``replay.maintain``
is): one ``act.schedule`` job per rule and slot (the slot is its unique key, so two runners queue it
once). The job computes the digest and writes, in one transaction, an alert (trigger ``schedule``, the
digest in it) and its deliveries — sent by the delivery pump with the retries and dead letters of any
alert. A rule created or changed after a slot does not send that slot's digest.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import math
import re
from typing import Any

import pandas as pd

from cxlens.act.rules import DEFAULT_ATTEMPTS, Rule, current_rules, quiet_until
from cxlens.errors import ConfigError
from cxlens.jobs import JobContext, Schedule, queue, schedule, schedule_source, task

__all__ = ["KIND", "check_schedule", "cron_of", "digest_content", "run_schedule", "schedules"]

#: the job that sends one scheduled digest
KIND = "act.schedule"
METRICS = ("nps", "csat", "ces")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PERIODS = ("day", "week", "month")
OPTIONS = ("every", "at", "on", "cron", "tz", "period", "metrics", "themes")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def check_schedule(where: str, cond: Any) -> dict[str, Any]:
    """The ``schedule`` trigger's options checked (errors name the field)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from croniter import croniter

    if not isinstance(cond, dict):
        raise ConfigError(f"{where} is {cond!r}; expected e.g. {{every: day, at: '08:00', tz: Europe/Paris}}")
    for k in cond:
        if k not in OPTIONS:
            raise ConfigError(f"{where} has unknown option {k!r}; expected one of {', '.join(OPTIONS)}")
    out = dict(cond)
    if ("every" in cond) == ("cron" in cond):
        raise ConfigError(f"{where} needs exactly one of 'every' (day or week) or 'cron' (e.g. '0 8 * * 1')")
    if "cron" in cond:
        if not isinstance(cond["cron"], str) or not croniter.is_valid(cond["cron"]):
            raise ConfigError(f"{where}.cron is {cond['cron']!r}; expected a 5-field cron expression such as "
                              "'0 8 * * 1'")  # fmt: skip
        if "at" in cond or "on" in cond:
            raise ConfigError(f"{where}: 'at' and 'on' go with 'every', not with 'cron'")
    else:
        if cond["every"] not in ("day", "week"):
            raise ConfigError(f"{where}.every is {cond['every']!r}; expected day or week (or use cron)")
        at = cond.get("at", "08:00")
        if isinstance(at, int) and not isinstance(at, bool):  # YAML 1.1 reads 08:00 as 480
            raise ConfigError(f"{where}.at is the number {at!r}; write the time in quotes, e.g. "
                              f"at: \"{at // 60:02d}:{at % 60:02d}\"")  # fmt: skip
        if not isinstance(at, str) or not _HHMM.match(at):
            raise ConfigError(f"{where}.at is {at!r}; expected a time of day HH:MM such as '08:00'")
        out["at"] = at
        if "on" in cond:
            if cond["every"] != "week":
                raise ConfigError(f"{where}.on goes with every: week")
            if str(cond["on"]).lower() not in DAYS:
                raise ConfigError(f"{where}.on is {cond['on']!r}; expected a day such as monday")
            out["on"] = str(cond["on"]).lower()
    tz = cond.get("tz", "UTC")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.tz is {tz!r}; expected a time zone such as 'Europe/Paris'") from None
    out["tz"] = str(tz)
    period = cond.get("period", "week" if cond.get("every") == "week" else "day")
    if period not in PERIODS:
        raise ConfigError(f"{where}.period is {period!r}; expected one of {', '.join(PERIODS)}")
    out["period"] = period
    metrics = cond.get("metrics", ["nps", "csat"])
    metrics = [metrics] if isinstance(metrics, str) else metrics
    if not isinstance(metrics, list) or not metrics or any(m not in METRICS for m in metrics):
        raise ConfigError(f"{where}.metrics is {cond.get('metrics')!r}; expected a list of {', '.join(METRICS)}")
    out["metrics"] = list(dict.fromkeys(metrics))
    themes = cond.get("themes", 5)
    if not isinstance(themes, int) or isinstance(themes, bool) or not 0 <= themes <= 20:
        raise ConfigError(f"{where}.themes is {themes!r}; expected how many themes to list, 0-20")
    out["themes"] = themes
    return out


def cron_of(cond: dict[str, Any]) -> str:
    """The 5-field cron expression of a checked schedule."""
    if "cron" in cond:
        return str(cond["cron"])
    hh, mm = int(cond["at"][:2]), int(cond["at"][3:])
    dow = "*" if cond["every"] == "day" else str((DAYS.index(cond.get("on", "monday")) + 1) % 7)
    return f"{mm} {hh} * * {dow}"


def schedules(store: Any) -> list[Schedule]:
    """The schedules of the active ``schedule`` rules (a rule's slots before its last change never run)."""
    if not hasattr(store, "has_table") or not store.has_table("act_rules"):
        return []
    out = []
    for r in current_rules(store):
        if r.trigger != "schedule":
            continue
        s = schedule(f"act:{r.name}", cron_of(r.conditions), KIND, {"rule": r.name}, tz=r.conditions["tz"])
        out.append(dataclasses.replace(s, since=r.changed_at))
    return out


schedule_source(schedules)


def _periods(slot: dt.datetime, period: str) -> tuple[pd.Timestamp, pd.Timestamp, pd.Timestamp]:
    """(previous start, current start, current end exclusive): the last complete UTC calendar period
    before ``slot`` and the one before it."""
    from cxlens.metrics.common import period_offset, period_start

    end = period_start(slot, period)
    start = end - period_offset(period)
    return start - period_offset(period), start, end


def _num(v: Any, digits: int = 1) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else round(f, digits)


def digest_content(store: Any, cond: dict[str, Any], slot: dt.datetime) -> dict[str, Any]:
    """What a scheduled digest says about the period before ``slot`` (naive UTC)."""
    from cxlens.metrics import Metrics

    period = cond["period"]
    prev_start, start, end = _periods(slot, period)
    last = end - pd.Timedelta(microseconds=1)
    m = Metrics(store)
    metrics = []
    for name in cond["metrics"]:
        col = {"nps": "nps", "csat": "csat", "ces": "ces"}[name]
        level = getattr(m, name)(period=period, start=start, end=last)
        change = m.change(name, period=period, start=prev_start, end=last)
        change = change[pd.to_datetime(change["period"]) == start]
        row = level.iloc[0] if len(level) else None
        ch = change.iloc[0] if len(change) else None
        metrics.append({
            "metric": name, "value": _num(row[col]) if row is not None else None,
            "n": int(row["n"]) if row is not None else 0,
            "ci_low": _num(row["ci_low"]) if row is not None else None,
            "ci_high": _num(row["ci_high"]) if row is not None else None,
            "previous": _num(ch["previous"]) if ch is not None else None,
            "previous_n": int(ch["previous_n"]) if ch is not None and not pd.isna(ch["previous_n"]) else 0,
            "delta": _num(ch["delta"]) if ch is not None else None,
            "p_value": _num(ch["p_value"], 4) if ch is not None else None,
            "significant": bool(ch["significant"]) if ch is not None else False,
            "small_sample": bool(ch["small_sample"]) if ch is not None else True,
        })  # fmt: skip
    themes: list[dict[str, Any]] = []
    if cond.get("themes") and store.has_table("verbatim_themes"):
        df = store.read(
            "SELECT t.theme, count(*) FILTER (WHERE f.ts >= ? AND f.ts < ?) AS n, "
            "count(*) FILTER (WHERE f.ts >= ? AND f.ts < ?) AS previous_n "
            "FROM verbatim_themes t JOIN feedback f ON t.verbatim_id = 'feedback:' || f.feedback_id "
            "WHERE f.ts >= ? AND f.ts < ? AND t.theme IS NOT NULL GROUP BY t.theme HAVING n > 0 "
            "ORDER BY n DESC, n - previous_n DESC, t.theme LIMIT ?",
            [start, end, prev_start, start, prev_start, end, int(cond["themes"])],
        )
        themes = [{"theme": str(r["theme"]), "n": int(r["n"]), "previous_n": int(r["previous_n"])}
                  for r in df.to_dict("records")]  # fmt: skip
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cases = store.read("SELECT priority, count(*) AS n, count(*) FILTER (WHERE due_at < ?) AS overdue FROM act_cases "
                       "WHERE status <> 'closed' GROUP BY priority", [now])  # fmt: skip
    by = {r["priority"]: int(r["n"]) for r in cases.to_dict("records")}
    return {"period": period, "from": start.isoformat(), "until": end.isoformat(), "metrics": metrics,
            "themes": themes, "open_cases": {"total": sum(by.values()), "overdue": int(cases["overdue"].sum()),
                                             "by_priority": by}}  # fmt: skip


def _alert_id(rule: str, slot: dt.datetime) -> str:
    return "sd_" + hashlib.sha256(f"{rule}\x00{slot.isoformat()}".encode()).hexdigest()[:16]


def run_schedule(store: Any, rule: Rule, slot: dt.datetime, now: dt.datetime | None = None) -> str | None:
    """Compute rule ``rule``'s digest for ``slot`` and queue its deliveries; the alert id, or None when
    this slot's digest was already queued."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    content = digest_content(store, rule.conditions, slot)
    alert_id = _alert_id(rule.name, slot)
    with store.transaction(changes=["act_alerts", "act_deliveries", "jobs"]) as cur:
        if cur.execute("SELECT 1 FROM act_alerts WHERE alert_id = ?", [alert_id]).fetchone():
            return None
        cur.execute("INSERT INTO act_alerts VALUES (?, ?, ?, NULL, NULL, 'schedule', NULL, NULL, ?, NULL, NULL, ?, ?)",
                    [alert_id, rule.name, rule.version, json.dumps(content), slot, now])  # fmt: skip
        for i, action in enumerate(rule.actions):
            (kind, opts), *_ = action.items()
            delivery_id = f"{alert_id}.{i}"
            job_id = queue.enqueue(store, "act.deliver", {"delivery_id": delivery_id}, slot=f"act:{delivery_id}",
                                   max_attempts=int(opts.get("attempts", DEFAULT_ATTEMPTS)),
                                   run_after=quiet_until(opts, now))  # fmt: skip
            cur.execute("INSERT INTO act_deliveries VALUES (?, ?, NULL, ?, ?, ?, ?, 'queued', NULL, NULL, NULL, ?)",
                        [delivery_id, alert_id, rule.name, kind, json.dumps(action), job_id, now])  # fmt: skip
    return alert_id


@task(KIND, max_attempts=3, lease=300.0)
def scheduled_digest(ctx: JobContext) -> dict[str, Any]:
    """Send the digest of schedule rule ``params.rule`` for slot ``params.slot_time``."""
    name = ctx.params["rule"]
    rule = next((r for r in current_rules(ctx.store) if r.name == name), None)
    if rule is None or rule.trigger != "schedule":
        return {"status": "skipped", "reason": f"rule {name!r} is not an active schedule rule"}
    slot = dt.datetime.fromisoformat(ctx.params["slot_time"])
    alert_id = run_schedule(ctx.store, rule, slot)
    return {"status": "queued" if alert_id else "already queued", "alert_id": alert_id}
