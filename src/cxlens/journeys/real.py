"""Moved to :mod:`cxlens.ingest.funnels` (every importer lives under ``ingest/``); kept so that old imports work."""

from cxlens.ingest.funnels import OLIST_STEPS, REES46_STEPS, olist_marketing_events, rees46_events

__all__ = ["OLIST_STEPS", "REES46_STEPS", "olist_marketing_events", "rees46_events"]
