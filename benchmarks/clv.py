"""``cxlens bench clv``: BG/NBD on simulated customers, cxlens vs lifetimes, in one run.

lifetimes is **not** a cxlens dependency; install it into the bench environment only with
``pip install lifetimes``. It is called through its array API ``fit(frequency, recency, T)`` so it
runs under pandas 3.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from cxlens.customers.clv_models import BetaGeoModel, simulate_bgnbd

__all__ = ["TRUE_PARAMS", "bench_clv", "format_bench", "simulate_bench_summaries"]

#: BG/NBD parameters (weeks) of the simulated customers: close to the CDNOW estimates
TRUE_PARAMS = {"r": 0.25, "alpha": 4.0, "a": 0.8, "b": 2.5}
LIFETIMES_MISSING = "lifetimes is not installed; install it into the bench environment with: pip install lifetimes"


def simulate_bench_summaries(customers: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CDNOW-like summaries in weeks, recorded to the day: first purchases over 12 weeks, 39-week end."""
    rng = np.random.default_rng(seed)
    first_day = rng.integers(0, 84, customers)
    T_days = 273 - first_day
    x, tx, _ = simulate_bgnbd(customers, **TRUE_PARAMS, T=T_days / 7.0, seed=rng)
    tx_days = np.minimum(np.floor(tx * 7.0), T_days)
    return x, tx_days / 7.0, T_days / 7.0


def _sig(v: float, digits: int = 3) -> str:
    return f"{v:.{digits}g}"


def bench_clv(customers: int = 1_000_000, seed: int = 0, *, run_lifetimes: bool = True) -> dict[str, Any]:
    """Fit BG/NBD on ``customers`` simulated customers with cxlens and with lifetimes.

    Returns
    -------
    dict
        ``customers``, ``distinct_summaries``, ``true_params``, ``cxlens`` ({params, log_likelihood,
        seconds}), ``lifetimes`` (same, or ``{"error": …}`` when it is missing or fails),
        ``speedup`` (lifetimes seconds / cxlens seconds) and ``same_estimates`` (all four
        parameters equal to 3 significant digits).
    """
    t0 = time.perf_counter()
    x, tx, T = simulate_bench_summaries(customers, seed)
    sim_s = time.perf_counter() - t0

    t0 = time.perf_counter()
    m = BetaGeoModel().fit(x, tx, T)
    cx_s = time.perf_counter() - t0
    out: dict[str, Any] = {
        "customers": customers,
        "distinct_summaries": m.n_distinct_,
        "true_params": dict(TRUE_PARAMS),
        "simulate_seconds": round(sim_s, 3),
        "cxlens": {"params": m.params_, "log_likelihood": m.log_likelihood_, "seconds": round(cx_s, 3)},
    }
    if not run_lifetimes:
        return out
    try:
        from lifetimes import BetaGeoFitter
    except ImportError:
        out["lifetimes"] = {"error": LIFETIMES_MISSING}
        return out
    try:
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            lf = BetaGeoFitter(penalizer_coef=0.0).fit(x.astype(int), tx, T)
        lf_s = time.perf_counter() - t0
    except Exception as e:  # pragma: no cover - depends on the installed lifetimes/pandas
        out["lifetimes"] = {"error": f"lifetimes failed: {type(e).__name__}: {e}"}
        return out
    lp = {k: float(lf.params_[k]) for k in ("r", "alpha", "a", "b")}
    from cxlens.customers.clv_models import bgnbd_loglik

    lf_ll = float(bgnbd_loglik(list(lp.values()), x, tx, T).sum())
    out["lifetimes"] = {"params": lp, "log_likelihood": lf_ll, "seconds": round(lf_s, 3)}
    out["speedup"] = round(lf_s / cx_s, 1)
    out["same_estimates"] = all(_sig(m.params_[k]) == _sig(lp[k]) for k in lp)
    return out


def format_bench(res: dict[str, Any]) -> str:
    """Human-readable lines for ``cxlens bench clv``."""
    lines = [
        f"BG/NBD on {res['customers']:,} simulated customers ({res['distinct_summaries']:,} distinct summaries)",
        "true:     " + "  ".join(f"{k}={v:.4g}" for k, v in res["true_params"].items()),
        "cxlens:   "
        + "  ".join(f"{k}={v:.4g}" for k, v in res["cxlens"]["params"].items())
        + f"  LL={res['cxlens']['log_likelihood']:.1f}  {res['cxlens']['seconds']:.2f}s",
    ]
    lf = res.get("lifetimes")
    if lf is None:
        return "\n".join(lines)
    if "error" in lf:
        lines.append("lifetimes: " + lf["error"])
        return "\n".join(lines)
    lines.append(
        "lifetimes: "
        + "  ".join(f"{k}={v:.4g}" for k, v in lf["params"].items())
        + f"  LL={lf['log_likelihood']:.1f}  {lf['seconds']:.2f}s"
    )
    same = "same estimates to 3 significant digits" if res["same_estimates"] else "ESTIMATES DIFFER"
    lines.append(f"speed-up: {res['speedup']:.1f}x; {same}")
    return "\n".join(lines)
