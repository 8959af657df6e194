"""Interview quotes on the journey map, beside the survey and ticket quote: the customer turn of an
imported interview that the voice themes job put in a stage's pain theme — library, SVG, HTTP API.

Oracle: the turn written into the transcript here (redacted of its e-mail address by hand).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import cxlens
from cxlens.report.journey_canvas import journey_canvas, journey_canvas_svg

SVG_NS = "{http://www.w3.org/2000/svg}"
SAID = "The refund took three weeks and nobody answered my emails at ann.lee@example.com, I nearly left."


def test_interview_quote_beside_the_stage_quote(wpath, tmp_path):
    d = tmp_path / "iv"
    d.mkdir()
    (d / "ann.txt").write_text(f"Interviewer: How did the return go?\nAnn Lee: {SAID}\n", encoding="utf-8")
    with cxlens.open(wpath) as ws:
        before = journey_canvas(ws)
        assert all(s["interview_quote"] is None for s in before.stages)  # no interviews yet
        stage = next(s for s in before.stages if s["pains"])
        theme = stage["pains"][0]["theme"]
        ws.interviews.import_dir(d)
        turn = ws.sql("SELECT turn_id FROM interview_turns WHERE role = 'customer'")["turn_id"].iloc[0]
        with ws.transaction(changes=["verbatim_themes"]) as cur:  # what the voice themes job stores
            cur.execute(
                "INSERT OR REPLACE INTO verbatim_themes VALUES (?, ?, NULL, 'test')", [f"interview:{turn}", theme]
            )
        c = journey_canvas(ws)
        got = next(s for s in c.stages if s["id"] == stage["id"])
        iq = got["interview_quote"]
        assert iq["theme"] == theme and iq["name"] == stage["pains"][0]["name"]
        assert iq["text"].startswith("The refund took three weeks") and "ann.lee@example.com" not in iq["text"]
        assert got["quote"] == stage["quote"]  # the survey/ticket quote stays
        # stages whose pains do not include that theme get none
        for s in c.stages:
            if theme not in {p["theme"] for p in s["pains"]}:
                assert s["interview_quote"] is None
        texts = [t.text or "" for t in ET.fromstring(journey_canvas_svg(c)).iter(SVG_NS + "text")]
        assert any(t.startswith("Interview: “The refund took") for t in texts)

        from fastapi.testclient import TestClient

        from cxlens.web import create_app

        client = TestClient(create_app(ws))
        body = client.get("/api/v1/journeys/canvas").json()
        api = next(s for s in body["stages"] if s["id"] == stage["id"])
        assert api["interview_quote"]["text"] == iq["text"]
        svg = client.get("/api/v1/journeys/canvas.svg")
        assert svg.status_code == 200 and "Interview: “The refund took" in svg.text
