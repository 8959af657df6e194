"""The wall journey map (report/journey_canvas.py): content against independent SQL, the persona
filter, SVG/PNG/PDF exports written by the real CLI in a subprocess, and the HTTP API.

One copy of the sample workspace for the module (the demo business with its stored model scores
and voice analysis, tests/sample_data.py); RFM personas saved into it through the CLI.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
import zlib
from pathlib import Path

import pytest

import cxlens
from cxlens.errors import NotFoundError
from cxlens.report.journey_canvas import journey_canvas, journey_canvas_svg

SRC = str(Path(__file__).resolve().parents[2] / "src")
SVG_NS = "{http://www.w3.org/2000/svg}"


def _cli(ws_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": SRC + os.pathsep + os.environ.get("PYTHONPATH", ""), "COLUMNS": "40"}
    return subprocess.run(
        [sys.executable, "-m", "cxlens", "-w", str(ws_path), *args],
        capture_output=True,  # stdout is a pipe, not a terminal
        text=True,
        env=env,
        timeout=180,
    )


@pytest.fixture(scope="module")
def wpath(sample_path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("canvas") / "shop.duckdb"
    shutil.copy(sample_path, path)
    res = _cli(path, "segments", "rfm", "--save")
    assert res.returncode == 0, res.stderr
    return path


@pytest.fixture(scope="module")
def canvas(wpath):
    with cxlens.open(wpath, read_only=True) as ws:
        return journey_canvas(ws), [s.label for s in ws.journey.stages], ws.journey.stage_ids


def _sql(wpath: Path, query: str, params=None):
    with cxlens.open(wpath, read_only=True) as ws:
        return ws.sql(query, params)


def test_stages_in_journey_order_with_independent_counts(canvas, wpath):
    c, labels, ids = canvas
    assert c.stage_names() == labels
    # customers per stage and drop-off to the next stage, computed here in plain SQL
    q = """
    WITH ev AS (SELECT coalesce(customer_id, anonymous_id) AS cid, stage, ts FROM events
                WHERE coalesce(customer_id, anonymous_id) IS NOT NULL),
         first AS (SELECT cid, stage, min(ts) AS t0 FROM ev GROUP BY cid, stage)
    SELECT f.stage, count(*) AS customers,
           count(*) FILTER (WHERE EXISTS (SELECT 1 FROM ev e WHERE e.cid = f.cid AND e.stage = ? AND e.ts > f.t0)) AS moved
    FROM first f WHERE f.stage = ? GROUP BY f.stage
    """
    for i, st in enumerate(c.stages):
        nxt = ids[i + 1] if i + 1 < len(ids) else None
        got = _sql(wpath, q, [nxt or "", st["id"]])
        customers = int(got["customers"].iloc[0]) if len(got) else 0
        assert st["customers"] == customers, st["id"]
        if nxt is None or customers == 0:
            assert st["drop_off"] is None
        else:
            assert st["drop_off"] == pytest.approx(100 - 100 * int(got["moved"].iloc[0]) / customers)


def test_emotion_scores_match_sql(canvas, wpath):
    c, _, _ = canvas
    nps = _sql(
        wpath,
        """SELECT stage, count(*) AS n, 100.0 * (count(*) FILTER (WHERE score >= 9) - count(*) FILTER (WHERE score <= 6))
           / count(*) AS nps FROM feedback WHERE lower(metric) = 'nps' AND score IS NOT NULL AND stage IS NOT NULL
           GROUP BY stage""",
    ).set_index("stage")
    seen = 0
    for st in c.stages:
        if st["id"] in nps.index:
            assert st["nps"]["n"] == int(nps.loc[st["id"], "n"])
            assert st["nps"]["value"] == pytest.approx(float(nps.loc[st["id"], "nps"]))
            assert st["nps"]["low"] < st["nps"]["value"] < st["nps"]["high"]
            seen += 1
        else:
            assert st["nps"] is None
    assert seen >= 2
    # sentiment: a mean in [-1, 1] with an interval around it and its n, where the stage has text
    with_text = [s for s in c.stages if s["sentiment"]]
    assert len(with_text) >= 3
    for s in with_text:
        se = s["sentiment"]
        assert -1 <= se["low"] <= se["value"] <= se["high"] <= 1 and se["n"] >= 2


def test_pains_quotes_risk_and_opportunities(canvas):
    c, _, _ = canvas
    service = next(s for s in c.stages if s["id"] == "service")
    assert service["pains"] and all(p["name"] and p["negative"] > 0 for p in service["pains"])
    negs = [p["negative"] for p in service["pains"]]
    assert negs == sorted(negs, reverse=True)
    assert service["quote"] and service["quote"]["sentiment"] < 0  # the top pain's typical verbatim
    assert "@" not in service["quote"]["text"]
    # stored model scores: revenue at risk with a bootstrap interval around it
    risky = [s for s in c.stages if s["risk"]]
    assert risky
    for s in risky:
        r = s["risk"]
        assert r["low"] <= r["value"] <= r["high"] and r["customers"] >= r["scored"] > 0
    # opportunities: significant, positive gaps, ranked by impact = base · gap / 100
    assert c.opportunities
    impacts = [o["impact"] for o in c.opportunities]
    assert impacts == sorted(impacts, reverse=True)
    for o in c.opportunities:
        assert o["value"] > o["benchmark"] and o["p_value"] < 0.05
        assert o["impact"] == pytest.approx(o["base"] * (o["value"] - o["benchmark"]) / 100)


def test_persona_filter_restricts_to_members(wpath, canvas):
    with cxlens.open(wpath, read_only=True) as ws:
        champions = journey_canvas(ws, persona="Champions")
        with pytest.raises(NotFoundError, match="persona 'Nobody'.*Champions"):
            journey_canvas(ws, persona="Nobody")
    members = _sql(
        wpath,
        """SELECT e.stage, count(DISTINCT e.customer_id) AS n FROM events e
           JOIN segments s ON s.customer_id = e.customer_id AND s.segment = 'rfm:Champions' GROUP BY e.stage""",
    ).set_index("stage")["n"]
    assert champions.scope == "persona Champions"
    for st in champions.stages:
        assert st["customers"] == int(members.get(st["id"], 0))
    assert sum(s["customers"] for s in champions.stages) < sum(s["customers"] for s in canvas[0].stages)


def _pdf_text_and_pages(data: bytes) -> tuple[str, int]:
    import io

    pypdf = pytest.importorskip("pypdf")
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(p.extract_text() for p in reader.pages), len(reader.pages)


def _png_chunks(data: bytes) -> dict[bytes, list[bytes]]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    out: dict[bytes, list[bytes]] = {}
    i = 8
    while i < len(data):
        (n,) = struct.unpack(">I", data[i : i + 4])
        kind, body = data[i + 4 : i + 8], data[i + 8 : i + 8 + n]
        (crc,) = struct.unpack(">I", data[i + 8 + n : i + 12 + n])
        assert zlib.crc32(kind + body) & 0xFFFFFFFF == crc, kind
        out.setdefault(kind, []).append(body)
        i += 12 + n
    return out


def test_cli_exports_valid_png_svg_pdf_with_the_stage_names(wpath, canvas, tmp_path):
    _, labels, _ = canvas
    files = {}
    for kind in ("svg", "png", "pdf"):
        if kind == "svg":  # the SVG the PNG and PDF are rendered from, without a third process
            with cxlens.open(wpath, read_only=True) as ws:
                files[kind] = journey_canvas_svg(journey_canvas(ws, persona="Champions")).encode()
            continue
        target = tmp_path / f"map.{kind}"
        res = _cli(wpath, "journey", "map", "--out", str(target), "--persona", "Champions")
        assert res.returncode == 0, res.stderr
        assert f"journey map written to {target}" in " ".join(res.stderr.split())
        files[kind] = target.read_bytes()
    # SVG: well-formed XML whose text elements hold every stage name
    root = ET.fromstring(files["svg"])
    assert root.tag == SVG_NS + "svg"
    width, height = float(root.get("width")), float(root.get("height"))
    texts = [t.text for t in root.iter(SVG_NS + "text")]
    assert all(label in texts for label in labels)
    assert "persona Champions" in texts
    # PNG: signature, CRC-checked chunks, IHDR size = 2 × the SVG, the stage names in its iTXt description
    chunks = _png_chunks(files["png"])
    w, h = struct.unpack(">II", chunks[b"IHDR"][0][:8])
    assert (w, h) == (round(2 * width), round(2 * height))
    assert b"IEND" in chunks and len(chunks[b"IDAT"]) >= 1
    meta = b"".join(chunks.get(b"iTXt", [])).decode("utf-8")
    assert all(label in meta for label in labels)
    # PDF: header, one page, the stage names in its text
    assert files["pdf"][:5] == b"%PDF-"
    text, pages = _pdf_text_and_pages(files["pdf"])
    assert pages == 1
    flat = " ".join(text.split())
    assert all(label in flat for label in labels)
    # a wrong suffix is a clear error, nothing written
    res = _cli(wpath, "journey", "map", "--out", str(tmp_path / "map.gif"))
    assert res.returncode == 1 and "unknown file type '.gif'" in res.stderr
    assert not (tmp_path / "map.gif").exists()


def test_svg_escapes_text(canvas):
    c, _, _ = canvas
    c.scope = '<script>alert(1)</script> & "x"'
    svg = journey_canvas_svg(c)
    assert "<script>" not in svg
    root = ET.fromstring(svg)
    assert c.scope in [t.text for t in root.iter(SVG_NS + "text")]


def test_api_canvas_json_and_files(wpath, canvas):
    from fastapi.testclient import TestClient

    from cxlens.web import create_app

    _, labels, _ = canvas
    with cxlens.open(wpath) as ws:
        client = TestClient(create_app(ws))
        body = client.get("/api/v1/journeys/canvas", params={"persona": "Champions"}).json()
        assert [s["label"] for s in body["stages"]] == labels and body["params"]["persona"] == "Champions"
        assert body["opportunities"] is not None
        r = client.get("/api/v1/journeys/canvas.pdf")
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf" and r.content[:5] == b"%PDF-"
        assert 'filename="journey-map.pdf"' in r.headers["content-disposition"]
        r = client.get("/api/v1/journeys/canvas.svg", params={"persona": "Champions"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("image/svg+xml")
        assert [t.text for t in ET.fromstring(r.content).iter(SVG_NS + "text")][1] == "persona Champions"
        bad = client.get("/api/v1/journeys/canvas", params={"persona": "Nobody"})
        assert bad.status_code == 404 and "Nobody" in bad.json()["error"]["message"]
        both = client.get("/api/v1/journeys/canvas", params={"persona": "Champions", "saved_segment": "rfm:Lost"})
        assert both.status_code in (400, 422) and both.json()["error"]["param"] == "persona"
        assert client.get("/api/v1/journeys/canvas.gif").status_code == 422
        # the dashboard page shows the map inline and links its downloads
        page = client.get("/journey").text
        assert 'id="journey-canvas"' in page and "/journey/map.png" in page
        assert 'hx-get="/partials/journey/canvas"' in page  # drawn after the page's tables
        inline = client.get("/partials/journey/canvas").text
        assert inline.startswith('<div role="img" aria-label="Journey map with stages ') and "<svg" in inline
        png = client.get("/journey/map.png")
        assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"


def test_journey_page_persona_menu_restricts_tables_and_map(wpath):
    import re

    from fastapi.testclient import TestClient

    from cxlens.web import create_app

    with cxlens.open(wpath) as ws:
        client = TestClient(create_app(ws))
        page = client.get("/journey").text
        menu = page.split('name="persona"')[1].split("</select>")[0]
        assert '<option value="">All customers</option>' in menu and '<option value="Champions">' in menu
        part = client.get("/partials/journey", params={"persona": "Champions"})
        assert part.status_code == 200 and "persona=Champions" in part.headers["HX-Replace-Url"]
        assert 'hx-get="/partials/journey/canvas?persona=Champions"' in part.text
        assert "/journey/map.png?persona=Champions" in part.text
        # the tables are the persona's: the same as the saved segment rfm:Champions, not everyone's
        seg = client.get("/partials/journey", params={"saved_segment": "rfm:Champions"}).text
        everyone = client.get("/partials/journey").text

        def pains(text):
            return re.findall(r'<td class="num" data-field="pain">([^<]*)</td>', text)

        assert pains(part.text) == pains(seg) and pains(part.text) != pains(everyone)
        inline = client.get("/partials/journey/canvas", params={"persona": "Champions"}).text
        assert "persona Champions" in inline
        svg = client.get("/journey/map.svg", params={"persona": "Champions"})
        assert svg.status_code == 200 and b"persona Champions" in svg.content
        bad = client.get("/partials/journey", params={"persona": "Nobody"}).text
        assert 'data-param="persona"' in bad or "Nobody" in bad
        both = client.get("/partials/journey", params={"persona": "Champions", "saved_segment": "rfm:Lost"}).text
        assert "not both" in both
