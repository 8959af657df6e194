"""DuckDB functions the journey analyses' fast paths call through Ibis (``ibis.udf.scalar.builtin``):
the funnel's and the journey map's person hash, the map's cell hash, and the microsecond time of the funnel, path and map
scans. Only for DuckDB expressions; other backends keep the plain Ibis paths.

It also holds DuckDB's ``hash`` of short texts as a Python formula (:func:`short_text_hash`): a text
of at most :data:`SHORT_TEXT_BYTES` bytes is numbered exactly by that one hash, so the packed scans
skip their second hash for such ids (:func:`second_hash`, checked at every call by
:func:`short_hashes_exact`)."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable
from typing import Any

import ibis
import ibis.expr.datatypes as idt
import ibis.expr.types as ir

__all__ = [
    "PROBE_TEXTS",
    "SECOND",
    "SHORT_TEXT_BYTES",
    "byte_length",
    "duckdb_hash",
    "duckdb_hash2",
    "epoch_us",
    "second_hash",
    "second_hash_sql",
    "short_hashes_exact",
    "short_text_hash",
]


@ibis.udf.scalar.builtin(name="hash")
def duckdb_hash(value: str) -> idt.uint64:
    """DuckDB's 64-bit ``hash`` (Ibis' own ``.hash()`` casts it through a BITSTRING, slowly)."""


@ibis.udf.scalar.builtin(name="hash")
def duckdb_hash2(first: str, second: str) -> idt.uint64:
    """DuckDB's 64-bit ``hash`` of two strings (NULLs hash too): the map's cell of an event."""


@ibis.udf.scalar.builtin(name="epoch_us")
def epoch_us(value: dt.datetime) -> idt.int64:
    """DuckDB's ``epoch_us``: microseconds since 1970."""


@ibis.udf.scalar.builtin(name="strlen")
def byte_length(value: str) -> idt.int64:
    """DuckDB's ``strlen``: the text's length in UTF-8 bytes (Ibis' ``length()`` counts characters)."""


#: the character in front of the id for the packed scans' second hash
SECOND = "\x01"

#: texts of at most this many UTF-8 bytes have distinct DuckDB ``hash`` values (:func:`short_text_hash`)
SHORT_TEXT_BYTES = 7

_M64 = (1 << 64) - 1
#: DuckDB's multiplier (``MurmurHash64`` and the string blocks) and its string seed's two constants
_MUL = 0xD6E8FEB86659FD93
_SEED = 0xE17A1465
_SEED_LEN = 0xC6A4A7935BD1E995


def _murmur64(x: int) -> int:
    """DuckDB's ``MurmurHash64`` finaliser: a bijection of 64-bit values (xor-shifts and odd multiplies)."""
    x ^= x >> 32
    x = (x * _MUL) & _M64
    x ^= x >> 32
    x = (x * _MUL) & _M64
    return x ^ (x >> 32)


def short_text_hash(data: bytes) -> int:
    """DuckDB's ``hash`` of a text whose UTF-8 bytes are ``data`` (at most 7 bytes), in Python.

    DuckDB (``src/common/types/hash.cpp``, ``Hash(string_t)``, an inlined string) starts from the
    seed ``0xe17a1465 ^ (len · 0xc6a4a7935bd1e995)``, xors in the bytes as one little-endian 64-bit
    block (zero-padded) and multiplies by ``0xd6e8feb86659fd93`` (not for the empty text), then
    applies ``MurmurHash64``. For one length this is a bijection of the block (an xor, an odd
    multiplier, a bijective finaliser), so texts of one length never share a hash; a text of 1..7
    bytes fills at most the low 56 bits of the block, so its pre-multiply value keeps its length's
    seed's top byte, and the seven seeds' top bytes differ (and differ from the empty text's
    value brought back through the multiplier): no two texts of at most 7 bytes share a hash
    (``tests/journeys/test_short_ids.py`` checks the formula and this against DuckDB itself)."""
    n = len(data)
    if n > SHORT_TEXT_BYTES:
        raise ValueError(f"text of {n} bytes given to short_text_hash; expected at most {SHORT_TEXT_BYTES} bytes")
    h = _SEED ^ ((n * _SEED_LEN) & _M64)
    if n:
        h = ((h ^ int.from_bytes(data, "little")) * _MUL) & _M64
    return _murmur64(h)


#: texts whose DuckDB hash is compared with :func:`short_text_hash` before a packed scan relies on
#: it: every length 0..7, the edge bytes (NUL, 0x7f, the longest UTF-8 sequences, U+10FFFF) and
#: ids as they come (digits, letters, a prefix and a number)
PROBE_TEXTS: tuple[str, ...] = (
    "",
    "\x00",
    "\x01",
    "a",
    "\x7f",
    "é",
    "\x00\x00",
    "ab",
    "Zz",
    "\x7f\x7f",
    "€",
    "abc",
    "c12",
    "\x00\x00\x00",
    "\U0010ffff",
    "😀",
    "abcd",
    "1234",
    "\x00\x00\x00\x00",
    "éé",
    "a€",
    "abcde",
    "c1234",
    "\x7f\x7f\x7f\x7f\x7f",
    "a😀",
    "€é",
    "abcdef",
    "c12345",
    "\x00" * 6,
    "😀é",
    "€€",
    "ÿÿÿ",
    "abcdefg",
    "c999999",
    "\x00" * 7,
    "\x7f" * 7,
    "a\U0010ffffé",
    "😀€",
    "ABCDEFG",
    "0000000",
    "a\x00b\x00c\x00d",
    "\U0010ffff\x00\x00\x7f",
    "é€\x01\x00",
    "zzzzzzz",
)


@functools.lru_cache(maxsize=8)
def _probe_sql(hash_fn: Callable[[ir.StringValue], ir.IntegerValue]) -> str:
    """The query of :func:`short_hashes_exact`: ``hash_fn`` of each text of the bound list ``$1``,
    as one list in the list's order (compiled once per function: Ibis takes ≈ 3 ms to compile)."""
    probe = ibis.table({"i": "int64", "x": "string"}, name="_cx_probe")
    sql = ibis.to_sql(probe.select(probe.i, h=hash_fn(probe.x)), dialect="duckdb")
    return (
        "WITH _cx_probe AS (SELECT generate_subscripts($1::VARCHAR[], 1) AS i, unnest($1::VARCHAR[]) AS x) "
        f"SELECT list(h ORDER BY i) FROM ({sql})"
    )


def short_hashes_exact(backend: Any, hash_fn: Callable[[ir.StringValue], ir.IntegerValue] = duckdb_hash) -> bool:
    """Whether ``hash_fn`` (the scans' first hash, an Ibis expression of a text) on ``backend`` (an
    Ibis DuckDB backend) equals :func:`short_text_hash` on every one of :data:`PROBE_TEXTS`.

    One small query (≈ 1 ms: the probes are one bound list, never SQL literals), run before each
    packed scan, so that a DuckDB whose string hash changed turns the short-id shortcut off
    (:func:`second_hash`) instead of numbering distinct ids as one."""
    rows = backend.con.execute(_probe_sql(hash_fn), [list(PROBE_TEXTS)]).fetchone()
    want = [short_text_hash(p.encode()) for p in PROBE_TEXTS]
    return rows is not None and rows[0] is not None and list(rows[0]) == want


def second_hash(cid: ir.StringValue, short_ids: bool) -> ir.IntegerValue:
    """The packed scans' second hash of the id ``cid``: DuckDB's ``hash`` of the id behind ``\\x01``
    (another string to the hash, independent of the first), only checked against the first.

    With ``short_ids`` (:func:`short_hashes_exact` held), an id of at most :data:`SHORT_TEXT_BYTES`
    bytes gets 0 — the first hash alone numbers it exactly — and a longer one that hash with its
    low bit set, never 0: a short and a long id sharing the first hash then differ in the second,
    and the scans' check (:func:`~cxlens.journeys.numbering.customer_numbers`) sees them. The CASE
    computes the second hash only on the long ids' rows."""
    h2 = duckdb_hash(SECOND + cid)
    if not short_ids:
        return h2
    return ibis.ifelse(byte_length(cid) <= SHORT_TEXT_BYTES, ibis.literal(0, "uint64"), h2 | ibis.literal(1, "uint64"))


def second_hash_sql(column: str, short_ids: bool) -> str:
    """:func:`second_hash` as DuckDB SQL, of the SQL expression ``column`` (a text)."""
    h2 = f"hash('{SECOND}' || {column})"
    if not short_ids:
        return h2
    return f"CASE WHEN strlen({column}) <= {SHORT_TEXT_BYTES} THEN 0::UBIGINT ELSE {h2} | 1 END"
