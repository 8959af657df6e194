"""The packed scans' short-id shortcut (cxlens.journeys.sqlfns): DuckDB's ``hash`` numbers texts of at
most 7 bytes exactly, so their second hash is skipped. Checked against DuckDB's ``hash`` itself:
the Python formula, the proof that no two such texts share a hash, real clashes between a short and
a long id (crafted by inverting DuckDB's hash), and the probe that turns the shortcut off."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from cxlens.journeys import funnels as funnels_mod
from cxlens.journeys import sqlfns
from cxlens.journeys.funnel_reference import canonical_events, events_schema, reference_funnel
from cxlens.journeys.funnels import FunnelQuery
from cxlens.journeys.sqlfns import PROBE_TEXTS, short_hashes_exact, short_text_hash

from .test_funnels_packed import _count_fallbacks

# DuckDB's constants, from src/common/types/hash.cpp (Hash(string_t), MurmurHash64), restated here
# so that the tests below do not take them from the code they check
_M64 = (1 << 64) - 1
_MUL = 0xD6E8FEB86659FD93
_INV = pow(_MUL, -1, 1 << 64)


def _seed(n: int) -> int:
    return (0xE17A1465 ^ (n * 0xC6A4A7935BD1E995)) & _M64


def _unmurmur(x: int) -> int:
    """The inverse of DuckDB's MurmurHash64 finaliser (each xor-shift by 32 is its own inverse)."""
    x ^= x >> 32
    x = (x * _INV) & _M64
    x ^= x >> 32
    x = (x * _INV) & _M64
    return x ^ (x >> 32)


@pytest.fixture(scope="module")
def raw():
    return ibis.duckdb.connect().con


def duckdb_hashes(raw, texts: list[str]) -> list[int]:
    """DuckDB's ``hash`` of each text (bound as one list, in order)."""
    (got,) = raw.execute("SELECT list_transform($1::VARCHAR[], x -> hash(x))", [texts]).fetchone()
    return list(got)


def random_short_texts(rng: np.random.Generator, count: int) -> list[str]:
    """``count`` texts of 0..7 UTF-8 bytes from code points of 1, 2, 3 and 4 bytes (NUL, 0x7f and
    U+10FFFF included)."""
    ranges = [(0, 0x80), (0x80, 0x800), (0x800, 0xD800), (0xE000, 0x10000), (0x10000, 0x110000)]
    out = []
    while len(out) < count:
        size = int(rng.integers(0, 8))
        text = ""
        while True:
            lo, hi = ranges[int(rng.integers(0, len(ranges)))]
            cp = int(rng.choice([lo, hi - 1])) if rng.random() < 0.2 else int(rng.integers(lo, hi))
            if len((text + chr(cp)).encode()) > size:
                break
            text += chr(cp)
        out.append(text)
    return out


def test_short_text_hash_equals_duckdb_hash_on_random_texts_of_at_most_7_bytes(raw):
    texts = random_short_texts(np.random.default_rng(0), 4_000)
    sizes = {len(t.encode()) for t in texts}
    assert sizes == set(range(8)) and any(not t.isascii() for t in texts)
    assert [short_text_hash(t.encode()) for t in texts] == duckdb_hashes(raw, texts)
    assert [short_text_hash(p.encode()) for p in PROBE_TEXTS] == duckdb_hashes(raw, list(PROBE_TEXTS))
    with pytest.raises(ValueError, match="8 bytes"):
        short_text_hash(b"abcdefgh")


def test_no_two_texts_of_at_most_7_bytes_share_a_duckdb_hash_by_construction():
    # MurmurHash64 and the odd multiplier are bijections, so two texts share a hash exactly when
    # their blocks xor their lengths' seeds to one value (the empty text: its seed, unmultiplied).
    # A text of n ≤ 7 bytes is a block below 2**(8n): texts of lengths a < b can meet only if the
    # two seeds differ below bit 8b, i.e. seed(a) ^ seed(b) < 2**(8b); within one length the xor
    # is a bijection
    for a in range(1, 8):
        for b in range(a + 1, 8):
            assert _seed(a) ^ _seed(b) >= 1 << (8 * b), (a, b)
    empty = (_seed(0) * _INV) & _M64  # the block value a 1..7-byte text would need to meet ""
    for n in range(1, 8):
        assert empty ^ _seed(n) >= 1 << (8 * n), n


def test_duckdb_hash_is_injective_on_every_text_of_at_most_2_bytes(raw):
    one = [chr(c) for c in range(128)]
    texts = ["", *one, *(a + b for a in one for b in one), *(chr(c) for c in range(0x80, 0x800))]
    assert len(texts) == 1 + 128 + 128**2 + 1920
    (distinct,) = raw.execute(
        "SELECT count(DISTINCT h) FROM (SELECT hash(unnest($1::VARCHAR[])) AS h)", [texts]
    ).fetchone()
    assert distinct == len(texts)


def test_duckdb_hash_is_injective_on_random_texts_of_3_to_7_bytes(raw):
    rng = np.random.default_rng(1)
    # 300,000 ASCII texts of 3..7 bytes (random bytes 0..127) and 30,000 with other characters
    sizes = rng.integers(3, 8, 300_000)
    codes = rng.integers(0, 128, (300_000, 7)).astype(np.uint8)
    ascii_texts = [bytes(row[:n]).decode() for row, n in zip(codes, sizes, strict=True)]
    other = [t for t in random_short_texts(rng, 60_000) if len(t.encode()) >= 3][:30_000]
    texts = pa.array(ascii_texts + other, pa.string())
    raw.register("_texts", pa.table({"x": texts}))
    try:
        n_text, n_hash, n_big = raw.execute(
            "SELECT count(DISTINCT x), count(DISTINCT hash(x)), max(strlen(x)) FROM _texts"
        ).fetchone()
    finally:
        raw.unregister("_texts")
    assert n_big == 7 and n_text > 300_000
    assert n_hash == n_text


def clashing_long_ids(count: int) -> list[tuple[str, str]]:
    """Pairs (short id of 3–5 bytes, 10-byte id) with the same DuckDB hash, crafted by inverting it:
    a 10-byte text is two blocks, ((seed(10) ^ B1)·M ^ B2)·M, so for a short id's (seed ^ b)·M and
    a chosen tail B2 the head B1 is solved for; pairs whose head is valid UTF-8 are kept."""
    out = []
    tail = b"zz"
    for i in range(1_000_000):
        short = f"u{i}".encode()
        pre = _seed(len(short)) ^ int.from_bytes(short, "little")
        head = (_seed(8 + len(tail)) ^ (((pre ^ int.from_bytes(tail, "little")) * _INV) & _M64)).to_bytes(8, "little")
        try:
            out.append((short.decode(), (head + tail).decode()))
        except UnicodeDecodeError:
            continue
        if len(out) == count:
            return out
    raise AssertionError("no clashing ids found")


def _second_hash_zeros(monkeypatch) -> list[bool]:
    """A list that gets, each time the packed scan numbers a half, whether some row's second hash is
    0 (the short-id shortcut at work)."""
    seen: list[bool] = []
    numbers = funnels_mod.customer_numbers

    def spy(h, h2, bits):
        seen.append(bool((h2 == 0).any()))
        return numbers(h, h2, bits)

    monkeypatch.setattr(funnels_mod, "customer_numbers", spy)
    return seen


def short_and_long_events(rng: np.random.Generator, ids: list[str]) -> pd.DataFrame:
    """Steps a, b, c of each id at random seconds (ties and out-of-window chains included)."""
    rows = []
    for cid in ids:
        for _ in range(int(rng.integers(1, 6))):
            rows.append((cid, int(rng.integers(0, 40)), str(rng.choice(["a", "b", "c", "x"]))))
    df = pd.DataFrame(rows, columns=["customer_id", "sec", "name"])
    df["ts"] = pd.Timestamp("2024-01-01") + pd.to_timedelta(df.pop("sec"), unit="s")
    return canonical_events(df.assign(anonymous_id=None, channel=None, properties=None))


def test_a_short_and_a_long_id_sharing_the_first_hash_are_kept_apart(raw, monkeypatch):
    pairs = clashing_long_ids(3)
    a, b = zip(*pairs, strict=True)
    assert duckdb_hashes(raw, list(a)) == duckdb_hashes(raw, list(b))  # real clashes in DuckDB
    assert all(len(x.encode()) <= 7 for x in a) and all(len(x.encode()) == 10 for x in b)
    con = ibis.duckdb.connect()
    zeros, fell_back = _second_hash_zeros(monkeypatch), _count_fallbacks(monkeypatch)
    rng = np.random.default_rng(3)
    for rep in range(4):
        # the clashing pairs among short ids, ids of exactly 7 and 8 bytes, and long ones
        ids = [*a, *b, "c1", "abcdefg", "abcdefgh", "\u00e9" * 3 + "a", "\u00e9" * 4, "id-" + "\u4e2d" * 9]
        df = short_and_long_events(rng, ids)
        t = con.create_table("clash", ibis.memtable(df, schema=events_schema()), overwrite=True)
        q = {"steps": ["a", "b", "c"], "window": "20s", "time_basis": ["chain", "first"][rep % 2]}
        pd.testing.assert_frame_equal(FunnelQuery(**q).run(t), reference_funnel(df, **q), check_dtype=False)
    assert zeros and any(zeros)  # the shortcut was on…
    assert len(fell_back) == 4  # …and the clash sent every run to the text-sorted scan


def test_the_shortcut_is_on_for_short_ids_and_the_counts_are_exact(monkeypatch):
    con = ibis.duckdb.connect()
    zeros, fell_back = _second_hash_zeros(monkeypatch), _count_fallbacks(monkeypatch)
    rng = np.random.default_rng(4)
    ids = [f"c{i}" for i in range(40)] + ["\u00e9" * 3 + "a", "abcdefgh", "\u00e9" * 4]
    df = short_and_long_events(rng, ids)
    t = con.create_table("short", ibis.memtable(df, schema=events_schema()), overwrite=True)
    q = {"steps": ["a", "b", "c"], "window": "20s"}
    pd.testing.assert_frame_equal(FunnelQuery(**q).run(t), reference_funnel(df, **q), check_dtype=False)
    assert zeros == [True, True] and not fell_back


def test_a_wrong_formula_turns_the_shortcut_off_and_results_stay_exact(monkeypatch):
    con = ibis.duckdb.connect()
    real = sqlfns.short_text_hash
    assert short_hashes_exact(con)
    monkeypatch.setattr(sqlfns, "short_text_hash", lambda data: real(data) ^ (1 << 40))  # a future DuckDB
    assert not short_hashes_exact(con)
    zeros = _second_hash_zeros(monkeypatch)
    df = short_and_long_events(np.random.default_rng(5), [f"c{i}" for i in range(30)] + ["abcdefgh"])
    t = con.create_table("wrong", ibis.memtable(df, schema=events_schema()), overwrite=True)
    q = {"steps": ["a", "b", "c"], "window": "20s"}
    pd.testing.assert_frame_equal(FunnelQuery(**q).run(t), reference_funnel(df, **q), check_dtype=False)
    assert zeros == [False, False]  # every row got its second hash


def test_a_first_hash_that_is_not_duckdb_s_fails_the_probe():
    # the probe runs the scan's own first-hash expression: one that merges short ids (their
    # length) or any other function is caught, the real one passes
    con = ibis.duckdb.connect()
    assert short_hashes_exact(con, sqlfns.duckdb_hash)
    assert not short_hashes_exact(con, lambda v: v.length().cast("uint64"))
    assert not short_hashes_exact(con, lambda v: sqlfns.duckdb_hash(v + "x"))
    assert not short_hashes_exact(con, lambda v: sqlfns.duckdb_hash(v.upper()))
