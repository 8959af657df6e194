"""Recruiting interviewees from survey opt-ins: filters by segment, theme and churn risk, quotas per segment.

A survey asks the opt-in as an extra question (id ``interview_opt_in`` by default, e.g. "May we
contact you for a 20-minute conversation?"); an answer of yes/true/1 opts the customer in. The
respondent is the response's customer, or the customer stitched to its anonymous id.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from cxlens.errors import ParameterError

__all__ = ["OPT_IN", "candidates"]

OPT_IN = "interview_opt_in"
YES = ("true", "yes", "y", "1", "oui", "ja", "si", "sí")
_KEY = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def candidates(store: Any, *, opt_in: str = OPT_IN, survey_id: str | None = None, segment: str | list[str] | None = None,
               theme: str | None = None, min_churn_risk: float | None = None, per_segment: int | None = None,
               exclude_interviewed: bool = True, limit: int = 100) -> pd.DataFrame:  # fmt: skip
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
    yes = ", ".join(f"'{y}'" for y in YES)
    where, params = [], []
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
        "risk AS (SELECT customer_id, arg_max(churn_risk, computed_at) AS churn_risk FROM customer_scores GROUP BY 1) "
        "SELECT o.customer_id, c.name, c.email, coalesce(c.segment, '(none)') AS segment, k.churn_risk, o.opted_at, "
        "o.survey_id, o.score FROM opt o LEFT JOIN customers c ON c.customer_id = o.customer_id "
        "LEFT JOIN risk k ON k.customer_id = o.customer_id WHERE TRUE "
    )
    if segment:
        segs = [segment] if isinstance(segment, str) else list(segment)
        sql += f"AND coalesce(c.segment, '(none)') IN ({', '.join('?' * len(segs))}) "
        params += segs
    if min_churn_risk is not None:
        sql += "AND k.churn_risk >= ? "
        params.append(min_churn_risk)
    if theme:
        sql += (
            "AND o.customer_id IN (SELECT f.customer_id FROM verbatim_themes v JOIN feedback f "
            "ON v.verbatim_id = 'feedback:' || f.feedback_id WHERE v.theme = ? UNION "
            "SELECT t.customer_id FROM verbatim_themes v JOIN tickets t ON v.verbatim_id = 'ticket:' || t.ticket_id "
            "WHERE v.theme = ? UNION SELECT r.customer_id FROM verbatim_themes v JOIN reviews r "
            "ON v.verbatim_id = 'review:' || r.review_id WHERE v.theme = ?) "
        )
        params += [theme, theme, theme]
    if exclude_interviewed:
        sql += "AND o.customer_id NOT IN (SELECT customer_id FROM interviews WHERE customer_id IS NOT NULL) "
    df = store.read(sql + "ORDER BY segment, churn_risk DESC NULLS LAST, opted_at DESC, o.customer_id", params)
    if per_segment is not None:
        df = df.groupby("segment", sort=False, group_keys=False).head(per_segment)
    return df.head(limit).reset_index(drop=True)
