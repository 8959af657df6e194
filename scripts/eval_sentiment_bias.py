"""Can a class-prior offset calibrated on *other* data lift the airline macro-F1? (docs/sentiment.md)

For each training source's held-out split (and all of them together) the script finds the
offsets (b_negative, b_positive; neutral fixed at 0, grid −1.5…1.5 step 0.1) added to the
shipped model's log-probabilities that maximise macro-F1 on that split, then applies them,
unchanged, to the airline tweets (never used to choose anything). Prints the held-out macro-F1
before/after and the airline macro-F1 with those offsets, plus the airline confusion matrix of
the shipped model (rows gold, columns predicted: negative, neutral, positive).

Usage::

    python scripts/eval_sentiment_bias.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def main(argv: list[str] | None = None) -> int:
    import numpy as np
    from benchmarks.sentiment import TRAINING_SOURCES, airline_tweets, training_corpus
    from sklearn.metrics import confusion_matrix, f1_score

    from cxlens.voice.sentiment import CLASSES, default_model

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="real-data folder (default $CXLENS_REAL_DATA or ../shared/data)")
    args = ap.parse_args(argv)
    classes = np.array(CLASSES)
    model = default_model()
    corpus = training_corpus(args.data)
    air = airline_tweets(args.data)
    gold = air["label"].to_numpy()
    log_air = np.log(model.predict_proba(air["text"].tolist()) + 1e-12)
    print("airline confusion (rows gold, columns predicted: negative, neutral, positive):")
    print(confusion_matrix(gold, classes[log_air.argmax(1)], labels=list(classes)))
    print(f"airline macro-F1 as shipped: {f1_score(gold, classes[log_air.argmax(1)], average='macro'):.3f}")
    grid = np.round(np.arange(-1.5, 1.51, 0.1), 2)
    for src in (*TRAINING_SOURCES, "all"):
        held = corpus[corpus["heldout"] & ((corpus["source"] == src) | (src == "all"))]
        log_h = np.log(model.predict_proba(held["text"].tolist()) + 1e-12)
        g = held["label"].to_numpy()
        before = f1_score(g, classes[log_h.argmax(1)], average="macro")
        best = max(
            (f1_score(g, classes[(log_h + [bn, 0, bp]).argmax(1)], average="macro"), bn, bp)
            for bn in grid
            for bp in grid
        )
        f_air = f1_score(gold, classes[(log_air + [best[1], 0, best[2]]).argmax(1)], average="macro")
        print(f"{src:15} n={len(held):5}  held-out {before:.3f} -> {best[0]:.3f}  offsets ({best[1]:+.1f}, {best[2]:+.1f})"
              f"  airline {f_air:.3f}")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
