"""Recruiting interviewees from survey opt-ins: filters by segment, persona, pain point (theme), churn risk
and frustrated sessions, quotas per segment.

``theme`` keeps the customers behind the feedback explorer's ``theme=`` rows
(:func:`cxlens.voice.people.theme_customers`, the replay list's theme filter too): those with a verbatim
(survey answer, ticket, review or interview turn) carrying that theme among its labels (an id of the
workspace's theme model; another is a ``ParameterError``); ``"other"`` keeps those with one the themes job
gave no primary theme — the verbatims the explorer lists under ``theme=other``.

``persona`` keeps customers whose persona — their RFM segment, as on the persona cards — is one of
those given (the ``persona`` column is added). ``frustrated`` keeps customers with at least that
many **frustrated sessions** (a session with a ``$rageclick``, ``$deadclick`` or ``$errorclick``;
the person is ``customer_id`` or the customer stitched to the anonymous id) in the
``frustrated_days`` before the latest event (the ``frustrated_sessions`` column is added).

A survey asks the opt-in as an extra question (id ``interview_opt_in`` by default, e.g. "May we
contact you for a 20-minute conversation?"); an answer of yes/true/1 opts the customer in. The
respondent is the response's customer, or the customer stitched to its anonymous id. A later answer
other than yes withdraws the opt-in, and a customer who declined through an invitation's opt-out
link (``interview_optouts``, :mod:`cxlens.interviews.invite`) is never a candidate again.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from cxlens.errors import ParameterError
from cxlens.voice.people import theme_customers

__all__ = ["FRUSTRATION_EVENTS", "OPT_IN", "candidates"]

#: the behaviour SDK's frustration signals (src/cxlens/behaviour)
FRUSTRATION_EVENTS = ("$rageclick", "$deadclick", "$errorclick")

OPT_IN = "interview_opt_in"
YES = ("true", "yes", "y", "1", "oui", "ja", "si", "sí")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def candidates(store: Any, *, opt_in: str = OPT_IN, survey_id: str | None = None, segment: str | list[str] | None = None,
               theme: str | None = None, min_churn_risk: float | None = None, per_segment: int | None = None,
               exclude_interviewed: bool = True, limit: int = 100, persona: str | list[str] | None = None,
               frustrated: int | None = None, frustrated_days: int = 90) -> pd.DataFrame:  # fmt: skip
    """Opted-in customers to invite: customer_id, name, email, segment, churn_risk, opted_at, survey_id,
    score; highest churn risk first within each segment, at most ``per_segment`` per segment."""
    if not _KEY.match(opt_in or ""):
        raise ParameterError("opt_in", f"opt_in is {opt_in!r}; expected a question id (letters, digits, '_', '-')")
    if min_churn_risk is not None and not 0 <= min_churn_risk <= 1:
        raise ParameterError("min_churn_risk", f"min_churn_risk is {min_churn_risk!r}; expected a probability 0-1")
    if per_segment is not None and per_segment < 1:
        raise ParameterError("per_segment", f"per_segment is {per_segment!r}; expected a quota of 1 or more")
    if limit < 1:
        raise ParameterError("limit", f"limit is {limit!r}; expected 1 or more")
    if frustrated is not None and not (isinstance(frustrated, int) and frustrated >= 1):
        raise ParameterError("frustrated", f"frustrated is {frustrated!r}; expected a number of sessions ≥ 1")
    if not (isinstance(frustrated_days, int) and frustrated_days >= 1):
        raise ParameterError("frustrated_days", f"frustrated_days is {frustrated_days!r}; expected days ≥ 1")
    yes = ", ".join(f"'{y}'" for y in YES)
    where, params = [], []
    tables: dict[str, Any] = {}
    if survey_id:
        where.append("r.survey_id = ?")
        params.append(survey_id)
    sql = (
        "WITH ident AS (SELECT anonymous_id, min(customer_id) AS customer_id FROM collect_identities GROUP BY 1), "
        "opt AS (SELECT coalesce(r.customer_id, i.customer_id) AS customer_id, max(r.created_at) AS opted_at, "
        "arg_max(r.survey_id, r.created_at) AS survey_id, arg_max(r.score, r.created_at) AS score "
        "FROM survey_responses r LEFT JOIN ident i ON r.anonymous_id = i.anonymous_id "
        f"WHERE json_valid(r.answers) AND lower(trim(json_extract_string(r.answers, '$.{opt_in}'))) IN ({yes}) "
        + "".join(f"AND {w} " for w in where)
        + "GROUP BY 1 HAVING coalesce(r.customer_id, i.customer_id) IS NOT NULL), "
        # a later answer other than yes to the same question withdraws the opt-in
        "nope AS (SELECT coalesce(r.customer_id, i.customer_id) AS customer_id, max(r.created_at) AS at "
        "FROM survey_responses r LEFT JOIN ident i ON r.anonymous_id = i.anonymous_id "
        f"WHERE json_valid(r.answers) AND json_extract_string(r.answers, '$.{opt_in}') IS NOT NULL "
        f"AND lower(trim(json_extract_string(r.answers, '$.{opt_in}'))) NOT IN ({yes}) GROUP BY 1), "
        "risk AS (SELECT customer_id, arg_max(churn_risk, computed_at) AS churn_risk FROM customer_scores GROUP BY 1) "
        "SELECT o.customer_id, c.name, c.email, coalesce(c.segment, '(none)') AS segment, k.churn_risk, o.opted_at, "
        "o.survey_id, o.score FROM opt o LEFT JOIN customers c ON c.customer_id = o.customer_id "
        "LEFT JOIN risk k ON k.customer_id = o.customer_id "
        "WHERE NOT EXISTS (SELECT 1 FROM nope WHERE nope.customer_id = o.customer_id AND nope.at > o.opted_at) "
        # declined further contact (the invitation's opt-out link)
        "AND o.customer_id NOT IN (SELECT customer_id FROM interview_optouts) "
    )
    if segment:
        segs = [segment] if isinstance(segment, str) else list(segment)
        sql += f"AND coalesce(c.segment, '(none)') IN ({', '.join('?' * len(segs))}) "
        params += segs
    if min_churn_risk is not None:
        sql += "AND k.churn_risk >= ? "
        params.append(min_churn_risk)
    if theme:  # the explorer's people for that theme, as the replay list filters them
        tables["_theme_people"] = pd.DataFrame({"customer_id": theme_customers(store, theme)}, dtype=object)
        sql += "AND o.customer_id IN (SELECT customer_id FROM _theme_people) "
    if exclude_interviewed:
        sql += "AND o.customer_id NOT IN (SELECT customer_id FROM interviews WHERE customer_id IS NOT NULL) "
    if persona:
        from cxlens.interviews.quotes import persona_members

        wanted = [persona] if isinstance(persona, str) else list(persona)
        members = persona_members(store)
        known = set(members["segment"])
        unknown = sorted(set(wanted) - known)
        if unknown:
            raise ParameterError("persona", f"persona {unknown} is not an RFM segment of this workspace; expected one "
                                 f"of {', '.join(sorted(known)) or '(none: the workspace has no orders)'}")  # fmt: skip
        tables["_personas"] = members[members["segment"].isin(wanted)]
        sql = sql.replace("SELECT o.customer_id, c.name,", "SELECT o.customer_id, p.segment AS persona, c.name,", 1)
        sql = sql.replace("LEFT JOIN risk k", "JOIN _personas p ON p.customer_id = o.customer_id LEFT JOIN risk k", 1)
    if frustrated is not None:
        names = "', '".join(FRUSTRATION_EVENTS)
        tables["_frustrated"] = store.read(
            "WITH ident AS (SELECT anonymous_id, min(customer_id) AS customer_id FROM collect_identities GROUP BY 1), "
            "last AS (SELECT max(ts) AS t FROM events) "
            "SELECT coalesce(e.customer_id, i.customer_id) AS customer_id, count(DISTINCT e.session_id) AS sessions "
            "FROM events e LEFT JOIN ident i ON e.anonymous_id = i.anonymous_id, last "
            f"WHERE e.name IN ('{names}') AND e.session_id IS NOT NULL AND e.ts > last.t - to_days(?) "
            "GROUP BY 1 HAVING coalesce(e.customer_id, i.customer_id) IS NOT NULL AND count(DISTINCT e.session_id) >= ?",
            [frustrated_days, frustrated],
        )
        sql = sql.replace("SELECT o.customer_id, ", "SELECT o.customer_id, fr.sessions AS frustrated_sessions, ", 1)
        sql = sql.replace(
            "LEFT JOIN risk k", "JOIN _frustrated fr ON fr.customer_id = o.customer_id LEFT JOIN risk k", 1
        )
    df = store.read(sql + "ORDER BY segment, churn_risk DESC NULLS LAST, opted_at DESC, o.customer_id", params,
                    tables=tables or None)  # fmt: skip
    if per_segment is not None:
        df = df.groupby("segment", sort=False, group_keys=False).head(per_segment)
    return df.head(limit).reset_index(drop=True)
