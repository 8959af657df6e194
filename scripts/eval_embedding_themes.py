"""Theme recovery of embedding k-means vs TF-IDF + NMF on airline tweets (docs/voice-themes.md).

Needs ``cxlens[embeddings]``. Samples 2,000 negative tweets whose ``negativereason`` is not
"Can't Tell" (seed 0), fits 9 themes both ways and prints the adjusted mutual information with
the human reasons and the CPU seconds of each. The tweets are CC BY-NC-SA: evaluation only.

Usage::

    python scripts/eval_embedding_themes.py [--data ../shared/data]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def main(argv: list[str] | None = None) -> int:
    import pandas as pd
    from sklearn.metrics import adjusted_mutual_info_score as ami

    from cxlens.voice.embeddings import embedding_themes
    from cxlens.voice.themes import ThemeExtractor

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default=os.environ.get("CXLENS_REAL_DATA", str(ROOT.parent / "shared" / "data")))
    args = ap.parse_args(argv)
    f = pd.read_csv(Path(args.data) / "airline-tweets" / "Tweets.csv")
    f = f[(f["airline_sentiment"] == "negative") & f["negativereason"].notna() & (f["negativereason"] != "Can't Tell")]
    s = f.sample(2000, random_state=0)
    t0 = time.process_time()
    e = embedding_themes(s["text"].tolist(), n_themes=9)
    te = time.process_time() - t0
    t0 = time.process_time()
    pred = ThemeExtractor(n_themes=9).fit(s["text"].tolist()).predict(s["text"].tolist())
    tt = time.process_time() - t0
    print(f"n={len(s)}  embedding k-means AMI {ami(s['negativereason'], e['theme']):.3f} ({te:.0f} CPU-s)")
    print(f"    default ThemeExtractor AMI {ami(s['negativereason'], pd.Series(pred).fillna('none')):.3f} ({tt:.1f} CPU-s)")
    print(e.attrs["themes"][["id", "name", "size"]].to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
