"""Experiments: sticky assignment, ``$exposure`` events and honest read-outs (``ws.experiments``).

>>> import cxlens
>>> ws = cxlens.open(":memory:")
>>> _ = ws.experiments.define("checkout-v2", ["control", "one-page"])
>>> ws.experiments.expose("checkout-v2", customer_id="c1") in ("control", "one-page")
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd

from cxlens.experiments import stats
from cxlens.experiments.assign import (
    EXPOSURE_EVENT,
    Definition,
    assign,
    define,
    expose,
    fnv1a32,
    get_definition,
    list_definitions,
)
from cxlens.experiments.readout import exposures, results
from cxlens.experiments.stats import sample_size

__all__ = [
    "EXPOSURE_EVENT",
    "Definition",
    "Experiments",
    "assign",
    "define",
    "expose",
    "exposures",
    "fnv1a32",
    "get_definition",
    "list_definitions",
    "results",
    "sample_size",
    "stats",
]


class Experiments:
    """``ws.experiments``: define, assign and expose, read out, size."""

    def __init__(self, store: Any):
        self.store = store

    def define(
        self, name: str, variants: Sequence[str], weights: Sequence[float] | None = None, **kw: Any
    ) -> Definition:
        """Create or replace an experiment (control first; ``weights`` default to an equal split)."""
        return define(self.store, name, variants, weights, **kw)

    def get(self, name: str) -> Definition:
        d = get_definition(self.store, name)
        assert d is not None
        return d

    def list(self) -> pd.DataFrame:
        return list_definitions(self.store)

    def assign(self, name: str, visitor: str, variants: Sequence[str] | None = None,
               weights: Sequence[float] | None = None) -> str:  # fmt: skip
        """The sticky variant of ``visitor`` (no event written); variants default to the definition."""
        if variants is None:
            d = self.get(name)
            variants, weights = d["variants"], d["weights"]
        return assign(name, visitor, list(variants), weights)

    def expose(self, name: str, **kw: Any) -> str:
        """Assign and record a ``$exposure`` event (:func:`cxlens.experiments.expose`)."""
        return expose(self.store, name, **kw)

    def exposures(self, name: str) -> pd.DataFrame:
        return exposures(self.store, name)

    def results(self, name: str, goals: Sequence[str] | str, *, window_days: int = 14, **kw: Any) -> dict[str, Any]:
        """The read-out (:func:`cxlens.experiments.results`)."""
        return results(
            self.store, name, [goals] if isinstance(goals, str) else list(goals), window_days=window_days, **kw
        )

    @staticmethod
    def size(baseline: float, mde: float, power: float = 0.8, alpha: float = 0.05, variants: int = 2,
             traffic: float | None = None) -> dict[str, Any]:  # fmt: skip
        """Sample size per variant and duration (:func:`cxlens.experiments.stats.sample_size`)."""
        return sample_size(baseline, mde, power, alpha, variants, traffic)
