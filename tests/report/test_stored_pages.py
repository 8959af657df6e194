"""The stored default views of /paths and /personas: the pages and the personas API answer from what
the ``paths.views`` and ``personas.views`` jobs stored — the same output as computing them — only for
the default view and only while fresh; a change of the data is shown at once."""

from __future__ import annotations

import subprocess
import sys
import time

import pandas as pd
from fastapi.testclient import TestClient

import cxlens
from cxlens.jobs import JobRunner
from cxlens.report.stored_pages import (
    DEFAULT_PATHS,
    default_goal,
    path_frames,
    persona_cards,
    stored_path_frames,
    stored_persona_cards,
)
from cxlens.web import create_app

PAGES = ("/paths", "/partials/paths", "/personas", "/api/v1/personas")


def _forget(ws) -> None:
    with ws.store.transaction(changes=["results"]) as cur:
        cur.execute("DELETE FROM results WHERE name IN ('paths.default', 'personas.cards')")


def _get(client, url: str) -> str:
    r = client.get(url)
    assert r.status_code == 200, (url, r.text[:500])
    return r.text


def test_cli_models_fit_stores_the_default_views_equal_to_computing_them(wpath):
    res = subprocess.run([sys.executable, "-m", "cxlens", "-w", str(wpath), "models", "fit"],
                         capture_output=True, text=True, timeout=600)  # fmt: skip
    assert res.returncode == 0, res.stderr
    with cxlens.open(wpath) as ws:
        q = {**DEFAULT_PATHS, "goal": default_goal(ws.journeys)}
        assert q["goal"] == "purchase"
        stored = stored_path_frames(ws.store, q)
        computed = path_frames(ws.journeys, q)
        assert stored is not None and len(stored["top"]) and len(stored["flows"]) and len(stored["last"])
        for k in ("top", "flows", "last"):
            pd.testing.assert_frame_equal(stored[k], computed[k])
        # another view of the page is not the stored one
        assert stored_path_frames(ws.store, {**q, "steps": 4}) is None
        cards = stored_persona_cards(ws.store)
        assert cards is not None and len(cards) > 3
        pd.testing.assert_frame_equal(cards, persona_cards(ws.store))
        assert any(len(g) for g in cards["goals"]) and cards["quote"].map(lambda v: isinstance(v, dict)).any()
        # the jobs' results are fresh: a runner does not queue them again
        assert not any(j for j in JobRunner(ws, kinds=["paths.views", "personas.views"], poll=0.05).tick())


def test_pages_answer_from_the_stored_views_and_equal_the_computed_ones(wpath):
    with cxlens.open(wpath) as ws:
        ws.refresh(["paths.views", "personas.views"])
        with TestClient(create_app(ws)) as client:
            stored = [_get(client, u) for u in PAGES]
            _forget(ws)
            computed = [_get(client, u) for u in PAGES]
        assert stored == computed
        assert "purchase" in stored[0] and "Champions" in stored[2]
        # and they really come from storage: mark a stored path and a stored persona (no data version changes)
        ws.refresh(["paths.views", "personas.views"])
        with ws.store.transaction() as cur:
            cur.execute("UPDATE results SET meta = replace(meta, '\"Champions\"', '\"STORED MARK\"') "
                        "WHERE name = 'personas.cards'")  # fmt: skip
            cur.execute("UPDATE results SET meta = replace(meta, 'purchase', 'STOREDPATH') "
                        "WHERE name = 'paths.default'")  # fmt: skip
        with TestClient(create_app(ws)) as client:
            assert "STORED MARK" in _get(client, "/personas")
            assert "STORED MARK" in _get(client, "/api/v1/personas")
            # the marked result was stored for the goal "STOREDPATH", not the page's default: not used
            assert "STOREDPATH" not in _get(client, "/paths")
            assert "STOREDPATH" not in _get(client, "/paths?steps=4")


def test_a_change_of_the_data_is_shown_at_once_never_the_stale_view(wpath):
    with cxlens.open(wpath) as ws:
        ws.refresh(["paths.views", "personas.views"])
        cid = ws.scalar("SELECT customer_id FROM customers LIMIT 1")
        ts = ws.scalar("SELECT max(ts) FROM events")
        ws.load("events", pd.DataFrame({"customer_id": [cid] * 3, "ts": [ts] * 3,
                                        "name": ["visit", "brand_new_step", "purchase"]}))  # fmt: skip
        q = {**DEFAULT_PATHS, "goal": "purchase"}
        assert stored_path_frames(ws.store, q) is None  # stale: not used
        assert stored_persona_cards(ws.store) is None
        with TestClient(create_app(ws)) as client:
            shown = [_get(client, u) for u in PAGES]
            _forget(ws)
            computed = [_get(client, u) for u in PAGES]
        assert shown == computed
        assert "brand_new_step" in shown[0]
        # a filtered view never reads the stored default
        ws.refresh(["paths.views"])
        assert stored_path_frames(ws.store, q) is not None
        with TestClient(create_app(ws)) as client:
            filtered = _get(client, "/partials/paths?channel=email")
        assert filtered != _get_default_partial(ws)


def _get_default_partial(ws) -> str:
    with TestClient(create_app(ws)) as client:
        return _get(client, "/partials/paths")


def test_the_personas_job_on_a_workspace_without_orders_is_done_not_retried_until_dead(tmp_path):
    with cxlens.open(tmp_path / "w.duckdb") as ws:  # survey answers only, as `cxlens bench act` makes
        ws.load("feedback", pd.DataFrame({"ts": "2026-01-05", "metric": "nps", "score": [9, 3],
                                          "customer_id": ["a", "b"]}))  # fmt: skip
        runner = JobRunner(ws, kinds=["personas.views"], poll=0.05)
        assert len(runner.tick()) == 1
        runner.start()
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and ws.store.rows(
                "SELECT 1 FROM jobs WHERE kind = 'personas.views' AND status NOT IN ('done', 'dead')"
            ):  # fmt: skip
                time.sleep(0.05)
            assert runner.tick() == []  # the data did not change: not queued again
        finally:
            runner.stop()
        rows = ws.store.rows("SELECT status, attempts, error, result FROM jobs WHERE kind = 'personas.views'")
        assert [(s, a, e) for s, a, e, _ in rows] == [("done", 1, None)]
        assert "no orders" in rows[0][3] and stored_persona_cards(ws.store) is None
        # the API still answers what computing says: there is nothing to group yet
        with TestClient(create_app(ws)) as client:
            r = client.get("/api/v1/personas")
        assert r.status_code == 404 and "no orders" in r.text
