"""Scheduled digests: a rule whose trigger is ``schedule`` sends, at each time its schedule names, a
digest of the last complete period to its message actions::

    rules:
      - name: morning-digest
        when: {schedule: {every: day, at: "08:00", tz: Europe/Paris}}
        do:
          - slack: {url_env: CX_SLACK_URL}

The digest: each metric (``metrics``, default NPS and CSAT) over the last complete ``period`` (calendar
day, week from Monday, or month of the rule's time zone ``tz``; default the schedule's own: day or week) with its n and
95 % CI, its change against the period before with the dashboard's test (``ws.metrics.change``: a
z-test for NPS, a two-proportion z-test for CSAT, Welch's t-test for CES; significant at p < 0.05),
the themes mentioned most in the period with their share and change — then the comments without a
theme as the row "Other (no theme)", as on the themes page — and the open cases (by priority, overdue).

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
from collections.abc import Callable
from typing import Any
from zoneinfo import ZoneInfo

import pandas as pd

from cxlens.act.rules import DEFAULT_ATTEMPTS, Rule, active_rules_of, current_rules, quiet_until
from cxlens.act.when import DAYS, check_metric, check_schedule
from cxlens.jobs import JobContext, Schedule, queue, schedule, schedule_source, task

__all__ = [
    "KIND",
    "check_metric",
    "check_schedule",
    "cron_of",
    "digest_content",
    "metric_move",
    "run_schedule",
    "schedules",
    "set_theme_names",
]

#: the job that sends one scheduled digest
KIND = "act.schedule"

#: ``fn(store) -> (names, (other_id, other_name))``: the workspace theme model's theme id → name, and the id
#: and name of the comments without a theme — handed in by the voice layer (:mod:`cxlens.voice.routing`),
#: as act sits below it
ThemeNames = Callable[[Any], tuple[dict[str, str], tuple[str, str]]]
_THEME_NAMES: list[ThemeNames] = []


def set_theme_names(fn: ThemeNames) -> ThemeNames:
    """Register how a digest names its themes (the last one registered wins)."""
    _THEME_NAMES[:] = [fn]
    return fn


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
    for r in active_rules_of(store):
        if r.trigger not in ("schedule", "metric"):
            continue
        s = schedule(f"act:{r.name}", cron_of(r.conditions), KIND, {"rule": r.name}, tz=r.conditions["tz"])
        out.append(dataclasses.replace(s, since=r.changed_at))
    return out


schedule_source(schedules)


@dataclasses.dataclass(frozen=True)
class Periods:
    """The last complete calendar period before a slot and the one before it, in a time zone: the bounds
    as naive UTC (what the tables hold) and the local wall-clock starts (labels)."""

    previous: pd.Timestamp  # naive UTC
    start: pd.Timestamp
    end: pd.Timestamp  # exclusive
    local_previous: pd.Timestamp  # naive local wall clock
    local_start: pd.Timestamp
    local_end: pd.Timestamp
    tz: str
    period: str

    def iso(self, which: str) -> str:
        """``from``/``until`` of a report: naive ISO for UTC (as before), ISO with the offset otherwise."""
        local = getattr(self, f"local_{which}")
        if self.tz == "UTC":
            return str(local.isoformat())
        return str(_utc_of(local, self.tz).tz_localize("UTC").tz_convert(self.tz).isoformat())


def _utc_of(local: pd.Timestamp, tz: str) -> pd.Timestamp:
    """Naive UTC of a naive local wall-clock time in ``tz`` (a skipped time moves forward; an ambiguous
    one is its first occurrence)."""
    if tz == "UTC":
        return local
    aware = local.tz_localize(ZoneInfo(tz), ambiguous=True, nonexistent="shift_forward")
    return aware.tz_convert("UTC").tz_localize(None)


def periods(slot: dt.datetime, period: str, tz: str = "UTC") -> Periods:
    """The last complete calendar ``period`` (day, week from Monday, month) of time zone ``tz`` before
    ``slot`` (naive UTC) and the one before it. A local day across a daylight-saving change lasts 23 or
    25 hours."""
    from cxlens.metrics.common import period_offset, period_start

    local = pd.Timestamp(slot)
    if tz != "UTC":
        local = local.tz_localize("UTC").tz_convert(ZoneInfo(tz)).tz_localize(None)
    end = period_start(local, period)
    start = end - period_offset(period)
    prev = start - period_offset(period)
    return Periods(_utc_of(prev, tz), _utc_of(start, tz), _utc_of(end, tz), prev, start, end, tz, period)


def _measure(m: Any, name: str, p: Periods, filters: Any = None) -> tuple[Any, Any]:
    """(level row, change row) of metric ``name`` over period ``p`` against the one before, with the
    dashboard's test (:func:`cxlens.metrics.change.period_change`: each window measured whole, so a local
    period is one group whatever its UTC hours); None for a window without answers."""
    from cxlens.metrics.change import period_change

    us = pd.Timedelta(microseconds=1)
    cur = getattr(m, name)(start=p.start, end=p.end - us, filters=filters)
    before = getattr(m, name)(start=p.previous, end=p.start - us, filters=filters)
    frames = [f.assign(period=label) for f, label in ((before, p.local_previous), (cur, p.local_start))
              if len(f) and int(f["n"].iloc[0] or 0) > 0]  # fmt: skip
    if not frames or frames[-1]["period"].iloc[0] != p.local_start:
        return None, None
    change = period_change(pd.concat(frames, ignore_index=True), name, [], p.period)
    change = change[pd.to_datetime(change["period"]) == p.local_start]
    return frames[-1].iloc[0], (change.iloc[0] if len(change) else None)


#: how many periods the KPI trend chart of a digest shows (the reported one and those before it)
TREND_PERIODS = 8


def _trend(m: Any, name: str, p: Periods, k: int = TREND_PERIODS) -> list[dict[str, Any]]:
    """The metric over the ``k`` periods ending with ``p`` (local periods, oldest first), each measured
    whole with its 95 % CI and n — the data of the digest's KPI trend chart."""
    from cxlens.metrics.common import period_offset

    us = pd.Timedelta(microseconds=1)
    out = []
    for i in range(k - 1, -1, -1):
        lo = p.local_start - period_offset(p.period, i) if i else p.local_start
        hi = lo + period_offset(p.period)
        df = getattr(m, name)(start=_utc_of(lo, p.tz), end=_utc_of(hi, p.tz) - us)
        if not len(df) or not int(df["n"].iloc[0] or 0):
            continue
        r = df.iloc[0]
        out.append({"period": lo.isoformat(), "value": _num(r[name]), "ci_low": _num(r["ci_low"]),
                    "ci_high": _num(r["ci_high"]), "n": int(r["n"])})  # fmt: skip
    return out


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
    p = periods(slot, period, cond.get("tz", "UTC"))
    m = Metrics(store)
    metrics = []
    for name in cond["metrics"]:
        row, ch = _measure(m, name, p)
        metrics.append({
            "metric": name, "value": _num(row[name]) if row is not None else None,
            "n": int(row["n"]) if row is not None else 0,
            "ci_low": _num(row["ci_low"]) if row is not None else None,
            "ci_high": _num(row["ci_high"]) if row is not None else None,
            "previous": _num(ch["previous"]) if ch is not None else None,
            "previous_n": int(ch["previous_n"]) if ch is not None and not pd.isna(ch["previous_n"]) else 0,
            "delta": _num(ch["delta"]) if ch is not None else None,
            "p_value": _num(ch["p_value"], 4) if ch is not None else None,
            "significant": bool(ch["significant"]) if ch is not None else False,
            "small_sample": bool(ch["small_sample"]) if ch is not None else True,
            "trend": _trend(m, name, p),
        })  # fmt: skip
    themes = _top_themes(store, p, int(cond["themes"])) if cond.get("themes") else []
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    cases = store.read("SELECT priority, count(*) AS n, count(*) FILTER (WHERE due_at < ?) AS overdue FROM act_cases "
                       "WHERE status <> 'closed' GROUP BY priority", [now])  # fmt: skip
    by = {r["priority"]: int(r["n"]) for r in cases.to_dict("records")}
    return {"period": period, "from": p.iso("start"), "until": p.iso("end"), "tz": p.tz, "metrics": metrics,
            "themes": themes, "open_cases": {"total": sum(by.values()), "overdue": int(cases["overdue"].sum()),
                                             "by_priority": by}}  # fmt: skip


def _top_themes(store: Any, p: Periods, k: int) -> list[dict[str, Any]]:
    """The ``k`` primary themes of the most survey comments in period ``p`` (count in the period before
    beside it), then the comments the themes job gave no theme, as one last row "Other (no theme)".

    ``n`` and ``share`` are defined as :func:`cxlens.voice.theme_summary` defines ``size`` and ``share``:
    comments whose stored primary theme it is, and that count over *every* comment the themes job assigned
    in the period (the other group included, themes beyond the top ``k`` too) — the themes page's definition,
    over the digest's period. The other group (``issue`` False) is not counted in ``k`` and is listed only
    when it has comments in the period. ``name`` is the workspace theme model's (the id when the model no
    longer knows it)."""
    if not store.has_table("verbatim_themes"):
        return []
    df = store.read(
        "SELECT t.theme, count(*) FILTER (WHERE f.ts >= ?) AS n, count(*) FILTER (WHERE f.ts < ?) AS previous_n, "
        "sum(count(*) FILTER (WHERE f.ts >= ?)) OVER () AS total "
        "FROM verbatim_themes t JOIN feedback f ON t.verbatim_id = 'feedback:' || f.feedback_id "
        "WHERE f.ts >= ? AND f.ts < ? GROUP BY t.theme",
        [p.start, p.start, p.start, p.previous, p.end],
    )
    df = df[df["n"] > 0]
    if df.empty:
        return []
    total = int(df["total"].iloc[0])
    df = df.assign(_rise=df["n"] - df["previous_n"])
    other = df[df["theme"].isna()]
    top = df[df["theme"].notna()].sort_values(["n", "_rise", "theme"], ascending=[False, False, True]).head(k)
    if not _THEME_NAMES:
        raise RuntimeError("no theme names are registered for the digests; open the workspace with cxlens.open "
                           "(it registers the voice models)")  # fmt: skip
    names, (other_id, other_name) = _THEME_NAMES[0](store)
    rows = [(str(r["theme"]), names.get(str(r["theme"]), str(r["theme"])), True, r) for r in top.to_dict("records")]
    rows += [(other_id, other_name, False, r) for r in other.to_dict("records")]
    return [{"theme": t, "name": name, "issue": issue, "n": int(r["n"]), "share": int(r["n"]) / total,
             "previous_n": int(r["previous_n"])} for t, name, issue, r in rows]  # fmt: skip


def _alert_id(rule: str, slot: dt.datetime) -> str:
    return "sd_" + hashlib.sha256(f"{rule}\x00{slot.isoformat()}".encode()).hexdigest()[:16]


def _queue(store: Any, rule: Rule, slot: dt.datetime, trigger: str, content: dict[str, Any],
           now: dt.datetime) -> str | None:  # fmt: skip
    """Write the alert of ``rule`` for ``slot`` (``content`` in it) and its deliveries, once per slot."""
    alert_id = _alert_id(rule.name, slot)
    with store.transaction(changes=["act_alerts", "act_deliveries", "jobs"]) as cur:
        if cur.execute("SELECT 1 FROM act_alerts WHERE alert_id = ?", [alert_id]).fetchone():
            return None
        cur.execute("INSERT INTO act_alerts VALUES (?, ?, ?, NULL, NULL, ?, ?, NULL, ?, ?, NULL, ?, ?)",
                    [alert_id, rule.name, rule.version, trigger, content.get("metric_name"), json.dumps(content),
                     content.get("touchpoint"), slot, now])  # fmt: skip
        for i, action in enumerate(rule.actions):
            (kind, opts), *_ = action.items()
            delivery_id = f"{alert_id}.{i}"
            job_id = queue.enqueue(store, "act.deliver", {"delivery_id": delivery_id}, slot=f"act:{delivery_id}",
                                   max_attempts=int(opts.get("attempts", DEFAULT_ATTEMPTS)),
                                   run_after=quiet_until(opts, now))  # fmt: skip
            cur.execute("INSERT INTO act_deliveries VALUES (?, ?, NULL, ?, ?, ?, ?, 'queued', NULL, NULL, NULL, ?)",
                        [delivery_id, alert_id, rule.name, kind, json.dumps(action), job_id, now])  # fmt: skip
    return alert_id


def run_schedule(store: Any, rule: Rule, slot: dt.datetime, now: dt.datetime | None = None) -> str | None:
    """Run rule ``rule`` for ``slot``: a schedule rule queues its digest; a metric rule checks its metric
    and queues an alert only when it moved significantly. The alert id, or None (nothing to send, or
    this slot's alert was already queued)."""
    now = now or dt.datetime.now(dt.UTC).replace(tzinfo=None)
    if rule.trigger == "metric":
        move = metric_move(store, rule.conditions, slot)
        if move is None or not move["fires"]:
            return None
        return _queue(store, rule, slot, "metric", move, now)
    return _queue(store, rule, slot, "schedule", digest_content(store, rule.conditions, slot), now)


def metric_move(store: Any, cond: dict[str, Any], slot: dt.datetime) -> dict[str, Any] | None:
    """The change of the rule's metric between the last complete period before ``slot`` and the one
    before, with the dashboard's test (``ws.metrics.change``); ``fires`` when it is significant, in the
    rule's direction, and (unless ``allow_small``) neither period is a small sample. None without data."""
    from cxlens.metrics import Metrics

    period, name = cond["period"], cond["metric"]
    p = periods(slot, period, cond.get("tz", "UTC"))
    m = Metrics(store).in_segment(cond.get("segment"))
    filters = {k: cond[k] for k in ("touchpoint", "channel") if k in cond} or None
    row, ch = _measure(m, name, p, filters)
    if row is None or ch is None:
        return None
    metric = {"metric": name, "value": _num(row[name]), "n": int(row["n"]), "ci_low": _num(row["ci_low"]),
              "ci_high": _num(row["ci_high"]), "previous": _num(ch["previous"]),
              "previous_n": 0 if pd.isna(ch["previous_n"]) else int(ch["previous_n"]), "delta": _num(ch["delta"]),
              "p_value": _num(ch["p_value"], 4), "significant": bool(ch["significant"]),
              "small_sample": bool(ch["small_sample"])}  # fmt: skip
    delta = metric["delta"] or 0.0
    way = cond.get("direction", "any")
    fires = (metric["significant"] and (cond.get("allow_small") or not metric["small_sample"])
             and (way == "any" or (way == "up" and delta > 0) or (way == "down" and delta < 0)))  # fmt: skip
    return {"period": period, "from": p.iso("start"), "until": p.iso("end"), "tz": p.tz, "metrics": [metric],
            "metric_name": name, "direction": "up" if delta > 0 else "down", "fires": bool(fires),
            "touchpoint": ", ".join(cond.get("touchpoint", [])) or None, "channel": ", ".join(cond.get("channel", []))
            or None, "segment": cond.get("segment")}  # fmt: skip


@task(KIND, max_attempts=3, lease=300.0)
def scheduled_digest(ctx: JobContext) -> dict[str, Any]:
    """Run schedule or metric rule ``params.rule`` for slot ``params.slot_time`` (a digest; a metric
    rule's check)."""
    name = ctx.params["rule"]
    rule = next((r for r in current_rules(ctx.store) if r.name == name), None)
    if rule is None or rule.trigger not in ("schedule", "metric"):
        return {"status": "skipped", "reason": f"rule {name!r} is not an active schedule or metric rule"}
    slot = dt.datetime.fromisoformat(ctx.params["slot_time"])
    alert_id = run_schedule(ctx.store, rule, slot)
    return {"status": "queued" if alert_id else "nothing to send", "alert_id": alert_id}
