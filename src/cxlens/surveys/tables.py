"""Tables of survey definitions and responses, created by workspace schema migration 2.

* ``surveys``: one row per survey; ``definition`` is the validated definition as JSON.
* ``survey_responses``: one row per response (score first, comment later merge into it), keyed
  by the survey and the client's response id; ``feedback_id`` names the canonical feedback row.
* ``survey_exposures``: impressions and dismissals per person, for fatigue rules.
* ``survey_links``: personal (email) links that were answered, so each is used once.
"""

from __future__ import annotations

DDL: list[str] = [
    "CREATE TABLE IF NOT EXISTS surveys (survey_id VARCHAR PRIMARY KEY, name VARCHAR NOT NULL, "
    "status VARCHAR NOT NULL, definition VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, "
    "updated_at TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS survey_responses (survey_id VARCHAR NOT NULL, response_id VARCHAR NOT NULL, "
    "person VARCHAR NOT NULL, customer_id VARCHAR, anonymous_id VARCHAR, score DOUBLE, comment VARCHAR, "
    "answers VARCHAR, language VARCHAR, url VARCHAR, feedback_id VARCHAR, link_id VARCHAR, "
    "created_at TIMESTAMP NOT NULL, updated_at TIMESTAMP NOT NULL, PRIMARY KEY (survey_id, response_id))",
    "CREATE TABLE IF NOT EXISTS survey_exposures (survey_id VARCHAR NOT NULL, person VARCHAR NOT NULL, "
    "kind VARCHAR NOT NULL, ts TIMESTAMP NOT NULL)",
    "CREATE TABLE IF NOT EXISTS survey_links (link_id VARCHAR PRIMARY KEY, survey_id VARCHAR NOT NULL, "
    "customer_id VARCHAR, used_at TIMESTAMP NOT NULL)",
]
