"""Voice pages (/feedback, /themes, /drivers) and /api/v1/voice: figures equal cxlens.voice, quotes escaped."""

from __future__ import annotations

import html
import re

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape

from cxlens.voice import key_drivers, theme_summary, verbatims
from cxlens.voice.tasks import theme_model
from cxlens.web import create_app
from cxlens.web.pages import load_pages, nav

from ..pages import cells as _cells
from ..pages import client_fixture
from ..voice.unthemed import THEMED

XSS_COMMENT = "<script>alert(1)</script>"


client = client_fixture("sample_path")


def test_voice_pages_are_in_the_navigation():
    load_pages()
    ids = [item.id for item in nav()]
    assert {"feedback", "themes", "drivers"} <= set(ids)


def test_feedback_explorer_pages_and_escapes(client, sample_ws):
    r = client.get("/feedback")
    assert r.status_code == 200
    everything = verbatims(sample_ws)
    assert f'data-total="{len(everything)}"' in r.text
    assert len(re.findall(r"<tr data-id=", r.text)) == 50
    assert 'id="feedback-next"' in r.text
    # search is a case-insensitive substring of the redacted text; the XSS payload stays text
    r = client.get("/feedback", params={"q": "ALERT"})
    assert r.status_code == 200
    assert XSS_COMMENT not in r.text
    assert str(escape(XSS_COMMENT)) in r.text
    assert "<img src=x" not in r.text
    expected = everything[everything["text"].str.contains("alert", case=False, regex=False)]
    assert f'data-total="{len(expected)}"' in r.text and len(expected) >= 1


def test_feedback_filters_match_the_library(client, sample_ws):
    params = {"source": "ticket", "q": "order", "page": "1"}
    v = verbatims(sample_ws, sources=["ticket"])
    v = v[v["text"].str.contains("order", case=False, regex=False)]
    r = client.get("/feedback", params=params)
    assert r.status_code == 200 and f'data-total="{len(v)}"' in r.text
    api = client.get("/api/v1/voice/feedback", params=params).json()
    assert api["total"] == len(v)
    assert {row["source"] for row in api["rows"]} == {"ticket"}
    # score range and sentiment label
    api = client.get("/api/v1/voice/feedback", params={"max_score": "6", "sentiment": "negative"}).json()
    assert api["rows"] and all(row["score"] <= 6 and row["sentiment_label"] == "negative" for row in api["rows"])


@pytest.mark.parametrize(
    ("params", "param"),
    [
        ({"page": "-1"}, "page"),
        ({"sentiment": "furious"}, "sentiment"),
        ({"source": "fax"}, "source"),
        ({"min_score": "lots"}, "min_score"),
    ],  # fmt: skip
)
def test_feedback_bad_parameter_is_400_naming_it(client, params, param):
    r = client.get("/feedback", params=params)
    assert r.status_code == 400
    assert f"{param!r}" in html.unescape(r.text)
    err = client.get("/api/v1/voice/feedback", params=params).json()["error"]
    assert err["status"] == 400 and err["param"] == param


def test_themes_page_equals_theme_summary(client, sample_ws):
    v = verbatims(sample_ws)
    en = v[v["is_english"].eq(True)].tail(5000).reset_index(drop=True)
    expected = theme_summary(en, theme_model(sample_ws)[0], n_quotes=2)  # the stored model (the themes job)
    r = client.get("/themes")
    assert r.status_code == 200
    assert _cells(r.text, "name") == expected["name"].tolist()
    assert [int(s) for s in _cells(r.text, "size")] == expected["size"].tolist()
    assert _cells(r.text, "negative_share") == [f"{100 * s:.1f}%" for s in expected["negative_share"]]
    assert 'id="chart-themes-spec"' in r.text
    # the verbatims with no primary theme are the "other" row, and said, not silently left out of the shares
    unthemed = sum(t is None for t in theme_model(sample_ws)[0].predict(en["text"].tolist()))
    assert _cells(r.text, "unthemed") == ([str(unthemed)] if unthemed else [])
    assert int(expected["size"].sum()) == len(en)
    api = client.get("/api/v1/voice/themes").json()
    assert [row["size"] for row in api["rows"]] == expected["size"].tolist()


def test_drivers_page_equals_key_drivers(client, sample_ws):
    expected = key_drivers(sample_ws, "nps", "touchpoints", n_boot=50)
    r = client.get("/drivers")
    assert r.status_code == 200
    assert _cells(r.text, "share") == [f"{s:.1f}" for s in expected["share"]]
    assert _cells(r.text, "quadrant") == expected["quadrant"].tolist()
    assert 'id="chart-drivers-spec"' in r.text
    api = client.get("/api/v1/voice/drivers").json()
    assert [row["share"] for row in api["rows"]] == pytest.approx(expected["share"].tolist())
    r = client.get("/drivers", params={"target": "churn"})
    assert r.status_code == 400 and "'target'" in html.unescape(r.text)


def test_feedback_in_a_browser_runs_no_injected_script(page, server):
    page.goto(f"{server}/feedback?q=alert")
    cell = page.locator('#feedback-table td[data-field="text"]').first
    assert cell.inner_text() == XSS_COMMENT
    page.goto(f"{server}/drivers")
    page.wait_for_selector("#chart-drivers svg, #chart-drivers canvas", timeout=10_000)
    assert page.errors == []


def test_voice_pages_on_an_empty_workspace_say_so():
    with TestClient(create_app(":memory:")) as c:
        assert 'id="feedback-empty"' in c.get("/feedback").text
        r = c.get("/themes")
        assert r.status_code == 200 and 'id="themes-empty"' in r.text
        r = c.get("/drivers")
        assert r.status_code == 200 and 'id="drivers-empty"' in r.text


def test_themes_page_says_how_many_verbatims_have_no_theme(tmp_path):
    import pandas as pd

    import cxlens

    texts = THEMED + ["it is what it is", "so so, I suppose", "as it was"]
    with cxlens.open(tmp_path / "w.duckdb") as ws:
        ws.load("feedback", pd.DataFrame({"ts": "2026-01-05", "metric": "nps", "score": 5, "comment": texts,
                                          "feedback_id": [f"f{i}" for i in range(len(texts))]}))  # fmt: skip
        ws.refresh(["voice.analyse", "voice.themes"])
        v = verbatims(ws)
        en = v[v["is_english"].eq(True)].reset_index(drop=True)
        unthemed = sum(t is None for t in theme_model(ws)[0].predict(en["text"].tolist()))
        assert unthemed >= 1  # remarks without a word of any theme
        with TestClient(create_app(ws.path)) as c:
            r = c.get("/themes")
        assert r.status_code == 200
        assert _cells(r.text, "unthemed") == [str(unthemed)]
        assert f"of {len(en)} verbatims" in r.text
