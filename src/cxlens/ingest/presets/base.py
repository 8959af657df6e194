"""What every preset shares: reading the export, mapping errors back to its columns, inserting."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

__all__ = ["PRESETS", "Preset"]


@dataclass(frozen=True)
class Preset:
    """A vendor export: ``run(store, path, spec, name)`` → one report per table written."""

    name: str
    tables: tuple[str, ...]
    description: str
    run: Callable[..., Any]


#: preset name → Preset (filled by the preset modules)
PRESETS: dict[str, Preset] = {}
