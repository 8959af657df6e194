"""Every metric on Spark equals the DuckDB result on the same seeded dataset."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.schema.tables import TABLES

pytestmark = [pytest.mark.spark, pytest.mark.slow]

_SPARK_TYPES = {"string": "string", "json": "string", "float": "double", "int": "bigint", "timestamp": "timestamp"}


@pytest.fixture(scope="module")
def spark_ws(spark, data_ws):
    ibis = pytest.importorskip("ibis")
    from pyspark.sql.types import _parse_datatype_string

    for name in ("customers", "feedback", "orders", "events", "tickets"):
        table = TABLES[name]
        df = data_ws.table(name).to_pandas()
        schema = _parse_datatype_string(", ".join(f"{c.name} {_SPARK_TYPES[c.type]}" for c in table.columns))
        rows = [
            tuple(
                None
                if (v is None or v is pd.NaT or (isinstance(v, float) and np.isnan(v)))
                else (v.to_pydatetime() if isinstance(v, pd.Timestamp) else (int(v) if c.type == "int" else v))
                for v, c in zip(r, table.columns, strict=True)
            )
            for r in df[table.column_names].astype(object).itertuples(index=False, name=None)
        ]
        spark.createDataFrame(rows, schema).createOrReplaceTempView(name)
    return cxlens.connect(ibis.pyspark.connect(spark))


def _same(a: pd.DataFrame, b: pd.DataFrame, rtol: float = 1e-9):
    assert list(a.columns) == list(b.columns)
    assert len(a) == len(b), (len(a), len(b))
    for c in a.columns:
        x, y = a[c], b[c]
        if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=rtol, atol=1e-9, err_msg=c)
        elif pd.api.types.is_datetime64_any_dtype(y):
            assert (pd.to_datetime(x) == pd.to_datetime(y)).all(), c
        else:
            assert [None if pd.isna(v) else v for v in x] == [None if pd.isna(v) else v for v in y], c


CALLS = [
    ("nps", dict(by="touchpoint", period="month")),
    ("nps", dict(by=["segment", "traits.tier"], metric="enps")),
    ("nps", dict(period="week", filters={"channel": ["web", "app"]}, start="2024-03-01", end="2025-01-01")),
    ("csat", dict(by="channel", period="quarter")),
    ("ces", dict(by="touchpoint")),
    ("rating", dict(by="plan", period="year")),
    ("change", dict(metric="nps", period="quarter", by="channel")),
    ("change", dict(metric="csat", period="month")),
    ("change", dict(metric="ces", period="quarter")),
    ("churn", dict(period="month", by="segment")),
    ("churn", dict(period="week", inactivity_days=30)),
    ("retention", dict(period="month")),
    ("retention", dict(period="quarter", by="country")),
    ("value", dict(by="channel", period="month")),
    ("value", dict(by="traits.tier")),
    ("clv", dict(by="segment")),
    ("carts", dict(by="touchpoint", period="month")),
    ("carts", dict()),
    ("support", dict(by="team", period="quarter")),
    ("support", dict(by="channel")),
    ("summary", dict(start="2024-03-01")),
]


@pytest.mark.parametrize("method, kwargs", CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CALLS)])
def test_spark_equals_duckdb(spark_ws, data_ws, method, kwargs):
    want = getattr(data_ws.metrics, method)(**kwargs)
    got = getattr(spark_ws.metrics, method)(**kwargs)
    assert len(want) > 0
    _same(got, want)
