"""``cxlens bench themes``: do discovered themes recover what people labelled, and are their names right?

Two labelled sets from the real-data folder (``../shared/data``), used for evaluation only (the
labels never reach the model):

* **airline tweets** (CC BY-NC-SA 4.0): the 7,988 negative tweets whose ``negativereason`` is not
  "Can't Tell" (9 reasons: Customer Service Issue, Late Flight, Cancelled Flight, …);
* **women's clothing reviews** (CC0 1.0, full 23,486 rows): the 22,628 reviews with a text and a
  ``Class Name`` (Dresses, Knits, Blouses, Pants, Jeans, …; the title is prepended to the text).

For each set the default :class:`~cxlens.voice.themes.ThemeExtractor` (``n_themes="auto"``) is
fitted on the texts and every text gets its primary theme. Reported:

* ``ami``: :func:`sklearn.metrics.adjusted_mutual_info_score` between label and primary theme,
  texts without a theme counting as one more group; ``unassigned``: their share;
* ``label_check``: over the largest themes that together hold 80 % of the texts, the share whose
  name shares a word with its members' majority label that no other label's name has
  (:func:`label_check`; words compared by :func:`cxlens.voice.phrases.stem`, so "Cancelled" meets
  "cancellation" and "Dresses" meets "dress"; "flight" alone proves nothing because every
  airline reason but two contains it);
* ``cpu_s_per_10k``: CPU seconds of fit + predict, scaled to 10,000 texts.

``seeds`` (``cxlens bench themes --seeds 0,1,2``) fits once per ``random_state``: with one seed the
keys are ``<set>.<metric>``, with several ``<set>.seed<N>.<metric>`` for each seed, so that a
figure that moves with the clustering's seed is seen as such.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from benchmarks.sentiment import one_thread, real_data_dir
from cxlens.voice.phrases import stem
from cxlens.voice.themes import ThemeExtractor

__all__ = [
    "SETS",
    "airline_reasons",
    "bench_themes",
    "clothing_classes",
    "evaluate_themes",
    "label_check",
    "parse_seeds",
]

AIRLINE = "airline-tweets/Tweets.csv"
CLOTHING = "womens-clothing-reviews-full/womens_clothing_ecommerce_reviews.csv"
#: label names written as one word in the data, compared as the words they are made of
LABEL_WORDS = {"longlines": "long lines"}


def airline_reasons(data_dir: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    """The 7,988 negative airline tweets with a reason other than "Can't Tell": texts and reasons."""
    f = pd.read_csv(real_data_dir(data_dir) / AIRLINE)
    keep = (f["airline_sentiment"] == "negative") & f["negativereason"].notna()
    f = f[keep & (f["negativereason"] != "Can't Tell")]
    return f["text"].astype(str).tolist(), f["negativereason"].to_numpy(dtype=object)


def clothing_classes(data_dir: str | Path | None = None) -> tuple[list[str], np.ndarray]:
    """Clothing reviews with a text and a class: "title. review" texts and ``Class Name``."""
    f = pd.read_csv(real_data_dir(data_dir) / CLOTHING)
    f = f[f["Review Text"].notna() & f["Class Name"].notna()]
    title = f["Title"].fillna("").astype(str).str.strip()
    text = np.where(title != "", title + ". " + f["Review Text"].astype(str), f["Review Text"].astype(str))
    return [re.sub(r"\s+", " ", t) for t in text], f["Class Name"].to_numpy(dtype=object)


SETS: dict[str, Callable[[str | Path | None], tuple[list[str], np.ndarray]]] = {
    "airline": airline_reasons,
    "clothing": clothing_classes,
}


def _words(name: str) -> set[str]:
    name = LABEL_WORDS.get(name.lower(), name)
    return {stem(w) for w in re.findall(r"[^\W\d_]+", name.lower())}


def label_check(
    names: dict[Any, str], pred: Sequence[Any], gold: Sequence[Any], coverage: float = 0.8
) -> dict[str, Any]:
    """Share of the largest themes (covering ``coverage`` of the texts) whose name has a distinctive word.

    A theme passes when its name shares a word (compared by stem) with the name of its members'
    majority label, and no other label's name contains that word. Texts without a theme are no theme.

    Returns
    -------
    dict
        ``passed`` (share of the checked themes), ``checked`` (their number) and ``themes``: one
        row per checked theme with ``theme, name, size, majority, purity, words, passed``.
    """
    p = pd.Series(list(pred), dtype=object)
    g = pd.Series(list(gold), dtype=object)
    labels = sorted(set(g))
    own = {lab: _words(str(lab)) for lab in labels}
    distinct = {lab: own[lab] - set().union(*(own[o] for o in labels if o != lab)) for lab in labels}
    sizes = p[p.notna()].value_counts()
    total = len(p)
    rows = []
    covered = 0
    for theme, size in sizes.items():
        if covered >= coverage * total:
            break
        covered += int(size)
        members = g[p == theme]
        majority = members.value_counts().index[0]
        hit = sorted(_words(str(names.get(theme, theme))) & distinct[majority])
        rows.append({"theme": theme, "name": names.get(theme, theme), "size": int(size), "majority": majority,
                     "purity": float((members == majority).mean()), "words": hit, "passed": bool(hit)})  # fmt: skip
    return {
        "passed": float(np.mean([r["passed"] for r in rows])) if rows else 0.0,
        "checked": len(rows),
        "themes": rows,
    }


def evaluate_themes(
    texts: list[str], gold: np.ndarray, make: Callable[[], ThemeExtractor] = ThemeExtractor
) -> dict[str, Any]:
    """AMI, unassigned share, label check and CPU time of the extractor ``make()`` on one labelled set."""
    from sklearn.metrics import adjusted_mutual_info_score

    with one_thread():  # CPU seconds of one core: idle BLAS/OpenMP threads spinning do not count
        t0 = time.process_time()
        tx = make().fit(texts)
        pred = tx.predict(texts)
        seconds = time.process_time() - t0
    grouped = np.array(["<none>" if t is None else str(t) for t in pred], dtype=object)
    check = label_check(tx.names(), pred, gold)
    return {
        "n": len(texts),
        "k": int(tx.n_themes_),
        "ami": float(adjusted_mutual_info_score(gold, grouped)),
        "unassigned": float(np.mean([t is None for t in pred])),
        "label_check": check["passed"],
        "label_checked": check["checked"],
        "cpu_s_per_10k": seconds * 10_000 / max(len(texts), 1),
        "themes": check["themes"],
        "extractor": tx,
    }


def parse_seeds(seeds: str | Sequence[int]) -> tuple[int, ...]:
    """Seeds as given on the command line ("0,1,2") or as integers: distinct whole numbers ≥ 0, in order.

    Examples
    --------
    >>> parse_seeds("0, 1,2")
    (0, 1, 2)
    """
    from cxlens.errors import ParameterError

    items = seeds.split(",") if isinstance(seeds, str) else list(seeds)
    got: list[int] = []
    for item in items:
        text = str(item).strip()
        if not text.isdigit():
            raise ParameterError(
                "seeds", f"seed {text!r} in {seeds!r} is not a whole number ≥ 0; give seeds such as 0,1,2"
            )
        if int(text) in got:
            raise ParameterError("seeds", f"seed {int(text)} is given twice in {seeds!r}; give each seed once")
        got.append(int(text))
    if not got:
        raise ParameterError("seeds", f"no seed in {seeds!r}; give seeds such as 0,1,2")
    return tuple(got)


def bench_themes(
    data_dir: str | Path | None = None, sets: Sequence[str] = tuple(SETS), seeds: str | Sequence[int] = (0,)
) -> dict[str, Any]:
    """Evaluate the default theme pipeline on every labelled set and seed; a flat dict of figures.

    Keys are ``<set>.<metric>`` for one seed and ``<set>.seed<N>.<metric>`` for each of several
    (``random_state=N``; the labelled set is read once).
    """
    seeds = parse_seeds(seeds)
    out: dict[str, Any] = {}
    for name in sets:
        texts, gold = SETS[name](data_dir)
        for seed in seeds:
            r = evaluate_themes(texts, gold, lambda seed=seed: ThemeExtractor(random_state=seed))
            key = name if len(seeds) == 1 else f"{name}.seed{seed}"
            for k in ("n", "k", "ami", "unassigned", "label_check", "label_checked", "cpu_s_per_10k"):
                out[f"{key}.{k}"] = round(r[k], 4) if isinstance(r[k], float) else r[k]
            out[f"{key}.themes"] = "; ".join(
                f"{t['name']} ({t['size']}, {t['majority']} {t['purity']:.0%}){' ✓' if t['passed'] else ''}"
                for t in r["themes"]
            )
    return out
