"""The verbatims without a theme are one named group, "other" / "Other (no theme)", everywhere.

A small workspace whose five "other" verbatims are known by construction (:mod:`tests.voice.unthemed`:
each is made of words that no two other texts share often enough to enter the vocabulary, so the theme
model knows no word of them). The oracles are that list, SQL on the stored tables and the NPS
formula by hand — never the code under test.
"""

from __future__ import annotations

import html
import io
import json
import re

import numpy as np
import pandas as pd
import pytest

import cxlens

from ..pages import cells as _cells
from ..pages import client_fixture
from .unthemed import OTHER, OTHER_SCORES, THEMED, THEMED_SCORES, XSS, write_unthemed


@pytest.fixture(scope="module")
def ws_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("other") / "w.duckdb"
    write_unthemed(path)
    return path


@pytest.fixture(scope="module")
def stored(ws_path) -> pd.DataFrame:
    """What the jobs stored, read with SQL: text, sentiment and primary theme of every analysed verbatim."""
    with cxlens.open(ws_path) as ws:
        return ws.read(
            "SELECT a.verbatim_id, a.redacted_text AS text, a.sentiment_score, t.theme FROM verbatim_analysis a "
            "JOIN verbatim_themes t USING (verbatim_id) WHERE a.language = 'en'"
        )


client = client_fixture("ws_path")


def _nps(x: np.ndarray) -> tuple[float, float]:
    p, d = np.mean(x >= 9), np.mean(x <= 6)
    return 100 * (p - d), 100**2 * ((p + d) - (p - d) ** 2) / len(x)


def test_the_stored_unthemed_verbatims_are_the_remarks_without_a_known_word(stored):
    assert len(stored) == len(THEMED) + len(OTHER)  # every text is English and assigned
    assert sorted(stored.loc[stored["theme"].isna(), "text"]) == sorted(OTHER)


def test_themes_api_and_page_list_the_other_group_last(client):
    api = client.get("/api/v1/voice/themes").json()
    rows = api["rows"]
    assert api["verbatims"] == len(THEMED) + len(OTHER)
    last = rows[-1]
    assert (last["theme"], last["name"], last["issue"], last["size"]) == ("other", "Other (no theme)", False, 5)
    assert last["share"] == pytest.approx(5 / (len(THEMED) + len(OTHER)))
    assert all(r["issue"] for r in rows[:-1]) and sum(r["size"] for r in rows) == len(THEMED) + len(OTHER)
    assert sum(r["share"] for r in rows) == pytest.approx(1.0)
    page = client.get("/themes").text
    assert _cells(page, "name")[-1] == "Other (no theme)" and _cells(page, "size")[-1] == "5"
    assert 'data-theme="other" class="other-theme"' in page and "not an issue theme" in page
    assert _cells(page, "unthemed") == ["5"]
    assert 'href="/feedback?theme=other"' in page
    # its quotes are two of its verbatims, escaped (customers' text)
    row = re.search(r'<tr data-theme="other" class="other-theme">(.*?)</tr>', page, re.S).group(1)
    quotes = [html.unescape(q) for q in re.findall(r"<blockquote>(.*?)</blockquote>", row, re.S)]
    assert len(quotes) == 2 and set(quotes) <= set(OTHER)
    assert XSS not in page


def test_explorer_filter_other_shows_exactly_the_unthemed_verbatims(client, stored):
    expected = stored.loc[stored["theme"].isna()]
    api = client.get("/api/v1/voice/feedback", params={"theme": "other"}).json()
    assert api["total"] == len(expected) == 5
    assert {r["verbatim_id"] for r in api["rows"]} == set(expected["verbatim_id"])
    assert all(r["themes"] == ["other"] for r in api["rows"])
    # the other filters still apply: the score range keeps the unthemed answers scored 0-2
    low = client.get("/api/v1/voice/feedback", params={"theme": "other", "max_score": "2"}).json()
    assert sorted(r["text"] for r in low["rows"]) == sorted(OTHER[:3])
    # every other verbatim carries a theme label
    themed = client.get("/api/v1/voice/feedback", params={"page": "1"}).json()
    assert all(r["themes"] and (r["themes"][0] == "other") == (r["text"] in OTHER) for r in themed["rows"])
    page = client.get("/feedback", params={"theme": "other"}).text
    assert 'data-total="5"' in page
    assert '<option value="other" selected>Other (no theme)</option>' in page
    assert XSS not in page and html.escape(XSS, quote=False) in page


def test_overview_pain_points_show_the_other_group_with_its_nps_effect(client, stored):
    page = client.get("/partials/overview/painpoints").text
    row = re.search(r'<tr data-theme="other" class="other-theme">(.*?)</tr>', page, re.S)
    assert row is not None and "not an issue theme" in row.group(1)
    negative = int((stored["theme"].isna() & (stored["sentiment_score"] < 0)).sum())
    assert negative >= 2 and _cells(row.group(0), "negative") == [str(negative)]
    a, va = _nps(np.array(OTHER_SCORES))
    b, vb = _nps(np.array(THEMED_SCORES))
    half = 1.959964 * np.sqrt(va + vb)
    ci = f"{a - b - half:+.1f} to {a - b + half:+.1f}".replace("-", "−")
    assert _cells(row.group(0), "ci") == [ci]
    assert "without a theme vs" in row.group(0)


def _cli(monkeypatch, ws_path, *args: str) -> str:
    from typer.testing import CliRunner

    from cxlens.cli import app

    monkeypatch.setenv("CXLENS_WORKSPACE", str(ws_path))
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.stdout


def test_cli_themes_and_pain_points_list_the_other_group(monkeypatch, ws_path):
    rows = json.loads(_cli(monkeypatch, ws_path, "voice", "themes", "--format", "json"))
    other = [r for r in rows if r["theme"] == "other"]
    assert len(other) == 1 and rows[-1] is other[0]
    assert (other[0]["name"], other[0]["issue"], other[0]["size"]) == ("Other (no theme)", False, 5)
    pains = json.loads(_cli(monkeypatch, ws_path, "voice", "pain-points", "--format", "json"))
    mine = [r for r in pains if r["theme"] == "other"]
    assert len(mine) == 1 and mine[0]["issue"] is False and mine[0]["n"] == 5
    assert mine[0]["share"] == pytest.approx(5 / (len(THEMED) + len(OTHER)))
    a, va = _nps(np.array(OTHER_SCORES))
    b, vb = _nps(np.array(THEMED_SCORES))
    half = 1.959964 * np.sqrt(va + vb)
    assert (mine[0]["score_with"], mine[0]["score_without"]) == (pytest.approx(a), pytest.approx(b))
    assert (mine[0]["low"], mine[0]["high"]) == (pytest.approx(a - b - half, abs=1e-2), pytest.approx(a - b + half, abs=1e-2))  # fmt: skip


def test_voice_score_themes_writes_other_for_the_rows_without_a_theme(monkeypatch, ws_path, tmp_path):
    src = tmp_path / "texts.csv"
    pd.DataFrame({"text": THEMED + OTHER}).to_csv(src, index=False)
    out = _cli(monkeypatch, ws_path, "voice", "score", str(src), "--themes", "--format", "csv")
    got = pd.read_csv(io.StringIO(out), dtype=str, keep_default_na=False)
    assert sorted(got.loc[got["theme"] == "other", "text"]) == sorted(OTHER)
    assert set(got.loc[got["theme"] == "other", "theme_name"]) == {"Other (no theme)"}
    assert not got["theme"].isin(["", "None", "nan"]).any() and not got["theme_name"].isin(["", "None", "nan"]).any()


def test_an_unknown_theme_is_one_error_naming_the_known_themes_everywhere(client, ws_path, stored):
    """The explorer, the people behind a theme, the replay list and recruiting check a theme the same way."""
    from cxlens.errors import ParameterError
    from cxlens.voice.explorer import FeedbackQuery, feedback_page
    from cxlens.voice.people import known_theme, theme_customers

    assigned = sorted(set(stored["theme"].dropna()))  # the primary themes the job stored (SQL)
    with cxlens.open(ws_path) as ws:
        tx, names = known_theme(ws)
        assert tx is not None and list(names)[-1] == "other" and names["other"] == "Other (no theme)"
        assert set(assigned) < set(names)
        assert known_theme(ws, "other")[1] == names
        msgs = []
        for call in (lambda: known_theme(ws, "nope"), lambda: theme_customers(ws, "nope"),
                     lambda: feedback_page(ws, FeedbackQuery(theme="nope")), lambda: ws.behaviour.replays(theme="nope"),
                     lambda: ws.interviews.candidates(theme="nope")):  # fmt: skip
            with pytest.raises(ParameterError) as e:
                call()
            assert e.value.param == "theme"
            msgs.append(str(e.value))
        assert len(set(msgs)) == 1 and msgs[0].startswith("theme is 'nope'; expected one of ")
        assert msgs[0].endswith(", other") and all(t in msgs[0] for t in assigned)
        with pytest.raises(ParameterError, match="theme is ''"):
            theme_customers(ws, "")  # an empty id is unknown here; the explorer reads it as no filter
        assert feedback_page(ws, FeedbackQuery(theme=""))["total"] == len(stored)
    res = client.get("/api/v1/voice/feedback", params={"theme": "nope"})
    assert res.status_code == 400 and msgs[0] in res.text
