"""Key phrases of short customer texts: tokens, light stemming, collocations and readable labels.

The theme model (:mod:`cxlens.voice.themes`) counts *terms*: the stems of content words
("cancelled", "cancellation", "Cancelled" → ``cancel``) and the stems of two adjacent content
words inside one clause ("lost bag", "lost bags" → ``lost bag``), so that the spellings of one
issue count as one. A term is shown to people in the surface form its texts use most often
("lost bags"), never as a stem.

A theme's label is built from its members' own key phrases: the terms most over-represented in
the theme (frequency among members × log of the lift over the whole corpus, the class-based
TF-IDF idea of Grootendorst 2022), preferring a two-word collocation to the single word it
contains when the collocation carries most of that word's weight ("customer service" rather
than "service").

No tagger or downloaded model is needed: a clause is a run of words between punctuation and
stop words, which approximates noun phrases and verb–object pairs well enough for short text.

Examples
--------
>>> analyse("Cancelled Flights and LOST bags!!")
['cancel', 'flight', 'cancel flight', 'lost', 'bag', 'lost bag']
>>> stem("cancellation"), stem("delayed"), stem("luggage")
('cancel', 'delay', 'luggage')
"""

from __future__ import annotations

import functools
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np

__all__ = [
    "CONTENT_WORDS",
    "NOT_NAMES",
    "STOP_WORDS",  # noqa: F822 (module __getattr__)
    "analyse",
    "label",
    "phrase_scores",
    "stem",
    "surface_forms",
    "tokens",
]

_URL = re.compile(r"https?://\S+|www\.\S+")
_HANDLE = re.compile(r"@\w+")
_ENTITY = re.compile(r"&(amp|lt|gt|quot|#\d+);")
#: words (letters and inner apostrophes) and the punctuation that ends a clause
_TOKEN = re.compile(r"[^\W\d_](?:[^\W\d_]|['’](?=[^\W\d_]))*|[.!?,;:()\"/]")


@functools.cache
def _stop_words() -> frozenset[str]:
    """The stop list (made on first use: scikit-learn's import costs ~0.5 s at start-up)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    # apostrophe-free contractions as people type them, and chat filler
    extra = """im ive id ill youre youve theyre dont didnt doesnt cant wont isnt wasnt arent werent
        couldnt wouldnt shouldnt havent hasnt hadnt aint thats theres whats lets just amp pls plz
        ok okay yes yeah hi hello hey thanks thank thx really got get gets getting lol""".split()
    return (frozenset(ENGLISH_STOP_WORDS) - CONTENT_WORDS) | frozenset(extra)


#: words of scikit-learn's stop list that name what customers complain about ("bill", "call back",
#: "system", "top", "bottom", "empty", "found"…): kept as content words
CONTENT_WORDS = frozenset(
    """amount back bill bottom call computer cry describe detail empty fill find fire found front full
    interest move part put show side system thick thin top""".split()
)


def __getattr__(name: str) -> Any:
    # STOP_WORDS: scikit-learn's English stop words (less CONTENT_WORDS) plus contractions typed
    # without apostrophes and chat filler, computed on first use
    if name == "STOP_WORDS":
        return _stop_words()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# suffix → replacement, first match wins; a stem keeps at least three letters
_SUFFIXES = (
    ("ational", "ate"),
    ("ations", "ate"),
    ("ation", "ate"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("ements", "ement"),
    ("ments", "ment"),
    ("ness", ""),
    ("ingly", ""),
    ("edly", ""),
    ("ings", ""),
    ("ing", ""),
    ("ies", "y"),
    ("ied", "y"),
    ("ly", ""),
    ("ed", ""),
    ("es", ""),
    ("s", ""),
)
_KEEP = frozenset({"bus", "gas", "yes", "this", "was", "has", "his", "its", "less", "loss", "miss", "pass", "class",
                   "dress", "address", "business", "process", "access", "series", "news", "always", "sometimes",
                   "ups", "glass", "boss", "mess", "plus", "thus", "status", "bonus", "virus", "focus", "canvas",
                   "only", "early", "reply", "apply", "supply", "family", "july", "italy", "fly", "ugly",
                   "rely", "holy", "belly", "jelly", "bully", "silly", "sally", "tally", "rally", "ally", "need",
                   "feed", "speed", "seed", "bed", "red", "shed", "wed", "led", "fed", "bring", "thing", "king",
                   "ring", "sing", "wing", "spring", "string", "swing", "sling", "sting", "ceiling", "morning",
                   "evening", "during", "nothing", "something", "anything", "everything", "clothing", "lining",
                   "pudding", "wedding", "bedding", "padding", "stuffing", "filling"})  # fmt: skip
_CANCEL = re.compile(r"^cancel+(?:l?ations?|l?ings?|l?ed|s)?$")


def stem(word: str) -> str:
    """A light English stem: one suffix off (``delayed`` → ``delay``, ``bags`` → ``bag``).

    Deliberately conservative (no Porter cascade): it only has to make the inflections of one
    word meet, and its output is never shown.
    """
    w = word.lower().replace("'", "").replace("’", "")
    if _CANCEL.match(w):  # cancelled / canceled / cancellation / cancelling: one word
        return "cancel"
    if w in _KEEP or len(w) <= 3:
        return w
    for suf, rep in _SUFFIXES:
        if w.endswith(suf) and len(w) - len(suf) >= 3:
            w = w[: -len(suf)] + rep
            break
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":  # stopped → stopp → stop
        w = w[:-1]
    return w


#: words that name no issue on their own: days, times of day and spans of time, and light verbs.
#: They stay terms (they cluster like any word and join collocations: "days late"), but a phrase
#: made only of them is never a part of a label ("Monday · tuesday morning", "Customer service ·
#: does"); the words and their stems
_NOT_NAMES = (
    "monday tuesday wednesday thursday friday saturday sunday weekend weekday morning afternoon evening "
    "night tonight today yesterday tomorrow minute minutes hour hours day days week weeks month months "
    "year years time times does did doing done get gets got make makes made found tried took went came "
    "said told gave going"
).split()
NOT_NAMES = frozenset(_NOT_NAMES) | frozenset(stem(w) for w in _NOT_NAMES)


def tokens(text: Any) -> list[str]:
    """Lower-cased words and clause punctuation of ``text`` (URLs, @handles and HTML entities removed)."""
    if text is None or (isinstance(text, float) and math.isnan(text)):
        return []
    s = _ENTITY.sub(" ", str(text))
    s = _HANDLE.sub(" ", _URL.sub(" ", s)).lower()
    return _TOKEN.findall(s)


def _walk(text: Any) -> Iterable[tuple[str, str]]:
    """(term, surface) pairs of a text: each content word, and each pair of adjacent content words."""
    prev: tuple[str, str] | None = None
    stop = _stop_words()
    for tok in tokens(text):
        if (
            not tok[0].isalpha()
            or len(tok) < 2
            or tok.replace("’", "'") in stop
            or tok.replace("'", "").replace("’", "") in stop
        ):
            prev = None
            continue
        s = stem(tok)
        yield s, tok
        if prev is not None:
            yield f"{prev[0]} {s}", f"{prev[1]} {tok}"
        prev = (s, tok)


def analyse(text: Any) -> list[str]:
    """The terms of ``text``: stems of content words and of adjacent content-word pairs within a clause."""
    return [term for term, _ in _walk(text)]


def surface_forms(texts: Iterable[Any], terms: Iterable[str] | None = None) -> dict[str, str]:
    """The most frequent written form of every term in ``texts`` (ties: the alphabetically first)."""
    keep = set(terms) if terms is not None else None
    seen: dict[str, Counter[str]] = {}
    for t in texts:
        for term, form in _walk(t):
            if keep is None or term in keep:
                seen.setdefault(term, Counter())[form.replace("’", "'")] += 1
    return {term: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for term, c in seen.items()}


def phrase_scores(member_df: np.ndarray, n_members: int, corpus_df: np.ndarray, n_docs: int) -> np.ndarray:
    """Distinctiveness of every term for a group: share of members using it × log of its lift.

    ``member_df``/``corpus_df`` are document frequencies among the group's members and in the
    whole corpus. The lift is smoothed (+1) so that a term seen once in a small group does not win.
    """
    if n_members == 0:
        return np.zeros(len(member_df))
    share = member_df / n_members
    base = (corpus_df + 1.0) / (n_docs + 1.0)
    lift = np.log(np.maximum((member_df + 0.5) / (n_members + 1.0) / base, 1.0))
    return share * lift


def label(
    scores: np.ndarray,
    vocabulary: Sequence[str],
    surface: Mapping[str, str],
    *,
    collocation: float = 0.4,
    min_ratio: float = 0.25,
    parts: int = 2,
    n_phrases: int = 8,
    modifier: float = 0.1,
    avoid: frozenset[str] | set[str] = frozenset(),
) -> tuple[str, list[str]]:
    """A short readable label and the ranked key phrases (surface forms) from term ``scores``.

    The best term comes first; a two-word collocation replaces the word it contains when it
    scores at least ``collocation`` times as much ("late" → "late flight"). A further phrase that
    shares no word with those shown and scores at least ``min_ratio`` of the first is appended
    after " · " (up to ``parts`` phrases), so a theme reads "Hold · music" rather than three
    spellings of one word. Phrases made only of :data:`NOT_NAMES` (days, times, light verbs) are
    skipped in the label and come after the others among the key phrases. A bare word first is joined with the next key word that the members
    write next to it (``modifier``, :func:`_modified`): "bag" and "lost" read "Lost bag", not "Bag · lost";
    a second phrase is then measured against the bare word's score.

    ``avoid`` holds more word stems that name no issue on their own (the theme model passes opinion
    words and the words of the company's own @handles, :func:`cxlens.voice.lexicon.opinion_words`):
    they are treated like :data:`NOT_NAMES` — a phrase made only of them and of :data:`NOT_NAMES`
    ("super cute", "worst", "united") is no part of the label, while a phrase that also says what
    ("beautiful dress", "good service") still is.
    """
    order = [int(i) for i in np.argsort(-scores, kind="stable")[:80] if scores[i] > 0]
    ranked: list[int] = []
    used: set[str] = set()
    for i in order:
        words = set(vocabulary[i].split())
        if words <= used:
            continue
        if len(words) == 1:  # prefer a strong collocation that contains this word
            for j in order:
                other = vocabulary[j].split()
                if len(other) > 1 and vocabulary[i] in other and scores[j] >= collocation * scores[i]:
                    if not set(other) & used:
                        i, words = j, set(other)
                        break
        ranked.append(i)
        used |= words
        if len(ranked) >= n_phrases:
            break
    if not ranked:
        return "", []
    # the label is made of the phrases that can name an issue
    unnamed = NOT_NAMES | avoid
    named = [i for i in ranked if not set(vocabulary[i].split()) <= unnamed] or ranked
    # a second phrase is measured against the strongest one (before a modifier joined it)
    best = float(scores[named[0]])
    head = _modified(named, scores, vocabulary, modifier)
    if head is not None:  # "bag" + "lost" → "lost bag", as members write it
        covered = set(vocabulary[head].split())
        ranked = [head] + [i for i in ranked if not set(vocabulary[i].split()) <= covered]
        named = [head] + [i for i in named if not set(vocabulary[i].split()) <= covered]
    # key phrases: those that can name an issue first (the name starts with the first), then the rest
    ranked = named + [i for i in ranked if i not in named]
    forms = [surface.get(vocabulary[i], vocabulary[i]) for i in ranked]
    shown = forms[: len(named)]
    chosen, words = [shown[0]], set(vocabulary[named[0]].split())
    for i, form in zip(named[1:], shown[1:], strict=True):
        if len(chosen) < parts and scores[i] >= min_ratio * best and not words & set(vocabulary[i].split()):
            chosen.append(form)
            words |= set(vocabulary[i].split())
    name = " · ".join(chosen)
    return name[:1].upper() + name[1:], forms


def _modified(ranked: list[int], scores: np.ndarray, vocabulary: Sequence[str], ratio: float) -> int | None:
    """The pair term joining a bare head word with a next key word, when the members write the two together.

    The best phrase is a single word (``bag``); among the next three single-word phrases scoring at
    least ``ratio`` of it, the first that forms a pair term with it (``lost bag`` or ``bag lost``,
    the better scoring of the two) scoring at least ``ratio`` of the modifier itself (the members
    who write "lost" write it next to "bag" often enough) is returned, so the label is the
    collocation the members wrote rather than "Bag · lost".
    """
    if not ranked or " " in vocabulary[ranked[0]]:
        return None
    index = {t: j for j, t in enumerate(vocabulary)}
    top = vocabulary[ranked[0]]
    for i in ranked[1:4]:
        word = vocabulary[i]
        if " " in word or scores[i] < ratio * scores[ranked[0]]:
            continue
        pairs = [
            index[p]
            for p in (f"{word} {top}", f"{top} {word}")
            if p in index and scores[index[p]] >= ratio * scores[i] and scores[index[p]] > 0
        ]
        if pairs:
            return max(pairs, key=lambda j: scores[j])
    return None
