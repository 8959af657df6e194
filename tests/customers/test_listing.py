"""customer_list and segment_summary against pandas/SQL; the model charts carry the tables they draw."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.customers.charts import calibration_chart, clv_holdout, segment_map_chart
from cxlens.customers.listing import RISK_BANDS, customer_list, risk_band, segment_summary
from cxlens.customers.risk import fitted_models
from cxlens.customers.segments import rfm_segments, rule_segment, save_segment, save_segments
from cxlens.errors import ConfigError
from cxlens.ingest import write_demo


@pytest.fixture(scope="module")
def lws(tmp_path_factory):
    w = cxlens.open(tmp_path_factory.mktemp("listing") / "demo.duckdb")
    write_demo(w, "small", seed=5)
    rfm = rfm_segments(w)
    save_segments(w, rfm.set_index("customer_id")["segment"], "rfm", prefix="rfm:")
    rule_segment(w, "vip", {"plan": "vip"}, save=True)
    w.refresh(["models.fit"])  # the stored scores the list reads (it never fits a model)
    yield w
    w.close()


@pytest.fixture(scope="module")
def frame(lws):
    """RFM rows joined by pandas to country/plan (SQL) and the fitted CLV and risk."""
    clv, risk, _ = fitted_models(lws)
    df = rfm_segments(lws)
    cu = lws.sql("SELECT customer_id, country, plan FROM customers")
    df = df.merge(cu, on="customer_id", how="left")
    df["clv"] = df["customer_id"].map(clv.set_index("customer_id")["clv"])
    df["churn_risk"] = df["customer_id"].map(risk.set_index("customer_id")["churn_risk"])
    return df


def test_risk_bands_cover_zero_to_one():
    assert [risk_band(x) for x in (0.0, 0.0999, 0.1, 0.2999, 0.3, 1.0)] == [
        "low", "low", "medium", "medium", "high", "high"
    ]  # fmt: skip
    assert risk_band(None) is None and risk_band(float("nan")) is None
    assert list(RISK_BANDS) == ["low", "medium", "high"]


@pytest.mark.parametrize(
    ("kwargs", "mask"),
    [
        ({"risk": "high"}, lambda d: d["churn_risk"] >= 0.3),
        ({"risk": "low", "plan": "vip"}, lambda d: (d["churn_risk"] < 0.1) & (d["plan"] == "vip")),
        ({"clv_min": 50, "clv_max": 150}, lambda d: d["clv"].between(50, 150)),
        ({"segment": "Champions", "risk": "medium"}, lambda d: (d["segment"] == "Champions") & d["churn_risk"].between(0.1, 0.3, inclusive="left")),
    ],
)  # fmt: skip
def test_filters_equal_pandas(lws, frame, kwargs, mask):
    out = customer_list(lws, sort="clv", per_page=10_000, **kwargs)
    ref = frame[mask(frame)].sort_values(["clv", "customer_id"], ascending=[False, True], na_position="last")
    assert out["total"] == len(ref) > 0
    assert out["rows"]["customer_id"].tolist() == ref["customer_id"].tolist()
    assert out["rows"]["clv"].to_numpy() == pytest.approx(ref["clv"].to_numpy(), nan_ok=True)


def test_saved_segment_filter_and_pagination(lws, frame):
    vip = set(lws.sql("SELECT customer_id FROM customers WHERE plan = 'vip'")["customer_id"])
    out = customer_list(lws, saved_segment="vip", sort="risk", page=2, per_page=10)
    ref = frame[frame["customer_id"].isin(vip)].sort_values(
        ["churn_risk", "customer_id"], ascending=[False, True], na_position="last"
    )
    assert out["total"] == len(ref)
    assert out["pages"] == -(-len(ref) // 10)
    assert out["rows"]["customer_id"].tolist() == ref["customer_id"].iloc[10:20].tolist()
    assert "vip" in out["options"]["saved_segment"]
    with pytest.raises(ConfigError, match="risk band is 'extreme'"):
        customer_list(lws, risk="extreme")
    with pytest.raises(ConfigError, match="clv_min is 'lots'"):
        customer_list(lws, clv_min="lots")


def test_segment_summary_matches_metrics_and_sql(lws, frame):
    save_segment(lws, "overlap", frame["customer_id"].head(40))  # overlaps rfm:* and vip: its own pass
    s = segment_summary(lws).set_index("segment")
    sizes = lws.sql("SELECT segment, count(*) AS n FROM segments GROUP BY 1").set_index("segment")
    assert s["size"].to_dict() == sizes["n"].to_dict()
    for name in ("vip", "rfm:Champions", "overlap"):
        nps = lws.metrics.nps(segment=name).iloc[0]
        assert s.loc[name, "nps_n"] == nps["n"]
        assert s.loc[name, "nps"] == pytest.approx(nps["nps"])
        assert s.loc[name, "nps_ci_low"] == pytest.approx(nps["ci_low"])
        csat = lws.metrics.csat(segment=name).iloc[0]
        assert s.loc[name, "csat"] == pytest.approx(csat["csat"])
    members = set(lws.sql("SELECT customer_id FROM segments WHERE segment = 'vip'")["customer_id"])
    clv, risk, _ = fitted_models(lws)
    c = clv.set_index("customer_id")["clv"]
    r = risk.set_index("customer_id")["churn_risk"]
    ids = pd.Series(sorted(members))
    assert s.loc["vip", "clv_mean"] == pytest.approx(ids.map(c).mean())
    assert s.loc["vip", "churn_risk"] == pytest.approx(ids.map(r).mean())
    assert s.loc["vip", "at_risk"] == pytest.approx((ids.map(c) * ids.map(r)).sum())
    assert s.loc["overlap", "kind"] == "manual"


def test_charts_carry_their_tables(lws):
    _, _, run = fitted_models(lws)
    cal = run.metrics["calibration"]
    spec = calibration_chart(cal).to_dict()
    data = next(v for v in spec["datasets"].values() if len(v) == len(cal) and "observed_rate" in v[0])
    assert [d["observed_rate"] for d in data] == pytest.approx(cal["observed_rate"].tolist())
    summary = segment_summary(lws)
    spec = segment_map_chart(summary).to_dict()
    rows = next(iter(spec["datasets"].values()))
    assert sorted(d["segment"] for d in rows) == sorted(summary.dropna(subset=["clv_mean"])["segment"])
    with pytest.raises(ConfigError, match="expected segment, size, clv_mean, churn_risk"):
        segment_map_chart(summary.drop(columns="churn_risk"))


def test_clv_holdout_splits_at_the_stated_weeks(lws):
    h = clv_holdout(lws, holdout_weeks=26)
    last = pd.Timestamp(lws.scalar("SELECT max(ts) FROM orders"))
    assert h.attrs["observation_end"] == last.date().isoformat()
    assert h.attrs["calibration_end"] == (last - pd.Timedelta(weeks=26)).normalize().date().isoformat()
    # every customer with a first purchase by the calibration end is in exactly one row
    n = lws.scalar(
        "SELECT count(*) FROM (SELECT customer_id, min(ts) AS f FROM orders GROUP BY 1) WHERE f::DATE <= ?",
        [h.attrs["calibration_end"]],
    )
    assert int(h["customers"].sum()) == n
    assert np.all(h["expected"].dropna() >= 0)
