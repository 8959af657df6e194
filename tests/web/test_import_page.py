"""The Import page: upload, map columns from a preview (or pick a preset), dry-run, confirm — driven in
Chromium with Playwright against a real uvicorn server; roles and CSRF through the test client."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from tests.conftest import new_page, running

import cxlens
from cxlens.access import users
from cxlens.web import create_app
from cxlens.web.deps import CSRF_COOKIE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "vendors"
PW = "correct horse battery"
CSV = (
    "Response ID,Submitted,Rating,Why?\n"
    "a1,2024-05-01 10:00,10,<script>alert('x')</script>\n"
    "a2,2024-05-01 11:00,9,fast\n"
    'a3,2024-05-02 09:30,3,"slow, and late"\n'
    "a4,2024-05-03 17:45,7,\n"
)


@pytest.fixture()
def site(tmp_path, browser):
    ws = cxlens.open(tmp_path / "ws.duckdb")
    with running(create_app(ws)) as url:
        yield url, ws, tmp_path
    ws.close()


def test_upload_map_dry_run_confirm_in_chromium(site, browser):
    url, ws, tmp = site
    f = tmp / "answers.csv"
    f.write_text(CSV)
    pg = new_page(browser)
    pg.goto(url + "/import")
    assert pg.locator("[data-nav=import]").count() == 1
    pg.set_input_files("#file", str(f))
    pg.select_option("#kind", "feedback")
    pg.click("#upload-button")
    pg.wait_for_selector("#raw-table")
    assert pg.locator("#raw-table tbody tr").count() == 4
    pg.select_option("select[name=map_feedback_id]", "Response ID")
    pg.select_option("select[name=map_ts]", "Submitted")
    pg.select_option("select[name=map_score]", "Rating")
    pg.select_option("select[name=map_comment]", "Why?")
    pg.fill("#set", "metric=nps")
    pg.click("#dry-run-button")
    pg.wait_for_selector(".report .summary")
    summary = pg.locator(".report .summary").inner_text()
    assert "4 rows would be added" in summary and pg.locator("#problems").count() == 0
    assert ws.counts()["feedback"] == 0  # a dry run writes nothing
    assert pg.locator(".stored-preview tbody tr").count() == 4
    pg.click("#confirm-button")
    pg.wait_for_selector("#another")
    assert "4 rows added" in pg.locator(".report .summary").inner_text()
    frame = pd.read_csv(f)
    expected = 100 * ((frame.Rating >= 9).mean() - (frame.Rating <= 6).mean())
    assert abs(float(ws.metrics.nps()["nps"].iloc[0]) - expected) < 1e-9
    assert (
        ws.sql("SELECT comment FROM feedback WHERE feedback_id = 'a1'")["comment"][0] == "<script>alert('x')</script>"
    )
    assert pg.errors == []  # the comment was shown escaped, never run
    pg.close()


def test_dry_run_shows_problems_and_offers_no_import(site, browser):
    url, ws, tmp = site
    f = tmp / "bad.csv"
    f.write_text("feedback_id,ts,metric,score\nb1,2024-05-01,nps,9\nb2,yesterday,nps,11\n")
    pg = new_page(browser)
    pg.goto(url + "/import")
    pg.set_input_files("#file", str(f))
    pg.select_option("#kind", "feedback")
    pg.click("#upload-button")
    pg.wait_for_selector("#map-table")
    assert pg.locator("select[name=map_score]").input_value() == "score"  # names that match are mapped
    pg.click("#dry-run-button")
    pg.wait_for_selector("#problems")
    problems = pg.locator("#problems li").all_inner_texts()
    assert any("row 2 is 'yesterday'" in p for p in problems) and any("'11'" in p for p in problems)
    assert pg.locator("#confirm-button").count() == 0
    assert ws.counts()["feedback"] == 0
    pg.close()


def test_preset_upload_in_chromium(site, browser):
    url, ws, _ = site
    pg = new_page(browser)
    pg.goto(url + "/import")
    pg.set_input_files("#file", str(FIX / "qualtrics" / "nps.csv"))
    pg.select_option("#kind", "qualtrics")
    pg.click("#upload-button")
    pg.wait_for_selector("#dry-run-button")
    pg.click("#dry-run-button")
    pg.wait_for_selector("#confirm-button")
    pg.click("#confirm-button")
    pg.wait_for_selector("#another")
    raw = pd.read_csv(FIX / "qualtrics" / "nps.csv", skiprows=[1, 2])
    done = raw[raw["Finished"] == 1]["Q1"]
    expected = 100 * ((done >= 9).mean() - (done <= 6).mean())
    assert abs(float(ws.metrics.nps()["nps"].iloc[0]) - expected) < 1e-9
    pg.close()


def test_roles_csrf_and_upload_tokens(tmp_path):
    ws = cxlens.open(tmp_path / "ws.duckdb")
    for role in ("admin", "analyst", "agent"):
        users.create_user(ws, f"{role}@shop.example", PW, role=role)
    app = create_app(ws)

    def client(role: str) -> TestClient:
        c = TestClient(app)
        c.get("/login")
        c.post(
            "/login", data={"email": f"{role}@shop.example", "password": PW, "csrf_token": c.cookies.get(CSRF_COOKIE)}
        )
        return c

    assert client("agent").get("/import").status_code == 403
    analyst = client("analyst")
    assert analyst.get("/import").status_code == 200
    files = {"file": ("../x.csv", "feedback_id,ts,metric,score\nz1,2024-05-01,nps,9\n", "text/csv")}
    assert analyst.post("/import/upload", data={"kind": "feedback"}, files=files).status_code == 403  # no CSRF token
    tok = analyst.cookies.get(CSRF_COOKIE)
    page = analyst.post("/import/upload", data={"kind": "feedback", "csrf_token": tok}, files=files)
    assert page.status_code == 200
    token = re.search(r'action="/import/([A-Za-z0-9_-]+)"', page.text).group(1)
    r = analyst.post(f"/import/{token}", data={"action": "import", "csrf_token": tok, "map_feedback_id": "feedback_id",
                                               "map_ts": "ts", "map_metric": "metric", "map_score": "score"})  # fmt: skip
    assert r.status_code == 200 and ws.counts()["feedback"] == 1
    # the upload is gone once imported; a made-up token is refused
    assert analyst.post(f"/import/{token}", data={"action": "import", "csrf_token": tok}).status_code == 404
    assert analyst.post("/import/..%2F..%2Fetc", data={"action": "import", "csrf_token": tok}).status_code == 404
    ws.close()
