"""Theme filter, htmx partials, stored theme models, overview pain points and journey-map voice columns."""

from __future__ import annotations

import html
import io
import re
import shutil

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

import cxlens
from cxlens.voice import verbatims
from cxlens.voice.sentiment import default_model
from cxlens.voice.stored import THEME_SETTING, edit_themes, load_themes, save_themes, workspace_themes
from cxlens.voice.summary import journey_voice, top_pain_points
from cxlens.voice.tasks import theme_model
from cxlens.voice.themes import ThemeExtractor
from cxlens.web import create_app


@pytest.fixture(scope="module")
def client(sample_path):
    with TestClient(create_app(sample_path)) as c:
        yield c


@pytest.fixture()
def own(sample_path, tmp_path):
    """A private copy of the sample workspace (for tests that store a theme model)."""
    p = tmp_path / "own.duckdb"
    shutil.copy(sample_path, p)
    return p


def _english_themes(ws) -> tuple[pd.DataFrame, ThemeExtractor]:
    """Verbatims with the themes the workspace's stored model (the themes job) gives the English ones."""
    v = verbatims(ws)
    tx = theme_model(ws)[0]
    en = v["is_english"].eq(True).to_numpy()
    v["themes"] = [[] for _ in range(len(v))]
    v.loc[en, "themes"] = pd.Series(tx.assign(v.loc[en, "text"].fillna("").tolist())["themes"].tolist(),
                                    index=v.index[en])  # fmt: skip
    return v, tx


def test_feedback_filters_by_theme_as_the_theme_model_assigns(client, sample_ws):
    v, tx = _english_themes(sample_ws)
    theme = v["themes"].explode().dropna().value_counts().index[0]
    expected = sum(theme in t for t in v["themes"])
    api = client.get("/api/v1/voice/feedback", params={"theme": theme}).json()
    assert api["total"] == expected and all(theme in row["themes"] for row in api["rows"])
    page = client.get("/feedback", params={"theme": theme})
    assert f'data-total="{expected}"' in page.text
    assert f'<option value="{theme}" selected>' in page.text
    bad = client.get("/api/v1/voice/feedback", params={"theme": "nope"}).json()["error"]
    assert bad["status"] == 400 and bad["param"] == "theme"


def test_feedback_and_themes_partials_swap_results_and_replace_the_url(client, sample_ws):
    r = client.get("/partials/feedback", params={"sentiment": "negative", "source": "ticket"})
    assert r.status_code == 200
    assert r.headers["HX-Replace-Url"] == "/feedback?source=ticket&sentiment=negative"
    assert "<html" not in r.text and 'id="feedback-table"' in r.text
    full = client.get("/feedback", params={"sentiment": "negative", "source": "ticket"})
    total = re.search(r'data-total="(\d+)"', full.text).group(1)
    assert f'data-total="{total}"' in r.text
    assert 'hx-get="/partials/feedback"' in full.text
    t = client.get("/partials/themes", params={"channel": "email"})
    assert t.status_code == 200 and t.headers["HX-Replace-Url"] == "/themes?channel=email"
    assert "<html" not in t.text and ('id="themes-table"' in t.text or 'id="themes-empty"' in t.text)


def test_feedback_rows_show_aspect_sentiment_of_their_clauses(client, sample_ws):
    from cxlens.voice.aspects import aspect_sentiment

    api = client.get("/api/v1/voice/feedback").json()
    page = client.get("/feedback").text
    rows = api["rows"]
    tx = theme_model(sample_ws)[0]
    english = [r for r in rows if r["language"] == "en"]
    expected = aspect_sentiment([r["text"] for r in english], [r["verbatim_id"] for r in english], extractor=tx)
    labels = re.findall(r'data-aspect="([^"]*)" data-label="([^"]*)"', page)
    want = list(zip(expected["name"], expected["label"], strict=True))
    assert [(html.unescape(a), b) for a, b in labels] == want


def test_stored_theme_model_is_reused_and_edits_persist(own):
    with cxlens.open(own) as ws:
        assert load_themes(ws) is None
        v = verbatims(ws)
        en = v[v["is_english"].eq(True)]
        tx = ThemeExtractor(n_themes=6).fit(en["text"].tolist())
        save_themes(ws, tx)
        edit_themes(ws, rename={"t0": "<script>x</script> Billing"}, merge=[("t1", "t2")], pin=["t3"])
    with cxlens.open(own) as ws:  # persisted in the workspace file
        got = load_themes(ws)
        assert got.names()["t0"] == "<script>x</script> Billing"
        assert "t2" not in got.names() and next(t for t in got.themes_ if t["id"] == "t3")["pinned"]
        assert workspace_themes(ws).to_dict() == got.to_dict()  # every page uses the stored model
        assert ws.setting(THEME_SETTING)["format"] == "cxlens.themes/2"
    with TestClient(create_app(own)) as c:
        page = c.get("/themes").text
        assert "&lt;script&gt;x&lt;/script&gt; Billing" in page and "<script>x</script>" not in page
        fb = c.get("/feedback").text
        assert '<option value="t0">&lt;script&gt;x&lt;/script&gt; Billing</option>' in fb
        assert "t2" not in re.findall(r'<option value="(t\d+)"', fb)


def test_cli_themes_save_rename_and_reuse(own, monkeypatch):
    from typer.testing import CliRunner

    from cxlens.cli import app

    runner = CliRunner()
    monkeypatch.setenv("CXLENS_WORKSPACE", str(own))
    r = runner.invoke(app, ["voice", "themes", "--k", "6", "--save", "--format", "json"])
    assert r.exit_code == 0, r.output
    with cxlens.open(own) as ws:
        first = load_themes(ws)
    r = runner.invoke(app, ["voice", "themes", "--rename", "t1=Delivery woes", "--format", "json"])
    assert r.exit_code == 0, r.output
    with cxlens.open(own) as ws:
        again = load_themes(ws)
    assert again.names()["t1"] == "Delivery woes"
    assert [t["id"] for t in again.themes_] == [t["id"] for t in first.themes_]  # ids stable, no refit
    assert "Delivery woes" in r.output
    # analyse labels every English verbatim with the stored model (ids and edited names)
    r = runner.invoke(app, ["voice", "analyse", "--format", "json"])
    assert r.exit_code == 0, r.output
    rows = pd.read_json(io.StringIO(r.stdout[r.stdout.index("[") :]))
    en = rows[rows["is_english"].eq(True)]
    expected = again.assign(en["text"].tolist())  # no theme: the "other" group
    assert en["theme"].tolist() == expected["theme"].fillna("other").tolist()
    assert en["theme_name"].tolist() == expected["theme_name"].fillna("Other (no theme)").tolist()
    assert "Delivery woes" in set(en["theme_name"])
    bad = runner.invoke(app, ["voice", "themes", "--merge", "t1"])
    assert bad.exit_code != 0 and "is not of the form A,B" in str(bad.exception)


def test_top_pain_points_equal_pain_points_ranked_by_negative_volume(sample_ws):
    from cxlens.voice import pain_points

    got = top_pain_points(sample_ws, top=5)
    v = verbatims(sample_ws)
    en = v[v["is_english"].eq(True)].reset_index(drop=True)
    en["sentiment"] = default_model().score(en["text"].tolist())["score"].to_numpy()
    tx = theme_model(sample_ws)[0]  # the stored model the themes job fitted
    pp = pain_points(en, tx, by=("stage", "touchpoint"), top=5, min_negative=2)
    pp = pp.sort_values(["negative", "negative_share"], ascending=False, kind="stable")
    # the five issue themes, then the cell with the most negative verbatims without a theme
    pp = pd.concat([pp[pp["issue"]].head(5), pp[~pp["issue"]].head(1)])
    assert len(got) == len(pp) >= 5 and got["issue"].tolist() == pp["issue"].tolist()
    assert got["negative"].tolist() == pp["negative"].tolist()
    assert got["theme"].tolist() == pp["theme"].tolist()
    # a negative count is the number of negative verbatims carrying the theme in that cell
    r = got.iloc[0]

    def same(col: str) -> pd.Series:  # null-safe equality (relationship NPS has no touchpoint)
        return en[col].fillna("∅") == ("∅" if pd.isna(r[col]) else r[col])

    cell = en[same("stage") & same("touchpoint")]
    assert len(cell) >= r["n"]
    themes = tx.assign(cell["text"].tolist())["themes"]
    assert r["negative"] == sum((s < 0) and (r["theme"] in t) for s, t in zip(cell["sentiment"], themes, strict=True))


def test_overview_shows_the_top_pain_points(client, sample_ws):
    expected = top_pain_points(sample_ws)
    # the overview loads the section after its tiles (hx-trigger="load"), with the page's filters
    home = client.get("/", params={"channel": "web"}).text
    assert re.search(r'id="painpoints-slot" hx-get="/partials/overview/painpoints\?[^"]*channel=web"', home)
    assert 'id="painpoints-slot"' in client.get("/partials/overview").text
    page = client.get("/partials/overview/painpoints").text
    assert 'id="painpoints-table"' in page
    got = [int(x) for x in re.findall(r'data-field="negative">(\d+)<', page)]
    assert got == expected["negative"].tolist()
    # every effect shows its 95% interval and, on hover, what its sign means
    for r in expected.itertuples():
        if pd.notna(r.effect):
            assert f"{r.low:+.1f} to {r.high:+.1f}".replace("-", "−") in page
            assert html.escape(r.explanation, quote=True) in page
    assert "minus the score of those that do not" in page


def test_journey_map_carries_sentiment_and_top_negative_theme(sample_ws, client):
    m = sample_ws.journeys.map()
    v = verbatims(sample_ws)
    en = v[v["is_english"].eq(True)].reset_index(drop=True)
    en["s"] = default_model().score(en["text"].tolist())["score"].to_numpy()
    mean = en.fillna({"stage": "∅", "touchpoint": "∅"}).groupby(["stage", "touchpoint"])["s"].mean()
    checked = 0
    for r in m.itertuples():
        key = (r.stage or "∅", r.touchpoint or "∅")
        if key in mean.index:
            assert r.sentiment == pytest.approx(mean.loc[key])
            checked += 1
        else:
            assert np.isnan(r.sentiment)
    assert checked >= 3
    jv = journey_voice(sample_ws).set_index(["stage", "touchpoint"])
    assert (
        m.set_index(["stage", "touchpoint"]).loc[jv.index, "negative_themes"].tolist() == jv["negative_themes"].tolist()
    )
    page = client.get("/journey").text
    cells = [html.unescape(c) for c in re.findall(r'data-field="sentiment">([^<]*)<', page)]
    assert cells and all(c == "—" or -1 <= float(c) <= 1 for c in cells)
    assert 'data-field="negative_theme"' in page


@pytest.mark.browser
def test_choosing_a_theme_swaps_the_results_and_the_url_in_a_browser(server, page, sample_ws):
    v, _ = _english_themes(sample_ws)
    theme = v["themes"].explode().dropna().value_counts().index[0]
    expected = sum(theme in t for t in v["themes"])
    page.goto(f"{server}/feedback")
    page.select_option("#fb-theme", theme)  # change → hx-get /partials/feedback
    page.wait_for_selector(f'#feedback-total[data-total="{expected}"]', timeout=20_000)
    assert f"theme={theme}" in page.url  # HX-Replace-Url
    assert page.locator("#feedback-form").count() == 1  # only the results were swapped
    assert page.errors == []
