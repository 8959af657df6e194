"""Rules: a trigger, its conditions and the actions to take, written in YAML and stored versioned.

A rules file holds a list under ``rules:``; each rule has a ``name``, a ``when`` (one trigger and its
conditions) and a ``do`` (a list of actions, each a one-key mapping)::

    rules:
      - name: detractor-alert
        when: {feedback: {metric: nps, score: {max: 6}}}
        do:
          - webhook: {url: "https://hooks.example.com/cx", secret_env: CX_HOOK_SECRET}
          - case: {team: support, priority: high}

See docs/act.md for every trigger condition and action option. Every change (load, pause, resume,
delete) stores a new version of the rule with who made it and when; the highest version is current.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
import yaml

from cxlens.errors import ConfigError, NotFoundError

__all__ = [
    "ACTIONS",
    "DIGEST_AFTER",
    "DIGEST_PER",
    "PRIORITIES",
    "QUIET",
    "Rule",
    "active_rules_of",
    "check_quiet_hours",
    "current_rules",
    "delete_rule",
    "get_rule",
    "list_rules",
    "parse_duration",
    "parse_rules",
    "quiet_until",
    "rule_activity",
    "rule_history",
    "rule_yaml",
    "save_rules",
    "set_status",
    "with_diffs",
]

#: the actions a rule can take and the options each accepts (required ones first, marked ``!``)
ACTIONS: dict[str, tuple[str, ...]] = {
    "webhook": ("url", "url_env", "secret_env", "attempts", "timeout"),
    "slack": ("url", "url_env", "attempts", "timeout"),
    "teams": ("url", "url_env", "attempts", "timeout"),
    "email": ("to!", "from", "host", "port", "starttls", "username", "password_env", "attempts", "timeout"),
    "zendesk": ("base_url!", "email!", "token_env!", "priority", "attempts", "timeout"),
    "freshdesk": ("base_url!", "api_key_env!", "priority", "attempts", "timeout"),
    "case": ("team", "priority", "owner", "due", "team_by", "teams", "default"),
    # a personal survey link e-mailed to the customer (the SMTP options of `email`)
    "survey": (
        "survey!",
        "via",
        "subject",
        "expires",
        "from",
        "host",
        "port",
        "starttls",
        "username",
        "password_env",
        "attempts",
        "timeout",
    ),
}
TRIGGERS = {
    "feedback": ("metric", "score", "touchpoint", "survey", "channel", "stage", "comment"),
    # a customer entering a band of a stored model score (cxlens.act.signals)
    "customer": ("churn_risk", "clv"),
    # a time (cxlens.act.schedule): a digest of the last period
    "schedule": ("every", "at", "on", "cron", "tz", "period", "metrics", "themes"),
    # a metric moving significantly between periods (cxlens.act.schedule), checked after each period
    "metric": ("metric", "period", "touchpoint", "channel", "segment", "direction", "allow_small", "cron", "tz"),
    # a new ticket / verbatim, classified when committed; behaviour signals; an emerging theme
    # (cxlens.act.classify checks them, cxlens.act.route runs them)
    "ticket": (),
    "verbatim": (),
    "frustration": (),
    "theme": (),
}
#: triggers without a customer: no case and no survey action
NO_CUSTOMER = ("schedule", "metric", "theme")
#: the range of each customer score a rule may test
SCORE_RANGES = {"churn_risk": (0.0, 1.0), "clv": (float("-inf"), float("inf"))}
PRIORITIES = ("urgent", "high", "normal", "low")
#: a rule's default flood control: more than 10 alerts of one rule in a clock hour and the rest of the
#: hour is one digest (our choice: a channel that gets more than one alert every 6 minutes stops reading)
DIGEST_AFTER, DIGEST_PER = 10, 3600.0
STATUSES = ("active", "paused", "deleted")
#: default attempts of a delivery: 2+4+…+32 s, then 60 s between tries, for a little over an hour
DEFAULT_ATTEMPTS = 64
_NAME = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(s|m|h|d|w)\s*$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(value: Any, what: str) -> float:
    """Seconds in ``"24h"``, ``"30m"``, ``"7d"`` or a number of seconds."""
    if isinstance(value, bool):
        raise ConfigError(f"{what} is {value!r}; expected a duration such as '24h', '30m' or '7d'")
    if isinstance(value, int | float):
        if value < 0:
            raise ConfigError(f"{what} is {value!r}; expected a duration of 0 or more")
        return float(value)
    m = _DURATION.match(str(value))
    if not m:
        raise ConfigError(f"{what} is {value!r}; expected a duration such as '24h', '30m' or '7d'")
    return float(m.group(1)) * _UNITS[m.group(2)]


@dataclass(frozen=True)
class Rule:
    """One checked rule (the stored form is :meth:`to_dict`)."""

    name: str
    trigger: str
    conditions: dict[str, Any]
    actions: tuple[dict[str, Any], ...]
    window: float = 86400.0
    max_age: float = 7 * 86400.0
    description: str | None = None
    status: str = "active"
    version: int = 0
    changed_by: str | None = None
    changed_at: dt.datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)
    #: flood control: past ``digest_after`` alerts in a ``digest_per`` period (clock-aligned), the rest
    #: of the period is one digest message at its end (cases still opened); 0 sends every alert
    digest_after: int = 10
    digest_per: float = 3600.0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.raw)

    def summary(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "status": self.status,
            "trigger": self.trigger,
            "conditions": json.dumps(self.conditions, sort_keys=True),
            "actions": ", ".join(next(iter(a)) for a in self.actions),
            "window_s": self.window,
            "changed_by": self.changed_by,
            "changed_at": self.changed_at,
        }

    def hosts(self) -> list[str]:
        """Destination hosts named literally in the rule's actions (``url``, ``base_url``, ``host``)."""
        out = []
        for a in self.actions:
            (kind, opts), *_ = a.items()
            for key in ("url", "base_url"):
                if opts.get(key):
                    out.append((urlsplit(str(opts[key])).hostname or "").lower())
            if kind in ("email", "survey") and opts.get("host"):
                out.append(str(opts["host"]).lower())
        return out


def _check_score(where: str, v: Any) -> dict[str, float]:
    if isinstance(v, int | float) and not isinstance(v, bool):
        return {"min": float(v), "max": float(v)}
    if not isinstance(v, dict) or not v or set(v) - {"min", "max"}:
        raise ConfigError(f"{where}.score is {v!r}; expected a number or {{min: N, max: N}}")
    out = {}
    for k, x in v.items():
        if isinstance(x, bool) or not isinstance(x, int | float):
            raise ConfigError(f"{where}.score.{k} is {x!r}; expected a number")
        out[k] = float(x)
    if "min" in out and "max" in out and out["min"] > out["max"]:
        raise ConfigError(f"{where}.score has min {out['min']} above max {out['max']}; swap them")
    return out


def _str_list(where: str, v: Any) -> list[str]:
    items = v if isinstance(v, list) else [v]
    if not items or not all(isinstance(x, str | int) and not isinstance(x, bool) and str(x).strip() for x in items):
        raise ConfigError(f"{where} is {v!r}; expected a name or a list of names")
    return [str(x).strip() for x in items]


def _check_conditions(where: str, trigger: str, cond: Any) -> dict[str, Any]:
    if cond is None:
        return {}
    if not isinstance(cond, dict):
        raise ConfigError(f"{where} is {cond!r}; expected a mapping of conditions such as {{metric: nps}}")
    out: dict[str, Any] = {}
    for k, v in cond.items():
        if k not in TRIGGERS[trigger]:
            raise ConfigError(f"{where} has unknown condition {k!r}; expected one of {', '.join(TRIGGERS[trigger])}")
        if k in SCORE_RANGES:  # a threshold: a number is a minimum
            lo, hi = SCORE_RANGES[k]
            band = {"min": v} if isinstance(v, int | float) and not isinstance(v, bool) else v
            if (not isinstance(band, dict) or not band or set(band) - {"min", "max"}
                    or not all(isinstance(x, int | float) and not isinstance(x, bool) and lo <= x <= hi
                               for x in band.values())):  # fmt: skip
                raise ConfigError(f"{where}.{k} is {v!r}; expected a number (a minimum) or {{min: N, max: N}} with "
                                  f"values from {lo:g} to {hi:g}")  # fmt: skip
            if "min" in band and "max" in band and band["min"] > band["max"]:
                raise ConfigError(f"{where}.{k} has min {band['min']} above max {band['max']}; swap them")
            out[k] = {b: float(x) for b, x in band.items()}
        elif k == "score":
            out[k] = _check_score(where, v)
        elif k == "comment":
            if isinstance(v, bool):
                out[k] = {"present": v}
                continue
            if not isinstance(v, dict) or set(v) - {"present", "contains"}:
                raise ConfigError(f"{where}.comment is {v!r}; expected true/false or {{contains: [words]}}")
            c: dict[str, Any] = {}
            if "present" in v:
                if not isinstance(v["present"], bool):
                    raise ConfigError(f"{where}.comment.present is {v['present']!r}; expected true or false")
                c["present"] = v["present"]
            if "contains" in v:
                c["contains"] = [w.lower() for w in _str_list(f"{where}.comment.contains", v["contains"])]
            out[k] = c
        else:
            out[k] = _str_list(f"{where}.{k}", v)
    return out


#: an action option: deliveries due inside these local hours wait until they end
QUIET = "quiet_hours"
_HHMM = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$")


def check_quiet_hours(where: str, value: Any) -> dict[str, Any]:
    """``{from: "22:00", to: "07:00", tz: "Europe/Paris"}`` checked (``tz`` defaults to UTC; a window
    may pass midnight; ``from`` and ``to`` must differ)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    if not isinstance(value, dict) or set(value) - {"from", "to", "tz"} or not {"from", "to"} <= set(value):
        raise ConfigError(f"{where} is {value!r}; expected {{from: '22:00', to: '07:00', tz: 'Europe/Paris'}}")
    for k in ("from", "to"):
        if isinstance(value[k], int) and not isinstance(value[k], bool):  # YAML 1.1 reads 22:00 as 1320
            raise ConfigError(f"{where}.{k} is the number {value[k]!r}; write the time in quotes, e.g. "
                              f"{k}: \"{value[k] // 60:02d}:{value[k] % 60:02d}\" (YAML reads an unquoted "
                              "22:00 as minutes)")  # fmt: skip
        if not isinstance(value[k], str) or not _HHMM.match(value[k]):
            raise ConfigError(f"{where}.{k} is {value[k]!r}; expected a time of day HH:MM such as '22:00'")
    if value["from"] == value["to"]:
        raise ConfigError(f"{where}: 'from' and 'to' are both {value['from']!r}; expected a window of some length")
    tz = value.get("tz", "UTC")
    try:
        ZoneInfo(str(tz))
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{where}.tz is {tz!r}; expected a time zone such as 'Europe/Paris'") from None
    return value


def quiet_until(opts: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    """When the action's quiet hours (``opts["quiet_hours"]``) hold at ``now`` (naive UTC), the moment
    they end (naive UTC); None otherwise. Local wall-clock times in the window's time zone, so a
    window keeps its local hours across daylight-saving changes."""
    from zoneinfo import ZoneInfo

    q = opts.get(QUIET)
    if not q:
        return None
    zone = ZoneInfo(str(q.get("tz", "UTC")))
    local = now.replace(tzinfo=dt.UTC).astimezone(zone)
    start, end = (dt.time(int(q[k][:2]), int(q[k][3:])) for k in ("from", "to"))
    t = local.time()
    inside = start <= t < end if start < end else (t >= start or t < end)
    if not inside:
        return None
    day = local.date() if t < end else local.date() + dt.timedelta(days=1)
    until = dt.datetime.combine(day, end, tzinfo=zone)
    return until.astimezone(dt.UTC).replace(tzinfo=None)


def _check_action(where: str, action: Any) -> dict[str, Any]:
    if not isinstance(action, dict) or len(action) != 1:
        raise ConfigError(f"{where} is {action!r}; expected one action such as {{webhook: {{url: …}}}}")
    (kind, opts), *_ = action.items()
    if kind not in ACTIONS:
        raise ConfigError(f"{where} has unknown action {kind!r}; expected one of {', '.join(ACTIONS)}")
    opts = {} if opts is None else opts
    if not isinstance(opts, dict):
        raise ConfigError(f"{where}.{kind} is {opts!r}; expected a mapping of options")
    known = [o.rstrip("!") for o in ACTIONS[kind]] + ([QUIET] if kind != "case" else [])
    if QUIET in opts and kind != "case":
        check_quiet_hours(f"{where}.{kind}.{QUIET}", opts[QUIET])
    for k in opts:
        if k not in known:
            raise ConfigError(f"{where}.{kind} has unknown option {k!r}; expected one of {', '.join(known)}")
    for o in ACTIONS[kind]:
        if o.endswith("!") and not opts.get(o[:-1]):
            raise ConfigError(f"{where}.{kind} needs option {o[:-1]!r}")
    if kind in ("webhook", "slack", "teams"):
        if bool(opts.get("url")) == bool(opts.get("url_env")):
            raise ConfigError(f"{where}.{kind} needs exactly one of 'url' or 'url_env' (the variable holding the URL)")
    for key in ("url", "base_url"):
        if opts.get(key):
            parts = urlsplit(str(opts[key]))
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise ConfigError(f"{where}.{kind}.{key} is {opts[key]!r}; expected an http(s) URL such as "
                                  "'https://hooks.example.com/cx'")  # fmt: skip
            if parts.username or parts.password:
                raise ConfigError(f"{where}.{kind}.{key} carries credentials; put them in an environment variable")
    for key in [k for k in opts if k.endswith("_env")]:
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(opts[key])):
            raise ConfigError(f"{where}.{kind}.{key} is {opts[key]!r}; expected an environment variable name")
    if "attempts" in opts and (not isinstance(opts["attempts"], int) or isinstance(opts["attempts"], bool)
                               or not 1 <= opts["attempts"] <= 1000):  # fmt: skip
        raise ConfigError(f"{where}.{kind}.attempts is {opts['attempts']!r}; expected a whole number 1-1000")
    if "timeout" in opts:
        parse_duration(opts["timeout"], f"{where}.{kind}.timeout")
    if kind == "email":
        to = opts["to"] if isinstance(opts["to"], list) else [opts["to"]]
        if not all(isinstance(t, str) and re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", t) for t in to):
            raise ConfigError(f"{where}.email.to is {opts['to']!r}; expected e-mail addresses")
        opts = {**opts, "to": to}
    if kind in ("case", "zendesk", "freshdesk") and "priority" in opts and opts["priority"] not in PRIORITIES:
        raise ConfigError(f"{where}.{kind}.priority is {opts['priority']!r}; expected one of {', '.join(PRIORITIES)}")
    if kind == "case" and "due" in opts:
        parse_duration(opts["due"], f"{where}.case.due")
    if kind == "case" and ("teams" in opts or "default" in opts) and "team_by" not in opts:
        raise ConfigError(f"{where}.case has 'teams'/'default' without 'team_by' (what chooses the team)")
    if kind == "case" and "team_by" in opts:
        from cxlens.act.classify import TEAM_BY

        if opts["team_by"] not in TEAM_BY:
            raise ConfigError(f"{where}.case.team_by is {opts['team_by']!r}; expected one of {', '.join(TEAM_BY)}")
        teams = opts.get("teams")
        if not isinstance(teams, dict) or not teams or not all(
                isinstance(k, str) and isinstance(v, str) and k.strip() and v.strip() for k, v in teams.items()):  # fmt: skip
            raise ConfigError(f"{where}.case.teams is {teams!r}; expected a mapping such as "
                              "{refund: billing, delivery: logistics}")  # fmt: skip
    if kind == "survey":
        if opts.get("via", "email") != "email":
            raise ConfigError(f"{where}.survey.via is {opts['via']!r}; expected email")
        if not isinstance(opts["survey"], str):
            raise ConfigError(f"{where}.survey.survey is {opts['survey']!r}; expected a survey id")
        if "expires" in opts:
            if parse_duration(opts["expires"], f"{where}.survey.expires") < 3600:
                raise ConfigError(f"{where}.survey.expires is {opts['expires']!r}; expected at least 1h")
    return {kind: dict(opts)}


def parse_rule(data: Any, where: str = "rule") -> Rule:
    """Check one rule mapping; raises :class:`~cxlens.errors.ConfigError` naming the faulty field."""
    if not isinstance(data, dict):
        raise ConfigError(f"{where} is {data!r}; expected a mapping with name, when and do")
    unknown = set(data) - {"name", "when", "do", "window", "max_age", "description", "digest"}
    if unknown:
        raise ConfigError(f"{where} has unknown field {sorted(unknown)[0]!r}; expected name, when, do, window, "
                          "max_age, digest or description")  # fmt: skip
    name = data.get("name")
    if not isinstance(name, str) or not _NAME.match(name):
        raise ConfigError(f"{where}.name is {name!r}; expected lower-case letters, digits, '-', '_' or '.'")
    where = f"rule {name!r}"
    when = data.get("when")
    if not isinstance(when, dict) or len(when) != 1:
        raise ConfigError(f"{where}.when is {when!r}; expected one trigger such as {{feedback: {{metric: nps}}}}")
    (trigger, cond), *_ = when.items()
    if trigger not in TRIGGERS:
        raise ConfigError(f"{where}.when has unknown trigger {trigger!r}; expected one of {', '.join(TRIGGERS)}")
    if trigger in ("ticket", "verbatim", "frustration", "theme"):
        from cxlens.act import classify

        w = f"{where}.when.{trigger}"
        conditions = (classify.check_route(w, trigger, cond) if trigger in ("ticket", "verbatim") else
                      classify.check_frustration(w, cond) if trigger == "frustration" else classify.check_theme(w, cond))  # fmt: skip
        if trigger == "frustration":
            conditions["within"] = parse_duration(conditions["within"], f"{w}.within")
            if conditions["within"] <= 0:
                raise ConfigError(f"{w}.within is 0; expected a duration above 0, e.g. '30m'")
    elif trigger in ("schedule", "metric"):
        from cxlens.act.when import check_metric, check_schedule

        if isinstance(cond, dict) and True in cond:  # YAML 1.1 reads an unquoted key `on` as true
            cond = {("on" if k is True else k): v for k, v in cond.items()}
            data = {**data, "when": {trigger: cond}}

        conditions = (check_schedule if trigger == "schedule" else check_metric)(f"{where}.when.{trigger}", cond)
    else:
        conditions = _check_conditions(f"{where}.when.{trigger}", trigger, cond)
    if trigger == "customer" and not conditions:
        raise ConfigError(f"{where}.when.customer needs a threshold, e.g. {{churn_risk: {{min: 0.7}}}} or "
                          "{clv: {min: 1000}}")  # fmt: skip
    do = data.get("do")
    if not isinstance(do, list) or not do:
        raise ConfigError(f"{where}.do is {do!r}; expected a list of actions")
    actions = tuple(_check_action(f"{where}.do[{i}]", a) for i, a in enumerate(do))
    if trigger in NO_CUSTOMER and any(next(iter(a)) in ("case", "survey") for a in actions):
        kind = next(next(iter(a)) for a in actions if next(iter(a)) in ("case", "survey"))
        raise ConfigError(f"{where}.do has a {kind} action; a {trigger} rule sends to channels, it has no "
                          f"customer to {'open a case for' if kind == 'case' else 'survey'}")  # fmt: skip
    if trigger not in ("ticket", "verbatim") and any(
            next(iter(a)) == "case" and "team_by" in a["case"] for a in actions):  # fmt: skip
        raise ConfigError(f"{where}.do has case.team_by; only ticket and verbatim rules carry a classification "
                          "to choose a team by")  # fmt: skip
    window = parse_duration(data.get("window", "24h"), f"{where}.window")
    max_age = parse_duration(data.get("max_age", "7d"), f"{where}.max_age")
    desc = data.get("description")
    after, per = _check_digest(f"{where}.digest", data.get("digest", True))
    return Rule(name, trigger, conditions, actions, window, max_age, None if desc is None else str(desc),
                raw=json.loads(json.dumps(data, default=str)), digest_after=after, digest_per=per)  # fmt: skip


def _check_digest(where: str, v: Any) -> tuple[int, float]:
    """``digest: {after: 10, per: 1h}`` (either may be left out), ``true`` (the defaults) or ``false``
    (every alert sent) → (after, per seconds); after 0 means off."""
    if v is True:
        return DIGEST_AFTER, DIGEST_PER
    if v is False:
        return 0, DIGEST_PER
    if not isinstance(v, dict) or set(v) - {"after", "per"}:
        raise ConfigError(f"{where} is {v!r}; expected {{after: 10, per: 1h}} or false (send every alert)")
    after = v.get("after", DIGEST_AFTER)
    if not isinstance(after, int) or isinstance(after, bool) or not 1 <= after <= 100_000:
        raise ConfigError(f"{where}.after is {after!r}; expected a whole number 1-100000 (alerts sent one by one "
                          "before the digest)")  # fmt: skip
    per = parse_duration(v.get("per", DIGEST_PER), f"{where}.per")
    if not 1 <= per <= 7 * 86400:
        raise ConfigError(f"{where}.per is {v.get('per')!r}; expected a period from 1s to 7d")
    return after, per


def parse_rules(source: str | Path | dict[str, Any] | list[Any]) -> list[Rule]:
    """Rules from a YAML file path, YAML text, or the parsed mapping/list."""
    where = "rules"
    if isinstance(source, Path) or (
        isinstance(source, str) and "\n" not in source and source.endswith((".yaml", ".yml"))
    ):
        path = Path(source)
        if not path.exists():
            raise NotFoundError(f"rules file {str(path)!r} does not exist")
        where = path.name
        source = path.read_text(encoding="utf-8")
    if isinstance(source, str):
        try:
            source = yaml.safe_load(source)
        except yaml.YAMLError as e:
            raise ConfigError(f"{where} is not valid YAML: {e}") from None
    items = source.get("rules") if isinstance(source, dict) else source
    if not isinstance(items, list) or not items:
        raise ConfigError(f"{where} has no rules; expected 'rules:' followed by a list of rules")
    out = [parse_rule(r, f"{where} rule {i + 1}") for i, r in enumerate(items)]
    seen: set[str] = set()
    for r in out:
        if r.name in seen:
            raise ConfigError(f"{where} defines rule {r.name!r} twice; names must be unique")
        seen.add(r.name)
    return out


# -- storage -------------------------------------------------------------------------------
_COLS = "name, version, definition, status, changed_by, changed_at, change"


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def _from_row(row: Sequence[Any]) -> Rule:
    r = parse_rule(json.loads(row[2]))
    return dataclasses.replace(r, status=row[3], version=int(row[1]), changed_by=row[4], changed_at=row[5])


def current_rules(cur: Any, *, status: str | None = "active") -> list[Rule]:
    """The current version of every rule (``status`` None: deleted ones too), read on ``cur``."""
    sql = (
        f"SELECT {_COLS} FROM act_rules QUALIFY row_number() OVER (PARTITION BY name ORDER BY version DESC) = 1 "
        "ORDER BY name"
    )
    rows = cur.rows(sql) if hasattr(cur, "rows") else cur.execute(sql).fetchall()
    rules = [_from_row(r) for r in rows]
    return [r for r in rules if status is None or r.status == status]


def active_rules_of(store: Any) -> list[Rule]:
    """:func:`current_rules` (the active ones) of ``store``, parsed once per change of ``act_rules``: every
    job runner tick asks for the schedule and theme rules (parsing a hundred rules each time was a
    tenth of a busy server's CPU). Read-only (shared)."""
    memo = getattr(getattr(store, "store", store), "memo", None)
    return memo(("act.rules.active",), ("act_rules",), lambda: current_rules(store)) if memo else current_rules(store)


def _insert(cur: Any, rule: dict[str, Any], name: str, status: str, who: str | None, change: str) -> int:
    version = cur.execute("SELECT coalesce(max(version), 0) + 1 FROM act_rules WHERE name = ?", [name]).fetchone()[0]
    cur.execute(f"INSERT INTO act_rules ({_COLS}) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [name, version, json.dumps(rule, sort_keys=True), status, who, _now(), change])  # fmt: skip
    return int(version)


def save_rules(store: Any, rules: Sequence[Rule], *, who: str | None = None) -> list[dict[str, Any]]:
    """Store ``rules`` (a new version of each rule whose definition changed); returns what happened to each.

    Every destination host a rule names must be allowed first (``cxlens act allow-host``).
    """
    from cxlens.act.net import allowed_hosts

    allowed = {h for h, _ in allowed_hosts(store)}
    for r in rules:
        for h in r.hosts():
            if h not in allowed:
                raise ConfigError(f"rule {r.name!r} sends to host {h!r}, which is not allowed; an admin allows it "
                                  f"with `cxlens act allow-host {h}`")  # fmt: skip
    out = []
    with store.transaction(changes=["act_rules"]) as cur:
        current = {r.name: r for r in current_rules(cur, status=None)}
        for r in rules:
            old = current.get(r.name)
            if old is not None and old.raw == r.raw and old.status == "active":
                out.append({"name": r.name, "version": old.version, "change": "unchanged"})
                continue
            change = "created" if old is None or old.status == "deleted" else "updated"
            v = _insert(cur, r.raw, r.name, "active", who, change)
            out.append({"name": r.name, "version": v, "change": change})
    return out


def get_rule(store: Any, name: str) -> Rule:
    rules = {r.name: r for r in current_rules(store, status=None)}
    r = rules.get(name)
    if r is None or r.status == "deleted":
        known = ", ".join(n for n, x in rules.items() if x.status != "deleted") or "none yet"
        raise NotFoundError(f"no rule {name!r} in this workspace; rules: {known}")
    return r


def set_status(store: Any, name: str, status: str, *, who: str | None = None) -> Rule:
    """Pause, resume or delete rule ``name`` (a new version recording who did it)."""
    if status not in STATUSES:
        raise ConfigError(f"rule status {status!r} is not known; expected one of {', '.join(STATUSES)}")
    with store.transaction(changes=["act_rules"]) as cur:
        rules = {r.name: r for r in current_rules(cur, status=None)}
        r = rules.get(name)
        if r is None or r.status == "deleted":
            raise NotFoundError(f"no rule {name!r} in this workspace; `cxlens rules list` shows them")
        change = {"active": "resumed", "paused": "paused", "deleted": "deleted"}[status]
        if r.status != status:
            _insert(cur, r.raw, name, status, who, change)
    return get_rule(store, name) if status != "deleted" else r


def delete_rule(store: Any, name: str, *, who: str | None = None) -> None:
    set_status(store, name, "deleted", who=who)


def list_rules(store: Any) -> pd.DataFrame:
    rules = current_rules(store, status=None)
    rows = [r.summary() for r in rules if r.status != "deleted"]
    cols = ["name", "version", "status", "trigger", "conditions", "actions", "window_s", "changed_by", "changed_at"]
    return pd.DataFrame(rows, columns=cols)


def rule_history(store: Any, name: str) -> pd.DataFrame:
    """Every version of rule ``name``: who changed what, when."""
    df = store.read(f"SELECT {_COLS} FROM act_rules WHERE name = ? ORDER BY version", [name])
    if df.empty:
        raise NotFoundError(f"no rule {name!r} in this workspace; `cxlens rules list` shows them")
    return df


def rule_yaml(definition: dict[str, Any] | str) -> str:
    """A stored rule (its mapping or JSON text) as a rules file of one rule: name, when, do, then the rest."""
    data = json.loads(definition) if isinstance(definition, str) else definition
    order = ["name", "description", "when", "do", "window", "max_age", "digest"]
    data = {k: data[k] for k in sorted(data, key=lambda k: (order.index(k) if k in order else len(order), k))}
    return yaml.safe_dump({"rules": [data]}, sort_keys=False, allow_unicode=True, default_flow_style=False)


def with_diffs(history: pd.DataFrame) -> pd.DataFrame:
    """``history`` (:func:`rule_history`) with ``yaml`` (each version as a rules file) and ``diff`` (the
    unified diff against the version before; empty when only the status changed)."""
    import difflib

    out = history.copy()
    texts = [rule_yaml(d) for d in out["definition"]]
    diffs, before = [], ""
    for v, text in zip(out["version"], texts, strict=True):
        lines = difflib.unified_diff(before.splitlines(), text.splitlines(), f"version {int(v) - 1}",
                                     f"version {int(v)}", lineterm="", n=2)  # fmt: skip
        diffs.append("\n".join(lines))
        before = text
    out["yaml"] = texts
    out["diff"] = diffs
    return out


def rule_activity(store: Any, *, now: dt.datetime | None = None) -> pd.DataFrame:
    """Per current (not deleted) rule: ``alerts`` in all, ``alerts_24h``, ``last_fired``, ``open_cases``
    (cases of the rule not closed) and ``failed`` (dead or refused deliveries)."""
    now = now or _now()
    return store.read(
        "WITH r AS (SELECT name, status FROM act_rules "
        "  QUALIFY row_number() OVER (PARTITION BY name ORDER BY version DESC) = 1), "
        "a AS (SELECT rule, count(*) AS alerts, count(*) FILTER (WHERE created_at > ?) AS alerts_24h, "
        "  max(created_at) AS last_fired FROM act_alerts WHERE trigger NOT IN ('test', 'digest') GROUP BY rule), "
        "c AS (SELECT rule, count(*) AS open_cases FROM act_cases WHERE status <> 'closed' GROUP BY rule), "
        "d AS (SELECT d.rule, count(*) AS failed FROM act_deliveries d LEFT JOIN jobs j USING (job_id) "
        "  WHERE d.status = 'refused' OR (d.status <> 'sent' AND j.status = 'dead') GROUP BY d.rule) "
        "SELECT r.name, r.status, coalesce(a.alerts, 0) AS alerts, coalesce(a.alerts_24h, 0) AS alerts_24h, "
        "a.last_fired, coalesce(c.open_cases, 0) AS open_cases, coalesce(d.failed, 0) AS failed FROM r "
        "LEFT JOIN a ON a.rule = r.name LEFT JOIN c ON c.rule = r.name LEFT JOIN d ON d.rule = r.name "
        "WHERE r.status <> 'deleted' ORDER BY r.name",
        [now - dt.timedelta(hours=24)],
    )
