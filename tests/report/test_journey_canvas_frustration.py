"""Frustration per touchpoint on the wall journey map: the canvas, its SVG and the HTTP API against
plain SQL on a small demo with behaviour data (the generator plants a dead ``#pay-later`` button on
the checkout page)."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

import cxlens
from cxlens.ingest.simulate import write_demo
from cxlens.report.journey_canvas import journey_canvas, journey_canvas_svg

SVG_NS = "{http://www.w3.org/2000/svg}"


@pytest.fixture(scope="module")
def wpath(tmp_path_factory):
    path = tmp_path_factory.mktemp("canvas-frustration") / "demo.duckdb"
    with cxlens.open(path) as ws:
        write_demo(ws, 400, seed=5, behaviour=True)
        ws.behaviour.frustration(by="touchpoint")  # sync the typed behaviour table while writable
    return path


@pytest.fixture(scope="module")
def canvas(wpath):
    with cxlens.open(wpath, read_only=True) as ws:
        return journey_canvas(ws)


def _sql_signals(wpath) -> dict[str, tuple[int, int, int]]:
    """touchpoint → (page views, rage clicks, dead clicks), straight from the events table."""
    with cxlens.open(wpath, read_only=True) as ws:
        df = ws.sql(
            """SELECT touchpoint,
                      count(*) FILTER (WHERE type = 'page' AND session_id IS NOT NULL) AS pv,
                      count(*) FILTER (WHERE name = '$rageclick') AS rage,
                      count(*) FILTER (WHERE name = '$deadclick') AS dead
               FROM events WHERE touchpoint IS NOT NULL GROUP BY touchpoint"""
        )
    return {r.touchpoint: (int(r.pv), int(r.rage), int(r.dead)) for r in df.itertuples(index=False)}


def _touchpoints(stages):
    return {t["id"]: t for s in stages for t in s["touchpoints"]}


def test_frustration_per_touchpoint_matches_sql_and_finds_the_dead_button(canvas, wpath):
    expected = _sql_signals(wpath)
    tps = _touchpoints(canvas.stages)
    with_fr = {k: t["frustration"] for k, t in tps.items() if t["frustration"]}
    assert "checkout" in with_fr and len(with_fr) >= 3
    for tp, fr in with_fr.items():
        pv, rage, dead = expected[tp]
        assert (fr["pageviews"], fr["rage_clicks"], fr["dead_clicks"]) == (pv, rage, dead), tp
        assert fr["rage_dead_rate"] == pytest.approx(100 * (rage + dead) / pv)
        assert 0 <= fr["frustrated_ci_low"] <= fr["frustrated_share"] <= fr["frustrated_ci_high"] <= 1
    # touchpoints with page views but no signals: rate 0, not missing
    assert any(fr["rage_dead_rate"] == 0 for fr in with_fr.values()) or all(v[1] + v[2] for v in expected.values())
    worst = max(with_fr, key=lambda k: with_fr[k]["rage_dead_rate"])
    assert worst == "checkout"  # the planted dead "Pay later" button
    with cxlens.open(wpath, read_only=True) as ws:
        scores = ws.behaviour.frustration(by="touchpoint").set_index("touchpoint")["frustration_score"]
    for tp, fr in with_fr.items():
        assert fr["score"] == pytest.approx(float(scores[tp]))


def test_svg_shows_the_frustration_line_and_none_without_behaviour(canvas):
    svg = journey_canvas_svg(canvas)
    texts = [t.text or "" for t in ET.fromstring(svg).iter(SVG_NS + "text")]
    fr = _touchpoints(canvas.stages)["checkout"]["frustration"]
    line = f"rage+dead {fr['rage_dead_rate']:.1f}/100 views (n={fr['pageviews']:,})"
    assert any(line in t for t in texts)
    for s in canvas.stages:  # the same canvas without behaviour data: no frustration line
        for t in s["touchpoints"]:
            t["frustration"] = None
    plain = journey_canvas_svg(canvas)
    assert "rage+dead" not in plain and "frustration" not in plain


def test_api_canvas_carries_frustration(wpath):
    from fastapi.testclient import TestClient

    from cxlens.web import create_app

    expected = _sql_signals(wpath)
    with cxlens.open(wpath) as ws:
        client = TestClient(create_app(ws))
        body = client.get("/api/v1/journeys/canvas").json()
        fr = _touchpoints(body["stages"])["checkout"]["frustration"]
        assert (fr["pageviews"], fr["rage_clicks"], fr["dead_clicks"]) == expected["checkout"]
        svg = client.get("/api/v1/journeys/canvas.svg")
        assert svg.status_code == 200 and b"rage+dead" in svg.content
        inline = client.get("/partials/journey/canvas").text  # the /journey page's wall map
        assert "rage+dead" in inline


def test_frustration_follows_the_saved_segment_filter(wpath):
    """A saved segment restricts the frustration column to its members' page views and signals (plain SQL)."""
    from fastapi.testclient import TestClient

    from cxlens.store.segments import save_segment
    from cxlens.web import create_app

    everyone = _sql_signals(wpath)
    with cxlens.open(wpath) as ws:
        # members: every second customer who dead-clicked (so checkout keeps signals), and a slice of the rest
        dead = ws.sql("SELECT DISTINCT customer_id FROM events WHERE name = '$deadclick' AND customer_id IS NOT NULL "
                      "ORDER BY 1")["customer_id"].tolist()  # fmt: skip
        others = ws.sql("SELECT DISTINCT customer_id FROM events WHERE type = 'page' AND customer_id IS NOT NULL "
                        "ORDER BY 1")["customer_id"].tolist()  # fmt: skip
        members = sorted(set(dead[::2]) | set(others[::3]))
        save_segment(ws.store, "canvas-members", members)
        ids = ", ".join(f"'{m}'" for m in members)
        df = ws.sql(
            f"""SELECT touchpoint,
                       count(*) FILTER (WHERE type = 'page' AND session_id IS NOT NULL) AS pv,
                       count(*) FILTER (WHERE name = '$rageclick') AS rage,
                       count(*) FILTER (WHERE name = '$deadclick') AS dead,
                       count(*) FILTER (WHERE name = '$errorclick') AS err
                FROM events WHERE touchpoint IS NOT NULL AND customer_id IN ({ids}) GROUP BY touchpoint"""
        )
        expected = {r.touchpoint: (int(r.pv), int(r.rage), int(r.dead), int(r.err)) for r in df.itertuples()}
        canvas = journey_canvas(ws, segment="canvas-members")
        got = {k: t["frustration"] for k, t in _touchpoints(canvas.stages).items() if t["frustration"]}
        assert "checkout" in got and len(got) >= 3
        for tp, fr in got.items():
            assert (fr["pageviews"], fr["rage_clicks"], fr["dead_clicks"], fr["error_clicks"]) == expected[tp], tp
        assert got["checkout"]["pageviews"] < everyone["checkout"][0]  # filtered, not everyone's
        assert not any("frustration" in n for n in canvas.notes)  # no "not filtered" note any more
        body = TestClient(create_app(ws)).get("/api/v1/journeys/canvas", params={"saved_segment": "canvas-members"})
        assert body.status_code == 200, body.text
        fr = _touchpoints(body.json()["stages"])["checkout"]["frustration"]
        assert (fr["pageviews"], fr["rage_clicks"], fr["dead_clicks"], fr["error_clicks"]) == expected["checkout"]
