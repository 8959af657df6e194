"""Customers: lifetime value, churn risk, segments, personas, recommendations, revenue at risk, customer 360.

>>> from cxlens.customers import BetaGeoModel, simulate_bgnbd
>>> x, tx, T = simulate_bgnbd(2000, r=0.25, alpha=4.0, a=0.8, b=2.5, seed=0)
>>> BetaGeoModel().fit(x, tx, T).n_customers_
2000

The CLV names are imported with the package; the others (scikit-learn models, segments, personas…)
on first use, so ``import cxlens.customers`` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

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

#: public name → module (imported on first access)
_LAZY = {
    # churn
    "ChurnModel": "churn_model",
    "ChurnTraining": "churn_model",
    "churn_labels": "churn_model",
    "evaluate_scores": "churn_model",
    "load_model": "churn_model",
    "logistic_baseline": "churn_model",
    "save_model": "churn_model",
    "score_churn": "churn_model",
    "train_churn": "churn_model",
    "customer_features": "features",
    "customer_features_expr": "features",
    # segments and personas
    "Clustering": "segments",
    "cluster_segments": "segments",
    "delete_segment": "segments",
    "list_segments": "segments",
    "rfm_segments": "segments",
    "rule_segment": "segments",
    "save_segment": "segments",
    "save_segments": "segments",
    "segment_members": "segments",
    "segment_table": "segments",
    "personas": "personas",
    "customer_list": "listing",
    "segment_summary": "listing",
    # revenue at risk
    "fitted_models": "risk",
    "negative_verbatim_pairs": "risk",
    "revenue_at_risk": "risk",
    "workspace_revenue_at_risk": "risk",
    # charts
    "calibration_chart": "charts",
    "clv_holdout": "charts",
    "segment_map_chart": "charts",
    # recommendations
    "ItemItemRecommender": "recommend",
    "PopularityRecommender": "recommend",
    "evaluate_recommender": "recommend",
    "interactions_from_workspace": "recommend",
    "next_best_action": "recommend",
    "temporal_split": "recommend",
    # customer 360
    "customer_profile": "profile",
    "erase_customer": "profile",
    "export_customer": "profile",
}

__all__ = [
    "MODELS",
    "BetaGeoModel",
    "ChurnModel",
    "ChurnTraining",
    "Clustering",
    "GammaGammaModel",
    "ItemItemRecommender",
    "NotFittedError",
    "ParetoNBDModel",
    "PopularityRecommender",
    "calibration_chart",
    "churn_labels",
    "cluster_segments",
    "clv_holdout",
    "customer_features",
    "customer_features_expr",
    "customer_lifetime_value",
    "customer_list",
    "customer_profile",
    "delete_segment",
    "erase_customer",
    "evaluate_recommender",
    "evaluate_scores",
    "export_customer",
    "fit_clv",
    "fitted_models",
    "holdout_chart",
    "holdout_table",
    "interactions_from_workspace",
    "list_segments",
    "load_model",
    "load_summary",
    "logistic_baseline",
    "negative_verbatim_pairs",
    "next_best_action",
    "personas",
    "predict_clv",
    "revenue_at_risk",
    "rfm_segments",
    "rfm_summary",
    "rule_segment",
    "save_model",
    "save_segment",
    "save_segments",
    "score_churn",
    "segment_map_chart",
    "segment_members",
    "segment_summary",
    "segment_table",
    "simulate_bgnbd",
    "simulate_gamma_gamma",
    "summary_counts",
    "summary_for",
    "temporal_split",
    "train_churn",
    "workspace_revenue_at_risk",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'cxlens.customers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f"cxlens.customers.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
