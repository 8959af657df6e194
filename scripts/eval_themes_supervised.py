"""How far a *supervised* classifier gets on the airline reasons (docs/voice-themes.md, "Evaluation").

The theme bench asks an unsupervised model for AMI ≥ 0.40 against the human ``negativereason`` of
the 7,988 negative tweets (reason other than "Can't Tell"). This script measures the ceiling a
model that *has seen the reasons* reaches on the same texts: logistic regression on TF-IDF uni- and
bigrams (URLs, @handles and entities removed by :func:`cxlens.voice.themes.clean_text`), 5-fold
stratified cross-validation (seed 0), plain and class-balanced, for a few C. Prints AMI and
accuracy of the out-of-fold predictions. The tweets are CC BY-NC-SA: evaluation only.

Usage::

    python scripts/eval_themes_supervised.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "src"), str(ROOT)]


def main(argv: list[str] | None = None) -> int:
    from benchmarks.themes import airline_reasons
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import accuracy_score, adjusted_mutual_info_score
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    from cxlens.voice.themes import clean_text

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=None, help="real-data folder (default $CXLENS_REAL_DATA or ../shared/data)")
    args = ap.parse_args(argv)
    texts, gold = airline_reasons(args.data)
    x = TfidfVectorizer(preprocessor=clean_text, ngram_range=(1, 2), min_df=2, sublinear_tf=True).fit_transform(texts)
    folds = StratifiedKFold(5, shuffle=True, random_state=0)
    print("class_weight  C   AMI    accuracy")
    for weight in (None, "balanced"):
        for c in (1, 4, 10):
            model = LogisticRegression(C=c, max_iter=2000, class_weight=weight)
            pred = cross_val_predict(model, x, gold, cv=folds)
            print(
                f"{weight!s:12}  {c:<3} {adjusted_mutual_info_score(gold, pred):.3f}  {accuracy_score(gold, pred):.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
