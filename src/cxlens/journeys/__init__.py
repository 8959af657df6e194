"""Journeys: stage/touchpoint configuration, funnels, paths and the journey map.

Bound to a workspace as ``ws.journeys`` (:class:`~cxlens.journeys.api.Journeys`); the
functions below take Ibis tables (or a workspace) and run on any backend. The journey map's
HTML page moved to :func:`cxlens.report.journey_map_html`.
"""

from cxlens.journeys.api import Journeys
from cxlens.journeys.funnels import FunnelQuery, funnel, parse_steps, parse_window
from cxlens.journeys.maps import channel_consistency, journey_map
from cxlens.journeys.paths import flows, last_before_dropoff, paths
from cxlens.schema.journey import DEFAULT_STAGES, Journey, Stage, Touchpoint, default_journey

__all__ = [
    "DEFAULT_STAGES",
    "FunnelQuery",
    "Journey",
    "Journeys",
    "Stage",
    "Touchpoint",
    "channel_consistency",
    "default_journey",
    "flows",
    "funnel",
    "journey_map",
    "last_before_dropoff",
    "parse_steps",
    "parse_window",
    "paths",
]
