"""Chart builders draw the metric tables as given: values, intervals and the small-sample flag."""

from __future__ import annotations

import pandas as pd

from cxlens import charts


def _monthly() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": pd.to_datetime(["2024-01-01", "2024-02-01", "2024-03-01"]),
            "nps": [10.0, 20.0, float("nan")],
            "ci_low": [2.0, 11.0, float("nan")],
            "ci_high": [18.0, 29.0, float("nan")],
            "n": [120, 150, 0],
            "small_sample": [False, False, True],
        }
    )


def _data(spec: dict) -> list[dict]:
    (values,) = spec["datasets"].values()
    return values


def test_trend_chart_carries_values_ci_and_small_sample_flag():
    spec = charts.to_vega_lite(charts.trend_chart(_monthly(), "nps"))
    assert spec["$schema"] == "https://vega.github.io/schema/vega-lite/v6.4.1.json"
    rows = _data(spec)
    assert [r["nps"] for r in rows] == [10.0, 20.0, None]
    assert [(r["ci_low"], r["ci_high"]) for r in rows[:2]] == [(2.0, 18.0), (11.0, 29.0)]
    assert [r["small_sample"] for r in rows] == [False, False, True]
    assert rows[0]["period"].startswith("2024-01-01")
    band, line, _ = spec["layer"]
    assert band["encoding"]["y"]["field"] == "ci_low" and band["encoding"]["y2"]["field"] == "ci_high"
    assert line["encoding"]["y"]["field"] == "nps"


def test_breakdown_chart_sorts_by_value_unless_order_given():
    df = pd.DataFrame(
        {
            "stage": ["purchase", "awareness"],
            "nps": [5.0, 30.0],
            "ci_low": [0.0, 20.0],
            "ci_high": [10.0, 40.0],
            "n": [50, 60],
        }
    )
    spec = charts.to_vega_lite(charts.breakdown_chart(df, "stage", "nps"))
    assert spec["layer"][0]["encoding"]["y"]["sort"] == {"field": "nps", "order": "descending"}
    spec = charts.to_vega_lite(charts.breakdown_chart(df, "stage", "nps", sort=["awareness", "purchase"]))
    assert spec["layer"][0]["encoding"]["y"]["sort"] == ["awareness", "purchase"]
    assert spec["layer"][1]["encoding"]["x"]["field"] == "ci_low"


def test_share_chart_melts_the_three_shares():
    df = pd.DataFrame({"stage": ["service"], "promoter_share": [0.5], "passive_share": [0.3], "detractor_share": [0.2]})
    rows = _data(charts.to_vega_lite(charts.share_chart(df, "stage")))
    assert {r["share"]: r["value"] for r in rows} == {"Promoters": 0.5, "Passives": 0.3, "Detractors": 0.2}
