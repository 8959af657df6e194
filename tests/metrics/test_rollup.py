"""The feedback rollup: maintained with every insert, and survey metrics from it equal the raw scan."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.errors import SchemaError
from cxlens.metrics import Metrics
from cxlens.metrics import rollup as _rollup
from cxlens.schema.migrations import SCHEMA_VERSION

ROLLUP_SQL = "SELECT * FROM feedback_rollup ORDER BY ALL"
#: the rollup recomputed independently, from the feedback rows, by pandas
GROUP = ["metric", "day", "touchpoint", "channel", "stage", "survey_id", "score"]


def _pandas_rollup(ws) -> pd.DataFrame:
    fb = ws.sql("SELECT * FROM feedback")
    fb["day"] = fb["ts"].dt.normalize()
    out = fb.groupby(GROUP, dropna=False).size().rename("n").reset_index()
    return out.sort_values(GROUP, na_position="last").reset_index(drop=True)


def _rollup_frame(ws) -> pd.DataFrame:
    df = ws.sql(ROLLUP_SQL)
    df["day"] = pd.to_datetime(df["day"])
    return df


def _same_rollup(ws) -> None:
    got, want = _rollup_frame(ws), _pandas_rollup(ws)
    assert len(got) == len(want)
    assert got["n"].sum() == len(ws.sql("SELECT 1 FROM feedback"))
    for c in GROUP:
        assert [None if pd.isna(v) else v for v in got[c]] == [None if pd.isna(v) else v for v in want[c]], c
    assert got["n"].tolist() == want["n"].tolist()


@pytest.fixture(scope="module")
def rws(dataset, tmp_path_factory):
    """The seeded dataset loaded in two batches (the second overlapping the first) into a fresh workspace."""
    ws = cxlens.open(tmp_path_factory.mktemp("rollup") / "ws.duckdb")
    ws.load("customers", dataset["customers"])
    fb = dataset["feedback"]
    ws.load("feedback", fb.iloc[:2000])
    ws.load("feedback", fb.iloc[1500:])  # 500 rows already present: skipped, not counted twice
    yield ws
    ws.close()


def test_rollup_counts_every_feedback_row_once(rws, dataset):
    assert len(rws.sql("SELECT 1 FROM feedback")) == len(dataset["feedback"])
    _same_rollup(rws)
    # null touchpoints are a group of their own
    assert rws.sql("SELECT sum(n) AS n FROM feedback_rollup WHERE touchpoint IS NULL")["n"].iloc[0] == (
        dataset["feedback"]["touchpoint"].isna().sum()
    )


CALLS = [
    ("nps", dict(by="touchpoint", period="month")),
    ("nps", dict()),
    ("nps", dict(by=["channel", "survey_id"], period="week", start="2024-03-01", end="2024-11-15")),
    ("nps", dict(metric="enps", by="stage", period="day")),
    ("nps", dict(filters={"touchpoint": [None, "checkout"]}, by="touchpoint", period="quarter")),
    ("nps", dict(filters={"touchpoint": None}, period="year")),
    ("csat", dict(by=["channel", "touchpoint"], period="week")),
    ("csat", dict(by="touchpoint", start=pd.Timestamp("2024-02-01"), end="2025-01-01", satisfied_min=5)),
    ("csat", dict(filters={"channel": "web", "survey_id": ["s1"]}, by="touchpoint", period="month")),
    ("csat", dict(filters={"touchpoint": []})),
    ("ces", dict(by="touchpoint", period="quarter")),
    ("ces", dict(by="channel", period="month", start="2024-06-01", easy_min=6)),
    ("ces", dict(filters={"touchpoint": "no such touchpoint"})),
    ("ces", dict(by="metric", filters={"touchpoint": None})),
    ("rating", dict(period="year")),
    ("rating", dict(by=["touchpoint", "channel"], end="2024-07-01")),
    ("change", dict(metric="nps", period="quarter", by="channel")),
    ("change", dict(metric="csat", period="month")),
    ("change", dict(metric="ces", period="quarter", by="touchpoint")),
    ("change", dict(metric="rating", period="month")),
]


def _same(got: pd.DataFrame, want: pd.DataFrame) -> None:
    """Equal frames: same columns, dtypes and keys; counts exact; floats within 1e-12 (``sd`` is two-pass)."""
    assert list(got.columns) == list(want.columns)
    pd.testing.assert_series_equal(got.dtypes, want.dtypes)
    assert len(got) == len(want)
    for c in got.columns:
        if c in ("sd", "ci_low", "ci_high", "statistic", "p_value"):
            np.testing.assert_allclose(got[c].astype(float), want[c].astype(float), rtol=1e-12, atol=0, err_msg=c)
        else:
            pd.testing.assert_series_equal(got[c], want[c], check_exact=True)


@pytest.mark.parametrize("method, kwargs", CALLS, ids=[f"{m}-{i}" for i, (m, _) in enumerate(CALLS)])
def test_rollup_equals_raw_scan(rws, method, kwargs):
    fast, raw = Metrics(rws), Metrics(rws, use_rollup=False)
    kw = {k: v for k, v in kwargs.items() if k != "metric"} if method == "change" else kwargs
    assert (
        fast._rollup_plan(kw.get("by"), kw.get("period"), kw.get("start"), kw.get("end"), kw.get("filters")) is not None
    )
    got, want = getattr(fast, method)(**kwargs), getattr(raw, method)(**kwargs)
    assert len(want) > 0
    _same(got, want)


def test_rollup_means_are_exact_and_sd_matches_backend(rws):
    fast, raw = Metrics(rws), Metrics(rws, use_rollup=False)
    got, want = fast.ces(by="touchpoint", period="month"), raw.ces(by="touchpoint", period="month")
    # integer scores: Σ score is exact, so the mean is the same double as AVG
    assert got["ces"].tolist() == want["ces"].tolist()
    np.testing.assert_allclose(got["sd"], want["sd"], rtol=1e-12)
    # and both equal numpy's on the raw rows
    fb = rws.sql("SELECT * FROM feedback WHERE metric = 'ces' AND touchpoint = 'checkout'")
    sd = fb.groupby(fb["ts"].dt.to_period("M").dt.start_time)["score"].std(ddof=1)
    row = got[got["touchpoint"] == "checkout"].set_index("period")["sd"]
    np.testing.assert_allclose(row.to_numpy(), sd.to_numpy(), rtol=1e-12)


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(by="segment"),
        dict(by="traits.tier", period="month"),
        dict(filters={"plan": "pro"}),
        dict(start="2024-03-01 12:00"),
        dict(end=pd.Timestamp("2024-09-01 00:00:01")),
        dict(start=pd.Timestamp("2024-03-01 01:00", tz="Europe/Paris")),  # 00:00 UTC: rollup answers
    ],
)
@pytest.mark.parametrize("method", ["nps", "csat", "ces", "rating"])
def test_queries_the_rollup_cannot_answer_fall_back(rws, method, kwargs):
    fast, raw = Metrics(rws), Metrics(rws, use_rollup=False)
    plan = fast._rollup_plan(
        kwargs.get("by"), kwargs.get("period"), kwargs.get("start"), kwargs.get("end"), kwargs.get("filters")
    )
    assert (plan is not None) == ("tz" in repr(kwargs.get("start")))
    got, want = getattr(fast, method)(**kwargs), getattr(raw, method)(**kwargs)
    assert len(want) > 0
    _same(got, want)


def test_inserting_the_same_rows_twice_leaves_the_rollup_unchanged(ws, dataset):
    fb = dataset["feedback"].iloc[:400]
    assert ws.load("feedback", fb).inserted == 400
    before = _rollup_frame(ws)
    assert ws.load("feedback", fb).inserted == 0
    pd.testing.assert_frame_equal(_rollup_frame(ws), before)
    # duplicates within one input count once
    twice = pd.concat([dataset["feedback"].iloc[400:500]] * 2)
    assert ws.load("feedback", twice).inserted == 100
    _same_rollup(ws)


def test_rows_rejected_by_validation_never_reach_the_rollup(ws):
    good = pd.DataFrame({"ts": ["2024-05-01"] * 2, "metric": "nps", "score": [9, 3], "touchpoint": "web"})
    ws.load("feedback", good)
    before = _rollup_frame(ws)
    bad = pd.DataFrame({"ts": ["2024-05-02"] * 3, "metric": "nps", "score": [9, 42, 7], "touchpoint": "web"})
    with pytest.raises(SchemaError):
        ws.load("feedback", bad)
    pd.testing.assert_frame_equal(_rollup_frame(ws), before)
    assert before["n"].sum() == 2


def test_failed_multi_table_insert_rolls_the_rollup_back(ws, dataset):
    ws.load("feedback", dataset["feedback"].iloc[:100])
    before = _rollup_frame(ws)
    fb = dataset["feedback"].iloc[100:300]
    # a later table fails inside the transaction: its frame has a column that cannot be stored
    orders = pd.DataFrame(
        {"order_id": ["o1"], "customer_id": ["c1"], "ts": [pd.Timestamp("2024-01-01")], "amount": [10.0]}
    )
    real = ws.store.cursor()
    seen = []

    class Failing:
        """Proxy connection whose INSERT into orders fails, after feedback and its rollup were written."""

        def __getattr__(self, name):
            return getattr(real, name)

        def execute(self, sql, *args):
            seen.append(sql.split("(")[0].strip())
            # the first statement after the feedback rollup was updated (the orders part of the import)
            if any("feedback_rollup" in s for s in seen[:-1]):
                raise RuntimeError("disk full")
            return real.execute(sql, *args)

    ws.store._local.cursor = Failing()  # this thread's cursor, the one the insert's transaction uses
    try:
        with pytest.raises(RuntimeError, match="disk full"):
            ws.insert_many({"feedback": fb, "orders": orders})
    finally:
        ws.store._local.cursor = real
    assert "MERGE INTO feedback_rollup r USING" in seen  # the rollup had been updated before the failure
    pd.testing.assert_frame_equal(_rollup_frame(ws), before)
    assert len(ws.sql("SELECT 1 FROM feedback")) == 100
    # the same insert then succeeds and is counted once
    ws.insert_many({"feedback": fb, "orders": orders})
    _same_rollup(ws)


def test_rebuild_rollups_reproduces_the_maintained_rollup(rws):
    maintained = _rollup_frame(rws)
    assert rws.rebuild_rollups() == len(maintained)
    pd.testing.assert_frame_equal(_rollup_frame(rws), maintained)


def test_workspace_without_rollup_gets_it_rebuilt_when_migrated(tmp_path, dataset):
    path = tmp_path / "old.duckdb"
    with cxlens.open(path) as ws:
        ws.load("feedback", dataset["feedback"])
        want = Metrics(ws, use_rollup=False).nps(by="touchpoint", period="month")
        with ws.transaction() as cur:  # as in a workspace made before the rollup existed
            cur.execute("DROP TABLE feedback_rollup")
            cur.execute("UPDATE _cxlens_meta SET value = '2' WHERE key = 'schema_version'")
    with cxlens.open(path) as ws:
        assert ws.schema_version == SCHEMA_VERSION
        _same(ws.metrics.nps(by="touchpoint", period="month"), want)
        _same_rollup(ws)


def test_plan_binds_values_as_parameters():
    keys, where, params = _rollup.plan(
        "touchpoint", "month", "2024-01-01", None, {"channel": ["web'; DROP TABLE feedback; --", None]}
    )
    assert "DROP" not in where and params[-1] == "web'; DROP TABLE feedback; --"
    assert _rollup.plan("touchpoint", None, None, None, {"channel": 3}) is None  # not text: raw path decides
    assert _rollup.plan(["touchpoint", "touchpoint"], None, None, None, None) is None


def test_scan_compiles_each_parameter_set_once(ws, dataset, monkeypatch):
    ws.load("customers", dataset["customers"])
    ws.load("feedback", dataset["feedback"])
    m = Metrics(ws, use_rollup=False)
    first = m.ces(by="segment", period="month")
    monkeypatch.setattr(ws.store, "compile", lambda *a, **k: pytest.fail("compiled again"))
    again = m.ces(by="segment", period="month")
    pd.testing.assert_frame_equal(again, first)
    fb = dataset["feedback"]
    assert again["n"].sum() == (fb["metric"] == "ces").sum()
