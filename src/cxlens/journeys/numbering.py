"""Dense numbers for 64-bit hashes, shared by the journey analyses' NumPy fast paths (the funnel's
packed scan and the journey map's flow scan)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

import numpy as np
import pandas as pd

__all__ = ["SPLIT", "customer_numbers", "dense_numbers", "exact_quotient", "gather", "half_picks"]

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


# The packed scans' customer numbers and exact time quotients, shared by the funnel
# (cxlens.journeys.funnels) and the paths (cxlens.journeys.path_scan).


def exact_quotient(t: np.ndarray, unit: int) -> bool:
    """Divide ``t`` (non-negative ``int64``) by ``unit`` in place when ``unit`` divides every value;
    False (``t`` unchanged) when it does not.

    ``unit = 2**a · d`` with ``d`` odd: a multiple of ``unit`` has its low ``a`` bits clear and
    ``(t >> a) · d⁻¹ mod 2**64`` is then its exact quotient, which is at most ``(2**64 − 1) // d``
    exactly for multiples of ``d`` (the multiplication permutes 64-bit values). A few passes of
    shifts and one multiplication instead of 64-bit divisions, in place (no 24 MB temporaries at
    3M rows: fresh memory is zeroed page by page by the kernel, which cost a tenth of the run)."""
    if unit == 1:
        return True
    a = (unit & -unit).bit_length() - 1
    d = unit >> a
    if a >= 8:  # not a unit of the packed scans: the low byte alone does not show the low bits
        raise ValueError(f"time unit {unit} has 2**{a} in it; expected at most 2**7")
    # the low bits of each value, read from its low byte (a strided view, no int64 temporary)
    low = t.view(np.uint8)[:: t.itemsize] if sys.byteorder == "little" else t.astype(np.uint8)
    if a and (low & ((1 << a) - 1)).any():
        return False
    t >>= a
    q = t.view(np.uint64)
    q *= np.uint64(pow(d, -1, 1 << 64))
    if (q > np.uint64((2**64 - 1) // d)).any():
        q *= np.uint64(d)  # undo: back to t >> a, then to t (its low bits were clear)
        t <<= a
        return False
    return True


#: at most this many customers whose leading hash bits are taken by another get a number of their own
_MAX_CLASHES = 1024
#: the golden-ratio multiplier: mixes the second hash before it is combined with the first
_MIX = np.uint64(0x9E3779B97F4A7C15)


def customer_numbers(h: np.ndarray, h2: np.ndarray, bits: int) -> np.ndarray | None:
    """One ``int64`` below ``2**bits`` per row, equal exactly when the rows' ``h`` are (``h2`` is
    used as scratch; the numbers are written over it).

    Two ids behind one ``h`` are detected by the second hash: then the pairs ``(h, h2)``, and so
    (but for a 2^-64 coincidence) the values ``h ^ mix(h2)``, outnumber the distinct ``h``, and
    None is returned; an undetected merge needs two ids equal in both hashes. An ``h2`` of 0 says
    that ``h`` alone numbers the row's id exactly (an id of at most 7 bytes:
    :func:`~cxlens.journeys.sqlfns.second_hash`, whose longer ids' ``h2`` is odd, so a short and
    a long id sharing ``h`` are still told apart); when every row's is 0 the check is skipped. The number is
    ``bits − 1`` bits of ``h`` taken below the leading bits that all rows share (one half of the
    customers shares the top bit) — no table lookup: one sort of ``h`` finds the distinct values;
    the few values whose bits equal those of a smaller value get ``2**(bits − 1) + i`` instead.
    With too few bits for that, customers are numbered densely (a hash-table probe per row,
    slower); None when even that does not fit. Both sorts sort the bits as ``int64`` (a SIMD sort,
    faster than an unsigned one; equal values end up side by side either way)."""
    s = np.sort(h.view(np.int64))
    z = h2.view(np.int64)
    # a second hash of 0 marks an id that ``h`` numbers exactly (a short id, sqlfns.second_hash;
    # a long id's is odd): with only those there is nothing to check (one pass instead of a sort)
    checked = bool(h2.any())
    if checked:
        z *= _MIX.view(np.int64)
        z ^= h.view(np.int64)
        z.sort()
        distinct_z = 1 + int(np.count_nonzero(z[1:] != z[:-1])) if len(z) else 0
    # sorted neighbours' differing bits (0: equal), into the scratch
    diff = z[: max(len(s) - 1, 0)].view(np.uint64)
    np.bitwise_xor(s[1:], s[:-1], out=diff.view(np.int64))
    n = 1 + int(np.count_nonzero(diff)) if len(s) else 0
    if checked and distinct_z != n:
        return None
    # bits every row shares (``s`` is sorted as signed: its ends differ in every bit that varies)
    common = min(63, 64 - ((int(s[0]) ^ int(s[-1])) & (2**64 - 1)).bit_length()) if n else 0
    rest = 64 - common - (bits - 1)  # bits of h below the number's
    clash = None
    if bits > 24 and rest > 0:
        # sorted neighbours (distinct) that share the number's bits: 0 < a ^ b < 2**rest
        diff -= np.uint64(1)  # equal neighbours wrap to 2**64 − 1
        clash = np.flatnonzero(diff < np.uint64((1 << rest) - 1)) + 1
    if bits <= 24 or (clash is not None and len(clash) > _MAX_CLASHES):
        if (n - 1).bit_length() > bits:
            return None
        return dense_numbers(h)[0].astype(np.int64, copy=False)
    out = np.left_shift(h, np.uint64(common), out=z.view(np.uint64))
    out >>= np.uint64(64 - (bits - 1))
    out = out.view(np.int64)
    if clash is not None and len(clash):
        bad = s[clash]
        hs = h.view(np.int64)
        # only rows whose low 16 bits are a moved value's can be one (a 64 KiB table stays in
        # cache; a binary search of every row cost several times more); the low 16 bits read
        # through a strided view, without a temporary
        maybe = np.zeros(1 << 16, bool)
        maybe[bad & 0xFFFF] = True
        low16 = h.view(np.uint16)[:: h.itemsize // 2] if sys.byteorder == "little" else h & np.uint64(0xFFFF)
        rows = np.flatnonzero(maybe[low16])
        i = np.minimum(np.searchsorted(bad, hs[rows]), len(bad) - 1)
        hit = bad[i] == hs[rows]
        out[rows[hit]] = (1 << (bits - 1)) + i[hit]
    return out
