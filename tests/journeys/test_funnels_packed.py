"""The funnel's sorted scan on a packed integer key (cxlens.journeys.funnels._packed_keys): the
customer numbers, the fallbacks to the scan sorted by the text id, and fuzzing of both scans
against each other and against the brute-force reference on awkward logs."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxlens.journeys import funnels as funnels_mod
from cxlens.journeys import numbering
from cxlens.journeys.funnel_reference import events_schema, random_events, reference_funnel
from cxlens.journeys.funnels import FunnelQuery
from cxlens.journeys.numbering import customer_numbers as _customer_numbers

STEPS = ["a", "b", "c", "d"]


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def same_partition(numbers: np.ndarray, h: np.ndarray) -> bool:
    """Whether two rows have equal numbers exactly when they have equal hashes (an oracle
    independent of the code: pandas' factorize of both)."""
    a, b = pd.factorize(numbers)[0], pd.factorize(h)[0]
    return len(np.unique(a)) == len(np.unique(b)) == len(np.unique(a * (b.max() + 1) + b))


def clashing_hashes(rng: np.random.Generator) -> np.ndarray:
    """5,000 rows of 300 hashes in 3 groups sharing their leading 20 bits."""
    lead = rng.integers(0, 2**20, 3, dtype=np.uint64) << np.uint64(44)
    distinct = lead[rng.integers(0, 3, 300)] | rng.integers(1, 2**40, 300, dtype=np.uint64)
    return distinct[rng.integers(0, 300, 5_000)]


def test_customer_numbers_give_clashing_leading_bits_numbers_of_their_own():
    h = clashing_hashes(np.random.default_rng(3))
    h2 = h * np.uint64(7) + np.uint64(1)  # one second hash per first hash: no collision
    bits = 30  # leading 29 bits kept: the three groups clash, all but one value of each moves
    out = _customer_numbers(h, h2, bits)
    assert out is not None and out.dtype == np.int64
    assert out.min() >= 0 and out.max() < 2**bits
    assert same_partition(out, h)
    assert (out >= 2 ** (bits - 1)).any()  # the clash path ran


def test_customer_numbers_number_densely_with_too_many_clashes_or_few_bits(monkeypatch):
    h = clashing_hashes(np.random.default_rng(4))
    distinct = len(np.unique(h))
    monkeypatch.setattr(numbering, "_MAX_CLASHES", 10)
    for bits in (30, 20):  # too many clashes; too few bits for the leading-bits numbers
        out = _customer_numbers(h, h ^ np.uint64(5), bits)
        assert same_partition(out, h) and out.min() == 0 and out.max() == distinct - 1
    assert _customer_numbers(h, h ^ np.uint64(5), 8) is None  # 300 customers need 9 bits


def test_customer_numbers_refuse_ids_that_share_the_first_hash():
    h = np.array([5, 9, 5, 5, 9], np.uint64)
    h2 = np.array([1, 2, 1, 3, 2], np.uint64)  # rows 0 and 3: same h, different ids
    assert _customer_numbers(h, h2, 40) is None
    assert _customer_numbers(h, np.array([1, 2, 1, 1, 2], np.uint64), 40) is not None


def awkward_events(rng: np.random.Generator) -> tuple[pd.DataFrame, str]:
    """Random logs (ties, anonymous ids, events without an id, one-event customers) with
    long unicode ids, a few ids differing only in case, spaces or normalisation, and times at
    whole seconds, milliseconds or microseconds (sub-second ties and window edges)."""
    df = random_events(rng, customers=int(rng.integers(1, 9)), span=int(rng.integers(1, 15)))
    odd = ["x", "x ", "X", "\u00e9", "e\u0301", "\u00e9" * 80 + "\U0001f600", "id-" + "\u4e2d" * 40]
    if len(df) and rng.random() < 0.5:
        pick = rng.random(len(df)) < 0.3
        df.loc[pick, "customer_id"] = [odd[i] for i in rng.integers(0, len(odd), int(pick.sum()))]
    unit = str(rng.choice(["s", "ms", "us"]))
    jitter = rng.integers(0, 3, len(df)) * {"s": 0, "ms": 1_000, "us": 1}[unit]
    df["ts"] = df["ts"] + pd.to_timedelta(jitter, unit="us")
    return df, unit


def run_both(t, q: dict) -> tuple[pd.DataFrame, pd.DataFrame]:
    fq = FunnelQuery(**q)
    assert fq._fast_ok(t)
    return fq._fast_summary(t), fq._text_sorted_summary(t)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_packed_scan_equals_text_sorted_scan_and_reference(con, seed):
    rng = np.random.default_rng(seed)
    df, unit = awkward_events(rng)
    n = int(rng.integers(1, 5))
    q = {
        "steps": list(rng.permutation(STEPS)[:n]),
        "window": str(rng.choice(["1s", "59s", "1m", "3m", "12m"])),
        "time_basis": str(rng.choice(["chain", "first"])),
        "times": bool(rng.random() < 0.8),
    }
    t = con.create_table("fuzz", ibis.memtable(df, schema=events_schema()), overwrite=True)
    got, old = run_both(t, q)
    pd.testing.assert_frame_equal(got, old[got.columns], check_dtype=False)
    exp = reference_funnel(df, **{k: v for k, v in q.items() if k != "times"})
    out = FunnelQuery(**q).run(t)
    # the engine counts time to convert in whole epoch seconds (every path), the reference in
    # exact time: their times agree only when the log is in whole seconds
    exact = q["times"] and unit == "s"
    cols = list(out.columns) if exact else [c for c in out.columns if not c.endswith("_seconds")]
    pd.testing.assert_frame_equal(out[cols], exp[cols], check_dtype=False, atol=1e-9)


def test_packed_scan_falls_back_when_the_first_hash_collides(con, monkeypatch):
    # a first "hash" that is the id's length (ids of one length collide); the second is the real
    # hash of the id behind '\x01' (sqlfns.second_hash, not patched). The short-id shortcut's probe
    # runs the same first hash, finds it is not DuckDB's and gives every id its second hash (else
    # the short ids "c0".."c11" would get 0 and be merged); the numbers must be refused and the
    # text-sorted scan used
    calls = []

    def weak_hash(value):
        calls.append(value)
        return value.length().cast("uint64")

    monkeypatch.setattr(funnels_mod, "duckdb_hash", weak_hash)
    fell_back = _count_fallbacks(monkeypatch)
    rng = np.random.default_rng(8)
    df = random_events(rng, customers=12)
    t = con.create_table("fuzz", ibis.memtable(df, schema=events_schema()), overwrite=True)
    q = {"steps": ["a", "b", "c"], "window": "6m"}
    pd.testing.assert_frame_equal(FunnelQuery(**q).run(t), reference_funnel(df, **q), check_dtype=False)
    assert calls and fell_back


def _count_fallbacks(monkeypatch) -> list[int]:
    """A list that gets one item each time the text-sorted scan (the packed scan's fallback) runs."""
    fell_back: list[int] = []
    text_sorted = FunnelQuery._text_sorted_summary

    def spy(self, events):
        fell_back.append(1)
        return text_sorted(self, events)

    monkeypatch.setattr(FunnelQuery, "_text_sorted_summary", spy)
    return fell_back


def test_packed_scan_falls_back_when_the_key_does_not_fit(con, monkeypatch):
    # microsecond times two thousand years apart leave 4 bits for the customer number, too few
    # for the ~32 customers of either half of 64: the text-sorted scan (today's path) answers
    # (pandas cannot hold these times, so the reference cannot be run; the counts are checked by hand)
    rows = []
    for j in range(64):
        first, second = ("a", "b") if j % 2 == 0 else ("b", "a")
        rows.append(f"('c{j}', TIMESTAMP '1000-01-01 00:00:00' + INTERVAL {j + 1} MICROSECOND, '{first}')")
        rows.append(f"('c{j}', TIMESTAMP '3000-01-01 00:00:00' + INTERVAL {j + 3} MICROSECOND, '{second}')")
    con.raw_sql(f"CREATE OR REPLACE TABLE far AS SELECT * FROM (VALUES {', '.join(rows)}) v(customer_id, ts, name)")
    t = con.table("far")
    fell_back = _count_fallbacks(monkeypatch)
    out = FunnelQuery(["a", "b"], window="1000000d").run(t)
    assert fell_back
    assert out["customers"].tolist() == [64, 32]


def _customer_hashes(con, t) -> pd.Series:
    """Each customer's first hash (DuckDB's ``hash`` of the id, as unsigned), computed by SQL apart
    from the scan: ``coalesce(customer_id, anonymous_id)`` → hash."""
    sql = f"SELECT DISTINCT coalesce(customer_id, anonymous_id) AS c FROM {t.get_name()} WHERE c IS NOT NULL"
    ids = con.raw_sql(f"SELECT c, hash(c) AS h FROM ({sql})").df()
    return ids.set_index("c")["h"].astype("uint64").sort_values()


def _count_parts(monkeypatch) -> list[tuple[bool, list[int]]]:
    """A list that gets ``(lower, step counts)`` each time a half of the packed scan is walked."""
    seen: list[tuple[bool, list[int]]] = []
    part = FunnelQuery._packed_part

    def spy(self, cols, lower):
        out = part(self, cols, lower)
        seen.append((lower, out[0] if out is not None else None))
        return out

    monkeypatch.setattr(FunnelQuery, "_packed_part", spy)
    return seen


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), where=st.sampled_from(["at", "after", "zero", "top"]))
def test_packed_scan_split_at_any_customer_equals_text_sorted_scan_and_reference(con, seed, where):
    # the two halves are cut at a customer's own hash ("at": it opens the upper half; "after": it
    # closes the lower one), below every hash (the lower half empty) or above every hash (the
    # upper half empty); each half's step-1 count must be the customers on its side of the cut,
    # counted from DuckDB's hashes by SQL, and the sum the whole funnel
    rng = np.random.default_rng(seed)
    df, unit = awkward_events(rng)
    t = con.create_table("split", ibis.memtable(df, schema=events_schema()), overwrite=True)
    hashes = _customer_hashes(con, t)
    if len(hashes) == 0:
        return
    pick = int(hashes.iloc[int(rng.integers(0, len(hashes)))])
    cut = {"at": pick, "after": pick + 1, "zero": 0, "top": 2**64 - 1}[where]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(funnels_mod, "_SPLIT", np.uint64(cut))
        seen = _count_parts(mp)
        q = {"steps": ["a", "b", "c"], "window": str(rng.choice(["1s", "1m", "5m"])), "time_basis": "first"}
        got, old = run_both(t, q)
    pd.testing.assert_frame_equal(got, old[got.columns], check_dtype=False)
    starters = set(df.loc[df["name"] == "a"].pipe(lambda d: d["customer_id"].fillna(d["anonymous_id"])).dropna())
    below = sum(1 for c in starters if hashes[c] < cut)
    ids = df["customer_id"].fillna(df["anonymous_id"])
    if not (df["name"].isin(q["steps"]) & ids.notna() & df["ts"].notna()).any():
        assert seen == []  # no step row at all: nothing to split, the text-sorted scan answers
    else:
        assert sorted((lower, counts[0]) for lower, counts in seen) == [(False, len(starters) - below), (True, below)]
    exp = reference_funnel(df, **q)
    cols = [c for c in exp.columns if unit == "s" or not c.endswith("_seconds")]
    pd.testing.assert_frame_equal(FunnelQuery(**q).run(t)[cols], exp[cols], check_dtype=False, atol=1e-9)


def test_packed_scan_with_one_customer_and_with_none(con, monkeypatch):
    # one customer: one half holds every row, the other is empty; no customer (only events without
    # an id): no row is read and the text-sorted scan answers with zeros
    seen = _count_parts(monkeypatch)
    one = pd.DataFrame(
        {
            "customer_id": ["solo"] * 4,
            "ts": pd.to_datetime(
                ["2024-01-01 00:00:00", "2024-01-01 00:00:05", "2024-01-01 00:00:05", "2024-01-01 00:01:00"]
            ),
            "name": ["a", "b", "a", "c"],
        }
    )
    t = con.create_table("one", ibis.memtable(one.pipe(_canonical), schema=events_schema()), overwrite=True)
    out = FunnelQuery(["a", "b", "c"], window="1m").run(t)
    assert out["customers"].tolist() == [1, 1, 1]
    assert out["median_seconds"].tolist()[1:] == [5.0, 55.0]
    assert sorted(c[0] for _, c in seen) == [0, 1]
    none = one.assign(customer_id=None)
    t = con.create_table("none", ibis.memtable(none.pipe(_canonical), schema=events_schema()), overwrite=True)
    fell_back = _count_fallbacks(monkeypatch)
    out = FunnelQuery(["a", "b", "c"], window="1m").run(t)
    assert out["customers"].tolist() == [0, 0, 0] and fell_back


def _canonical(df: pd.DataFrame) -> pd.DataFrame:
    from cxlens.journeys.funnel_reference import canonical_events

    return canonical_events(df.assign(anonymous_id=None, channel=None, properties=None))


def test_packed_scan_reads_in_any_order_and_restores_the_setting(con, monkeypatch):
    # the read runs with preserve_insertion_order off (DuckDB gathers the rows on every thread)
    # and the connection's own setting comes back afterwards, also when the read fails
    raw = con.con
    setting = "SELECT current_setting('preserve_insertion_order')"
    during: list[bool] = []
    real = ibis.expr.types.Table.to_pyarrow

    def spy(self, *a, **kw):
        during.append(raw.execute(setting).fetchone()[0])
        return real(self, *a, **kw)

    monkeypatch.setattr(ibis.expr.types.Table, "to_pyarrow", spy)
    df = random_events(np.random.default_rng(5), customers=5)
    t = con.create_table("order", ibis.memtable(df, schema=events_schema()), overwrite=True)
    q = {"steps": ["a", "b"], "window": "5m"}
    for before in (True, False):
        raw.execute(f"SET preserve_insertion_order = {before}")
        during.clear()
        pd.testing.assert_frame_equal(FunnelQuery(**q).run(t), reference_funnel(df, **q), check_dtype=False)
        assert during[0] is False and raw.execute(setting).fetchone()[0] is before

    def boom(self, *a, **kw):
        raise RuntimeError("read failed")

    monkeypatch.setattr(ibis.expr.types.Table, "to_pyarrow", boom)
    raw.execute("SET preserve_insertion_order = true")
    with pytest.raises(RuntimeError, match="read failed"):
        FunnelQuery(**q).run(t)
    assert raw.execute(setting).fetchone()[0] is True


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_exact_quotient_divides_in_place_exactly_when_the_unit_divides_every_time(seed):
    # oracle: Python's own divisibility and floor division on each value
    rng = np.random.default_rng(seed)
    unit = int(rng.choice([1_000_000, 1_000, 1]))
    base = int(rng.choice([1_000_000, 1_000, 1]))
    t = rng.integers(0, 2**40, int(rng.integers(1, 50)), dtype=np.int64) * base
    before = t.copy()
    divides = all(int(v) % unit == 0 for v in before)
    assert numbering.exact_quotient(t, unit) is divides
    assert t.tolist() == ([int(v) // unit for v in before] if divides else before.tolist())


def test_customer_numbers_keep_hashes_differing_only_in_the_top_bit_apart():
    # the common leading bits are read as unsigned: hashes on both sides of 2**63 share none
    h = np.array([5, 5 | 1 << 63, 9, 9 | 1 << 63, 5], np.uint64)
    second = {5: 11, 5 | 1 << 63: 22, 9: 33, 9 | 1 << 63: 44}  # one second hash per first hash
    out = _customer_numbers(h, np.array([second[int(v)] for v in h], np.uint64), 40)
    assert out is not None and same_partition(out, h)


@settings(max_examples=200, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_finish_without_breakdown_equals_the_general_tidy_table(seed):
    # the one-row shortcut against the general per-step construction, on the wide shapes the
    # scans return (ints or floats, a missing count, missing or NaN times)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 6))
    q = FunnelQuery([f"s{i}" for i in range(n)], window="1d")
    counts = np.sort(rng.integers(0, 5, n))[::-1] * int(rng.random() < 0.8)
    wide = {}
    for k in range(1, n + 1):
        v = counts[k - 1]
        wide[f"customers_{k}"] = [
            None if k > 1 and rng.random() < 0.1 else (float(v) if rng.random() < 0.5 else int(v))
        ]
        if k > 1 and rng.random() < 0.8:
            wide[f"median_seconds_{k}"] = [float(rng.choice([np.nan, 3.5, 10.0]))]
            wide[f"p90_seconds_{k}"] = [float(rng.choice([np.nan, 7.0]))]
    wide = pd.DataFrame(wide)
    pd.testing.assert_frame_equal(q._finish_one(wide), q._finish_groups(wide))


@settings(max_examples=100, deadline=None)
@given(seed=st.integers(0, 2**32 - 1))
def test_packed_keys_pack_each_row_s_customer_time_and_step_from_separate_columns(seed):
    # oracle: plain Python on each row — the coarsest unit dividing every time since the
    # earliest, and each customer's sorted (time in that unit, 7 − step) pairs read back from
    # the keys, customers compared as partitions (the numbers renamed, never merged)
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 60))
    customers = rng.integers(1, 2**64 - 1, int(rng.integers(1, 8)), dtype=np.uint64)
    h = customers[rng.integers(0, len(customers), n)]
    h2 = h * np.uint64(3) + np.uint64(1)  # one second hash per first hash
    scale = int(rng.choice([1_000_000, 1_000, 1]))
    t = (rng.integers(-(2**30), 2**30, n) * scale).astype(np.int64)  # before and after 1970, ties
    step = rng.integers(1, 6, n)
    s7 = (7 - step).astype(np.uint8)
    expect_t, expect_h = t.copy(), h.copy()
    packed = funnels_mod._packed_keys(h.copy(), h2, t.copy(), s7)
    assert packed is not None
    key, shift, unit, t0 = packed
    since = [int(v) - int(expect_t.min()) for v in expect_t]
    coarsest = next(u for u in (1_000_000, 1_000, 1) if all(v % u == 0 for v in since))
    assert (unit, t0) == (coarsest, int(expect_t.min()))
    assert key.tolist() == sorted(key.tolist())
    got = sorted((int(k) >> shift, (int(k) & ((1 << shift) - 1)) >> 3, int(k) & 7) for k in key)
    want = sorted((int(c), v // unit, 7 - int(s)) for c, v, s in zip(expect_h, since, step, strict=True))
    # the same triples up to a renaming of the customers: compare per customer, ordered by hash
    by_number: dict[int, list] = {}
    for c, v, s in got:
        by_number.setdefault(c, []).append((v, s))
    by_hash: dict[int, list] = {}
    for c, v, s in want:
        by_hash.setdefault(c, []).append((v, s))
    assert sorted(map(sorted, by_number.values())) == sorted(map(sorted, by_hash.values()))
    assert len(by_number) == len(by_hash)  # no two customers merged into one number
