"""Interval and test formulas shared by every metric.

Each formula exists twice: as an Ibis expression builder (``*_expr``), so the interval is computed
by the backend in the same query as the aggregate, and as a NumPy function for the few steps that
run in Python on the small aggregated result (t quantiles, period-over-period tests).

All rates, shares and their intervals are percentages (0-100).
"""

from __future__ import annotations

import math

import numpy as np

#: two-sided 95% normal quantile used by every normal-approximation interval
Z = 1.96
#: groups with fewer observations than this are flagged ``small_sample``
MIN_N = 30
#: significance level of :func:`cxlens.metrics.Metrics.change`
ALPHA = 0.05


def wilson_expr(successes, n, z: float = Z):
    """Wilson score interval of ``successes / n`` as Ibis expressions, in percent.

    ``centre = (p + z²/2n) / (1 + z²/n)``, ``half = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)``.

    Returns
    -------
    tuple
        ``(low, high)`` numeric expressions, in percent.
    """
    nf = n.cast("float64")
    p = successes.cast("float64") / nf
    z2 = z * z
    denom = 1 + z2 / nf
    centre = (p + z2 / (2 * nf)) / denom
    half = (z / denom) * (p * (1 - p) / nf + z2 / (4 * nf * nf)).sqrt()
    return (100 * (centre - half)).clip(lower=0), (100 * (centre + half)).clip(upper=100)


def wilson(successes, n, z: float = Z) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval in percent (NumPy version of :func:`wilson_expr`).

    Examples
    --------
    >>> low, high = wilson(8, 10)
    >>> round(float(low), 2), round(float(high), 2)
    (49.02, 94.33)
    """
    s = np.asarray(successes, dtype=float)
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = s / n
        denom = 1 + z * z / n
        centre = (p + z * z / (2 * n)) / denom
        half = (z / denom) * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return np.clip(100 * (centre - half), 0, None), np.clip(100 * (centre + half), None, 100)


def t_quantile(n) -> np.ndarray:
    """Two-sided 95% Student t quantile for ``n`` observations (``n - 1`` degrees of freedom).

    NaN where ``n < 2``. Computed in Python after the backend returned ``n`` per group.
    """
    n = np.asarray(n, dtype=float)
    with np.errstate(invalid="ignore"):
        from scipy import stats as _st  # lazy: scipy.stats costs ~0.5 s at import

        q = _st.t.ppf(1 - ALPHA / 2, np.where(n >= 2, n - 1, np.nan))
    return q


def mean_ci(mean, sd, n) -> tuple[np.ndarray, np.ndarray]:
    """t interval ``mean ± t(0.975, n-1) · sd / sqrt(n)``; NaN when ``n < 2``."""
    mean, sd, n = (np.asarray(x, dtype=float) for x in (mean, sd, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        half = t_quantile(n) * sd / np.sqrt(n)
    return mean - half, mean + half


def normal_p(z) -> np.ndarray:
    """Two-sided p-value of a standard normal statistic."""
    from scipy import stats as _st

    return 2 * _st.norm.sf(np.abs(np.asarray(z, dtype=float)))


def nps_z_test(nps1, var1, nps0, var0) -> tuple[np.ndarray, np.ndarray]:
    """z-test of the difference of two independent NPS values.

    ``var`` is the variance of the NPS estimate in NPS points², ``SE² = 100²·((p+d) - (p-d)²)/n``.
    Returns ``(z, p_value)``.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        z = (np.asarray(nps1, float) - np.asarray(nps0, float)) / np.sqrt(
            np.asarray(var1, float) + np.asarray(var0, float)
        )
    return z, normal_p(z)


def two_proportion_z_test(x1, n1, x0, n0) -> tuple[np.ndarray, np.ndarray]:
    """Pooled two-proportion z-test; returns ``(z, p_value)``."""
    x1, n1, x0, n0 = (np.asarray(v, dtype=float) for v in (x1, n1, x0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        pooled = (x1 + x0) / (n1 + n0)
        se = np.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n0))
        z = (x1 / n1 - x0 / n0) / se
    return z, normal_p(z)


def welch_t_test(m1, s1, n1, m0, s0, n0) -> tuple[np.ndarray, np.ndarray]:
    """Welch's unequal-variance t-test from summary statistics; returns ``(t, p_value)``."""
    m1, s1, n1, m0, s0, n0 = (np.asarray(v, dtype=float) for v in (m1, s1, n1, m0, s0, n0))
    with np.errstate(divide="ignore", invalid="ignore"):
        v1, v0 = s1**2 / n1, s0**2 / n0
        t = (m1 - m0) / np.sqrt(v1 + v0)
        df = (v1 + v0) ** 2 / (v1**2 / (n1 - 1) + v0**2 / (n0 - 1))
        from scipy import stats as _st

        p = 2 * _st.t.sf(np.abs(t), df)
    return t, p


def nps_se(promoters, detractors, n) -> float:
    """Standard error of NPS in points: ``100·sqrt(((p+d) - (p-d)²)/n)`` (scalar helper)."""
    p, d = promoters / n, detractors / n
    return 100 * math.sqrt(((p + d) - (p - d) ** 2) / n)


def median_ci(values) -> tuple[float, float, float]:
    """(median, low, high) of the finite ``values``: the exact order-statistic 95 % interval of the
    median (NaN bounds when there are too few values for one — fewer than 6); all NaN when empty."""
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    if not len(v):
        return (math.nan, math.nan, math.nan)
    ci = st.quantile_test(v, q=float(np.median(v)), p=0.5).confidence_interval(0.95)
    return (float(np.median(v)), float(ci.low), float(ci.high))
