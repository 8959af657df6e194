"""The tables the behaviour features add (schema version 4): ``CREATE … IF NOT EXISTS`` statements only.

Tables about a person name them in a column of ``cxlens.customers.profile.PERSON_COLUMNS``
(``customer_id``, ``anonymous_id``…) so that GDPR export and erase reach them.

``behaviour_events`` is a narrow, typed copy of the behaviour events of ``events`` (the ``$…`` events
the browser SDK sends, and every page view), kept in step by :func:`cxlens.behaviour.sync`: the
analyses read a few typed columns instead of parsing every row's ``properties`` JSON, which is
what made a heatmap over 10M events take seconds.

Session replay (:mod:`cxlens.behaviour.replay`): ``replay_chunks`` holds each chunk the SDK sent as
one compressed block (zlib of the chunk's rrweb events as JSON), keyed by ``(session_id, seq)``
(the primary key makes a re-sent chunk a no-op and its index finds one session's blocks without
reading the others'); ``replay_sessions`` is one row per recorded session (what the replay list
reads, and the running total the per-session size cap is checked against).
"""

from __future__ import annotations

__all__ = ["DDL"]

DDL: list[str] = [
    """CREATE TABLE IF NOT EXISTS behaviour_events (
        event_id VARCHAR NOT NULL,
        customer_id VARCHAR,
        anonymous_id VARCHAR,
        session_id VARCHAR,
        ts TIMESTAMP,
        type VARCHAR,
        name VARCHAR,
        touchpoint VARCHAR,
        url VARCHAR,
        page VARCHAR,
        pageview_id VARCHAR,
        selector VARCHAR,
        text VARCHAR,
        x DOUBLE,
        y DOUBLE,
        viewport_width DOUBLE,
        viewport_height DOUBLE,
        rel_x DOUBLE,
        rel_y DOUBLE,
        hesitation_ms DOUBLE,
        since_load_ms DOUBLE,
        percent DOUBLE,
        zones VARCHAR,
        zone VARCHAR,
        direction_changes DOUBLE
    )""",
    """CREATE TABLE IF NOT EXISTS replay_sessions (
        session_id VARCHAR PRIMARY KEY,
        customer_id VARCHAR,
        anonymous_id VARCHAR,
        started_at TIMESTAMP,
        ended_at TIMESTAMP,
        url VARCHAR,
        chunks INTEGER,
        events BIGINT,
        raw_bytes BIGINT,
        stored_bytes BIGINT,
        received_at TIMESTAMP
    )""",
    """CREATE TABLE IF NOT EXISTS replay_chunks (
        session_id VARCHAR NOT NULL,
        seq INTEGER NOT NULL,
        customer_id VARCHAR,
        anonymous_id VARCHAR,
        first_ts TIMESTAMP,
        last_ts TIMESTAMP,
        events INTEGER,
        raw_bytes INTEGER,
        codec VARCHAR,
        data BLOB,
        received_at TIMESTAMP,
        PRIMARY KEY (session_id, seq)
    )""",
]

#: idempotent changes to this area's existing tables for schema version 7 (ALTER … IF NOT EXISTS)
V7: list[str] = []
