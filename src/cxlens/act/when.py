"""The options of the time-based triggers checked: ``schedule`` (a digest at set times) and ``metric``
(a significant move between periods); :mod:`cxlens.act.schedule` runs them. Errors name the field."""

from __future__ import annotations

import re
from typing import Any

from cxlens.errors import ConfigError

__all__ = [
    "CHECK_CRON",
    "DAYS",
    "METRICS",
    "METRIC_OPTIONS",
    "OPTIONS",
    "PERIODS",
    "check_cron",
    "check_keys",
    "check_metric",
    "check_schedule",
    "check_tz",
]

METRICS = ("nps", "csat", "ces")
DAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
PERIODS = ("day", "week", "month")
OPTIONS = ("every", "at", "on", "cron", "tz", "period", "metrics", "themes")
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def check_keys(where: str, cond: Any, known: tuple[str, ...], example: str, what: str = "option") -> dict[str, Any]:
    """A trigger's options: a mapping (else an error showing ``example``) whose keys are all ``known``."""
    if not isinstance(cond, dict):
        raise ConfigError(f"{where} is {cond!r}; expected {example}")
    for k in cond:
        if k not in known:
            raise ConfigError(f"{where} has unknown {what} {k!r}; expected one of {', '.join(known)}")
    return cond


def check_cron(where: str, cron: Any, example: str | None = None) -> str:
    """A 5-field cron expression (``where.cron`` in the error, with ``example`` when given)."""
    from croniter import croniter

    if not isinstance(cron, str) or not croniter.is_valid(cron):
        such = f" such as '{example}'" if example else ""
        raise ConfigError(f"{where}.cron is {cron!r}; expected a 5-field cron expression{such}")
    return cron


def check_tz(where: str, tz: Any) -> str:
    """An IANA time zone name (``where.tz`` in the error)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.tz is {tz!r}; expected a time zone such as 'Europe/Paris'") from None
    return str(tz)


def check_schedule(where: str, cond: Any) -> dict[str, Any]:
    """The ``schedule`` trigger's options checked (errors name the field)."""
    check_keys(where, cond, OPTIONS, "e.g. {every: day, at: '08:00', tz: Europe/Paris}")
    out = dict(cond)
    if ("every" in cond) == ("cron" in cond):
        raise ConfigError(f"{where} needs exactly one of 'every' (day or week) or 'cron' (e.g. '0 8 * * 1')")
    if "cron" in cond:
        check_cron(where, cond["cron"], "0 8 * * 1")
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
    out["tz"] = check_tz(where, cond.get("tz", "UTC"))
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


METRIC_OPTIONS = ("metric", "period", "touchpoint", "channel", "segment", "direction", "allow_small", "cron", "tz")
#: when a metric rule checks, by period: just after the period ends (UTC)
CHECK_CRON = {"day": "15 0 * * *", "week": "15 0 * * 1", "month": "15 0 1 * *"}


def check_metric(where: str, cond: Any) -> dict[str, Any]:
    """The ``metric`` trigger's options checked (errors name the field)."""
    check_keys(where, cond, METRIC_OPTIONS, "e.g. {metric: nps, period: week, direction: down}")
    if cond.get("metric") not in METRICS:
        raise ConfigError(f"{where}.metric is {cond.get('metric')!r}; expected one of {', '.join(METRICS)}")
    out: dict[str, Any] = {"metric": cond["metric"]}
    out["period"] = cond.get("period", "week")
    if out["period"] not in PERIODS:
        raise ConfigError(f"{where}.period is {out['period']!r}; expected one of {', '.join(PERIODS)}")
    for k in ("touchpoint", "channel"):
        if k in cond:
            v = [cond[k]] if isinstance(cond[k], str) else cond[k]
            if not isinstance(v, list) or not v or not all(isinstance(x, str) and x for x in v):
                raise ConfigError(f"{where}.{k} is {cond[k]!r}; expected a name or a list of names")
            out[k] = v
    if "segment" in cond:
        if not isinstance(cond["segment"], str) or not cond["segment"]:
            raise ConfigError(f"{where}.segment is {cond['segment']!r}; expected the name of a saved segment")
        out["segment"] = cond["segment"]
    out["direction"] = cond.get("direction", "any")
    if out["direction"] not in ("up", "down", "any"):
        raise ConfigError(f"{where}.direction is {out['direction']!r}; expected up, down or any")
    out["allow_small"] = cond.get("allow_small", False)
    if not isinstance(out["allow_small"], bool):
        raise ConfigError(f"{where}.allow_small is {out['allow_small']!r}; expected true or false")
    out["cron"] = check_cron(where, cond.get("cron", CHECK_CRON[out["period"]]))
    out["tz"] = check_tz(where, cond.get("tz", "UTC"))
    return out
