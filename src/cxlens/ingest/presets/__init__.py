"""Presets for the exports people have (survey, help-desk, commerce, analytics and review tools).

Each preset reads one vendor's export as the vendor writes it and maps it onto the canonical
tables; ``docs/import-presets.md`` gives the mapping and the vendor's export steps.
"""

from __future__ import annotations

from cxlens.ingest.presets import commerce, helpdesk, surveys  # noqa: F401  (register the presets)
from cxlens.ingest.presets.base import PRESETS, Preset

__all__ = ["PRESETS", "Preset"]
