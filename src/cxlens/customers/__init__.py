"""Customers: predictive customer lifetime value (BG/NBD, Pareto/NBD, gamma-gamma).

>>> from cxlens.customers import BetaGeoModel, simulate_bgnbd
>>> x, tx, T = simulate_bgnbd(2000, r=0.25, alpha=4.0, a=0.8, b=2.5, seed=0)
>>> BetaGeoModel().fit(x, tx, T).n_customers_
2000
"""

from cxlens.customers.clv import MODELS, customer_lifetime_value, fit_clv, predict_clv, summary_for
from cxlens.customers.clv_models import (
    BetaGeoModel,
    GammaGammaModel,
    NotFittedError,
    ParetoNBDModel,
    simulate_bgnbd,
    simulate_gamma_gamma,
)
from cxlens.customers.clv_summary import holdout_chart, holdout_table, load_summary, rfm_summary, summary_counts

__all__ = [
    "MODELS",
    "BetaGeoModel",
    "GammaGammaModel",
    "NotFittedError",
    "ParetoNBDModel",
    "customer_lifetime_value",
    "fit_clv",
    "holdout_chart",
    "holdout_table",
    "load_summary",
    "predict_clv",
    "rfm_summary",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
    "summary_counts",
    "summary_for",
]
