"""Experiment read-outs end to end: library, CLI (subprocess) and HTTP API on a real server.

The workspace holds a small, hand-countable experiment: 10 control people (3 convert within 14
days, one more on day 20, one only before exposure), 11 treatment people (7 convert, one of
them an anonymous visitor stitched to a customer), one person exposed to both variants and
another exposed twice to the same one.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

import cxlens
from cxlens.errors import NotFoundError, ParameterError

from .. import live
from ..conftest import running

sm_prop = pytest.importorskip("statsmodels.stats.proportion")

T0 = pd.Timestamp("2026-03-01 10:00")
EXACT_KEYS = ["variant", "exposed", "converted", "rate", "uplift", "ci_low", "ci_high", "p_value",
              "chance_to_beat_control"]  # fmt: skip


def _exposure(person: str, variant: str, day: float, exp: str = "checkout-v2", anon: bool = False) -> dict:
    return {"event_id": f"x-{exp}-{person}-{day}", "customer_id": None if anon else person,
            "anonymous_id": person if anon else None, "ts": T0 + pd.Timedelta(days=day), "type": "track",
            "name": "$exposure", "properties": json.dumps({"experiment": exp, "variant": variant})}  # fmt: skip


def _event(person: str, name: str, day: float, revenue: float | None = None) -> dict:
    return {"event_id": f"e-{person}-{name}-{day}", "customer_id": person, "ts": T0 + pd.Timedelta(days=day),
            "type": "track", "name": name, "revenue": revenue}  # fmt: skip


def build(path) -> None:
    rows = []
    for i in range(10):
        rows.append(_exposure(f"c{i}", "control", i * 0.01))
    for i in range(10):
        rows.append(_exposure(f"t{i}", "one-page", i * 0.01))
    rows += [
        _event("c0", "purchase", 1, 50.0),
        _event("c1", "purchase", 2, 30.0),
        _event("c2", "purchase", 13.9, 20.0),
        _event("c3", "purchase", 20, 99.0),  # outside 14 days, inside 30
        _event("c4", "purchase", -2, 10.0),
    ]  # before exposure: the CUPED covariate, not a conversion
    rows += [_event(f"t{i}", "purchase", 1 + i, 40.0) for i in range(6)]
    rows.append(_exposure("c0", "control", 5))  # a second exposure, same variant: the first counts
    rows += [_exposure("m1", "control", 0.5), _exposure("m1", "one-page", 1.5), _event("m1", "purchase", 2)]
    rows += [_event(f"t{i}", "refund", 3 + i) for i in range(5)]  # a guardrail the treatment breaks
    rows.append(_exposure("anon-x", "one-page", 0.2, anon=True))  # stitched to customer u-x below
    rows.append(_event("u-x", "purchase", 3, 25.0))
    fb = [{"feedback_id": f"f{i}", "customer_id": p, "ts": T0 + pd.Timedelta(days=3), "metric": "nps", "score": s}
          for i, (p, s) in enumerate([("c0", 10), ("c1", 3), ("c2", 8), ("t0", 10), ("t1", 9), ("t2", 6)])]  # fmt: skip
    fb += [{"feedback_id": f"cs{i}", "customer_id": p, "ts": T0 + pd.Timedelta(days=4), "metric": "csat", "score": s}
           for i, (p, s) in enumerate([("c0", 5), ("c1", 2), ("c2", 4), ("t0", 5), ("t1", 5), ("t2", 4)])]  # fmt: skip
    # a skewed experiment: 600 vs 400 people for a configured 50/50 split
    rows += [_exposure(f"s{i}", "control" if i < 600 else "b", 0, exp="skewed") for i in range(1000)]
    with cxlens.open(path) as ws:
        ws.load("events", pd.DataFrame(rows))
        ws.load("feedback", pd.DataFrame(fb))
        with ws.transaction(changes=["collect_identities"]) as cur:
            cur.execute("INSERT INTO collect_identities VALUES ('anon-x', 'u-x', NULL, NULL)")
        ws.experiments.define("checkout-v2", ["control", "one-page"])
        ws.experiments.define("skewed", ["control", "b"], [50, 50])


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    p = tmp_path_factory.mktemp("exp") / "exp.duckdb"
    build(p)
    return p


@pytest.fixture(scope="module")
def res(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        return ws.experiments.results("checkout-v2", goals=["purchase"])


def test_counts_first_exposure_window_stitching_and_exclusions(res):
    ctl, trt = res["variants"]
    assert [ctl["variant"], trt["variant"]] == ["control", "one-page"]  # control first
    assert (ctl["exposed"], ctl["converted"]) == (10, 3)  # c3 converts on day 20, c4 only before exposure
    assert (trt["exposed"], trt["converted"]) == (11, 7)  # t0..t5 and the stitched anonymous visitor
    assert res["excluded_multiple_variants"] == 1
    assert any("more than one variant" in w for w in res["warnings"])
    assert ctl["rate"] == pytest.approx(0.3) and trt["rate"] == pytest.approx(7 / 11)


def test_fixed_horizon_figures_match_statsmodels(res):
    trt = res["variants"][1]
    _, p = sm_prop.proportions_ztest([7, 3], [11, 10])
    lo, hi = sm_prop.confint_proportions_2indep(7, 11, 3, 10, method="wald", compare="diff")
    assert trt["uplift"] == pytest.approx(7 / 11 - 0.3)
    assert trt["p_value"] == pytest.approx(p)
    assert (trt["ci_low"], trt["ci_high"]) == (pytest.approx(lo), pytest.approx(hi))
    assert trt["seq_ci_low"] < trt["ci_low"] and trt["seq_ci_high"] > trt["ci_high"]
    assert trt["p_value_holm"] == pytest.approx(p)  # one comparison: Holm changes nothing
    assert 0.5 < trt["chance_to_beat_control"] < 1


def test_revenue_and_nps_per_variant(res):
    ctl, trt = res["variants"]
    assert ctl["revenue_per_visitor"] == pytest.approx((50 + 30 + 20) / 10)  # day-20 and pre-period excluded
    assert trt["revenue_per_visitor"] == pytest.approx((6 * 40 + 25) / 11)
    a = np.array([50, 30, 20] + [0] * 7, float)
    b = np.array([40] * 6 + [25] + [0] * 4, float)
    from scipy import stats as st

    assert trt["revenue_p_value"] == pytest.approx(st.ttest_ind(b, a, equal_var=False).pvalue)
    # NPS: control 10, 3, 8 → (1 − 1)/3 = 0; one-page 10, 9, 6 → (2 − 1)/3 = 33.3
    assert (ctl["nps"], ctl["nps_n"]) == (pytest.approx(0.0), 3)
    assert trt["nps"] == pytest.approx(100 / 3) and trt["nps_diff"] == pytest.approx(100 / 3)


def test_window_changes_what_counts(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        r = ws.experiments.results("checkout-v2", ["purchase"], window_days=30)
    assert r["variants"][0]["converted"] == 4


def test_holm_across_goals_and_variants(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        r = ws.experiments.results("checkout-v2", ["purchase", "nothing-happens"])
    p = r["by_goal"]["purchase"][1]["p_value"]
    assert r["by_goal"]["purchase"][1]["p_value_holm"] == pytest.approx(min(1, 2 * p))  # the smaller of two
    assert r["by_goal"]["nothing-happens"][1]["converted"] == 0


def test_srm_flagged_on_a_skewed_split(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        r = ws.experiments.results("skewed", ["purchase"])
    assert r["srm_flag"] is True and r["srm_p_value"] < 1e-9  # χ² = 40 on 1 df
    assert r["warnings"][0].startswith("sample ratio mismatch")


def test_bad_input_names_the_field(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        with pytest.raises(ParameterError, match="window"):
            ws.experiments.results("checkout-v2", ["purchase"], window_days=0)
        with pytest.raises(ParameterError, match="goals"):
            ws.experiments.results("checkout-v2", [])
        with pytest.raises(NotFoundError, match="no-such"):
            ws.experiments.results("no-such", ["purchase"])


def _run(wspath, *args):
    """The command in this process (typer's runner keeps stdout and stderr apart)."""
    from typer.testing import CliRunner

    from cxlens.cli import app

    return CliRunner().invoke(app, ["-w", str(wspath), *args], catch_exceptions=False)


def _cli(wspath, *args):
    """The command as users run it: a subprocess (errors: one line on stderr, exit 1)."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    return subprocess.run([sys.executable, "-m", "cxlens", "-w", str(wspath), *args], capture_output=True,
                          text=True, env=env, timeout=120)  # fmt: skip


def test_cli_json_is_strict_and_exact_and_warnings_go_to_stderr(wspath, res):
    r = _run(wspath, "experiment", "results", "checkout-v2", "--goal", "purchase", "--format", "json")
    assert r.exit_code == 0, r.stderr
    out = json.loads(r.stdout, parse_constant=lambda c: pytest.fail(f"non-strict JSON constant {c}"))
    assert list(out["variants"][0])[: len(EXACT_KEYS)] == EXACT_KEYS
    assert out["srm_p_value"] == pytest.approx(res["srm_p_value"])
    assert out["variants"][1]["converted"] == 7 and out["variants"][0]["uplift"] is None
    assert "warning: 1 people were exposed to more than one variant" in r.stderr
    skew = _run(wspath, "experiment", "results", "skewed", "--goal", "purchase", "--format", "json")
    assert "sample ratio mismatch" in skew.stderr and json.loads(skew.stdout)["srm_flag"] is True


def test_cli_size_and_errors(wspath):
    r = _run(wspath, "experiment", "size", "--baseline", "0.1", "--mde", "0.02", "--power", "0.8", "--traffic",
             "1000", "--format", "json")  # fmt: skip
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout) | {} == json.loads(r.stdout) and json.loads(r.stdout)["per_variant"] == 3841
    bad = _cli(wspath, "experiment", "results", "checkout-v2", "--goal", "purchase", "--window", "0")
    assert bad.returncode == 1 and "window is 0" in bad.stderr


def test_python_helper_and_cli_create(tmp_path):
    p = tmp_path / "h.duckdb"
    r = _run(p, "experiment", "create", "hero", "--variants", "control,big,small", "--weights", "50,25,25")
    assert r.exit_code == 0, r.stderr
    with cxlens.open(p) as ws:
        got = [ws.experiments.expose("hero", customer_id=f"p{i}", ts=T0) for i in range(60)]
        again = [ws.experiments.expose("hero", customer_id=f"p{i}", ts=T0 + pd.Timedelta(hours=1)) for i in range(60)]
        assert got == again  # sticky: the second exposure of each person repeats the first
        assert got == [ws.experiments.assign("hero", f"p{i}") for i in range(60)]
        r2 = ws.experiments.results("hero", "purchase")
    assert [v["exposed"] for v in r2["variants"]] == [got.count(v) for v in ("control", "big", "small")]
    assert r2["srm_flag"] is False


def test_http_api_and_page(wspath, res):
    from cxlens.web import create_app

    with running(create_app(wspath)) as url:
        r = live.get(f"{url}/api/v1/experiments/checkout-v2/results", params={"goal": "purchase"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert [v["converted"] for v in body["variants"]] == [3, 7]
        assert body["variants"][1]["p_value"] == pytest.approx(res["variants"][1]["p_value"])
        assert live.get(f"{url}/api/v1/experiments/checkout-v2/results", params={"goal": "purchase",
                                                                              "window": 0}).status_code == 422  # fmt: skip
        missing = live.get(f"{url}/api/v1/experiments/nope/results", params={"goal": "purchase"})
        assert missing.status_code == 404 and "nope" in missing.text
        size = live.get(f"{url}/api/v1/experiments/size", params={"baseline": 0.1, "mde": 0.02, "traffic": 1000})
        assert size.json()["per_variant"] == 3841 and size.json()["days"] == 8
        assert live.get(f"{url}/api/v1/experiments/size", params={"baseline": 2, "mde": 0.02}).status_code == 400
        listed = live.get(f"{url}/api/v1/experiments").json()
        assert {x["name"]: x["exposed"] for x in listed}["skewed"] == 1000
        made = live.post(f"{url}/api/v1/experiments", json={"name": "new-exp", "variants": ["control", "x"]})
        assert made.status_code == 200 and made.json()["weights"] == [0.5, 0.5]
        page = live.get(f"{url}/experiments", params={"name": "skewed", "goal": "purchase"})
        assert page.status_code == 200 and "sample ratio mismatch" in page.text
        page2 = live.get(f"{url}/experiments/checkout-v2", params={"goal": "purchase"})
        assert 'data-variant="one-page"' in page2.text and "more than one variant" in page2.text


def test_guardrail_that_gets_worse_is_flagged(wspath):
    with cxlens.open(wspath, read_only=True) as ws:
        r = ws.experiments.results("checkout-v2", ["purchase"], guardrails=["refund"])
    (g,) = r["guardrails"]
    lo, hi = sm_prop.confint_proportions_2indep(5, 11, 0, 10, method="wald", compare="diff")
    assert (g["guardrail"], g["variant"], g["rate"], g["control_rate"]) == ("refund", "one-page", 5 / 11, 0.0)
    assert (g["ci_low"], g["ci_high"]) == (pytest.approx(lo), pytest.approx(hi)) and g["failed"] is True
    assert any(w.startswith("guardrail 'refund' got worse in 'one-page'") for w in r["warnings"])
    assert r["by_goal"]["purchase"][1]["p_value_holm"] == pytest.approx(r["variants"][1]["p_value"])  # not in Holm
    from cxlens.web import create_app

    with running(create_app(wspath)) as url:
        body = live.get(f"{url}/api/v1/experiments/checkout-v2/results",
                         params={"goal": "purchase", "guardrail": "refund"}).json()  # fmt: skip
    assert body["guardrails"][0]["failed"] is True


def test_csat_and_revenue_cuped_per_variant(res):
    from scipy import stats as st

    ctl, trt = res["variants"]
    assert (ctl["csat"], ctl["csat_n"], trt["csat"]) == (pytest.approx(11 / 3), 3, pytest.approx(14 / 3))
    assert trt["csat_p_value"] == pytest.approx(st.ttest_ind([5, 5, 4], [5, 2, 4], equal_var=False).pvalue)
    # CUPED on revenue, by hand: θ from both arms pooled, x = revenue in the 14 days before exposure
    ya = np.array([50, 30, 20] + [0] * 7, float)
    xa = np.array([0, 0, 0, 0, 10] + [0] * 5, float)
    yb = np.array([40] * 6 + [25] + [0] * 4, float)
    xb = np.zeros(11)
    x, y = np.r_[xa, xb], np.r_[ya, yb]
    theta = np.cov(x, y)[0, 1] / x.var(ddof=1)
    assert trt["revenue_cuped_diff"] == pytest.approx((yb.mean() - ya.mean()) - theta * (xb.mean() - xa.mean()))
