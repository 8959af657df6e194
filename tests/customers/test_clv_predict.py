"""CLV predictions: the discounted sum by hand, bootstrap intervals, the CLI-facing functions, demo truth."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from benchmarks.clv import bench_clv

from cxlens.customers import (
    BetaGeoModel,
    GammaGammaModel,
    customer_lifetime_value,
    fit_clv,
    load_summary,
    predict_clv,
    rfm_summary,
)
from cxlens.ingest.simulate import simulate


@pytest.fixture(scope="module")
def cdnow(real_data):
    return load_summary(
        real_data / "cdnow" / "cdnow_customers_summary_with_transactions.csv", "frequency=x,recency=t_x,monetary=zbar"
    )


def test_clv_is_discounted_sum_of_expected_purchases_times_value(cdnow):
    bg = BetaGeoModel().fit(cdnow.frequency, cdnow.recency, cdnow["T"])
    rep = cdnow[cdnow.frequency > 0]
    gg = GammaGammaModel().fit(rep.frequency, rep.monetary)
    s = cdnow.head(40)
    out = customer_lifetime_value(bg, gg, s, horizon=10, discount_rate=0.02, draws=50, seed=1)
    for i in (0, 1, 2, 7):
        x, tx, T, m = s.loc[i, ["frequency", "recency", "T", "monetary"]]
        e = [float(bg.expected_purchases(k, [x], [tx], [T])[0]) for k in range(11)]
        hand = sum((e[k] - e[k - 1]) / 1.02**k for k in range(1, 11))
        ev = float(gg.conditional_expected_value([x], [m])[0])
        assert out.loc[i, "clv"] == pytest.approx(ev * hand, rel=1e-9)
        assert out.loc[i, "expected_purchases"] == pytest.approx(e[10], rel=1e-9)
    assert (out.clv_low <= out.clv).all() and (out.clv <= out.clv_high).all()
    assert out.columns.tolist() == [
        "customer_id",
        "frequency",
        "recency",
        "T",
        "monetary",
        "p_alive",
        "expected_purchases",
        "expected_value",
        "clv",
        "clv_low",
        "clv_high",
    ]


def test_bootstrap_interval_narrows_with_more_customers():
    from cxlens.customers import simulate_bgnbd, simulate_gamma_gamma

    widths = []
    for n in (1_000, 25_000):
        x, tx, T = simulate_bgnbd(n, r=0.5, alpha=4.0, a=0.8, b=2.5, seed=2)
        s = pd.DataFrame({"frequency": x, "recency": tx, "T": T, "monetary": simulate_gamma_gamma(x, 6, 4, 35, seed=3)})
        bg, gg = BetaGeoModel().fit(x, tx, T), GammaGammaModel().fit(x, s.monetary)
        probe = pd.DataFrame({"frequency": [3.0], "recency": [30.0], "T": [40.0], "monetary": [50.0]})
        o = customer_lifetime_value(bg, gg, probe, 26, draws=200, seed=0)
        widths.append(float((o.clv_high - o.clv_low)[0] / o.clv[0]))
    # parameter uncertainty shrinks like 1/sqrt(n): 25x the customers → about 1/5 the width
    assert widths[1] < widths[0] / 3


def test_fit_clv_json_shapes(cdnow):
    out = fit_clv("bgnbd", cdnow)
    assert set(out) >= {"model", "params", "log_likelihood", "n_customers"}
    assert list(out["params"]) == ["r", "alpha", "a", "b"] and out["n_customers"] == 2357
    assert round(out["log_likelihood"], 1) == -9582.4
    assert list(fit_clv("paretonbd", cdnow)["params"]) == ["r", "alpha", "s", "beta"]
    gg = fit_clv("gammagamma", cdnow)
    assert list(gg["params"]) == ["p", "q", "gamma"] and gg["n_customers"] == 946
    with pytest.raises(ValueError, match="unknown CLV model 'bgnb'"):
        fit_clv("bgnb", cdnow)


def test_demo_generator_truth_is_recovered():
    data = simulate(20_000, seed=0)
    orders = data.frames["orders"] if hasattr(data, "frames") else data.orders
    import ibis

    s = rfm_summary(ibis.memtable(orders[["customer_id", "ts", "amount"]]), observation_end="2026-06-30").to_pandas()
    truth = data.truth["clv"]
    bg = fit_clv("bgnbd", s)
    gg = fit_clv("gammagamma", s)
    # seed 0, 20,000 customers: r 0.935 (0.9), alpha 22.8 (22), a 0.81 (1.0), b 2.59 (3.0); p 5.94 (6), q 3.86 (4),
    # gamma 34.2 (35). a and b are the least precise; orders on one day merge, amounts are rounded and floored at 5
    for k in ("r", "alpha"):
        assert bg["params"][k] == pytest.approx(truth[k], rel=0.10)
    for k in ("a", "b"):
        assert abs(bg["params"][k] - truth[k]) < 4 * bg["std_errors"][k]
    for k in ("p", "q", "gamma"):
        assert gg["params"][k] == pytest.approx(truth[k], rel=0.10)


def test_predict_clv_on_workspace_sorts_by_value(tmp_path):
    import cxlens
    from cxlens.ingest import write_demo

    ws = cxlens.open(tmp_path / "d.duckdb")
    write_demo(ws, 1500, seed=2)
    df = predict_clv(ws, horizon=26, draws=30)
    n_buyers = int(ws.sql("SELECT count(DISTINCT customer_id) n FROM orders")["n"][0])
    ws.close()
    assert len(df) == n_buyers
    assert df.clv.is_monotonic_decreasing
    assert ((df.p_alive > 0) & (df.p_alive <= 1)).all()
    assert (df.loc[df.frequency == 0, "p_alive"] == 1).all()


def test_bench_small_run_matches_true_parameters_without_lifetimes():
    res = bench_clv(50_000, seed=1, run_lifetimes=False)
    assert res["customers"] == 50_000 and res["distinct_summaries"] < 50_000
    for k, v in res["true_params"].items():
        assert res["cxlens"]["params"][k] == pytest.approx(v, rel=0.15)


def test_bench_reports_missing_lifetimes(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def fake(name, *a, **k):
        if name == "lifetimes":
            raise ImportError(name)
        return real_import(name, *a, **k)

    monkeypatch.setattr(builtins, "__import__", fake)
    res = bench_clv(2_000, seed=0)
    assert res["lifetimes"]["error"].endswith("pip install lifetimes")
    assert np.isfinite(res["cxlens"]["log_likelihood"])
