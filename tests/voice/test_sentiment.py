"""The shipped sentiment model, the VADER wrapper, the benchmark metrics and file scoring."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from benchmarks.sentiment import (
    TRAINING_SOURCES,
    airline_tweets,
    evaluate,
    file_hashes,
    is_heldout,
    metrics,
    polarity_accuracy,
    training_corpus,
)

import cxlens.voice as voice
from cxlens.errors import SchemaError
from cxlens.voice import SentimentAnalyzer, SentimentModel, VaderAnalyzer, analyse_sentiment, score_file
from cxlens.voice.sentiment import DEFAULT_WEIGHTS, emoticons_and_emoji, featurise, lexicon_arrays, symbol_tables

ROOT = Path(__file__).resolve().parents[2]

# measured with the shipped weights (docs/sentiment.md); floors leave a small margin
AIRLINE_SLICE_MACRO_F1 = 0.62  # measured 0.629 with sentiment-v4 (v3 0.634; VADER 0.452) on every fifth tweet
HELDOUT_SLICE_MACRO_F1 = 0.72  # measured 0.721 with v4 (v3 0.717) on the first 500 held-out rows per source
MARGIN = 0.02


def test_public_names_are_pinned():
    assert voice.__all__ == [
        "CLASSES",
        "LABELS",
        "MIXED_MIN",
        "SIGNALS",
        "SentimentAnalyzer",
        "SentimentModel",
        "ThemeExtractor",
        "VaderAnalyzer",
        "analyse_sentiment",
        "analyse_verbatims",
        "aspect_sentiment",
        "coherence",
        "default_model",
        "detect_language",
        "driver_quadrant_chart",
        "emerging_themes",
        "find_pii",
        "is_english",
        "key_drivers",
        "pain_points",
        "redact",
        "redact_series",
        "relative_weights",
        "score_file",
        "shapley_importance",
        "signals",
        "theme_summary",
        "verbatims",
    ]
    for name in voice.__all__:
        assert hasattr(voice, name)


def test_shipped_weights_are_small_and_describe_their_training_data():
    assert DEFAULT_WEIGHTS.stat().st_size < 3_000_000
    meta = SentimentModel.load().meta_
    assert set(meta["training_rows"]) == set(TRAINING_SOURCES)
    assert not any("airline" in rel or "olist" in rel for rel in meta["data_sha256"])


def test_saved_weights_are_byte_identical_for_the_same_model(tmp_path):
    texts = ["I love it", "terrible, never again", "the parcel arrived", "great value", "awful", "it is a box"]
    labels = ["positive", "negative", "neutral", "positive", "negative", "neutral"]
    a = SentimentModel(bits=12).fit(texts, labels).save(tmp_path / "a.npz", version="t")
    b = SentimentModel(bits=12).fit(texts, labels).save(tmp_path / "b.npz", version="t")
    assert a.read_bytes() == b.read_bytes()  # no timestamps in the archive
    back = SentimentModel.load(a)
    np.testing.assert_array_equal(back.predict_proba(texts), SentimentModel.load(b).predict_proba(texts))


def test_polarity_accuracy_leaves_neutral_gold_out():
    gold = ["positive", "negative", "neutral", "positive", "negative"]
    score = [0.4, 0.2, -0.9, -0.1, -0.5]
    # positive 0.4 ✓, negative 0.2 ✗, neutral skipped, positive −0.1 ✗, negative −0.5 ✓ → 2 of 4
    assert polarity_accuracy(gold, score) == 0.5
    assert np.isnan(polarity_accuracy(["neutral"], [0.3]))


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("I love it", "positive"),
        ("terrible, never again", "negative"),
        ("not good", "negative"),
        # short factual text and questions are neutral (a strict xfail with sentiment-v2)
        ("the parcel arrived on Tuesday", "neutral"),
        ("Can you tell me if flight 123 is on time?", "neutral"),
        ("The store opens at 9am.", "neutral"),
        ("Absolutely fantastic service, thank you!", "positive"),
        ("The worst customer service I have ever had.", "negative"),
        # emoji read as their names and emoticons as valence tokens (v3: positive, positive, neutral, positive)
        ("😡😡", "negative"),
        ("😊", "positive"),
        ("<3", "positive"),
        ("thanks :(", "negative"),
    ],
)
def test_hand_examples_get_the_obvious_label(text, label):
    assert analyse_sentiment([text])["label"].item() == label


def test_negation_flips_the_score_of_a_positive_word():
    s = analyse_sentiment(["good", "not good", "I did not like it", "I liked it"])["score"].to_numpy()
    assert s[0] > 0 > s[1]
    assert s[3] > 0 > s[2]


def test_scores_lie_in_range_and_equal_p_positive_minus_p_negative():
    texts = ["great", "awful", "", None, "ok I guess", "love the colour but it fell apart", "x" * 5000, "😀👍"]
    res = analyse_sentiment(texts)
    assert list(res.columns) == ["score", "label", "p_negative", "p_neutral", "p_positive"]
    assert len(res) == len(texts)
    assert res["score"].between(-1, 1).all()
    np.testing.assert_allclose(res["score"], res["p_positive"] - res["p_negative"], atol=1e-12)
    np.testing.assert_allclose(res[["p_negative", "p_neutral", "p_positive"]].sum(axis=1), 1.0, atol=1e-9)
    assert set(res["label"]) <= set(voice.LABELS)


def test_mixed_label_exactly_when_both_polarities_reach_the_threshold():
    texts = ["the staff were lovely but the room was filthy", "great", "terrible", "the food was good, the wait awful"]
    res = analyse_sentiment(texts)
    mixed = (res["p_negative"] >= voice.MIXED_MIN) & (res["p_positive"] >= voice.MIXED_MIN)
    assert ((res["label"] == "mixed") == mixed).all()
    argmax = np.array(voice.CLASSES)[res[["p_negative", "p_neutral", "p_positive"]].to_numpy().argmax(axis=1)]
    assert (res["label"][~mixed] == argmax[~mixed]).all()


def test_scoring_is_deterministic_and_independent_of_batching():
    texts = ["I love it", "meh", "never again", "delivery was late but the product is great"] * 50
    m = SentimentModel.load()
    a = m.score(texts)
    b = m.score(texts, batch_size=7)
    pd.testing.assert_frame_equal(a, b)
    pd.testing.assert_frame_equal(a.iloc[:4], m.score(texts[:4]))


def test_features_hash_the_same_ngram_to_the_same_column_wherever_it_occurs():
    f = featurise(["good", "really good"], bits=18, char_ngrams=(3,))
    first = set(f["cols"][f["rows"] == 0])
    second = set(f["cols"][f["rows"] == 1])
    assert first <= second and len(second) > len(first)


def test_emoticons_become_valence_tokens_and_emoji_their_names():
    emoticons, emoji = emoticons_and_emoji()
    # VADER's lexicon (vader_lexicon.txt): ":)" 2.0, ":(" -1.9, ":-(" -1.5, ":D" 2.3, "<3" 1.9, ";)" 0.9
    assert emoticons[":)"] == "emopos2" and emoticons[":("] == "emoneg2" and emoticons[":-("] == "emoneg2"
    assert emoticons[":d"] == "emopos2" and emoticons["<3"] == "emopos2" and emoticons[";)"] == "emopos1"
    assert emoji["😡"] == "pouting face" and emoji["👍"] == "thumbs up"
    sym = symbol_tables(emoticons, emoji)

    def words(texts, symbols=sym):
        f = featurise(texts, bits=18, char_ngrams=(), symbols=symbols)
        return [set(f["cols"][f["rows"] == i]) for i in range(len(texts))]

    # an emoji (with a skin tone and a variation selector) reads as its name, even glued to a word
    a, b, c = words(["great👍🏽", "great thumbs up", "great ☺️"])
    assert a == b and c != b
    # an emoticon between spaces or at either end of a text is a token; inside a word it is not
    e1, e2, e3, e4, plain = words([":) fine", "emopos2 fine", "fine :)", "fine emopos2", "fine"])
    assert e1 == e2 and e3 == e4 and plain < e3
    assert words(["a:)b"]) == words(["a:)b"], None)


def test_emoticons_carry_their_lexicon_valence():
    lex = lexicon_arrays()
    sym = symbol_tables(*emoticons_and_emoji())
    f = featurise(["fine :)", "fine :(", "fine"], bits=18, char_ngrams=(), lexicon=lex, symbols=sym)

    def has(row, value):
        return bool(np.isclose(f["vals"][f["rows"] == row], value, atol=1e-4).any())

    # VADER: "fine" 0.8; ":)" is emopos2 (+2), ":(" emoneg2 (-2); features are log(1 + sum)
    assert has(0, np.log1p(2.8)) and has(1, np.log1p(0.8)) and has(1, np.log1p(2.0)) and has(2, np.log1p(0.8))
    assert not has(2, np.log1p(2.0)) and not has(2, np.log1p(2.8))
    plain = featurise(["fine :)"], bits=18, char_ngrams=(), lexicon=lex)  # without symbols: no emoticon
    assert not np.isclose(plain["vals"], np.log1p(2.8), atol=1e-4).any()


def test_symbols_round_trip_through_the_weights_file(tmp_path):
    texts = ["love it :)", "awful :(", "the parcel arrived", "great 👍", "worst 😡", "it is a box"]
    labels = ["positive", "negative", "neutral", "positive", "negative", "neutral"]
    path = SentimentModel(bits=12, symbols=True).fit(texts, labels).save(tmp_path / "s.npz", version="t")
    back = SentimentModel.load(path)
    assert back.symbols and back.meta_["emoticons"][":)"] == "emopos2"
    np.testing.assert_array_equal(back.predict_proba(texts), SentimentModel.load(path).predict_proba(texts))
    without = SentimentModel(bits=12).fit(texts, labels)
    assert not SentimentModel.load(without.save(tmp_path / "p.npz")).symbols


def test_unfitted_model_says_so():
    with pytest.raises(ValueError, match="not fitted yet"):
        SentimentModel().score(["hi"])


def test_analysers_share_one_interface():
    assert isinstance(SentimentModel.load(), SentimentAnalyzer)
    vader = VaderAnalyzer()
    assert isinstance(vader, SentimentAnalyzer)
    res = vader.score(["I love it", "terrible, never again", "the parcel arrived on Tuesday"])
    assert res["label"].tolist() == ["positive", "negative", "neutral"]


def test_vader_labels_follow_the_standard_compound_thresholds():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts = ["ok", "good", "bad", "the sky is blue", "not bad at all", "so-so"]
    sia = SentimentIntensityAnalyzer()
    compound = [sia.polarity_scores(t)["compound"] for t in texts]
    expected = ["positive" if c >= 0.05 else "negative" if c <= -0.05 else "neutral" for c in compound]
    assert VaderAnalyzer().score(texts)["label"].tolist() == expected


def test_metrics_match_a_hand_computed_confusion_matrix():
    gold = ["negative", "negative", "neutral", "positive", "positive", "positive"]
    pred = ["negative", "neutral", "neutral", "positive", "negative", "positive"]
    m = metrics(gold, pred)
    assert m["confusion"] == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert m["accuracy"] == pytest.approx(4 / 6)
    # F1: negative p=1/2 r=1/2 → 0.5; neutral p=1/2 r=1 → 2/3; positive p=1 r=2/3 → 0.8
    assert m["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0.8) / 3)


def test_holdout_rule_is_a_stable_fifth():
    ids = pd.Series(range(20_000))
    h = is_heldout("clothing", ids)
    assert 0.19 < h.mean() < 0.21
    assert (h == is_heldout("clothing", ids)).all()
    assert (h != is_heldout("finefood", ids)).any()


# -- score_file -------------------------------------------------------------------------
def test_score_file_keeps_every_row_and_column(tmp_path):
    src = tmp_path / "in.csv"
    frame = pd.DataFrame(
        {"id": ["1", "2", "3"], "text": ["I love it", "terrible, never again", ""], "note": ["a", "b, with comma", "c"]}
    )
    frame.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    res = score_file(src, fmt="csv", out=out)
    back = pd.read_csv(out, dtype=str, keep_default_na=False)
    assert list(back.columns) == ["id", "text", "note", "sentiment_score", "sentiment_label"]
    assert back["id"].tolist() == ["1", "2", "3"] and back["note"].tolist() == frame["note"].tolist()
    assert back["sentiment_label"].tolist()[:2] == ["positive", "negative"]
    expected = analyse_sentiment(["I love it", "terrible, never again", None])["score"].round(4)
    np.testing.assert_allclose(back["sentiment_score"].astype(float), expected)
    assert len(res) == 3


def test_score_file_writes_json_lines(tmp_path):
    src = tmp_path / "in.jsonl"
    src.write_text('{"comment": "not good", "n": 1}\n{"comment": "I love it", "n": 2}\n')
    out = tmp_path / "out.jsonl"
    score_file(src, text_column="comment", fmt="json", out=out)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["n"] for r in rows] == [1, 2]
    assert [r["sentiment_label"] for r in rows] == ["negative", "positive"]


def test_score_file_names_the_missing_text_column(tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("id,comment\n1,great\n")
    with pytest.raises(SchemaError, match=r"no column 'text' \(columns: id, comment\)"):
        score_file(src)


# -- real data --------------------------------------------------------------------------
@pytest.mark.realdata
def test_beats_vader_on_an_airline_tweet_slice(real_data):
    tweets = airline_tweets(real_data).iloc[::5]  # every fifth tweet: 2,928
    ours = evaluate(SentimentModel.load(), tweets["text"].tolist(), tweets["label"])
    base = evaluate(VaderAnalyzer(), tweets["text"].tolist(), tweets["label"])
    assert ours["macro_f1"] >= AIRLINE_SLICE_MACRO_F1 - MARGIN
    assert ours["macro_f1"] > base["macro_f1"] + 0.1  # the goal: a clear margin


@pytest.mark.realdata
def test_documented_macro_f1_on_a_heldout_slice(real_data):
    corpus = training_corpus(real_data)
    held = corpus[corpus["heldout"]].groupby("source").head(500)
    ours = evaluate(SentimentModel.load(), held["text"].tolist(), held["label"])
    assert ours["macro_f1"] >= HELDOUT_SLICE_MACRO_F1 - MARGIN


@pytest.mark.realdata
def test_training_never_reads_noncommercial_sets(real_data):
    corpus = training_corpus(real_data)
    assert set(corpus["source"]) == set(TRAINING_SOURCES)
    tweets = set(airline_tweets(real_data)["text"])
    assert not tweets & set(corpus["text"])
    assert not any("airline" in rel or "olist" in rel for rel in file_hashes(real_data, TRAINING_SOURCES))


@pytest.mark.realdata
@pytest.mark.slow
def test_training_script_rebuilds_the_shipped_weights(real_data, tmp_path):
    """The script rebuilds the shipped model from the licensed sources: the same vocabulary, lexicon and
    metadata byte for byte, and the same fitted weights up to the solver's floating-point noise across
    NumPy/SciPy/scikit-learn builds (float16 storage; a fresh environment moved no weight by more than
    0.03 and 0.3 % of labels), so the same answers on 14,640 tweets it was never trained on."""
    import subprocess
    import sys

    out = tmp_path / "rebuilt.npz"
    res = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "train_sentiment.py"), "--data", str(real_data), "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert res.returncode == 0, res.stderr
    with np.load(DEFAULT_WEIGHTS, allow_pickle=False) as shipped, np.load(out, allow_pickle=False) as rebuilt:
        assert sorted(shipped.files) == sorted(rebuilt.files)
        for name in ("lexicon_keys", "lexicon_values", "meta"):
            assert np.array_equal(shipped[name], rebuilt[name]), name
        for name in ("coef", "intercept"):
            assert shipped[name].shape == rebuilt[name].shape
            assert float(np.max(np.abs(shipped[name].astype(float) - rebuilt[name].astype(float)))) < 0.1, name
    texts = pd.read_csv(real_data / "airline-tweets" / "Tweets.csv")["text"].tolist()
    cols = ["p_negative", "p_neutral", "p_positive"]
    a = SentimentModel.load().score(texts)[cols].to_numpy()
    b = SentimentModel.load(out).score(texts)[cols].to_numpy()
    assert (a.argmax(1) == b.argmax(1)).mean() >= 0.99
    assert float(np.max(np.abs(a - b))) < 0.05


def test_interleaved_evaluation_gives_each_analyser_its_own_metrics():
    from benchmarks.sentiment import evaluate_pair

    texts = ["I love it", "terrible, never again", "the parcel arrived", "not good at all"]
    gold = ["positive", "negative", "neutral", "negative"]
    a, b = evaluate_pair(SentimentModel.load(), VaderAnalyzer(), texts, gold, repeat=2)
    ours = SentimentModel.load().score(texts)
    expected = metrics(
        gold, np.array(voice.CLASSES)[ours[["p_negative", "p_neutral", "p_positive"]].to_numpy().argmax(1)]
    )
    assert a["confusion"] == expected["confusion"] and a["macro_f1"] == expected["macro_f1"]
    assert b["confusion"] == metrics(gold, VaderAnalyzer().score(texts)["label"])["confusion"]
    assert a["texts_per_s"] > 0 and b["texts_per_s"] > 0
