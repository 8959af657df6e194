"""Topic coherence of discovered themes: NPMI (Bouma 2009) and UMass (Mimno et al. 2011).

``npmi`` also chooses k for :class:`cxlens.voice.themes.ThemeExtractor` (``n_themes="auto"``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from cxlens.errors import ConfigError

__all__ = ["coherence", "npmi", "top_terms", "umass"]


def top_terms(h: np.ndarray, n: int) -> list[np.ndarray]:
    return [np.argsort(-row, kind="stable")[:n] for row in h]


def npmi(binary, tops: list[np.ndarray], eps: float = 1e-12) -> list[float]:
    """Mean NPMI over keyword pairs of each theme (Bouma 2009; document co-occurrence)."""
    n = binary.shape[0]
    out = []
    for idx in tops:
        cols = binary[:, idx].astype(np.float64)
        co = (cols.T @ cols).toarray() / n
        p = np.diag(co)
        vals = []
        for i in range(len(idx)):
            for j in range(i + 1, len(idx)):
                pij = co[i, j]
                if pij <= 0:
                    vals.append(-1.0)
                else:
                    vals.append(math.log(pij / (p[i] * p[j])) / -math.log(pij + eps))
        out.append(float(np.mean(vals)) if vals else 0.0)
    return out


def umass(binary, tops: list[np.ndarray]) -> list[float]:
    """UMass coherence (Mimno et al. 2011): mean log((D(wi,wj)+1)/D(wj)) over ordered keyword pairs."""
    out = []
    for idx in tops:
        cols = binary[:, idx].astype(np.float64)
        co = (cols.T @ cols).toarray()
        d = np.diag(co)
        vals = [math.log((co[i, j] + 1) / d[j]) for i in range(1, len(idx)) for j in range(i) if d[j] > 0]
        out.append(float(np.mean(vals)) if vals else 0.0)
    return out


def coherence(extractor: Any, texts: Sequence[Any], top_n: int = 10, measure: str = "npmi") -> pd.Series:
    """Topic coherence of each discovered theme on ``texts``, from its ``top_n`` keywords.

    ``measure="npmi"`` is normalised pointwise mutual information of keyword pairs over document
    co-occurrence (Bouma 2009; range −1…1, higher is better; Röder et al. 2015 found it tracks
    human judgements); ``"umass"`` is Mimno et al. (2011) (≤ 0, closer to 0 is better).

    Returns
    -------
    Series
        Coherence per discovered theme id.
    """
    binary = (extractor.term_matrix(texts) > 0).astype(np.int32).tocsc()
    tops = top_terms(extractor.vectors_, top_n)
    if measure == "npmi":
        vals = npmi(binary, tops)
    elif measure == "umass":
        vals = umass(binary, tops)
    else:
        raise ConfigError(f"coherence measure {measure!r} is not known; expected 'npmi' or 'umass'")
    ids = [t["id"] for t in extractor.themes_ if t["source"] != "rule"]
    return pd.Series(vals, index=ids, name=measure)
