"""``ws.journeys``: funnels (and, as they land, paths and the journey map) over a workspace."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from cxlens.journeys.funnels import funnel as _funnel
from cxlens.metrics.common import prepare

if TYPE_CHECKING:
    from cxlens.workspace import Workspace

Step = str | Mapping[str, Any]


class Journeys:
    """Journey analyses bound to a workspace (``ws.journeys``)."""

    def __init__(self, ws: Workspace) -> None:
        self.ws = ws

    def _events(self, start: Any, end: Any, filters: Mapping[str, Any] | None):
        events = self.ws.table("events")
        if start is None and end is None and not filters:
            return events
        customers = self.ws.table("customers")
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
        start: Any = None,
        end: Any = None,
        filters: Mapping[str, Any] | None = None,
        times: bool = True,
    ) -> pd.DataFrame:
        """Customers reaching each step of an ordered funnel (see :func:`cxlens.journeys.funnels.funnel`).

        ``start``/``end``/``filters`` restrict the events considered first (``end`` exclusive).

        Examples
        --------
        >>> import cxlens
        >>> from cxlens.ingest import write_demo
        >>> ws = cxlens.open(":memory:"); _ = write_demo(ws, "small", seed=0)
        >>> f = ws.journeys.funnel("visit>add_to_cart>purchase", window="7d")
        >>> f[["step", "event"]].values.tolist()
        [[1, 'visit'], [2, 'add_to_cart'], [3, 'purchase']]
        """
        return _funnel(
            self._events(start, end, filters),
            steps,
            window=window,
            order=order,
            exclude=exclude,
            by=by,
            step_field=step_field,
            customers=self.ws.table("customers"),
            times=times,
        )
