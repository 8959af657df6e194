"""Interview recruiting and the replay list keep the same people for the same theme: the people behind the
feedback explorer's ``theme=`` rows (a verbatim of any source carrying the theme among its labels;
``other``: one the themes job gave no primary theme). Recruiting used to take the primary theme of
answers, tickets and reviews only, so someone whose answer carried "delivery" as a second label had a
replay under ``theme=delivery`` but was no candidate for it.

The stored themes are written by hand (as the ``voice.themes`` job stores them); the oracle is the table
below."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

import cxlens
from cxlens.cli import app
from cxlens.voice.stored import save_themes
from cxlens.voice.themes import ThemeExtractor
from cxlens.web.app import create_app

from ..behaviour.test_replay import events, put

PEOPLE = ("cA", "cB", "cC", "cD", "cE")
T = pd.Timestamp("2026-03-01")


@pytest.fixture(scope="module")
def wspath(tmp_path_factory):
    texts = ["refund late", "refund never came", "delivery late", "courier delivery lost"] * 3
    path = tmp_path_factory.mktemp("agree") / "w.duckdb"
    with cxlens.open(path) as ws:
        tx = ThemeExtractor(n_themes=2, rules={"Refund": ["refund"], "Delivery": ["delivery"]}, min_df=1).fit(texts)
        save_themes(ws, tx)
        ids = {name: tid for tid, name in tx.names().items()}
        refund, delivery = ids["Refund"], ids["Delivery"]
        ws.load("feedback", pd.DataFrame({"feedback_id": ["fA", "fD", "fE"], "customer_id": ["cA", "cD", "cE"],
                                          "ts": [T] * 3, "metric": "nps", "score": [3.0, 5.0, 6.0],
                                          "comment": ["refund, and the delivery", "meh", "not assigned yet"]}))  # fmt: skip
        ws.load("tickets", pd.DataFrame({"ticket_id": ["tB"], "customer_id": ["cB"], "created_at": [T],
                                         "subject": ["Where is it"], "body": ["delivery lost"]}))  # fmt: skip
        ws.load("reviews", pd.DataFrame({"review_id": ["rC"], "customer_id": ["cC"], "ts": [T], "rating": [2.0],
                                         "body": ["refund refused"]}))  # fmt: skip
        stored = [
            ("feedback:fA", refund, [refund, delivery]),  # cA: refund first, delivery as a second label
            ("ticket:tB", delivery, [delivery]),  # cB
            ("review:rC", refund, [refund]),  # cC
            ("feedback:fD", None, []),  # cD: assigned, no theme (the other group)
        ]  # fE (cE) is not assigned yet: no stored row, in no group
        with ws.transaction(changes=["verbatim_themes"]) as cur:  # what the voice.themes job stores
            for vid, theme, labels in stored:
                cur.execute("INSERT INTO verbatim_themes VALUES (?, ?, ?, 'test')", [vid, theme, json.dumps(labels)])
        rows = [["nps-q1", f"r-{c}", c, c, None, 8.0, None, '{"interview_opt_in": "yes"}', "en", None, None, None, T, T]
                for c in PEOPLE]  # fmt: skip
        with ws.transaction(changes=["survey_responses"]) as cur:
            cur.executemany(f"INSERT INTO survey_responses VALUES ({', '.join('?' * 14)})", rows)
        for i, c in enumerate(PEOPLE):  # everyone opted in and has one recorded session
            put(ws, f"s-{c}", 0, events(5, start=1_764_000_000_000 + i * 60_000), customer=c)
    return path, {"refund": refund, "delivery": delivery}


#: by hand from the stored rows above
EXPECTED = {"refund": ["cA", "cC"], "delivery": ["cA", "cB"], "other": ["cD"]}


def test_recruiting_and_replays_keep_the_same_people_for_a_theme(wspath):
    path, ids = wspath
    tid = {**ids, "other": "other"}
    cli = lambda *a: CliRunner().invoke(app, ["-w", str(path), *a, "--format", "json"], catch_exceptions=False)  # noqa: E731
    with cxlens.open(path, read_only=True) as ws:
        for name, want in EXPECTED.items():
            assert sorted(ws.interviews.candidates(theme=tid[name])["customer_id"]) == want, name
            assert sorted(ws.behaviour.replays(theme=tid[name])["customer_id"]) == want, name
    for name, want in EXPECTED.items():
        r = cli("interviews", "candidates", "--theme", tid[name])
        assert r.exit_code == 0 and sorted(x["customer_id"] for x in json.loads(r.stdout)) == want, (name, r.output)
        r = cli("replays", "list", "--theme", tid[name])
        assert r.exit_code == 0 and sorted(x["customer_id"] for x in json.loads(r.stdout)) == want, (name, r.output)
    with TestClient(create_app(path)) as c:
        for name, want in EXPECTED.items():
            got = c.get("/api/v1/interviews/candidates", params={"theme": tid[name]})
            assert got.status_code == 200 and sorted(x["customer_id"] for x in got.json()) == want, name
            got = c.get("/api/v1/replays", params={"theme": tid[name]})
            assert got.status_code == 200, got.text
            rows = got.json()["rows"] if isinstance(got.json(), dict) else got.json()
            assert sorted(x["customer_id"] for x in rows) == want, name
        for url in ("/api/v1/interviews/candidates", "/api/v1/replays"):  # an unknown id finds nobody: refused
            assert c.get(url, params={"theme": "nope"}).status_code == 400
