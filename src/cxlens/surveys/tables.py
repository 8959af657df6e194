"""Tables of survey definitions and responses, created by workspace schema migration 2."""

from __future__ import annotations

DDL: list[str] = []
