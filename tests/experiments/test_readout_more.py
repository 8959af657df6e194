"""The read-out's SQL aggregates, funnel goals, CES and frustration per variant, Newcombe CIs, the
always-valid p-value and the Bayesian figures for means — library, CLI and HTTP API.

Oracles: the per-person frame (:func:`cxlens.experiments.readout.person_frame`, one row per person
as the read-out used to pull) recomputed with scipy/statsmodels; hand-counted funnels.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import integrate
from scipy import stats as st

import cxlens
from cxlens.errors import ParameterError
from cxlens.experiments import stats
from cxlens.experiments.readout import person_frame

from .. import live
from ..conftest import running
from .test_readout import T0, _cli, _event, _exposure, _run
from .test_readout import build as build_checkout

sm_prop = pytest.importorskip("statsmodels.stats.proportion")

FUNNEL = "view>cart>purchase"


def _fb(i: str, person: str, metric: str, score: float, day: float) -> dict:
    return {"feedback_id": i, "customer_id": person, "ts": T0 + pd.Timedelta(days=day), "metric": metric,
            "score": score}  # fmt: skip


def build(path) -> None:
    build_checkout(path)
    rows = [_exposure(f"fc{i}", "control", 0, exp="fun") for i in range(10)]
    rows += [_exposure(f"ft{i}", "b", 0, exp="fun") for i in range(10)]
    steps = lambda p, days: [_event(p, n, d) for n, d in zip(("view", "cart", "purchase"), days, strict=True)]  # noqa: E731
    rows += steps("fc0", (1, 2, 3))  # converts
    rows += [_event("fc1", "view", 1), _event("fc1", "purchase", 2), _event("fc1", "cart", 3)]  # out of order
    rows += [_event("fc2", "view", -2), _event("fc2", "cart", 1), _event("fc2", "purchase", 2)]  # step 1 before
    rows += steps("fc3", (10, 13, 15))  # purchase after the 14 days
    rows += steps("fc4", (-5, -4, -3))  # the whole funnel before exposure: the CUPED covariate only
    for i in range(6):
        rows += steps(f"ft{i}", (1, 1.5, 2))
    rows += steps("ft6", (1, 1, 1))  # one timestamp: equal times never advance a funnel
    # frustration: control fc0, fc1 in the window, fc2 only before; treatment ft0 in, ft1 after
    rows += [_event("fc0", "$rageclick", 1), _event("fc0", "$rageclick", 1.1), _event("fc1", "$deadclick", 2),
             _event("fc2", "$errorclick", -1), _event("ft0", "$deadclick", 3), _event("ft1", "$errorclick", 20)]  # fmt: skip
    fb = [_fb("e1", "fc0", "ces", 3, 1), _fb("e2", "fc1", "ces", 4, 2), _fb("e3", "fc2", "ces", 2, 3),
          _fb("e4", "ft0", "ces", 6, 1), _fb("e5", "ft1", "ces", 5, 1), _fb("e6", "ft2", "ces", 7, 2),
          _fb("e7", "ft3", "ces", 6, 2), _fb("e8", "ft4", "ces", 1, 20), _fb("e9", "ft0", "ces", 1, 5)]  # fmt: skip
    # zero conversions in control: 0/20 vs 3/20
    rows += [_exposure(f"zc{i}", "control", 0, exp="zero") for i in range(20)]
    rows += [_exposure(f"zt{i}", "b", 0, exp="zero") for i in range(20)]
    rows += [_event(f"zt{i}", "signup", 1) for i in range(3)]
    with cxlens.open(path) as ws:
        ws.load("events", pd.DataFrame(rows))
        ws.load("feedback", pd.DataFrame(fb))
        ws.experiments.define("fun", ["control", "b"])
        ws.experiments.define("zero", ["control", "b"])


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    p = tmp_path_factory.mktemp("exp2") / "exp.duckdb"
    build(p)
    return p


@pytest.fixture(scope="module")
def fun(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        return ws.experiments.results("fun", [FUNNEL, "purchase"])


def test_sql_aggregates_equal_the_per_person_computation(wspath):
    goals = ["purchase", "refund"]
    with cxlens.open(wspath, read_only=True) as ws:
        res = ws.experiments.results("checkout-v2", goals)
        per = person_frame(ws.store, "checkout-v2", goals, 14)
    a, b = per[per.variant == "control"], per[per.variant == "one-page"]
    for gi, goal in enumerate(goals):
        ya, yb = a[f"y_{gi}"].to_numpy(float), b[f"y_{gi}"].to_numpy(float)
        row = res["by_goal"][goal][1]
        assert (row["exposed"], row["converted"]) == (len(yb), int(yb.sum()))
        _, p = sm_prop.proportions_ztest([yb.sum(), ya.sum()], [len(yb), len(ya)])
        assert row["p_value"] == pytest.approx(p, rel=1e-9)
        xa, xb = a[f"x_{gi}"].to_numpy(float), b[f"x_{gi}"].to_numpy(float)
        x, y = np.r_[xa, xb], np.r_[ya, yb]
        theta = np.cov(x, y)[0, 1] / x.var(ddof=1) if x.var() > 0 else 0.0
        adj_a, adj_b = ya - theta * (xa - x.mean()), yb - theta * (xb - x.mean())
        assert row["cuped_uplift"] == pytest.approx(adj_b.mean() - adj_a.mean(), rel=1e-9, abs=1e-12)
        assert row["cuped_p_value"] == pytest.approx(st.ttest_ind(adj_b, adj_a, equal_var=False).pvalue, rel=1e-8)
    row = res["variants"][1]
    ra, rb = a["rev"].to_numpy(float), b["rev"].to_numpy(float)
    assert row["revenue_per_visitor"] == pytest.approx(rb.mean(), rel=1e-12)
    assert row["revenue_p_value"] == pytest.approx(st.ttest_ind(rb, ra, equal_var=False).pvalue, rel=1e-9)
    assert row["csat"] == pytest.approx(b["csat"].mean()) and row["csat_n"] == b["csat"].notna().sum()


def test_funnel_goal_converts_only_when_completed_in_the_window_after_exposure(fun):
    ctl, trt = fun["by_goal"][FUNNEL]
    assert (ctl["exposed"], ctl["converted"]) == (10, 1)  # fc0 only
    assert (trt["exposed"], trt["converted"]) == (10, 6)  # ft0..ft5; ft6's steps share one timestamp
    lo, hi = sm_prop.confint_proportions_2indep(6, 10, 1, 10, method="wald", compare="diff")
    assert (trt["ci_low"], trt["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    # the covariate: fc4 completed the funnel in the 14 days before exposure; θ pooled by hand
    ya, xa = np.r_[1, np.zeros(9)], np.r_[0, 0, 0, 0, 1, np.zeros(5)]
    yb, xb = np.r_[np.ones(6), np.zeros(4)], np.zeros(10)
    x, y = np.r_[xa, xb], np.r_[ya, yb]
    theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
    assert trt["cuped_uplift"] == pytest.approx((yb.mean() - ya.mean()) - theta * (xb.mean() - xa.mean()))
    assert fun["variants"] == fun["by_goal"][FUNNEL]  # the first goal is primary
    assert fun["by_goal"]["purchase"][0]["converted"] == 3  # the plain event: fc0, fc1, fc2 (fc3 on day 15)


def test_ces_per_variant_welch_and_normal_bayes(fun):
    ctl, trt = fun["variants"]
    a, b = np.array([3, 4, 2.0]), np.array([6, 5, 7, 6.0])  # ft0's later answer and ft4's day-20 answer excluded
    assert (ctl["ces"], ctl["ces_n"], trt["ces"], trt["ces_n"]) == (3.0, 3, 6.0, 4)
    ref = st.ttest_ind(b, a, equal_var=False)
    assert trt["ces_p_value"] == pytest.approx(ref.pvalue) and trt["ces_diff"] == pytest.approx(3.0)
    se = np.sqrt(a.var(ddof=1) / 3 + b.var(ddof=1) / 4)
    assert trt["ces_chance_to_beat_control"] == pytest.approx(st.norm.cdf(3.0 / se))
    loss, _ = integrate.quad(lambda d: max(-d, 0) * st.norm.pdf(d, 3.0, se), -np.inf, 0)
    assert trt["ces_expected_loss"] == pytest.approx(loss, abs=1e-9)


def test_frustration_rate_per_variant(fun):
    ctl, trt = fun["variants"]
    assert (ctl["frustrated"], ctl["frustration_rate"]) == (2, 0.2)  # fc0 (twice), fc1; fc2 only before
    assert (trt["frustrated"], trt["frustration_rate"]) == (1, 0.1)  # ft0; ft1 on day 20
    lo, hi = sm_prop.confint_proportions_2indep(1, 10, 2, 10, method="wald", compare="diff")
    assert (trt["frustration_ci_low"], trt["frustration_ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert trt["frustration_p_value"] == pytest.approx(sm_prop.proportions_ztest([1, 2], [10, 10])[1])
    # lower is better: P(p_b < p_a) under Beta(1 + x, 1 + n − x), by numerical integration
    pa, pb = st.beta(3, 9), st.beta(2, 10)
    chance, _ = integrate.quad(lambda t: pb.pdf(t) * pa.sf(t), 0, 1)
    assert trt["frustration_chance_to_beat_control"] == pytest.approx(chance, abs=0.005)


def test_newcombe_option_where_the_unpooled_ci_degenerates(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        plain = ws.experiments.results("zero", ["signup"])
        newc = ws.experiments.results("zero", ["signup"], ci="newcombe")
        auto = ws.experiments.results("zero", ["signup"], ci="auto")
        other = ws.experiments.results("checkout-v2", ["purchase"], ci="auto")
        with pytest.raises(ParameterError, match="ci is 'exact'"):
            ws.experiments.results("zero", ["signup"], ci="exact")
    trt = plain["variants"][1]
    wl, wh = sm_prop.confint_proportions_2indep(3, 20, 0, 20, method="wald", compare="diff")
    assert (trt["ci_method"], trt["ci_low"], trt["ci_high"]) == ("unpooled", pytest.approx(wl), pytest.approx(wh))
    assert any("0 or all conversions" in w for w in plain["warnings"])
    nl, nh = sm_prop.confint_proportions_2indep(3, 20, 0, 20, method="newcomb", compare="diff")
    for r in (newc, auto):
        row = r["variants"][1]
        assert (row["ci_method"], row["ci_low"], row["ci_high"]) == ("newcombe", pytest.approx(nl), pytest.approx(nh))
        assert row["p_value"] == pytest.approx(trt["p_value"])  # the p-value stays the pooled z-test
    assert newc["ci"] == "newcombe" and not any("0 or all" in w for w in newc["warnings"])
    assert other["variants"][1]["ci_method"] == "unpooled"  # auto keeps Wald where it does not degenerate


def test_always_valid_p_value_in_the_read_out(fun):
    trt = fun["variants"][1]
    n = 20
    se = np.sqrt(0.6 * 0.4 / 10 + 0.1 * 0.9 / 10)
    assert trt["seq_p_value"] == pytest.approx(stats.sequential_p_value(0.5, float(se), n))
    assert trt["seq_p_value"] >= trt["p_value"]  # never below the fixed-horizon p-value here
    assert (trt["seq_p_value"] <= 0.05) == (trt["seq_ci_low"] > 0 or trt["seq_ci_high"] < 0)


def test_cli_and_api_take_funnels_and_the_ci_option(wspath, fun):
    r = _run(wspath, "experiment", "results", "fun", "--goal", FUNNEL, "--ci", "newcombe", "--format", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout)
    assert [v["converted"] for v in out["variants"]] == [1, 6] and out["variants"][1]["ci_method"] == "newcombe"
    lo, hi = sm_prop.confint_proportions_2indep(6, 10, 1, 10, method="newcomb", compare="diff")
    assert out["variants"][1]["ci_low"] == pytest.approx(lo) and out["variants"][1]["ci_high"] == pytest.approx(hi)
    bad = _cli(wspath, "experiment", "results", "fun", "--goal", "purchase", "--ci", "exact")
    assert bad.returncode == 1 and "ci is 'exact'" in bad.stderr
    from cxlens.web import create_app

    with running(create_app(wspath)) as url:
        body = live.get(f"{url}/api/v1/experiments/fun/results", params={"goal": FUNNEL, "ci": "auto"}).json()
        assert body["variants"][1]["converted"] == 6 and body["variants"][1]["ci_method"] == "unpooled"
        assert body["variants"][1]["ces_n"] == 4 and body["variants"][1]["frustrated"] == 1
        assert body["variants"][1]["seq_p_value"] == pytest.approx(fun["variants"][1]["seq_p_value"])
        bad = live.get(f"{url}/api/v1/experiments/fun/results", params={"goal": FUNNEL, "ci": "exact"})
        assert bad.status_code == 422
        page = live.get(f"{url}/experiments/fun", params={"goal": FUNNEL, "ci": "newcombe"})
        assert page.status_code == 200 and "Rate CI: newcombe" in page.text
        assert 'data-field="seq_p_value"' in page.text and "view&gt;cart&gt;purchase" in page.text
