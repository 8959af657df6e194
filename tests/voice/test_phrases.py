"""Key phrases: stems, terms, surface forms and labels computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from cxlens.voice.phrases import STOP_WORDS, analyse, label, phrase_scores, stem, surface_forms, tokens


@pytest.mark.parametrize(
    ("words", "same"),
    [
        (["cancelled", "canceled", "cancellation", "Cancelled", "cancelling", "cancel"], True),
        (["delayed", "delays", "delay", "delaying"], True),
        (["bag", "bags"], True),
        (["refund", "refunded", "refunds"], True),
        (["dress", "dresses"], True),
        (["late", "latest"], False),
        (["bag", "baggage"], False),
    ],
)
def test_stem_joins_the_inflections_of_one_word_only(words, same):
    assert (len({stem(w) for w in words}) == 1) is same


def test_stem_keeps_short_and_listed_words():
    assert stem("bus") == "bus" and stem("was") == "was" and stem("dress") == "dress" and stem("fly") == "fly"
    assert stem("stopped") == "stop" and stem("it's") == "its"


def test_tokens_drop_links_handles_and_entities_and_keep_clause_punctuation():
    assert tokens("@united LATE &amp; see http://t.co/x again, now!") == ["late", "see", "again", ",", "now", "!"]
    assert tokens(None) == [] and tokens(float("nan")) == []


def test_terms_are_content_stems_and_adjacent_pairs_within_a_clause():
    assert analyse("The lost bags, never found. Customer service was rude") == [
        "lost", "bag", "lost bag", "found", "customer", "service", "customer service", "rude",
    ]  # fmt: skip
    # a stop word or punctuation breaks a pair: no "bag found" and no "found customer"
    assert "bag found" not in analyse("lost bags, never found")
    assert {"im", "dont", "thanks", "just"} <= STOP_WORDS


def test_surface_form_is_the_most_frequent_spelling():
    forms = surface_forms(["Lost bags", "lost bag", "LOST BAGS", "lost bags again"])
    assert forms["lost bag"] == "lost bags" and forms["bag"] == "bags" and forms["lost"] == "lost"
    # ties go to the alphabetically first form
    assert surface_forms(["delayed", "delays"])["delay"] == "delayed"


def test_phrase_scores_are_member_share_times_log_lift():
    member = np.array([8.0, 2.0, 0.0])
    corpus = np.array([10.0, 50.0, 30.0])
    got = phrase_scores(member, 10, corpus, 100)
    share = member / 10
    lift = (member + 0.5) / 11 / ((corpus + 1) / 101)
    assert got[0] == pytest.approx(share[0] * math.log(lift[0]))
    assert got[1] == 0.0  # less frequent among members than in the corpus: lift below 1 counts as none
    assert got[2] == 0.0
    assert phrase_scores(member, 0, corpus, 100).tolist() == [0.0, 0.0, 0.0]


def test_label_prefers_a_strong_collocation_and_adds_a_disjoint_second_phrase():
    vocab = ["late", "late flight", "crew", "late crew", "gate"]
    surface = {"late": "late", "late flight": "Late Flight", "crew": "crew", "late crew": "late crew"}
    scores = np.array([2.0, 0.9, 0.6, 0.55, 0.1])
    name, phrases = label(scores, vocab, surface)
    # "late flight" scores 0.45 of "late" (≥ 0.4): it replaces it; "crew" (0.30 of the top, ≥ 0.25) is
    # added; "late crew" repeats a word shown; "gate" is below a quarter of the top
    assert name == "Late Flight · crew"
    assert phrases[:2] == ["Late Flight", "crew"] and "late crew" not in phrases
    assert label(np.zeros(5), vocab, surface) == ("", [])


def test_label_joins_a_bare_word_with_the_modifier_members_write_next_to_it():
    vocab = ["bag", "lost", "lost bag", "luggage", "check bag"]
    surface = {"lost bag": "lost bags"}
    # "lost" scores 0.2 of "bag" (≥ 0.1) and "lost bag" 0.25 of "lost" (≥ 0.1): the name is the pair
    # as written; "luggage" (0.35 of "bag"'s 2.0 < 0.25) is no second part; "check bag" comes after
    name, phrases = label(np.array([2.0, 0.4, 0.1, 0.3, 0.2]), vocab, surface)
    assert name == "Lost bags" and phrases[0] == "lost bags"
    assert "bag" not in phrases and "lost" not in phrases  # the pair stands for both words
    # members who write "lost" rarely write it next to "bag" (pair < 0.1 of "lost"): the bare word stays
    name, phrases = label(np.array([2.0, 0.4, 0.03, 0.3, 0.2]), vocab, surface)
    assert name == "Bag" and phrases[:2] == ["bag", "lost"]
    # a collocation first is never modified
    assert label(np.array([0.5, 0.4, 2.0, 0.1, 0.0]), vocab, surface)[0] == "Lost bags"


def test_label_never_names_a_theme_by_days_times_or_light_verbs():
    vocab = ["monday", "tuesday morning", "order", "minute", "great support", "days late", "does"]
    surface = {"monday": "Monday", "tuesday morning": "Tuesday morning"}
    scores = np.array([2.0, 1.8, 1.2, 1.1, 0.9, 0.2, 0.1])
    name, phrases = label(scores, vocab, surface)
    # the two strongest phrases are a day and a time of day: the name starts at "order", and its second
    # part ("great support", 0.75 of "order") skips "minute"; the key phrases put those that can name
    # an issue first, in order, then the others
    assert name == "Order · great support"
    assert phrases == ["order", "great support", "days late", "Monday", "Tuesday morning", "minute", "does"]
    # a collocation with a time word names the issue ("days late"); only time words alone are skipped
    assert label(np.array([0.1, 0.1, 0.0, 0.5, 0.0, 2.0, 1.0]), vocab, surface)[0] == "Days late"
    # nothing but time words: they are all there is to say
    assert label(np.array([2.0, 1.0, 0, 0, 0, 0, 0]), vocab, surface)[0] == "Monday · Tuesday morning"


def test_label_leaves_out_phrases_made_only_of_avoided_words():
    vocab = ["worst", "acme", "seat", "legroom", "worst seat"]
    surface = {"acme": "Acme"}
    scores = np.array([2.0, 1.8, 1.0, 0.5, 0.3])
    # without ``avoid`` the strongest phrase, joined with "seat" (written next to it), and the second name it
    assert label(scores, vocab, surface)[0] == "Worst seat · Acme"
    # an opinion word and the company's name are skipped: "seat" leads, "legroom" (0.5 ≥ a quarter of
    # the new first, 1.0) is the second part; the skipped phrases come last among the key phrases
    name, phrases = label(scores, vocab, surface, avoid=frozenset({"worst", "acme"}))
    assert name == "Seat · legroom"
    assert phrases == ["seat", "legroom", "worst", "Acme"]
    # a phrase that also says what stays: "worst seat" (1.5 ≥ 0.4 of "worst") replaces "worst" and
    # names the theme; "legroom" (0.5 ≥ 0.25 × 1.5) follows
    scores = np.array([2.0, 1.8, 1.0, 0.5, 1.5])
    assert label(scores, vocab, surface, avoid=frozenset({"worst", "acme"}))[0] == "Worst seat · legroom"
    # nothing but avoided words: they are all there is to say
    assert label(np.array([2.0, 1.8, 0, 0, 0]), vocab, surface, avoid=frozenset({"worst", "acme"}))[0] == "Worst · Acme"
