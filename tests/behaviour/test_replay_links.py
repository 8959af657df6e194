"""Links from survey answers, tickets and funnel drop-offs to the person's replay nearest in time:
the library rule on hand-placed sessions, the CLI, the API (with roles), and the dashboard lists
(escaped, hidden from roles that cannot open replays)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import cxlens
from cxlens.cli import app as cli_app
from cxlens.errors import ParameterError
from cxlens.web.app import create_app

from .test_replay import T0, events, put

START = datetime.fromtimestamp(T0 / 1000, UTC).replace(tzinfo=None)  # s1 spans START … START + 40 s
EVIL = 'c<script>alert("x")</script>'


@pytest.fixture(scope="module")
def lws(tmp_path_factory):
    """c1: s1 at START (40 s) and s2 three hours later; c2: s3 two days later; EVIL: s4 at START."""
    path = tmp_path_factory.mktemp("l") / "l.duckdb"
    with cxlens.open(path) as ws:
        put(ws, "s1", 0, events(400), customer="c1")
        put(ws, "s2", 0, events(400, start=T0 + 3 * 3600_000), customer="c1")
        put(ws, "s3", 0, events(400, start=T0 + 48 * 3600_000), customer="c2")
        put(ws, "s4", 0, events(10), customer=EVIL)
        at = lambda s: START + timedelta(seconds=s)  # noqa: E731
        ws.load("feedback", pd.DataFrame({
            "feedback_id": ["f1", "f2", "f3"], "customer_id": ["c1", "c2", "c9"],
            "ts": [at(300), at(600), at(900)], "metric": ["nps"] * 3, "score": [3, 9, 5],
            "comment": ["Pay button does nothing", "Fine", "No recording of me"]}))  # fmt: skip
        ws.load("tickets", pd.DataFrame({
            "ticket_id": ["t1"], "customer_id": ["c1"], "created_at": [at(3 * 3600 + 100)],
            "subject": ["Cannot pay"], "body": ["The pay button is broken, I clicked it many times"]}))  # fmt: skip
        ws.load("events", pd.DataFrame({
            "event_id": ["v1", "v2", "v3"], "customer_id": ["c1", "c2", EVIL], "session_id": ["s1", "s3", "s4"],
            "ts": [at(5), at(48 * 3600 + 5), at(2)], "type": ["track"] * 3, "name": ["visit"] * 3,
            "properties": [json.dumps({})] * 3}))  # fmt: skip
    return path


def test_the_nearest_session_within_the_window(lws):
    at = lambda s: START + timedelta(seconds=s)  # noqa: E731
    with cxlens.open(lws, read_only=True) as ws:
        got = ws.behaviour.replays_near([
            ("c1", at(10)),            # inside s1
            ("c1", at(2 * 3600)),      # 2 h after s1 ended ~ 1 h before s2: s2
            ("c1", at(30 * 3600)),     # 27 h after s2: none within 24 h
            ("c2", at(0)),             # s3 is 48 h away
            ("c9", at(0)), (None, at(0)), ("c1", None),
            ("c1", (at(10)).isoformat() + "+00:00"),  # an aware ISO string is read as UTC
        ])  # fmt: skip
        assert got == ["s1", "s2", None, None, None, None, None, "s1"]
        assert ws.behaviour.replays_near([("c2", at(0))], max_hours=50) == ["s3"]
        assert ws.behaviour.replay_near("c1", at(2 * 3600))["session_id"] == "s2"
        assert ws.behaviour.replay_near("c2", at(0)) is None
        with pytest.raises(ParameterError, match="at"):
            ws.behaviour.replay_near("c1", "yesterday-ish")
        with pytest.raises(ParameterError, match="max_hours"):
            ws.behaviour.replays_near([("c1", at(0))], max_hours=-1)


def test_cli_and_api(lws):
    res = CliRunner().invoke(cli_app, ["-w", str(lws), "replays", "near", "c1", str(START), "--format", "json"])
    assert res.exit_code == 0, res.output
    assert json.loads(res.stdout)[0]["session_id"] == "s1"
    res = CliRunner().invoke(cli_app, ["-w", str(lws), "replays", "near", "c2", str(START)])
    assert res.exit_code == 1 and "no replay of 'c2' within 24 h" in res.output
    with TestClient(create_app(lws)) as c:
        r = c.get("/api/v1/replays/near", params={"customer_id": "c1", "at": str(START + timedelta(hours=2))})
        assert r.status_code == 200 and r.json()["session_id"] == "s2"
        r = c.get("/api/v1/replays/near", params={"customer_id": "c2", "at": str(START)})
        assert r.status_code == 404 and "c2" in r.text
        r = c.get("/api/v1/replays/near", params={"customer_id": "c1", "at": "soon"})
        assert r.status_code == 400 and "at" in r.text


def test_feedback_and_funnel_drop_off_lists_link_to_replays(lws):
    with TestClient(create_app(lws)) as c:
        html = c.get("/feedback").text
        rows = {r.split('data-field="text"')[1].split("<")[0].split(">")[1]: r for r in html.split("<tr data-id=")[1:]}
        assert 'href="/replays/s1"' in rows["Pay button does nothing"]
        assert "replay-link" not in rows["No recording of me"]  # c9 has no replay
        assert "replay-link" not in rows["Fine"]  # c2's only replay is two days later
        ticket = next(r for t, r in rows.items() if "pay button is broken" in t)
        assert 'href="/replays/s2"' in ticket  # the ticket came 100 s after s2 began
        drop = c.get("/partials/funnels/dropped", params=[("steps", "visit"), ("steps", "purchase"), ("step", "1")])
        assert drop.status_code == 200
        cells = {r.split("</td>")[0]: r for r in drop.text.split('<td data-field="customer_id">')[1:]}
        assert 'href="/replays/s1"' in cells["c1"]
        assert 'href="/replays/s3"' in cells["c2"]  # reached the step 48 h after START, inside s3
        assert EVIL not in drop.text and "&lt;script&gt;" in drop.text
        assert 'href="/replays/s4"' in drop.text


def test_roles_that_cannot_open_replays_get_no_links(lws):
    from .test_replay import analyst_and_agent

    with analyst_and_agent(lws) as (analyst, agent):
        assert 'href="/replays/s1"' in analyst.get("/feedback").text
        page = agent.get("/feedback")
        assert page.status_code == 200 and "Pay button does nothing" in page.text
        assert "replay-link" not in page.text and "/replays/" not in page.text
        r = agent.get("/api/v1/replays/near", params={"customer_id": "c1", "at": str(START)})
        assert r.status_code == 403
        assert analyst.get("/api/v1/replays/near", params={"customer_id": "c1", "at": str(START)}).status_code == 200


def test_replay_list_filters_by_funnel_drop_off_segment_and_theme(tmp_path):
    from cxlens.errors import ConfigError, NotFoundError
    from cxlens.store.segments import save_segment

    with cxlens.open(tmp_path / "f.duckdb") as ws:
        for i, c in enumerate(("c1", "c2", "c3")):
            put(ws, f"r{i + 1}", 0, events(20, start=T0 + i * 60_000), customer=c)
        at = lambda s: START + timedelta(seconds=s)  # noqa: E731
        ws.load("events", pd.DataFrame({
            "event_id": ["a", "b", "c", "d"], "customer_id": ["c1", "c2", "c3", "c2"], "ts": [at(1), at(2), at(3), at(9)],
            "type": ["track"] * 4, "name": ["visit", "visit", "visit", "checkout"]}))  # fmt: skip
        save_segment(ws, "vip", ["c3", "c9"])
        dropped = ws.behaviour.replays(funnel="visit>checkout", dropped_at=1)
        assert sorted(dropped["customer_id"]) == ["c1", "c3"]  # c2 went on to the checkout
        with pytest.raises(ConfigError, match="drop-off step 2 is out of range"):
            ws.behaviour.replays(funnel="visit>checkout", dropped_at=2)
        assert list(ws.behaviour.replays(segment="vip")["session_id"]) == ["r3"]
        both = ws.behaviour.replays(segment="vip", funnel=["visit", "checkout"], dropped_at=1)
        assert list(both["session_id"]) == ["r3"]
        with pytest.raises(NotFoundError, match="nope"):
            ws.behaviour.replays(segment="nope")
        with pytest.raises(ParameterError, match="dropped_at"):
            ws.behaviour.replays(funnel="visit>checkout")
        with pytest.raises(ParameterError, match="theme is 'pricing'; expected one of no themes yet"):
            ws.behaviour.replays(theme="pricing")
    path = tmp_path / "f.duckdb"
    res = CliRunner().invoke(cli_app, ["-w", str(path), "replays", "list", "--funnel", "visit>checkout",
                                       "--dropped-at", "1", "--segment", "vip", "--format", "json"])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert [r["session_id"] for r in json.loads(res.stdout)] == ["r3"]
    with TestClient(create_app(path)) as c:
        rows = c.get("/api/v1/replays", params={"funnel": "visit>checkout", "dropped_at": 1}).json()
        assert sorted(r["session_id"] for r in rows) == ["r1", "r3"]
        page = c.get("/replays", params={"funnel": "visit>checkout", "dropped_at": "1", "segment": "vip"})
        assert page.status_code == 200 and 'href="/replays/r3"' in page.text and "/replays/r1" not in page.text
        assert 'value="visit&gt;checkout"' in page.text  # the form keeps the filter, escaped
        assert c.get("/replays", params={"dropped_at": "two"}).status_code == 400


def test_replay_list_filters_by_the_theme_of_the_persons_feedback(tmp_path):
    from cxlens.ingest.simulate import write_demo

    with cxlens.open(tmp_path / "t.duckdb") as ws:
        write_demo(ws, 300, seed=1)
        ws.refresh(["voice.analyse", "voice.themes"])
        # the oracle, in plain SQL: people with a survey answer or ticket tagged t1, and people with none
        tagged = set(ws.sql("""
            SELECT DISTINCT coalesce(f.customer_id, t.customer_id) AS c FROM verbatim_themes v
            LEFT JOIN feedback f ON v.verbatim_id = 'feedback:' || f.feedback_id
            LEFT JOIN tickets t ON v.verbatim_id = 'ticket:' || t.ticket_id
            WHERE v.themes LIKE '%"t1"%'""")["c"].dropna())  # fmt: skip
        everyone = set(ws.sql("SELECT DISTINCT customer_id FROM feedback WHERE customer_id IS NOT NULL")["customer_id"])
        a, b = sorted(tagged)[0], sorted(everyone - tagged)[0]
        put(ws, "ta", 0, events(10), customer=a)
        put(ws, "tb", 0, events(10, start=T0 + 60_000), customer=b)
        assert sorted(ws.behaviour.replays()["session_id"]) == ["ta", "tb"]
        assert list(ws.behaviour.replays(theme="t1")["session_id"]) == ["ta"]


def test_replay_list_theme_other_keeps_the_people_with_a_verbatim_without_a_theme(tmp_path):
    from ..voice.unthemed import OTHER, THEMED, write_unthemed

    # the five remarks without a theme belong to co1 (two), co2, ct0 (who also wrote themed answers) and nobody
    owners = [f"ct{i % 12}" for i in range(len(THEMED))] + ["co1", "co1", "co2", "ct0", None]
    assert len(owners) == len(THEMED) + len(OTHER)
    path = tmp_path / "o.duckdb"
    write_unthemed(path, owners)
    with cxlens.open(path) as ws:
        for i, c in enumerate(("co1", "co2", "ct0", "ct1", "cz")):  # cz wrote nothing
            put(ws, f"s-{c}", 0, events(10, start=T0 + i * 60_000), customer=c)
        # the oracle, in plain SQL: the owners of the stored rows without a primary theme
        owner = dict(ws.sql("SELECT v.verbatim_id, coalesce(f.customer_id, '') FROM verbatim_themes v JOIN feedback f "
                            "ON v.verbatim_id = 'feedback:' || f.feedback_id WHERE v.theme IS NULL").values)  # fmt: skip
    assert sorted(owner.values()) == ["", "co1", "co1", "co2", "ct0"]
    with TestClient(create_app(path)) as c:
        r = c.get("/api/v1/replays", params={"theme": "other"})
        assert r.status_code == 200, r.text
        rows = r.json()
        assert sorted(r["session_id"] for r in rows) == ["s-co1", "s-co2", "s-ct0"]
        # the owners of the feedback explorer's theme=other rows
        listed = c.get("/api/v1/voice/feedback", params={"theme": "other"}).json()["rows"]
        assert {owner[r["verbatim_id"]] for r in listed} - {""} == {r["customer_id"] for r in rows}
        bad = c.get("/api/v1/replays", params={"theme": "nope"})
        assert bad.status_code == 400 and bad.json()["error"]["message"].endswith(", other")
