"""The customer 360's timeline links each row to a replay: the row's own session when it was recorded,
else the person's recorded session nearest in time (within 24 h) — the library rule on hand-placed
sessions, the page over HTTP (escaped), and only for roles that may open replays."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pandas as pd
import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens.web.app import create_app

from .test_replay import T0, events, put

START = datetime.fromtimestamp(T0 / 1000, UTC).replace(tzinfo=None)  # s1 spans START … START + 40 s
EVIL = 'c<script>alert("x")</script>'


def at(seconds: float) -> datetime:
    return START + timedelta(seconds=seconds)


@pytest.fixture(scope="module")
def cws(tmp_path_factory):
    """c1: replays s1 at START (40 s) and s2 three hours later; EVIL: replay s4 at START."""
    path = tmp_path_factory.mktemp("c") / "c.duckdb"
    with cxlens.open(path) as ws:
        put(ws, "s1", 0, events(400), customer="c1")
        put(ws, "s2", 0, events(400, start=T0 + 3 * 3600_000), customer="c1")
        put(ws, "s4", 0, events(10), customer=EVIL)
        ws.load("events", pd.DataFrame({
            "event_id": ["v1", "v2", "v3", "v4", "v5"],
            "customer_id": ["c1", "c1", "c1", "c1", EVIL],
            "session_id": ["s1", "s2", "sX", None, "s4"],
            # v2 is 10 s into s1's span but belongs to s2: its own session wins over the nearest
            # v3's session was not recorded: 50 s after s2 began → s2; v4: 27 h after s2 → none
            "ts": [at(5), at(10), at(3 * 3600 + 50), at(30 * 3600), at(2)],
            "type": ["track"] * 5, "name": ["e1", "e2", "e3", "e4", "e5"],
            "properties": [json.dumps({})] * 5}))  # fmt: skip
        ws.load("feedback", pd.DataFrame({
            "feedback_id": ["f1"], "customer_id": ["c1"], "ts": [at(300)], "metric": ["nps"], "score": [3],
            "comment": ["Pay button does nothing"]}))  # fmt: skip
    return path


EXPECTED = {  # timeline row id → (replay session, own session?) or None; placed by hand above
    "v1": ("s1", True), "v2": ("s2", True), "v3": ("s2", False), "v4": None, "f1": ("s1", False),
}  # fmt: skip


def test_each_timeline_row_gets_its_own_session_or_the_nearest(cws):
    with cxlens.open(cws, read_only=True) as ws:
        rows = [("s1", at(5)), ("s2", at(10)), ("sX", at(3 * 3600 + 50)), (None, at(30 * 3600)), (None, at(300)),
                (None, None), (None, pd.NaT), ("s2", None)]  # fmt: skip
        got = ws.behaviour.timeline_replays("c1", rows)
        assert got == [("s1", True), ("s2", True), ("s2", False), None, ("s1", False), None, None, ("s2", True)]
        assert ws.behaviour.timeline_replays("c9", [(None, at(5))]) == [None]  # no replay of c9


def _rows(html: str) -> dict[str, str]:
    body = html.split('<table id="timeline">')[1].split("</table>")[0]
    return {
        m.group(1): m.group(2) for m in re.finditer(r'<tr data-kind="\w+" data-id="([^"]*)">(.*?)</tr>', body, re.S)
    }


def _link(row: str) -> tuple[str, bool] | None:
    m = re.search(r'<a class="replay-link" href="/replays/([^"]+)"[^>]*>([^<]+)</a>', row)
    return None if m is None else (m.group(1), m.group(2) == "Replay")


def test_the_360_page_links_rows_to_replays_escaped(cws):
    with TestClient(create_app(cws)) as c:
        r = c.get("/customers/c1")
        assert r.status_code == 200
        rows = _rows(r.text)
        assert {k: _link(v) for k, v in rows.items() if k in EXPECTED} == EXPECTED
        assert '<th scope="col">Replay</th>' in r.text
        evil = c.get("/customers/" + quote(EVIL, safe=""))
        assert evil.status_code == 200 and EVIL not in evil.text and "&lt;script&gt;" in evil.text
        assert _link(_rows(evil.text)["v5"]) == ("s4", True)


def test_roles_that_cannot_open_replays_get_no_links(cws):
    from .test_replay import analyst_and_agent

    with analyst_and_agent(cws) as (analyst, agent):
        page = analyst.get("/customers/c1")
        links = {k: _link(v) for k, v in _rows(page.text).items()}
        assert page.status_code == 200 and {k: links[k] for k in EXPECTED} == EXPECTED
        page = agent.get("/customers/c1")
        assert page.status_code == 200 and "Pay button does nothing" in page.text  # the timeline is there
        assert "replay-link" not in page.text and "/replays/" not in page.text and ">Replay</th>" not in page.text
