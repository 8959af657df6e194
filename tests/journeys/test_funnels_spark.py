"""Funnel parity: the same Ibis expression on local PySpark and on DuckDB, checked against the
brute-force reference, on seeded random logs covering every order, ties, exclusions and `by`."""

from __future__ import annotations

import ibis
import numpy as np
import pandas as pd
import pytest

from cxlens.journeys.funnel_reference import (
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
