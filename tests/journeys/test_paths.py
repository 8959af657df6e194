"""Paths, flows and last-event-before-drop-off against a plain Python reference on random event logs."""

from __future__ import annotations

import datetime as dt
import random
import sys
from collections import Counter, defaultdict

import ibis
import numpy as np
import pandas as pd
import pytest

from cxlens.errors import ConfigError
from cxlens.journeys.paths import EXIT, NONE_NODE, flows, last_before_dropoff, paths

NAMES = ["visit", "view", "cart", "checkout", "purchase"]
T0 = dt.datetime(2024, 5, 1)


def random_log(seed: int, customers: int = 60) -> pd.DataFrame:
    """Events with equal timestamps, repeats, customers with one event and missing touchpoints."""
    rng = random.Random(seed)
    rows = []
    for c in range(customers):
        n = 1 if c % 7 == 0 else rng.randint(1, 9)
        for _ in range(n):
            name = rng.choice(NAMES + ["view", "view"])
            rows.append(
                {
                    "event_id": f"e{rng.randrange(10**6):06d}",
                    "customer_id": f"c{c:03d}",
                    "session_id": f"s{c:03d}-{rng.randint(0, 1)}",
                    # few distinct times: many ties, broken by event_id
                    "ts": T0 + dt.timedelta(hours=rng.randint(0, 12) * 6),
                    "name": name,
                    "touchpoint": None if rng.random() < 0.1 else f"tp_{name[:2]}",
                }
            )
    df = pd.DataFrame(rows).drop_duplicates("event_id")
    return df.reset_index(drop=True)


def table(df: pd.DataFrame) -> ibis.Table:
    con = ibis.duckdb.connect()
    return con.create_table("events", df)


def sequences(df: pd.DataFrame, field: str, unit: str = "customer") -> dict[str, list[tuple]]:
    key = "customer_id" if unit == "customer" else "session_id"
    out: dict[str, list[tuple]] = defaultdict(list)
    for r in df.itertuples(index=False):
        node = getattr(r, field)
        out[getattr(r, key)].append(
            (
                r.ts,
                r.event_id,
                NONE_NODE if pd.isna(node) else node,
                r.name,
                None if pd.isna(r.touchpoint) else r.touchpoint,
            )
        )
    return {u: sorted(v) for u, v in out.items()}


def ref_paths(
    df, *, start=None, end=None, steps=3, field="name", window=None, collapse=True, goal=None, unit="customer"
):
    """(path tuple) → [units, converted], the obviously-correct way."""
    out: dict[tuple, list[int]] = defaultdict(lambda: [0, 0])
    for evs in sequences(df, field, unit).values():
        items = [(i, e[0], e[2]) for i, e in enumerate(evs)]
        if collapse:
            items = [it for j, it in enumerate(items) if j == 0 or it[2] != items[j - 1][2]]
        anchor_node = start if start is not None else end
        idx = [j for j, it in enumerate(items) if anchor_node is None or it[2] == anchor_node]
        if not idx:
            continue
        a = idx[0]
        raw_a, ts_a = items[a][0], items[a][1]
        path = []
        for k in range(steps):
            j = a + k if end is None else a - (steps - 1) + k
            ok = 0 <= j < len(items) and (window is None or abs(items[j][1] - ts_a) <= window)
            path.append(items[j][2] if ok else None)
        conv = goal is not None and any(
            evs[i][2] == goal and (window is None or evs[i][0] - ts_a <= window) for i in range(raw_a + 1, len(evs))
        )
        out[tuple(path)][0] += 1
        out[tuple(path)][1] += int(conv)
    return dict(out)


def as_dict(res: pd.DataFrame, steps: int, count: str = "customers") -> dict[tuple, list[int]]:
    keys = [f"step_{k}" for k in range(1, steps + 1)]
    conv = res["converted"] if "converted" in res else [0] * len(res)
    return {
        tuple(None if pd.isna(v) else v for v in row): [int(n), int(c)]
        for row, n, c in zip(res[keys].itertuples(index=False), res[count], conv, strict=True)
    }


CASES = [
    dict(start="view", steps=3),
    dict(start="cart", steps=4, goal="purchase"),
    dict(end="purchase", steps=3),
    dict(steps=2, goal="checkout"),
    dict(start="view", steps=3, collapse=False, goal="purchase"),
    dict(start="visit", steps=3, window=dt.timedelta(hours=12), goal="purchase"),
    dict(end="checkout", steps=4, window=dt.timedelta(hours=18)),
    dict(start="tp_vi", steps=3, field="touchpoint"),
    dict(start="view", steps=3, unit="session", goal="purchase"),
]


@pytest.mark.parametrize("seed", [1, 2])
@pytest.mark.parametrize("case", CASES, ids=[str(i) for i in range(len(CASES))])
def test_paths_match_python_reference(seed, case):
    df = random_log(seed)
    case = dict(case)
    field = case.pop("field", "name")
    collapse = case.pop("collapse", True)
    unit = case.get("unit", "customer")
    expected = ref_paths(df, field=field, collapse=collapse, **case)
    res = paths(table(df), by_field=field, collapse_repeats=collapse, top=None, **case)
    count = "customers" if unit == "customer" else "sessions"
    got = as_dict(res, case["steps"], count)
    if case.get("goal") is None:
        expected = {k: [v[0], 0] for k, v in expected.items()}
    assert got == expected
    total = sum(v[0] for v in expected.values())
    assert res["share"].sum() == pytest.approx(1.0)
    assert res["share"].iloc[0] == pytest.approx(max(v[0] for v in expected.values()) / total)
    if case.get("goal") is not None:
        assert list(res["conversion"]) == pytest.approx(list(res["converted"] / res[count]))


def test_paths_top_keeps_the_most_frequent_and_shares_stay_of_all_units():
    df = random_log(5, customers=120)
    full = paths(table(df), start="view", steps=3, top=None)
    top = paths(table(df), start="view", steps=3, top=4)
    assert len(top) == 4
    assert list(top["customers"]) == list(full["customers"].iloc[:4])
    assert list(top["share"]) == pytest.approx(list(full["share"].iloc[:4]))
    assert list(top["path"]) == list(full["path"].iloc[:4])


def test_paths_collapse_repeats_and_ties_use_event_id():
    ts = T0
    df = pd.DataFrame(
        {
            "event_id": ["b", "a", "c", "d", "e"],
            "customer_id": ["x"] * 5,
            "ts": [ts, ts, ts + dt.timedelta(minutes=1), ts + dt.timedelta(minutes=2), ts + dt.timedelta(minutes=3)],
            "name": ["view", "visit", "view", "view", "cart"],
            "touchpoint": ["p", "h", "p", "p", "c"],
        }
    )
    # order by (ts, event_id): a visit, b view, c view, d view, e cart
    res = paths(table(df), steps=4)
    assert res["path"].tolist() == ["visit > view > cart"]
    raw = paths(table(df), steps=4, collapse_repeats=False)
    assert raw["path"].tolist() == ["visit > view > view > view"]
    to_cart = paths(table(df), end="c", steps=2, by_field="touchpoint")
    assert to_cart[["step_1", "step_2"]].values.tolist() == [["p", "c"]]


def ref_flows(df, start, steps, exits=True):
    out: Counter = Counter()
    for path, (n, _) in ref_paths(df, start=start, steps=steps).items():
        for k in range(steps - 1):
            if path[k] is None:
                break
            tgt = path[k + 1] if path[k + 1] is not None else (EXIT if exits else None)
            if tgt is not None:
                out[(k + 1, path[k], k + 2, tgt)] += n
    return dict(out)


@pytest.mark.parametrize("exits", [True, False])
def test_flows_match_reference_edges(exits):
    df = random_log(7, customers=100)
    res = flows(table(df), "visit", 4, exits=exits)
    got = {(r.source_step, r.source, r.target_step, r.target): r.customers for r in res.itertuples()}
    assert got == ref_flows(df, "visit", 4, exits)
    # every unit leaves step 1 exactly once when exits are drawn
    if exits:
        assert res[res.source_step == 1]["customers"].sum() == ref_paths(df, start="visit", steps=1)[("visit",)][0]


def ref_last_before_dropoff(df, goal, start=None, window=None):
    out: Counter = Counter()
    for evs in sequences(df, "name").values():
        idx = [i for i, e in enumerate(evs) if start is None or e[2] == start]
        if not idx:
            continue
        a = idx[0]
        kept = [e for e in evs[a:] if window is None or e[0] - evs[a][0] <= window]
        if any(e[2] == goal for e in kept[1:]) or (start is None and kept[0][2] == goal):
            continue
        out[(kept[-1][3], kept[-1][4])] += 1
    return dict(out)


@pytest.mark.parametrize("seed", [11, 12])
@pytest.mark.parametrize(
    "kw",
    [
        dict(goal="purchase"),
        dict(goal=["cart", "checkout", "purchase"]),
        dict(goal="purchase", start="view", window=dt.timedelta(hours=24)),
    ],
)
def test_last_before_dropoff_matches_reference(seed, kw):
    df = random_log(seed)
    kw = dict(kw)
    goal = kw.pop("goal")
    if isinstance(goal, list):
        expected = ref_last_before_dropoff(df, goal[-1], start=goal[0])
    else:
        expected = ref_last_before_dropoff(df, goal, **kw)
    res = last_before_dropoff(table(df), goal, top=None, **kw)
    got = {(r.name, r.touchpoint): r.customers for r in res.itertuples()}
    assert got == expected
    assert res["share"].sum() == pytest.approx(1.0)
    assert (res["dropped"] == sum(expected.values())).all()


def test_last_before_dropoff_first_event_goal_counts_as_reached():
    # without start, a unit whose first event is the goal has reached it
    df = pd.DataFrame(
        {
            "event_id": ["1", "2", "3"],
            "customer_id": ["a", "b", "b"],
            "ts": [T0, T0, T0 + dt.timedelta(hours=1)],
            "name": ["purchase", "visit", "view"],
            "touchpoint": ["co", "h", "p"],
        }
    )
    res = last_before_dropoff(table(df), "purchase")
    assert res[["name", "touchpoint", "customers", "share"]].values.tolist() == [["view", "p", 1, 1.0]]


def test_paths_reject_bad_arguments():
    t = table(random_log(1, customers=5))
    with pytest.raises(ConfigError, match="both start"):
        paths(t, start="a", end="b")
    with pytest.raises(ConfigError, match="no column 'page'"):
        paths(t, by_field="page")
    with pytest.raises(ConfigError, match="steps is 0"):
        paths(t, steps=0)
    with pytest.raises(ConfigError, match="unknown unit"):
        paths(t, unit="account")


@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("seed", [3, 4, 5])
def test_paths_sorted_scan_equals_the_window_passes(monkeypatch, seed, packed):
    # the DuckDB scans (paths from a start, repeats collapsed: packed and sorted in NumPy, or
    # sorted by DuckDB) against the window passes, with anonymous ids, filters, a window, a goal,
    # sessions and top cut at tied counts
    paths_mod = sys.modules["cxlens.journeys.paths"]  # the module (the package re-exports the function)
    monkeypatch.setattr(paths_mod, "PACKED", packed)

    df = random_log(seed, customers=80)
    df["anonymous_id"] = [f"a{i % 9}" if i % 5 == 0 else None for i in range(len(df))]
    df.loc[df.index % 5 == 0, "customer_id"] = None
    t = table(df)
    cases = [
        dict(start="view", steps=3, top=None),
        dict(start="view", steps=4, top=3, goal="purchase", window="12h"),
        dict(start="tp_vi", steps=3, by_field="touchpoint", top=5),
        dict(start="cart", steps=2, unit="session", goal="purchase", top=None),
        dict(start="visit", steps=3, filters={"touchpoint": ["tp_vi", "tp_vi", "tp_ca", "tp_pu"]}, top=None),
        dict(start="nowhere", steps=3, top=None),
    ]
    for case in cases:
        fast = paths(t, **case)
        monkeypatch.setattr(paths_mod, "FAST_SCAN", False)
        slow = paths(t, **case)
        monkeypatch.setattr(paths_mod, "FAST_SCAN", True)
        pd.testing.assert_frame_equal(fast, slow, check_dtype=False)


@pytest.mark.parametrize("packed", [True, False])
@pytest.mark.parametrize("enum_max", [4096, 2])
def test_paths_sorted_scan_odd_node_names(monkeypatch, enum_max, packed):
    # node names with quotes, '$', dots and non-ASCII are sent from DuckDB as an ENUM of the
    # distinct nodes (or as text when there are more than _ENUM_MAX of them); both agree with
    # the window passes
    paths_mod = sys.modules["cxlens.journeys.paths"]
    monkeypatch.setattr(paths_mod, "_ENUM_MAX", enum_max)
    monkeypatch.setattr(paths_mod, "PACKED", packed)
    odd = {"view": "it's a view", "cart": "$cart.add", "purchase": 'pur"chase é', "visit": "visit"}
    df = random_log(7, customers=70)
    df["name"] = df["name"].map(lambda v: odd.get(v, v))
    t = table(df)
    for case in (dict(start="it's a view", steps=3, top=None), dict(start="$cart.add", steps=3, goal='pur"chase é')):
        fast = paths(t, **case)
        monkeypatch.setattr(paths_mod, "FAST_SCAN", False)
        slow = paths(t, **case)
        monkeypatch.setattr(paths_mod, "FAST_SCAN", True)
        assert len(fast) > 1
        pd.testing.assert_frame_equal(fast, slow, check_dtype=False)


@pytest.mark.parametrize("packed", [True, False])
def test_paths_sorted_scan_ties_across_arrow_chunks(monkeypatch, packed):
    # a log large enough that DuckDB hands the rows over in several Arrow chunks, with ties at
    # every timestamp: the event ids of the tied rows are read chunk by chunk and must give the
    # order of the window passes
    paths_mod = sys.modules["cxlens.journeys.paths"]
    monkeypatch.setattr(paths_mod, "PACKED", packed)
    rng = np.random.default_rng(11)
    n = 400_000
    cust = rng.integers(0, 20_000, n)
    df = pd.DataFrame(
        {
            "event_id": [f"e{v:07d}" for v in rng.permutation(n)],
            "customer_id": [f"c{v:05d}" for v in cust],
            "ts": T0 + pd.to_timedelta(rng.integers(0, 6, n) * 3600, unit="s"),
            "name": np.array(NAMES)[rng.integers(0, len(NAMES), n)],
        }
    )
    t = table(df)
    fast = paths(t, start="view", steps=3, top=None, goal="purchase")
    monkeypatch.setattr(paths_mod, "FAST_SCAN", False)
    slow = paths(t, start="view", steps=3, top=None, goal="purchase")
    assert fast["customers"].sum() > 15_000
    pd.testing.assert_frame_equal(fast, slow, check_dtype=False)


def _tied_log() -> pd.DataFrame:
    df = random_log(5, customers=80)
    return df[df["name"] != "purchase"].reset_index(drop=True)  # purchases are written during the read


def test_paths_sorted_scan_reads_tied_ids_after_the_sort_in_its_transaction(monkeypatch):
    # the sort carries no event id; the tied rows' ids are read afterwards in the same read
    # transaction, so events written by another connection in between (a purchase at every tied
    # moment of every customer) change neither the ids read nor the paths: those of the log before
    paths_mod = sys.modules["cxlens.journeys.paths"]
    monkeypatch.setattr(paths_mod, "PACKED", False)  # DuckDB's sorted scan (the packed scan: test_path_scan.py)
    df = _tied_log()
    t = table(df)
    con = t._find_backend().con
    before = {}
    for ids_after in (False, True):
        monkeypatch.setattr(paths_mod, "IDS_AFTER", ids_after)
        before[ids_after] = paths(t, start="view", steps=4, top=None)
    pd.testing.assert_frame_equal(before[True], before[False], check_dtype=False)
    seen, real_scan, real_ids = [], paths_mod._sorted_scan, paths_mod._tied_ids

    def scan_then_write(backend, b, with_ids=True):
        out = real_scan(backend, b, with_ids)
        seen.append(("scan", with_ids))
        other = con.cursor()  # another connection's committed write
        other.execute(
            "INSERT INTO events SELECT 'w' || row_number() OVER (), customer_id, session_id, ts, 'purchase', NULL "
            "FROM (SELECT DISTINCT customer_id, session_id, ts FROM events)"
        )
        other.close()
        return out

    def ids(*a):
        got = real_ids(*a)
        seen.append(("ids", got is not None))
        return got

    monkeypatch.setattr(paths_mod, "_sorted_scan", scan_then_write)
    monkeypatch.setattr(paths_mod, "_tied_ids", ids)
    during = paths(t, start="view", steps=4, top=None)
    assert seen == [("scan", False), ("ids", True)]
    pd.testing.assert_frame_equal(during, before[True], check_dtype=False)
    monkeypatch.setattr(paths_mod, "_sorted_scan", real_scan)
    after = paths(t, start="view", steps=4, top=None)  # the purchases now count
    assert not after.equals(during) and after["path"].str.contains("purchase").any()


def test_paths_sorted_scan_steps_aside_when_the_tied_rows_differ(monkeypatch):
    # the tied rows read again must be the rows the scan sorted; otherwise the window passes answer
    paths_mod = sys.modules["cxlens.journeys.paths"]
    monkeypatch.setattr(paths_mod, "PACKED", False)
    t = table(_tied_log())
    expected = paths(t, start="view", steps=3, top=None)
    real = paths_mod._tied_ids
    for change in (lambda u, us, n: (u[1:], us[1:], n[1:]), lambda u, us, n: (u, us, n[::-1])):
        calls = []

        def changed(b, u, us, n, _change=change, calls=calls):
            calls.append(real(b, *_change(u, us, n)))
            return calls[-1]

        monkeypatch.setattr(paths_mod, "_tied_ids", changed)
        fast = paths_mod._fast_from(t, "view", 3, "name", None, "customer", None, None)
        assert calls == [None] and fast is None
        pd.testing.assert_frame_equal(paths(t, start="view", steps=3, top=None), expected, check_dtype=False)
