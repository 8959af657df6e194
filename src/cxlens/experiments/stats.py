"""The statistics of an experiment read-out, from sufficient statistics (counts, sums, sums of squares).

Everything here is plain numpy/scipy on per-variant aggregates, so the SQL that feeds it runs on any
backend. The formulas follow GrowthBook's ``gbstats`` (MIT; github.com/growthbook/growthbook,
``packages/stats``) where it has one, re-implemented because gbstats pins numpy < 2:

* fixed horizon, absolute difference of two proportions: CI from the **unpooled** standard error
  ``sqrt(p_b(1-p_b)/n_b + p_a(1-p_a)/n_a)``, p-value from the **pooled** two-proportion z-test;
* relative uplift ``(μ_b − μ_a)/μ_a`` with the delta-method variance;
* Welch's t for means (revenue per visitor) with Welch–Satterthwaite degrees of freedom;
* NPS difference: each answer scored +1/0/−1, variance ``(p_P + p_D − (p_P − p_D)²)/n`` per arm;
* sample-ratio mismatch: χ² against the configured split, flagged at p < 0.001 (GrowthBook's default);
* Holm's step-down correction across variants × goals;
* sequential testing: the asymptotic confidence sequence of Waudby-Smith et al. (arXiv 2103.06476)
  as in gbstats ``SequentialTwoSidedTTest`` with tuning ``N* = 5000``: valid however often one looks;
  its always-valid p-value is ``min(1, 1/E)`` with the e-value of eq. 155 (gbstats
  ``SequentialTwoSidedTTest.p_value``), which is Johari et al.'s mSPRT statistic Λ with a normal
  mixing distribution of variance ``τ² = ρ²·s²`` (``s² = SE²·n``) — so ``p ≤ α`` exactly when the
  confidence sequence excludes 0;
* Newcombe's hybrid score interval (method 10, from Wilson intervals) for a difference of
  proportions, an option where the unpooled (Wald) interval degenerates at 0 or all conversions;
* CUPED (Deng et al. 2013): ``θ = Cov(Y, X)/Var(X)`` on pooled data, ``Y − θ(X − X̄)``;
* Bayesian: beta-binomial (Beta(1, 1) priors) chance to beat control and expected loss by Monte
  Carlo with a fixed seed; for means the normal approximation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from cxlens.errors import ParameterError

__all__ = [
    "SEQUENTIAL_TUNING",
    "SRM_THRESHOLD",
    "Diff",
    "beta_chance_to_beat",
    "cuped_diff",
    "cuped_diff_stats",
    "cuped_theta",
    "holm",
    "mean_diff",
    "normal_chance_to_beat",
    "newcombe_diff",
    "nps_diff",
    "power_at",
    "proportion_diff",
    "relative_uplift",
    "sample_size",
    "sequential_halfwidth",
    "sequential_halfwidth_array",
    "sequential_p_value",
    "sequential_p_value_array",
    "wald_degenerate",
    "wilson_interval",
    "srm_p_value",
    "suff_stats",
]

#: GrowthBook's default SRM threshold (packages/shared/src/constants.ts)
SRM_THRESHOLD = 0.001
#: GrowthBook's default sequential tuning parameter N* (the sample size the sequence is tightest at)
SEQUENTIAL_TUNING = 5000


@dataclass(frozen=True)
class Diff:
    """A difference variant − control with its fixed-horizon CI and p-value."""

    estimate: float
    se: float
    ci_low: float
    ci_high: float
    p_value: float


def _z(alpha: float) -> float:
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    return float(st.norm.ppf(1 - alpha / 2))


def proportion_diff(x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05) -> Diff:
    """p_b − p_a: CI from the unpooled SE, p-value from the pooled two-proportion z-test."""
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    if n_a <= 0 or n_b <= 0:
        return Diff(math.nan, math.nan, math.nan, math.nan, math.nan)
    pa, pb = x_a / n_a, x_b / n_b
    d = pb - pa
    se = math.sqrt(pa * (1 - pa) / n_a + pb * (1 - pb) / n_b)
    pooled = (x_a + x_b) / (n_a + n_b)
    se0 = math.sqrt(pooled * (1 - pooled) * (1 / n_a + 1 / n_b))
    p = 1.0 if se0 == 0 else float(2 * st.norm.sf(abs(d) / se0))
    z = _z(alpha)
    return Diff(d, se, d - z * se, d + z * se, p)


def wilson_interval(x: int, n: int, alpha: float = 0.05) -> tuple[float, float]:
    """Wilson's score interval for a proportion x/n (NaN when n is 0)."""
    if n <= 0:
        return (math.nan, math.nan)
    z = _z(alpha)
    p = x / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return (max(centre - half, 0.0), min(centre + half, 1.0))


def wald_degenerate(x_a: int, n_a: int, x_b: int, n_b: int) -> bool:
    """True when an arm has 0 or all conversions: its unpooled variance term is 0 and the Wald
    interval pretends that arm's rate is known exactly (width 0 when both arms are so)."""
    return any(n > 0 and x in (0, n) for x, n in ((x_a, n_a), (x_b, n_b)))


def newcombe_diff(x_a: int, n_a: int, x_b: int, n_b: int, alpha: float = 0.05) -> Diff:
    """p_b − p_a with Newcombe's hybrid score interval (1998, method 10; statsmodels
    ``confint_proportions_2indep(method="newcomb")``); ``se`` and the p-value are those of
    :func:`proportion_diff` (unpooled SE, pooled z-test)."""
    base = proportion_diff(x_a, n_a, x_b, n_b, alpha)
    if n_a <= 0 or n_b <= 0:
        return base
    pa, pb = x_a / n_a, x_b / n_b
    la, ua = wilson_interval(x_a, n_a, alpha)
    lb, ub = wilson_interval(x_b, n_b, alpha)
    d = pb - pa
    low = d - math.sqrt((pb - lb) ** 2 + (ua - pa) ** 2)
    high = d + math.sqrt((ub - pb) ** 2 + (pa - la) ** 2)
    return Diff(d, base.se, low, high, base.p_value)


def mean_diff(n_a: int, sum_a: float, ss_a: float, n_b: int, sum_b: float, ss_b: float, alpha: float = 0.05) -> Diff:
    """μ_b − μ_a by Welch's t (sufficient statistics: count, sum, sum of squares)."""
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    if n_a < 2 or n_b < 2:
        return Diff(math.nan, math.nan, math.nan, math.nan, math.nan)
    ma, mb = sum_a / n_a, sum_b / n_b
    va = max((ss_a - n_a * ma * ma) / (n_a - 1), 0.0)
    vb = max((ss_b - n_b * mb * mb) / (n_b - 1), 0.0)
    se2 = va / n_a + vb / n_b
    d = mb - ma
    if se2 == 0:
        return Diff(d, 0.0, d, d, 1.0 if d == 0 else 0.0)
    se = math.sqrt(se2)
    df = se2**2 / ((va / n_a) ** 2 / (n_a - 1) + (vb / n_b) ** 2 / (n_b - 1))
    t = float(st.t.ppf(1 - alpha / 2, df))
    p = float(2 * st.t.sf(abs(d) / se, df))
    return Diff(d, se, d - t * se, d + t * se, p)


def relative_uplift(mean_a: float, var_a: float, n_a: int, mean_b: float, var_b: float, n_b: int,
                    alpha: float = 0.05) -> tuple[float, float, float]:  # fmt: skip
    """(μ_b − μ_a)/μ_a with its delta-method CI (gbstats ``frequentist/tests.py``); ``var_*`` are
    per-unit variances."""
    if mean_a == 0 or n_a <= 0 or n_b <= 0:
        return (math.nan, math.nan, math.nan)
    r = (mean_b - mean_a) / mean_a
    v = var_b / (mean_a**2 * n_b) + var_a * mean_b**2 / (mean_a**4 * n_a)
    h = _z(alpha) * math.sqrt(v)
    return (r, r - h, r + h)


def nps_diff(counts_a: tuple[int, int, int], counts_b: tuple[int, int, int], alpha: float = 0.05) -> Diff:
    """NPS_b − NPS_a in points; ``counts`` are (promoters, passives, detractors)."""
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    def part(c: tuple[int, int, int]) -> tuple[float, float, int]:
        n = sum(c)
        if n == 0:
            return math.nan, math.nan, 0
        pp, pd_ = c[0] / n, c[2] / n
        return 100 * (pp - pd_), 100**2 * (pp + pd_ - (pp - pd_) ** 2) / n, n

    na_, va, n_a = part(counts_a)
    nb_, vb, n_b = part(counts_b)
    if n_a == 0 or n_b == 0:
        return Diff(math.nan, math.nan, math.nan, math.nan, math.nan)
    d, se = nb_ - na_, math.sqrt(va + vb)
    p = 1.0 if se == 0 else float(2 * st.norm.sf(abs(d) / se))
    z = _z(alpha)
    return Diff(d, se, d - z * se, d + z * se, p)


def srm_p_value(observed: list[int], weights: list[float]) -> float:
    """χ² goodness of fit of the exposure counts against the configured split (weights ≤ 0 skipped)."""
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    obs = np.asarray(observed, dtype=float)
    w = np.asarray(weights, dtype=float)
    keep = w > 0
    obs, w = obs[keep], w[keep]
    if len(obs) < 2 or obs.sum() == 0:
        return 1.0
    exp = w / w.sum() * obs.sum()
    chi2 = float(((obs - exp) ** 2 / exp).sum())
    return float(st.chi2.sf(chi2, len(obs) - 1))


def holm(p_values: list[float]) -> list[float]:
    """Holm's step-down adjusted p-values (NaN stays NaN), in the input's order."""
    idx = [i for i, p in enumerate(p_values) if p is not None and not math.isnan(p)]
    order = sorted(idx, key=lambda i: p_values[i])
    m = len(order)
    out = [math.nan] * len(p_values)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = running
    return out


def sequential_halfwidth(se: float, n: float, alpha: float = 0.05, tuning: int = SEQUENTIAL_TUNING) -> float:
    """Half-width of the always-valid (asymptotic) confidence sequence around an estimate with
    standard error ``se`` from ``n`` units in total (gbstats ``SequentialTwoSidedTTest``)."""
    if not (n > 0) or not math.isfinite(se):
        return math.nan
    rho = math.sqrt((-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning)
    s2 = se * se * n
    return math.sqrt(s2) * math.sqrt(
        2 * (n * rho**2 + 1) / (n**2 * rho**2) * math.log(math.sqrt(n * rho**2 + 1) / alpha)
    )


def sequential_p_value(estimate: float, se: float, n: float, alpha: float = 0.05,
                       tuning: int = SEQUENTIAL_TUNING) -> float:  # fmt: skip
    """The always-valid two-sided p-value of the confidence sequence above: ``min(1, 1/E)`` with
    ``E = exp(ρ²S²/(2(nρ²+1)))/sqrt(nρ²+1)``, ``S² = Δ²·n/SE²`` (Waudby-Smith et al. eq. 155, gbstats
    ``SequentialTwoSidedTTest``; the mSPRT of Johari et al. 2017 with mixing variance ``τ² = ρ²SE²n``).
    Computed in log space; NaN when it cannot be computed, 1.0 for a zero SE with a zero difference."""
    if not (n > 0 and math.isfinite(se) and math.isfinite(estimate)):
        return math.nan
    if se == 0:
        return 1.0 if estimate == 0 else 0.0
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    s2 = estimate * estimate * n / (se * se)
    log_e = rho2 * s2 / (2 * (n * rho2 + 1)) - 0.5 * math.log(n * rho2 + 1)
    return 1.0 if log_e <= 0 else float(math.exp(-log_e))


def sequential_p_value_array(estimate: np.ndarray, se: np.ndarray, n: np.ndarray, alpha: float = 0.05,
                             tuning: int = SEQUENTIAL_TUNING) -> np.ndarray:  # fmt: skip
    """:func:`sequential_p_value` vectorised (the simulations use it); NaN where ``se`` is 0."""
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    n = np.asarray(n, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        s2 = np.asarray(estimate, dtype=float) ** 2 * n / np.asarray(se, dtype=float) ** 2
        log_e = rho2 * s2 / (2 * (n * rho2 + 1)) - 0.5 * np.log(n * rho2 + 1)
        return np.where(log_e <= 0, 1.0, np.exp(-np.maximum(log_e, 0)))


def sequential_halfwidth_array(se: np.ndarray, n: np.ndarray, alpha: float = 0.05,
                               tuning: int = SEQUENTIAL_TUNING) -> np.ndarray:  # fmt: skip
    """:func:`sequential_halfwidth` vectorised (the simulations use it)."""
    rho2 = (-2 * math.log(alpha) + math.log(-2 * math.log(alpha) + 1)) / tuning
    n = np.asarray(n, dtype=float)
    return np.sqrt(se * se * n) * np.sqrt(2 * (n * rho2 + 1) / (n**2 * rho2) * np.log(np.sqrt(n * rho2 + 1) / alpha))


def cuped_theta(n: float, sx: float, sy: float, sxx: float, sxy: float) -> float:
    """θ = Cov(X, Y)/Var(X) from pooled sufficient statistics (0 when X does not vary)."""
    if n < 2:
        return 0.0
    var_x = (sxx - sx * sx / n) / (n - 1)
    cov = (sxy - sx * sy / n) / (n - 1)
    return 0.0 if var_x <= 0 else cov / var_x


def cuped_diff_stats(a: Mapping[str, float], b: Mapping[str, float], alpha: float = 0.05) -> tuple[Diff, float]:
    """The CUPED-adjusted difference of means ``Y − θ(X − X̄)`` (θ and X̄ from the pooled arms), by
    Welch, and the share of the difference's variance removed (``1 − Var_cuped/Var_raw``), from
    per-arm sufficient statistics ``n, sy, syy, sx, sxx, sxy`` (the SQL read-out's aggregates)."""
    na, nb = float(a["n"]), float(b["n"])
    if na < 2 or nb < 2:
        return Diff(math.nan, math.nan, math.nan, math.nan, math.nan), math.nan
    tot = {k: float(a[k]) + float(b[k]) for k in ("n", "sy", "syy", "sx", "sxx", "sxy")}
    theta = cuped_theta(tot["n"], tot["sx"], tot["sy"], tot["sxx"], tot["sxy"])
    xbar = tot["sx"] / tot["n"]

    def adjusted(m: Mapping[str, float]) -> tuple[int, float, float]:
        # Σ(y − θ(x − x̄)) and Σ(y − θ(x − x̄))² expanded into the sums
        n, sy, syy, sx, sxx, sxy = (float(m[k]) for k in ("n", "sy", "syy", "sx", "sxx", "sxy"))
        s1 = sy - theta * sx + theta * xbar * n
        s2 = (syy + theta**2 * sxx + n * theta**2 * xbar**2 - 2 * theta * sxy + 2 * theta * xbar * sy
              - 2 * theta**2 * xbar * sx)  # fmt: skip
        return int(n), s1, s2

    d = mean_diff(*adjusted(a), *adjusted(b), alpha=alpha)

    def var(m: Mapping[str, float]) -> float:
        n = float(m["n"])
        return max((float(m["syy"]) - float(m["sy"]) ** 2 / n) / (n - 1), 0.0) / n

    var_raw = var(a) + var(b)
    reduction = 1 - d.se**2 / var_raw if var_raw > 0 else math.nan
    return d, reduction


def suff_stats(y: np.ndarray, x: np.ndarray) -> dict[str, float]:
    """``n, sy, syy, sx, sxx, sxy`` of paired arrays (what the SQL read-out aggregates)."""
    y, x = np.asarray(y, dtype=float), np.asarray(x, dtype=float)
    return {"n": len(y), "sy": float(y.sum()), "syy": float((y * y).sum()), "sx": float(x.sum()),
            "sxx": float((x * x).sum()), "sxy": float((x * y).sum())}  # fmt: skip


def cuped_diff(ya: np.ndarray, xa: np.ndarray, yb: np.ndarray, xb: np.ndarray,
               alpha: float = 0.05) -> tuple[Diff, float]:  # fmt: skip
    """:func:`cuped_diff_stats` on per-unit arrays."""
    return cuped_diff_stats(suff_stats(ya, xa), suff_stats(yb, xb), alpha)


def beta_chance_to_beat(x_a: int, n_a: int, x_b: int, n_b: int, draws: int = 100_000,
                        seed: int = 0) -> tuple[float, float]:  # fmt: skip
    """(P(p_b > p_a), expected loss E[max(p_a − p_b, 0)]) under Beta(1 + x, 1 + n − x) posteriors."""
    if n_a <= 0 or n_b <= 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    a = rng.beta(1 + x_a, 1 + n_a - x_a, draws)
    b = rng.beta(1 + x_b, 1 + n_b - x_b, draws)
    return float((b > a).mean()), float(np.maximum(a - b, 0).mean())


def normal_chance_to_beat(diff: float, se: float) -> tuple[float, float]:
    """(P(Δ > 0), expected loss E[max(−Δ, 0)]) for Δ ~ N(diff, se²) (flat prior)."""
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    if not (math.isfinite(diff) and math.isfinite(se)):
        return (math.nan, math.nan)
    if se == 0:
        return (float(diff > 0), max(-diff, 0.0))
    z = diff / se
    return float(st.norm.cdf(z)), float(se * st.norm.pdf(z) - diff * st.norm.cdf(-z))


def sample_size(baseline: float, mde: float, power: float = 0.8, alpha: float = 0.05, variants: int = 2,
                traffic: float | None = None) -> dict[str, float | int | None]:  # fmt: skip
    """Units per variant to detect an absolute change ``mde`` of a rate ``baseline`` (two-sided
    z-test, pooled SE under H0, unpooled under H1), and days at ``traffic`` units per day in total.
    """
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    for name, v, lo, hi in (("baseline", baseline, 0, 1), ("power", power, 0, 1), ("alpha", alpha, 0, 1)):
        if not (lo < v < hi):
            raise ParameterError(name, f"{name} is {v!r}; expected a number strictly between {lo} and {hi}")
    if not (0 < abs(mde) and 0 < baseline + mde < 1):
        raise ParameterError("mde", f"mde is {mde!r}; expected a non-zero absolute change keeping the rate in (0, 1)")
    if variants < 2:
        raise ParameterError("variants", f"variants is {variants!r}; expected 2 or more (control included)")
    p1, p2 = baseline, baseline + mde
    pbar = (p1 + p2) / 2
    za, zb = _z(alpha), float(st.norm.ppf(power))
    n = (za * math.sqrt(2 * pbar * (1 - pbar)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2 / mde**2
    per = math.ceil(n)
    days = None
    if traffic is not None:
        if not traffic > 0:
            raise ParameterError("traffic", f"traffic is {traffic!r}; expected units per day > 0")
        days = math.ceil(per * variants / traffic)
    return {"baseline": baseline, "mde": mde, "power": power, "alpha": alpha, "variants": variants,
            "per_variant": per, "total": per * variants, "traffic": traffic, "days": days}  # fmt: skip


def power_at(baseline: float, mde: float, n: int, alpha: float = 0.05) -> float:
    """The power of the two-sided z-test with ``n`` units per arm (the inverse of :func:`sample_size`)."""
    from scipy import stats as st  # lazy: scipy.stats costs ~0.5 s at import

    p1, p2 = baseline, baseline + mde
    pbar = (p1 + p2) / 2
    se0 = math.sqrt(2 * pbar * (1 - pbar) / n)
    se1 = math.sqrt((p1 * (1 - p1) + p2 * (1 - p2)) / n)
    za = _z(alpha)
    return float(st.norm.cdf((abs(mde) - za * se0) / se1) + st.norm.cdf((-abs(mde) - za * se0) / se1))
