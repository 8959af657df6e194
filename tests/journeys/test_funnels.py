"""Funnel engine (cxlens.journeys.funnels) on DuckDB: hand-checked cases, errors, and fuzzing
against the brute-force reference (cxlens.journeys.funnel_reference)."""

from __future__ import annotations

import datetime as dt

import ibis
import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cxlens.errors import ConfigError
from cxlens.journeys import funnels as funnels_mod
from cxlens.journeys.funnel_reference import (
    canonical_events,
    events_schema,
    random_events,
    random_funnel,
    reference_dropped,
    reference_funnel,
)
from cxlens.journeys.funnels import FunnelQuery, funnel, parse_steps, parse_window

T0 = pd.Timestamp("2024-01-01")


@pytest.fixture(scope="module")
def con():
    return ibis.duckdb.connect()


def table(con, rows, name="ev"):
    df = canonical_events(pd.DataFrame(rows))
    return con.create_table(name, ibis.memtable(df, schema=events_schema()), overwrite=True), df


def ev(cid, minutes, name, **kw):
    return {
        "customer_id": cid,
        "anonymous_id": kw.pop("anon", None),
        "ts": T0 + pd.Timedelta(minutes=minutes),
        "name": name,
        "channel": kw.pop("channel", "web"),
        "properties": kw.pop("properties", None),
        **kw,
    }


def normalise(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True).copy()
    for c in df.columns:
        if df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def assert_same(got: pd.DataFrame, exp: pd.DataFrame) -> None:
    pd.testing.assert_frame_equal(normalise(got), normalise(exp), check_dtype=False, atol=1e-9)


# -- hand-checked semantics ------------------------------------------------------------------
def test_sequential_counts_any_choice_of_first_step(con):
    # c1: a@0, a@100, b@105 (window 10m): only the later a converts; c2: b before a never does
    t, _ = table(con, [ev("c1", 0, "a"), ev("c1", 100, "a"), ev("c1", 105, "b"), ev("c2", 0, "b"), ev("c2", 1, "a")])
    f = funnel(t, ["a", "b"], window="10m")
    assert f["customers"].tolist() == [2, 1]
    assert f["conversion"].tolist() == [1.0, 0.5]
    assert f["step_conversion"].tolist() == [1.0, 0.5]
    assert f["dropped"].tolist() == [0, 1]


def test_time_to_convert_is_from_the_converting_chain_or_between_first_reaches(con):
    t, _ = table(con, [ev("c1", 0, "a"), ev("c1", 100, "a"), ev("c1", 105, "b")])
    # default ("chain", PostHog): from the a@100 that starts the converting chain: 5m = 300 s
    assert funnel(t, ["a", "b"], window="10m")["median_seconds"].iloc[1] == 300.0
    # "first": step 1 first reached at 0m, step 2 first reached at 105m: 6300 s
    assert funnel(t, ["a", "b"], window="10m", time_basis="first")["median_seconds"].iloc[1] == 6300.0


def test_time_to_convert_hand_computed_three_steps(con):
    # c1: a@0 b@2 a@10 b@12 b@14 c@20 (window 30m). Converting chain to c: the latest start a@10,
    # its latest b before c@20 is b@14: b takes 12-10 = 2m? No: step 2 is first reached at b@2
    # (chain a@0), so step-2 time is 2m; step 3 (first reached c@20) comes from b@14: 6m.
    # c2: a@0 b@30 c@31 (window 1h): 30m and 1m. "first": c1 2m and 20-2 = 18m; c2 30m and 1m.
    rows = [ev("c1", m, n) for m, n in [(0, "a"), (2, "b"), (10, "a"), (12, "b"), (14, "b"), (20, "c")]]
    rows += [ev("c2", m, n) for m, n in [(0, "a"), (30, "b"), (31, "c")]]
    t, _ = table(con, rows)
    chain = funnel(t, ["a", "b", "c"], window="1h")
    assert chain["median_seconds"].tolist()[1:] == [(2 + 30) / 2 * 60, (6 + 1) / 2 * 60]
    first = funnel(t, ["a", "b", "c"], window="1h", time_basis="first")
    assert first["median_seconds"].tolist()[1:] == [(2 + 30) / 2 * 60, (18 + 1) / 2 * 60]


def test_equal_timestamps_do_not_advance_the_funnel(con):
    t, _ = table(con, [ev("c1", 0, "a"), ev("c1", 0, "b"), ev("c2", 0, "a"), ev("c2", 0, "b"), ev("c2", 1, "b")])
    f = funnel(t, ["a", "b"], window="1h")
    assert f["customers"].tolist() == [2, 1]


def test_repeated_step_needs_two_distinct_moments(con):
    t, _ = table(con, [ev("c1", 0, "a"), ev("c2", 0, "a"), ev("c2", 0, "a"), ev("c3", 0, "a"), ev("c3", 5, "a")])
    assert funnel(t, ["a", "a"], window="1h")["customers"].tolist() == [3, 1]


def test_window_is_inclusive_and_measured_from_step_one(con):
    t, _ = table(
        con,
        [ev("c1", 0, "a"), ev("c1", 5, "b"), ev("c1", 10, "c"), ev("c2", 0, "a"), ev("c2", 5, "b"), ev("c2", 11, "c")],
    )
    assert funnel(t, ["a", "b", "c"], window="10m")["customers"].tolist() == [2, 2, 1]


def test_exclusion_between_steps_blocks_only_that_chain(con):
    t, _ = table(
        con,
        [
            ev("c1", 0, "a"),
            ev("c1", 1, "x"),
            ev("c1", 2, "b"),  # blocked
            ev("c2", 0, "a"),
            ev("c2", 1, "x"),
            ev("c2", 2, "a"),
            ev("c2", 3, "b"),  # later a is clean
            ev("c3", 0, "a"),
            ev("c3", 0, "x"),
            ev("c3", 2, "b"),  # x at a's moment: not between
        ],
    )
    f = funnel(t, ["a", "b"], window="1h", exclude=["x"])
    assert f["customers"].tolist() == [3, 2]


def test_strict_order_breaks_on_any_event_in_between(con):
    t, _ = table(
        con,
        [ev("c1", 0, "a"), ev("c1", 1, "z"), ev("c1", 2, "b"), ev("c2", 0, "a"), ev("c2", 2, "b"), ev("c2", 2, "z")],
    )  # z tied with b: still next moment
    assert funnel(t, ["a", "b"], window="1h", order="strict")["customers"].tolist() == [2, 1]


def test_any_order_needs_all_steps_within_the_window(con):
    t, _ = table(con, [ev("c1", 0, "b"), ev("c1", 3, "a"), ev("c2", 0, "b"), ev("c2", 30, "a")])
    assert funnel(t, ["a", "b"], window="10m", order="any")["customers"].tolist() == [2, 1]


def test_anonymous_events_count_under_anonymous_id(con):
    t, _ = table(con, [ev(None, 0, "a", anon="u1"), ev(None, 1, "b", anon="u1"), ev("c1", 0, "a", anon="u2")])
    assert funnel(t, ["a", "b"], window="1h")["customers"].tolist() == [2, 1]


def test_breakdown_uses_first_touch_on_step_one(con):
    t, _ = table(
        con,
        [
            ev("c1", 0, "a", channel="app"),
            ev("c1", 1, "a", channel="web"),
            ev("c1", 2, "b"),
            ev("c2", 0, "a", channel="web"),
        ],
    )
    f = funnel(t, ["a", "b"], window="1h", by="channel")
    assert f[["channel", "step", "customers"]].values.tolist() == [
        ["app", 1, 1],
        ["app", 2, 1],
        ["web", 1, 1],
        ["web", 2, 0],
    ]


def test_breakdown_by_customers_column_joins_customers(con):
    t, _ = table(con, [ev("c1", 0, "a"), ev("c1", 1, "b"), ev("c2", 0, "a"), ev("c3", 0, "a")])
    cust = con.create_table(
        "cu", pd.DataFrame({"customer_id": ["c1", "c2"], "segment": ["smb", "smb"]}), overwrite=True
    )
    f = funnel(t, ["a", "b"], window="1h", by="segment", customers=cust)
    assert f[["segment", "step", "customers"]].values.tolist() == [
        ["smb", 1, 2],
        ["smb", 2, 1],
        [None, 1, 1],
        [None, 2, 0],
    ]


def test_touchpoint_steps_and_where_filters(con):
    t, _ = table(
        con,
        [
            ev("c1", 0, "a", touchpoint="home"),
            ev("c1", 1, "b", touchpoint="cart", channel="app"),
            ev("c2", 0, "a", touchpoint="home"),
            ev("c2", 1, "b", touchpoint="cart", properties='{"plan": "pro"}'),
        ],
    )
    assert funnel(t, ["home", "cart"], step_field="touchpoint")["customers"].tolist() == [2, 2]
    f = funnel(t, ["a", {"name": "b", "where": {"channel": "web"}}])
    assert f["customers"].tolist() == [2, 1] and f["event"].tolist() == ["a", "b[channel=web]"]
    assert funnel(t, ["a", {"name": "b", "where": {"plan": "pro"}}])["customers"].tolist() == [2, 1]


def test_dropped_customers_lists_who_left_after_a_step(con):
    t, _ = table(
        con,
        [
            ev("c1", 0, "a"),
            ev("c1", 1, "b"),
            ev("c2", 0, "a"),
            ev("c2", 3, "z"),
            ev("c2", 5, "y"),
            ev("c2", 5, "x"),
            ev("c3", 0, "a"),
        ],
    )
    q = FunnelQuery(["a", "b"], window="1h")
    got = q.dropped_customers(t, 1).to_pandas().sort_values("customer_id")
    assert got["customer_id"].tolist() == ["c2", "c3"] and got["reached_step"].tolist() == [1, 1]
    assert got["reached_at"].tolist() == [T0, T0]
    frame = q.dropped_customers_frame(t, 1, last_event=True)
    assert list(frame.columns) == ["customer_id", "reached_step", "reached_at", "last_event_at", "last_event"]
    # c2's latest event after reaching step 1 is at 5m (y and x tied: the greatest name); c3 has none
    assert frame["last_event"].tolist() == ["y", None]
    assert frame["last_event_at"].iloc[0] == T0 + pd.Timedelta(minutes=5) and pd.isna(frame["last_event_at"].iloc[1])
    with pytest.raises(ConfigError, match="drop-off step 2 is out of range"):
        q.dropped_customers_frame(t, 2)


def test_last_touch_attribution_uses_the_furthest_step_reached(con):
    t, _ = table(
        con,
        [
            ev("c1", 0, "a", channel="ads"),
            ev("c1", 1, "b", channel="email"),
            ev("c1", 2, "c", channel="web"),
            ev("c2", 0, "a", channel="ads"),
            ev("c2", 1, "b", channel="web"),
            ev("c2", 2, "b", channel="email"),  # later b: last touch is the FIRST moment b was reached
            ev("c3", 0, "a", channel="ads"),
            ev("c3", 0, "a", channel="app"),
        ],
    )  # tie: smallest value
    first = funnel(t, ["a", "b", "c"], window="1h", by="channel")
    assert first.groupby("channel")["customers"].first().to_dict() == {"ads": 3}
    last = funnel(t, ["a", "b", "c"], window="1h", by="channel", attribution="last")
    assert last[last["step"] == 1].set_index("channel")["customers"].to_dict() == {"ads": 1, "web": 2}
    assert last[last["step"] == 3].set_index("channel")["customers"].to_dict() == {"ads": 0, "web": 1}
    with pytest.raises(ConfigError, match="attribution 'middle' is unknown"):
        FunnelQuery(["a"], attribution="middle")


def test_empty_result_has_every_step_with_zero(con):
    t, _ = table(con, [ev("c1", 0, "z")])
    f = funnel(t, "a>b")
    assert f["customers"].tolist() == [0, 0] and f["conversion"].tolist() == [0.0, 0.0]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30m", 1800), ("12h", 43200), ("14d", 14 * 86400), ("2w", 14 * 86400), ("3mo", 90 * 86400), (None, 14 * 86400)],
)
def test_parse_window_units(text, seconds):
    assert parse_window(text).total_seconds() == seconds
    assert parse_window(dt.timedelta(seconds=5)) == dt.timedelta(seconds=5)


@pytest.mark.parametrize("bad", ["14", "fortnight", "-3d", "0d"])
def test_parse_window_rejects_bad_values_with_the_value_quoted(bad):
    with pytest.raises(ConfigError, match=repr(bad).replace("-", r"\-")):
        parse_window(bad)


def test_bad_definitions_raise_config_errors():
    assert parse_steps("a > b>c") == ["a", "b", "c"]
    with pytest.raises(ConfigError, match="empty step"):
        parse_steps("a>>b")
    with pytest.raises(ConfigError, match="order 'sideways' is unknown"):
        FunnelQuery(["a"], order="sideways")
    with pytest.raises(ConfigError, match="need order 'sequential'"):
        FunnelQuery(["a", "b"], order="any", exclude=["x"])
    with pytest.raises(ConfigError, match="expected 1 <= from_step"):
        FunnelQuery(["a", "b"], exclude=[{"name": "x", "from_step": 2, "to_step": 2}])


# -- fuzzing against the brute-force reference -----------------------------------------------
ENGINES = ["sorted-scan", "materialised", "window-passes", "expression"]


def run_engine(t, q: dict, engine: str, monkeypatch) -> pd.DataFrame:
    """The execution paths: the sorted scan (DuckDB's path for the common funnel; other funnels
    fall through to the passes), materialised with ASOF passes, materialised with window passes
    only (the path Spark takes), and one plain expression."""
    if engine != "sorted-scan":
        monkeypatch.setattr(funnels_mod, "FAST_SCAN", False)
    if engine == "window-passes":
        monkeypatch.setattr(funnels_mod, "ASOF_BACKENDS", set())
    return FunnelQuery(**q, materialize=engine != "expression").run(t)


@pytest.mark.parametrize("engine", ENGINES)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_engine_matches_reference_on_random_logs(con, seed, engine, monkeypatch):
    rng = np.random.default_rng(seed)
    df = random_events(rng)
    q = random_funnel(rng)
    t = con.create_table("fuzz", ibis.memtable(df, schema=events_schema()), overwrite=True)
    assert_same(run_engine(t, q, engine, monkeypatch), reference_funnel(df, **q))


def test_hash_collisions_fall_back_to_the_text_key(con, monkeypatch):
    # a "hash" that collides for most ids: the engine must notice and still be exact
    calls = []

    def bad_hash(events, cid):
        calls.append(1)
        return cid.length().cast("int64")

    monkeypatch.setattr(funnels_mod, "_hash_key", bad_hash)
    rng = np.random.default_rng(5)
    df = random_events(rng, customers=20)
    t = con.create_table("fuzz", ibis.memtable(df, schema=events_schema()), overwrite=True)
    for q in (
        {"steps": ["a", "b", "c"], "window": "6m"},
        {"steps": ["a", "b"], "window": "9m", "by": "channel", "attribution": "last"},
    ):
        assert_same(FunnelQuery(**q).run(t), reference_funnel(df, **q))
        assert_same(FunnelQuery(**q).dropped_customers_frame(t, 1), reference_dropped(df, step=1, **q))
    assert calls


@pytest.mark.parametrize("basis", ["chain", "first"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_sorted_scan_matches_reference_on_plain_funnels(con, seed, basis):
    # the funnels the sorted scan takes: sequential, plain steps with distinct names
    rng = np.random.default_rng(seed)
    df = random_events(rng)
    n = int(rng.integers(1, 5))
    q = {"steps": list(rng.permutation(funnels_ref_names())[:n]), "window": f"{int(rng.integers(1, 12))}m"}
    q["time_basis"] = basis
    fq = FunnelQuery(**q)
    t = con.create_table("fuzz", ibis.memtable(df, schema=events_schema()), overwrite=True)
    assert fq._fast_ok(t)
    assert_same(fq.run(t), reference_funnel(df, **q))


def funnels_ref_names() -> list[str]:
    return ["a", "b", "c", "d"]


def test_sorted_scan_numbers_customers_by_their_exact_id(con):
    # the sorted scan numbers customers where the sorted text id changes: ids that differ only
    # in case, trailing spaces, Unicode normalisation or a prefix stay separate customers
    rng = np.random.default_rng(5)
    df = random_events(rng, customers=20)
    odd = ["x", "x ", "X", "\u00e9", "e\u0301", "xx", "x\u0000"]
    df["customer_id"] = [odd[i % len(odd)] if i % 3 == 0 else c for i, c in enumerate(df["customer_id"])]
    t = con.create_table("fuzz", ibis.memtable(df, schema=events_schema()), overwrite=True)
    for q in ({"steps": ["a", "b", "c"], "window": "6m"}, {"steps": ["b", "a"], "window": "9m", "time_basis": "first"}):
        assert FunnelQuery(**q)._fast_ok(t)
        assert_same(FunnelQuery(**q).run(t), reference_funnel(df, **q))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1))
def test_drop_off_lists_match_reference_on_random_logs(con, seed):
    rng = np.random.default_rng(seed)
    df = random_events(rng)
    q = random_funnel(rng)
    q["steps"] = q["steps"] + ["b"] if len(q["steps"]) == 1 else q["steps"]
    step = int(rng.integers(1, len(q["steps"])))
    last = bool(rng.random() < 0.5)
    t = con.create_table("fuzz", ibis.memtable(df, schema=events_schema()), overwrite=True)
    fq = FunnelQuery(**q)
    got = fq.dropped_customers_frame(t, step, last_event=last)
    exp = reference_dropped(df, step=step, last_event=last, **q)
    assert_same(got, exp)
    expr = fq.dropped_customers(t, step, last_event=last).to_pandas()
    assert_same(expr.sort_values("customer_id").reset_index(drop=True)[list(got.columns)], exp)


def test_random_cases_cover_ties_exclusions_and_every_order():
    rng = np.random.default_rng(1)
    qs = [random_funnel(rng) for _ in range(200)]
    assert {q["order"] for q in qs} == {"sequential", "strict", "any"}
    assert sum("exclude" in q for q in qs) > 20 and sum("by" in q for q in qs) > 20
    assert sum(len(q["steps"]) != len(set(map(str, q["steps"]))) for q in qs) > 20  # repeated steps
    logs = [random_events(np.random.default_rng(s)) for s in range(20)]
    assert sum(d.dropna(subset=["customer_id"]).duplicated(["customer_id", "ts"]).sum() for d in logs) > 20  # ties
    assert sum(d["customer_id"].isna().sum() for d in logs) > 10  # anonymous-only events
