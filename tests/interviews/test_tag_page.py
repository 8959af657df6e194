"""Tagging transcript passages from the dashboard: the interview page on a real server lists the
turns; a form tags a customer turn or the exact words of a passage in it (CSRF-protected), a chip
removes the tag. Oracle: the tags the library then returns, and the passage's characters by hand."""

from __future__ import annotations

import re

import httpx
import pandas as pd

import cxlens
from cxlens.web.deps import CSRF_COOKIE

from ..conftest import running
from .test_interviews import VTT


def test_tag_a_passage_and_a_turn_from_the_interview_page(tmp_path):
    d = tmp_path / "t"
    d.mkdir()
    (d / "c-ann.vtt").write_text(VTT, encoding="utf-8")
    path = tmp_path / "w.duckdb"
    with cxlens.open(path) as ws:
        ws.load("customers", pd.DataFrame({"customer_id": ["c-ann"], "name": ["Ann Lee"]}))
        ws.interviews.import_dir(d)
        text = ws.interviews.turns("iv-c-ann").set_index("turn").loc[1, "text"]
    from cxlens.web import create_app

    with running(create_app(path)) as url, httpx.Client(base_url=url, timeout=30, follow_redirects=True) as c:
        listing = c.get("/interviews")
        assert 'href="/interviews/iv-c-ann"' in listing.text
        page = c.get("/interviews/iv-c-ann")
        assert page.status_code == 200 and 'id="turn-1"' in page.text and 'data-role="customer"' in page.text
        assert "ann@example.com" not in page.text  # turns are shown redacted
        token = c.cookies.get(CSRF_COOKIE) or re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        form = {"csrf_token": token, "turn": "1", "tag": "Payment failure", "passage": "the card form  kept failing",
                "highlight": "1", "note": "call back"}  # fmt: skip
        r = c.post("/interviews/iv-c-ann/tags", data=form, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/interviews/iv-c-ann#turn-1"
        r = c.post("/interviews/iv-c-ann/tags", data={"csrf_token": token, "turn": "1", "tag": "delivery"})
        assert r.status_code == 200  # followed to the page
        assert 'data-tag="payment failure"' in r.text and "“the card form kept failing”" in r.text
        bad = c.post("/interviews/iv-c-ann/tags", data={"csrf_token": token, "turn": "1", "tag": "x",
                                                         "passage": "words not there"})  # fmt: skip
        assert bad.status_code == 400 and 'id="tag-error"' in bad.text and "copy the exact words" in bad.text
        assert c.post("/interviews/iv-c-ann/tags", data={"turn": "1", "tag": "x"}).status_code == 403  # no CSRF
        tags = pd.DataFrame(c.get("/api/v1/interview-tags", params={"interview": "iv-c-ann"}).json()).set_index("tag")
        i = text.index("the card form kept failing")
        assert tags.loc["payment failure", "start_char"] == i and tags.loc["payment failure", "end_char"] == i + 26
        assert bool(tags.loc["payment failure", "highlight"]) and tags.loc["payment failure", "note"] == "call back"
        assert pd.isna(tags.loc["delivery", "start_char"]) and not bool(tags.loc["delivery", "highlight"])
        tid = tags.loc["delivery", "tag_id"]
        r = c.post(f"/interviews/iv-c-ann/tags/{tid}/delete", data={"csrf_token": token})
        assert r.status_code == 200 and 'data-tag="delivery"' not in r.text and 'data-tag="payment failure"' in r.text
        assert c.get("/interviews/nope").status_code == 404
