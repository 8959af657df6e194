"""The demo generator's planted friction is what ws.behaviour finds (and the rest of the demo is unchanged)."""

from __future__ import annotations

import pytest

import cxlens
from cxlens.ingest.simulate import simulate, write_demo


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    path = tmp_path_factory.mktemp("demo") / "demo.duckdb"
    with cxlens.open(path) as ws:
        write_demo(ws, 1500, seed=5, behaviour=True)
    return path


def test_behaviour_leaves_the_other_tables_unchanged():
    plain, with_b = simulate(300, seed=2), simulate(300, seed=2, behaviour=True)
    for name in ("customers", "feedback", "orders", "order_items", "tickets", "reviews"):
        assert plain.frames[name].equals(with_b.frames[name]), name
    assert len(with_b.events) > len(plain.events) and "behaviour" in with_b.truth
    assert "behaviour" not in plain.truth


def test_the_planted_dead_button_and_error_form_are_recovered(demo):
    truth = simulate(10, seed=5, behaviour=True).truth["behaviour"]
    dead, error = truth["dead_button"], truth["error_button"]
    with cxlens.open(demo, read_only=True) as ws:
        by_sel = ws.behaviour.frustration(by="selector", min_pageviews=30)
        by_tp = ws.behaviour.frustration(by="touchpoint")
        heat = ws.behaviour.clickmap(dead["url"], kind="deadclick")
    worst = by_sel.iloc[0]
    assert (worst.url, worst.selector) == (dead["url"], dead["selector"])
    # about try_p of checkout views try it (dead), rage_p of those rage-click
    share = worst.dead_clicks / worst.pageviews
    assert abs(share - dead["try_p"]) < 4 * (dead["try_p"] * (1 - dead["try_p"]) / worst.pageviews) ** 0.5
    assert worst.rage_clicks / worst.dead_clicks == pytest.approx(dead["rage_p"], abs=0.12)
    top_error = by_sel.sort_values("error_clicks", ascending=False).iloc[0]
    assert (top_error.url, top_error.selector) == (error["url"], error["selector"])
    assert list(by_tp["touchpoint"][:2]) == ["checkout", "cart"]
    assert heat.iloc[0]["selector"] == dead["selector"]


def test_frustration_score_ranks_sessions_that_met_the_planted_friction(demo):
    """Calibration: sessions whose visitor clicked the dead button or got the coupon error (known from the
    simulation) against all other sessions with a page view; the session score should rank them first."""
    from sklearn.metrics import roc_auc_score

    with cxlens.open(demo, read_only=True) as ws:
        scores = ws.behaviour.sessions(limit=100_000)
        hit = set(
            ws.sql(
                """SELECT DISTINCT session_id FROM events
                   WHERE (name = '$click' AND properties LIKE '%"#pay-later"%')
                      OR (name = '$errorclick' AND properties LIKE '%"#apply-coupon"%')"""
            )["session_id"]
        )
    y = scores["session_id"].isin(hit)
    auc = roc_auc_score(y, scores["frustration_score"])
    # measured 0.975 on this demo (seed 5, 1,500 customers, 4,334 sessions, 331 planted): image dead clicks keep it < 1
    assert 0.9 < auc < 1.0, auc
    top = scores.head(int(y.sum()))
    # precision at k = number of planted sessions: measured 0.70 (ties at score 2 with image dead clicks)
    assert top["session_id"].isin(hit).mean() > 0.6
