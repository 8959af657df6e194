"""The options of the routing triggers checked, and their tests on a classified row (errors name the field).

* ``ticket`` / ``verbatim`` — a new ticket or piece of customer text, classified when it is committed
  (sentiment, themes, emotion and effort signals, urgency; :mod:`cxlens.act.route`);
* ``frustration`` — behaviour signals (``$rageclick``, ``$deadclick``, ``$errorclick``, ``$quickback``)
  on a page or element;
* ``theme`` — a theme whose volume grows significantly between periods (the emerging-theme test).

A classification is a mapping ``{sentiment, sentiment_score, theme, themes, emotions, effort,
urgency, source, channel, touchpoint, text}``; :func:`route_matcher` tests one against a rule's
conditions.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable
from typing import Any

from cxlens.act.when import check_cron, check_keys, check_tz
from cxlens.errors import ConfigError

__all__ = [
    "EMOTIONS",
    "FRUSTRATION_SIGNALS",
    "SENTIMENTS",
    "TEAM_BY",
    "URGENCIES",
    "check_frustration",
    "check_route",
    "check_theme",
    "glob_match",
    "route_matcher",
    "team_for",
    "themes_hit",
]

SENTIMENTS = ("negative", "neutral", "positive")
URGENCIES = ("high", "medium", "low")
EMOTIONS = ("anger", "confusion", "gratitude")
#: frustration signal → the ``$…`` event name the browser SDK sends
FRUSTRATION_SIGNALS = {"rageclick": "$rageclick", "deadclick": "$deadclick", "errorclick": "$errorclick",
                       "quickback": "$quickback"}  # fmt: skip
ROUTE_OPTIONS = {
    "ticket": ("urgency", "sentiment", "theme", "emotion", "effort", "channel", "touchpoint", "team", "contains"),
    "verbatim": ("source", "urgency", "sentiment", "theme", "emotion", "effort", "channel", "touchpoint", "contains"),
}
FRUSTRATION_OPTIONS = ("signal", "url", "selector", "min_count", "within")
THEME_OPTIONS = ("emerging", "min_growth", "min_count", "period", "alpha", "theme", "cron", "tz")
#: what a ``case: {team_by: …}`` action may choose its team by
TEAM_BY = ("theme", "urgency", "sentiment", "emotion", "source", "channel", "touchpoint")
_CHOICES = {"sentiment": SENTIMENTS, "urgency": URGENCIES, "emotion": EMOTIONS}


def _names(where: str, v: Any) -> list[str]:
    items = v if isinstance(v, list) else [v]
    if not items or not all(isinstance(x, str | int) and not isinstance(x, bool) and str(x).strip() for x in items):
        raise ConfigError(f"{where} is {v!r}; expected a name or a list of names")
    return [str(x).strip().lower() for x in items]


def check_route(where: str, trigger: str, cond: Any) -> dict[str, Any]:
    """A ``ticket`` or ``verbatim`` trigger's conditions checked."""
    if cond is None:
        return {}
    check_keys(where, cond, ROUTE_OPTIONS[trigger], "conditions such as {urgency: high, sentiment: negative}",
               "condition")  # fmt: skip
    out: dict[str, Any] = {}
    for k, v in cond.items():
        if k == "effort":
            if not isinstance(v, bool):
                raise ConfigError(f"{where}.effort is {v!r}; expected true or false")
            out[k] = v
            continue
        vals = _names(f"{where}.{k}", v)
        if k in _CHOICES:
            bad = [x for x in vals if x not in _CHOICES[k]]
            if bad:
                raise ConfigError(f"{where}.{k} is {bad[0]!r}; expected one of {', '.join(_CHOICES[k])}")
        out[k] = vals
    return out


def check_frustration(where: str, cond: Any) -> dict[str, Any]:
    """A ``frustration`` trigger's conditions checked (``signal`` defaults to ``any``)."""
    if cond is None:
        cond = {}
    check_keys(where, cond, FRUSTRATION_OPTIONS, "e.g. {signal: rageclick, url: '*/checkout*'}", "condition")
    signals = _names(f"{where}.signal", cond.get("signal", "any"))
    for s in signals:
        if s != "any" and s not in FRUSTRATION_SIGNALS:
            raise ConfigError(f"{where}.signal is {s!r}; expected one of {', '.join(FRUSTRATION_SIGNALS)} or any")
    out: dict[str, Any] = {"signal": sorted(FRUSTRATION_SIGNALS) if "any" in signals else signals}
    for k in ("url", "selector"):
        if k in cond:
            if not isinstance(cond[k], str) or not cond[k].strip():
                raise ConfigError(f"{where}.{k} is {cond[k]!r}; expected a pattern such as '*/checkout*' "
                                  "(* matches anything)")  # fmt: skip
            out[k] = cond[k].strip()
    n = cond.get("min_count", 1)
    if not isinstance(n, int) or isinstance(n, bool) or not 1 <= n <= 10_000:
        raise ConfigError(f"{where}.min_count is {n!r}; expected a whole number 1-10000")
    out["min_count"] = n
    out["within"] = cond.get("within", "30m")  # a duration: cxlens.act.rules turns it into seconds
    return out


def check_theme(where: str, cond: Any) -> dict[str, Any]:
    """A ``theme`` trigger's options checked: ``{emerging: true, min_growth: 1.5, period: week}``."""
    check_keys(where, cond, THEME_OPTIONS, "e.g. {emerging: true, min_growth: 1.5}")
    if cond.get("emerging") is not True:
        raise ConfigError(f"{where}.emerging is {cond.get('emerging')!r}; expected true (a theme trigger fires on "
                          "emerging themes)")  # fmt: skip
    out: dict[str, Any] = {"emerging": True}
    g = cond.get("min_growth", 1.0)
    if isinstance(g, bool) or not isinstance(g, int | float) or g < 1:
        raise ConfigError(f"{where}.min_growth is {g!r}; expected a ratio of 1 or more (1.5 = the theme's share "
                          "of verbatims grew by half)")  # fmt: skip
    out["min_growth"] = float(g)
    n = cond.get("min_count", 5)
    if not isinstance(n, int) or isinstance(n, bool) or n < 1:
        raise ConfigError(f"{where}.min_count is {n!r}; expected a whole number of 1 or more")
    out["min_count"] = n
    a = cond.get("alpha", 0.05)
    if isinstance(a, bool) or not isinstance(a, int | float) or not 0 < a < 1:
        raise ConfigError(f"{where}.alpha is {a!r}; expected a significance level between 0 and 1, e.g. 0.05")
    out["alpha"] = float(a)
    period = cond.get("period", "week")
    if period not in ("day", "week", "month"):
        raise ConfigError(f"{where}.period is {period!r}; expected day, week or month")
    out["period"] = period
    if "theme" in cond:
        out["theme"] = _names(f"{where}.theme", cond["theme"])
    default = {"day": "30 0 * * *", "week": "30 0 * * 1", "month": "30 0 1 * *"}[period]
    out["cron"] = check_cron(where, cond.get("cron", default), "30 0 * * 1")
    out["tz"] = check_tz(where, cond.get("tz", "UTC"))
    return out


def glob_match(pattern: str, value: Any) -> bool:
    """``*`` / ``?`` wildcards, case-insensitive (``'*/checkout*'`` matches ``https://shop/checkout/pay``)."""
    return value is not None and fnmatch.fnmatchcase(str(value).lower(), pattern.lower())


def themes_hit(wanted: list[str], cls: dict[str, Any]) -> bool:
    names = [str(t).lower() for t in (cls.get("themes") or [])]
    return any(w == n or re.search(rf"\b{re.escape(w)}", n) for w in wanted for n in names)


def route_matcher(conditions: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """``fn(classification) -> bool`` for a ``ticket``/``verbatim`` rule. Every condition must hold; a list
    means any of its names. ``theme`` matches a theme's id or name, or a word at the start of a word of
    its name (``refund`` matches "Refund and billing"); ``source`` matches the verbatim source
    (``ticket``, ``feedback:nps``, ``review:app-review``) or its part after the colon (``app-review``)."""

    def test(c: dict[str, Any]) -> bool:
        for k, want in conditions.items():
            if k == "effort":
                if bool(c.get("effort")) != want:
                    return False
            elif k == "theme":
                if not themes_hit(want, c):
                    return False
            elif k == "emotion":
                if not set(want) & {str(e).lower() for e in c.get("emotions") or []}:
                    return False
            elif k == "contains":
                text = str(c.get("text") or "").lower()
                if not any(w in text for w in want):
                    return False
            elif k == "source":
                src = str(c.get("source") or "").lower()
                if src not in want and src.partition(":")[2] not in want:
                    return False
            else:
                v = c.get(k)
                if v is None or str(v).lower() not in want:
                    return False
        return True

    return test


def team_for(opts: dict[str, Any], row: dict[str, Any]) -> str | None:
    """The team of a ``case`` action: ``team``, or with ``team_by`` the first value of that part of the
    row's classification named in ``teams`` (themes by name, as ``theme`` conditions match), else ``default``."""
    by = opts.get("team_by")
    if not by:
        return opts.get("team")
    cls = row.get("classification") or {}
    teams = {str(k).lower(): v for k, v in (opts.get("teams") or {}).items()}
    if by == "theme":
        for key, team in teams.items():
            if themes_hit([key], cls):
                return str(team)
    else:
        vals = cls.get("emotions") if by == "emotion" else [cls.get(by)]
        for v in vals or []:
            s = str(v).lower() if v is not None else None
            if s in teams:
                return str(teams[s])
            if by == "source" and s and s.partition(":")[2] in teams:
                return str(teams[s.partition(":")[2]])
    return opts.get("default") or opts.get("team")
