"""The tables the learn features add (schema version 4): ``CREATE … IF NOT EXISTS`` statements only.

Tables about a person name them in a column of ``cxlens.customers.profile.PERSON_COLUMNS``
(``customer_id``, ``anonymous_id``…) so that GDPR export and erase reach them.
"""

from __future__ import annotations

__all__ = ["DDL"]

#: experiments: the configured variants and split (``weights`` in the variants' order), the planned
#: sample size per variant (for the "read before its planned size" warning)
EXPERIMENTS = [
    "CREATE TABLE IF NOT EXISTS experiments (name VARCHAR PRIMARY KEY, variants VARCHAR NOT NULL, "
    "weights VARCHAR NOT NULL, planned_per_variant BIGINT, description VARCHAR, created_at TIMESTAMP NOT NULL)",
]

DDL: list[str] = [*EXPERIMENTS]
