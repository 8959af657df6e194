"""``Metrics``: the workspace-bound entry point (``ws.metrics``) returning tidy DataFrames.

Every method builds an Ibis expression with the pure ``*_expr`` functions, runs it on the
workspace's backend (DuckDB or any Ibis backend, such as Spark) and returns one row per group,
sorted by the group columns and then ``period``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ibis
import numpy as np
import pandas as pd

from cxlens.errors import ConfigError, NotFoundError
from cxlens.metrics import carts as _carts
from cxlens.metrics import ces as _ces
from cxlens.metrics import change as _change
from cxlens.metrics import churn as _churn
from cxlens.metrics import closed_loop as _closed_loop
from cxlens.metrics import csat as _csat
from cxlens.metrics import nps as _nps
from cxlens.metrics import rollup as _rollup
from cxlens.metrics import tickets as _tickets
from cxlens.metrics import value as _value
from cxlens.metrics.common import PERIOD_COL, By, DateLike, FilterMap, as_list, column_name, finish
from cxlens.metrics.filters import Filters
from cxlens.metrics.stats import MIN_N, mean_ci
from cxlens.store import read_compiled
from cxlens.store.segments import restrict_to_segment


def _segmentable(fn: Callable[..., pd.DataFrame]) -> Callable[..., pd.DataFrame]:
    """Add the keywords ``segment=`` (a saved segment's name: the method runs restricted to its members)
    and ``where=`` (a :class:`~cxlens.metrics.filters.Filters`: dates, dimension filters and saved
    segment in one value; explicit ``start``/``end``/``filters``/``segment`` arguments win)."""
    import functools
    import inspect

    sig = inspect.signature(fn)
    accepts = set(sig.parameters)

    @functools.wraps(fn)
    def method(self: Metrics, *args: Any, segment: str | None = None, where: Filters | None = None, **kwargs: Any):
        if where is not None:
            for name, value in where.kwargs().items():
                if name == "segment":
                    segment = segment if segment is not None else value
                elif value is not None and name in accepts and kwargs.get(name) is None:
                    kwargs[name] = value
        return fn(self.in_segment(segment), *args, **kwargs)

    extra = [
        inspect.Parameter("segment", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None"),
        inspect.Parameter("where", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="Filters | None"),
    ]
    method.__signature__ = sig.replace(parameters=[*sig.parameters.values(), *extra])  # type: ignore[attr-defined]
    return method


class Metrics:
    """CX metrics over a workspace.

    Parameters
    ----------
    ws
        A :class:`cxlens.Workspace` (``cxlens.open`` or ``cxlens.connect``).
    use_rollup
        Answer survey metrics from the workspace's ``feedback_rollup`` when it can (DuckDB
        workspaces; see docs/metrics.md). ``False`` forces a scan of ``feedback``; the results are
        the same either way.

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
    where : Filters, optional
        Dates, dimension filters and saved segment in one value (:class:`cxlens.Filters`); the
        explicit arguments above win where both are given.
    segment : str, optional
        Only customers in this **saved** segment (table ``segments``, see
        :mod:`cxlens.customers.segments`; e.g. ``"rfm:Champions"``): fact rows of other or unknown
        customers are left out. ``filters={"segment": …}`` is different: it filters on the
        customers' ``segment`` column (the trait).

    Examples
    --------
    >>> import cxlens, pandas as pd
    >>> ws = cxlens.open(":memory:")
    >>> _ = ws.load("feedback", pd.DataFrame({"ts": "2024-05-01", "metric": "nps", "score": [10, 9, 7, 2],
    ...                                       "touchpoint": ["web", "web", "app", "app"]}))
    >>> ws.metrics.nps(by="touchpoint")[["touchpoint", "nps", "n"]].to_dict("records")
    [{'touchpoint': 'app', 'nps': -50.0, 'n': 2}, {'touchpoint': 'web', 'nps': 100.0, 'n': 2}]
    """

    def __init__(self, store: Any, *, use_rollup: bool = True, segment: str | None = None) -> None:
        self.store = store
        self.use_rollup = use_rollup
        self.segment = segment

    def in_segment(self, segment: str | None) -> Metrics:
        """These metrics restricted to the members of saved segment ``segment`` (``None``: everyone)."""
        if segment is None or segment == self.segment:
            return self
        return Metrics(self.store, use_rollup=self.use_rollup, segment=segment)

    # -- tables ---------------------------------------------------------------------
    def _restrict(self, t: ibis.Table) -> ibis.Table:
        if self.segment is None or "customer_id" not in t.columns:
            return t
        return restrict_to_segment(self.store, t, self.segment)

    def _table(self, name: str) -> ibis.Table:
        return self._restrict(self.store.table(name))

    def _customers(self) -> ibis.Table | None:
        try:
            return self._restrict(self.store.table("customers"))
        except NotFoundError:
            return None

    def _execute(self, key: tuple, build: Callable[[], ibis.Table]) -> pd.DataFrame:
        """Run the expression ``build()`` returns; on DuckDB, compile it once per ``key``
        (:func:`cxlens.store.read_compiled`).

        Building and compiling an Ibis expression costs ~0.1 s, more than a query over the rollup
        and a sizeable part of a scan, so a DuckDB workspace keeps the SQL of each parameter set and
        reruns it directly, converting the result to pandas as Ibis does.
        """
        if self.segment is not None:  # segment members change when a segment is re-saved: no cached SQL
            return self.store.read(build())
        return read_compiled(self.store, ("metrics", *key), build)

    @staticmethod
    def _keys(by: By, period: str | None) -> list[str]:
        return [column_name(b) for b in as_list(by)] + ([PERIOD_COL] if period else [])

    def _rollup_plan(self, by: By, period: str | None, start: DateLike, end: DateLike, filters: FilterMap):
        """The rollup query plan when the fast path applies (DuckDB workspace with a rollup), else None."""
        if not self.use_rollup or not self.store.is_duckdb or self.segment is not None:
            return None
        return _rollup.plan(by, period, start, end, filters)

    def _scan_feedback(
        self,
        name: str,
        expr: Any,
        by: By,
        period: str | None,
        start: DateLike,
        end: DateLike,
        filters: FilterMap,
        **params: Any,
    ) -> pd.DataFrame:
        """Run a survey metric's Ibis expression over feedback (compiled SQL cached per parameter set)."""
        return self._execute(
            (name, repr((by, period, start, end, filters, *params.values()))),
            lambda: expr(
                self._table("feedback"),
                customers=self._customers(),
                by=by,
                period=period,
                start=start,
                end=end,
                filters=filters,
                **params,
            ),
        )

    # -- survey metrics ---------------------------------------------------------------
    @_segmentable
    def nps(
        self,
        by: By = None,
        period: str | None = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        metric: str = "nps",
        min_n: int = MIN_N,
    ) -> pd.DataFrame:
        """Net Promoter Score per group.

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``nps, n, promoters, passives, detractors,
            promoter_share, passive_share, detractor_share, ci_low, ci_high, small_sample``.
            Shares in percent; ``ci_*`` is ``nps ± 1.96·SE`` clipped to [-100, 100].
        """
        plan = self._rollup_plan(by, period, start, end, filters)
        if plan is not None:
            df, keys = _rollup.score_summary(self.store, metric, plan, hi=_nps.PROMOTER_MIN, lo=_nps.DETRACTOR_MAX)
            return finish(_rollup.nps_frame(df, keys, min_n), keys)
        df = self._scan_feedback("nps", _nps.nps_expr, by, period, start, end, filters, metric=metric, min_n=min_n)
        return finish(df, self._keys(by, period), ints=["n", "promoters", "passives", "detractors"])

    @_segmentable
    def csat(
        self,
        by: By = None,
        period: str | None = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        metric: str = "csat",
        satisfied_min: float = _csat.SATISFIED_MIN,
        min_n: int = MIN_N,
    ) -> pd.DataFrame:
        """CSAT (% of 4-5 answers) per group.

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``csat, n, satisfied, ci_low, ci_high, mean_score,
            small_sample``; ``ci_*`` is the Wilson 95% interval in percent.
        """
        plan = self._rollup_plan(by, period, start, end, filters)
        if plan is not None:
            df, keys = _rollup.score_summary(self.store, metric, plan, hi=satisfied_min, lo=-np.inf)
            return finish(_rollup.csat_frame(df, keys, min_n), keys)
        df = self._scan_feedback(
            "csat",
            _csat.csat_expr,
            by,
            period,
            start,
            end,
            filters,
            metric=metric,
            satisfied_min=satisfied_min,
            min_n=min_n,
        )
        return finish(df, self._keys(by, period), ints=["n", "satisfied"])

    @_segmentable
    def ces(
        self,
        by: By = None,
        period: str | None = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        metric: str = "ces",
        easy_min: float = _ces.EASY_MIN,
        min_n: int = MIN_N,
    ) -> pd.DataFrame:
        """Customer Effort Score (mean of 1-7) per group.

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``ces, n, sd, ci_low, ci_high, share_easy,
            small_sample``; ``ci_*`` is the t interval of the mean (NaN when ``n < 2``),
            ``share_easy`` the percent of scores ≥ 5.
        """
        plan = self._rollup_plan(by, period, start, end, filters)
        if plan is not None:
            raw, keys = _rollup.score_summary(self.store, metric, plan, hi=easy_min, lo=-np.inf)
            df = _ces.add_mean_ci(_rollup.mean_frame(raw, keys, "ces", min_n, share_easy=True), "ces")
        else:
            df = self._scan_feedback(
                "ces", _ces.ces_expr, by, period, start, end, filters, metric=metric, easy_min=easy_min, min_n=min_n
            )
            df = _ces.add_mean_ci(df, "ces")
        keys = self._keys(by, period)
        return finish(df[keys + _ces.CES_COLUMNS], keys, ints=["n"])

    @_segmentable
    def rating(
        self,
        by: By = None,
        period: str | None = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        metric: str = "rating",
        min_n: int = MIN_N,
    ) -> pd.DataFrame:
        """Mean rating per group: ``rating, n, sd, ci_low, ci_high, small_sample`` (t interval)."""
        plan = self._rollup_plan(by, period, start, end, filters)
        if plan is not None:
            raw, keys = _rollup.score_summary(self.store, metric, plan, hi=np.inf, lo=-np.inf)
            df = _ces.add_mean_ci(_rollup.mean_frame(raw, keys, "rating", min_n, share_easy=False), "rating")
        else:
            df = self._scan_feedback(
                "rating", _ces.rating_expr, by, period, start, end, filters, metric=metric, min_n=min_n
            )
            df = _ces.add_mean_ci(df, "rating")
        keys = self._keys(by, period)
        return finish(df[keys + _ces.RATING_COLUMNS], keys, ints=["n"])

    # -- change -----------------------------------------------------------------------
    @_segmentable
    def change(
        self,
        metric: str = "nps",
        period: str = "month",
        by: By = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        alpha: float = 0.05,
        min_n: int = MIN_N,
        last: int | None = None,
    ) -> pd.DataFrame:
        """Period-over-period change of ``metric`` (nps, enps, csat, ces, rating) with a test.

        ``last`` keeps only the last ``last`` periods' changes (churn is then computed for those only).

        Returns
        -------
        DataFrame
            Group columns, ``period``, then ``previous_period, value, previous, delta, n,
            previous_n, statistic, p_value, significant, small_sample``. The previous period is
            the calendar period before (``previous`` NaN when it has no data). NPS: z-test;
            CSAT: two-proportion z-test; CES/rating: Welch t-test.
        """
        if metric not in _change.TESTS:
            raise ConfigError(f"change() cannot test metric {metric!r}; expected one of {', '.join(_change.TESTS)}")
        if period is None:
            raise ConfigError("change() needs a period such as 'month'; got None")
        kw = dict(by=by, period=period, start=start, end=end, filters=filters, min_n=min_n)
        if metric in ("nps", "enps"):
            df = self.nps(metric=metric, **kw)
        elif metric == "churn" and last is not None:
            df = self.churn(**kw, last=last + 1)  # the previous period too
        else:
            df = getattr(self, metric)(**kw)
        keys = [c for c in df.columns[: len(as_list(by))]]
        out = _change.period_change(df, metric, keys, period, alpha=alpha, min_n=min_n)
        if last is not None and len(out):
            periods = sorted(out["period"].dropna().unique())[-last:]
            out = out[out["period"].isin(periods)].reset_index(drop=True)
        return out

    # -- customers over time -------------------------------------------------------------
    def _activity(self) -> ibis.Table:
        tables = {}
        for name in ("orders", "events"):
            try:
                tables[name] = self._table(name)
            except NotFoundError:
                tables[name] = None
        return _churn.activity_expr(tables["orders"], tables["events"])

    @_segmentable
    def churn(
        self,
        period: str = "month",
        inactivity_days: int = 90,
        by: By = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        as_of: DateLike = None,
        min_n: int = MIN_N,
        last: int | None = None,
    ) -> pd.DataFrame:
        """Churn rate per period (see :mod:`cxlens.metrics.churn` for the exact definition).

        Parameters
        ----------
        inactivity_days
            A customer with no order or event for this many days is inactive.
        start, end
            Keep periods starting in ``[start, end)``.
        as_of
            End of the data (default: midnight after the last activity).
        last
            Only the last ``last`` periods (of those in range): the same figures, computed faster.

        Returns
        -------
        DataFrame
            Customer dimensions, ``period``, then ``churn_rate, n, churned, ci_low, ci_high,
            complete, small_sample``; ``n`` counts customers active at the period's start.
        """
        from cxlens.metrics.common import check_period

        check_period(period)
        if period is None:
            raise ConfigError("churn() needs a period such as 'month'; got None")
        act = self._activity()
        customers = self._customers()
        _churn.prepare(
            act.mutate(customer_id=act.customer_id),
            customers=customers,
            by=by,
            filters=filters,
            what="churn",
            fact_dims=False,
        )  # validates dimensions before any query
        rng = self.store.read(act.aggregate(lo=act.ts.min(), hi=act.ts.max()))
        keys = self._keys(by, "month")
        if rng.empty or pd.isna(rng["lo"].iloc[0]):
            return pd.DataFrame(columns=keys + _churn.CHURN_COLUMNS)
        periods = _churn.churn_periods(
            rng["lo"].iloc[0], rng["hi"].iloc[0], period, inactivity_days, as_of=as_of, start=start, end=end
        )
        if last is not None:
            if last < 1:
                raise ConfigError(f"last is {last}; expected a number of periods, 1 or more")
            periods = periods.tail(last).reset_index(drop=True)
        if periods.empty:
            return pd.DataFrame(columns=keys + _churn.CHURN_COLUMNS)
        ptab = ibis.memtable(
            periods,
            schema={
                "_cx_period": "date",
                "_cx_p": "timestamp",
                "_cx_p_lb": "timestamp",
                "_cx_next": "timestamp",
                "_cx_e": "timestamp",
                "_cx_e_lb": "timestamp",
                "_cx_complete": "boolean",
            },
        )
        expr = _churn.churn_expr(act, customers, ptab, by=by, filters=filters, min_n=min_n)
        df = self.store.read(expr)
        df["complete"] = df["complete"].astype(bool)
        return finish(df, keys, ints=["n", "churned"])

    @_segmentable
    def retention(
        self,
        period: str = "month",
        by: By = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        excluded_statuses=_value.EXCLUDED_STATUSES,
    ) -> pd.DataFrame:
        """Cohort retention matrix by first-order period.

        Returns
        -------
        DataFrame
            Customer dimensions, then ``cohort, period_index, customers, retained,
            retention_rate, ci_low, ci_high`` — one row per cohort and period index from 0 to
            the last period with orders (zeros included).
        """
        if period is None:
            raise ConfigError("retention() needs a period such as 'month'; got None")
        orders = self._table("orders")
        expr = _churn.retention_expr(
            orders,
            customers=self._customers(),
            period=period,
            by=by,
            start=start,
            end=end,
            filters=filters,
            excluded_statuses=excluded_statuses,
        )
        keys = [column_name(b) for b in as_list(by)]
        df = self.store.read(expr)
        last = self.store.read(orders.ts.max())
        df = _churn.finish_retention(df, keys, period, last)
        return finish(df, keys + ["cohort", "period_index"], ints=["period_index", "customers", "retained"])

    # -- value --------------------------------------------------------------------------
    @_segmentable
    def value(
        self,
        by: By = None,
        period: str | None = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        excluded_statuses=_value.EXCLUDED_STATUSES,
        min_n: int = MIN_N,
    ) -> pd.DataFrame:
        """Orders, customers, revenue, AOV (t interval), purchase frequency and repeat rate.

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``orders, customers, revenue, aov, n, sd,
            aov_ci_low, aov_ci_high, purchase_frequency, repeat_customers,
            repeat_purchase_rate, repeat_ci_low, repeat_ci_high, small_sample`` (``n`` = orders;
            repeat = customers with ≥ 2 orders in the group, Wilson interval in percent).
        """
        expr = _value.value_expr(
            self._table("orders"),
            customers=self._customers(),
            by=by,
            period=period,
            start=start,
            end=end,
            filters=filters,
            excluded_statuses=excluded_statuses,
            min_n=min_n,
        )
        df = self.store.read(expr)
        df["aov_ci_low"], df["aov_ci_high"] = mean_ci(df["aov"], df["sd"], df["orders"])
        keys = self._keys(by, period)
        return finish(df[keys + _value.VALUE_COLUMNS], keys, ints=["orders", "customers", "n", "repeat_customers"])

    @_segmentable
    def clv(
        self,
        by: By = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        excluded_statuses=_value.EXCLUDED_STATUSES,
        min_n: int = MIN_N,
    ) -> pd.DataFrame:
        """Historic CLV (revenue to date per ordering customer) per customer group.

        Returns
        -------
        DataFrame
            Customer dimensions, then ``clv, n, sd, ci_low, ci_high, median, total,
            small_sample`` (``clv`` is the mean; ``n`` customers; t interval).
        """
        expr = _value.clv_expr(
            self._table("orders"),
            customers=self._customers(),
            by=by,
            start=start,
            end=end,
            filters=filters,
            excluded_statuses=excluded_statuses,
            min_n=min_n,
        )
        df = _ces.add_mean_ci(self.store.read(expr), "clv")
        keys = self._keys(by, None)
        return finish(df[keys + _value.CLV_COLUMNS], keys, ints=["n"])

    # -- behaviour and support ------------------------------------------------------------
    @_segmentable
    def carts(
        self,
        start_event: str = "add_to_cart",
        complete_event: str = "purchase",
        by: By = None,
        period: str | None = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        min_n: int = MIN_N,
    ) -> pd.DataFrame:
        """Cart abandonment per group (see :mod:`cxlens.metrics.carts`).

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``abandonment_rate, carts, completed, abandoned,
            n, ci_low, ci_high, small_sample`` (rate and Wilson interval in percent).
        """
        expr = _carts.carts_expr(
            self._table("events"),
            customers=self._customers(),
            start_event=start_event,
            complete_event=complete_event,
            by=by,
            period=period,
            start=start,
            end=end,
            filters=filters,
            min_n=min_n,
        )
        return finish(self.store.read(expr), self._keys(by, period), ints=["carts", "completed", "abandoned", "n"])

    @_segmentable
    def support(
        self,
        by: By = None,
        period: str | None = None,
        *,
        start: DateLike = None,
        end: DateLike = None,
        filters: FilterMap = None,
        min_n: int = MIN_N,
    ) -> pd.DataFrame:
        """Ticket KPIs per group (see :mod:`cxlens.metrics.tickets`).

        Returns
        -------
        DataFrame
            Group columns [+ ``period``], then ``n, responded, first_response_median_h,
            first_response_p90_h, resolved, resolution_median_h, resolution_p90_h, fcr, fcr_n,
            fcr_rate, ci_low, ci_high, small_sample``.
        """
        expr = _tickets.support_expr(
            self._table("tickets"),
            customers=self._customers(),
            by=by,
            period=period,
            start=start,
            end=end,
            filters=filters,
            min_n=min_n,
        )
        return finish(
            self.store.read(expr), self._keys(by, period), ints=["n", "responded", "resolved", "fcr", "fcr_n"]
        )

    def closed_loop(self, by: str | None = None) -> pd.DataFrame:
        """Closed-loop metrics of the follow-up case queue per ``team``, per ``owner`` (agent) or for
        all cases: detractor cases contacted within the SLA (Wilson 95 % CI), time to first contact
        and to close (median with its 95 % interval, p90, hours). See :mod:`cxlens.metrics.closed_loop`."""
        return _closed_loop.closed_loop(self.store, by=by)

    # -- headline -------------------------------------------------------------------------
    @_segmentable
    def summary(self, start: DateLike = None, end: DateLike = None, filters: FilterMap = None) -> pd.DataFrame:
        """Headline KPIs for the KPI tiles: one row per KPI.

        Returns
        -------
        DataFrame
            ``kpi, value, n, ci_low, ci_high, unit, small_sample, note`` for ``nps, csat, ces,
            churn_rate`` (the last complete month in range), ``aov``,
            ``repeat_purchase_rate``, ``abandonment_rate`` and ``first_response_median_h``
            (no interval); a KPI whose table is empty, or to which a filter does not apply,
            has a NaN value and a ``note`` saying why.
        """
        specs = [
            ("nps", "points", lambda: self.nps(start=start, end=end, filters=filters), "nps", "n"),
            ("csat", "%", lambda: self.csat(start=start, end=end, filters=filters), "csat", "n"),
            ("ces", "score 1-7", lambda: self.ces(start=start, end=end, filters=filters), "ces", "n"),
            (
                "churn_rate",
                "%",
                lambda: _last_complete(self.churn(start=start, end=end, filters=filters, last=2)),
                "churn_rate",
                "n",
            ),
            (
                "aov",
                "currency",
                lambda: self.value(start=start, end=end, filters=filters).rename(
                    columns={"aov_ci_low": "ci_low", "aov_ci_high": "ci_high"}
                ),
                "aov",
                "orders",
            ),
            (
                "repeat_purchase_rate",
                "%",
                lambda: self.value(start=start, end=end, filters=filters).rename(
                    columns={"repeat_ci_low": "ci_low", "repeat_ci_high": "ci_high"}
                ),
                "repeat_purchase_rate",
                "customers",
            ),
            (
                "abandonment_rate",
                "%",
                lambda: self.carts(start=start, end=end, filters=filters),
                "abandonment_rate",
                "carts",
            ),
            (
                "first_response_median_h",
                "hours",
                lambda: self.support(start=start, end=end, filters=filters),
                "first_response_median_h",
                "responded",
            ),
        ]
        rows = []
        for kpi, unit, fn, col, ncol in specs:
            row = {
                "kpi": kpi,
                "value": float("nan"),
                "n": 0,
                "ci_low": float("nan"),
                "ci_high": float("nan"),
                "unit": unit,
                "small_sample": True,
                "note": "",
            }
            try:
                df = fn()
            except ConfigError as e:
                row["note"] = str(e)
                df = None
            except NotFoundError as e:
                row["note"] = str(e)
                df = None
            if df is not None and len(df):
                r = df.iloc[-1]
                n = int(r[ncol])
                row.update(
                    value=float(r[col]),
                    n=n,
                    small_sample=n < MIN_N,
                    ci_low=float(r["ci_low"]) if "ci_low" in r and kpi != "first_response_median_h" else float("nan"),
                    ci_high=float(r["ci_high"])
                    if "ci_high" in r and kpi != "first_response_median_h"
                    else float("nan"),
                )
            elif df is not None:
                row["note"] = "no data"
            rows.append(row)
        return pd.DataFrame(rows)


def _last_complete(df: pd.DataFrame) -> pd.DataFrame:
    """The last complete period's row (the current one when none is complete)."""
    done = df[df["complete"]] if len(df) else df
    return (done if len(done) else df).tail(1)
