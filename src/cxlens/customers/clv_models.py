"""Buy-till-you-die purchase models and the gamma-gamma spend model.

Three estimators with the scikit-learn contract (``__init__`` stores parameters, ``fit`` returns
``self``, learned attributes end in ``_``):

- :class:`BetaGeoModel` — BG/NBD, Fader, Hardie & Lee (2005), "Counting Your Customers the Easy
  Way: An Alternative to the Pareto/NBD Model", *Marketing Science* 24(2), 275-284.
- :class:`ParetoNBDModel` — Pareto/NBD, Schmittlein, Morrison & Colombo (1987), "Counting Your
  Customers: Who Are They and What Will They Do Next?", *Management Science* 33(1), 1-24, with
  the likelihood of Fader & Hardie (2005), "A Note on Deriving the Pareto/NBD Model and Related
  Expressions".
- :class:`GammaGammaModel` — Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves
  for Customer Base Analysis", *Journal of Marketing Research* 42(4), 415-430.

Inputs are per-customer summaries: ``frequency`` x (repeat purchases), ``recency`` t_x (time of
the last purchase since the first) and ``T`` (time since the first purchase), all in one time
unit; ``monetary`` is the mean value of the repeat purchases. Fitting is maximum likelihood on
the log of the parameters (:func:`scipy.optimize.minimize`, analytic gradients for BG/NBD and
gamma-gamma). Identical summaries are collapsed into weighted rows inside ``fit``, so the cost
of a fit grows with the number of *distinct* summaries, not customers; ``weights`` accepts an
already collapsed table (see :func:`cxlens.customers.summary_counts`).

``covariance_`` is the inverse of the numerical Hessian of the negative log-likelihood in the
log-parameters (the asymptotic covariance used by the parametric bootstrap in
:func:`cxlens.customers.customer_lifetime_value`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from scipy.special import betaln, digamma, gammaln, hyp2f1

from cxlens.errors import ConfigError, CxlensError, NotFittedError

__all__ = [
    "BetaGeoModel",
    "GammaGammaModel",
    "NotFittedError",
    "ParetoNBDModel",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
]


def _arr(v: Any, name: str) -> np.ndarray:
    a = np.asarray(v, dtype="float64").ravel()
    if not np.isfinite(a).all():
        raise ConfigError(
            f"{name} has {int((~np.isfinite(a)).sum())} missing or infinite values; expected numbers; "
            "drop or fill those customers first"
        )
    return a


def group_rows(columns: list[np.ndarray]) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of ``columns`` (in order of first appearance) and each row's group index."""
    if len(columns[0]) == 0:
        return columns, np.zeros(0, dtype=np.int64)
    df = pd.DataFrame({i: c for i, c in enumerate(columns)})
    codes = df.groupby(list(df.columns), sort=False).ngroup().to_numpy()
    first = np.unique(codes, return_index=True)[1]
    return [np.asarray(c)[first] for c in columns], codes


def collapse(columns: list[np.ndarray], weights: Any = None) -> tuple[list[np.ndarray], np.ndarray]:
    """Distinct rows of ``columns`` and the summed weight of each (``weights`` default 1)."""
    n = len(columns[0])
    w = np.ones(n) if weights is None else _arr(weights, "weights")
    uniq, codes = group_rows(columns)
    return uniq, np.bincount(codes, weights=w, minlength=len(uniq[0]))


def _hessian(grad: Any, x: np.ndarray, eps: float = 1e-5) -> np.ndarray:
    """Symmetrised forward-difference Hessian of a function whose gradient is ``grad`` (k + 1 calls)."""
    k = len(x)
    h = np.empty((k, k))
    g0 = grad(x)
    for i in range(k):
        e = np.zeros(k)
        e[i] = eps
        h[i] = (grad(x + e) - g0) / eps
    return (h + h.T) / 2


def _num_grad(f: Any, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    g = np.empty(len(x))
    for i in range(len(x)):
        e = np.zeros(len(x))
        e[i] = eps
        g[i] = (f(x + e) - f(x - e)) / (2 * eps)
    return g


#: distinct rows in the subsample a large BG/NBD fit is warm-started from
_WARM_ROWS = 10_000


class _Model:
    """Shared fit machinery: log-parameter optimisation, covariance, fitted checks."""

    _names: tuple[str, ...] = ()

    def __init__(self, *, penalizer: float = 0.0, tol: float = 1e-8, max_iter: int = 2000) -> None:
        self.penalizer = penalizer
        self.tol = tol
        self.max_iter = max_iter

    def _check_fitted(self) -> None:
        if not hasattr(self, "params_"):
            raise NotFittedError(f"This {type(self).__name__} instance is not fitted yet. Call 'fit' first.")

    def __repr__(self) -> str:
        if hasattr(self, "params_"):
            inner = ", ".join(f"{k}={v:.4g}" for k, v in self.params_.items())
            return f"{type(self).__name__}({inner})"
        return f"{type(self).__name__}()"

    def _optimise(self, nll: Any, grad: Any | None, x0: np.ndarray, gtol: float | None = None) -> np.ndarray:
        pen = self.penalizer

        def f(z: np.ndarray) -> Any:
            v = nll(z) + pen * float(np.sum(np.exp(z) ** 2))
            if grad is None:
                return v
            return v, grad(z) + pen * 2 * np.exp(2 * z)

        from scipy.optimize import minimize  # lazy: ~0.3 s at import

        res = minimize(
            f, x0, jac=grad is not None, method="BFGS", options={"gtol": gtol or self.tol, "maxiter": self.max_iter}
        )
        if not np.all(np.isfinite(res.x)):  # pragma: no cover - pathological data
            raise CxlensError(f"{type(self).__name__} fit did not converge ({res.message})")
        # polish with Nelder-Mead-free Newton steps is unnecessary: BFGS with exact gradients converges
        return res.x

    def _finish(self, z: np.ndarray, nll_total: Any, grad_total: Any | None, unscale: np.ndarray) -> None:
        g = grad_total if grad_total is not None else (lambda v: _num_grad(nll_total, v))
        h = _hessian(g, z)
        try:
            cov = np.linalg.inv(h)
        except np.linalg.LinAlgError:  # pragma: no cover
            cov = np.full_like(h, np.nan)
        self.log_params_ = z + unscale  # log-parameters in the caller's units
        self.covariance_ = cov  # unaffected by the time/money rescaling (a shift in log space)
        self.params_ = dict(zip(self._names, np.exp(self.log_params_).tolist(), strict=True))
        var = np.diag(cov)
        se = np.exp(self.log_params_) * np.sqrt(np.where(var >= 0, var, np.nan))
        self.standard_errors_ = dict(zip(self._names, se.tolist(), strict=True))

    def sample_params(self, draws: int, rng: np.random.Generator) -> np.ndarray:
        """``draws`` parameter vectors from the asymptotic normal of the log-parameters (rows)."""
        self._check_fitted()
        cov = np.nan_to_num(self.covariance_)
        return np.exp(rng.multivariate_normal(self.log_params_, cov, size=draws, method="eigh"))


# -- BG/NBD ---------------------------------------------------------------------------------
def _bg_terms(p: np.ndarray, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> tuple[np.ndarray, ...]:
    r, alpha, a, b = p
    a1 = gammaln(r + x) - gammaln(r) + r * np.log(alpha)
    a2 = betaln(a, b + x) - betaln(a, b)
    a3 = -(r + x) * np.log(alpha + T)
    rep = x > 0
    a4 = np.where(rep, np.log(a) - np.log(np.where(rep, b + x - 1, 1.0)) - (r + x) * np.log(alpha + tx), -np.inf)
    return a1, a2, a3, a4


def bgnbd_loglik(params: Any, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-row BG/NBD log-likelihood (Fader, Hardie & Lee 2005, eq. 6)."""
    a1, a2, a3, a4 = _bg_terms(np.asarray(params, float), x, tx, T)
    return a1 + a2 + np.logaddexp(a3, a4)


class BetaGeoModel(_Model):
    """BG/NBD purchase model (Fader, Hardie & Lee 2005, *Marketing Science* 24(2)).

    While alive a customer buys at Poisson rate λ ~ Gamma(r, α); after every repeat purchase
    they drop out with probability p ~ Beta(a, b).

    Parameters
    ----------
    penalizer
        L2 penalty on the parameters (0 = plain maximum likelihood, as in the paper).
    tol, max_iter
        Gradient tolerance and iteration cap of the BFGS optimiser.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha`` (in the time unit of the data), ``a``, ``b``.
    log_likelihood_ : float
        Total log-likelihood at ``params_`` (weighted).
    n_customers_ : int
        Customers fitted (sum of weights); ``n_distinct_`` distinct summaries.
    covariance_ : ndarray
        Asymptotic covariance of the log-parameters; ``standard_errors_`` of the parameters.

    Examples
    --------
    >>> x, tx, T = simulate_bgnbd(5000, r=0.25, alpha=4.0, a=0.8, b=2.5, seed=1)
    >>> m = BetaGeoModel().fit(x, tx, T)
    >>> sorted(m.params_)
    ['a', 'alpha', 'b', 'r']
    """

    _names = ("r", "alpha", "a", "b")

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None) -> BetaGeoModel:
        """Fit by maximum likelihood; identical (frequency, recency, T) rows are collapsed first."""
        x, tx, TT = _check_rft(frequency, recency, T)
        (x, tx, TT), w = collapse([x, tx, TT], weights)
        scale = 10.0 / max(float(TT.max()), 1e-12)
        data = _BGData(x, tx * scale, TT * scale, w)
        wsum = w.sum()
        cache: dict[bytes, tuple[float, np.ndarray]] = {}

        def vg(z: np.ndarray) -> tuple[float, np.ndarray]:
            k = z.tobytes()
            if k not in cache:
                cache.clear()
                cache[k] = data.value_grad(np.exp(z))
            return cache[k]

        def nll(z: np.ndarray) -> float:
            return -vg(z)[0] / wsum

        def grad(z: np.ndarray) -> np.ndarray:
            return -vg(z)[1] * np.exp(z) / wsum

        z0 = np.zeros(4)
        if len(x) > 4 * _WARM_ROWS:  # warm start from a uniform subsample of the distinct rows
            sub = np.random.default_rng(0).choice(len(x), _WARM_ROWS, replace=False)
            ds, ws = _BGData(x[sub], tx[sub] * scale, TT[sub] * scale, w[sub]), w[sub].sum()
            z0 = self._optimise(
                lambda z: -ds.value_grad(np.exp(z))[0] / ws,
                lambda z: -ds.value_grad(np.exp(z))[1] * np.exp(z) / ws,
                z0,
                gtol=1e-5,
            )
        z = self._optimise(nll, grad, z0)
        self._finish(z, lambda v: nll(v) * wsum, lambda v: grad(v) * wsum, np.array([0, -np.log(scale), 0, 0]))
        self.log_likelihood_ = float(np.dot(w, bgnbd_loglik(self._p(), x, tx, TT)))
        self.n_customers_ = int(round(wsum))
        self.n_distinct_ = len(x)
        return self

    def _p(self) -> np.ndarray:
        self._check_fitted()
        return np.exp(self.log_params_)

    def probability_alive(self, frequency: Any, recency: Any, T: Any, params: Any = None) -> np.ndarray:
        """P(alive | x, t_x, T) (Fader, Hardie & Lee 2005, eq. 11; 1 for x = 0)."""
        r, alpha, a, b = self._p() if params is None else params
        x, tx, TT = _check_rft(frequency, recency, T)
        rep = x > 0
        log_ratio = (
            np.log(a) - np.log(np.where(rep, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + TT) - np.log(alpha + tx))
        )
        return np.where(rep, 1.0 / (1.0 + np.exp(np.minimum(log_ratio, 700))), 1.0)

    def _unalive_expected(self, t: Any, x: np.ndarray, TT: np.ndarray, params: Any = None) -> np.ndarray:
        """E[Y(t)|x, t_x, T] / P(alive): depends on (x, T) only."""
        r, alpha, a, b = self._p() if params is None else params
        t = np.asarray(t, float)
        z = t / (alpha + TT + t)
        f = hyp2f1(r + x, b + x, a + b + x - 1, z)
        ratio = np.exp((r + x) * (np.log(alpha + TT) - np.log(alpha + TT + t)))
        return (a + b + x - 1) / (a - 1) * (1 - ratio * f)

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any, params: Any = None) -> np.ndarray:
        """Expected repeat purchases in the next ``t`` units given the history (eq. 10)."""
        x, tx, TT = _check_rft(frequency, recency, T)
        return self._unalive_expected(t, x, TT, params) * self.probability_alive(x, tx, TT, params)

    def expected_purchases_new(self, t: Any) -> np.ndarray:
        """E[X(t)]: expected repeat purchases of a new customer in ``t`` units (eq. 9)."""
        r, alpha, a, b = self._p()
        t = np.asarray(t, float)
        f = hyp2f1(r, b, a + b - 1, t / (alpha + t))
        return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * f)


class _BGData:
    """Weighted, collapsed BG/NBD rows with special functions evaluated once per distinct value.

    ``x`` takes few distinct values, so the gamma/beta/digamma terms are computed per distinct x
    and gathered; the logs of α + T and α + t_x per distinct T and t_x. One pass gives the
    log-likelihood and its gradient in the natural parameters.
    """

    def __init__(self, x: np.ndarray, tx: np.ndarray, T: np.ndarray, w: np.ndarray) -> None:
        self.ux, self.xi = np.unique(x, return_inverse=True)
        self.uT, self.Ti = np.unique(T, return_inverse=True)
        self.utx, self.txi = np.unique(tx, return_inverse=True)
        self.x, self.w = x, w
        self.wx = np.bincount(self.xi, weights=w, minlength=len(self.ux))  # weight per distinct x
        self.rep = x > 0
        self.urep = self.ux > 0

    def value_grad(self, p: np.ndarray) -> tuple[float, np.ndarray]:
        r, alpha, a, b = p
        ux, xi, w, wx, x = self.ux, self.xi, self.w, self.wx, self.x
        bx1 = np.where(self.urep, b + ux - 1, 1.0)
        # per distinct x
        c_x = gammaln(r + ux) + betaln(a, b + ux) + np.where(self.urep, np.log(a) - np.log(bx1), 0.0)
        # per row
        la_T = np.log(alpha + self.uT)[self.Ti]
        la_tx = np.log(alpha + self.utx)[self.txi]
        rx = r + x
        a3 = -rx * la_T
        a4 = np.where(self.rep, (np.log(a) - np.log(bx1))[xi] - rx * la_tx, -np.inf)
        m = np.maximum(a3, a4)
        e3, e4 = np.exp(a3 - m), np.exp(a4 - m)
        tot = e3 + e4
        lse = m + np.log(tot)
        w4 = w * e4 / tot  # weight times the posterior share of the "dropped out" term
        w3 = w - w4
        ll_rows = float(np.dot(w, lse - np.where(self.rep, (np.log(a) - np.log(bx1))[xi], 0.0)))
        n = w.sum()
        value = float(np.dot(wx, c_x)) + ll_rows + n * (-gammaln(r) + r * np.log(alpha) - betaln(a, b))
        inv_T = (1.0 / (alpha + self.uT))[self.Ti]
        inv_tx = (1.0 / (alpha + self.utx))[self.txi]
        d_r = (
            float(np.dot(wx, digamma(r + ux)))
            + n * (np.log(alpha) - digamma(r))
            - float(np.dot(w3, la_T))
            - float(np.dot(w4, la_tx))
        )
        d_alpha = n * r / alpha - float(np.dot(w3 * rx, inv_T)) - float(np.dot(w4 * rx, inv_tx))
        d_a = float(np.dot(wx, digamma(a + b) - digamma(a + b + ux))) + float(w4.sum()) / a
        w4x = np.bincount(xi, weights=w4, minlength=len(ux))
        d_b = float(np.dot(wx, digamma(a + b) + digamma(b + ux) - digamma(b) - digamma(a + b + ux))) - float(
            np.dot(w4x, 1.0 / bx1)
        )
        return value, np.array([d_r, d_alpha, d_a, d_b])


def _check_rft(frequency: Any, recency: Any, T: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x, tx, TT = _arr(frequency, "frequency"), _arr(recency, "recency"), _arr(T, "T")
    if not (len(x) == len(tx) == len(TT)):
        raise ConfigError(
            f"frequency, recency and T have lengths {len(x)}, {len(tx)}, {len(TT)}; expected equal lengths"
        )
    if len(x) and ((x < 0).any() or (tx < 0).any() or (tx > TT + 1e-9).any()):
        bad = int(np.flatnonzero((x < 0) | (tx < 0) | (tx > TT + 1e-9))[0])
        raise ConfigError(
            f"customer row {bad} has frequency {x[bad]}, recency {tx[bad]}, T {TT[bad]}; expected "
            "frequency >= 0 and 0 <= recency <= T; check the summary's column mapping"
        )
    return x, tx, TT


# -- Pareto/NBD ------------------------------------------------------------------------------
def paretonbd_loglik(params: Any, x: np.ndarray, tx: np.ndarray, T: np.ndarray) -> np.ndarray:
    """Per-row Pareto/NBD log-likelihood (Fader & Hardie 2005 note, eqs. 18-22), in log space."""
    r, alpha, s, beta = params
    m = r + s + x
    if alpha >= beta:
        big, b2 = alpha, s + 1
    else:
        big, b2 = beta, r + x
    d = abs(alpha - beta)

    def log_term(t: np.ndarray) -> np.ndarray:
        return np.log(hyp2f1(m, b2, m + 1, d / (big + t))) - m * np.log(big + t)

    l1, l2 = log_term(tx), log_term(T)
    with np.errstate(divide="ignore"):
        log_a0 = l1 + np.log(-np.expm1(np.minimum(l2 - l1, 0.0)))
    first = -(r + x) * np.log(alpha + T) - s * np.log(beta + T)
    second = np.log(s) - np.log(m) + log_a0
    return gammaln(r + x) - gammaln(r) + r * np.log(alpha) + s * np.log(beta) + np.logaddexp(first, second)


class ParetoNBDModel(_Model):
    """Pareto/NBD purchase model (Schmittlein, Morrison & Colombo 1987, *Management Science* 33(1)).

    Poisson purchases at rate λ ~ Gamma(r, α) while alive; an exponential lifetime with rate
    μ ~ Gamma(s, β). The log-likelihood follows Fader & Hardie (2005), "A Note on Deriving the
    Pareto/NBD Model and Related Expressions", with :func:`scipy.special.hyp2f1` always called with
    ``0 <= z < 1`` (the α ≥ β / α < β branches) and the difference of the two hypergeometric terms
    taken in log space.

    Attributes
    ----------
    params_ : dict
        ``r``, ``alpha``, ``s``, ``beta`` (alpha, beta in the data's time unit); see
        :class:`BetaGeoModel` for the other attributes.
    """

    _names = ("r", "alpha", "s", "beta")

    def fit(self, frequency: Any, recency: Any, T: Any, weights: Any = None) -> ParetoNBDModel:
        """Fit by maximum likelihood (numerical gradients); identical rows are collapsed first."""
        x, tx, TT = _check_rft(frequency, recency, T)
        (x, tx, TT), w = collapse([x, tx, TT], weights)
        scale = 10.0 / max(float(TT.max()), 1e-12)
        txs, Ts = tx * scale, TT * scale
        wsum = w.sum()

        def nll(z: np.ndarray) -> float:
            v = -float(np.dot(w, paretonbd_loglik(np.exp(z), x, txs, Ts))) / wsum
            return v if np.isfinite(v) else 1e10

        from scipy.optimize import minimize  # lazy: ~0.3 s at import

        res = minimize(
            lambda z: nll(z) + self.penalizer * float(np.sum(np.exp(2 * z))),
            np.zeros(4),
            method="Nelder-Mead",
            options={"xatol": 1e-7, "fatol": 1e-11, "maxiter": 4000, "maxfev": 8000},
        )
        z = minimize(nll, res.x, method="BFGS", options={"gtol": 1e-9}).x if self.penalizer == 0 else res.x
        self._finish(z, lambda v: nll(v) * wsum, None, np.array([0, -np.log(scale), 0, -np.log(scale)]))
        self.log_likelihood_ = float(np.dot(w, paretonbd_loglik(self._p(), x, tx, TT)))
        self.n_customers_ = int(round(wsum))
        self.n_distinct_ = len(x)
        return self

    def _p(self) -> np.ndarray:
        self._check_fitted()
        return np.exp(self.log_params_)

    def probability_alive(self, frequency: Any, recency: Any, T: Any, params: Any = None) -> np.ndarray:
        """P(alive | x, t_x, T) = L1 / L (Fader & Hardie 2005 note, eq. 23)."""
        p = self._p() if params is None else np.asarray(params, float)
        r, alpha, s, beta = p
        x, tx, TT = _check_rft(frequency, recency, T)
        ll = paretonbd_loglik(p, x, tx, TT)
        l_alive = (
            gammaln(r + x)
            - gammaln(r)
            + r * np.log(alpha)
            + s * np.log(beta)
            - (r + x) * np.log(alpha + TT)
            - s * np.log(beta + TT)
        )
        return np.exp(np.minimum(l_alive - ll, 0.0))

    def _unalive_expected(self, t: Any, x: np.ndarray, TT: np.ndarray, params: Any = None) -> np.ndarray:
        r, alpha, s, beta = self._p() if params is None else params
        t = np.asarray(t, float)
        lg = np.log1p(t / (beta + TT))
        sm1 = s - 1
        core = lg if abs(sm1) < 1e-10 else -np.expm1(-sm1 * lg) / sm1
        return (r + x) * (beta + TT) / (alpha + TT) * core

    def expected_purchases(self, t: Any, frequency: Any, recency: Any, T: Any, params: Any = None) -> np.ndarray:
        """Expected purchases in the next ``t`` units given the history (note, eq. 41)."""
        x, tx, TT = _check_rft(frequency, recency, T)
        return self._unalive_expected(t, x, TT, params) * self.probability_alive(x, tx, TT, params)


# -- Gamma-Gamma -----------------------------------------------------------------------------
def gamma_gamma_loglik(params: Any, x: np.ndarray, zbar: np.ndarray) -> np.ndarray:
    """Per-row gamma-gamma log-likelihood of the mean spend ``zbar`` over ``x`` purchases."""
    p, q, g = params
    px = p * x
    return (
        gammaln(px + q)
        - gammaln(px)
        - gammaln(q)
        + q * np.log(g)
        + (px - 1) * np.log(zbar)
        + px * np.log(x)
        - (px + q) * np.log(g + x * zbar)
    )


class GammaGammaModel(_Model):
    """Gamma-gamma spend model (Fader, Hardie & Lee 2005, *J. Marketing Research* 42(4)).

    Each transaction value is Gamma(p, ν) with ν ~ Gamma(q, γ) per customer, independent of the
    purchase process. Fit on customers with at least one repeat purchase (x > 0) and their mean
    repeat spend.

    Attributes
    ----------
    params_ : dict
        ``p``, ``q``, ``gamma`` (gamma in money units); ``log_likelihood_``, ``n_customers_``,
        ``covariance_`` as for :class:`BetaGeoModel`.
    """

    _names = ("p", "q", "gamma")

    def fit(self, frequency: Any, monetary: Any, weights: Any = None) -> GammaGammaModel:
        """Fit by maximum likelihood on rows with frequency > 0.

        Repeat customers whose mean spend is 0 (free orders) have no gamma-gamma likelihood; they
        are left out and counted in ``n_excluded_``.
        """
        x, z = _arr(frequency, "frequency"), _arr(monetary, "monetary")
        w0 = None if weights is None else _arr(weights, "weights")
        keep = (x > 0) & (z > 0)
        if not keep.any():
            raise ConfigError(
                "no customer has frequency > 0 and monetary > 0; the gamma-gamma model needs "
                "repeat purchases with a positive value"
            )
        (x, z), w = collapse([x[keep], z[keep]], None if w0 is None else w0[keep])
        scale = 1.0 / float(np.average(z, weights=w))
        zs = z * scale
        wsum = w.sum()

        def nll(v: np.ndarray) -> float:
            return -float(np.dot(w, gamma_gamma_loglik(np.exp(v), x, zs))) / wsum

        def grad(v: np.ndarray) -> np.ndarray:
            p, q, g = np.exp(v)
            px = p * x
            lg = np.log(g + x * zs)
            d_p = x * (digamma(px + q) - digamma(px) + np.log(zs) + np.log(x) - lg)
            d_q = digamma(px + q) - digamma(q) + np.log(g) - lg
            d_g = q / g - (px + q) / (g + x * zs)
            return -np.array([np.dot(w, d_p), np.dot(w, d_q), np.dot(w, d_g)]) * np.exp(v) / wsum

        v = self._optimise(nll, grad, np.zeros(3))
        self._finish(v, lambda u: nll(u) * wsum, lambda u: grad(u) * wsum, np.array([0, 0, -np.log(scale)]))
        self.log_likelihood_ = float(np.dot(w, gamma_gamma_loglik(np.exp(self.log_params_), x, z)))
        self.n_customers_ = int(round(wsum))
        self.n_distinct_ = len(x)
        self.n_excluded_ = int(((_arr(frequency, "frequency") > 0) & ~keep).sum())
        return self

    def conditional_expected_value(self, frequency: Any, monetary: Any, params: Any = None) -> np.ndarray:
        """E[M | x, zbar] = (γ + x·zbar)·p / (p·x + q − 1) (paper, eq. 5); the mean for x = 0."""
        self._check_fitted()
        p, q, g = np.exp(self.log_params_) if params is None else params
        x, z = _arr(frequency, "frequency"), _arr(monetary, "monetary")
        z = np.where(x > 0, z, 0.0)
        return (g + x * z) * p / (p * x + q - 1)

    def expected_value(self) -> float:
        """Population mean spend per transaction, p·γ / (q − 1)."""
        self._check_fitted()
        p, q, g = np.exp(self.log_params_)
        return float(p * g / (q - 1)) if q > 1 else float("inf")


# -- simulation ------------------------------------------------------------------------------
def simulate_bgnbd(
    n: int, r: float, alpha: float, a: float, b: float, *, T: Any = None, seed: int | np.random.Generator = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Simulate BG/NBD customers: (frequency, recency, T) arrays, vectorised.

    Each customer buys at Poisson rate λ ~ Gamma(r, α) and drops out after their J-th repeat
    purchase, J ~ Geometric(p), p ~ Beta(a, b). ``T`` defaults to Uniform(20, 52) per customer.
    Given N(T) = n arrivals, their times are uniform order statistics, so the x-th purchase time
    is T·Beta(x, n − x + 1).
    """
    rng = np.random.default_rng(seed)
    TT = rng.uniform(20.0, 52.0, n) if T is None else np.broadcast_to(np.asarray(T, float), (n,)).copy()
    lam = rng.gamma(r, 1.0 / alpha, n)
    p = rng.beta(a, b, n)
    j = rng.geometric(np.clip(p, 1e-12, 1.0))
    arrivals = rng.poisson(lam * TT)
    x = np.minimum(arrivals, j)
    rep = x > 0
    tx = np.zeros(n)
    tx[rep] = TT[rep] * rng.beta(x[rep], arrivals[rep] - x[rep] + 1)
    return x.astype(float), tx, TT


def simulate_gamma_gamma(
    frequency: Any, p: float, q: float, gamma: float, *, seed: int | np.random.Generator = 0
) -> np.ndarray:
    """Mean spend of ``frequency`` purchases per customer under gamma-gamma (0 where frequency is 0)."""
    rng = np.random.default_rng(seed)
    x = np.asarray(frequency, float)
    nu = rng.gamma(q, 1.0 / gamma, len(x))
    rep = x > 0
    out = np.zeros(len(x))
    out[rep] = rng.gamma(p * x[rep], 1.0 / nu[rep]) / x[rep]
    return out


def params_frame(model: _Model) -> pd.DataFrame:
    """Parameters with standard errors as a tidy frame."""
    model._check_fitted()
    return pd.DataFrame(
        {
            "param": list(model.params_),
            "value": list(model.params_.values()),
            "std_error": list(model.standard_errors_.values()),
        }
    )
