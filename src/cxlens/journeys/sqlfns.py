"""DuckDB functions the journey analyses' fast paths call through Ibis (``ibis.udf.scalar.builtin``):
the funnel's and the journey map's person hash, the map's cell hash, and the microsecond time of the funnel, path and map
scans. Only for DuckDB expressions; other backends keep the plain Ibis paths."""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.datatypes as idt

__all__ = ["duckdb_hash", "duckdb_hash2", "epoch_us"]


@ibis.udf.scalar.builtin(name="hash")
def duckdb_hash(value: str) -> idt.uint64:
    """DuckDB's 64-bit ``hash`` (Ibis' own ``.hash()`` casts it through a BITSTRING, slowly)."""


@ibis.udf.scalar.builtin(name="hash")
def duckdb_hash2(first: str, second: str) -> idt.uint64:
    """DuckDB's 64-bit ``hash`` of two strings (NULLs hash too): the map's cell of an event."""


@ibis.udf.scalar.builtin(name="epoch_us")
def epoch_us(value: dt.datetime) -> idt.int64:
    """DuckDB's ``epoch_us``: microseconds since 1970."""
