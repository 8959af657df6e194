"""Every table a workspace holds besides the canonical ones, as DDL (one owner: this module).

The canonical tables (customers, events, feedback, …) are declared column by column in
:mod:`cxlens.schema.tables`; the tables below belong to the services and caches built on them.
:mod:`cxlens.schema.migrations` creates them; nothing else says ``CREATE TABLE`` on a workspace.
"""

from __future__ import annotations

#: the schema version and other facts about the workspace file
META = ["CREATE TABLE IF NOT EXISTS _cxlens_meta (key VARCHAR PRIMARY KEY, value VARCHAR)"]

#: the journey configuration (see :mod:`cxlens.schema.journey`)
JOURNEY = [
    "CREATE TABLE IF NOT EXISTS journey_stages (stage VARCHAR, label VARCHAR, position INTEGER)",
    "CREATE TABLE IF NOT EXISTS journey_touchpoints (touchpoint VARCHAR, label VARCHAR, stage VARCHAR, channel VARCHAR)",
    "CREATE TABLE IF NOT EXISTS journey_config (name VARCHAR, yaml VARCHAR)",
]

#: the feedback cube: answers counted per metric, day, survey dimensions and score (nulls kept as
#: groups); maintained by :mod:`cxlens.store.rollup` in every transaction that writes ``feedback``
ROLLUP_TABLE = "feedback_rollup"
ROLLUP_DIMENSIONS = ("metric", "touchpoint", "channel", "stage", "survey_id")
ROLLUP = [
    f"CREATE TABLE IF NOT EXISTS {ROLLUP_TABLE} (metric VARCHAR, day DATE, touchpoint VARCHAR, channel VARCHAR, "
    "stage VARCHAR, survey_id VARCHAR, score DOUBLE, n BIGINT)"
]


def rollup_counts(source: str) -> str:
    """SELECT counting the rows of ``source`` (a table or subquery with feedback columns) per rollup group."""
    group = ", ".join(ROLLUP_DIMENSIONS) + ", score"
    return (
        f"SELECT metric, CAST(ts AS DATE) AS day, touchpoint, channel, stage, survey_id, score, "
        f"count(*)::BIGINT AS n FROM {source} GROUP BY {group}, CAST(ts AS DATE)"
    )


#: saved segments: reusable customer groups (RFM, clusters, rules); see :mod:`cxlens.store.segments`
SEGMENTS_TABLE = "segments"
SEGMENTS = [
    f"CREATE TABLE IF NOT EXISTS {SEGMENTS_TABLE} (segment VARCHAR, customer_id VARCHAR, kind VARCHAR, "
    "created_at TIMESTAMP)"
]

#: workspace settings (JSON values by name)
SETTINGS = ["CREATE TABLE IF NOT EXISTS settings (name VARCHAR PRIMARY KEY, value VARCHAR)"]

#: access control: keys and users live inside the workspace they grant access to
ACCESS = [
    # API keys: only a SHA-256 of the key is stored; the key itself is shown once, at creation
    "CREATE TABLE IF NOT EXISTS api_keys (key_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, name VARCHAR, "
    "key_hash VARCHAR NOT NULL UNIQUE, prefix VARCHAR, created_at TIMESTAMP NOT NULL, created_by VARCHAR, "
    "revoked_at TIMESTAMP)",
    # dashboard users: password_hash is an argon2 hash, role one of admin|analyst|agent
    "CREATE TABLE IF NOT EXISTS users (user_id VARCHAR PRIMARY KEY, email VARCHAR NOT NULL UNIQUE, name VARCHAR, "
    "role VARCHAR NOT NULL, password_hash VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, disabled_at TIMESTAMP)",
    # server-side sessions: the cookie carries the token, the table its SHA-256
    "CREATE TABLE IF NOT EXISTS sessions (token_hash VARCHAR PRIMARY KEY, user_id VARCHAR NOT NULL, "
    "csrf_token VARCHAR NOT NULL, created_at TIMESTAMP NOT NULL, expires_at TIMESTAMP NOT NULL)",
]

#: the collection service: collected messages go to ``events`` (``event_id`` = the client's
#: ``messageId``) and identify traits to ``customers``; it keeps the identity graph and the 64-bit
#: hashes of the message ids it committed (read whole at start-up to deduplicate retries)
COLLECT = [
    "CREATE TABLE IF NOT EXISTS collect_identities (anonymous_id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL, "
    "first_seen TIMESTAMP, last_seen TIMESTAMP, PRIMARY KEY (anonymous_id, customer_id))",
    "CREATE TABLE IF NOT EXISTS collect_ids (h UBIGINT NOT NULL)",
]

#: surveys: definitions, responses (partials merged), exposures (fatigue rules), used personal links
SURVEYS = [
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

#: voice: the stored analysis of each verbatim (redacted text, language, sentiment)
VERBATIM_ANALYSIS_TABLE = "verbatim_analysis"
VERBATIM_THEMES_TABLE = "verbatim_themes"
VOICE = [
    f"CREATE TABLE IF NOT EXISTS {VERBATIM_ANALYSIS_TABLE} (verbatim_id VARCHAR PRIMARY KEY, language VARCHAR, "
    "sentiment_score DOUBLE, sentiment_label VARCHAR, redacted_text VARCHAR, analysed_at TIMESTAMP, model VARCHAR, "
    "original_text VARCHAR)",
    # the theme of each analysed English verbatim under the workspace's theme model (the voice.themes job)
    f"CREATE TABLE IF NOT EXISTS {VERBATIM_THEMES_TABLE} (verbatim_id VARCHAR PRIMARY KEY, theme VARCHAR, "
    "themes VARCHAR, model VARCHAR)",
]

#: the demo generator's ground truth (one JSON value per key)
DEMO = ["CREATE TABLE IF NOT EXISTS demo_truth (key VARCHAR, value VARCHAR)"]

#: how many committed transactions changed each table (see :meth:`cxlens.store.Store.data_version`)
DATA_VERSIONS = ["CREATE TABLE IF NOT EXISTS data_versions (name VARCHAR PRIMARY KEY, version BIGINT NOT NULL)"]

#: background work (see :mod:`cxlens.jobs`): a durable queue claimed by worker threads. ``slot``
#: makes a scheduled or refresh run unique (one row per slot, whatever the number of servers)
JOBS = [
    "CREATE TABLE IF NOT EXISTS jobs (job_id VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, params VARCHAR, "
    "slot VARCHAR UNIQUE, status VARCHAR NOT NULL, attempts INTEGER NOT NULL, max_attempts INTEGER NOT NULL, "
    "run_after TIMESTAMP NOT NULL, lease_until TIMESTAMP, worker VARCHAR, created_at TIMESTAMP NOT NULL, "
    "started_at TIMESTAMP, finished_at TIMESTAMP, error VARCHAR, result VARCHAR)",
    # what the jobs computed: one row per result name, with the data versions it was computed on
    "CREATE TABLE IF NOT EXISTS results (name VARCHAR PRIMARY KEY, kind VARCHAR NOT NULL, versions VARCHAR, "
    "computed_at TIMESTAMP NOT NULL, seconds DOUBLE, payload BLOB, meta VARCHAR)",
    # per-customer scores of the stored models (predicted CLV, churn risk and its top reasons)
    "CREATE TABLE IF NOT EXISTS customer_scores (customer_id VARCHAR PRIMARY KEY, frequency DOUBLE, recency DOUBLE, "
    '"T" DOUBLE, monetary DOUBLE, p_alive DOUBLE, expected_purchases DOUBLE, expected_value DOUBLE, clv DOUBLE, '
    "clv_low DOUBLE, clv_high DOUBLE, churn_risk DOUBLE, reasons VARCHAR, reason_list VARCHAR, "
    "computed_at TIMESTAMP NOT NULL)",
]
