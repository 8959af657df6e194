"""Theme names before and after a change of the labeller, on the same fits.

Usage: ``python scripts/eval_theme_names.py OUT.json airline,clothing [REV]`` (REV: the git revision
whose ``phrases.label`` is "before"; default the commit before days and times were kept out of names).
For each set and seed 0-2: AMI, unassigned share and CPU-s per 10k texts of one fit of the default
pipeline (this checkout), and the label check of its names from the old and the new labeller.
Reads the labelled sets from ``CXLENS_REAL_DATA`` (default ../shared/data).
"""

import importlib.util
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
from benchmarks.sentiment import one_thread
from benchmarks.themes import SETS, label_check
from sklearn.metrics import adjusted_mutual_info_score

import cxlens.voice.phrases as P
import cxlens.voice.themes as T

# the labeller of REV loaded beside this checkout's
REV = sys.argv[3] if len(sys.argv) > 3 else "aef1e47~1"
DATA = os.environ.get("CXLENS_REAL_DATA")
old_src = subprocess.run(
    ["git", "-C", str(Path(__file__).resolve().parents[1]), "show", f"{REV}:src/cxlens/voice/phrases.py"],
    capture_output=True,
    text=True,
    check=True,
).stdout
spec = importlib.util.spec_from_loader("old_phrases", loader=None)
OLD = importlib.util.module_from_spec(spec)
exec(old_src, OLD.__dict__)
NEW_LABEL = P.label

captured = {}
orig_describe = T.ThemeExtractor._describe


def describe(self, *a, **k):
    captured["args"] = (a, k)
    return orig_describe(self, *a, **k)


T.ThemeExtractor._describe = describe

out = {}
for name in sys.argv[2].split(","):
    texts, gold = SETS[name](DATA)
    for seed in (0, 1, 2):
        with one_thread():
            t0 = time.process_time()
            tx = T.ThemeExtractor(random_state=seed).fit(texts)
            pred = tx.predict(texts)
            cpu = time.process_time() - t0
        grouped = np.array(["<none>" if t is None else str(t) for t in pred], dtype=object)
        new_names = tx.names()
        a, k = captured["args"]
        P.label = OLD.label  # rename with the old labeller, same clustering
        for t in tx.themes_:
            t["name"] = ""  # _describe names only unnamed themes
        try:
            orig_describe(tx, *a, **k)
        finally:
            P.label = NEW_LABEL
        old_names = tx.names()
        assert list(tx.predict(texts)) == list(pred)
        cn, co = label_check(new_names, pred, gold), label_check(old_names, pred, gold)
        key = f"{name}.{seed}"
        out[key] = {
            "k": int(tx.n_themes_),
            "ami": round(adjusted_mutual_info_score(gold, grouped), 4),
            "unassigned": round(float(np.mean([t is None for t in pred])), 4),
            "cpu_s_per_10k": round(cpu * 10_000 / len(texts), 2),
            "label_check_old": round(co["passed"], 4),
            "label_check_new": round(cn["passed"], 4),
            "changed": [(old_names[t], new_names[t]) for t in new_names if old_names[t] != new_names[t]],
            "old": [
                f"{r['name']} ({r['size']}, {r['majority']} {r['purity']:.0%}){' ✓' if r['passed'] else ''}"
                for r in co["themes"]
            ],
            "new": [
                f"{r['name']} ({r['size']}, {r['majority']} {r['purity']:.0%}){' ✓' if r['passed'] else ''}"
                for r in cn["themes"]
            ],
        }
        print(key, {k2: v for k2, v in out[key].items() if k2 not in ("old", "new")}, flush=True)
json.dump(out, open(sys.argv[1], "w"), indent=1, ensure_ascii=False)
