"""Funnel parity: the same Ibis expression on local PySpark and on DuckDB, checked against the
brute-force reference, on seeded random logs covering every order, ties, exclusions and `by`."""

from __future__ import annotations

import json

import ibis
import numpy as np
import pandas as pd
import pytest

from cxlens.journeys.funnel_reference import (
    canonical_events,
    events_schema,
    random_events,
    random_funnel,
    reference_dropped,
    reference_funnel,
)
from cxlens.journeys.funnels import FunnelQuery

pytestmark = [pytest.mark.spark, pytest.mark.slow]

# one definition per order, plus exclusions (all transitions and one range) and a breakdown
QUERIES = [
    {"steps": ["a", "b", "c"], "window": "5m", "order": "sequential", "exclude": ["x"], "by": "channel"},
    {
        "steps": ["a", "a", {"name": "b", "where": {"channel": "web"}}],
        "window": "8m",
        "order": "sequential",
        "exclude": [{"name": "d", "from_step": 2, "to_step": 3}],
    },
    {"steps": ["a", "b", "c"], "window": "6m", "order": "strict"},
    {"steps": ["c", "a", "b"], "window": "4m", "order": "any", "by": "channel"},
    {"steps": ["a", "b", "c"], "window": "6m", "by": "channel", "attribution": "last"},
    {"steps": ["b", "a", "c"], "window": "5m", "order": "any", "by": "channel", "attribution": "last"},
]


def _tidy(df: pd.DataFrame) -> pd.DataFrame:
    df = df.reset_index(drop=True).copy()
    for c in df.columns:
        if pd.api.types.is_datetime64_any_dtype(df[c]):
            df[c] = df[c].astype("datetime64[ns]")
        elif df[c].dtype == object or pd.api.types.is_string_dtype(df[c]):
            df[c] = df[c].astype(object).where(df[c].notna(), None)
    return df


def test_spark_and_duckdb_agree_with_the_reference(spark):
    rng = np.random.default_rng(7)
    frames = [random_events(rng, customers=40, max_events=10) for _ in range(2)]
    df = pd.concat(
        [
            f.assign(customer_id=f["customer_id"].map(lambda c, i=i: None if c is None else f"{c}-{i}"))
            for i, f in enumerate(frames)
        ],
        ignore_index=True,
    )
    df["event_id"] = [f"e{i}" for i in range(len(df))]
    df["customer_id"] = df["customer_id"].astype(object).where(df["customer_id"].notna(), None)  # not NaN
    sp = ibis.pyspark.connect(spark)
    dk = ibis.duckdb.connect()
    mem = ibis.memtable(df, schema=events_schema())
    t_dk = dk.create_table("events", mem)
    t_sp = sp.create_table("funnel_parity_events", mem, overwrite=True)
    try:
        for q in QUERIES:
            fq = FunnelQuery(**q)
            exp = reference_funnel(df, **q)
            got_dk = fq.run(t_dk)
            got_sp = fq.run(t_sp)
            pd.testing.assert_frame_equal(_tidy(got_dk), _tidy(exp), check_dtype=False, atol=1e-9)
            pd.testing.assert_frame_equal(_tidy(got_sp), _tidy(exp), check_dtype=False, atol=1e-9)
            assert exp.loc[exp["step"] == exp["step"].max(), "customers"].sum() > 0, q  # last step is reached
        # drop-off lists (the segment export) on Spark too
        q = QUERIES[0]
        got = FunnelQuery(**q).dropped_customers_frame(t_sp, 2, last_event=True)
        exp = reference_dropped(df, step=2, last_event=True, **q)
        assert len(exp) > 0
        pd.testing.assert_frame_equal(_tidy(got), _tidy(exp), check_dtype=False)
    finally:
        sp.drop_table("funnel_parity_events", force=True)


def test_random_definitions_agree_on_spark(spark):
    rng = np.random.default_rng(11)
    df = random_events(rng, customers=30, max_events=8)
    sp = ibis.pyspark.connect(spark)
    t = sp.create_table("funnel_parity_random", ibis.memtable(df, schema=events_schema()), overwrite=True)
    try:
        for _ in range(2):
            q = random_funnel(rng)
            pd.testing.assert_frame_equal(
                _tidy(FunnelQuery(**q).run(t)), _tidy(reference_funnel(df, **q)), check_dtype=False, atol=1e-9
            )
    finally:
        sp.drop_table("funnel_parity_random", force=True)


# property rows: PostHog's $-keys, literal and nested dotted keys, quotes, a backslash, typed values
PROPS = [
    {"$browser": "Chrome", "$current_url": "https://x.io/a?b=1", "n": 95, "is_saved": True},
    {"a.b": "literal", "a": {"b": "nested"}, "n": 95.0, "is_saved": False},
    {"a": {"b": "nested", "c": {"d": 7}}, "n": "95", "is_saved": "true"},
    {'q"k': "it's", "it's": 'say "hi"', "s/l~": 1, "a]b": 2, "x\\y": "back", "n": 95.5},
    {"n": "95.0", "big": 12345678901234567890, "neg": -3.50, "dec": 0.10, "$set": {"x": "y"}},
    {"n": None, "is_saved": None, "list": [95], "obj": {"x": True}},
    {},
]
PROP_KEYS = ["$browser", "$current_url", "a.b", "a", "a.c.d", 'q"k', "it's", "s/l~", "a]b", "x\\y", "n",
             "is_saved", "big", "neg", "dec", "$set.x", "list", "obj", "missing"]  # fmt: skip


def test_property_filters_read_the_same_on_spark_as_the_reference(spark):
    """Spark reads `$`-prefixed, dotted (literal first, then nested), quoted and bracketed keys and
    typed values exactly as the brute-force reference (plain Python ``json``) does."""
    from cxlens.journeys.funnel_reference import _value
    from cxlens.journeys.funnels import property_text

    df = pd.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(len(PROPS))],
            "anonymous_id": None,
            "ts": pd.Timestamp("2024-01-01"),
            "name": "v",
            "channel": "web",
            "properties": [json.dumps(p) for p in PROPS],
        }
    )
    df = canonical_events(df)
    sp = ibis.pyspark.connect(spark)
    t = sp.create_table("funnel_property_keys", ibis.memtable(df, schema=events_schema()), overwrite=True)
    try:
        got = (
            t.select(cid=t.customer_id, **{f"k{i}": property_text(t, k) for i, k in enumerate(PROP_KEYS)})
            .to_pandas()
            .sort_values("cid", key=lambda s: s.str[1:].astype(int))
        )
        for i, key in enumerate(PROP_KEYS):
            want = [_value({"properties": p}, key) for p in df["properties"]]
            seen = [None if pd.isna(v) else v for v in got[f"k{i}"]]
            assert seen == want, key
        # and end to end: a funnel step filtered on a $-key, a nested dotted key and a typed value
        for where, n in [({"$browser": "Chrome"}, 1), ({"a.b": "nested"}, 1), ({"n": 95}, 3), ({"is_saved": True}, 2)]:
            steps = [{"name": "v", "where": where}]
            assert FunnelQuery(steps, window="1h").run(t)["customers"].tolist() == [n], where
            assert reference_funnel(df, steps, window="1h")["customers"].tolist() == [n], where
    finally:
        sp.drop_table("funnel_property_keys", force=True)
