"""Do behaviour features help the churn model and the key drivers? Held-out figures on the demo.

Builds the demo workspace with behaviour (``write_demo(..., behaviour=True)``: planted friction) and
compares, on the same data, the churn model's time-based holdout (``train_churn``: features at the
training cutoff, labels over the next horizon; evaluated one horizon later on customers it did not
see at that cutoff) with and without :data:`cxlens.customers.features.BEHAVIOUR_FEATURES`, and the
key drivers' R² (NPS, per customer) with and without the behaviour drivers. The R² is in-sample (as
``key_drivers`` reports it) and, to judge it honestly, a 5-fold cross-validated R² of the same
linear model on the same design.

    PYTHONPATH=src python -m benchmarks.behaviour_features --customers 2000 --seeds 0 1 2
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import numpy as np
from sklearn.metrics import roc_auc_score

import cxlens
from cxlens.customers.churn_model import churn_labels, train_churn
from cxlens.customers.features import customer_features
from cxlens.ingest import write_demo
from cxlens.voice import drivers as drv


def _cv_r2(ws, behaviour: bool, seed: int) -> tuple[float, int]:
    from sklearn.linear_model import LinearRegression
    from sklearn.model_selection import KFold, cross_val_score

    X, y, _ = drv._design(ws, "nps", "touchpoints", None, "customer", 0.02, None, behaviour)  # noqa: SLF001
    cv = KFold(5, shuffle=True, random_state=seed)
    return float(np.mean(cross_val_score(LinearRegression(), X, y, cv=cv, scoring="r2"))), len(y)


def _holdout(ws, t) -> tuple[np.ndarray, np.ndarray]:
    """The holdout model's predictions and the labels at the test cutoff (what train_churn evaluated)."""
    X = customer_features(ws, t.test_as_of, behaviour=t.model.feature_spec_["behaviour"])
    y = churn_labels(ws, X.index, t.test_as_of, t.horizon_days, label=t.label)
    return t.model.predict_proba(X[t.model.feature_names_in_])[:, 1], np.asarray(y)


def _paired_ci(y: np.ndarray, p0: np.ndarray, p1: np.ndarray, seed: int, n_boot: int = 1000) -> tuple[float, float]:
    """95 % percentile interval of AUC(p1) − AUC(p0) over customers resampled with replacement (paired)."""
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(seed)
    d = []
    for _ in range(n_boot):
        i = rng.integers(0, len(y), len(y))
        if 0 < y[i].sum() < len(i):
            d.append(roc_auc_score(y[i], p1[i]) - roc_auc_score(y[i], p0[i]))
    return float(np.percentile(d, 2.5)), float(np.percentile(d, 97.5))


def run(customers: int, seed: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as d, cxlens.open(os.path.join(d, "demo.duckdb")) as ws:
        write_demo(ws, customers, seed=seed, behaviour=True)
        out: dict[str, float] = {"seed": seed}
        preds = {}
        for b in (False, True):
            t = train_churn(ws, behaviour=b, refit=False)
            tag = "with" if b else "without"
            out[f"auc_{tag}"] = t.metrics["roc_auc"]
            out[f"pr_auc_{tag}"] = t.metrics["pr_auc"]
            out["n_test"] = t.n_test
            preds[b] = _holdout(ws, t)
            assert abs(roc_auc_score(preds[b][1], preds[b][0]) - t.metrics["roc_auc"]) < 1e-9
            kd = drv.key_drivers(ws, "nps", behaviour=b, n_boot=0)
            out[f"r2_{tag}"] = float(kd.attrs["r2"])
            out[f"cv_r2_{tag}"], out["n_drivers"] = _cv_r2(ws, b, seed)
        y = preds[False][1]
        out["churners"] = int(y.sum())
        out["d_lo"], out["d_hi"] = _paired_ci(y, preds[False][0], preds[True][0], seed)
        return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=2000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    a = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.1f}; demo of {a.customers:,} customers with behaviour")
    print(
        "seed  n_test (churners)  AUC without  AUC with   ΔAUC [95% CI]            PR-AUC w/o  with   "
        "R² w/o  R² with  CV R² w/o  CV R² with  (n answering NPS)"
    )
    rows = []
    for s in a.seeds:
        t0 = time.perf_counter()
        r = run(a.customers, s)
        rows.append(r)
        print(
            f"{s:>4}  {r['n_test']:>6} ({r['churners']:>5})  {r['auc_without']:>11.4f}  {r['auc_with']:>8.4f}  "
            f"{r['auc_with'] - r['auc_without']:+.4f} [{r['d_lo']:+.4f}, {r['d_hi']:+.4f}]  "
            f"{r['pr_auc_without']:>10.4f}  {r['pr_auc_with']:.4f}  "
            f"{r['r2_without']:>6.4f}  {r['r2_with']:>7.4f}  {r['cv_r2_without']:>9.4f}  {r['cv_r2_with']:>10.4f}"
            f"  ({r['n_drivers']})  ({time.perf_counter() - t0:.0f} s)"
        )
    d = np.array([r["auc_with"] - r["auc_without"] for r in rows])
    print(f"mean ΔAUC {d.mean():+.4f} (min {d.min():+.4f}, max {d.max():+.4f}) over {len(d)} seeds")


if __name__ == "__main__":
    main()
