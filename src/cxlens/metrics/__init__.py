"""CX metrics as tidy tables: NPS, CSAT, CES, ratings, churn, retention, value, carts, support.

Two layers:

- pure functions ``*_expr(table, ..., by=, period=, start=, end=, filters=)`` that return Ibis
  expressions and so run on any backend;
- :class:`Metrics` (``ws.metrics``), whose methods run them on a workspace and return pandas
  DataFrames with one row per group, the value, ``n`` and a 95% interval.

See ``docs/metrics.md`` for every formula.
"""

from cxlens.metrics.api import Metrics
from cxlens.metrics.carts import carts_expr
from cxlens.metrics.ces import add_mean_ci, ces_expr, rating_expr
from cxlens.metrics.change import period_change
from cxlens.metrics.churn import activity_expr, churn_expr, churn_periods, retention_expr
from cxlens.metrics.common import PERIODS, prepare, valid_dimensions
from cxlens.metrics.csat import csat_expr
from cxlens.metrics.nps import nps_expr
from cxlens.metrics.stats import MIN_N, Z, wilson
from cxlens.metrics.tickets import support_expr
from cxlens.metrics.value import EXCLUDED_STATUSES, clv_expr, valid_orders, value_expr

__all__ = [
    "EXCLUDED_STATUSES",
    "MIN_N",
    "PERIODS",
    "Metrics",
    "Z",
    "activity_expr",
    "add_mean_ci",
    "carts_expr",
    "ces_expr",
    "churn_expr",
    "churn_periods",
    "clv_expr",
    "csat_expr",
    "nps_expr",
    "period_change",
    "prepare",
    "rating_expr",
    "retention_expr",
    "support_expr",
    "valid_dimensions",
    "valid_orders",
    "value_expr",
    "wilson",
]
