"""AI routing, frustration and emerging-theme triggers (docs/act.md, "Routing").

* **ticket / verbatim** — every ticket, review and feedback comment committed while a ``ticket`` or
  ``verbatim`` rule is active is classified *in the transaction that commits it* (sentiment, themes,
  emotions, effort, urgency), the classification is stored in ``act_classifications``, and the rules
  that match fire in that same transaction (the outbox, as for feedback rules). The classifier is
  handed in by a higher layer (:func:`set_classifier`; :mod:`cxlens.voice.routing` registers the voice
  models): act sits below voice and cannot import it.
* **frustration** — ``$rageclick``/``$deadclick``/``$errorclick``/``$quickback`` events, as the
  collection service or an import commits them: a rule fires for a customer once their matching
  signals in the last ``within`` reach ``min_count`` (then the rule's ``window`` throttle applies).
* **theme** — the emerging-theme test of :func:`cxlens.voice.emerging_themes` (a theme's share of
  verbatims, last complete period vs the one before, two-proportion z-test), run by the scheduled
  ``act.themes`` job (queued by every job runner, one per rule and period); an emerging theme alerts
  once per rule and period. The test is handed in too (:func:`set_emerging`).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd

from cxlens.act.classify import FRUSTRATION_SIGNALS, glob_match, route_matcher, themes_hit
from cxlens.act.rules import Rule, active_rules_of, current_rules
from cxlens.act.trigger import active_rules, fire_many, throttled, unthrottled
from cxlens.jobs import JobContext, schedule, schedule_source, task
from cxlens.store import hooks

__all__ = [
    "THEME_KIND",
    "classify_items",
    "FRUSTRATION_SIGNALS",
    "emerging",
    "frustration_counts",
    "run_theme_rule",
    "set_classifier",
    "set_emerging",
    "signal_hit",
    "theme_schedules",
]

#: ``fn(store, cursor, items) -> [classification]``: items are ``{"text", "source"}`` mappings; the
#: cursor is the open transaction's (read settings on it)
Classifier = Callable[[Any, Any, list[dict[str, Any]]], list[dict[str, Any]]]
#: ``fn(store, period, at, alpha, min_count) -> DataFrame`` of every theme's growth test
Emerging = Callable[..., pd.DataFrame]
_CLASSIFIER: list[Classifier] = []
_EMERGING: list[Emerging] = []
THEME_KIND = "act.themes"


def set_classifier(fn: Classifier) -> Classifier:
    """Register the classifier of new tickets and verbatims (the last one registered wins)."""
    _CLASSIFIER[:] = [fn]
    return fn


def set_emerging(fn: Emerging) -> Emerging:
    """Register the emerging-theme test the ``theme`` trigger runs (the last one registered wins)."""
    _EMERGING[:] = [fn]
    return fn


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def classify_items(store: Any, cur: Any, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Classify ``items`` (``{"text", "source", …}``) with the registered classifier; each result is the
    item with ``sentiment, sentiment_score, theme, themes, emotions, effort, urgency, analyser`` added."""
    if not items:
        return []
    if not _CLASSIFIER:
        raise RuntimeError("no classifier is registered for the ticket and verbatim rules; open the workspace "
                           "with cxlens.open (it registers the voice models)")  # fmt: skip
    got = _CLASSIFIER[0](store, cur, items)
    return [{**item, **c} for item, c in zip(items, got, strict=True)]


# -- tickets and verbatims -----------------------------------------------------------------------
_SOURCES = {
    # table → (SQL of id, source, customer, ts, text, channel, touchpoint, team, score) over its rows
    "tickets": ("'ticket:' || ticket_id", "'ticket'", "customer_id", "created_at",
                "concat_ws('. ', nullif(trim(subject), ''), nullif(trim(body), ''))", "channel", "touchpoint",
                "team", "NULL::DOUBLE"),
    "reviews": ("'review:' || review_id", "'review:' || coalesce(source, 'review')", "customer_id", "ts",
                "concat_ws('. ', nullif(trim(title), ''), nullif(trim(body), ''))",
                "json_extract_string(properties, '$.channel')", "touchpoint", "NULL", "rating"),
    "feedback": ("'feedback:' || feedback_id", "'feedback:' || metric", "customer_id", "ts", "comment", "channel",
                 "touchpoint", "NULL", "score"),
}  # fmt: skip
_ITEM = ("verbatim_id", "source", "customer_id", "ts", "text", "channel", "touchpoint", "team", "score")


def _on_text(table: str) -> hooks.Hook:
    def hook(store: Any, cur: Any, select_sql: str, params: Sequence[Any]) -> None:
        triggers = ("verbatim",) if table != "tickets" else ("ticket", "verbatim")
        rules = active_rules(store, cur, triggers)
        if not rules:
            return
        now = _now()
        oldest = now - dt.timedelta(seconds=max(r.max_age for r in rules))
        cols = ", ".join(f"{sql} AS {name}" for sql, name in zip(_SOURCES[table], _ITEM, strict=True))
        rows = cur.execute(
            f"SELECT {cols} FROM ({select_sql}) f WHERE {_SOURCES[table][3]} >= ? ORDER BY 4, 1",
            [*params, oldest],
        ).fetchall()
        items = [dict(zip(_ITEM, r, strict=True)) for r in rows if r[4] and str(r[4]).strip()]
        if not items:
            return
        classified = classify_items(store, cur, items)
        values = [[c["verbatim_id"], c["customer_id"], c["source"], c["ts"], c.get("sentiment"),
                   c.get("sentiment_score"), c.get("theme"), json.dumps(c.get("themes") or []),
                   json.dumps(c.get("emotions") or []), bool(c.get("effort")), c.get("urgency"), c.get("analyser"), now]
                  for c in classified]  # fmt: skip
        one = "(" + ", ".join("?" * 13) + ")"
        for at in range(0, len(values), 200):  # multi-row INSERTs (executemany costs ~20 ms a row)
            part = values[at : at + 200]
            cur.execute(f"INSERT OR REPLACE INTO act_classifications VALUES {', '.join([one] * len(part))}",
                        [v for r in part for v in r])  # fmt: skip
        _fire_routes(store, cur, rules, classified, now)

    hook.__name__ = f"route_{table}"
    return hook


def alert_row(c: dict[str, Any]) -> dict[str, Any]:
    """The alert fields of a classified ticket or verbatim (``metric`` = its source, ``score`` = its
    sentiment score, ``comment`` = its text, redacted when sent)."""
    return {"customer_id": c.get("customer_id"), "feedback_id": c["verbatim_id"], "metric": c.get("source"),
            "score": c.get("sentiment_score"), "comment": c.get("text"), "touchpoint": c.get("touchpoint"),
            "survey_id": None, "ts": c.get("ts"), "classification": c}  # fmt: skip


def _fire_routes(store: Any, cur: Any, rules: list[Rule], classified: list[dict[str, Any]], now: dt.datetime) -> None:
    by_trigger: dict[str, list[tuple[Rule, dict[str, Any]]]] = {}
    for rule in rules:
        oldest = now - dt.timedelta(seconds=rule.max_age)
        test = route_matcher(rule.conditions)
        hit = [c for c in classified if (rule.trigger == "verbatim" or c["source"] == "ticket")
               and c["ts"] is not None and c["ts"] >= oldest and test(c)]  # fmt: skip
        if not hit:
            continue
        by_trigger.setdefault(rule.trigger, []).extend((rule, alert_row(c)) for c in unthrottled(cur, rule, hit, now))
    for trigger, firings in by_trigger.items():
        fire_many(store, cur, firings, now, trigger=trigger)
    if by_trigger and hasattr(store, "changed"):
        store.changed("act_alerts", "act_deliveries", "act_cases", "act_case_events", "jobs", "act_classifications")


for _table in _SOURCES:
    hooks.on_insert(_table, _on_text(_table))


# -- frustration ----------------------------------------------------------------------------------
_EVENT_COLS = ("event_id", "customer_id", "anonymous_id", "ts", "name", "url", "selector", "touchpoint")
_EVENT_SQL = ("event_id, customer_id, anonymous_id, ts, name, url, "
              "json_extract_string(CASE WHEN json_valid(properties) THEN properties END, '$.\"$selector\"') AS selector, "
              "touchpoint")  # fmt: skip


def _page(url: Any) -> str | None:
    return None if url is None else str(url).split("#", 1)[0].split("?", 1)[0]


def signal_hit(cond: dict[str, Any], e: dict[str, Any]) -> bool:
    if e["name"] not in {FRUSTRATION_SIGNALS[s] for s in cond["signal"]}:
        return False
    if "url" in cond and not (glob_match(cond["url"], _page(e["url"])) or glob_match(cond["url"], e["url"])):
        return False
    return not ("selector" in cond and not glob_match(cond["selector"], e["selector"]))


def frustration_counts(cur: Any, cond: dict[str, Any], customers: list[str], now: dt.datetime) -> dict[str, int]:
    """Matching signals per customer in the last ``within`` (events already committed in this transaction included)."""
    names = [FRUSTRATION_SIGNALS[s] for s in cond["signal"]]
    rows = cur.execute(
        f"SELECT {_EVENT_SQL} FROM events WHERE list_contains(?::VARCHAR[], customer_id) "
        "AND list_contains(?::VARCHAR[], name) AND ts >= ?",
        [customers, names, now - dt.timedelta(seconds=cond["within"])],
    ).fetchall()
    out: dict[str, int] = {}
    for r in rows:
        e = dict(zip(_EVENT_COLS, r, strict=True))
        if signal_hit(cond, e):
            out[e["customer_id"]] = out.get(e["customer_id"], 0) + 1
    return out


def _describe(e: dict[str, Any], n: int) -> str:
    what = e["name"].lstrip("$")
    return f"{n} {what}{'s' if n != 1 else ''} on {e['url'] or 'a page'}" + (
        f" (element {e['selector']})" if e["selector"] else "")  # fmt: skip


def on_events(store: Any, cur: Any, select_sql: str, params: Sequence[Any]) -> None:
    """The ``events`` insert hook: fire the frustration rules on the behaviour signals just committed."""
    rules = active_rules(store, cur, ("frustration",))
    if not rules:
        return
    now = _now()
    oldest = now - dt.timedelta(seconds=max(r.max_age for r in rules))
    rows = cur.execute(
        f"SELECT {_EVENT_SQL} FROM ({select_sql}) f WHERE list_contains(?::VARCHAR[], name) AND ts >= ? "
        "AND customer_id IS NOT NULL ORDER BY ts, event_id",
        [*params, list(FRUSTRATION_SIGNALS.values()), oldest],
    ).fetchall()
    events = [dict(zip(_EVENT_COLS, r, strict=True)) for r in rows]
    if not events:
        return
    firings: list[tuple[Rule, dict[str, Any]]] = []
    for rule in rules:
        oldest = now - dt.timedelta(seconds=rule.max_age)
        hit = [e for e in events if e["ts"] >= oldest and signal_hit(rule.conditions, e)]
        if not hit:
            continue
        customers = sorted({e["customer_id"] for e in hit})
        seen = throttled(cur, rule, customers, now)
        fresh = [c for c in customers if c not in seen or rule.window <= 0]
        if not fresh:
            continue
        counts = frustration_counts(cur, rule.conditions, fresh, now) if rule.conditions["min_count"] > 1 else {}
        for c in fresh:
            last = [e for e in hit if e["customer_id"] == c][-1]
            n = counts.get(c, sum(e["customer_id"] == c for e in hit))
            if n < rule.conditions["min_count"]:
                continue
            firings.append((rule, {"customer_id": c, "feedback_id": last["event_id"], "metric": last["name"],
                                   "score": float(n), "comment": _describe(last, n), "touchpoint": last["touchpoint"],
                                   "survey_id": None, "ts": last["ts"]}))  # fmt: skip
    if firings:
        fire_many(store, cur, firings, now, trigger="frustration")
        if hasattr(store, "changed"):
            store.changed("act_alerts", "act_deliveries", "act_cases", "act_case_events", "jobs")


hooks.on_insert("events", on_events)


# -- emerging themes ------------------------------------------------------------------------------
def theme_schedules(store: Any) -> list[Any]:
    """The schedules of the active ``theme`` rules (every job runner queues their ``act.themes`` jobs)."""
    if not hasattr(store, "has_table") or not store.has_table("act_rules"):
        return []
    out = []
    for r in active_rules_of(store):
        if r.trigger != "theme":
            continue
        s = schedule(f"act-theme:{r.name}", r.conditions["cron"], THEME_KIND, {"rule": r.name}, tz=r.conditions["tz"])
        out.append(dataclasses.replace(s, since=r.changed_at))
    return out


schedule_source(theme_schedules)


def _last_period(slot: dt.datetime, period: str) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The last complete UTC calendar period before ``slot``: (start, end exclusive)."""
    from cxlens.metrics.common import period_offset, period_start

    end = period_start(slot, period)
    return end - period_offset(period), end


def emerging(store: Any, cond: dict[str, Any], slot: dt.datetime) -> pd.DataFrame:
    """Every theme's growth test for the last complete period before ``slot`` with ``fires``: growing
    (z > 0, p < alpha), at least ``min_count`` verbatims in the period, share grown by ``min_growth``
    or more, and among ``theme`` when given. Columns ``theme, name, period, count, previous,
    period_share, previous_share, growth, z, p_value, fires``."""
    if not _EMERGING:
        raise RuntimeError("no emerging-theme test is registered; open the workspace with cxlens.open")
    start, end = _last_period(slot, cond["period"])
    df = _EMERGING[0](store, period=cond["period"], start=start, end=end, alpha=cond["alpha"])
    cols = ["theme", "name", "period", "count", "previous", "period_share", "previous_share", "growth", "z",
            "p_value", "fires"]  # fmt: skip
    if df is None or not len(df) or "growing" not in df.columns:
        return pd.DataFrame(columns=cols)
    df = df.copy()
    prev = df["previous_share"].astype(float)
    df["growth"] = (df["period_share"].astype(float) / prev.where(prev > 0)).fillna(float("inf"))
    wanted = cond.get("theme")

    def named(r: Any) -> bool:
        if not wanted:
            return True
        return themes_hit(wanted, {"themes": [str(r["theme"]), str(r["name"])]})

    df["fires"] = [bool(r["growing"]) and r["count"] >= cond["min_count"] and r["growth"] >= cond["min_growth"]
                   and named(r) for r in df.to_dict("records")]  # fmt: skip
    return df[cols].sort_values(["fires", "z"], ascending=[False, False], kind="stable").reset_index(drop=True)


def run_theme_rule(store: Any, rule: Rule, slot: dt.datetime, now: dt.datetime | None = None) -> list[str]:
    """Alert ``rule`` once per emerging theme of the period before ``slot``; the alert ids."""
    now = now or _now()
    found = emerging(store, rule.conditions, slot)
    found = found[found["fires"]]
    if not len(found):
        return []
    start, _ = _last_period(slot, rule.conditions["period"])
    with store.transaction(changes=["act_alerts", "act_deliveries", "jobs"]) as cur:
        firings = []
        for r in found.to_dict("records"):
            key = f"theme:{r['theme']}@{start.isoformat()}"
            if cur.execute("SELECT 1 FROM act_alerts WHERE rule = ? AND feedback_id = ?", [rule.name, key]).fetchone():
                continue
            info = {k: (None if isinstance(v, float) and v != v else v) for k, v in r.items() if k != "fires"}
            info["growth"] = None if info["growth"] == float("inf") else round(float(info["growth"]), 3)
            info["from"] = start.isoformat()
            firings.append((rule, {"customer_id": None, "feedback_id": key, "metric": "theme",
                                   "score": float(r["count"]), "comment": json.dumps(info, default=str),
                                   "touchpoint": None, "survey_id": None, "ts": start.to_pydatetime()}))  # fmt: skip
        return fire_many(store, cur, firings, now, trigger="theme") if firings else []


@task(THEME_KIND, max_attempts=3, lease=300.0)
def theme_check(ctx: JobContext) -> dict[str, Any]:
    """Run theme rule ``params.rule`` for slot ``params.slot_time``."""
    name = ctx.params["rule"]
    rule = next((r for r in current_rules(ctx.store) if r.name == name), None)
    if rule is None or rule.trigger != "theme":
        return {"status": "skipped", "reason": f"rule {name!r} is not an active theme rule"}
    ids = run_theme_rule(ctx.store, rule, dt.datetime.fromisoformat(ctx.params["slot_time"]))
    return {"status": "queued" if ids else "nothing emerging", "alerts": ids}
