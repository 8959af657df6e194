"""The tables the behaviour features add (schema version 4): ``CREATE … IF NOT EXISTS`` statements only.

Tables about a person name them in a column of ``cxlens.customers.profile.PERSON_COLUMNS``
(``customer_id``, ``anonymous_id``…) so that GDPR export and erase reach them.

``behaviour_events`` is a narrow, typed copy of the behaviour events of ``events`` (the ``$…`` events
the browser SDK sends, and every page view), kept in step by :func:`cxlens.behaviour.sync`: the
analyses read a few typed columns instead of parsing every row's ``properties`` JSON, which is
what made a heatmap over 10M events take seconds.
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
        zone VARCHAR
    )""",
]
