"""Aspect-level sentiment: the sentiment of each theme a verbatim talks about.

"The fit is perfect but the fabric is itchy" is *mixed* as a whole, yet positive about fit and
negative about fabric. :func:`aspect_sentiment` splits every text into clauses (sentence ends,
semicolons, contrastive conjunctions such as *but*, *however*, *although*, and *and*/commas that
start a new subject), finds the themes each clause mentions, scores every clause with the
sentiment analyser in one batch, and returns one row per verbatim and theme.

Themes come from, in order of precedence:

* a fitted :class:`~cxlens.voice.themes.ThemeExtractor` (``extractor``): its rules and its
  discovered themes at or above its ``threshold`` on the clause;
* ``rules``: theme name → keywords or regular expressions (as for ``ThemeExtractor``);
* otherwise :data:`DEFAULT_ASPECTS`, a small set of common customer-experience aspects.

A theme mentioned in several clauses of one verbatim gets the mean of their class
probabilities, labelled by the same rule as a whole text (``mixed`` when both polarities reach
:data:`~cxlens.voice.sentiment.MIXED_MIN`).

Examples
--------
>>> from cxlens.voice.aspects import aspect_sentiment
>>> df = aspect_sentiment(["The fit is perfect but the fabric is itchy and uncomfortable."])
>>> [(t, "+" if s > 0 else "-") for t, s in zip(df["theme"], df["score"])]
[('fit', '+'), ('fabric', '-')]
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError
from cxlens.voice.sentiment import SentimentAnalyzer, default_model, label_frame
from cxlens.voice.themes import ThemeExtractor, compile_rules

__all__ = ["ASPECT_COLUMNS", "DEFAULT_ASPECTS", "aspect_sentiment", "split_clauses"]

#: Common customer-experience aspects (whole-word keywords; plurals listed where common).
DEFAULT_ASPECTS: dict[str, list[str]] = {
    "fit": ["fit", "fits", "fitting", "fitted", "size", "sizes", "sizing", "sized", "tight", "loose", "snug",
            "baggy", "runs small", "runs large", "runs big", "too small", "too big", "too large", "length"],
    "fabric": ["fabric", "material", "materials", "cotton", "polyester", "linen", "silk", "wool", "knit",
               "itchy", "scratchy", "sheer", "see through", "see-through", "stretchy", "lining"],
    "colour": ["color", "colors", "colour", "colours", "shade", "print", "pattern"],
    "quality": ["quality", "well made", "poorly made", "cheaply made", "broke", "broken", "defective", "ripped",
                "torn", "durable", "flimsy", "stitching", "seams"],
    "price": ["price", "prices", "priced", "pricey", "cost", "costs", "expensive", "overpriced", "cheap",
              "value", "money", "worth", "fee", "fees"],
    "delivery": ["delivery", "delivered", "deliver", "shipping", "shipped", "arrived", "arrive", "parcel",
                 "package", "courier", "dispatch", "dispatched", "tracking"],
    "service": ["service", "staff", "support", "agent", "agents", "representative", "rep", "helpful", "rude",
                "customer care", "on hold", "call centre", "call center", "employee", "employees", "crew"],
    "delay": ["delay", "delayed", "delays", "late", "wait", "waiting", "waited", "hours", "cancelled",
              "canceled", "cancellation"],
    "billing": ["bill", "billing", "billed", "charge", "charged", "charges", "invoice", "refund", "refunded",
                "payment", "overcharged"],
    "app & website": ["app", "website", "site", "online", "login", "log in", "checkout", "password"],
    "room": ["room", "rooms", "bed", "beds", "bathroom", "shower", "breakfast", "location"],
}  # fmt: skip

#: The columns of :func:`aspect_sentiment`, in order.
ASPECT_COLUMNS = ["verbatim", "theme", "name", "clauses", "text", "score", "label", "p_negative", "p_neutral",
                  "p_positive", "themes_in_verbatim"]  # fmt: skip

_SUBJECT = r"(?:the|its|it's|it|my|this|that|these|they|their|our|your|i|we|he|she|there)"
_SPLIT = re.compile(
    r"(?<=[.!?;])\s+|[;\n]+|\s*\b(?:but|however|although|though|whereas|except|yet)\b[,]?\s*"
    rf"|,?\s+and\s+(?={_SUBJECT}\b)|,\s+(?={_SUBJECT}\b)",
    re.IGNORECASE,
)


def split_clauses(text: Any) -> list[str]:
    """The clauses of ``text`` (empty list for a missing or blank text).

    >>> split_clauses("Love the colour, the fit is off. Shipping was fast but the box was crushed")
    ['Love the colour', 'the fit is off.', 'Shipping was fast', 'the box was crushed']
    """
    if text is None or (isinstance(text, float) and text != text):
        return []
    parts = (p.strip(" ,") for p in _SPLIT.split(str(text)))
    return [p for p in parts if p and any(c.isalnum() for c in p)]


def aspect_sentiment(
    texts: Sequence[Any],
    ids: Sequence[Any] | None = None,
    *,
    extractor: ThemeExtractor | None = None,
    rules: Mapping[str, Iterable[str]] | None = None,
    analyzer: SentimentAnalyzer | None = None,
) -> pd.DataFrame:
    """One row per verbatim and theme mentioned in it, with that theme's sentiment.

    Parameters
    ----------
    texts
        The verbatims (redact them first if they are shown to anyone).
    ids
        An id per text for the ``verbatim`` column; default the position in ``texts``.
    extractor, rules
        Where themes come from (see the module docstring); default :data:`DEFAULT_ASPECTS`.
    analyzer
        Scores the clauses; default the shipped model.

    Returns
    -------
    DataFrame
        :data:`ASPECT_COLUMNS`: ``verbatim``, ``theme`` (id), ``name``, ``clauses`` (how many clauses
        mention it), ``text`` (those clauses joined by `` … ``), ``score`` in [-1, 1], ``label``,
        the three class probabilities and ``themes_in_verbatim`` (distinct themes in the verbatim:
        aspect sentiment matters where it is 2 or more). Ordered by verbatim, then first mention.
    """
    if isinstance(texts, str):
        raise ConfigError(f"texts is a single string {texts[:40]!r}; expected a sequence of texts, e.g. [text]")
    texts = list(texts)
    ids = list(range(len(texts))) if ids is None else list(ids)
    if len(ids) != len(texts):
        raise ConfigError(f"ids has {len(ids)} values for {len(texts)} texts; give one id per text")
    clauses: list[str] = []
    owner: list[int] = []
    for i, t in enumerate(texts):
        cs = split_clauses(t)
        clauses += cs
        owner += [i] * len(cs)
    if not clauses:
        return pd.DataFrame(columns=ASPECT_COLUMNS)
    mentions, names = _mentions(clauses, extractor, rules)
    hit_rows, hit_cols = np.nonzero(mentions)
    if not hit_rows.size:
        return pd.DataFrame(columns=ASPECT_COLUMNS)
    used = np.unique(hit_rows)
    s = (analyzer or default_model()).score([clauses[k] for k in used])
    probs = dict(zip(used.tolist(), s[["p_negative", "p_neutral", "p_positive"]].to_numpy(), strict=True))
    theme_ids = list(names)
    groups: dict[tuple[int, str], list[int]] = {}
    for k, j in zip(hit_rows.tolist(), hit_cols.tolist(), strict=True):
        groups.setdefault((owner[k], theme_ids[j]), []).append(k)
    keys = sorted(groups, key=lambda g: (g[0], groups[g][0], theme_ids.index(g[1])))
    mean = np.array([np.mean([probs[k] for k in groups[g]], axis=0) for g in keys])
    out = label_frame(mean)
    per_doc = pd.Series([g[0] for g in keys]).value_counts()
    out.insert(0, "verbatim", [ids[g[0]] for g in keys])
    out.insert(1, "theme", [g[1] for g in keys])
    out.insert(2, "name", [names[g[1]] for g in keys])
    out.insert(3, "clauses", [len(groups[g]) for g in keys])
    out.insert(4, "text", [" … ".join(clauses[k] for k in groups[g]) for g in keys])
    out["themes_in_verbatim"] = [int(per_doc[g[0]]) for g in keys]
    return out[ASPECT_COLUMNS]


def _mentions(
    clauses: list[str], extractor: ThemeExtractor | None, rules: Mapping[str, Iterable[str]] | None
) -> tuple[np.ndarray, dict[str, str]]:
    """A clauses × themes boolean matrix and theme id → name."""
    if extractor is not None:
        scores = extractor.transform(clauses)
        names = extractor.names()
        rule_ids = set(getattr(extractor, "_rules", {}) or {})
        hit = np.column_stack(
            [scores[c].to_numpy() >= (0.5 if c in rule_ids else extractor.threshold_) for c in scores.columns]
        )
        return hit, {c: names.get(c, c) for c in scores.columns}
    compiled = compile_rules(rules if rules is not None else DEFAULT_ASPECTS)
    hit = np.array([[any(p.search(c) for p in pats) for pats in compiled.values()] for c in clauses], dtype=bool)
    return hit.reshape(len(clauses), len(compiled)), {name: name for name in compiled}
