"""Rebuild the shipped sentiment weights, ``src/cxlens/voice/models/sentiment-v1.npz``.

Trains :class:`cxlens.voice.SentimentModel` on the CC0/MIT sources of the real-data folder
only (women's clothing reviews full, Amazon fine-food reviews head, the three hotel-review
subsets, VADER's Amazon review snippets), minus the rows that ``cxlens bench sentiment``
holds out (:func:`cxlens.voice.bench.is_heldout`). The airline tweets and Olist are
NonCommercial and are never read here. Deterministic: the split is a hash rule, the solver is
L-BFGS with a fixed seed, so the same data give the same weights.

Usage::

    python scripts/train_sentiment.py [--data ../shared/data] [--out PATH]

It prints the sha256 of every data file it read, the rows per source and class, and the
weights' size; the hashes are also stored in the weights' metadata.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")  # bit-identical results regardless of core count

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from cxlens.voice.bench import TRAINING_SOURCES, file_hashes, real_data_dir, training_corpus  # noqa: E402
from cxlens.voice.sentiment import DEFAULT_WEIGHTS, SentimentModel  # noqa: E402

SEED = 0
#: Settings of sentiment-v1 (see docs/sentiment.md).
PARAMS = {"bits": 18, "char_ngrams": (3, 5), "C": 4.0, "seed": SEED}
#: Per-source sample weights on top of class balancing: the VADER snippets are the only
#: sentence-level source with factual (neutral) sentences, closest to short social text.
SOURCE_WEIGHTS = {"clothing": 1.0, "finefood": 1.0, "hotel": 1.0, "vader_snippets": 4.0}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("CXLENS_REAL_DATA", str(ROOT.parent / "shared" / "data")))
    ap.add_argument("--out", default=str(DEFAULT_WEIGHTS))
    args = ap.parse_args(argv)

    data = real_data_dir(args.data)
    hashes = file_hashes(data, TRAINING_SOURCES)
    for rel, h in hashes.items():
        print(f"sha256 {h}  {rel}")
    corpus = training_corpus(data)
    train = corpus[~corpus["heldout"]]
    counts = train.groupby(["source", "label"]).size().unstack(fill_value=0)
    print(counts.to_string())
    print(f"training rows: {len(train):,} (held out for the bench: {int(corpus['heldout'].sum()):,})")

    t0 = time.perf_counter()
    weights = train["source"].map(SOURCE_WEIGHTS).to_numpy(dtype=float)
    model = SentimentModel(**PARAMS).fit(train["text"].tolist(), train["label"].tolist(), sample_weight=weights)
    rows = {src: int(n) for src, n in train.groupby("source").size().items()}
    path = model.save(args.out, version="sentiment-v1", data_sha256=hashes, training_rows=rows)
    print(f"fitted in {time.perf_counter() - t0:.0f} s; wrote {path} ({path.stat().st_size / 1e6:.2f} MB)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
