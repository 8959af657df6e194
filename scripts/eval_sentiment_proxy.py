"""The out-of-domain proxy that chose sentiment-v4's settings (docs/sentiment.md), without the airline tweets.

Trains :class:`cxlens.voice.SentimentModel`'s features with one candidate setting on the training
rows of every source except the left-out one (the VADER tweets by default), scores *all* rows of
the left-out source (macro-F1, polarity accuracy, confusion matrix) and the review hold-outs
(polarity accuracy must stay ≥ 0.86). Settings are given as ``key=value`` (Python literals):

* ``symbols`` (bool, v4 True): emoji names and emoticon tokens;
* ``after`` (bool, v4 True): classes balanced after the source weights (else on row counts, v3);
* ``drop3`` (bool): leave the 3★ reviews (the review sources' neutral class) out;
* ``C``, ``bits``, ``ngrams``, and per-source weights ``w_<source>``.

Usage::

    python scripts/eval_sentiment_proxy.py symbols=False after=False    # v3: 0.647
    python scripts/eval_sentiment_proxy.py                              # v4: 0.685
    python scripts/eval_sentiment_proxy.py leave='"vader_nyt"'          # another source left out

One fit takes 40-60 s of CPU.
"""

from __future__ import annotations

import ast
import os
import sys
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT), str(ROOT / "scripts")]


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from benchmarks.sentiment import metrics, polarity_accuracy, training_corpus
    from sklearn.linear_model import LogisticRegression
    from train_sentiment import PARAMS, SOURCE_WEIGHTS

    from cxlens.voice.sentiment import CLASSES, emoticons_and_emoji, feature_matrix, lexicon_arrays, symbol_tables

    cfg = {"symbols": True, "after": True, "drop3": False, "leave": "vader_tweets", "data": None}
    cfg.update({k: PARAMS[k] for k in ("bits", "char_ngrams", "C")})
    cfg.update({f"w_{k}": v for k, v in SOURCE_WEIGHTS.items()})
    for arg in argv if argv is not None else sys.argv[1:]:
        key, _, value = arg.partition("=")
        if key not in cfg:
            raise SystemExit(f"unknown setting {key!r}; expected one of {', '.join(cfg)}")
        cfg[key] = ast.literal_eval(value)
    print(cfg)
    corpus = training_corpus(cfg["data"])
    sym = symbol_tables(*emoticons_and_emoji()) if cfg["symbols"] else None
    X = feature_matrix(corpus["text"].tolist(), cfg["bits"], tuple(cfg["char_ngrams"]), lexicon_arrays(), sym)
    y = np.searchsorted(np.asarray(CLASSES), corpus["label"].to_numpy().astype(str))
    src = corpus["source"].to_numpy()
    held = corpus["heldout"].to_numpy()
    sw = np.array([cfg[f"w_{s}"] for s in src], dtype=float)
    mask = ~held & (src != cfg["leave"])
    if cfg["drop3"]:
        mask &= ~(np.isin(src, ["clothing", "finefood"]) & (corpus["label"].to_numpy() == "neutral"))
    yi, wi = y[mask], sw[mask]
    if cfg["after"]:
        w = (wi.sum() / (3 * np.bincount(yi, weights=wi, minlength=3)))[yi] * wi
    else:
        w = (len(yi) / (3 * np.bincount(yi, minlength=3)))[yi] * wi
    clf = LogisticRegression(C=cfg["C"], max_iter=400, tol=1e-4, random_state=0).fit(X[mask], yi, sample_weight=w)
    sets = [(f"{cfg['leave']} (all rows, left out)", src == cfg["leave"])]
    sets += [(f"{s} held-out", held & (src == s)) for s in ("clothing", "finefood", "hotel")]
    for name, rows in sets:
        p = clf.predict_proba(X[rows])
        gold = np.asarray(CLASSES)[y[rows]]
        m = metrics(gold, np.asarray(CLASSES)[p.argmax(1)])
        pol = polarity_accuracy(gold, p[:, 2] - p[:, 0])
        print(f"{name:36} n={m['n']:5}  macro-F1 {m['macro_f1']:.3f}  polarity acc {pol:.3f}  {m['confusion']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
