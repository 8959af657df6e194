"""Aspect-level sentiment: clause splitting, theme mentions and per-theme sentiment."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from cxlens.errors import ConfigError
from cxlens.voice.aspects import ASPECT_COLUMNS, aspect_sentiment, split_clauses
from cxlens.voice.sentiment import default_model


@pytest.mark.parametrize(
    ("text", "clauses"),
    [
        ("The fit is perfect but the fabric is itchy.", ["The fit is perfect", "the fabric is itchy."]),
        ("Fast delivery; rude staff", ["Fast delivery", "rude staff"]),
        ("Great price and the colour is lovely", ["Great price", "the colour is lovely"]),
        ("Black and white stripes", ["Black and white stripes"]),  # "and" without a new subject: one clause
        ("", []),
        (None, []),
        ("...", []),
    ],
)
def test_clauses_split_at_sentence_ends_contrasts_and_new_subjects(text, clauses):
    assert split_clauses(text) == clauses


def test_each_theme_gets_the_sentiment_of_its_own_clause():
    texts = [
        "The fit is perfect but the fabric is itchy and uncomfortable.",
        "Love the colour. The material is awful and the fit is terrible.",
        "Arrived quickly.",
        "Nothing to do with any aspect here",
    ]
    df = aspect_sentiment(texts, ids=["a", "b", "c", "d"])
    assert list(df.columns) == ASPECT_COLUMNS
    got = {(r.verbatim, r.theme): "+" if r.score > 0 else "-" for r in df.itertuples()}
    assert got == {
        ("a", "fit"): "+",
        ("a", "fabric"): "-",
        ("b", "colour"): "+",
        ("b", "fabric"): "-",
        ("b", "fit"): "-",
        ("c", "delivery"): "+",
    }
    # the score of a theme is the model's score of its clause alone (computed independently)
    clause = default_model().score(["the fabric is itchy and uncomfortable."]).iloc[0]
    row = df[(df.verbatim == "a") & (df.theme == "fabric")].iloc[0]
    assert row["score"] == pytest.approx(clause["score"])
    assert row["text"] == "the fabric is itchy and uncomfortable."
    assert df.groupby("verbatim")["themes_in_verbatim"].first().to_dict() == {"a": 2, "b": 3, "c": 1}


def test_a_theme_in_several_clauses_averages_their_probabilities():
    df = aspect_sentiment(["The fit is great. The fit is awful."], rules={"Fit": ["fit"]})
    probs = default_model().score(["The fit is great.", "The fit is awful."])
    expected = probs[["p_negative", "p_neutral", "p_positive"]].mean().to_numpy()
    row = df.iloc[0]
    assert (row["theme"], row["clauses"]) == ("Fit", 2)
    np.testing.assert_allclose(row[["p_negative", "p_neutral", "p_positive"]].to_numpy(float), expected)
    assert row["score"] == pytest.approx(expected[2] - expected[0])
    assert row["text"] == "The fit is great. … The fit is awful."


def test_a_fitted_extractor_supplies_themes_and_names():
    from cxlens.voice.themes import ThemeExtractor

    corpus = ["the fit is too small", "fit runs small", "lovely soft fabric", "the fabric is thin"] * 5
    tx = ThemeExtractor(n_themes=2, min_df=1, rules={"Delivery": ["parcel"]}).fit(corpus)
    tx.rename("t0", "First theme")
    df = aspect_sentiment(["the parcel was late but the fit is too small"], extractor=tx)
    assert "Delivery" in set(df["theme"])
    names = dict(zip(df["theme"], df["name"], strict=True))
    assert names["Delivery"] == "Delivery"
    assert all(names[t] == tx.names()[t] for t in names)
    assert df.set_index("theme").loc["Delivery", "text"] == "the parcel was late"


def test_no_clauses_or_no_mentions_give_an_empty_frame_and_bad_input_says_so():
    assert aspect_sentiment([]).columns.tolist() == ASPECT_COLUMNS
    assert aspect_sentiment(["hello there"]).empty
    with pytest.raises(ConfigError, match="single string"):
        aspect_sentiment("The fit is great")
    with pytest.raises(ConfigError, match="ids has 1 values for 2 texts"):
        aspect_sentiment(["a", "b"], ids=["x"])


@pytest.mark.realdata
def test_clothing_reviews_covering_fit_and_fabric_get_per_aspect_sentiment():
    from benchmarks.sentiment import real_data_dir

    d = real_data_dir()
    f = pd.read_csv(d / "womens-clothing-reviews-full/womens_clothing_ecommerce_reviews.csv")
    f = f.dropna(subset=["Review Text"]).iloc[:3000]
    df = aspect_sentiment(f["Review Text"].tolist(), ids=f.index.tolist())
    both = df[df["theme"].isin(["fit", "fabric"])].pivot(index="verbatim", columns="theme", values="score").dropna()
    assert len(both) > 200  # many reviews talk about both fit and fabric
    # aspects often disagree: the two scores have opposite signs in a real share of those reviews
    opposite = (np.sign(both["fit"]) != np.sign(both["fabric"])).mean()
    assert opposite > 0.1
    # and aspect sentiment follows the star rating: fabric scores of 1-2★ reviews are lower than of 5★
    rating = f["Rating"]
    fab = df[df["theme"] == "fabric"].set_index("verbatim")["score"]
    low, high = fab[rating.loc[fab.index] <= 2].mean(), fab[rating.loc[fab.index] == 5].mean()
    assert low < 0 < high
