"""The tables the learn features add (schema version 4): ``CREATE … IF NOT EXISTS`` statements only.

Tables about a person name them in a column of ``cxlens.customers.profile.PERSON_COLUMNS``
(``customer_id``, ``anonymous_id``…) so that GDPR export and erase reach them.
"""

from __future__ import annotations

__all__ = ["DDL", "ENGAGEMENT", "INTERVIEWS", "PII"]

#: experiments: the configured variants and split (``weights`` in the variants' order), the planned
#: sample size per variant (for the "read before its planned size" warning)
EXPERIMENTS = [
    "CREATE TABLE IF NOT EXISTS experiments (name VARCHAR PRIMARY KEY, variants VARCHAR NOT NULL, "
    "weights VARCHAR NOT NULL, planned_per_variant BIGINT, description VARCHAR, created_at TIMESTAMP NOT NULL)",
]

#: interviews: one row per transcript and one per speaker turn; ``role`` is ``customer`` or
#: ``interviewer`` (only customer turns become verbatims, source ``interview``)
INTERVIEWS = [
    "CREATE TABLE IF NOT EXISTS interviews (interview_id VARCHAR PRIMARY KEY, customer_id VARCHAR, "
    "participant VARCHAR, file VARCHAR NOT NULL, format VARCHAR NOT NULL, interviewed_at TIMESTAMP NOT NULL, "
    "turns INTEGER NOT NULL, imported_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS interview_turns (turn_id VARCHAR PRIMARY KEY, interview_id VARCHAR NOT NULL, "
    "customer_id VARCHAR, turn INTEGER NOT NULL, speaker VARCHAR, role VARCHAR NOT NULL, start_s DOUBLE, "
    "end_s DOUBLE, ts TIMESTAMP NOT NULL, text VARCHAR NOT NULL)",
    # tags and highlights on passages of turns (``start_char``/``end_char`` within the turn's text,
    # NULL for the whole turn); ``customer_id`` is the interview's, so GDPR erase reaches them
    "CREATE TABLE IF NOT EXISTS interview_tags (tag_id VARCHAR PRIMARY KEY, interview_id VARCHAR NOT NULL, "
    "customer_id VARCHAR, turn INTEGER NOT NULL, start_char INTEGER, end_char INTEGER, tag VARCHAR NOT NULL, "
    "highlight BOOLEAN NOT NULL, note VARCHAR, created_at TIMESTAMP NOT NULL)",
]

#: interview invitations: who was invited to which study (once per customer and study) and who
#: declined further contact (the opt-out link in every invitation, or the API); recruiting skips them
INTERVIEWS += [
    "CREATE TABLE IF NOT EXISTS interview_invites (study VARCHAR NOT NULL, customer_id VARCHAR NOT NULL, "
    "sent_at TIMESTAMP NOT NULL, PRIMARY KEY (study, customer_id))",
    "CREATE TABLE IF NOT EXISTS interview_optouts (customer_id VARCHAR PRIMARY KEY, opted_out_at TIMESTAMP NOT NULL, "
    "source VARCHAR NOT NULL)",
]

#: employee engagement: the employees (name and e-mail are PII) and pulse answers stored WITHOUT the
#: employee: only the group attributes at answer time and a random id per submission (anonymous by
#: construction; results are shown only for groups of at least ``engagement.min_group`` answers)
ENGAGEMENT = [
    "CREATE TABLE IF NOT EXISTS employees (employee_id VARCHAR PRIMARY KEY, name VARCHAR, email VARCHAR, "
    "team VARCHAR NOT NULL, role VARCHAR, manager_id VARCHAR, location VARCHAR, updated_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS pulse_answers (response_id VARCHAR NOT NULL, ts TIMESTAMP NOT NULL, "
    "team VARCHAR, role VARCHAR, location VARCHAR, manager_id VARCHAR, question VARCHAR NOT NULL, "
    "score DOUBLE NOT NULL)",
    # free-text pulse comments, one per submission, stored with names and other personal data redacted
    # and, like the answers, only the group attributes (shown only for groups the small-group rule shows)
    "CREATE TABLE IF NOT EXISTS pulse_comments (response_id VARCHAR NOT NULL, team VARCHAR, role VARCHAR, "
    "location VARCHAR, manager_id VARCHAR, comment VARCHAR NOT NULL)",
]

#: every read-out's look at the always-valid statistics, per experiment × goal × variant and read-out
#: settings (``params``: window, alpha, CI method): the reported ``seq_p_value`` is the running
#: minimum over the looks and the always-valid CI their running intersection (aggregates, no person)
EXPERIMENTS.append(
    "CREATE TABLE IF NOT EXISTS experiment_looks (experiment VARCHAR NOT NULL, goal VARCHAR NOT NULL, "
    "variant VARCHAR NOT NULL, params VARCHAR NOT NULL, n_control BIGINT NOT NULL, x_control BIGINT NOT NULL, "
    "n_variant BIGINT NOT NULL, x_variant BIGINT NOT NULL, estimate DOUBLE, se DOUBLE, seq_p_value DOUBLE, "
    "seq_ci_low DOUBLE, seq_ci_high DOUBLE, looked_at TIMESTAMP NOT NULL)"
)

#: pulse surveys by link: who was sent an invitation for which pulse (once per employee), and the
#: single-use links already answered (a hash of the link's random nonce, the day only). Nothing ties
#: a link to an employee: the signed link carries the group attributes, not the employee id.
ENGAGEMENT += [
    "CREATE TABLE IF NOT EXISTS pulse_sends (pulse VARCHAR NOT NULL, employee_id VARCHAR NOT NULL, "
    "sent_at TIMESTAMP NOT NULL, PRIMARY KEY (pulse, employee_id))",
    "CREATE TABLE IF NOT EXISTS pulse_used (nonce_hash VARCHAR PRIMARY KEY, pulse VARCHAR NOT NULL, "
    "used_on DATE NOT NULL)",
]

DDL: list[str] = [*EXPERIMENTS, *INTERVIEWS, *ENGAGEMENT]

#: the personal-data columns of these tables (:data:`cxlens.schema.pii.PII_COLUMNS` includes them)
PII: dict[str, frozenset[str]] = {
    "employees": frozenset({"name", "email"}),
    "interviews": frozenset({"participant"}),
    "interview_turns": frozenset({"speaker"}),
}

#: idempotent changes to this area's existing tables for schema version 7 (ALTER … IF NOT EXISTS)
V7: list[str] = []
