"""Tables of the collection service, created by workspace schema migration 2.

Collected messages themselves go to the canonical ``events`` table (``event_id`` = the
client's ``messageId``) and ``identify`` traits to ``customers``; the only table of its own
the collection service keeps is the identity graph: which anonymous ids (browsers, devices)
turned out to be which customer.
"""

from __future__ import annotations

DDL: list[str] = [
    # anonymous → customer stitching, recorded from every message that names both ids
    "CREATE TABLE IF NOT EXISTS collect_identities (anonymous_id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL, "
    "first_seen TIMESTAMP, last_seen TIMESTAMP, PRIMARY KEY (anonymous_id, customer_id))",
]
