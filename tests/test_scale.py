"""The demo workspace on local Spark gives the same metrics as on DuckDB (scale-out parity)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.ingest.simulate import write_demo
from cxlens.scale import to_spark

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    ws = cxlens.open(tmp_path_factory.mktemp("demo") / "demo.duckdb")
    write_demo(ws, size="small", seed=3)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def spark_demo(spark, demo_ws):
    return cxlens.connect(to_spark(demo_ws, spark))


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert len(got) == len(want) > 0
    for c in want.columns:
        x, y = got[c], want[c]
        if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9, err_msg=c)
        elif pd.api.types.is_datetime64_any_dtype(y):
            assert (pd.to_datetime(x) == pd.to_datetime(y)).all(), c
        else:
            assert [None if pd.isna(v) else v for v in x] == [None if pd.isna(v) else v for v in y], c


def test_every_demo_table_arrives_whole(spark, spark_demo, demo_ws):
    for name, n in demo_ws.counts().items():
        assert spark.table(name).count() == n, name


CALLS = [
    ("nps", dict(by="touchpoint", period="month")),
    ("nps", dict(by=["segment", "stage"])),
    ("csat", dict(by="survey_id", period="quarter")),
    ("csat", dict(filters={"channel": "logistics"}, period="month")),
    ("ces", dict(by="touchpoint", period="quarter")),
    ("change", dict(metric="nps", period="month", by="touchpoint")),
    ("churn", dict(period="month", by="segment")),
    ("retention", dict(period="quarter")),
    ("value", dict(by="country", period="quarter")),
    ("clv", dict(by="segment")),
    ("carts", dict(period="month")),
    ("support", dict(by="channel", period="quarter")),
    ("summary", dict()),
]


@pytest.mark.parametrize(("method", "kwargs"), CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CALLS)])
def test_demo_metric_on_spark_equals_duckdb(spark_demo, demo_ws, method, kwargs):
    _same(getattr(spark_demo.metrics, method)(**kwargs), getattr(demo_ws.metrics, method)(**kwargs))
