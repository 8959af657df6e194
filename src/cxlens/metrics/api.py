"""``Metrics``: the workspace-bound entry point (``ws.metrics``) returning tidy DataFrames.

Every method builds an Ibis expression with the pure ``*_expr`` functions, runs it on the
workspace's backend (DuckDB or any Ibis backend, such as Spark) and returns one row per group,
sorted by the group columns and then ``period``.
"""

from __future__ import annotations

from typing import Any

import ibis
import pandas as pd

from cxlens.errors import NotFoundError
from cxlens.metrics import ces as _ces
from cxlens.metrics import csat as _csat
from cxlens.metrics import nps as _nps
from cxlens.metrics.common import PERIOD_COL, By, DateLike, Filters, as_list, column_name, finish
from cxlens.metrics.stats import MIN_N


class Metrics:
    """CX metrics over a workspace.

    Parameters
    ----------
    ws
        A :class:`cxlens.Workspace` (``cxlens.open`` or ``cxlens.connect``).

    Common parameters
    -----------------
    by : None, str or list of str
        Dimensions to group by: fact-table columns (``touchpoint``, ``channel``…), customers columns
        (``segment``, ``plan``, ``country``) or ``traits.<key>``.
    period : None, 'day', 'week', 'month', 'quarter' or 'year'
        Adds a ``period`` column: the start date of the period (weeks start on Monday).
    start, end
        Keep rows with ``start <= ts < end``.
    filters : dict
        ``{dimension: value}`` for equality or ``{dimension: [values]}`` for membership.

    Examples
    --------
    >>> import cxlens, pandas as pd
    >>> ws = cxlens.open(":memory:")
    >>> _ = ws.load("feedback", pd.DataFrame({"ts": "2024-05-01", "metric": "nps", "score": [10, 9, 7, 2],
    ...                                       "touchpoint": ["web", "web", "app", "app"]}))
    >>> ws.metrics.nps(by="touchpoint")[["touchpoint", "nps", "n"]].to_dict("records")
    [{'touchpoint': 'app', 'nps': -50.0, 'n': 2}, {'touchpoint': 'web', 'nps': 100.0, 'n': 2}]
    """

    def __init__(self, ws: Any) -> None:
        self.ws = ws

    # -- tables ---------------------------------------------------------------------
    def _table(self, name: str) -> ibis.Table:
        return self.ws.table(name)

    def _customers(self) -> ibis.Table | None:
        try:
            return self.ws.table("customers")
        except NotFoundError:
            return None

    @staticmethod
    def _keys(by: By, period: str | None) -> list[str]:
        return [column_name(b) for b in as_list(by)] + ([PERIOD_COL] if period else [])

    # -- survey metrics ---------------------------------------------------------------
    def nps(self, by: By = None, period: str | None = None, *, start: DateLike = None, end: DateLike = None,
            filters: Filters = None, metric: str = "nps", min_n: int = MIN_N) -> pd.DataFrame:
        """Net Promoter Score per group.

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``nps, n, promoters, passives, detractors,
            promoter_share, passive_share, detractor_share, ci_low, ci_high, small_sample``.
            Shares in percent; ``ci_*`` is ``nps ± 1.96·SE`` clipped to [-100, 100].
        """
        expr = _nps.nps_expr(self._table("feedback"), customers=self._customers(), by=by, period=period,
                             start=start, end=end, filters=filters, metric=metric, min_n=min_n)
        return finish(expr.execute(), self._keys(by, period), ints=["n", "promoters", "passives", "detractors"])

    def csat(self, by: By = None, period: str | None = None, *, start: DateLike = None, end: DateLike = None,
             filters: Filters = None, metric: str = "csat", satisfied_min: float = _csat.SATISFIED_MIN,
             min_n: int = MIN_N) -> pd.DataFrame:
        """CSAT (% of 4-5 answers) per group.

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``csat, n, satisfied, ci_low, ci_high, mean_score,
            small_sample``; ``ci_*`` is the Wilson 95% interval in percent.
        """
        expr = _csat.csat_expr(self._table("feedback"), customers=self._customers(), by=by, period=period,
                               start=start, end=end, filters=filters, metric=metric,
                               satisfied_min=satisfied_min, min_n=min_n)
        return finish(expr.execute(), self._keys(by, period), ints=["n", "satisfied"])

    def ces(self, by: By = None, period: str | None = None, *, start: DateLike = None, end: DateLike = None,
            filters: Filters = None, metric: str = "ces", easy_min: float = _ces.EASY_MIN,
            min_n: int = MIN_N) -> pd.DataFrame:
        """Customer Effort Score (mean of 1-7) per group.

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``ces, n, sd, ci_low, ci_high, share_easy,
            small_sample``; ``ci_*`` is the t interval of the mean (NaN when ``n < 2``),
            ``share_easy`` the percent of scores ≥ 5.
        """
        expr = _ces.ces_expr(self._table("feedback"), customers=self._customers(), by=by, period=period,
                             start=start, end=end, filters=filters, metric=metric, easy_min=easy_min, min_n=min_n)
        df = _ces.add_mean_ci(expr.execute(), "ces")
        keys = self._keys(by, period)
        return finish(df[keys + _ces.CES_COLUMNS], keys, ints=["n"])

    def rating(self, by: By = None, period: str | None = None, *, start: DateLike = None, end: DateLike = None,
               filters: Filters = None, metric: str = "rating", min_n: int = MIN_N) -> pd.DataFrame:
        """Mean rating per group: ``rating, n, sd, ci_low, ci_high, small_sample`` (t interval)."""
        expr = _ces.rating_expr(self._table("feedback"), customers=self._customers(), by=by, period=period,
                                start=start, end=end, filters=filters, metric=metric, min_n=min_n)
        df = _ces.add_mean_ci(expr.execute(), "rating")
        keys = self._keys(by, period)
        return finish(df[keys + _ces.RATING_COLUMNS], keys, ints=["n"])
