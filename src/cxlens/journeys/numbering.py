"""Dense numbers for 64-bit hashes, shared by the journey analyses' NumPy fast paths (the funnel's
packed scan and the journey map's flow scan)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["SPLIT", "dense_numbers", "gather", "half_picks"]

#: the first-hash value at which the fast paths split the customers into two halves, numbered,
#: sorted and walked in two threads (NumPy's sorts and array passes release the GIL); a customer's
#: rows all share one hash, so no customer spans the halves
SPLIT = np.uint64(1 << 63)


def half_picks(
    h: Sequence[np.ndarray], lower: bool, split: np.uint64 = SPLIT, known: np.ndarray | None = None
) -> list[np.ndarray]:
    """Per chunk of the first hash ``h`` (``uint64``; DuckDB's Arrow batches, read without copying),
    the positions in that chunk of one half's rows: hash below ``split`` (``lower``) or not, and
    ``known`` (a mask over all rows) where given. One ``flatnonzero`` a chunk serves every column
    (:func:`gather`)."""
    picks, at = [], 0
    for hc in h:
        mask = hc < split if lower else hc >= split  # one pass, no shift and cast
        if known is not None:
            mask &= known[at : at + len(hc)]
        picks.append(np.flatnonzero(mask))
        at += len(hc)
    return picks


def gather(chunks: Sequence[np.ndarray], picks: Sequence[np.ndarray]) -> np.ndarray:
    """The rows ``picks`` (per chunk, :func:`half_picks`) of a column's ``chunks`` as one array; the
    chunks are not concatenated first."""
    sizes = np.cumsum([0] + [len(p) for p in picks])
    col = np.empty(int(sizes[-1]), chunks[0].dtype)
    for i, (chunk, pick) in enumerate(zip(chunks, picks, strict=True)):
        # mode="clip": no bounds check (and no buffered copy) for positions known to be valid
        np.take(chunk, pick, out=col[sizes[i] : sizes[i + 1]], mode="clip")
    return col


def dense_numbers(h: np.ndarray) -> tuple[np.ndarray, int]:
    """Dense numbers ``0..n-1`` for the distinct values of ``h`` (64-bit hashes) and ``n``.

    Each value goes to the bucket of its low bits in a table with at least one bucket per row;
    one of the values written to a bucket owns it, and every row holding the owner gets the
    bucket's rank among the owned buckets. A value that lost its bucket lost it on all its rows
    (a value has one bucket), so the few losers are numbered after the owners by
    ``pandas.factorize``. Twice as fast as ``pandas.factorize`` of all rows (one hash-table probe
    per row)."""
    m = 1 << max(10, len(h).bit_length())
    b = (h & np.uint64(m - 1)).astype(np.intp)
    owner = np.zeros(m, h.dtype)
    owner[b] = h
    lost = owner[b] != h
    used = owner != 0  # the owned buckets (bucket 0 is owned by the value 0 when that is there)
    del owner
    if len(h) and not h.all():
        used[0] = True
    rank = np.cumsum(used, dtype=np.intp)
    del used
    codes = rank[b]
    codes -= 1
    n = int(rank[-1])
    if lost.any():
        more, uniq = pd.factorize(h[lost])
        codes[lost] = n + more
        n += len(uniq)
    return codes, n
