"""Behaviour: clicks, heatmaps, zoning and frustration signals from the browser SDK (``ws.behaviour``).

>>> import cxlens
>>> ws = cxlens.open(":memory:")
>>> list(ws.behaviour.frustration(by="url").columns[:3])
['url', 'pageviews', 'sessions']
"""

from __future__ import annotations

from cxlens.behaviour.analyses import KINDS, SIGNALS, WEIGHTS, WIDTHS, Behaviour, page_key, width_bucket
from cxlens.behaviour.config import FRUSTRATION, HEATMAPS, MASK, REPLAY, ZONES, remote_config, set_zones, zones

__all__ = [
    "FRUSTRATION",
    "HEATMAPS",
    "KINDS",
    "MASK",
    "REPLAY",
    "SIGNALS",
    "WEIGHTS",
    "WIDTHS",
    "ZONES",
    "Behaviour",
    "page_key",
    "remote_config",
    "set_zones",
    "width_bucket",
    "zones",
]
