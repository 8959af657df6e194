"""Tables of the collection service, created by workspace schema migration 2.

Collected messages themselves go to the canonical ``events`` table (``event_id`` = the
client's ``messageId``) and ``identify`` traits to ``customers``; the only table of its own
the collection service keeps are the identity graph — which anonymous ids (browsers, devices)
turned out to be which customer — and the 64-bit hashes of the message ids it committed, which
the writer loads at start-up to deduplicate retries (see :mod:`cxlens.collect.writer`).
"""

from __future__ import annotations

DDL: list[str] = [
    # anonymous → customer stitching, recorded from every message that names both ids
    "CREATE TABLE IF NOT EXISTS collect_identities (anonymous_id VARCHAR NOT NULL, customer_id VARCHAR NOT NULL, "
    "first_seen TIMESTAMP, last_seen TIMESTAMP, PRIMARY KEY (anonymous_id, customer_id))",
    # md5_number_lower(event_id) of every collected event, appended in the same transaction as the
    # events; no index: it is read whole into memory when a collector starts (8 bytes an event)
    "CREATE TABLE IF NOT EXISTS collect_ids (h UBIGINT NOT NULL)",
]
