"""The packed scan of paths from a start node (:mod:`cxlens.journeys.path_scan`) against a plain
Python reference, the window passes and DuckDB's sorted scan, on awkward logs."""

from __future__ import annotations

import datetime as dt
import random
import sys

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import cxlens.journeys.path_scan as scan
from cxlens.journeys.paths import paths

from .test_paths import as_dict, ref_paths, table

T0 = dt.datetime(2024, 5, 1)
NAMES = ["visit", "view", "cart", "purchase", "café ☕", "it's", None]


def awkward_log(seed: int, customers: int = 120) -> pd.DataFrame:
    """Ties (equal times, equal and different names), missing names, unicode and 300-character
    ids, one-event customers, anonymous ids, events of nobody, microsecond times and a span of
    decades."""
    rng = random.Random(seed)
    rows = []
    for c in range(customers):
        cid = {0: f"c{c}", 1: "ü" * 300 + str(c), 2: f"客户{c}", 3: None}[c % 4]
        anon = f"anon{c % 5}" if cid is None and c % 8 != 3 else None  # c % 8 == 3: nobody
        n = 1 if c % 6 == 0 else rng.randint(1, 10)
        for _ in range(n):
            if seed % 2:  # whole hours (many ties) or, now and then, a time decades later
                ts = T0 + dt.timedelta(hours=rng.randint(0, 5)) + dt.timedelta(days=15_000 * (rng.random() < 0.05))
            else:  # microseconds, with ties
                ts = T0 + dt.timedelta(microseconds=rng.randint(0, 3))
            rows.append(
                {
                    "event_id": f"e{rng.randrange(10**6):06d}" + ("é" if rng.random() < 0.2 else ""),
                    "customer_id": cid,
                    "anonymous_id": anon,
                    "session_id": f"s{c}-{rng.randint(0, 1)}",
                    "ts": ts,
                    "name": rng.choice(NAMES + ["view"]),
                    "touchpoint": rng.choice(["web", "app", None]),
                }
            )
    return pd.DataFrame(rows).drop_duplicates("event_id").reset_index(drop=True)


def reference(df: pd.DataFrame, **kw) -> dict[tuple, list[int]]:
    """:func:`ref_paths` with the unit ``coalesce(customer_id, anonymous_id)`` (rows of nobody dropped)."""
    d = df.assign(customer_id=df["customer_id"].fillna(df["anonymous_id"]))
    return ref_paths(d[d["customer_id"].notna()], **kw)


@pytest.fixture
def used(monkeypatch):
    """The packed scan's answers (True: it answered, False: it stepped aside) and the tied reads' row counts."""
    seen: dict[str, list] = {"packed": [], "tied": []}
    real, real_ids = scan.packed_paths, scan._tied_ids

    def packed(*a, **k):
        got = real(*a, **k)
        seen["packed"].append(got is not None)
        return got

    def ids(*a):
        got = real_ids(*a)
        seen["tied"].append(len(got[0]["h"]))
        return got

    monkeypatch.setattr(scan, "packed_paths", packed)
    monkeypatch.setattr(scan, "_tied_ids", ids)
    return seen


CASES = [
    (dict(start="view", steps=3), dict(start="view", steps=3)),
    (dict(start="café ☕", steps=4, goal="purchase"), dict(start="café ☕", steps=4, goal="purchase")),
    (dict(start="(none)", steps=3, goal="it's"), dict(start="(none)", steps=3, goal="it's")),
    (dict(start="visit", steps=3, window="90m", goal="cart"), dict(start="visit", steps=3, window=dt.timedelta(minutes=90), goal="cart")),
    (dict(start="web", steps=3, by_field="touchpoint"), dict(start="web", steps=3, field="touchpoint")),
    (dict(start="view", steps=2, unit="session", goal="purchase"), dict(start="view", steps=2, unit="session", goal="purchase")),
    (dict(start="nowhere", steps=3), dict(start="nowhere", steps=3)),
]  # fmt: skip


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
@pytest.mark.parametrize("case", range(len(CASES)))
def test_packed_paths_match_the_reference_the_passes_and_the_sorted_scan(monkeypatch, used, seed, case):
    paths_mod = sys.modules["cxlens.journeys.paths"]
    kw, ref_kw = CASES[case]
    df = awkward_log(seed)
    t = table(df)
    fast = paths(t, top=None, **kw)
    assert used["packed"] == [True]  # the packed scan answered
    count = "sessions" if kw.get("unit") == "session" else "customers"
    ref = (
        ref_paths(df, **ref_kw)
        if kw.get("unit") == "session"
        else reference(df, **{k: v for k, v in ref_kw.items() if k != "unit"})
    )
    assert as_dict(fast, kw["steps"], count) == {k: v if "goal" in kw else [v[0], 0] for k, v in ref.items()}
    monkeypatch.setattr(paths_mod, "PACKED", False)
    pd.testing.assert_frame_equal(fast, paths(t, top=None, **kw), check_dtype=False)
    monkeypatch.setattr(paths_mod, "FAST_SCAN", False)
    pd.testing.assert_frame_equal(fast, paths(t, top=None, **kw), check_dtype=False)


def test_packed_paths_order_tied_runs_by_event_id(used):
    # every customer has two events at one moment, named so that the node order ("a" < "b" in the
    # ENUM) is the opposite of the event id order; only the tied ids read afterwards give b > a
    n = 3000
    df = pd.DataFrame(
        {
            "event_id": [f"{'x' if i % 2 == 0 else 'y'}{i // 2:05d}" for i in range(2 * n)],
            "customer_id": [f"c{i // 2}" for i in range(2 * n)],
            "ts": [T0 + dt.timedelta(seconds=i // 2) for i in range(2 * n)],
            "name": ["b" if i % 2 == 0 else "a" for i in range(2 * n)],
        }
    )
    got = paths(table(df[["event_id", "customer_id", "ts", "name"]].iloc[::-1]), start="b", steps=2, top=None)
    assert used["packed"] == [True] and used["tied"] == [2 * n]
    assert got[["path", "customers"]].values.tolist() == [["b > a", n]]


def test_packed_paths_step_aside_when_two_ids_share_a_hash(monkeypatch, used):
    # a first-hash collision (forced: the numbering reports it) sends the call to DuckDB's sorted scan
    t = table(awkward_log(5))
    expected = paths(t, start="view", steps=3, top=None)
    monkeypatch.setattr(scan, "customer_numbers", lambda h, h2, bits: None)
    got = paths(t, start="view", steps=3, top=None)
    assert used["packed"] == [True, False]
    pd.testing.assert_frame_equal(got, expected)


def test_packed_paths_step_aside_for_a_real_short_long_clash_with_the_shortcut_on(monkeypatch, used):
    # short ids whose DuckDB hash equals a 10-byte id's (crafted by inverting DuckDB's hash): the
    # short ids' second hash is 0, the long ids' odd, so the numbering refuses and DuckDB's sorted
    # scan answers, as the plain reference says
    from .test_short_ids import clashing_long_ids

    pairs = clashing_long_ids(3)
    who = [a for p in pairs for a in p] + ["abcdefg", "abcdefgh", "\u00e9" * 4]
    df = awkward_log(6)
    df["customer_id"] = [who[i % len(who)] if c is not None else None for i, c in enumerate(df["customer_id"])]
    seen = []
    numbers = scan.customer_numbers
    monkeypatch.setattr(scan, "customer_numbers", lambda h, h2, bits: seen.append(h2.copy()) or numbers(h, h2, bits))
    got = paths(table(df), start="view", steps=3, top=None)
    assert used["packed"] == [False] and any((h2 == 0).any() for h2 in seen)
    assert as_dict(got, 3, "customers") == {k: [v[0], 0] for k, v in reference(df, start="view", steps=3).items()}


def test_packed_paths_give_short_ids_no_second_hash_unless_the_probe_fails(monkeypatch, used):
    t = table(awkward_log(2))
    seen = []
    numbers = scan.customer_numbers
    monkeypatch.setattr(scan, "customer_numbers", lambda h, h2, bits: seen.append(h2.copy()) or numbers(h, h2, bits))
    on = paths(t, start="view", steps=3, top=None)
    assert [(h2 == 0).any() for h2 in seen] == [True, True]  # "c0", "c4", …: short
    import cxlens.journeys.sqlfns as sqlfns

    real = sqlfns.short_text_hash
    monkeypatch.setattr(sqlfns, "short_text_hash", lambda data: real(data) ^ 1)  # another DuckDB
    seen.clear()
    off = paths(t, start="view", steps=3, top=None)
    assert [(h2 == 0).any() for h2 in seen] == [False, False] and used["packed"] == [True, True]
    pd.testing.assert_frame_equal(on, off)


@pytest.mark.parametrize("change", ["drop", "node", "twice"])
def test_packed_paths_step_aside_when_the_tied_rows_differ(monkeypatch, used, change):
    # the rows read again at the tied moments must be the tied rows the scan sorted
    t = table(awkward_log(3))
    expected = paths(t, start="view", steps=3, top=None)
    real = scan._tied_ids

    def changed(*a):
        cols, ids = real(*a)
        if change == "drop":  # rows missing
            return {k: v[:1] for k, v in cols.items()}, ids[:1]
        if change == "twice":  # rows more
            return {k: np.concatenate([v, v]) for k, v in cols.items()}, pa.chunked_array(ids.chunks * 2, ids.type)
        return {**cols, "c": np.roll(cols["c"], 1)}, ids  # other nodes

    monkeypatch.setattr(scan, "_tied_ids", changed)
    got = paths(t, start="view", steps=3, top=None)
    assert used["packed"] == [True, False]
    pd.testing.assert_frame_equal(got, expected)


def test_packed_paths_read_the_tied_ids_in_the_scans_transaction(monkeypatch, used):
    # events written by another connection between the scan and the tied ids' read (a new event at
    # every tied moment of every customer) are in neither: the paths are those of the log before
    df = awkward_log(3)
    df = df[df["name"] != "purchase"].reset_index(drop=True)
    t = table(df)
    con = t._find_backend().con
    before = paths(t, start="view", steps=4, top=None)
    real = scan._read

    def read_then_write(*a):
        out = real(*a)
        other = con.cursor()
        other.execute(
            "INSERT INTO events SELECT 'w' || row_number() OVER (), customer_id, anonymous_id, session_id, ts, "
            "'purchase', NULL FROM (SELECT DISTINCT customer_id, anonymous_id, session_id, ts FROM events)"
        )
        other.close()
        return out

    monkeypatch.setattr(scan, "_read", read_then_write)
    during = paths(t, start="view", steps=4, top=None)
    assert used["packed"] == [True, True] and used["tied"][-1] > 0
    pd.testing.assert_frame_equal(during, before)
    monkeypatch.setattr(scan, "_read", real)
    after = paths(t, start="view", steps=4, top=None)
    assert after["path"].str.contains("purchase").any()


@pytest.mark.parametrize("steps", [2, 3, 6])
@pytest.mark.parametrize("extra", [0, 5000])
def test_path_counts_agree_whatever_the_grouping(steps, extra):
    # the paths are counted by bincount (small tables), np.unique of one integer per path, or
    # np.unique of the rows of codes (more than 63 bits a path): the same counts as a Counter
    from collections import Counter

    paths_mod = sys.modules["cxlens.journeys.paths"]
    rng = np.random.default_rng(steps + extra)
    nodes = ["a", "b", "c", *[f"x{i}" for i in range(extra)]]
    codes = [rng.integers(-1, 3, 2000).astype(np.int32) for _ in range(steps)]
    conv = rng.integers(0, 2, 2000)
    got = paths_mod._grouped(codes, conv, nodes, steps, "customers")
    want_n, want_c = Counter(), Counter()
    for i in range(2000):
        key = tuple(None if c[i] < 0 else nodes[c[i]] for c in codes)
        want_n[key] += 1
        want_c[key] += int(conv[i])
    keys = [f"step_{k}" for k in range(1, steps + 1)]
    seen = {
        tuple(None if pd.isna(v) else v for v in r[:steps]): (r[steps], r[steps + 1])
        for r in got[[*keys, "customers", "converted"]].itertuples(index=False)
    }
    assert seen == {k: (want_n[k], want_c[k]) for k in want_n}
    assert (got["_total"] == 2000).all()
