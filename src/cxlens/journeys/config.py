"""The journey configuration moved to :mod:`cxlens.schema.journey` (it is part of the schema);
this module keeps the old import path working."""

from cxlens.schema.journey import DEFAULT_STAGES, Journey, Stage, Touchpoint, default_journey

__all__ = ["DEFAULT_STAGES", "Journey", "Stage", "Touchpoint", "default_journey"]
