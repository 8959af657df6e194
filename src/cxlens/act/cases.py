"""Cases: the follow-up queue. A case per customer issue, with a team, an owner, a priority, a due date
from the SLA of its priority, a status, an outcome and an audit trail of every change.

Statuses: ``new`` → ``in_progress`` → ``waiting`` → ``closed`` (any order; closing needs no outcome
but usually records one: ``resolved``, ``compensated``, ``no_answer``, ``not_reached``, ``other``).
Every change is a row of ``act_case_events`` (who, when, field, old and new value); notes are
events of field ``note``.

Agents see the cases of the teams they belong to (``act_team_members``: ``cxlens cases team-add``);
admins and analysts see all.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from collections.abc import Sequence
from typing import Any

import pandas as pd

from cxlens.act.rules import PRIORITIES, parse_duration
from cxlens.errors import ConfigError, ForbiddenError, NotFoundError

__all__ = [
    "CASE_FIELDS",
    "DEFAULT_SLA",
    "OUTCOMES",
    "STATUSES",
    "add_member",
    "case_events",
    "create_case",
    "get_case",
    "list_cases",
    "remove_member",
    "sla",
    "teams_of",
    "update_case",
]

STATUSES = ("new", "in_progress", "waiting", "closed")
OUTCOMES = ("resolved", "compensated", "no_answer", "not_reached", "other")
#: hours to the due date by priority (setting ``act.sla`` overrides: ``{"high": "8h", …}``); the
#: common support-desk tiers (first response: urgent 4 h, high 1 business day, normal 3 days, low a week)
DEFAULT_SLA = {"urgent": 4 * 3600.0, "high": 24 * 3600.0, "normal": 72 * 3600.0, "low": 168 * 3600.0}
CASE_FIELDS = ["case_id", "customer_id", "rule", "status", "team", "owner", "priority", "due_at", "created_at",
               "updated_at", "outcome", "alert_id", "feedback_id"]  # fmt: skip


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


def sla(store: Any) -> dict[str, float]:
    """Seconds to the due date per priority: :data:`DEFAULT_SLA` with the setting ``act.sla`` over it."""
    out = dict(DEFAULT_SLA)
    custom = store.setting("act.sla", None) if hasattr(store, "setting") else None
    for k, v in (custom or {}).items():
        if k not in PRIORITIES:
            raise ConfigError(f"setting act.sla has priority {k!r}; expected one of {', '.join(PRIORITIES)}")
        out[k] = parse_duration(v, f"setting act.sla.{k}")
    return out


def _event(cur: Any, case_id: str, customer_id: str | None, actor: str | None, field: str, old: Any, new: Any,
           now: dt.datetime) -> None:  # fmt: skip
    cur.execute(
        "INSERT INTO act_case_events VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [f"ce_{time.time_ns():016x}{secrets.token_hex(3)}", case_id, customer_id, now, actor, field,
         None if old is None else str(old), None if new is None else str(new)],
    )  # fmt: skip


def create_case(
    store: Any,
    *,
    customer_id: str | None,
    team: str | None = None,
    priority: str = "normal",
    owner: str | None = None,
    rule: str | None = None,
    alert_id: str | None = None,
    feedback_id: str | None = None,
    due: float | None = None,
    actor: str | None = None,
    note: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Open a case (inside the caller's transaction when there is one); returns its id."""
    if priority not in PRIORITIES:
        raise ConfigError(f"priority {priority!r} is not known; expected one of {', '.join(PRIORITIES)}")
    now = now or _now()
    due_s = due if due is not None else sla(store)[priority]
    case_id = "case_" + secrets.token_hex(6)
    with store.transaction(changes=["act_cases", "act_case_events"]) as cur:
        cur.execute(
            "INSERT INTO act_cases VALUES (?, ?, ?, ?, ?, 'new', ?, ?, ?, ?, NULL, ?, ?)",
            [case_id, customer_id, rule, alert_id, feedback_id, team, owner, priority,
             now + dt.timedelta(seconds=due_s), now, now],
        )  # fmt: skip
        _event(cur, case_id, customer_id, actor or (f"rule:{rule}" if rule else None), "created", None,
               json.dumps({"team": team, "priority": priority, "owner": owner}), now)  # fmt: skip
        if note:
            _event(cur, case_id, customer_id, actor, "note", None, note, now)
    return case_id


def teams_of(store: Any, email: str | None) -> list[str]:
    if not email:
        return []
    return [r[0] for r in store.rows("SELECT team FROM act_team_members WHERE email = ? ORDER BY team",
                                     [email.strip().lower()])]  # fmt: skip


def add_member(store: Any, team: str, email: str) -> None:
    if not team or not team.strip():
        raise ConfigError("team is empty; expected a team name such as 'support'")
    with store.transaction(changes=["act_team_members"]) as cur:
        cur.execute("INSERT INTO act_team_members VALUES (?, ?) ON CONFLICT DO NOTHING",
                    [team.strip(), email.strip().lower()])  # fmt: skip


def remove_member(store: Any, team: str, email: str) -> None:
    with store.transaction(changes=["act_team_members"]) as cur:
        cur.execute("DELETE FROM act_team_members WHERE team = ? AND email = ?", [team.strip(), email.strip().lower()])


def list_cases(
    store: Any,
    *,
    status: str | Sequence[str] | None = None,
    team: str | None = None,
    owner: str | None = None,
    customer_id: str | None = None,
    teams: Sequence[str] | None = None,
    priority: str | None = None,
    limit: int = 1000,
) -> pd.DataFrame:
    """Cases, newest first; ``teams`` restricts to those teams (an agent's queue)."""
    if priority is not None and priority not in PRIORITIES:
        raise ConfigError(f"priority {priority!r} is not known; expected one of {', '.join(PRIORITIES)}")
    where, params = [], []
    statuses = [status] if isinstance(status, str) else list(status or [])
    for s in statuses:
        if s not in STATUSES:
            raise ConfigError(f"case status {s!r} is not known; expected one of {', '.join(STATUSES)}")
    if statuses:
        where.append(f"status IN ({', '.join('?' * len(statuses))})")
        params += statuses
    for col, v in (("team", team), ("owner", owner), ("customer_id", customer_id), ("priority", priority)):
        if v:
            where.append(f"{col} = ?")
            params.append(v)
    if teams is not None:
        if not teams:
            return pd.DataFrame(columns=CASE_FIELDS)
        where.append(f"team IN ({', '.join('?' * len(teams))})")
        params += list(teams)
    clause = f"WHERE {' AND '.join(where)}" if where else ""
    return store.read(
        f"SELECT {', '.join(CASE_FIELDS)} FROM act_cases {clause} ORDER BY created_at DESC, case_id LIMIT ?",
        [*params, int(limit)],
    )


def get_case(store: Any, case_id: str, *, teams: Sequence[str] | None = None) -> dict[str, Any]:
    row = store.one(f"SELECT {', '.join(CASE_FIELDS)} FROM act_cases WHERE case_id = ?", [case_id])
    if row is None:
        raise NotFoundError(f"no case {case_id!r} in this workspace; `cxlens cases list` shows them")
    case = dict(zip(CASE_FIELDS, row, strict=True))
    if teams is not None and case["team"] not in teams:
        raise NotFoundError(f"no case {case_id!r} in your teams' queue")
    return case


def case_events(store: Any, case_id: str) -> pd.DataFrame:
    return store.read(
        "SELECT ts, actor, field, old_value, new_value FROM act_case_events WHERE case_id = ? ORDER BY ts, event_id",
        [case_id],
    )


def update_case(
    store: Any,
    case_id: str,
    *,
    status: str | None = None,
    owner: str | None = None,
    team: str | None = None,
    priority: str | None = None,
    outcome: str | None = None,
    note: str | None = None,
    actor: str | None = None,
    teams: Sequence[str] | None = None,
) -> dict[str, Any]:
    """Change a case; every changed field (and the note) is recorded in the audit trail."""
    if status is not None and status not in STATUSES:
        raise ConfigError(f"status {status!r} is not known; expected one of {', '.join(STATUSES)}")
    if outcome is not None and outcome not in OUTCOMES:
        raise ConfigError(f"outcome {outcome!r} is not known; expected one of {', '.join(OUTCOMES)}")
    if priority is not None and priority not in PRIORITIES:
        raise ConfigError(f"priority {priority!r} is not known; expected one of {', '.join(PRIORITIES)}")
    if teams is not None and team is not None and team not in teams:
        raise ForbiddenError(f"you may not move a case to team {team!r}; you are in {', '.join(teams) or 'no team'}")
    now = _now()
    with store.transaction(changes=["act_cases", "act_case_events"]) as cur:
        row = cur.execute(f"SELECT {', '.join(CASE_FIELDS)} FROM act_cases WHERE case_id = ?", [case_id]).fetchone()
        if row is None or (teams is not None and row[4] not in teams):
            raise NotFoundError(f"no case {case_id!r} in this workspace; `cxlens cases list` shows them")
        case = dict(zip(CASE_FIELDS, row, strict=True))
        changes = {k: v for k, v in {"status": status, "owner": owner, "team": team, "priority": priority,
                                     "outcome": outcome}.items() if v is not None and v != case[k]}  # fmt: skip
        for k, v in changes.items():
            cur.execute(f"UPDATE act_cases SET {k} = ?, updated_at = ? WHERE case_id = ?", [v, now, case_id])
            _event(cur, case_id, case["customer_id"], actor, k, case[k], v, now)
        if note:
            if len(note) > 10_000:
                raise ConfigError(f"note is {len(note)} characters long; expected at most 10000")
            cur.execute("UPDATE act_cases SET updated_at = ? WHERE case_id = ?", [now, case_id])
            _event(cur, case_id, case["customer_id"], actor, "note", None, note, now)
    return get_case(store, case_id)
