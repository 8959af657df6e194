"""Revenue at risk on demo data: the generator's planted friction (``demo_truth``) ranks at the top."""

from __future__ import annotations

import json

import pytest

import cxlens
from cxlens.customers.risk import model_inputs, workspace_revenue_at_risk
from cxlens.ingest import write_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    w = cxlens.open(tmp_path_factory.mktemp("risk") / "demo.duckdb")
    write_demo(w, "small", seed=1)
    yield w
    w.close()


def _truth(ws, key):
    return json.loads(ws.scalar("SELECT value FROM demo_truth WHERE key = ?", [key]))


def test_planted_friction_touchpoints_rank_at_the_top(demo):
    friction = [f["touchpoint"] for f in _truth(demo, "friction_touchpoints")]
    assert friction == ["checkout", "delivery"]
    got = workspace_revenue_at_risk(demo, "touchpoint")
    assert got["touchpoint"].iloc[0] == "delivery"
    assert set(friction) <= set(got["touchpoint"].head(3))
    # delivery's interval lies above every touchpoint outside the top three
    assert got["ci_low"].iloc[0] > got["revenue_at_risk"].iloc[3:].max()
    # the top row again, from SQL over feedback and the model frames joined in pandas
    clv, risk = model_inputs(demo)
    ids = demo.sql(
        "SELECT DISTINCT customer_id FROM feedback WHERE touchpoint = 'delivery' AND customer_id IS NOT NULL "
        "AND ((metric = 'nps' AND score <= 6) OR (metric = 'csat' AND score <= 3) OR (metric = 'ces' AND score <= 4))"
    )["customer_id"]
    v = ids.map(clv.set_index("customer_id")["clv"]) * ids.map(risk.set_index("customer_id")["churn_risk"])
    assert got["customers"].iloc[0] == len(ids)
    assert got["revenue_at_risk"].iloc[0] == pytest.approx(v.sum())


def test_planted_delivery_theme_ranks_first(demo):
    assert "delivery_delay" in _truth(demo, "themes")
    got = workspace_revenue_at_risk(demo)  # auto: the demo answers carry themes
    assert got.columns[0] == "theme"
    assert got["theme"].iloc[0] == "delivery_delay"
