"""The churn feature table (customers/features.py) built on Spark through Ibis equals DuckDB within 1e-9,
and so do the revenue-at-risk pairs and a saved-segment metric."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.customers.features import NUMERIC_FEATURES, customer_features, data_range
from cxlens.customers.risk import unhappy_answers
from cxlens.ingest.simulate import write_demo
from cxlens.scale import to_spark

pytestmark = [pytest.mark.spark, pytest.mark.slow]


@pytest.fixture(scope="module")
def demo_ws(tmp_path_factory):
    ws = cxlens.open(tmp_path_factory.mktemp("features") / "demo.duckdb")
    write_demo(ws, size="small", seed=6)
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def spark_demo(spark, demo_ws):
    return cxlens.connect(to_spark(demo_ws, spark))


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    assert list(got.columns) == list(want.columns)
    assert got.index.tolist() == want.index.tolist()
    assert len(want) > 0
    for c in want.columns:
        x, y = got[c], want[c]
        if pd.api.types.is_numeric_dtype(y) and not pd.api.types.is_bool_dtype(y):
            np.testing.assert_allclose(x.astype(float), y.astype(float), rtol=1e-9, atol=1e-9, err_msg=c)
        else:
            assert [None if pd.isna(v) else v for v in x] == [None if pd.isna(v) else v for v in y], c


@pytest.mark.parametrize("when", ["mid", "end"])
def test_customer_features_on_spark_equal_duckdb(spark_demo, demo_ws, when):
    first, last = data_range(demo_ws)
    as_of = first + (last - first) / 2 if when == "mid" else last.normalize() + pd.Timedelta(days=1)
    want = customer_features(demo_ws, as_of, traits=("segment",))
    got = customer_features(spark_demo, as_of, traits=("segment",))
    _same(got, want)
    # the features are not trivially empty: every numeric feature varies somewhere
    assert all(want[c].nunique(dropna=True) > 1 for c in NUMERIC_FEATURES if want[c].notna().any())


def test_unhappy_pairs_on_spark_equal_duckdb(spark_demo, demo_ws):
    for by in ("theme", "touchpoint"):
        want = unhappy_answers(demo_ws, by).execute().sort_values([by, "customer_id"]).reset_index(drop=True)
        got = unhappy_answers(spark_demo, by).execute().sort_values([by, "customer_id"]).reset_index(drop=True)
        pd.testing.assert_frame_equal(got, want, check_dtype=False)
