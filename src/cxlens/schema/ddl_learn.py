"""The tables the learn features add (schema version 4): ``CREATE … IF NOT EXISTS`` statements only.

Tables about a person name them in a column of ``cxlens.customers.profile.PERSON_COLUMNS``
(``customer_id``, ``anonymous_id``…) so that GDPR export and erase reach them.
"""

from __future__ import annotations

__all__ = ["DDL"]

DDL: list[str] = []
