"""``POST /api/v1/import/{kind}`` through a real uvicorn server: secret key 200, write key 403, no key 401,
the same validation and all-or-nothing guarantee as the CLI, the report as JSON."""

from __future__ import annotations

import hashlib

import httpx
import pandas as pd
import pytest
from tests.conftest import running

import cxlens
from cxlens.access.keys import create_key
from cxlens.web import create_app

CSV = (
    "feedback_id,ts,metric,score,comment\nh1,01/05/2024,nps,9,great\nh2,03/05/2024,nps,3,slow\nh3,13/05/2024,nps,10,\n"
)


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    path = tmp_path_factory.mktemp("http") / "ws.duckdb"
    ws = cxlens.open(path)
    _, secret = create_key(ws.store, "secret", name="etl")
    _, write = create_key(ws.store, "write", name="site")
    with running(create_app(ws)) as url:
        yield url, ws, secret, write
    ws.close()


def _post(url: str, key: str | None, path: str, **kw) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    return httpx.post(url + path, headers={**headers, **kw.pop("headers", {})}, timeout=60, **kw)


def test_keys_no_key_401_write_key_403(site):
    url, ws, secret, write = site
    assert _post(url, None, "/api/v1/import/feedback", content=CSV).status_code == 401
    r = _post(url, write, "/api/v1/import/feedback", content=CSV)
    assert r.status_code == 403 and "secret" in r.json()["error"]["message"]
    assert ws.counts()["feedback"] == 0


def test_raw_body_import_reports_like_the_cli(site):
    url, ws, secret, _ = site
    r = _post(url, secret, "/api/v1/import/feedback?filename=answers.csv", content=CSV,
              headers={"Content-Type": "text/csv"})  # fmt: skip
    assert r.status_code == 200, r.text
    rep = r.json()["reports"]["feedback"]
    assert (rep["rows"], rep["added"], rep["already_present"]) == (3, 3, 0)
    assert rep["source"] == "answers.csv" and rep["date_formats"]["ts"] == "dmy"
    got = ws.sql("SELECT feedback_id, ts FROM feedback WHERE feedback_id LIKE 'h%' ORDER BY 1")
    assert got["ts"].tolist() == [pd.Timestamp("2024-05-01"), pd.Timestamp("2024-05-03"), pd.Timestamp("2024-05-13")]
    again = _post(url, secret, "/api/v1/import/feedback?filename=answers.csv", content=CSV).json()
    assert again["reports"]["feedback"]["added"] == 0 and again["reports"]["feedback"]["already_present"] == 3


def test_multipart_with_options_and_a_hostile_file_name(site):
    url, ws, secret, _ = site
    body = "id;when;rating\nm1;2024-06-01;4\nm2;2024-06-02;5\n"
    r = _post(url, secret, "/api/v1/import/reviews?map=review_id=id&map=ts=when&map=rating=rating",
              files={"file": ("../../etc/passwd;rm -rf.csv", body, "text/csv")})  # fmt: skip
    assert r.status_code == 200, r.text
    rep = r.json()["reports"]["reviews"]
    assert rep["added"] == 2 and "/" not in rep["source"] and rep["dialect"]["delimiter"] == ";"
    assert ws.sql("SELECT sum(rating) AS s FROM reviews")["s"][0] == 9.0


def test_rejected_file_is_422_and_writes_nothing(site):
    url, ws, secret, _ = site
    before = ws.counts()
    digest = hashlib.sha256(ws.sql("SELECT * FROM feedback ORDER BY ALL").to_csv().encode()).hexdigest()
    bad = CSV.replace("h3,13/05/2024,nps,10", "h4,13/05/2024,nps,11")
    r = _post(url, secret, "/api/v1/import/feedback?filename=bad.csv", content=bad)
    assert r.status_code == 422
    assert "column 'score' in bad.csv row 3 is '11'" in r.json()["error"]["message"]
    assert ws.counts() == before
    assert hashlib.sha256(ws.sql("SELECT * FROM feedback ORDER BY ALL").to_csv().encode()).hexdigest() == digest


def test_dry_run_lists_problems_and_writes_nothing(site):
    url, ws, secret, _ = site
    before = ws.counts()
    bad = "feedback_id,ts,metric,score\nd1,yesterday,nps,9\nd2,2024-01-01,nps,ten\n"
    r = _post(url, secret, "/api/v1/import/feedback?dry_run=true&filename=d.csv", content=bad)
    assert r.status_code == 200
    rep = r.json()["reports"]["feedback"]
    assert rep["dry_run"] is True and len(rep["problems"]) == 2
    assert "'yesterday'" in rep["problems"][0] and "'ten'" in rep["problems"][1]
    assert rep["preview"][0]["feedback_id"] == "d1"
    assert ws.counts() == before


def test_size_limit_413_and_unknown_option_400(site):
    url, ws, secret, _ = site
    ws.set_setting("import.max_bytes", 100)
    try:
        r = _post(url, secret, "/api/v1/import/feedback?filename=big.csv", content=CSV * 5)
        assert r.status_code == 413
    finally:
        ws.set_setting("import.max_bytes", 1 << 30)
    r = _post(url, secret, "/api/v1/import/feedback?delimitr=;", content=CSV)
    assert r.status_code == 400 and "did you mean 'delimiter'" in r.json()["error"]["message"]
