"""The stored journey views: the /journey page and its wall map answer from what the ``journey.views``
job stored — the same bytes as computing them — and compute again as soon as the data changes."""

from __future__ import annotations

import subprocess
import sys

import pandas as pd
from fastapi.testclient import TestClient

import cxlens
from cxlens.jobs import JobRunner, load_result
from cxlens.journeys.maps import channel_consistency, journey_map
from cxlens.report.journey_canvas import journey_canvas, journey_canvas_svg
from cxlens.report.stored_views import stored_canvas, stored_map
from cxlens.web import create_app


def _forget(ws) -> None:
    """Delete the stored views (the next request computes them)."""
    with ws.store.transaction(changes=["results"]) as cur:
        cur.execute("DELETE FROM results WHERE name LIKE 'journey.%'")


def test_cli_models_fit_stores_views_equal_to_computing_them(wpath):
    res = subprocess.run([sys.executable, "-m", "cxlens", "-w", str(wpath), "models", "fit"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr
    with cxlens.open(wpath) as ws:
        canvas = stored_canvas(ws.store)
        assert canvas is not None and canvas.stages
        assert journey_canvas_svg(canvas) == journey_canvas_svg(journey_canvas(ws.store))
        frame, at_risk, consistency = stored_map(ws.store)
        pd.testing.assert_frame_equal(frame, journey_map(ws.store))
        pd.testing.assert_frame_equal(consistency, channel_consistency(ws.store))
        assert at_risk and all("(" in v for v in at_risk.values())
        # the job's result is fresh: a runner does not queue it again
        assert not any(j for j in JobRunner(ws, kinds=["journey.views"], poll=0.05).tick())


def test_pages_answer_from_the_stored_views_and_equal_the_computed_ones(wpath):
    with cxlens.open(wpath) as ws:
        ws.refresh(["journey.views"])
        assert load_result(ws, "journey.canvas") is not None
        with TestClient(create_app(ws)) as client:
            stored = [client.get(u).text for u in ("/partials/journey", "/partials/journey/canvas")]
            _forget(ws)
            computed = [client.get(u).text for u in ("/partials/journey", "/partials/journey/canvas")]
        assert stored == computed
        assert "<svg" in stored[1] and "<table" in stored[0]
        # and they really come from storage: mark the stored canvas (without changing any data version)
        ws.refresh(["journey.views"])
        with ws.store.transaction() as cur:
            cur.execute("UPDATE results SET meta = replace(meta, 'Customer journey map', 'STORED MARK') "
                        "WHERE name = 'journey.canvas'")  # fmt: skip
        with TestClient(create_app(ws)) as client:
            assert "STORED MARK" in client.get("/partials/journey/canvas").text


def test_a_change_of_the_data_is_shown_at_once_never_the_stale_view(wpath):
    with cxlens.open(wpath) as ws:
        ws.refresh(["journey.views"])
        before = journey_map(ws.store)
        tp = str(before.loc[before["survey_n"] > 0, "touchpoint"].iloc[0])
        n = int(before.loc[before["touchpoint"] == tp, "survey_n"].sum())
        cid = ws.scalar("SELECT customer_id FROM customers LIMIT 1")
        ts = ws.scalar("SELECT max(ts) FROM feedback")
        row = {"customer_id": [cid], "ts": [ts], "metric": ["nps"], "score": [0], "touchpoint": [tp]}
        ws.load("feedback", pd.DataFrame(row))
        assert stored_canvas(ws.store) is None and stored_map(ws.store) is None  # stale: not used
        with TestClient(create_app(ws)) as client:
            shown = [client.get(u).text for u in ("/partials/journey", "/partials/journey/canvas")]
            _forget(ws)
            computed = [client.get(u).text for u in ("/partials/journey", "/partials/journey/canvas")]
            body = client.get("/api/v1/journeys/map").json()
        assert shown == computed
        after = sum(r["survey_n"] for r in body["rows"] if r["touchpoint"] == tp)
        assert after == n + 1
        # the default canvas of the facade computes as well, and equals the function's
        assert journey_canvas_svg(ws.journeys.canvas()) == journey_canvas_svg(journey_canvas(ws.store))


def test_another_jobs_result_does_not_make_the_views_stale_but_one_they_read_does(wpath):
    """Every server start runs ``act.scores``, which saves a result of its own: the journey views must
    stay fresh (a cold /journey recomputed them), while a new revenue-at-risk result they show must not."""
    with cxlens.open(wpath) as ws:
        ws.refresh()
        assert stored_canvas(ws.store) is not None
        ws.refresh(["act.scores"])
        assert load_result(ws, "act.scores") is not None
        assert stored_canvas(ws.store) is not None and stored_map(ws.store) is not None
        ws.refresh(["risk.revenue"])
        assert stored_canvas(ws.store) is None and stored_map(ws.store) is None
