"""The tables the act features add (schema version 4): ``CREATE … IF NOT EXISTS`` statements only.

Tables about a person name them in a column of ``cxlens.customers.profile.PERSON_COLUMNS``
(``customer_id``, ``anonymous_id``…) so that GDPR export and erase reach them.

* ``act_rules`` — every version of every rule (who changed it, when); the highest version is current.
* ``act_hosts`` — destination hosts an admin allowed (``cxlens act allow-host``).
* ``act_alerts`` — one row per rule firing on a customer signal (the throttle reads it).
* ``act_deliveries`` — one row per action of an alert: its idempotency key is ``delivery_id``; the job
  that sends it is ``job_id`` (the outbox row, committed with the feedback that triggered it).
* ``act_cases``, ``act_case_events`` — the follow-up queue and its audit trail.
* ``act_team_members`` — which dashboard users (e-mail) work a team's cases.
* ``act_score_state`` — per customer rule, the customers inside its band at the last scoring (a row
  with a NULL customer marks the rule's silent first pass), so only crossings fire.
* ``act_classifications`` — the classification of each new ticket and verbatim (sentiment, themes,
  emotions, effort, urgency) made when it was committed, while a ticket or verbatim rule is active.
* ``act_resurveys`` — the personal survey links a rule's ``survey`` action sent, per delivery, with the
  case they follow up, the score before and the re-survey answer when it arrives.
* ``act_shares`` — shared report links: the view, the creator and their role, expiry and revocation; the
  token is stored only as its SHA-256 (:mod:`cxlens.act.share`).
"""

from __future__ import annotations

__all__ = ["DDL"]

DDL: list[str] = [
    "CREATE TABLE IF NOT EXISTS act_rules (name VARCHAR NOT NULL, version INTEGER NOT NULL, "
    "definition VARCHAR NOT NULL, status VARCHAR NOT NULL, changed_by VARCHAR, changed_at TIMESTAMP NOT NULL, "
    "change VARCHAR, PRIMARY KEY (name, version))",
    "CREATE TABLE IF NOT EXISTS act_hosts (host VARCHAR PRIMARY KEY, allow_private BOOLEAN NOT NULL, "
    "added_by VARCHAR, added_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS act_alerts (alert_id VARCHAR PRIMARY KEY, rule VARCHAR NOT NULL, "
    "rule_version INTEGER NOT NULL, customer_id VARCHAR, feedback_id VARCHAR, trigger VARCHAR NOT NULL, "
    "metric VARCHAR, score DOUBLE, comment VARCHAR, touchpoint VARCHAR, survey_id VARCHAR, ts TIMESTAMP, "
    "created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS act_deliveries (delivery_id VARCHAR PRIMARY KEY, alert_id VARCHAR NOT NULL, "
    "customer_id VARCHAR, rule VARCHAR NOT NULL, channel VARCHAR NOT NULL, action VARCHAR NOT NULL, "
    "job_id VARCHAR, status VARCHAR NOT NULL, http_status INTEGER, sent_at TIMESTAMP, detail VARCHAR, "
    "created_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS act_cases (case_id VARCHAR PRIMARY KEY, customer_id VARCHAR, rule VARCHAR, "
    "alert_id VARCHAR, feedback_id VARCHAR, status VARCHAR NOT NULL, team VARCHAR, owner VARCHAR, "
    "priority VARCHAR NOT NULL, due_at TIMESTAMP, outcome VARCHAR, created_at TIMESTAMP NOT NULL, "
    "updated_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS act_case_events (event_id VARCHAR PRIMARY KEY, case_id VARCHAR NOT NULL, "
    "customer_id VARCHAR, ts TIMESTAMP NOT NULL, actor VARCHAR, field VARCHAR NOT NULL, old_value VARCHAR, "
    "new_value VARCHAR)",
    "CREATE TABLE IF NOT EXISTS act_team_members (team VARCHAR NOT NULL, email VARCHAR NOT NULL, "
    "PRIMARY KEY (team, email))",
    "CREATE TABLE IF NOT EXISTS act_score_state (rule VARCHAR NOT NULL, customer_id VARCHAR, "
    "value DOUBLE, since TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS act_classifications (verbatim_id VARCHAR PRIMARY KEY, customer_id VARCHAR, "
    "source VARCHAR, ts TIMESTAMP, sentiment VARCHAR, sentiment_score DOUBLE, theme VARCHAR, themes VARCHAR, "
    "emotions VARCHAR, effort BOOLEAN, urgency VARCHAR, analyser VARCHAR, classified_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS act_resurveys (delivery_id VARCHAR PRIMARY KEY, alert_id VARCHAR, case_id VARCHAR, "
    "customer_id VARCHAR, survey_id VARCHAR NOT NULL, link_id VARCHAR, before_score DOUBLE, sent_at TIMESTAMP, "
    "feedback_id VARCHAR, score DOUBLE, answered_at TIMESTAMP)",
    "CREATE TABLE IF NOT EXISTS act_shares (link_id VARCHAR PRIMARY KEY, token_hash VARCHAR NOT NULL, "
    "view VARCHAR NOT NULL, params VARCHAR NOT NULL, role VARCHAR NOT NULL, created_by VARCHAR, "
    "created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL, revoked_at TIMESTAMP, revoked_by VARCHAR)",
]

#: idempotent changes to this area's existing tables for schema version 7 (ALTER … IF NOT EXISTS)
V7: list[str] = []
