"""``ws.journeys``: funnels (and, as they land, paths and the journey map) over a workspace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any

import pandas as pd

from cxlens.journeys.funnels import funnel as _funnel
from cxlens.metrics.common import prepare
from cxlens.metrics.filters import Filters
from cxlens.schema.pii import current_policy
from cxlens.store.segments import restrict_to_segment

Step = str | Mapping[str, Any]


def merged(
    where: Filters | None, start: Any, end: Any, filters: Mapping[str, Any] | None, segment: str | None
) -> tuple[Any, Any, dict[str, Any] | None, str | None]:
    """``start, end, filters, segment`` from a :class:`~cxlens.metrics.filters.Filters` and the explicit
    arguments (which win where both are given)."""
    if where is None:
        return start, end, (dict(filters) if filters else None), segment
    f = Filters.of(where, start=start, end=end, filters=filters, segment=segment)
    k = f.kwargs()
    return k["start"], k["end"], k["filters"], k["segment"]


class Journeys:
    """Journey analyses bound to a workspace (``ws.journeys``)."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def _events(self, start: Any, end: Any, filters: Mapping[str, Any] | None, segment: str | None = None):
        events = self.store.table("events")
        if segment is not None:  # members of a saved segment only (identified events)
            events = restrict_to_segment(self.store, events, segment)
        if start is None and end is None and not filters:
            return events
        customers = self.store.table("customers")
        table, _ = prepare(
            events, customers=customers, start=start, end=end, filters=dict(filters or {}), what="events"
        )
        return table

    def funnel(
        self,
        steps: Sequence[Step] | str,
        *,
        window: str | dt.timedelta | None = "14d",
        order: str = "sequential",
        exclude: Sequence[Step] | None = None,
        by: str | Sequence[str] | None = None,
        step_field: str = "name",
        attribution: str = "first",
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        times: bool = True,
        segment: str | None = None,
        where: Filters | None = None,
        ties: str = "strict",
        time_basis: str = "chain",
    ) -> pd.DataFrame:
        """Customers reaching each step of an ordered funnel (see :func:`cxlens.journeys.funnels.funnel`).

        ``start``/``end``/``filters`` restrict the events considered first (``end`` exclusive);
        ``segment`` keeps the events of the members of that saved segment (:mod:`cxlens.customers.segments`);
        ``attribution`` ("first" or "last" touch) decides which event's value a ``by`` breakdown uses;
        ``ties`` ("strict" or "allow") whether events at one timestamp may advance the funnel;
        ``time_basis`` ("chain" or "first") what time to convert is measured from.

        Examples
        --------
        >>> import cxlens
        >>> from cxlens.ingest import write_demo
        >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, "small", seed=0)
        >>> f = ws.journeys.funnel("visit>add_to_cart>purchase", window="7d")
        >>> f[["step", "event"]].values.tolist()
        [[1, 'visit'], [2, 'add_to_cart'], [3, 'purchase']]
        """
        start, end, filters, segment = merged(where, start, end, filters, segment)
        return _funnel(
            self._events(start, end, filters, segment),
            steps,
            window=window,
            order=order,
            exclude=exclude,
            by=by,
            step_field=step_field,
            customers=self.store.table("customers"),
            times=times,
            attribution=attribution,
            ties=ties,
            time_basis=time_basis,
        )

    def paths(
        self,
        from_event: str | None = None,
        to_event: str | None = None,
        *,
        steps: int = 3,
        field: str = "name",
        top: int | None = 20,
        window: str | dt.timedelta | None = None,
        goal: str | None = None,
        collapse_repeats: bool = True,
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        segment: str | None = None,
        where: Filters | None = None,
    ) -> pd.DataFrame:
        """Top paths from ``from_event`` (or leading to ``to_event``); see :func:`cxlens.journeys.paths.paths`.

        ``start``/``end`` are dates bounding the events considered (``end`` exclusive); ``segment`` a saved segment.
        """
        start, end, filters, segment = merged(where, start, end, filters, segment)
        from cxlens.journeys.paths import paths

        return paths(
            self._events(start, end, filters, segment),
            from_event,
            to_event,
            steps=steps,
            by_field=field,
            top=top,
            window=window,
            goal=goal,
            collapse_repeats=collapse_repeats,
        )

    def flows(
        self,
        from_event: str | None = None,
        *,
        steps: int = 4,
        field: str = "name",
        window: str | dt.timedelta | None = None,
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        segment: str | None = None,
        where: Filters | None = None,
    ) -> pd.DataFrame:
        """Edges between consecutive path steps, for a Sankey chart."""
        start, end, filters, segment = merged(where, start, end, filters, segment)
        from cxlens.journeys.paths import flows

        return flows(self._events(start, end, filters, segment), from_event, steps, by_field=field, window=window)

    def last_before_dropoff(
        self,
        goal: str | Sequence[str],
        *,
        from_event: str | None = None,
        window: str | dt.timedelta | None = None,
        top: int | None = 20,
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        segment: str | None = None,
        where: Filters | None = None,
    ) -> pd.DataFrame:
        """What did customers who never reached ``goal`` do last? (event and touchpoint, counts, shares)."""
        start, end, filters, segment = merged(where, start, end, filters, segment)
        from cxlens.journeys.paths import last_before_dropoff

        return last_before_dropoff(
            self._events(start, end, filters, segment), goal, start=from_event, window=window, top=top
        )

    def map(
        self,
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        *,
        segment: str | None = None,
        where: Filters | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """The stage × touchpoint journey map with the pain score; see :func:`cxlens.journeys.maps.journey_map`."""
        start, end, filters, segment = merged(where, start, end, filters, segment)
        from cxlens.journeys.maps import journey_map

        return journey_map(self.store, start, end, dict(filters) if filters else None, segment=segment, **kwargs)

    def channel_consistency(
        self,
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        *,
        segment: str | None = None,
        where: Filters | None = None,
        **kwargs: Any,
    ) -> pd.DataFrame:
        """The same touchpoint compared across channels, with significance."""
        start, end, filters, segment = merged(where, start, end, filters, segment)
        from cxlens.journeys.maps import channel_consistency

        return channel_consistency(
            self.store, start, end, dict(filters) if filters else None, segment=segment, **kwargs
        )

    def event_names(self, field: str = "name") -> list[str]:
        """Distinct values of an events column (event names by default), most frequent first."""
        import ibis

        ev = self.store.table("events")
        ev = ev.filter(ev[field].notnull())
        t = ev.group_by(_v=ev[field]).aggregate(_n=ev.count())
        return [str(v) for v in self.store.read(t.order_by([ibis.desc("_n"), "_v"]))["_v"]]

    def dropped(
        self,
        steps: Sequence[Step] | str,
        step: int,
        *,
        window: str | dt.timedelta | None = "14d",
        order: str = "sequential",
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        segment: str | None = None,
        where: Filters | None = None,
        limit: int | None = 1000,
        ties: str = "strict",
        time_basis: str = "chain",
    ) -> pd.DataFrame:
        """Customers who reached funnel step ``step`` but not ``step + 1`` (a drop-off list), by id.

        Columns ``customer_id`` and ``reached_at`` (when they first reached ``step``);
        ``attrs["total"]`` holds the number of such customers before ``limit``. Save it as a
        segment with :func:`cxlens.customers.segments.save_segment`. ``ties`` and ``time_basis``
        are the funnel's (:meth:`funnel`): ``ties`` decides who reached which step, so the list
        always matches the funnel shown with the same arguments; ``time_basis`` is checked and
        accepted for symmetry but changes nothing here (it only moves time to convert).
        """
        start, end, filters, segment = merged(where, start, end, filters, segment)
        from cxlens.journeys.funnels import FunnelQuery

        q = FunnelQuery(
            steps,
            window,
            order,
            customers=self.store.table("customers"),
            times=False,
            ties=ties,
            time_basis=time_basis,
        )
        expr = q.dropped_customers(self._events(start, end, filters, segment), step)
        expr = expr.select("customer_id", "reached_at")
        total = int(self.store.read(expr.count()))
        expr = expr.order_by("customer_id")
        df = self.store.read(expr.limit(limit) if limit else expr)
        df.attrs["total"] = total
        return df

    def cell(
        self,
        stage: str | None,
        touchpoint: str | None,
        *,
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        segment: str | None = None,
        where: Filters | None = None,
        limit: int = 20,
    ) -> dict[str, Any]:
        """The feedback behind one journey-map cell (``None`` matches a missing stage or touchpoint).

        Returns ``{"n": answers, "quotes": DataFrame, "customers": DataFrame}``: the latest
        ``limit`` non-empty comments (``feedback_id, ts, customer_id, metric, score, channel,
        comment``; redacted for a caller who sees PII masked) and up to ``limit`` customers with their answers per metric (``customer_id,
        metric, answers, mean_score, last_ts``), lowest mean score first.
        """
        import ibis

        start, end, filters, segment = merged(where, start, end, filters, segment)

        t, _ = prepare(
            restrict_to_segment(self.store, self.store.table("feedback"), segment),
            customers=self.store.table("customers"),
            start=start,
            end=end,
            filters=dict(filters or {}),
            what="feedback",
        )
        conds = [t[c].isnull() if v is None else t[c] == v for c, v in (("stage", stage), ("touchpoint", touchpoint))]
        cell = t.filter(*conds)
        quotes = cell.filter(cell.comment.notnull(), cell.comment.strip().length() > 0)
        quotes = quotes.select("feedback_id", "ts", "customer_id", "metric", "score", "channel", "comment")
        quotes = self.store.read(quotes.order_by([ibis.desc("ts"), "feedback_id"]).limit(limit))
        quotes["comment"] = current_policy().texts(quotes["comment"])  # redacted for a masked caller
        known = cell.filter(cell.customer_id.notnull())
        people = known.group_by(["customer_id", "metric"]).aggregate(
            answers=known.count(), mean_score=known.score.mean(), last_ts=known.ts.max()
        )
        people = self.store.read(people.order_by(["mean_score", ibis.desc("last_ts"), "customer_id"]).limit(limit))
        return {"n": int(self.store.read(cell.count())), "quotes": quotes, "customers": people}
