"""A generic customer-experience complaint lexicon: the categories CX teams name, and their words.

Used by the theme model (:class:`cxlens.voice.themes.ThemeExtractor`) in two label-free ways:

* **seeds**: a category that enough texts of the corpus mention (at least ``min_share`` of them)
  starts one k-means centroid at the mean of those texts, so that a theme forms around each issue
  the corpus actually talks about (seeded k-means, Basu, Banerjee & Mooney 2002, ICML);
* **names**: a theme whose members mention a category far more often than the corpus does is named
  after it ("Late or delayed · sitting on the tarmac"), with the members' own key phrase after it.

The categories are industry-neutral (travel, retail, e-commerce, telecom, banking, hospitality):
each lists words and two-word phrases that customers use for it, compared as the terms of
:func:`cxlens.voice.phrases.analyse` (light stems), so "delayed", "delays" and "delay" are one.
Product *types* (dresses, laptops…) are not categories: they are what discovered themes find.

Examples
--------
>>> hits = category_hits(["my flight was delayed 3 hours", "they lost my bag", "love it"])
>>> [sorted(h) for h in hits]
[['Late or delayed'], ['Lost item'], []]
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from cxlens.voice import phrases

__all__ = ["CATEGORIES", "OPINION_VALENCE", "category_hits", "category_terms", "opinion_words"]

#: a word of VADER's lexicon whose valence is this value's negative or below is a (negative) *opinion word*
OPINION_VALENCE = 1.6

#: category name → words and two-word phrases customers use for it (matched as stemmed terms)
CATEGORIES: dict[str, tuple[str, ...]] = {
    "Late or delayed": ("late", "delay", "delayed", "delays", "overdue", "running late", "tarmac",
                        "missed connection", "took forever"),
    "Cancellation": ("cancelled", "canceled", "cancellation", "cancel", "cancelling"),
    "Lost item": ("lost", "missing bag", "missing item", "missing luggage", "missing package", "misplaced",
                  "lost bag", "lost luggage", "lost package", "lost order"),
    "Damaged item": ("damaged", "broken", "broke", "torn", "ripped", "cracked", "smashed", "dented", "defective",
                     "stopped working", "came apart", "fell apart"),
    "Customer service": ("customer service", "customer care", "support", "agent", "representative", "rep",
                         "hold", "call back", "phone", "call", "calls", "email", "emails", "response", "respond",
                         "reply", "replied", "chat", "complaint", "dm", "help"),
    "Booking and website": ("booking", "book", "booked", "reservation", "reserve", "website", "site", "online",
                            "app", "checkout", "login", "password", "account", "error", "rebook", "rebooked",
                            "reschedule", "change fee", "promo code", "discount code"),
    "Refund and billing": ("refund", "refunded", "money back", "charge", "charged", "overcharged", "fee", "fees",
                           "bill", "billing", "invoice", "payment", "credit", "voucher", "compensation",
                           "reimburse", "reimbursement"),
    "Staff attitude": ("rude", "attitude", "unfriendly", "unprofessional", "attendant", "attendants", "staff",
                       "crew", "employee", "employees", "manager", "gate agent", "dismissive", "disrespectful",
                       "yelled", "liar", "condescending"),
    "Wait and queues": ("line", "lines", "queue", "queues", "long line", "long wait", "wait time"),
    "Delivery": ("delivery", "delivered", "shipping", "shipped", "shipment", "courier", "parcel", "package",
                 "tracking", "dispatch", "dispatched"),
    "Product quality": ("quality", "cheap", "cheaply", "flimsy", "poor quality", "low quality", "thin",
                        "pilling", "faded", "shrunk", "itchy"),
    "Size and fit": ("size", "sizing", "fit", "fits", "small", "large", "tight", "loose", "snug", "petite",
                     "runs small", "runs large"),
    "Price and value": ("price", "prices", "expensive", "overpriced", "pricey", "cost", "costs", "value",
                        "worth", "money", "sale", "discount"),
    "Seats and comfort": ("seat", "seats", "seating", "legroom", "leg room", "comfortable", "uncomfortable",
                          "cramped", "upgrade"),
    "Cleanliness": ("dirty", "clean", "cleanliness", "filthy", "smell", "smelly", "stain", "stained", "mold",
                    "bugs"),
    "Network and connectivity": ("signal", "coverage", "outage", "internet", "wifi", "wi fi", "network",
                                 "broadband", "dropped calls"),
}  # fmt: skip


@functools.cache
def _compiled(items: tuple[tuple[str, tuple[str, ...]], ...]) -> dict[str, frozenset[str]]:
    out: dict[str, frozenset[str]] = {}
    for name, words in items:
        terms = set()
        for w in words:
            got = phrases.analyse(w)
            # a phrase is its pair term ("long line"), a word its stem
            pair = [t for t in got if " " in t]
            if len(w.split()) > 1:
                terms.update(pair[-1:])
            else:
                terms.update(got[:1])
        out[name] = frozenset(terms)
    return out


def category_terms(categories: Mapping[str, Sequence[str]] | None = None) -> dict[str, frozenset[str]]:
    """Category name → the stemmed terms (:func:`cxlens.voice.phrases.analyse`) that stand for it."""
    cats = CATEGORIES if categories is None else categories
    return _compiled(tuple((str(k), tuple(v)) for k, v in cats.items()))


def category_hits(texts: Iterable[Any], categories: Mapping[str, Sequence[str]] | None = None) -> list[set[str]]:
    """The categories each text mentions (a set of names per text)."""
    terms = category_terms(categories)
    out = []
    for t in texts:
        seen = set(phrases.analyse(t))
        out.append({name for name, words in terms.items() if seen & words})
    return out


@functools.cache
def opinion_words(valence: float = OPINION_VALENCE) -> frozenset[str]:
    """The strong negative opinion words of VADER's lexicon, less the words of the CX categories.

    The lower-case words of ``vader_lexicon.txt`` (MIT; Hutto & Gilbert 2014, shipped with the
    ``vaderSentiment`` dependency) made of letters whose valence is ``-valence`` or below
    (*worst, terrible, hate, awful, horrible*…; a word listed twice counts with its last valence,
    as VADER reads it), minus every word whose stem
    (:func:`cxlens.voice.phrases.stem`) is a single-word term of :data:`CATEGORIES` (*rude, help,
    broken, damaged, comfortable, cheap*… name an issue). They say how a customer feels, not what
    about: the theme model keeps them as terms but never names a theme with them. Positive words
    are not among them: a theme of praise is named by what is praised ("Helpful · friendly" for
    staff praise in NPS verbatims; leaving them out gave "Spoke · staff"). Words, not stems, so that
    a word is judged as written (VADER lists "sob" and "sobbed" apart).

    Examples
    --------
    >>> words = opinion_words()
    >>> "worst" in words, "loved" in words, "rude" in words, "late" in words, "terrible" in words
    (True, False, False, False, True)
    """
    import vaderSentiment

    path = Path(vaderSentiment.__file__).with_name("vader_lexicon.txt")
    named = {t for terms in category_terms().values() for t in terms if " " not in t}
    listed: dict[str, float] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        parts = line.split("\t")
        if len(parts) >= 2 and parts[0].isalpha():
            listed[parts[0].lower()] = float(parts[1])  # a word listed twice ("ok", "sob"): the last, as VADER reads it
    return frozenset(w for w, v in listed.items() if v <= -valence and phrases.stem(w) not in named)
