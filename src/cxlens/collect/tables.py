"""Tables of the collection service, created by workspace schema migration 2."""

from __future__ import annotations

DDL: list[str] = []
