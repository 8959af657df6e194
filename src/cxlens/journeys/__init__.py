"""Journeys: configuration of stages and touchpoints (funnels, paths and maps come later)."""

from cxlens.journeys.config import DEFAULT_STAGES, Journey, Stage, Touchpoint, default_journey

__all__ = ["DEFAULT_STAGES", "Journey", "Stage", "Touchpoint", "default_journey"]
